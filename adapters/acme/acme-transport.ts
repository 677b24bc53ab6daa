/**
 * How the adapter shares acme-client's one process-wide axios instance
 * without changing it for anybody else. acme-client sends every request
 * through `acme.axios`, whose defaults (TLS agent, ports, a retry loop of
 * about 75 s on network errors that ends in an opaque `TypeError`) are global.
 * Setting them would change every other user of acme-client in the host
 * process. Instead, two interceptors are added once per acme-client module;
 * they act only on requests made inside one of our calls (an
 * AsyncLocalStorage context), where they:
 *
 * - set that authority's TLS agent (trust for a private ACME server) and the
 *   call's abort signal, so a stopping steward does not wait for a request;
 * - turn off acme-client's hidden network retries: the steward retries with
 *   persisted backoff, `renewal.failed` events and the CA's Retry-After;
 * - keep the real cause: the network error (ECONNREFUSED, an untrusted
 *   certificate) and the last problem document with its HTTP status and
 *   Retry-After, which acme-client reduces to a message;
 * - answer acme-client's `HEAD newNonce` from the nonces the CA already sent
 *   (RFC 8555 §7.2: every response carries a fresh `Replay-Nonce`).
 *   acme-client asks for a new nonce before every signed request and ignores
 *   the one in each answer, so without this every request costs a second
 *   round trip, and, as servers close the connection of a `HEAD newNonce`
 *   (Pebble does), often a new TLS connection.
 *
 * Outside our calls they do nothing.
 *
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent as HttpAgent, type AgentOptions as HttpAgentOptions, type ClientRequest } from 'node:http';
import { Agent, type AgentOptions } from 'node:https';

/** What one call remembers of its HTTP exchanges. */
export interface CallContext {
  readonly agent: Agent | undefined;
  /** The agent for a plain-HTTP server. */
  readonly httpAgent?: HttpAgent;
  /** The authority's unused nonces, from the CA's earlier answers. */
  readonly nonces?: NoncePool;
  /** Timeout of each HTTP request. */
  readonly timeoutMs?: number;
  /** Cancels the call's requests in flight (the steward stopping). */
  readonly signal?: AbortSignal;
  /** The last transport failure (no HTTP response at all). */
  transportError?: Error;
  /** The last ACME problem document received, with the HTTP status and Retry-After (ms). */
  lastProblem?: { status: number; type: string; detail: string; retryAfterMs?: number; subproblems?: unknown };
  /** Retry-After (ms) of the last successful response that had one (order polling). */
  lastRetryAfterMs?: number;
}

interface AxiosLike {
  interceptors: {
    request: { use(onFulfilled: (config: Record<string, unknown>) => unknown): number };
    response: { use(onFulfilled: (response: AxiosResponseLike) => unknown, onRejected?: (error: unknown) => unknown): number };
  };
  defaults: { adapter?: unknown };
}

interface AxiosResponseLike {
  status: number;
  headers: Record<string, unknown>;
  data: unknown;
  config?: { method?: unknown };
}

/**
 * Unused nonces of one ACME server, newest first out. A nonce is used at most
 * once: {@link take} removes it. Nonces older than `maxAgeMs` are dropped
 * (servers expire them; a stale one would only cost a `badNonce` answer, which
 * acme-client retries with the nonce of that answer), and at most `capacity`
 * are kept.
 */
export class NoncePool {
  /** The directory's newNonce URL, once seen: only a HEAD of it is answered from the pool. */
  url: string | undefined;
  readonly #entries: { value: string; at: number }[] = [];
  readonly #capacity: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(options: { capacity?: number; maxAgeMs?: number; now?: () => number } = {}) {
    this.#capacity = options.capacity ?? 64;
    this.#maxAgeMs = options.maxAgeMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** How many nonces are kept (fresh or not). */
  get size(): number {
    return this.#entries.length;
  }

  put(value: string): void {
    if (this.#capacity <= 0) return;
    this.#entries.push({ value, at: this.#now() });
    if (this.#entries.length > this.#capacity) this.#entries.shift();
  }

  /** The newest fresh nonce, or undefined (then the caller asks the server). */
  take(): string | undefined {
    const newest = this.#entries.pop();
    if (!newest) return undefined;
    if (this.#now() - newest.at <= this.#maxAgeMs) return newest.value;
    // The newest is stale, so are all the others.
    this.#entries.length = 0;
    return undefined;
  }

}

const BAD_NONCE = 'urn:ietf:params:acme:error:badNonce';


const contexts = new WeakMap<object, AsyncLocalStorage<CallContext>>();

/**
 * The TLS agent of one authority: trusts what the host says (`ca`) and keeps
 * the real network error of each request (refused, untrusted certificate,
 * reset) in the context of the call that made the request, because
 * acme-client replaces it with a `TypeError` when its own retries are off. The
 * error is taken from the request, not the socket: a keep-alive socket opened
 * by one call and reused by another reports to the one using it.
 */
export class RecordingAgent extends Agent {
  constructor(options: AgentOptions, als: () => AsyncLocalStorage<CallContext> | undefined) {
    super(options);
    recordRequestErrors(this, als);
  }
}

/** The same for a plain-HTTP ACME server (`http:` directory URL, a test CA on a private network). */
export class RecordingHttpAgent extends HttpAgent {
  constructor(options: HttpAgentOptions, als: () => AsyncLocalStorage<CallContext> | undefined) {
    super(options);
    recordRequestErrors(this, als);
  }
}

/**
 * Wraps http.Agent's hook for each request it is given (public in practice:
 * proxy agents override it too) so the request's error lands in its call's context.
 */
function recordRequestErrors(agent: HttpAgent, als: () => AsyncLocalStorage<CallContext> | undefined): void {
  const own = agent as unknown as { addRequest: (req: ClientRequest, ...rest: unknown[]) => void };
  const addRequest = own.addRequest;
  own.addRequest = function (req, ...rest) {
    const ctx = als()?.getStore();
    if (ctx) req.once('error', (e: Error) => void (ctx.transportError = ownError(e)));
    addRequest.call(this, req, ...rest);
  };
}

/**
 * The network error itself. axios's own errors (its request timeout) carry the
 * request config, signed body included: only name, message and code are kept.
 */
function ownError(e: Error): Error {
  if (!('config' in e) && !('request' in e)) return e;
  const clean = new Error(e.message) as Error & { code?: unknown };
  clean.name = e.name;
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) clean.code = code;
  return clean;
}

/** Parses an HTTP Retry-After value (seconds or an HTTP date) to milliseconds. */
export function retryAfterMs(value: unknown, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The context store for one acme-client module's axios instance, installing
 * the interceptors the first time.
 */
export function callContexts(axios: AxiosLike): AsyncLocalStorage<CallContext> {
  const existing = contexts.get(axios);
  if (existing) return existing;
  const als = new AsyncLocalStorage<CallContext>();
  contexts.set(axios, als);
  axios.interceptors.request.use((config) => {
    const ctx = als.getStore();
    if (!ctx) return config;
    if (ctx.agent) config['httpsAgent'] = ctx.agent;
    if (ctx.httpAgent) config['httpAgent'] = ctx.httpAgent;
    if (ctx.timeoutMs !== undefined) config['timeout'] = ctx.timeoutMs;
    if (ctx.signal && config['signal'] === undefined) config['signal'] = ctx.signal;
    // acme-client retries while retryAttempt ≤ its global retryMaxAttempts: start past any limit.
    config['retryAttempt'] = Number.MAX_SAFE_INTEGER;
    const pool = ctx.nonces;
    const nonce = pool?.url !== undefined && String(config['method']).toLowerCase() === 'head' && config['url'] === pool.url ? pool.take() : undefined;
    if (nonce !== undefined) {
      config['adapter'] = () =>
        Promise.resolve({ data: '', status: 200, statusText: 'OK', headers: { 'replay-nonce': nonce }, config, request: undefined });
    }
    return config;
  });
  axios.interceptors.response.use(
    (response) => {
      const ctx = als.getStore();
      if (!ctx) return response;
      const after = retryAfterMs(response.headers['retry-after']);
      const data = (response.data ?? {}) as { type?: unknown; detail?: unknown; subproblems?: unknown; newNonce?: unknown };
      const method = String(response.config?.method).toLowerCase();
      if (ctx.nonces && method === 'get' && response.status === 200 && typeof data.newNonce === 'string') ctx.nonces.url = data.newNonce;
      // The nonce of a HEAD answer and of a badNonce problem is the one acme-client uses next; any other is free.
      const nonce = response.headers['replay-nonce'];
      if (typeof nonce === 'string' && nonce !== '' && ctx.nonces && method !== 'head' && data.type !== BAD_NONCE) ctx.nonces.put(nonce);
      if (response.status >= 400) {
        ctx.lastProblem = {
          status: response.status,
          type: typeof data.type === 'string' ? data.type : '',
          detail: typeof data.detail === 'string' ? data.detail : '',
          ...(after !== undefined ? { retryAfterMs: after } : {}),
          ...(data.subproblems !== undefined ? { subproblems: data.subproblems } : {}),
        };
      } else if (after !== undefined) {
        ctx.lastRetryAfterMs = after;
      }
      return response;
    },
    (error) => Promise.reject(error),
  );
  return als;
}
