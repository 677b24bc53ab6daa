/**
 * The composition root: one `Steward` from a store, authorities, a key store
 * and a clock. It tracks certificates, renews them through the renewal state
 * machine, announces expiry, and tells the host through typed events.
 *
 * @module
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { ConfigError, ConflictError, NotFoundError, isCertstewardError, CertstewardError } from '../errors.js';
import { inProgress, transition, IDLE } from '../lifecycle/renewal-machine.js';
import { parseCertificates } from '../pki/certificate.js';
import { parseDuration, type Duration } from '../policy/duration.js';
import { expiryBucket, resolveThresholds, type ExpiryReport, type ExpiryThresholds } from '../policy/expiry.js';
import { resolveIssuanceLimits, type IssuanceLimit, type ResolvedIssuanceLimit } from '../policy/issuance-limits.js';
import type { RetryPolicy } from '../policy/retry-delay.js';
import { plannedRenewal, type PlannedRenewal, type TimingPolicy, type TimingRule } from '../policy/timing.js';
import type { CertificateAuthority, RevocationReason } from '../ports/certificate-authority.js';
import type {
  AuditEvent,
  CertificateRecord,
  CertificateSpec,
  CertificateStore,
  ExpiryCounts,
  IssuedCertificate,
  ListFilter,
  RenewalCause,
  StepError,
} from '../ports/certificate-store.js';
import type { Clock, TimerHandle } from '../ports/clock.js';
import type { KeyAlgorithm, KeyHandle, KeyRef, KeyStore } from '../ports/key-store.js';
import { nextAlertAt, type ResolvedThresholds } from './alerts.js';
import { StewardEmitter, type Listener } from './emitter.js';
import type { StewardEventName, StewardEvents } from './events.js';
import { systemClock } from './system-clock.js';
import { RenewalWorker } from './renewal-worker.js';
import { TokenBucket, type RateLimit } from './token-bucket.js';

/** Hooks are awaited, and may veto by throwing (the attempt then fails and backs off). */
export interface StewardHooks {
  /** Before an order is placed. */
  beforeIssue?(context: { id: string; spec: CertificateSpec; cause: RenewalCause | undefined }): void | Promise<void>;
}

/** Options of {@link createSteward}. */
export interface StewardOptions {
  readonly store: CertificateStore;
  /** Authorities by the name certificates refer to in `track({ authority })`. */
  readonly authorities: Readonly<Record<string, CertificateAuthority>>;
  readonly keys: KeyStore;
  /** Default: the system clock. Tests pass a `ManualClock`. */
  readonly clock?: Clock;
  /** This process's name in leases (default: host, pid and a random suffix). */
  readonly owner?: string;
  /** How long a claim holds a record (default 5 minutes). */
  readonly leaseMs?: number;
  /** Records claimed at once at most (default 100; never more than the lanes free to work on them, so leases do not run out in a queue). */
  readonly batchSize?: number;
  /** Records worked on at once (default 4). */
  readonly concurrency?: number;
  /**
   * How often to look at the store even when nothing is due locally, to see
   * work other processes added (default 5 minutes; `null`: only this
   * process's own schedule).
   */
  readonly pollIntervalMs?: number | null;
  /** Expiry alert thresholds (default warning 30 days, critical 7 days). */
  readonly thresholds?: ExpiryThresholds;
  /** Backoff after failures (default 1 h doubling to 32 h). */
  readonly retry?: RetryPolicy;
  /** Timing policy for certificates that bring none. */
  readonly timing?: TimingPolicy;
  /** Per-authority token buckets. */
  readonly rateLimits?: Readonly<Record<string, RateLimit>>;
  /**
   * Published rate limits per authority name (for example
   * `{ le: LETS_ENCRYPT_LIMITS }`), counted in the store's shared issuance
   * ledger by every process: an order that would break one is deferred
   * (`renewal.deferred`) instead of refused by the CA. Needs a store with
   * `reserveIssuance` (MemoryStore, KnexStore).
   */
  readonly issuanceLimits?: Readonly<Record<string, readonly IssuanceLimit[]>>;
  /** How soon to ask again about a pending order when the CA gives no hint (default 5 s). */
  readonly pollOrderMs?: number;
  /** How often to ask an authority with `renewalInfo()` for its window when it gives no Retry-After (default 6 hours). */
  readonly caWindowCheckMs?: number;
  /** How long an order may stay pending before it is abandoned and a new one placed (default 1 hour). */
  readonly orderTimeoutMs?: number;
  /** How long `stop()` waits for in-flight work before it aborts it (default 30 s of wall-clock time, whatever the clock). */
  readonly stopGraceMs?: number;
  readonly hooks?: StewardHooks;
  /** A uniform [0, 1) source for backoff jitter (default: derived from the id, reproducible). */
  readonly random?: () => number;
}

/** A subject alternative name, as text (`'api.example.com'`, `'ip:10.0.0.1'`) or typed. */
export type NameInput = string | { readonly type: 'dns' | 'ip' | 'email' | 'uri'; readonly value: string };

/** What to track. */
export interface TrackInput {
  /** Your id for the certificate (a hostname, a service name). */
  readonly id: string;
  /** The name of the authority in `authorities`. */
  readonly authority: string;
  readonly commonName?: string;
  /** Names to certify; `commonName` is added as a DNS name when this is omitted. */
  readonly subjectAltNames?: readonly NameInput[];
  readonly key?: { readonly algorithm?: KeyAlgorithm; readonly rotate?: 'always' | 'never' };
  readonly renewal?: TimingPolicy;
  /** Requested lifetime, where the authority lets the requester choose. */
  readonly lifetime?: Duration;
  readonly profile?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Adopt a certificate you already have instead of issuing one now. */
  readonly existing?: { readonly chainPem: string; readonly keyRef?: KeyRef };
}

/** A tracked certificate, as the host sees it. */
export interface CertificateView {
  readonly id: string;
  readonly status: 'active' | 'revoked';
  readonly authority: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly certificate:
    | {
        readonly serialNumber: string;
        readonly notBefore: Date;
        readonly notAfter: Date;
        readonly fingerprintSha256: string;
        readonly chainPem: string;
        readonly keyId: string;
      }
    | undefined;
  /** Expiry status of the current certificate, with thresholds scaled to its lifetime as alerts are (undefined before the first issuance). */
  readonly expiry: ExpiryReport | undefined;
  readonly renewal: {
    readonly phase: string;
    readonly failures: number;
    readonly cause: string | undefined;
    readonly lastError: StepError | undefined;
  };
  readonly nextActionAt: Date | null;
  readonly revision: number;
}

/** What `explain()` says about a certificate's next action. */
export interface Explanation {
  readonly id: string;
  readonly action: 'issue' | 'renew' | 'continue-renewal' | 'retry' | 'poll-order' | 'alert' | 'ask-ca' | 'none';
  readonly at: Date | null;
  /** The rule that produced the time. */
  readonly rule: TimingRule | 'retry-backoff' | 'order-poll' | 'alert-threshold' | 'ca-window-refresh' | 'revoked' | 'initial';
  readonly reason: string;
  /** The renewal plan and each rule that moved it (for certificates that have one). */
  readonly plan: PlannedRenewal | undefined;
}

/** What one `runOnce()` did. */
export interface RunSummary {
  readonly claimed: number;
  readonly renewed: number;
  readonly failed: number;
  readonly alerts: number;
  /** Records another process took over mid-work (harmless; counted for visibility). */
  readonly conflicts: number;
}

/** A dry run's result: the certificate the authority would issue, discarded. */
export interface DryRunResult {
  readonly id: string;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectAltNames: readonly string[];
}

/** The certificate a host asked to act on was replaced before the change could be written. */
function changedMeanwhile(id: string, wanted: string, found: string | undefined): ConflictError {
  return new ConflictError(
    id,
    undefined,
    undefined,
    `the certificate of "${id}" changed meanwhile (serial ${wanted} asked for, ${found ?? 'none'} current): check it and ask again`,
  );
}

function parseName(n: NameInput): { type: 'dns' | 'ip' | 'email' | 'uri'; value: string } {
  if (typeof n !== 'string') return { type: n.type, value: n.value };
  const m = /^(dns|ip|email|uri):(.*)$/i.exec(n);
  if (m) return { type: m[1]!.toLowerCase() as 'dns' | 'ip' | 'email' | 'uri', value: m[2]! };
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(n) || n.includes(':')) return { type: 'ip', value: n };
  if (n.includes('@')) return { type: 'email', value: n };
  return { type: 'dns', value: n };
}


/**
 * The steward: tracks certificates, renews them, and tells the host.
 * Build it with {@link createSteward}.
 */
export class Steward {
  readonly #o: StewardOptions;
  readonly #clock: Clock;
  readonly #owner: string;
  readonly #leaseMs: number;
  /** Records worked on (and so claimed) at once at most: concurrency, capped by batchSize. */
  readonly #lanes: number;
  readonly #poll: number | null;
  readonly #stopGraceMs: number;
  readonly #worker: RenewalWorker;
  readonly #thresholds: ResolvedThresholds;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #events: StewardEmitter;
  #timer: TimerHandle | undefined;
  #running = false;
  /** stop() is waiting for in-flight work: lanes claim nothing more. */
  #stopping = false;
  #tick: Promise<void> | undefined;
  #abort = new AbortController();
  #armGeneration = 0;
  #armedAt = Infinity;
  #wakeAt = Infinity;

  constructor(options: StewardOptions) {
    if (!options.store || !options.keys || !options.authorities) {
      throw new ConfigError('options', undefined, 'createSteward needs { store, authorities, keys }');
    }
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#leaseMs = options.leaseMs ?? 5 * 60_000;
    for (const [name, v] of [['concurrency', options.concurrency], ['batchSize', options.batchSize]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new ConfigError(name, v, `${name} must be an integer ≥ 1, got ${String(v)}`);
    }
    this.#lanes = Math.min(options.batchSize ?? 100, options.concurrency ?? 4);
    this.#poll = options.pollIntervalMs === undefined ? 5 * 60_000 : options.pollIntervalMs;
    this.#stopGraceMs = options.stopGraceMs ?? 30_000;
    this.#thresholds = resolveThresholds(options.thresholds);
    for (const [name, limit] of Object.entries(options.rateLimits ?? {})) {
      if (!(limit.burst >= 1 && limit.perHour > 0)) {
        throw new ConfigError('rateLimits', limit, `rate limit of "${name}" needs burst ≥ 1 and perHour > 0`);
      }
      this.#buckets.set(name, new TokenBucket(limit, this.#clock));
    }
    const issuanceLimits = new Map<string, ResolvedIssuanceLimit[]>();
    for (const [name, limits] of Object.entries(options.issuanceLimits ?? {})) {
      if (!Object.hasOwn(options.authorities, name)) {
        throw new ConfigError('issuanceLimits', name, `issuanceLimits names "${name}", which is not one of the steward's authorities`);
      }
      if (limits.length > 0 && !options.store.reserveIssuance) {
        throw new ConfigError('issuanceLimits', name, 'issuanceLimits need a store with an issuance ledger (reserveIssuance), such as MemoryStore or KnexStore');
      }
      issuanceLimits.set(name, resolveIssuanceLimits(name, limits));
    }
    this.#events = new StewardEmitter(() => this.#clock.now());
    this.#worker = new RenewalWorker({
      store: options.store,
      keys: options.keys,
      authorities: options.authorities,
      clock: this.#clock,
      owner: this.#owner,
      leaseMs: this.#leaseMs,
      thresholds: this.#thresholds,
      expiryThresholds: options.thresholds,
      timing: options.timing,
      retry: options.retry,
      random: options.random,
      hooks: options.hooks,
      buckets: this.#buckets,
      issuanceLimits,
      pollOrderMs: options.pollOrderMs ?? 5_000,
      orderTimeoutMs: options.orderTimeoutMs ?? 3_600_000,
      retryMinMs: parseDuration(options.retry?.min ?? '1m', 'retry min'),
      caWindowCheckMs: options.caWindowCheckMs ?? 6 * 3_600_000,
      signal: () => this.#abort.signal,
      emit: (event, payload) => this.#emit(event, payload),
    });
  }

  /** This process's lease owner name. */
  get owner(): string {
    return this.#owner;
  }

  /** The clock the steward runs on (helpers such as `bindTlsServer` set their timers on it). */
  get clock(): Clock {
    return this.#clock;
  }

  /**
   * Subscribes to an event; returns the function that unsubscribes.
   * @example
   * ```ts
   * const off = steward.on('renewal.failed', e => log.error(e.message, { id: e.id, next: e.nextAttemptAt }))
   * ```
   */
  on<E extends StewardEventName>(event: E, listener: Listener<E>): () => void {
    return this.#events.on(event, listener);
  }

  /** Subscribes for the next occurrence only. */
  once<E extends StewardEventName>(event: E, listener: Listener<E>): () => void {
    return this.#events.once(event, listener);
  }

  #emit<E extends StewardEventName>(event: E, payload: StewardEvents[E]): void {
    this.#events.emit(event, payload);
  }









  /**
   * Starts tracking a certificate. Without `existing`, the first certificate
   * is issued on the next run; with it, the given certificate is adopted and
   * renewed on schedule.
   *
   * @throws {@link ConflictError} when the id is tracked already.
   * @example
   * ```ts
   * await steward.track({ id: 'api', authority: 'local', subjectAltNames: ['api.example.com'], renewal: { before: '30d' } })
   * ```
   */
  async track(input: TrackInput): Promise<CertificateView> {
    const now = this.#clock.now();
    if (!input.id || typeof input.id !== 'string') throw new ConfigError('id', input.id, 'track() needs a non-empty string id');
    this.#worker.authority(input.authority);
    const sans = (input.subjectAltNames ?? (input.commonName ? [input.commonName] : [])).map(parseName);
    if (sans.length === 0 && !input.commonName) {
      throw new ConfigError('subjectAltNames', input.subjectAltNames, `track("${input.id}") needs at least one name`);
    }
    const spec: CertificateSpec = {
      authority: input.authority,
      ...(input.commonName ? { commonName: input.commonName } : {}),
      subjectAltNames: sans,
      key: { algorithm: input.key?.algorithm ?? 'ECDSA-P256', rotate: input.key?.rotate ?? 'always' },
      ...(input.lifetime !== undefined ? { lifetimeMs: parseDuration(input.lifetime, 'lifetime') } : {}),
      ...(input.profile ? { profile: input.profile } : {}),
      ...(input.renewal ? { renewal: input.renewal as Record<string, unknown> } : {}),
    };
    // Validate the timing policy now, not at 3 a.m. on renewal day.
    plannedRenewal({ notBefore: now, notAfter: new Date(now.getTime() + 90 * 86_400_000) }, { ...this.#o.timing, ...input.renewal });
    let current: IssuedCertificate | undefined;
    if (input.existing) {
      const [leaf] = parseCertificates(input.existing.chainPem);
      if (!leaf) throw new ConfigError('existing', undefined, 'existing.chainPem holds no certificate');
      current = {
        chainPem: input.existing.chainPem,
        serialNumber: leaf.serialNumber,
        fingerprintSha256: leaf.fingerprints.sha256,
        notBefore: leaf.notBefore,
        notAfter: leaf.notAfter,
        keyRef: input.existing.keyRef ?? { store: 'none', id: '', algorithm: spec.key.algorithm, spkiSha256: leaf.publicKey.sha256 },
        issuedAt: now,
      };
    }
    const base = {
      id: input.id,
      status: 'active' as const,
      spec,
      labels: { ...(input.labels ?? {}) },
      ...(current ? { current } : {}),
      announced: [] as string[],
    };
    const renewal = current ? IDLE : transition(IDLE, { type: 'start', cause: 'initial', at: now });
    const draft: CertificateRecord = { ...base, renewal, nextActionAt: now, revision: 0, createdAt: now, updatedAt: now };
    const nextActionAt = current ? this.#worker.nextActionAt(draft, now) : now;
    const created = await this.#o.store.create(
      { ...base, renewal, nextActionAt },
      now,
      { audit: [{ certificateId: input.id, at: now, type: 'certificate.tracked', data: { authority: input.authority } }] },
    );
    this.#emit('certificate.tracked', { id: input.id, at: now, authority: input.authority });
    if (!current) this.#emit('renewal.started', { id: input.id, at: now, cause: 'initial', rule: 'initial' });
    this.#wakeBy(created.nextActionAt);
    return this.#view(created, now);
  }

  /**
   * Stops tracking: the record is deleted (its history and audit stay) and the
   * keys it held are destroyed.
   * @throws {@link ConflictError} while another process works on the record.
   */
  async untrack(id: string): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const now = this.#clock.now();
      const rec = await this.#o.store.get(id);
      if (!rec) throw new NotFoundError(id);
      this.#refuseIfBusy(rec, now);
      try {
        await this.#o.store.delete(id, rec.revision);
      } catch (e) {
        if (isCertstewardError(e, 'conflict')) continue;
        throw e;
      }
      this.#emit('certificate.untracked', { id, at: now });
      const history = await this.#o.store.history(id).catch(() => []);
      await this.#worker.destroyKeys(id, [rec.current?.keyRef, rec.renewal.keyRef, ...history.map((h) => h.keyRef)], [], now);
      return;
    }
    throw new ConflictError(id, undefined, undefined, `could not untrack "${id}": it kept changing (another process is working on it)`);
  }

  /** Host calls never write over a record another worker holds: its step would be lost or done twice. */
  #refuseIfBusy(rec: CertificateRecord, now: Date): void {
    if (rec.lease && rec.lease.until.getTime() > now.getTime()) {
      throw new ConflictError(
        rec.id,
        undefined,
        undefined,
        `"${rec.id}" is being worked on by ${rec.lease.owner} until ${rec.lease.until.toISOString()}: try again after that`,
      );
    }
  }

  /**
   * Reads, changes and writes a record, retrying when another writer got there
   * first. `change` returns undefined when there is nothing to write.
   */
  async #mutate(
    id: string,
    change: (rec: CertificateRecord, now: Date) => { record: CertificateRecord; audit?: AuditEvent[] } | undefined,
  ): Promise<{ before: CertificateRecord; after: CertificateRecord }> {
    for (let i = 0; i < 5; i++) {
      const now = this.#clock.now();
      const rec = await this.#o.store.get(id);
      if (!rec) throw new NotFoundError(id);
      const out = change(rec, now);
      if (!out) return { before: rec, after: rec };
      this.#refuseIfBusy(rec, now);
      try {
        const after = await this.#o.store.update(out.record, now, out.audit ? { audit: out.audit } : undefined);
        return { before: rec, after };
      } catch (e) {
        if (!isCertstewardError(e, 'conflict')) throw e;
      }
    }
    throw new ConflictError(id, undefined, undefined, `could not change "${id}": it kept changing (another process is working on it)`);
  }



  /** A tracked certificate, or undefined. */
  async get(id: string): Promise<CertificateView | undefined> {
    const rec = await this.#o.store.get(id);
    return rec ? this.#view(rec, this.#clock.now()) : undefined;
  }

  /** Tracked certificates matching `filter`, ordered by id. */
  async list(filter?: ListFilter): Promise<CertificateView[]> {
    const now = this.#clock.now();
    return (await this.#o.store.list(filter)).map((r) => this.#view(r, now));
  }

  /**
   * The fleet by expiry status: `ok`, `warning`, `critical`, `expired`,
   * `not-yet-valid`, `unknown`, plus `pending` (never issued) and `revoked`,
   * each certificate judged as `get()` judges it (thresholds scaled to short
   * lifetimes). Reads every record; for large fleets use {@link summary},
   * which the store computes.
   */
  async status(): Promise<Record<string, number>> {
    const now = this.#clock.now();
    const counts: Record<string, number> = {};
    const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
    for await (const r of this.#records({})) {
      if (r.status === 'revoked') bump('revoked');
      else if (!r.current) bump('pending');
      else bump(this.#worker.expiry(r.current, now).status);
    }
    return counts;
  }

  /**
   * The fleet by the remaining validity of each active certificate at the
   * steward's fixed thresholds (`thresholds`, default warning 30 days,
   * critical 7 days): `ok`, `warning`, `critical`, `expired`, and `none`
   * (not issued yet). Computed by the store when it can (`countExpiring`:
   * one aggregate in the database on `KnexStore`, no record enters the
   * process), so it is the call for dashboards over large fleets. Unlike
   * {@link status}, thresholds are not scaled to short lifetimes and revoked
   * records are left out.
   *
   * @example
   * ```ts
   * const { expired, critical } = await steward.summary()
   * if (expired + critical > 0) page('certificates need attention')
   * ```
   */
  async summary(): Promise<ExpiryCounts> {
    const now = this.#clock.now();
    const thresholds = { warningMs: this.#thresholds.warningMs, criticalMs: this.#thresholds.criticalMs };
    if (this.#o.store.countExpiring) return this.#o.store.countExpiring(now, thresholds);
    const counts: ExpiryCounts = { ok: 0, warning: 0, critical: 0, expired: 0, none: 0 };
    for await (const r of this.#records({ status: 'active' })) {
      counts[r.current ? expiryBucket(r.current.notAfter.getTime() - now.getTime(), thresholds) : 'none']++;
    }
    return counts;
  }

  /** Every record matching `filter`, read from the store a page of 500 at a time (keyset pagination). */
  async *#records(filter: ListFilter): AsyncGenerator<CertificateRecord> {
    let after: string | undefined;
    for (;;) {
      const page = await this.#o.store.list({ ...filter, limit: 500, ...(after ? { after } : {}) });
      yield* page;
      if (page.length < 500) return;
      after = page[page.length - 1]!.id;
    }
  }

  /** Why and when the steward will next act on `id`. */
  async explain(id: string): Promise<Explanation> {
    const rec = await this.#o.store.get(id);
    if (!rec) throw new NotFoundError(id);
    const plan = this.#worker.plan(rec);
    const at = rec.nextActionAt;
    if (rec.status === 'revoked') {
      return { id, action: 'none', at: null, rule: 'revoked', reason: 'revoked certificates are never renewed', plan };
    }
    const phase = rec.renewal.phase;
    if (phase === 'failed') {
      return {
        id,
        action: 'retry',
        at,
        rule: 'retry-backoff',
        reason: `attempt ${rec.renewal.failures} failed (${rec.renewal.lastError?.kind}: ${rec.renewal.lastError?.message}); retrying after backoff`,
        plan,
      };
    }
    if (phase === 'submitted') {
      return { id, action: 'poll-order', at, rule: 'order-poll', reason: 'the authority is processing the order', plan };
    }
    if (inProgress(phase)) {
      return {
        id,
        action: rec.current ? 'continue-renewal' : 'issue',
        at,
        rule: rec.current ? plan!.rule : 'initial',
        reason: rec.current ? `a renewal is in progress (phase ${phase})` : 'the first certificate is being issued',
        plan,
      };
    }
    if (!plan) return { id, action: 'issue', at, rule: 'initial', reason: 'no certificate yet', plan };
    if (at && at.getTime() < plan.at.getTime()) {
      const alert = nextAlertAt(rec.current!, rec.announced, Math.max(0, at.getTime() - 1), this.#thresholds);
      if (alert !== undefined && alert <= at.getTime()) {
        return { id, action: 'alert', at, rule: 'alert-threshold', reason: 'an expiry alert threshold comes before the renewal', plan };
      }
      return {
        id,
        action: 'ask-ca',
        at,
        rule: 'ca-window-refresh',
        reason: `asks the authority for its renewal window again; the renewal is planned for ${plan.at.toISOString()} (${plan.rule})`,
        plan,
      };
    }
    return { id, action: 'renew', at: plan.at, rule: plan.rule, reason: plan.reason, plan };
  }

  /**
   * Renews now, whatever the schedule says. With `dryRun`, runs a full order
   * with a throwaway key and discards the result (nothing is stored); the
   * order goes to the authority's staging directory when it has one
   * (`AcmeAuthority`'s `staging` option).
   */
  async renewNow(id: string, options: { dryRun: true }): Promise<DryRunResult>;
  async renewNow(id: string, options?: { dryRun?: false }): Promise<CertificateView>;
  async renewNow(id: string, options: { dryRun?: boolean } = {}): Promise<CertificateView | DryRunResult> {
    if (options.dryRun) return this.#worker.dryRun(id);
    await this.#restart(id, 'manual');
    await this.runOnce();
    const view = await this.get(id);
    if (!view) throw new NotFoundError(id);
    return view;
  }

  /**
   * Revokes the current certificate. By default a replacement is issued and
   * activated first, then the old certificate is revoked (no outage). With
   * `reason: 'keyCompromise'` the certificate is revoked at once and the
   * replacement gets a new key whatever the key policy says. With
   * `replace: false` the record is marked revoked and never renewed again.
   */
  async revoke(id: string, reason: RevocationReason = 'unspecified', options: { replace?: boolean } = {}): Promise<void> {
    const rec = await this.#o.store.get(id);
    if (!rec) throw new NotFoundError(id);
    if (!rec.current) throw new ConfigError('id', id, `"${id}" has no certificate to revoke yet`);
    const authority = this.#worker.authority(rec.spec.authority);
    if (!authority.revoke) throw new ConfigError('authority', rec.spec.authority, `authority "${rec.spec.authority}" cannot revoke`);
    const replace = options.replace ?? true;
    const target = rec.current;
    if (replace && reason !== 'keyCompromise') {
      await this.#restart(id, 'replace-before-revoke', { serialNumber: target.serialNumber, reason });
      await this.runOnce();
      return;
    }
    // Record the decision first, then tell the CA: a crash or a conflict in
    // between leaves a record that says what to do, never a revoked
    // certificate still in service with no replacement coming.
    const { before, after } = await this.#mutate(id, (r, now) => {
      if (r.current?.serialNumber !== target.serialNumber) throw changedMeanwhile(id, target.serialNumber, r.current?.serialNumber);
      const audit: AuditEvent[] = [
        { certificateId: id, at: now, type: 'certificate.revocation-requested', data: { serialNumber: target.serialNumber, reason } },
      ];
      if (!replace) {
        return r.status === 'revoked' ? undefined : { record: { ...r, status: 'revoked', nextActionAt: null, lease: undefined }, audit };
      }
      if (inProgress(r.renewal.phase) && r.renewal.cause === 'key-compromise') return undefined;
      const from = inProgress(r.renewal.phase) ? transition(r.renewal, { type: 'cancel' }) : r.renewal;
      return { record: { ...r, renewal: transition(from, { type: 'start', cause: 'key-compromise', at: now }), nextActionAt: now }, audit };
    });
    const now = this.#clock.now();
    if (after.revision !== before.revision && replace) this.#emit('renewal.started', { id, at: now, cause: 'key-compromise', rule: 'key-compromise' });
    await authority.revoke(target.chainPem, reason);
    this.#emit('certificate.revoked', { id, at: now, serialNumber: target.serialNumber, reason });
    if (!replace) {
      const history = await this.#o.store.history(id).catch(() => []);
      await this.#worker.destroyKeys(id, [target.keyRef, before.renewal.keyRef, ...history.map((h) => h.keyRef)], [], now);
    } else if (before.renewal.keyRef && before.renewal.keyRef.id !== target.keyRef.id && after.revision !== before.revision) {
      await this.#worker.destroyKeys(id, [before.renewal.keyRef], [target.keyRef], now);
    }
    this.#rearm();
    if (replace) await this.runOnce();
  }

  async #restart(id: string, cause: RenewalCause, revokeAfter?: { serialNumber: string; reason: string }): Promise<void> {
    const { before, after } = await this.#mutate(id, (rec, now) => {
      if (rec.status === 'revoked') throw new ConfigError('id', id, `"${id}" is revoked; revoked certificates are never renewed`);
      if (revokeAfter && rec.current?.serialNumber !== revokeAfter.serialNumber) {
        throw changedMeanwhile(id, revokeAfter.serialNumber, rec.current?.serialNumber);
      }
      if (inProgress(rec.renewal.phase) && !revokeAfter) {
        // Already renewing: make it due now (a failed attempt waits no longer).
        if (rec.lease && rec.lease.until.getTime() > now.getTime()) return undefined; // being worked on right now
        const renewal = rec.renewal.phase === 'failed' ? { ...rec.renewal, nextAttemptAt: now } : rec.renewal;
        return { record: { ...rec, renewal, nextActionAt: now } };
      }
      const from = inProgress(rec.renewal.phase) ? transition(rec.renewal, { type: 'cancel' }) : rec.renewal;
      const started = transition(from, { type: 'start', cause, at: now });
      return { record: { ...rec, renewal: revokeAfter ? { ...started, revokeAfter } : started, nextActionAt: now } };
    });
    const now = this.#clock.now();
    if (!inProgress(before.renewal.phase) || revokeAfter) {
      this.#emit('renewal.started', { id, at: now, cause, rule: cause });
      // A cancelled renewal's fresh key is no longer needed.
      if (before.renewal.keyRef && after.revision !== before.revision) {
        await this.#worker.destroyKeys(id, [before.renewal.keyRef], [before.current?.keyRef], now);
      }
    }
  }





  /**
   * Claims every record that is due and works on it: expiry alerts, renewal
   * steps, activation. Returns what it did. Safe to call from the host's own
   * cron instead of `start()`.
   */
  async runOnce(): Promise<RunSummary> {
    const summary = await this.#runRounds();
    // Work done outside the loop (a host's cron, renewNow, revoke) may leave an earlier wake-up.
    this.#rearm();
    return summary;
  }

  /**
   * Works through everything due with `concurrency` lanes. A lane that runs
   * out of work claims for every lane that is free at that moment (never
   * more: no lease runs out while its record waits in a queue), so a slow
   * renewal holds up only its own lane, not a whole batch; a claim already
   * in flight is shared by the lanes that free up meanwhile. Stops when a
   * claim comes back short (nothing more is due), when stopping (in-flight
   * records are finished, no more are claimed), or on the
   * first failure of the store, which it rethrows once every lane is done.
   */
  async #runRounds(): Promise<RunSummary> {
    const totals = { claimed: 0, renewed: 0, failed: 0, alerts: 0, conflicts: 0 };
    const queue: CertificateRecord[] = [];
    let free = 0;
    let claims = 0;
    let drained = false;
    let failure: { error: unknown } | undefined;
    let claiming: Promise<void> | undefined;
    const claim = async (): Promise<void> => {
      // Lanes freed in the same turn join this claim (at least the one claiming, at most every lane).
      await Promise.resolve();
      const want = free;
      const got = await this.#o.store.claimDue(this.#clock.now(), this.#owner, this.#leaseMs, want, { signal: this.#abort.signal });
      totals.claimed += got.length;
      queue.push(...got);
      if (got.length < want || ++claims >= 1_000_000) drained = true;
    };
    const lane = async (): Promise<void> => {
      for (;;) {
        const rec = queue.shift();
        if (rec) {
          const r = await this.#worker.work(rec);
          totals.renewed += r.renewed;
          totals.failed += r.failed;
          totals.alerts += r.alerts;
          totals.conflicts += r.conflict;
          continue;
        }
        // Stopping: in-flight work finishes, nothing more is claimed; what is left is due for the next start.
        if (drained || failure || this.#stopping || this.#abort.signal.aborted) return;
        free++;
        try {
          claiming ??= claim().finally(() => (claiming = undefined));
          await claiming;
        } catch (e) {
          failure ??= { error: e };
        } finally {
          free--;
        }
      }
    };
    // batchSize below concurrency caps the lanes, as it always capped the records worked on at once.
    await Promise.all(Array.from({ length: this.#lanes }, lane));
    if (failure && !this.#abort.signal.aborted) throw failure.error;
    return totals;
  }

  /** Starts the steward's own loop: one timer for the whole fleet, set from the earliest due record. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#runTick();
  }

  /**
   * Stops the loop: claims nothing more, waits for the records being worked
   * on (up to `stopGraceMs`, then aborts them; an aborted step is not a
   * failure and is retried later), and leaves no timer behind. What was still
   * due is due at the next start. The steward can be started again.
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopping = true;
    this.#armGeneration++;
    this.#setTimer(Infinity, 0);
    const tick = this.#tick;
    if (tick) {
      const grace = new AbortController();
      // Shutdown has a wall-clock budget (a SIGTERM grace period), also under a simulated clock.
      await Promise.race([tick.catch(() => undefined), systemClock.sleep(this.#stopGraceMs, grace.signal).catch(() => undefined)]);
      grace.abort();
      this.#abort.abort(new CertstewardError('stopped', 'the steward was stopped'));
      await tick.catch(() => undefined);
    }
    this.#abort = new AbortController();
    this.#stopping = false;
  }

  #runTick(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    if (this.#tick) return this.#tick;
    const tick = (async () => {
      try {
        await this.#runRounds();
      } catch (e) {
        this.#emit('error', { at: this.#clock.now(), error: e, message: `a scheduled run failed: ${e instanceof Error ? e.message : String(e)}` });
      } finally {
        this.#tick = undefined;
      }
      await this.#arm();
    })();
    this.#tick = tick;
    return tick;
  }

  async #arm(): Promise<void> {
    if (!this.#running) return;
    // Two arms can overlap (a tick ending while a host call re-arms): the last one started wins.
    const generation = ++this.#armGeneration;
    const now = this.#clock.now().getTime();
    let at: number | undefined;
    try {
      at = (await this.#o.store.nextDueAt())?.getTime();
    } catch (e) {
      this.#emit('error', { at: new Date(now), error: e, message: `could not read the schedule: ${(e as Error).message}` });
      at = now + 60_000;
    }
    if (generation !== this.#armGeneration || !this.#running) return;
    // A record written while the schedule was being read is in #wakeAt.
    at = Math.min(at ?? Infinity, this.#wakeAt);
    if (this.#poll !== null) at = Math.min(at, now + this.#poll);
    this.#setTimer(at, now);
  }

  /** Replaces the loop's one timer (none for an infinite time). */
  #setTimer(at: number, now: number): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#armedAt = Infinity;
    this.#wakeAt = Infinity;
    if (!Number.isFinite(at)) return;
    const firesAt = Math.max(at, now);
    this.#armedAt = firesAt;
    this.#timer = this.#clock.setTimer(new Date(firesAt), () => {
      // Fired: no timer is pending any more until the tick re-arms, and the wake-ups it covered are done.
      this.#timer = undefined;
      this.#armedAt = Infinity;
      if (this.#wakeAt <= firesAt) this.#wakeAt = Infinity;
      return this.#runTick();
    });
  }

  /**
   * Makes sure the loop wakes by `at` (a record this process just wrote),
   * without reading the whole schedule again: tracking a fleet stays linear.
   * While a tick runs or the schedule is being read, the time is kept for the
   * re-arm that follows.
   */
  #wakeBy(at: Date | null): void {
    if (!this.#running || !at) return;
    this.#wakeAt = Math.min(this.#wakeAt, at.getTime());
    if (this.#tick) return;
    if (this.#timer && this.#armedAt <= at.getTime()) return;
    const wakeAt = this.#wakeAt;
    this.#setTimer(at.getTime(), this.#clock.now().getTime());
    this.#wakeAt = wakeAt; // an #arm still reading the schedule must include it too
  }

  /** Re-arms the timer after a local change that may come earlier than the current one. */
  #rearm(): void {
    if (this.#running && !this.#tick) void this.#arm();
  }

  /* ---------------------------------------------------------------- work */





















  /**
   * The current certificate chain and key handle of `id`, for serving TLS.
   * @throws {@link NotFoundError} when the id is unknown or has no certificate yet.
   */
  async tlsMaterial(id: string): Promise<{ chainPem: string; key: KeyHandle; serialNumber: string; notAfter: Date }> {
    const rec = await this.#o.store.get(id);
    if (!rec?.current) throw new NotFoundError(id, rec ? `"${id}" has no certificate yet` : undefined);
    const key = await this.#o.keys.load(rec.current.keyRef);
    return { chainPem: rec.current.chainPem, key, serialNumber: rec.current.serialNumber, notAfter: rec.current.notAfter };
  }



  #view(rec: CertificateRecord, now: Date): CertificateView {
    const c = rec.current;
    return {
      id: rec.id,
      status: rec.status,
      authority: rec.spec.authority,
      labels: rec.labels,
      certificate: c
        ? {
            serialNumber: c.serialNumber,
            notBefore: c.notBefore,
            notAfter: c.notAfter,
            fingerprintSha256: c.fingerprintSha256,
            chainPem: c.chainPem,
            keyId: c.keyRef.id,
          }
        : undefined,
      expiry: c ? this.#worker.expiry(c, now) : undefined,
      renewal: {
        phase: rec.renewal.phase,
        failures: rec.renewal.failures,
        cause: rec.renewal.cause,
        lastError: rec.renewal.lastError,
      },
      nextActionAt: rec.nextActionAt,
      revision: rec.revision,
    };
  }
}

/**
 * Builds a steward from adapters.
 *
 * @example
 * ```ts
 * const steward = createSteward({ store: new MemoryStore(), authorities: { local }, keys: new MemoryKeyStore(), clock })
 * steward.on('renewal.succeeded', e => console.log(e.id, e.notAfter))
 * await steward.track({ id: 'api', authority: 'local', subjectAltNames: ['api.example.test'] })
 * await steward.start()
 * ```
 */
export function createSteward(options: StewardOptions): Steward {
  return new Steward(options);
}
