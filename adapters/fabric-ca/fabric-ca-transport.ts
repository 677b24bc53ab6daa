/**
 * HTTP to a Fabric CA: one request, its authentication (HTTP Basic or a
 * token signed over the exact bytes sent), cfssl's envelope read back, and
 * every failure turned into an {@link AuthorityError} with its real cause.
 *
 * `node:http(s)` rather than `fetch`: a private Fabric CA is trusted through
 * the `ca` option of a TLS agent, which `fetch` does not take without undici.
 *
 * @module
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { AuthorityError, ConfigError } from '../../src/errors.js';
import type { KeyHandle } from '../../src/ports/key-store.js';
import { fabricCaError, fabricCaProblem, type FabricCallContext } from './fabric-ca-errors.js';
import { fabricAuthToken, type FabricTokenFormat } from './fabric-ca-token.js';

/** How a call authenticates. */
export type FabricAuth =
  | { readonly basic: { readonly enrollmentId: string; readonly secret: string } }
  | { readonly token: { readonly certificatePem: string; readonly key: KeyHandle; readonly format: FabricTokenFormat } };

/** One call to a Fabric CA endpoint. */
export interface FabricCall {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The endpoint after the API prefix: `enroll`, `identities/peer1` (already URI-encoded). */
  readonly endpoint: string;
  readonly query?: Readonly<Record<string, string>>;
  /** Serialised to JSON once; the token signs exactly these bytes. */
  readonly body?: unknown;
  readonly auth?: FabricAuth;
  /** Who authenticates, for the meaning of code 20. */
  readonly context: FabricCallContext;
  /** What the call is for, in words, for error messages. */
  readonly what: string;
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link FabricCaTransport}. */
export interface FabricCaTransportOptions {
  readonly url: string;
  readonly ca?: string | readonly string[] | undefined;
  readonly timeoutMs: number;
  /** Path prefix of the REST API (default `/api/v1`; Fabric serves every endpoint with and without it). */
  readonly apiPrefix?: string | undefined;
}

/** Answers larger than this are not Fabric CA answers. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * Sends requests to one Fabric CA.
 *
 * @example
 * ```ts
 * const http = new FabricCaTransport({ url: 'https://ca.org1.example.com:7054', ca: rootPem, timeoutMs: 30_000 })
 * const info = await http.call({ method: 'POST', endpoint: 'cainfo', body: {}, context: 'public', what: 'cainfo' })
 * ```
 */
export class FabricCaTransport {
  readonly #base: URL;
  readonly #prefix: string;
  readonly #agent: HttpAgent | HttpsAgent;
  readonly #timeoutMs: number;

  constructor(options: FabricCaTransportOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch (e) {
      throw new ConfigError('url', options.url, `url must be an absolute http(s) URL of the Fabric CA, got ${JSON.stringify(options.url)}`, { cause: e });
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
      throw new ConfigError('url', options.url, `url must use https: (or http: for a CA without TLS), got ${base.protocol}`);
    }
    if (base.username || base.password) {
      throw new ConfigError('url', '(redacted)', 'url must not carry credentials: pass the registrar or enrollment secrets as options');
    }
    this.#base = base;
    const prefix = options.apiPrefix ?? '/api/v1';
    this.#prefix = `${base.pathname.replace(/\/+$/, '')}${prefix ? `/${prefix.replace(/^\/+|\/+$/g, '')}` : ''}/`;
    const ca = options.ca === undefined ? undefined : typeof options.ca === 'string' ? [options.ca] : [...options.ca];
    this.#agent = base.protocol === 'https:' ? new HttpsAgent({ keepAlive: false, ...(ca ? { ca } : {}) }) : new HttpAgent({ keepAlive: false });
    this.#timeoutMs = options.timeoutMs;
  }

  /** Where the CA is, for logs. */
  get origin(): string {
    return this.#base.origin;
  }

  /**
   * Sends the call and returns the envelope's `result`.
   * @throws {@link AuthorityError} for every failure (the Fabric answer or the network error is `cause`).
   */
  async call<T>(call: FabricCall): Promise<T> {
    const query = call.query && Object.keys(call.query).length ? `?${new URLSearchParams(call.query).toString()}` : '';
    const requestUri = `${this.#prefix}${call.endpoint}${query}`;
    const body = call.body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(call.body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body.length) headers['content-type'] = 'application/json';
    if (call.auth && 'basic' in call.auth) {
      const { enrollmentId, secret } = call.auth.basic;
      headers.authorization = `Basic ${Buffer.from(`${enrollmentId}:${secret}`, 'utf8').toString('base64')}`;
    } else if (call.auth) {
      const { certificatePem, key, format } = call.auth.token;
      headers.authorization = await fabricAuthToken({ certificatePem, key, format, method: call.method, requestUri, body });
    }
    const endpoint = `${call.method} ${requestUri}`;
    const { status, text } = await this.#send(call, requestUri, headers, body, endpoint);
    let envelope: { success?: unknown; result?: unknown; errors?: unknown } | undefined;
    try {
      envelope = text ? (JSON.parse(text) as typeof envelope) : undefined;
    } catch {
      envelope = undefined;
    }
    const errors = Array.isArray(envelope?.errors)
      ? (envelope.errors as unknown[]).map((e) => ({
          code: Number((e as { code?: unknown })?.code ?? 0) || 0,
          message: String((e as { message?: unknown })?.message ?? ''),
        }))
      : [];
    if (status >= 200 && status < 300 && envelope && envelope.success === true) return envelope.result as T;
    if (status >= 200 && status < 300) {
      if (!envelope || typeof envelope !== 'object') {
        throw new AuthorityError('invalid-response', `Fabric CA ${endpoint} (${call.what}) answered HTTP ${status} with a body that is not a cfssl JSON envelope`, {
          retryable: true,
          cause: fabricCaProblem(status, [], endpoint),
        });
      }
    }
    throw fabricCaError(fabricCaProblem(status, errors, endpoint), call.context, call.what);
  }

  #send(
    call: FabricCall,
    requestUri: string,
    headers: Record<string, string>,
    body: Uint8Array,
    endpoint: string,
  ): Promise<{ status: number; text: string }> {
    const { signal } = call;
    signal?.throwIfAborted();
    const url = new URL(requestUri, this.#base);
    const send = this.#base.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        reject(e);
      };
      const req = send(
        url,
        {
          method: call.method,
          headers: { ...headers, 'content-length': String(body.length) },
          agent: this.#agent,
          timeout: this.#timeoutMs,
          ...(signal ? { signal } : {}),
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES) {
              res.destroy();
              fail(new AuthorityError('invalid-response', `Fabric CA ${endpoint} answered more than ${MAX_RESPONSE_BYTES} bytes`, { retryable: true }));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', (e) => fail(this.#unreachable(e, call, endpoint)));
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${this.#timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => fail(signal?.aborted ? signal.reason : this.#unreachable(e, call, endpoint)));
      req.end(body.length ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined);
    });
  }

  #unreachable(e: Error, call: FabricCall, endpoint: string): AuthorityError {
    const code = (e as NodeJS.ErrnoException).code;
    const tls = typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL/.test(code);
    const fix = tls ? ' (is the CA\'s TLS root in the tls.ca option?)' : '';
    return new AuthorityError(
      'unavailable',
      `Fabric CA ${this.origin} unreachable for ${endpoint} (${call.what}): ${code ? `${code} ` : ''}${e.message}${fix}`,
      { retryable: true, cause: e },
    );
  }
}
