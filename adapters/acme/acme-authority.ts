/**
 * The certificate-authority port on ACME (RFC 8555) through acme-client, with
 * orders that survive a crash, challenge solvers, typed errors, revocation and
 * ACME Renewal Information (RFC 9773) built on top.
 *
 * @module
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { KeyObject } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { AdapterDependencyError, AuthorityError, ConfigError, isCertstewardError } from '../../src/errors.js';
import { locateFields, parseCertificate, parseCertificates } from '../../src/pki/certificate.js';
import { CRL_REASON_CODES } from '../../src/pki/crl-reason.js';
import type {
  AuthorityDescription,
  CertificateAuthority,
  IssueRequest,
  IssueResult,
  RenewalInfo,
  RevocationReason,
} from '../../src/ports/certificate-authority.js';
import { NoncePool, RecordingAgent, RecordingHttpAgent, callContexts, retryAfterMs, type CallContext } from './acme-transport.js';
import type { Challenge, ChallengeSolver } from './challenge-solver.js';
import type { AcmeAuthorityOptions, AcmeClientModule } from './options.js';

type AcmeClient = InstanceType<AcmeClientModule['Client']>;
type Order = Awaited<ReturnType<AcmeClient['createOrder']>>;
type Authorization = Awaited<ReturnType<AcmeClient['getAuthorizations']>>[number];

/** What the steward persists for an ACME order. */
interface OrderRef {
  readonly v: 1;
  readonly order: string;
  readonly account: string;
}


const ACME_ERROR = 'urn:ietf:params:acme:error:';
/** Challenge polling: first wait, longest wait, quiet time after the CA's last read, early looks per challenge. */
const POLL_MIN_MS = 50;
const POLL_MAX_MS = 2_000;
const READS_SETTLE_MS = 10;
const MAX_EARLY_LOOKS = 3;
/** An order placed by `issue()` is taken as it was returned for this long, for at most this many orders. */
const PLACED_MAX_MS = 10_000;
const PLACED_MAX = 256;
/** How long an answer stays up for a CA still validating when no call comes back for its order. */
const KEPT_MAX_MS = 10 * 60_000;

/** A challenge answer kept up after a call ended (see AcmeAuthority's `#kept`). */
interface Kept {
  readonly solver: ChallengeSolver;
  readonly challenge: Challenge;
  readonly orderUrl: string;
  readonly confirmed: boolean;
  readonly at: number;
}

/** acme-client's error for an item still pending or processing. */
function isStillPending(e: unknown): boolean {
  return (e as Error | undefined)?.message === 'Operation is pending or processing';
}

/** Counts the CA's reads of one challenge answer; `after(n)` resolves once there were more than `n`. */
class ReadCounter {
  count = 0;
  readonly #waiters = new Set<() => void>();
  readonly onRead = (): void => {
    this.count++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  };

  /** Resolves on the next read after `n` (at once if there was one); never, once `signal` aborts. */
  after(n: number, signal: AbortSignal): Promise<void> {
    if (this.count > n) return Promise.resolve();
    return new Promise<void>((resolve) => {
      if (signal.aborted) return;
      this.#waiters.add(resolve);
      signal.addEventListener('abort', () => this.#waiters.delete(resolve), { once: true });
    });
  }
}

/** A failure on the way (no answer, a 5xx, a 429, a nonce refused six times): no verdict of the CA. */
function isPassing(e: unknown): boolean {
  return e instanceof AuthorityError && (e.kind === 'unavailable' || e.kind === 'rate-limited');
}

/**
 * An ACME certificate authority: Let's Encrypt, ZeroSSL, Google Trust
 * Services, step-ca, Pebble, an internal ACME server.
 *
 * - `issue()` places the order and returns it as pending at once, so the
 *   steward persists the order URL before any challenge is answered; after a
 *   crash `resume()` continues that order (answers its challenges, finalizes
 *   with the steward's CSR, downloads) and never places another.
 * - Failures are {@link AuthorityError}s the steward's backoff understands:
 *   `rate-limited` with the CA's Retry-After, `challenge-failed` with the
 *   CA's problem detail, `unauthorized` for account problems, `unavailable`
 *   with the real network error as `cause`, `refused` for names the CA will
 *   not certify.
 * - acme-client's process-wide axios settings are never changed: see
 *   `acme-transport.ts` for how the TLS trust, retries and error causes are
 *   kept to this authority's own calls.
 *
 * @example
 * ```ts
 * const http01 = new Http01Solver(); await http01.listen(80)
 * const le = await AcmeAuthority.create({ directoryUrl, accountKey, termsOfServiceAgreed: true, solvers: [http01] })
 * createSteward({ store, keys, authorities: { le } })
 * ```
 */
export class AcmeAuthority implements CertificateAuthority {
  readonly #o: AcmeAuthorityOptions;
  readonly #client: AcmeClient;
  readonly #als: AsyncLocalStorage<CallContext>;
  readonly #agent: RecordingAgent;
  readonly #httpAgent: RecordingHttpAgent;
  readonly #nonces = new NoncePool();
  /** Orders just placed, as newOrder returned them, until their first `resume` (by URL). */
  readonly #placed = new Map<string, { order: Order; at: number }>();
  /**
   * Answers left up for a CA that may still be reading them when a call gave
   * up, by challenge token (an authorization, and so its token, can serve
   * several orders). `confirmed`: the CA answered the announcement.
   */
  readonly #kept = new Map<string, Kept>();
  #closed = false;
  #accountUrl: string | undefined;
  #account: Promise<string> | undefined;
  #directory: Promise<Record<string, unknown>> | undefined;
  #staging: Promise<AcmeAuthority> | undefined;

  private constructor(options: AcmeAuthorityOptions, acme: AcmeClientModule) {
    this.#o = options;
    this.#als = callContexts(acme.axios as unknown as Parameters<typeof callContexts>[0]);
    const ca = options.ca === undefined ? undefined : typeof options.ca === 'string' ? [options.ca] : [...options.ca];
    // One TLS context for all connections. With only `ca` in the agent options, Node parses `ca` and the
    // ~145 bundled roots again for every new connection (20-40 ms of CPU each), and acme-client opens one
    // per signed request (the socket of its HEAD newNonce is not reused).
    let secureContext: SecureContext | undefined;
    try {
      secureContext = ca ? createSecureContext({ ca: [...ca, ...rootCertificates] }) : undefined;
    } catch (e) {
      throw new ConfigError('ca', undefined, `AcmeAuthority: ca is not a usable PEM trust anchor: ${(e as Error).message}`, { cause: e });
    }
    this.#agent = new RecordingAgent({ keepAlive: true, ...(secureContext ? { secureContext } : {}) }, () => this.#als);
    this.#httpAgent = new RecordingHttpAgent({ keepAlive: true }, () => this.#als);
    let accountKey: KeyObject;
    try {
      accountKey = KeyObject.from(options.accountKey.privateKey);
    } catch (e) {
      throw new ConfigError(
        'accountKey',
        options.accountKey.ref.id,
        'AcmeAuthority: the account key must be a Node key (SoftwareKeyStore or MemoryKeyStore): acme-client signs requests with node:crypto, which cannot use an HSM key',
        { cause: e },
      );
    }
    this.#client = new acme.Client({
      directoryUrl: options.directoryUrl,
      // Replaced below by the key object: acme-client only reads it to sign and to make the JWK.
      accountKey: Buffer.alloc(0),
      ...(options.accountUrl ? { accountUrl: options.accountUrl } : {}),
      ...(options.externalAccountBinding ? { externalAccountBinding: { ...options.externalAccountBinding } } : {}),
      // waitForValidStatus looks once; #validated keeps the schedule (with Retry-After, the solver's
      // reads and cancellation, none of which acme-client's own loop has).
      backoffAttempts: 1,
      backoffMin: POLL_MIN_MS,
      backoffMax: POLL_MAX_MS,
    });
    const http = (this.#client as unknown as { http: { accountKey: unknown; jwk: unknown } }).http;
    http.accountKey = accountKey;
    http.jwk = null;
    this.#accountUrl = options.accountUrl;
  }

  /**
   * Makes an ACME authority. Nothing is sent to the CA yet: the account is
   * looked up or created on the first order.
   *
   * @throws {@link ConfigError} for invalid options (no solver, a bad URL, an account key that is not a Node key).
   * @throws {@link AdapterDependencyError} when acme-client is not installed and was not passed in.
   */
  static async create(options: AcmeAuthorityOptions): Promise<AcmeAuthority> {
    let url: URL;
    try {
      url = new URL(options.directoryUrl);
    } catch {
      throw new ConfigError('directoryUrl', options.directoryUrl, `AcmeAuthority: directoryUrl must be a URL, got ${JSON.stringify(options.directoryUrl)}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ConfigError('directoryUrl', options.directoryUrl, 'AcmeAuthority: directoryUrl must be an https URL');
    }
    if (!Array.isArray(options.solvers) || options.solvers.length === 0) {
      throw new ConfigError('solvers', options.solvers, 'AcmeAuthority needs at least one challenge solver (Http01Solver, Dns01Solver)');
    }
    for (const [name, v] of [['pollIntervalMs', options.pollIntervalMs], ['challengeTimeoutMs', options.challengeTimeoutMs], ['requestTimeoutMs', options.requestTimeoutMs]] as const) {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new ConfigError(name, v, `AcmeAuthority: ${name} must be a positive number of milliseconds`);
    }
    let acme = options.acme;
    if (!acme) {
      try {
        const mod = (await import('acme-client')) as AcmeClientModule & { default?: AcmeClientModule };
        acme = mod.Client ? mod : mod.default;
      } catch (e) {
        throw new AdapterDependencyError('acme-client', 'ACME', { cause: e });
      }
    }
    if (!acme?.Client) throw new AdapterDependencyError('acme-client', 'ACME');
    return new AcmeAuthority(options, acme);
  }

  /** The account URL, once known: save it and pass it as `accountUrl` to skip the lookup next time. */
  get accountUrl(): string | undefined {
    return this.#accountUrl;
  }

  describe(): AuthorityDescription {
    return { kind: 'acme', endpoint: this.#o.directoryUrl };
  }

  /** Places an order for the request's names and returns it as pending (persist, then `resume`). */
  async issue(request: IssueRequest, options: { signal?: AbortSignal } = {}): Promise<IssueResult> {
    await this.#sweepKept();
    const identifiers = identifiersOf(request);
    const account = await this.#ensureAccount(options.signal);
    const replaces = request.replaces ? await this.#replacesId(request.replaces, options.signal) : undefined;
    const order = await this.#call('newOrder', options.signal, async (client, ctx) => {
      try {
        return await client.createOrder({ identifiers, ...(replaces ? { replaces } : {}) } as Parameters<AcmeClient['createOrder']>[0]);
      } catch (e) {
        // A CA that will not take `replaces` for this certificate (already replaced, unknown) still takes
        // the order without it. Only a refusal of the request: after a timeout or a rate limit the first
        // order may exist, and a second would be wasted.
        const p = ctx.lastProblem;
        const refused = p !== undefined && (p.status === 409 || p.status === 400) && /alreadyReplaced|malformed|conflict/.test(p.type);
        if (replaces && refused) {
          delete ctx.lastProblem;
          return client.createOrder({ identifiers });
        }
        throw e;
      }
    });
    const ref: OrderRef = { v: 1, order: order.url, account };
    this.#rememberPlaced(order);
    return { status: 'pending', orderRef: JSON.stringify(ref), retryAfterMs: 0 };
  }

  /**
   * Continues an order: answers pending challenges, finalizes with the
   * request's CSR when ready, downloads when valid. Pending again while the
   * CA is processing (with its Retry-After).
   */
  async resume(orderRef: string, request: IssueRequest, options: { signal?: AbortSignal } = {}): Promise<IssueResult> {
    const ref = parseOrderRef(orderRef);
    await this.#sweepKept();
    const account = await this.#ensureAccount(options.signal);
    if (ref.account !== account) {
      throw new AuthorityError('refused', `the order ${ref.order} belongs to another ACME account (${ref.account}); a new order is needed`, { retryable: false });
    }
    return this.#call('order', options.signal, async (client, ctx) => {
      // An order this authority has just placed is as the CA returned it: no need to ask again.
      let order = this.#takePlaced(ref.order) ?? (await client.getOrder({ url: ref.order } as Order));
      let authorizedNow = false;
      for (let step = 0; step < 5; step++) {
        options.signal?.throwIfAborted();
        // Past its authorizations: answers an earlier call left up for a CA still validating come down.
        if (order.status !== 'pending') await this.#takeDown([...this.#kept.values()].filter((k) => k.orderUrl === ref.order));
        switch (order.status) {
          case 'pending':
            await this.#authorize(client, order, options.signal, ctx);
            // Every authorization is valid: the order is ready (RFC 8555 §7.1.6); finalize without asking.
            order = { ...order, status: 'ready' };
            authorizedNow = true;
            break;
          case 'ready': {
            ctx.lastRetryAfterMs = undefined;
            try {
              order = await client.finalizeOrder(order, request.csrPem);
            } catch (e) {
              // A CA that has not caught up with its authorizations yet: look at the order, then go on from there.
              if (!authorizedNow || !ctx.lastProblem?.type.endsWith(':orderNotReady')) throw e;
              authorizedNow = false;
              delete ctx.lastProblem;
              order = await client.getOrder(order);
              break;
            }
            // Most CAs issue within moments of finalization (Pebble, Let's Encrypt): look again at once, then
            // after 50-400 ms, in this call, before handing the order to the steward's persisted poll (1 s or
            // the CA's Retry-After), unless the CA asked for a longer wait.
            for (let wait = 0; order.status === 'processing' && wait <= 400 && (ctx.lastRetryAfterMs ?? 0) <= wait; wait = wait ? wait * 2 : 50) {
              if (wait > 0) await sleep(wait, undefined, { signal: options.signal });
              order = await client.getOrder(order);
            }
            if (order.status === 'processing') return this.#pending(orderRef, ctx);
            break;
          }
          case 'processing':
            return this.#pending(orderRef, ctx);
          case 'valid': {
            const chain = await client.getCertificate(order, this.#o.preferredChain);
            return { status: 'issued', chainPem: normalizeChain(chain) };
          }
          case 'invalid':
            throw new AuthorityError('challenge-failed', `the order failed: ${await this.#whyInvalid(client, order)}`, { retryable: false });
          default:
            throw new AuthorityError('invalid-response', `the order has the unknown status ${JSON.stringify(order.status)}`, { retryable: true });
        }
      }
      return this.#pending(orderRef, ctx);
    });
  }

  /** Revokes a certificate with an RFC 5280 reason. Revoking a revoked certificate succeeds. */
  async revoke(certificatePem: string, reason: RevocationReason, options: { signal?: AbortSignal } = {}): Promise<void> {
    const code = Object.hasOwn(CRL_REASON_CODES, reason) ? CRL_REASON_CODES[reason] : undefined;
    if (code === undefined) throw new ConfigError('reason', reason, `unknown revocation reason ${JSON.stringify(reason)}`);
    await this.#ensureAccount(options.signal);
    try {
      await this.#call('revokeCert', options.signal, (client) => client.revokeCertificate(firstCertificate(certificatePem), { reason: code }));
    } catch (e) {
      if (e instanceof AuthorityError && /alreadyRevoked|already been revoked/i.test(`${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`)) return;
      throw e;
    }
  }

  /**
   * The CA's suggested renewal window for a certificate (ACME ARI, RFC 9773):
   * undefined when the directory offers none, when ARI is turned off, or when
   * the CA does not know the certificate (it came from another CA).
   */
  async renewalInfo(certificatePem: string, options: { signal?: AbortSignal } = {}): Promise<RenewalInfo | undefined> {
    if (this.#o.renewalInfo === false) return undefined;
    const base = await this.#renewalInfoUrl(options.signal);
    if (!base) return undefined;
    // Without an authority key identifier there is no certID: no CA can answer for it (self-signed, or another CA's).
    if (!parseCertificate(certificatePem).authorityKeyIdentifier) return undefined;
    const id = certId(certificatePem);
    const res = await this.#get(`${base.replace(/\/$/, '')}/${id}`, options.signal);
    if (res.status === 404) return undefined;
    if (res.status !== 200) {
      throw new AuthorityError(res.status === 429 ? 'rate-limited' : 'unavailable', `renewalInfo for ${id}: HTTP ${res.status}`, {
        retryable: true,
        ...(res.retryAfterMs !== undefined ? { retryAfterMs: res.retryAfterMs } : {}),
      });
    }
    let body: { suggestedWindow?: { start?: string; end?: string }; explanationURL?: string };
    try {
      body = JSON.parse(res.body) as typeof body;
    } catch (e) {
      throw new AuthorityError('invalid-response', `renewalInfo for ${id} is not JSON`, { retryable: true, cause: e });
    }
    const start = new Date(body.suggestedWindow?.start ?? NaN);
    const end = new Date(body.suggestedWindow?.end ?? NaN);
    // RFC 9773 §4.2: an end that equals or precedes the start makes the whole object invalid.
    if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end.getTime() <= start.getTime()) {
      throw new AuthorityError('invalid-response', `renewalInfo for ${id} has no valid suggestedWindow`, { retryable: true });
    }
    return {
      start,
      end,
      ...(res.retryAfterMs !== undefined ? { retryAfterMs: res.retryAfterMs } : {}),
      ...(body.explanationURL ? { explanationUrl: body.explanationURL } : {}),
    };
  }

  /**
   * The authority dry runs order from: one on the `staging` directory when
   * the option is given (same solvers and account key unless overridden),
   * otherwise this one.
   */
  async staging(): Promise<AcmeAuthority> {
    const staging = this.#o.staging;
    if (!staging) return this;
    const { staging: _own, accountUrl: _account, ...inherited } = this.#o;
    this.#staging ??= AcmeAuthority.create({ ...inherited, ...staging }).catch((e: unknown) => {
      this.#staging = undefined;
      throw e;
    });
    return this.#staging;
  }

  /**
   * Closes the authority's idle connections (and its staging authority's) and
   * takes down the challenge answers it kept up for a CA that may still be
   * reading them; resolves once they are down. A call still running takes its
   * answers down itself when it ends.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#agent.destroy();
    this.#httpAgent.destroy();
    await Promise.all([this.#takeDown([...this.#kept.values()]), this.#staging?.then((s) => s.close(), () => undefined)]);
  }

  #pending(orderRef: string, ctx: CallContext): IssueResult {
    return { status: 'pending', orderRef, retryAfterMs: ctx.lastRetryAfterMs ?? this.#o.pollIntervalMs ?? 1_000 };
  }

  async #ensureAccount(signal: AbortSignal | undefined): Promise<string> {
    if (this.#accountUrl) return this.#accountUrl;
    signal?.throwIfAborted();
    // Shared by every call waiting for the account: not cancelled by any one of them.
    this.#account ??= this.#call('newAccount', undefined, async (client, ctx) => {
      try {
        // The key's existing account, found without an update: acme-client turns newAccount's
        // HTTP 200 into an account update, which a CA may refuse when it changes nothing (Pebble does).
        await client.createAccount({ onlyReturnExisting: true } as Parameters<AcmeClient['createAccount']>[0]);
      } catch (e) {
        if (ctx.transportError || ctx.lastProblem?.type !== `${ACME_ERROR}accountDoesNotExist`) throw e;
        ctx.lastProblem = undefined;
        await client.createAccount({
          termsOfServiceAgreed: this.#o.termsOfServiceAgreed ?? false,
          ...(this.#o.contact ? { contact: [...this.#o.contact] } : {}),
        });
      }
      return client.getAccountUrl();
    }).then(
      (url) => (this.#accountUrl = url),
      (e: unknown) => {
        this.#account = undefined;
        throw e;
      },
    );
    const account = this.#account;
    if (!signal) return account;
    // This caller stops waiting when its own call is cancelled; the lookup goes on for the others.
    return new Promise<string>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      account.then(
        (url) => {
          signal.removeEventListener('abort', onAbort);
          resolve(url);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /** Answers every pending authorization of the order, in parallel; cleanup always runs. */
  async #authorize(client: AcmeClient, order: Order, signal: AbortSignal | undefined, ctx: CallContext): Promise<void> {
    const authorizations = await client.getAuthorizations(order);
    // allSettled: when one authorization fails, the others still finish and clean up before the call ends.
    // Each in a context of its own: one's network error or Retry-After is not another's.
    const settled = await Promise.allSettled(
      authorizations.map((authz) => {
        const own: CallContext = {
          agent: ctx.agent,
          ...(ctx.httpAgent ? { httpAgent: ctx.httpAgent } : {}),
          ...(ctx.nonces ? { nonces: ctx.nonces } : {}),
          ...(ctx.timeoutMs !== undefined ? { timeoutMs: ctx.timeoutMs } : {}),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        };
        return this.#als.run(own, () => this.#answer(client, order.url, authz, signal, own));
      }),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Answers one authorization and waits for the CA's verdict. The answer is
   * taken down afterwards, except while the CA may still be reading it (still
   * validating at the deadline, an announcement or a look that failed on the
   * way, a cancelled call): then it is kept for the next call, which takes it
   * up again instead of presenting it twice.
   */
  async #answer(client: AcmeClient, orderUrl: string, authz: Authorization, signal: AbortSignal | undefined, ctx: CallContext): Promise<void> {
    // Answers an earlier call left up for this authorization's challenges: this call holds them now.
    const held = authz.challenges.flatMap((ch) => {
      const k = this.#kept.get(ch.token);
      if (k) this.#kept.delete(ch.token);
      return k ? [k] : [];
    });
    const again = authz.status === 'pending' ? held[0] : undefined;
    // The CA has decided (valid, invalid, expired): what was kept for it comes down.
    await this.#takeDown(held.filter((k) => k !== again));
    if (authz.status === 'valid') return;
    if (authz.status !== 'pending') {
      throw new AuthorityError('challenge-failed', `${authz.identifier.value}: the authorization is ${authz.status}${describeChallengeErrors(authz)}`, { retryable: false });
    }
    let solver: ChallengeSolver;
    let challenge: Authorization['challenges'][number];
    let c: Challenge;
    if (again) {
      ({ solver, challenge: c } = again);
      challenge = authz.challenges.find((ch) => ch.token === c.token)!;
    } else {
      ({ solver, challenge } = this.#choose(authz));
      c = {
        type: challenge.type,
        identifier: authz.identifier.value,
        wildcard: authz.wildcard === true,
        token: challenge.token,
        keyAuthorization: await client.getChallengeKeyAuthorization(challenge),
      };
      signal?.throwIfAborted();
    }
    const what = `${c.identifier} (${c.type})`;
    let up = again !== undefined;
    // Whether the CA may know of the answer (and be reading it), and whether it said so.
    let announced = again !== undefined || challenge.status !== 'pending';
    let confirmed = again?.confirmed === true || challenge.status !== 'pending';
    let keep = false;
    let unwatch: (() => void) | undefined;
    try {
      if (!up) {
        up = true; // a present that fails half way is still cleaned up
        try {
          await solver.present(c);
        } catch (e) {
          throw new AuthorityError('unavailable', `${what}: the solver could not present the answer: ${e instanceof Error ? e.message : String(e)}`, { retryable: true, cause: e });
        }
      }
      // Watched from before the answer is announced: the CA may read it before completeChallenge returns.
      // A watch that fails only costs the early looks.
      let reads: ReadCounter | undefined = solver.watch ? new ReadCounter() : undefined;
      try {
        if (reads) unwatch = solver.watch!(c, reads.onRead);
      } catch {
        reads = undefined;
      }
      // The answer to completeChallenge is the challenge: valid already (nothing to wait for), or still
      // pending/processing, when looking again at once would only cost a request.
      ctx.lastRetryAfterMs = undefined;
      let status: string | undefined;
      // An announcement the CA answered is not repeated: it would start another validation (Pebble).
      if (challenge.status === 'pending' && !confirmed) {
        announced = true; // the request may reach the CA even if its answer does not reach us
        status = ((await client.completeChallenge(challenge)) as { status?: string } | undefined)?.status;
        confirmed = true;
      }
      if (status !== 'valid') await this.#validated(client, challenge, reads, signal, ctx, status !== 'pending' && status !== 'processing');
    } catch (e) {
      // Cancelled (the steward stopping): the answer stays up if the CA may be reading it, for the next start.
      if (signal?.aborted) {
        keep = announced;
        throw e;
      }
      if (isStillPending(e)) {
        // The CA is still validating: keep the order (and what the CA is reading) and look again later.
        keep = true;
        throw new AuthorityError('unavailable', `${what}: the CA is still validating after ${this.#o.challengeTimeoutMs ?? 60_000} ms`, { retryable: true, cause: e });
      }
      // Only the CA's verdict (the challenge turned invalid) fails the order. No answer, a badNonce
      // acme-client gave up on, a 5xx or a 429 is mapped as for every other call: retryable, same order,
      // and the answer stays up, as the CA may be reading it.
      const mapped = isCertstewardError(e) ? e : mapError(e, ctx, what, this.#o.directoryUrl);
      if (mapped instanceof AuthorityError && mapped.kind !== 'invalid-response') {
        keep = announced && isPassing(mapped);
        throw mapped;
      }
      if (isCertstewardError(e)) throw e;
      throw new AuthorityError('challenge-failed', `${what}: ${(e as Error).message}`, { retryable: false, cause: e });
    } finally {
      try {
        unwatch?.();
      } catch {
        // A solver's watch bookkeeping is its own.
      }
      if (up && keep && !this.#closed) this.#kept.set(c.token, { solver, challenge: c, orderUrl, confirmed, at: Date.now() });
      else if (up) await solver.cleanup(c).catch(() => undefined);
    }
  }

  #rememberPlaced(order: Order): void {
    const now = Date.now();
    for (const [url, p] of this.#placed) if (now - p.at > PLACED_MAX_MS || this.#placed.size >= PLACED_MAX) this.#placed.delete(url);
    this.#placed.set(order.url, { order, at: now });
  }

  #takePlaced(url: string): Order | undefined {
    const p = this.#placed.get(url);
    this.#placed.delete(url);
    return p && Date.now() - p.at <= PLACED_MAX_MS ? p.order : undefined;
  }

  /** Takes down answers kept for orders nobody came back to (a cancelled renewal): the CA decided long ago. */
  async #sweepKept(): Promise<void> {
    const now = Date.now();
    await this.#takeDown([...this.#kept.values()].filter((k) => now - k.at > KEPT_MAX_MS));
  }

  async #takeDown(kept: readonly Kept[]): Promise<void> {
    for (const k of kept) if (this.#kept.get(k.challenge.token) === k) this.#kept.delete(k.challenge.token);
    await Promise.all(kept.map((k) => k.solver.cleanup(k.challenge).catch(() => undefined)));
  }

  /**
   * Waits for the CA's verdict on one challenge, for at most
   * `challengeTimeoutMs`: looks at once (unless `lookFirst` is false: the CA
   * has just said it is pending), then after 50 ms doubling to 2 s (at
   * least the CA's Retry-After). Without a Retry-After, a solver that sees
   * the CA read its answer ({@link ChallengeSolver.watch}) brings the next
   * look forward to just after the reads stop (at most three times per
   * challenge), instead of a blind wait of up to 2 s.
   *
   * @throws acme-client's "pending" error when the CA is still validating at the deadline, or its
   *   error for an invalid challenge.
   */
  async #validated(
    client: AcmeClient,
    challenge: Authorization['challenges'][number],
    reads: ReadCounter | undefined,
    signal: AbortSignal | undefined,
    ctx: CallContext,
    lookFirst: boolean,
  ): Promise<void> {
    const deadline = Date.now() + (this.#o.challengeTimeoutMs ?? 60_000);
    let backoff = POLL_MIN_MS;
    let early = 0;
    // Reads since the challenge was announced count: the CA may have read the answer already.
    let seen = 0;
    let retryAfter = lookFirst ? undefined : ctx.lastRetryAfterMs;
    for (let look = lookFirst; ; look = true) {
      if (look) {
        seen = reads?.count ?? 0;
        ctx.lastRetryAfterMs = undefined;
        delete ctx.lastProblem;
        delete ctx.transportError;
        try {
          // One look: the client's backoff allows a single attempt.
          await client.waitForValidStatus(challenge);
          return;
        } catch (e) {
          if (signal?.aborted) throw e;
          if (!isStillPending(e)) {
            // A look that failed on the way (a nonce rejected six times, a 5xx, a dropped connection) is
            // no verdict: look again until the deadline. A verdict or a refusal ends the wait.
            if (!isPassing(mapError(e, ctx, 'challenge', this.#o.directoryUrl)) || Date.now() >= deadline) throw e;
          } else if (Date.now() >= deadline) {
            throw e;
          }
        }
        // (The look may have set what was cleared before it.)
        retryAfter = ctx.lastRetryAfterMs ?? (ctx as Pick<CallContext, 'lastProblem'>).lastProblem?.retryAfterMs;
      }
      const delay = Math.max(0, Math.min(Math.max(backoff, retryAfter ?? 0), deadline - Date.now()));
      backoff = Math.min(backoff * 2, POLL_MAX_MS);
      const pause = new AbortController();
      const stop = (): void => pause.abort(signal?.reason);
      signal?.addEventListener('abort', stop, { once: true });
      try {
        const waits: Promise<unknown>[] = [sleep(delay, undefined, { signal: pause.signal })];
        if (reads && retryAfter === undefined && early < MAX_EARLY_LOOKS) {
          waits.push(
            reads.after(seen, pause.signal).then(async () => {
              early++;
              // Let a burst of reads (a CA validating from several places) end first.
              for (let n = reads.count, i = 0; i < 10; n = reads.count, i++) {
                await sleep(READS_SETTLE_MS, undefined, { signal: pause.signal });
                if (reads.count === n) break;
              }
            }),
          );
        }
        await Promise.race(waits);
      } finally {
        signal?.removeEventListener('abort', stop);
        pause.abort();
      }
      signal?.throwIfAborted();
    }
  }

  #choose(authz: Authorization): { solver: ChallengeSolver; challenge: Authorization['challenges'][number] } {
    const offered = authz.challenges;
    for (const solver of this.#o.solvers) {
      for (const type of solver.types) {
        if (authz.wildcard && type !== 'dns-01') continue;
        const challenge = offered.find((ch) => ch.type === type);
        if (challenge) return { solver, challenge };
      }
    }
    throw new AuthorityError(
      'challenge-failed',
      `${authz.wildcard ? '*.' : ''}${authz.identifier.value}: no solver for the offered challenges (${offered.map((c) => c.type).join(', ')})${authz.wildcard ? '; wildcard names need dns-01' : ''}`,
      { retryable: false },
    );
  }

  async #whyInvalid(client: AcmeClient, order: Order): Promise<string> {
    const own = (order as { error?: { detail?: string } }).error?.detail;
    try {
      const reasons = (await client.getAuthorizations(order)).map((a) => describeChallengeErrors(a)).filter(Boolean);
      if (reasons.length > 0) return `${own ? `${own}; ` : ''}${reasons.join('; ').replace(/^: /, '')}`;
    } catch {
      /* the order's own error is the best we have */
    }
    return own ?? 'the CA marked it invalid';
  }

  /** The `replaces` value for a renewal, when the directory has ARI and the CA knows the old certificate. */
  async #replacesId(previousPem: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    if (this.#o.renewalInfo === false) return undefined;
    try {
      const base = await this.#renewalInfoUrl(signal);
      if (!base) return undefined;
      const id = certId(previousPem);
      // Only a certificate this CA issued: it answers renewalInfo for it.
      const res = await this.#get(`${base.replace(/\/$/, '')}/${id}`, signal);
      return res.status === 200 ? id : undefined;
    } catch {
      return undefined;
    }
  }

  async #renewalInfoUrl(signal: AbortSignal | undefined): Promise<string | undefined> {
    this.#directory ??= this.#get(this.#o.directoryUrl, signal).then(
      (res) => {
        if (res.status !== 200) throw new AuthorityError('unavailable', `ACME directory ${this.#o.directoryUrl}: HTTP ${res.status}`, { retryable: true });
        return JSON.parse(res.body) as Record<string, unknown>;
      },
      (e: unknown) => {
        throw e;
      },
    );
    try {
      const url = (await this.#directory)['renewalInfo'];
      return typeof url === 'string' ? url : undefined;
    } catch (e) {
      this.#directory = undefined;
      throw e;
    }
  }

  /** A plain GET with this authority's trust (ARI and the directory need no signature). */
  #get(url: string, signal: AbortSignal | undefined): Promise<{ status: number; body: string; retryAfterMs?: number }> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const send = u.protocol === 'http:' ? httpRequest : httpsRequest;
      const req = send(
        u,
        { method: 'GET', agent: u.protocol === 'https:' ? this.#agent : this.#httpAgent, timeout: this.#o.requestTimeoutMs ?? 30_000, ...(signal ? { signal } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const header = res.headers['retry-after'];
            const after = retryAfterMs(Array.isArray(header) ? header[0] : header);
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(after !== undefined ? { retryAfterMs: after } : {}) });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from ${u.origin} within ${this.#o.requestTimeoutMs ?? 30_000} ms`)));
      req.on('error', (e) =>
        reject(signal?.aborted ? e : new AuthorityError('unavailable', `${u.origin} unreachable: ${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim(), { retryable: true, cause: e })),
      );
      req.end();
    });
  }

  /** Runs acme-client calls in this authority's context and maps what fails to {@link AuthorityError}. */
  async #call<T>(what: string, signal: AbortSignal | undefined, fn: (client: AcmeClient, ctx: CallContext) => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    const ctx: CallContext = {
      agent: this.#agent,
      httpAgent: this.#httpAgent,
      nonces: this.#nonces,
      timeoutMs: this.#o.requestTimeoutMs ?? 30_000,
      ...(signal ? { signal } : {}),
    };
    try {
      return await this.#als.run(ctx, () => fn(this.#client, ctx));
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw mapError(e, ctx, what, this.#o.directoryUrl);
    }
  }
}

/** Maps a failure inside acme-client to an {@link AuthorityError}, with the real cause. */
function mapError(e: unknown, ctx: CallContext, what: string, directoryUrl: string): unknown {
  if (isCertstewardError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  const origin = new URL(directoryUrl).origin;
  if (ctx.transportError) {
    const t = ctx.transportError as NodeJS.ErrnoException;
    // axios's request timeout: the server took the request but did not answer in time.
    const silent = t.code === 'ECONNABORTED' || t.code === 'ETIMEDOUT';
    const how = silent ? `did not answer within ${ctx.timeoutMs ?? 30_000} ms` : 'unreachable';
    return new AuthorityError('unavailable', `${what}: ACME server ${origin} ${how}: ${t.code ? `${t.code} ` : ''}${t.message}`, { retryable: true, cause: t });
  }
  const p = ctx.lastProblem;
  if (p && (message === p.detail || message.includes(p.detail) || p.detail === '')) {
    const type = p.type.startsWith(ACME_ERROR) ? p.type.slice(ACME_ERROR.length) : p.type;
    const text = `${what}: ${p.detail || message} (${type || `HTTP ${p.status}`})`;
    const after = p.retryAfterMs !== undefined ? { retryAfterMs: p.retryAfterMs } : {};
    switch (type) {
      case 'rateLimited':
        return new AuthorityError('rate-limited', text, { retryable: true, ...after, cause: e });
      case 'badNonce':
      case 'serverInternal':
        return new AuthorityError('unavailable', text, { retryable: true, ...after, cause: e });
      case 'unauthorized':
      case 'accountDoesNotExist':
      case 'externalAccountRequired':
      case 'userActionRequired':
        return new AuthorityError('unauthorized', text, { retryable: false, cause: e });
      case 'alreadyRevoked':
        return new AuthorityError('revoked', text, { retryable: false, cause: e });
      case 'connection':
      case 'dns':
      case 'incorrectResponse':
      case 'tls':
      case 'caa':
        return new AuthorityError('challenge-failed', text, { retryable: false, cause: e });
      case 'rejectedIdentifier':
      case 'unsupportedIdentifier':
      case 'badCSR':
      case 'badSignatureAlgorithm':
      case 'badRevocationReason':
      case 'malformed':
        return new AuthorityError('refused', text, { retryable: false, cause: e });
      default:
        if (p.status === 429) return new AuthorityError('rate-limited', text, { retryable: true, ...after, cause: e });
        if (p.status >= 500) return new AuthorityError('unavailable', text, { retryable: true, ...after, cause: e });
        return new AuthorityError('refused', text, { retryable: true, cause: e });
    }
  }
  if (e instanceof TypeError) {
    // acme-client's answer when no HTTP response came back and its own retries are off.
    return new AuthorityError('unavailable', `${what}: no response from the ACME server ${origin} (timed out or connection lost)`, { retryable: true, cause: e });
  }
  return new AuthorityError('invalid-response', `${what}: ${message}`, { retryable: true, cause: e });
}

function describeChallengeErrors(authz: Authorization): string {
  const errors = authz.challenges
    .map((c) => (c as { error?: { detail?: string; type?: string } }).error)
    .filter((x): x is { detail?: string; type?: string } => !!x)
    .map((x) => x.detail ?? x.type ?? 'failed');
  return errors.length > 0 ? `: ${authz.identifier.value}: ${errors.join(', ')}` : '';
}

function identifiersOf(request: IssueRequest): { type: 'dns' | 'ip'; value: string }[] {
  const out: { type: 'dns' | 'ip'; value: string }[] = [];
  const seen = new Set<string>();
  const add = (type: 'dns' | 'ip', value: string) => {
    const key = `${type}:${value.toLowerCase()}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ type, value });
    }
  };
  for (const n of request.subjectAltNames) {
    if (n.type === 'dns' || n.type === 'ip') add(n.type, n.value);
    else throw new AuthorityError('refused', `ACME certifies DNS names and IP addresses only, not ${n.type} "${n.value}"`, { retryable: false });
  }
  if (request.commonName && !seen.has(`dns:${request.commonName.toLowerCase()}`) && !seen.has(`ip:${request.commonName.toLowerCase()}`)) {
    add(/^[\d.]+$|:/.test(request.commonName) ? 'ip' : 'dns', request.commonName);
  }
  if (out.length === 0) throw new AuthorityError('refused', 'an ACME order needs at least one DNS name or IP address', { retryable: false });
  return out;
}

function parseOrderRef(orderRef: string): OrderRef {
  try {
    const ref = JSON.parse(orderRef) as Partial<OrderRef>;
    if (ref.v === 1 && typeof ref.order === 'string' && typeof ref.account === 'string') return ref as OrderRef;
  } catch {
    /* below */
  }
  throw new AuthorityError('invalid-response', `not an ACME order reference: ${orderRef.slice(0, 80)}`, { retryable: false });
}

/** Leaf first, PEM blocks only, one trailing newline each. */
function normalizeChain(chain: string): string {
  const certs = parseCertificates(chain);
  if (certs.length === 0) throw new AuthorityError('invalid-response', 'the CA returned no certificate', { retryable: true });
  const blocks = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => `${b.trim()}\n`).join('');
}

function firstCertificate(pem: string): string {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!block) throw new ConfigError('certificatePem', undefined, 'revoke() needs a PEM certificate');
  return `${block}\n`;
}

/** The ARI certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial DER content). */
export function certId(certificatePem: string): string {
  const cert = parseCertificate(certificatePem);
  if (!cert.authorityKeyIdentifier) {
    throw new AuthorityError('invalid-response', 'the certificate has no authority key identifier, which ARI needs', { retryable: false });
  }
  // The serial's DER content bytes as they are (a negative serial is two's complement, not its magnitude).
  const { serial } = locateFields(cert.der);
  const serialBytes = Buffer.from(cert.der.subarray(serial.contentStart, serial.end));
  return `${Buffer.from(cert.authorityKeyIdentifier, 'hex').toString('base64url')}.${serialBytes.toString('base64url')}`;
}


