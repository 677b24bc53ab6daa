/**
 * The composition root: one `Steward` from a store, authorities, a key store
 * and a clock. It tracks certificates, renews them through the renewal state
 * machine, announces expiry, and tells the host through typed events.
 *
 * @module
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import {
  AuthorityError,
  ConfigError,
  ConflictError,
  KeyMismatchError,
  NotFoundError,
  isCertstewardError,
  CertstewardError,
} from '../errors.js';
import { inProgress, transition, IDLE, type RenewalEvent } from '../lifecycle/renewal-machine.js';
import { parseCertificate, parseCertificates } from '../pki/certificate.js';
import { buildCsr } from '../pki/csr.js';
import { keyMatchesCertificate } from '../pki/key-match.js';
import { parseDuration, type Duration } from '../policy/duration.js';
import { expiryStatus, resolveThresholds, type ExpiryReport, type ExpiryThresholds } from '../policy/expiry.js';
import { capBeforeExpiry, retryDelay, type RetryPolicy } from '../policy/retry-delay.js';
import { plannedRenewal, type PlannedRenewal, type TimingPolicy, type TimingRule } from '../policy/timing.js';
import type { CertificateAuthority, IssueRequest, IssueResult, RevocationReason } from '../ports/certificate-authority.js';
import type {
  AuditEvent,
  CertificateRecord,
  CertificateSpec,
  CertificateStore,
  IssuedCertificate,
  ListFilter,
  RenewalCause,
  StepError,
} from '../ports/certificate-store.js';
import type { Clock, TimerHandle } from '../ports/clock.js';
import type { KeyAlgorithm, KeyHandle, KeyRef, KeyStore } from '../ports/key-store.js';
import { dueAlert, effectiveThresholds, nextAlertAt, type ResolvedThresholds } from './alerts.js';
import { StewardEmitter, type Listener } from './emitter.js';
import type { StewardEventName, StewardEvents } from './events.js';
import { systemClock } from './system-clock.js';
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
  /** Records claimed per round at most (default 100; never more than `concurrency`, so leases do not run out in a queue). */
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

const MAX_STEPS_PER_CLAIM = 8;

/** Thrown inside work to stop on a record another process took over. */
class LostLease extends Error {}

function parseName(n: NameInput): { type: 'dns' | 'ip' | 'email' | 'uri'; value: string } {
  if (typeof n !== 'string') return { type: n.type, value: n.value };
  const m = /^(dns|ip|email|uri):(.*)$/i.exec(n);
  if (m) return { type: m[1]!.toLowerCase() as 'dns' | 'ip' | 'email' | 'uri', value: m[2]! };
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(n) || n.includes(':')) return { type: 'ip', value: n };
  if (n.includes('@')) return { type: 'email', value: n };
  return { type: 'dns', value: n };
}

function stepError(e: unknown, at: Date): StepError {
  if (e instanceof AuthorityError) {
    return { kind: `authority-${e.kind}`, message: e.message, retryable: e.retryable, at };
  }
  if (isCertstewardError(e)) {
    return { kind: e.code, message: e.message, retryable: e.code !== 'config', at };
  }
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e), retryable: true, at };
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
  readonly #claimSize: number;
  readonly #concurrency: number;
  readonly #poll: number | null;
  readonly #pollOrderMs: number;
  readonly #orderTimeoutMs: number;
  readonly #stopGraceMs: number;
  readonly #retryMinMs: number;
  readonly #caWindowCheckMs: number;
  readonly #thresholds: ResolvedThresholds;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #events: StewardEmitter;
  #timer: TimerHandle | undefined;
  #running = false;
  #tick: Promise<void> | undefined;
  #abort = new AbortController();
  #armGeneration = 0;
  #armedAt = Infinity;

  constructor(options: StewardOptions) {
    if (!options.store || !options.keys || !options.authorities) {
      throw new ConfigError('options', undefined, 'createSteward needs { store, authorities, keys }');
    }
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#leaseMs = options.leaseMs ?? 5 * 60_000;
    this.#concurrency = Math.max(1, options.concurrency ?? 4);
    this.#claimSize = Math.max(1, Math.min(options.batchSize ?? 100, this.#concurrency));
    this.#poll = options.pollIntervalMs === undefined ? 5 * 60_000 : options.pollIntervalMs;
    this.#pollOrderMs = options.pollOrderMs ?? 5_000;
    this.#orderTimeoutMs = options.orderTimeoutMs ?? 3_600_000;
    this.#stopGraceMs = options.stopGraceMs ?? 30_000;
    this.#retryMinMs = parseDuration(options.retry?.min ?? '1m', 'retry min');
    this.#caWindowCheckMs = options.caWindowCheckMs ?? 6 * 3_600_000;
    this.#thresholds = resolveThresholds(options.thresholds);
    for (const [name, limit] of Object.entries(options.rateLimits ?? {})) {
      if (!(limit.burst >= 1 && limit.perHour > 0)) {
        throw new ConfigError('rateLimits', limit, `rate limit of "${name}" needs burst ≥ 1 and perHour > 0`);
      }
      this.#buckets.set(name, new TokenBucket(limit, this.#clock));
    }
    this.#events = new StewardEmitter(() => this.#clock.now());
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

  #authority(name: string): CertificateAuthority {
    const a = this.#o.authorities[name];
    if (!a) {
      throw new ConfigError(
        'authority',
        name,
        `no authority named "${name}": the steward has ${Object.keys(this.#o.authorities).map((k) => `"${k}"`).join(', ') || 'none'}`,
      );
    }
    return a;
  }

  #timing(rec: CertificateRecord): TimingPolicy {
    return { ...(this.#o.timing ?? {}), ...((rec.spec.renewal as TimingPolicy | undefined) ?? {}) };
  }

  #plan(rec: CertificateRecord): PlannedRenewal | undefined {
    if (!rec.current) return undefined;
    const w = rec.caWindow;
    const suggested = w && w.start && w.end && w.fingerprintSha256 === rec.current.fingerprintSha256 ? { start: w.start, end: w.end } : undefined;
    return plannedRenewal(rec.current, this.#timing(rec), rec.id, suggested);
  }

  /**
   * Asks the authority for its renewal window (ACME ARI) when it offers one
   * and the last answer about this certificate is due for a refresh. The
   * answer is remembered with the certificate it is about; a failure only
   * means asking again later, with the steward's own policy meanwhile.
   */
  async #refreshCaWindow(rec: CertificateRecord, now: Date): Promise<CertificateRecord> {
    const authority = this.#o.authorities[rec.spec.authority];
    const cur = rec.current;
    if (!authority?.renewalInfo || !cur) return rec;
    const w = rec.caWindow;
    if (w && w.fingerprintSha256 === cur.fingerprintSha256 && w.nextCheckAt.getTime() > now.getTime()) return rec;
    const base = { fingerprintSha256: cur.fingerprintSha256, checkedAt: now };
    try {
      const info = await authority.renewalInfo(cur.chainPem, { signal: this.#abort.signal });
      const next = new Date(now.getTime() + Math.max(60_000, info?.retryAfterMs ?? this.#caWindowCheckMs));
      return { ...rec, caWindow: info ? { ...base, start: info.start, end: info.end, nextCheckAt: next } : { ...base, nextCheckAt: next } };
    } catch (e) {
      this.#emit('error', { at: now, id: rec.id, error: e, message: `could not read the renewal window from "${rec.spec.authority}": ${(e as Error).message}` });
      return { ...rec, caWindow: { ...(w?.fingerprintSha256 === cur.fingerprintSha256 ? w : base), checkedAt: now, nextCheckAt: new Date(now.getTime() + this.#caWindowCheckMs) } };
    }
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
    this.#authority(input.authority);
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
    const nextActionAt = current ? this.#nextActionAt(draft, now) : now;
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
      await this.#destroyKeys(id, [rec.current?.keyRef, rec.renewal.keyRef, ...history.map((h) => h.keyRef)], [], now);
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

  /** Destroys the given keys except those still in use; a failure reaches the `error` event. */
  async #destroyKeys(id: string, refs: readonly (KeyRef | undefined)[], keep: readonly (KeyRef | undefined)[], now: Date): Promise<void> {
    const kept = new Set(keep.filter((k): k is KeyRef => !!k).map((k) => `${k.store}:${k.id}`));
    const seen = new Set<string>();
    for (const ref of refs) {
      if (!ref || ref.store === 'none' || ref.store !== this.#o.keys.kind) continue;
      const key = `${ref.store}:${ref.id}`;
      if (kept.has(key) || seen.has(key)) continue;
      seen.add(key);
      try {
        await this.#o.keys.destroy(ref);
        this.#emit('key.destroyed', { id, at: now, keyId: ref.id });
      } catch (e) {
        this.#emit('error', { at: now, id, error: e, message: `could not destroy key ${ref.id}: ${(e as Error).message}` });
      }
    }
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
   * `not-yet-valid`, `unknown`, plus `pending` (never issued) and `revoked`.
   */
  async status(): Promise<Record<string, number>> {
    const now = this.#clock.now();
    const counts: Record<string, number> = {};
    const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
    let after: string | undefined;
    for (;;) {
      const page = await this.#o.store.list({ limit: 500, ...(after ? { after } : {}) });
      for (const r of page) {
        if (r.status === 'revoked') bump('revoked');
        else if (!r.current) bump('pending');
        else bump(this.#expiry(r.current, now).status);
      }
      if (page.length < 500) return counts;
      after = page[page.length - 1]!.id;
    }
  }

  /** Why and when the steward will next act on `id`. */
  async explain(id: string): Promise<Explanation> {
    const rec = await this.#o.store.get(id);
    if (!rec) throw new NotFoundError(id);
    const plan = this.#plan(rec);
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
   * with a throwaway key and discards the result (nothing is stored).
   */
  async renewNow(id: string, options: { dryRun: true }): Promise<DryRunResult>;
  async renewNow(id: string, options?: { dryRun?: false }): Promise<CertificateView>;
  async renewNow(id: string, options: { dryRun?: boolean } = {}): Promise<CertificateView | DryRunResult> {
    if (options.dryRun) return this.#dryRun(id);
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
    const authority = this.#authority(rec.spec.authority);
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
      await this.#destroyKeys(id, [target.keyRef, before.renewal.keyRef, ...history.map((h) => h.keyRef)], [], now);
    } else if (before.renewal.keyRef && before.renewal.keyRef.id !== target.keyRef.id && after.revision !== before.revision) {
      await this.#destroyKeys(id, [before.renewal.keyRef], [target.keyRef], now);
    }
    this.#rearm();
    if (replace) await this.runOnce();
  }

  async #restart(id: string, cause: RenewalCause, revokeAfter?: { serialNumber: string; reason: string }): Promise<void> {
    const { before, after } = await this.#mutate(id, (rec, now) => {
      if (rec.status === 'revoked') throw new ConfigError('id', id, `"${id}" is revoked; revoked certificates are never renewed`);
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
        await this.#destroyKeys(id, [before.renewal.keyRef], [before.current?.keyRef], now);
      }
    }
  }

  async #dryRun(id: string): Promise<DryRunResult> {
    const rec = await this.#o.store.get(id);
    if (!rec) throw new NotFoundError(id);
    const authority = this.#authority(rec.spec.authority);
    const key = await this.#o.keys.generate({ algorithm: rec.spec.key.algorithm, label: `${id}:dry-run` });
    try {
      const request = await this.#request(rec, key);
      let result = await authority.issue(request, { signal: this.#abort.signal });
      for (let i = 0; result.status === 'pending' && i < 60; i++) {
        await this.#clock.sleep(result.retryAfterMs ?? this.#pollOrderMs, this.#abort.signal);
        result = await authority.resume(result.orderRef, request, { signal: this.#abort.signal });
      }
      if (result.status !== 'issued') throw new AuthorityError('unavailable', 'the dry-run order did not complete', { retryable: true });
      const [leaf] = parseCertificates(result.chainPem);
      if (!leaf) throw new AuthorityError('invalid-response', 'the authority returned no certificate', { retryable: true });
      return {
        id,
        serialNumber: leaf.serialNumber,
        notBefore: leaf.notBefore,
        notAfter: leaf.notAfter,
        subjectAltNames: leaf.subjectAltNames.map((n) => `${n.type}:${n.value}`),
      };
    } finally {
      await this.#o.keys.destroy(key.ref).catch(() => undefined);
    }
  }

  async #request(rec: CertificateRecord, key: KeyHandle): Promise<IssueRequest> {
    const csrPem = await buildCsr({
      key,
      ...(rec.spec.commonName ? { commonName: rec.spec.commonName } : {}),
      subjectAltNames: rec.spec.subjectAltNames,
    });
    return {
      id: rec.id,
      csrPem,
      subjectAltNames: rec.spec.subjectAltNames,
      ...(rec.spec.commonName ? { commonName: rec.spec.commonName } : {}),
      ...(rec.spec.lifetimeMs !== undefined ? { lifetimeMs: rec.spec.lifetimeMs } : {}),
      ...(rec.spec.profile ? { profile: rec.spec.profile } : {}),
      key,
      ...(rec.current ? { replaces: rec.current.chainPem } : {}),
    };
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

  async #runRounds(): Promise<RunSummary> {
    const totals = { claimed: 0, renewed: 0, failed: 0, alerts: 0, conflicts: 0 };
    for (let round = 0; round < 1_000_000; round++) {
      const now = this.#clock.now();
      // Claim only what can be worked on at once, so no lease runs out while its record waits in a queue.
      const claimed = await this.#o.store.claimDue(now, this.#owner, this.#leaseMs, this.#claimSize, { signal: this.#abort.signal });
      if (claimed.length === 0) break;
      totals.claimed += claimed.length;
      let next = 0;
      const worker = async () => {
        while (next < claimed.length) {
          const rec = claimed[next++]!;
          const r = await this.#work(rec);
          totals.renewed += r.renewed;
          totals.failed += r.failed;
          totals.alerts += r.alerts;
          totals.conflicts += r.conflict;
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.#concurrency, claimed.length) }, worker));
      if (claimed.length < this.#claimSize) break;
    }
    return totals;
  }

  /** Starts the steward's own loop: one timer for the whole fleet, set from the earliest due record. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#runTick();
  }

  /**
   * Stops the loop: waits for in-flight work (up to `stopGraceMs`, then aborts
   * it; an aborted step is not a failure and is retried later), and leaves no
   * timer behind. The steward can be started again.
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#armGeneration++;
    this.#timer?.cancel();
    this.#timer = undefined;
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
    if (this.#poll !== null) at = Math.min(at ?? Infinity, now + this.#poll);
    this.#timer?.cancel();
    this.#timer = undefined;
    if (at === undefined || !Number.isFinite(at)) return;
    this.#timer = this.#clock.setTimer(new Date(Math.max(at, now)), () => this.#runTick());
    this.#armedAt = Math.max(at, now);
  }

  /**
   * Makes sure the loop wakes by `at` (a record this process just wrote),
   * without reading the whole schedule again: tracking a fleet stays linear.
   */
  #wakeBy(at: Date | null): void {
    if (!this.#running || this.#tick || !at) return;
    if (this.#timer && this.#armedAt <= at.getTime()) return;
    this.#armGeneration++; // a slower #arm in flight must not replace this timer
    this.#timer?.cancel();
    this.#armedAt = at.getTime();
    this.#timer = this.#clock.setTimer(at, () => this.#runTick());
  }

  /** Re-arms the timer after a local change that may come earlier than the current one. */
  #rearm(): void {
    if (this.#running && !this.#tick) void this.#arm();
  }

  /* ---------------------------------------------------------------- work */

  async #write(rec: CertificateRecord, now: Date, audit?: AuditEvent[], archive?: IssuedCertificate): Promise<CertificateRecord> {
    try {
      return await this.#o.store.update(rec, now, { ...(audit ? { audit } : {}), ...(archive ? { archive } : {}) });
    } catch (e) {
      if (isCertstewardError(e, 'conflict')) throw new LostLease(e.message);
      throw e;
    }
  }

  #nextActionAt(rec: CertificateRecord, now: Date): Date | null {
    if (rec.status === 'revoked') return null;
    if (!rec.current) return now;
    const plan = this.#plan(rec)!;
    const alert = nextAlertAt(rec.current, rec.announced, now.getTime(), this.#thresholds);
    // Ask the CA (when it offers windows) about a new certificate at once, then whenever its answer is due for a refresh.
    const asks = !!this.#o.authorities[rec.spec.authority]?.renewalInfo;
    const known = rec.caWindow?.fingerprintSha256 === rec.current.fingerprintSha256;
    const recheck = !asks ? Infinity : known ? rec.caWindow!.nextCheckAt.getTime() : now.getTime();
    const at = Math.min(plan.at.getTime(), alert ?? Infinity, recheck);
    return new Date(Math.max(at, now.getTime()));
  }

  /** The earliest of `at` and the next expiry alert, never before now. */
  #wake(rec: CertificateRecord, at: number, now: Date): Date {
    const alert = rec.current ? nextAlertAt(rec.current, rec.announced, now.getTime(), this.#thresholds) : undefined;
    return new Date(Math.max(now.getTime(), Math.min(at, alert ?? Infinity)));
  }

  async #work(claimed: CertificateRecord): Promise<{ renewed: number; failed: number; alerts: number; conflict: number }> {
    const r = { renewed: 0, failed: 0, alerts: 0, conflict: 0 };
    let rec = claimed;
    let handle: KeyHandle | undefined;
    try {
      for (let step = 0; step < MAX_STEPS_PER_CLAIM; step++) {
        const now = this.#clock.now();
        // Keep the lease while working, so no other process takes the record mid-step.
        if (rec.lease && rec.lease.until.getTime() - now.getTime() < this.#leaseMs / 2) {
          rec = await this.#write({ ...rec, lease: { owner: this.#owner, until: new Date(now.getTime() + this.#leaseMs) } }, now);
        }
        if (rec.status === 'revoked') {
          rec = await this.#write({ ...rec, nextActionAt: null, lease: undefined }, now);
          return r;
        }
        // 1. Expiry alerts, once per threshold per certificate.
        if (rec.current) {
          const due = dueAlert(rec.current, rec.announced, now.getTime(), this.#thresholds);
          if (due) {
            rec = await this.#announce(rec, due.level, due.settle, now);
            r.alerts++;
            continue;
          }
        }
        // 2. A renewal that is due to start.
        if (!inProgress(rec.renewal.phase)) {
          rec = await this.#refreshCaWindow(rec, now);
          const plan = this.#plan(rec);
          if (plan && plan.at.getTime() <= now.getTime()) {
            const renewal = transition(rec.renewal, { type: 'start', cause: 'scheduled', at: now });
            rec = await this.#write({ ...rec, renewal }, now);
            this.#emit('renewal.started', { id: rec.id, at: now, cause: 'scheduled', rule: plan.rule });
            continue;
          }
          rec = await this.#write({ ...rec, nextActionAt: this.#nextActionAt(rec, now), lease: undefined }, now);
          return r;
        }
        // 3. A failed renewal waits for its backoff (alerts may have woken it earlier).
        if (rec.renewal.phase === 'failed') {
          const next = rec.renewal.nextAttemptAt?.getTime() ?? 0;
          if (next > now.getTime()) {
            rec = await this.#write({ ...rec, nextActionAt: this.#wake(rec, next, now), lease: undefined }, now);
            return r;
          }
          rec = { ...rec, renewal: transition(rec.renewal, { type: 'retry' }) };
        }
        // 4. One renewal step.
        const before = rec;
        try {
          const out = await this.#step(rec, handle, now);
          rec = out.rec;
          handle = out.handle;
          if (out.activated) {
            r.renewed++;
            return r;
          }
          if (out.wait) return r;
        } catch (e) {
          if (e instanceof LostLease) throw e;
          if (this.#abort.signal.aborted) {
            // Stopped mid-step: not a failure. Hand the record back as it was.
            rec = await this.#write({ ...before, nextActionAt: now, lease: undefined }, now);
            return r;
          }
          r.failed++;
          rec = await this.#fail(before, e, now);
          return r;
        }
      }
      // Too many steps in one claim: let the next round continue.
      rec = await this.#write({ ...rec, nextActionAt: this.#clock.now(), lease: undefined }, this.#clock.now());
      return r;
    } catch (e) {
      if (e instanceof LostLease) {
        r.conflict++;
        return r;
      }
      this.#emit('error', {
        at: this.#clock.now(),
        id: rec.id,
        error: e,
        message: `work on "${rec.id}" failed: ${e instanceof Error ? e.message : String(e)}`,
      });
      return r;
    }
  }

  async #announce(rec: CertificateRecord, level: 'warning' | 'critical' | 'expired', settle: string[], now: Date): Promise<CertificateRecord> {
    const cur = rec.current!;
    const announced = [...rec.announced.filter((k) => k.startsWith(cur.fingerprintSha256)), ...settle.filter((k) => !rec.announced.includes(k))];
    const audit: AuditEvent[] = [{ certificateId: rec.id, at: now, type: level === 'expired' ? 'certificate.expired' : 'certificate.expiring', data: { level, serialNumber: cur.serialNumber } }];
    const written = await this.#write({ ...rec, announced }, now, audit);
    if (level === 'expired') {
      this.#emit('certificate.expired', {
        id: rec.id,
        at: now,
        notAfter: cur.notAfter,
        serialNumber: cur.serialNumber,
        recovery: inProgress(rec.renewal.phase)
          ? `a renewal is in progress (phase ${rec.renewal.phase}); serve an emergency certificate meanwhile if clients must connect`
          : 'the steward is renewing it now; check renewal.failed events for why earlier attempts failed',
      });
    } else {
      this.#emit('certificate.expiring', {
        id: rec.id,
        at: now,
        level,
        notAfter: cur.notAfter,
        daysRemaining: Math.floor((cur.notAfter.getTime() - now.getTime()) / 86_400_000),
        serialNumber: cur.serialNumber,
      });
    }
    return written;
  }

  async #fail(rec: CertificateRecord, e: unknown, now: Date): Promise<CertificateRecord> {
    const error = stepError(e, now);
    const failures = rec.renewal.failures + 1;
    const retryAfter = e instanceof AuthorityError ? e.retryAfterMs : undefined;
    let delay = Math.max(
      retryAfter ?? 0,
      retryDelay(failures, this.#o.retry, {
        id: rec.id,
        now,
        ...(rec.current ? { notAfter: rec.current.notAfter } : {}),
        ...(this.#o.random ? { random: this.#o.random } : {}),
      }),
    );
    // A CA that says "come back in a week" must not push a retry past expiry either.
    if (rec.current) delay = capBeforeExpiry(delay, now, rec.current.notAfter, this.#retryMinMs);
    const nextAttemptAt = new Date(now.getTime() + delay);
    const renewal = transition(rec.renewal, { type: 'failed', error, nextAttemptAt });
    const audit: AuditEvent[] = [
      { certificateId: rec.id, at: now, type: 'renewal.failed', data: { attempt: renewal.failures, kind: error.kind, message: error.message } },
    ];
    let announced = rec.announced;
    const overdueKey = rec.current ? `${rec.current.fingerprintSha256}:overdue` : undefined;
    const overdue = overdueKey !== undefined && !announced.includes(overdueKey) && rec.renewal.cause === 'scheduled';
    if (overdue) announced = [...announced, overdueKey];
    const next = { ...rec, renewal, announced };
    const written = await this.#write({ ...next, nextActionAt: this.#wake(next, nextAttemptAt.getTime(), now), lease: undefined }, now, audit);
    this.#emit('renewal.failed', {
      id: rec.id,
      at: now,
      attempt: renewal.failures,
      errorKind: error.kind,
      message: error.message,
      retryable: error.retryable,
      nextAttemptAt,
      phase: rec.renewal.phase,
    });
    if (overdue && rec.current) {
      this.#emit('renewal.overdue', { id: rec.id, at: now, renewalAt: this.#plan(rec)!.at, notAfter: rec.current.notAfter });
    }
    return written;
  }

  /** One persisted step of the renewal state machine. */
  async #step(
    rec: CertificateRecord,
    cached: KeyHandle | undefined,
    now: Date,
  ): Promise<{ rec: CertificateRecord; handle: KeyHandle | undefined; activated?: boolean; wait?: boolean }> {
    const authorityName = rec.spec.authority;
    const ev = (e: RenewalEvent) => transition(rec.renewal, e);
    switch (rec.renewal.phase) {
      case 'scheduled': {
        const reuse = rec.spec.key.rotate === 'never' && rec.current && rec.current.keyRef.store !== 'none' && rec.renewal.cause !== 'key-compromise';
        let handle: KeyHandle;
        if (reuse) {
          handle = await this.#o.keys.load(rec.current!.keyRef, { signal: this.#abort.signal });
        } else {
          handle = await this.#o.keys.generate({ algorithm: rec.spec.key.algorithm, label: rec.id }, { signal: this.#abort.signal });
          this.#emit('key.created', { id: rec.id, at: now, keyId: handle.ref.id, algorithm: handle.algorithm });
        }
        let next: CertificateRecord;
        try {
          next = await this.#write({ ...rec, renewal: ev({ type: 'key-ready', keyRef: handle.ref }) }, now);
        } catch (e) {
          // The key was never recorded anywhere: do not leave it behind.
          if (!reuse) await this.#destroyKeys(rec.id, [handle.ref], [], now);
          throw e;
        }
        return { rec: next, handle };
      }
      case 'key-ready':
      case 'submitted': {
        const keyRef = rec.renewal.keyRef!;
        const handle = cached && cached.ref.id === keyRef.id ? cached : await this.#o.keys.load(keyRef, { signal: this.#abort.signal });
        const authority = this.#authority(authorityName);
        let result: IssueResult;
        const request = await this.#request(rec, handle);
        if (rec.renewal.phase === 'key-ready') {
          const bucket = this.#buckets.get(authorityName);
          const wait = bucket?.take() ?? 0;
          if (wait > 0) {
            const next = await this.#write({ ...rec, nextActionAt: this.#wake(rec, now.getTime() + wait, now), lease: undefined }, now);
            return { rec: next, handle, wait: true };
          }
          await this.#o.hooks?.beforeIssue?.({ id: rec.id, spec: rec.spec, cause: rec.renewal.cause });
          result = await authority.issue(request, { signal: this.#abort.signal });
        } else {
          const placed = rec.renewal.submittedAt?.getTime() ?? now.getTime();
          if (now.getTime() - placed > this.#orderTimeoutMs) {
            // Not retryable: the retry places a new order instead of polling this one forever.
            throw new AuthorityError(
              'unavailable',
              `the order placed at ${new Date(placed).toISOString()} did not complete within ${Math.round(this.#orderTimeoutMs / 60_000)} min`,
              { retryable: false },
            );
          }
          result = await authority.resume(rec.renewal.orderRef!, request, { signal: this.#abort.signal });
        }
        if (result.status === 'pending') {
          // Persist the order before anything else relies on it.
          const next = await this.#write(
            {
              ...rec,
              renewal: ev({ type: 'submitted', orderRef: result.orderRef, at: now }),
              nextActionAt: this.#wake(rec, now.getTime() + (result.retryAfterMs ?? this.#pollOrderMs), now),
              lease: undefined,
            },
            now,
          );
          return { rec: next, handle, wait: true };
        }
        const issued = await this.#verifyIssued(result.chainPem, handle, keyRef, now);
        const next = await this.#write({ ...rec, renewal: ev({ type: 'issued', issued }) }, now);
        return { rec: next, handle };
      }
      case 'issued':
        return { rec: await this.#activate(rec, now), handle: cached, activated: true };
      default:
        throw new ConfigError('phase', rec.renewal.phase, `renewal of "${rec.id}" is in phase ${rec.renewal.phase}, which has no step`);
    }
  }

  async #verifyIssued(chainPem: string, handle: KeyHandle, keyRef: KeyRef, now: Date): Promise<IssuedCertificate> {
    let leaf;
    try {
      leaf = parseCertificate(chainPem);
    } catch (e) {
      throw new AuthorityError('invalid-response', `the authority returned an unreadable chain: ${(e as Error).message}`, { retryable: true, cause: e });
    }
    // The key store records each key's SPKI fingerprint; without one, compare the keys themselves.
    const matches = keyRef.spkiSha256
      ? keyRef.spkiSha256 === leaf.publicKey.sha256
      : await keyMatchesCertificate(handle.publicKey, leaf, { crypto: handle.crypto });
    if (!matches) {
      throw new AuthorityError('invalid-response', 'the authority returned a certificate for another key', {
        retryable: true,
        cause: new KeyMismatchError(leaf.fingerprints.sha256, 'wrong key for certificate'),
      });
    }
    return {
      chainPem,
      serialNumber: leaf.serialNumber,
      fingerprintSha256: leaf.fingerprints.sha256,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      keyRef,
      issuedAt: now,
    };
  }

  async #activate(rec: CertificateRecord, now: Date): Promise<CertificateRecord> {
    const issued = rec.renewal.issued!;
    const previous = rec.current;
    const revokeAfter = rec.renewal.revokeAfter;
    const renewal = transition(rec.renewal, { type: 'activated' });
    const draft: CertificateRecord = {
      ...rec,
      current: issued,
      renewal,
      announced: [],
    };
    const audit: AuditEvent[] = [
      {
        certificateId: rec.id,
        at: now,
        type: 'renewal.succeeded',
        data: { serialNumber: issued.serialNumber, notAfter: issued.notAfter.toISOString(), previousSerialNumber: previous?.serialNumber ?? null },
      },
    ];
    const written = await this.#write({ ...draft, nextActionAt: this.#nextActionAt(draft, now), lease: undefined }, now, audit, previous);
    const keyRotated = !previous || previous.keyRef.id !== issued.keyRef.id;
    this.#emit('renewal.succeeded', {
      id: rec.id,
      at: now,
      serialNumber: issued.serialNumber,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      previousSerialNumber: previous?.serialNumber,
      chainPem: issued.chainPem,
      keyRotated,
    });
    if (keyRotated) {
      this.#emit('key.activated', { id: rec.id, at: now, keyId: issued.keyRef.id });
      if (previous && previous.keyRef.store !== 'none') {
        this.#emit('key.retiring', { id: rec.id, at: now, keyId: previous.keyRef.id });
      }
    }
    if (revokeAfter && previous) {
      try {
        await this.#authority(rec.spec.authority).revoke?.(previous.chainPem, revokeAfter.reason as RevocationReason);
        this.#emit('certificate.revoked', { id: rec.id, at: now, serialNumber: previous.serialNumber, reason: revokeAfter.reason });
      } catch (e) {
        this.#emit('error', { at: now, id: rec.id, error: e, message: `the replaced certificate ${previous.serialNumber} could not be revoked: ${(e as Error).message}` });
      }
    }
    await this.#retireOldKeys(rec.id, issued, previous, rec.renewal.cause, now);
    return written;
  }

  /**
   * After an activation, destroys the key that has just aged out (two
   * generations back): the previous key stays for servers still using it,
   * unless it was compromised. A destroy that fails is reported on `error`.
   */
  async #retireOldKeys(
    id: string,
    issued: IssuedCertificate,
    previous: IssuedCertificate | undefined,
    cause: RenewalCause | undefined,
    now: Date,
  ): Promise<void> {
    const history = await this.#o.store.history(id);
    const aged = cause === 'key-compromise' ? [history[1]?.keyRef, previous?.keyRef] : [history[1]?.keyRef];
    const keep = cause === 'key-compromise' ? [issued.keyRef] : [issued.keyRef, previous?.keyRef];
    const retiring = aged.filter((k): k is KeyRef => !!k && k.store === this.#o.keys.kind && !keep.some((x) => x?.id === k.id));
    for (const ref of retiring) this.#emit('key.retired', { id, at: now, keyId: ref.id });
    await this.#destroyKeys(id, retiring, keep, now);
  }

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

  /** Expiry status with the thresholds scaled to the certificate's lifetime, as alerts use them. */
  #expiry(cert: IssuedCertificate, now: Date): ExpiryReport {
    const t = effectiveThresholds(cert, this.#thresholds);
    return expiryStatus(cert, now, { warning: t.warningMs, critical: t.criticalMs });
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
      expiry: c ? this.#expiry(c, now) : undefined,
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
