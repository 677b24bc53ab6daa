/**
 * A certificate authority for tests that issues real certificates (through a
 * {@link LocalAuthority}) and can be told to misbehave.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { LocalAuthority } from '../../adapters/local-ca/index.js';
import type { LocalAuthorityLoadOptions, LocalAuthorityOptions, LocalAuthorityState } from '../../adapters/local-ca/index.js';
import { AuthorityError, ConfigError, isCertstewardError, type AuthorityErrorKind } from '../errors.js';
import type {
  AuthorityDescription,
  CertificateAuthority,
  IssueRequest,
  IssueResult,
  RevocationReason,
} from '../ports/certificate-authority.js';
import type { Clock } from '../ports/clock.js';

/**
 * What one call to a {@link TestAuthority} did.
 *
 * @example
 * ```ts
 * expect(ca.requests.map((c) => c.outcome)).toEqual(['failed', 'issued'])
 * ```
 */
export interface TestAuthorityCall {
  readonly op: 'issue' | 'resume' | 'revoke';
  /** The request id (`undefined` for `revoke`). */
  readonly id: string | undefined;
  /** `clock.now()` when the call began. */
  readonly at: Date;
  readonly outcome: 'issued' | 'pending' | 'failed' | 'aborted' | 'revoked';
  /** For `failed`: the error's kind. */
  readonly errorKind?: AuthorityErrorKind;
  /** For `resume` and `pending`: the order reference. */
  readonly orderRef?: string;
}

/**
 * Options of {@link TestAuthority.create}: those of `LocalAuthority.create`.
 *
 * @example
 * ```ts
 * const options: TestAuthorityOptions = { keys, clock: new ManualClock(), defaultLeafLifetimeMs: 86_400_000 }
 * ```
 */
export type TestAuthorityOptions = LocalAuthorityOptions;

/** The content of a test order reference (a JSON string). */
interface TestOrder {
  readonly certsteward: 'test-order';
  readonly v: 1;
  /** Unique per order. */
  readonly order: string;
  /** The request id the order was placed for. */
  readonly id: string;
  /** How many more `resume` calls answer `pending`. */
  readonly pending: number;
}

/** Kinds after which trying again cannot help. */
const FINAL_KINDS: ReadonlySet<AuthorityErrorKind> = new Set(['refused', 'unauthorized', 'revoked']);

function parseOrder(orderRef: string): TestOrder | undefined {
  try {
    const o = JSON.parse(orderRef) as Partial<TestOrder> | null;
    if (
      o &&
      o.certsteward === 'test-order' &&
      o.v === 1 &&
      typeof o.order === 'string' &&
      typeof o.id === 'string' &&
      typeof o.pending === 'number' &&
      Number.isInteger(o.pending) &&
      o.pending >= 0
    ) {
      return o as TestOrder;
    }
  } catch {
    // Not JSON: unknown order.
  }
  return undefined;
}

function checkCount(setting: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(setting, n, `${setting} must be a non-negative integer, got ${String(n)}`);
}

/**
 * A {@link CertificateAuthority} for tests: it issues real certificates
 * from a wrapped {@link LocalAuthority} (so chains verify and keys match),
 * and can be told to fail, refuse, stall or leave orders pending, to prove
 * how the code under test handles a misbehaving CA. Misbehaviours apply to
 * `issue` and `resume`, checked in this order: `stall`, `failUntil`,
 * `failNext`, `refuse`; then `pendingOrders` (issue only).
 *
 * Order references are JSON strings that carry everything needed to finish
 * the order, so a new `TestAuthority` over the same CA state (a restarted
 * process) resumes them.
 *
 * @example
 * ```ts
 * const clock = new ManualClock('2026-01-01T00:00:00Z')
 * const ca = await TestAuthority.create({ keys: new MemoryKeyStore(), clock })
 * ca.failNext(2, 'rate-limited', 60_000)
 * const steward = createSteward({ store, keys, clock, authorities: { test: ca } })
 * await clock.advance('1h')
 * expect(ca.failures).toBe(2)
 * expect(ca.issued).toBe(1)
 * ```
 */
export class TestAuthority implements CertificateAuthority {
  readonly #local: LocalAuthority;
  readonly #clock: Clock;
  #failNext = 0;
  #failKind: AuthorityErrorKind = 'unavailable';
  #failRetryAfterMs: number | undefined;
  #failUntil: Date | undefined;
  readonly #refused = new Set<string>();
  #stallMs = 0;
  #pendingPolls = 0;
  #pendingRetryAfterMs: number | undefined;
  /** Order id → pending answers left, as this instance has seen them. */
  readonly #pollsLeft = new Map<string, number>();
  /** Order id → the chain it issued, so a finished order answers the same chain again. */
  readonly #done = new Map<string, string>();
  #issued = 0;
  #failures = 0;
  #calls = 0;
  readonly #log: TestAuthorityCall[] = [];

  /**
   * Wraps an existing local CA.
   *
   * @example
   * ```ts
   * const local = await LocalAuthority.load(state, { keys, clock })
   * const ca = new TestAuthority(local, { clock })
   * ```
   */
  constructor(local: LocalAuthority, options: { clock: Clock }) {
    this.#local = local;
    this.#clock = options.clock;
  }

  /**
   * Creates a test CA over a new local CA.
   *
   * @example
   * ```ts
   * const ca = await TestAuthority.create({ keys, clock: new ManualClock() })
   * ```
   */
  static async create(options: TestAuthorityOptions): Promise<TestAuthority> {
    return new TestAuthority(await LocalAuthority.create(options), { clock: options.clock });
  }

  /**
   * A test CA over a persisted local CA state: what a restarted process sees.
   *
   * @example
   * ```ts
   * const again = await TestAuthority.load(first.toJSON(), { keys, clock })
   * await again.resume(orderRef, request)
   * ```
   */
  static async load(state: LocalAuthorityState, options: LocalAuthorityLoadOptions): Promise<TestAuthority> {
    return new TestAuthority(await LocalAuthority.load(state, options), { clock: options.clock });
  }

  /** The wrapped local CA. */
  get local(): LocalAuthority {
    return this.#local;
  }

  /** The root certificate (PEM): the trust anchor for the chains it issues. */
  get rootPem(): string {
    return this.#local.rootPem;
  }

  /** Intermediate then root (PEM). */
  get chainPem(): string {
    return this.#local.chainPem;
  }

  /** Chains handed out (by `issue` or `resume`). */
  get issued(): number {
    return this.#issued;
  }

  /** Errors thrown by `issue` and `resume` (aborts excluded). */
  get failures(): number {
    return this.#failures;
  }

  /** Calls to `issue` and `resume`. */
  get calls(): number {
    return this.#calls;
  }

  /** Every call, oldest first. */
  get requests(): readonly TestAuthorityCall[] {
    return [...this.#log];
  }

  /** `{ kind: 'test' }`. */
  describe(): AuthorityDescription {
    return { kind: 'test' };
  }

  /** The state of the wrapped local CA, for {@link TestAuthority.load}. */
  toJSON(): LocalAuthorityState {
    return this.#local.toJSON();
  }

  /**
   * The next `n` calls fail with an {@link AuthorityError} of `kind` (default
   * `unavailable`); `refused`, `unauthorized` and `revoked` are not
   * retryable, the others are. `retryAfterMs` is the CA's advice on the error.
   * `failNext(0)` stops it.
   *
   * @example
   * ```ts
   * ca.failNext(3, 'rate-limited', 3_600_000)
   * ```
   */
  failNext(n: number, kind: AuthorityErrorKind = 'unavailable', retryAfterMs?: number): this {
    checkCount('failNext', n);
    this.#failNext = n;
    this.#failKind = kind;
    this.#failRetryAfterMs = retryAfterMs;
    return this;
  }

  /**
   * Every call fails with a retryable `unavailable` error while
   * `clock.now() < until` (its `retryAfterMs` is the time left). `undefined`
   * stops it.
   *
   * @example
   * ```ts
   * ca.failUntil(new Date(clock.now().getTime() + 6 * 3_600_000)) // a six-hour outage
   * ```
   */
  failUntil(until: Date | undefined): this {
    this.#failUntil = until;
    return this;
  }

  /**
   * Refuses every request for `id` (not retryable) until {@link TestAuthority.allow}.
   *
   * @example
   * ```ts
   * ca.refuse('api.example.com') // the CA's policy forbids this name
   * ```
   */
  refuse(id: string): this {
    this.#refused.add(id);
    return this;
  }

  /**
   * Ends a {@link TestAuthority.refuse}.
   *
   * @example
   * ```ts
   * ca.allow('api.example.com')
   * ```
   */
  allow(id: string): this {
    this.#refused.delete(id);
    return this;
  }

  /**
   * Every call waits `ms` on the clock's `sleep` before answering, and rejects
   * with the signal's reason if it aborts meanwhile. `stall(0)` stops it.
   *
   * @example
   * ```ts
   * ca.stall(30_000)
   * const p = ca.issue(request, { signal: AbortSignal.timeout(5_000) })
   * ```
   */
  stall(ms: number): this {
    if (!Number.isFinite(ms) || ms < 0) throw new ConfigError('stall', ms, `stall must be a non-negative number of ms, got ${String(ms)}`);
    this.#stallMs = ms;
    return this;
  }

  /**
   * From now on, `issue` answers `pending` and each order answers `pending`
   * to `n` more `resume` calls before it issues (`retryAfterMs` goes on the
   * pending answers). `pendingOrders(0)` makes `issue` answer at once again.
   *
   * @example
   * ```ts
   * ca.pendingOrders(2)
   * const r = await ca.issue(request)          // { status: 'pending', orderRef }
   * await ca.resume(r.orderRef, request)       // pending
   * await ca.resume(r.orderRef, request)       // pending
   * await ca.resume(r.orderRef, request)       // issued
   * ```
   */
  pendingOrders(n: number, retryAfterMs?: number): this {
    checkCount('pendingOrders', n);
    this.#pendingPolls = n;
    this.#pendingRetryAfterMs = retryAfterMs;
    return this;
  }

  /**
   * Forgets every misbehaviour, the counters and the log.
   *
   * @example
   * ```ts
   * afterEach(() => ca.reset())
   * ```
   */
  reset(): this {
    this.#failNext = 0;
    this.#failUntil = undefined;
    this.#refused.clear();
    this.#stallMs = 0;
    this.#pendingPolls = 0;
    this.#issued = 0;
    this.#failures = 0;
    this.#calls = 0;
    this.#log.length = 0;
    return this;
  }

  /**
   * Issues through the local CA, unless told to misbehave.
   *
   * @throws {@link AuthorityError} as configured, or as the local CA throws.
   * @example
   * ```ts
   * const result = await ca.issue({ id: 'api', csrPem, subjectAltNames, key })
   * ```
   */
  async issue(request: IssueRequest, options: { signal?: AbortSignal } = {}): Promise<IssueResult> {
    return this.#call('issue', request, undefined, options.signal, async () => {
      if (this.#pendingPolls > 0) {
        const order: TestOrder = { certsteward: 'test-order', v: 1, order: randomUUID(), id: request.id, pending: this.#pendingPolls };
        return this.#pending(order);
      }
      return this.#issueNow(request, options.signal);
    });
  }

  /**
   * Continues an order `issue` left pending. An order reference this class
   * did not make, or one made for another request id, is refused.
   *
   * @throws {@link AuthorityError} `refused` (not retryable) for an unknown order.
   * @example
   * ```ts
   * const result = await ca.resume(record.orderRef, request)
   * ```
   */
  async resume(orderRef: string, request: IssueRequest, options: { signal?: AbortSignal } = {}): Promise<IssueResult> {
    return this.#call('resume', request, orderRef, options.signal, async () => {
      const order = typeof orderRef === 'string' ? parseOrder(orderRef) : undefined;
      if (!order) {
        throw new AuthorityError('refused', `the test CA gave out no order ${JSON.stringify(String(orderRef).slice(0, 80))}`, {
          retryable: false,
        });
      }
      if (order.id !== request.id) {
        throw new AuthorityError('refused', `order ${order.order} was placed for "${order.id}", not "${request.id}"`, { retryable: false });
      }
      const done = this.#done.get(order.order);
      if (done !== undefined) return { status: 'issued', chainPem: done };
      // The lower of what the reference says and what this instance has counted,
      // so the first reference and the latest one both make progress.
      const left = Math.min(order.pending, this.#pollsLeft.get(order.order) ?? order.pending);
      if (left > 0) return this.#pending({ ...order, pending: left - 1 });
      const result = await this.#issueNow(request, options.signal);
      if (result.status === 'issued') {
        this.#done.set(order.order, result.chainPem);
        this.#pollsLeft.delete(order.order);
      }
      return result;
    });
  }

  /**
   * Revokes through the local CA.
   *
   * @throws {@link AuthorityError} `refused` for a certificate the CA did not issue.
   * @example
   * ```ts
   * await ca.revoke(leafPem, 'superseded')
   * ```
   */
  async revoke(certificatePem: string, reason: RevocationReason, options: { signal?: AbortSignal } = {}): Promise<void> {
    const at = this.#clock.now();
    try {
      await this.#local.revoke(certificatePem, reason, options);
      this.#log.push({ op: 'revoke', id: undefined, at, outcome: 'revoked' });
    } catch (e) {
      this.#log.push({ op: 'revoke', id: undefined, at, outcome: 'failed', ...(isCertstewardError(e, 'authority') ? { errorKind: e.kind } : {}) });
      throw e;
    }
  }

  /**
   * Whether the serial (hex) was revoked.
   *
   * @example
   * ```ts
   * expect(ca.isRevoked(parseCertificate(pem).serialNumber)).toBe(true)
   * ```
   */
  isRevoked(serial: string): boolean {
    return this.#local.isRevoked(serial);
  }

  #pending(order: TestOrder): IssueResult {
    this.#pollsLeft.set(order.order, order.pending);
    const orderRef = JSON.stringify(order);
    return this.#pendingRetryAfterMs === undefined
      ? { status: 'pending', orderRef }
      : { status: 'pending', orderRef, retryAfterMs: this.#pendingRetryAfterMs };
  }

  #issueNow(request: IssueRequest, signal: AbortSignal | undefined): Promise<IssueResult> {
    return this.#local.issue(request, signal ? { signal } : {});
  }

  #misbehaviour(request: IssueRequest): AuthorityError | undefined {
    const now = this.#clock.now();
    if (this.#failUntil && now.getTime() < this.#failUntil.getTime()) {
      return new AuthorityError('unavailable', `the test CA is down until ${this.#failUntil.toISOString()}`, {
        retryable: true,
        retryAfterMs: this.#failUntil.getTime() - now.getTime(),
      });
    }
    if (this.#failNext > 0) {
      this.#failNext--;
      const kind = this.#failKind;
      return new AuthorityError(kind, `the test CA was told to fail (${kind})`, {
        retryable: !FINAL_KINDS.has(kind),
        ...(this.#failRetryAfterMs === undefined ? {} : { retryAfterMs: this.#failRetryAfterMs }),
      });
    }
    if (this.#refused.has(request.id)) {
      return new AuthorityError('refused', `the test CA refuses to issue for "${request.id}"`, { retryable: false });
    }
    return undefined;
  }

  async #call(
    op: 'issue' | 'resume',
    request: IssueRequest,
    orderRef: string | undefined,
    signal: AbortSignal | undefined,
    act: () => Promise<IssueResult>,
  ): Promise<IssueResult> {
    this.#calls++;
    const at = this.#clock.now();
    const base = { op, id: request?.id, at, ...(orderRef === undefined ? {} : { orderRef }) };
    try {
      signal?.throwIfAborted();
      if (this.#stallMs > 0) await this.#clock.sleep(this.#stallMs, signal);
      const failure = this.#misbehaviour(request);
      if (failure) throw failure;
      const result = await act();
      if (result.status === 'issued') this.#issued++;
      this.#log.push({ ...base, outcome: result.status, ...(result.status === 'pending' && op === 'issue' ? { orderRef: result.orderRef } : {}) });
      return result;
    } catch (e) {
      if (signal?.aborted && e === signal.reason) {
        this.#log.push({ ...base, outcome: 'aborted' });
      } else {
        this.#failures++;
        this.#log.push({ ...base, outcome: 'failed', ...(isCertstewardError(e, 'authority') ? { errorKind: e.kind } : {}) });
      }
      throw e;
    }
  }
}
