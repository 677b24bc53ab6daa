/**
 * The renewal worker: what the steward does with one claimed record — expiry
 * alerts, the CA's renewal window, one persisted renewal step at a time,
 * failures with backoff, activation and key retirement. The `Steward` owns the
 * loop, the leases it claims and the public API; this file owns the work.
 *
 * @module
 */
import { AuthorityError, ConfigError, KeyMismatchError, NotFoundError, isCertstewardError } from '../errors.js';
import { inProgress, transition, type RenewalEvent } from '../lifecycle/renewal-machine.js';
import { parseCertificate, parseCertificates } from '../pki/certificate.js';
import { buildCsr } from '../pki/csr.js';
import { keyMatchesCertificate } from '../pki/key-match.js';
import { expiryStatus, type ExpiryReport, type ExpiryThresholds } from '../policy/expiry.js';
import { issuanceBuckets, type ResolvedIssuanceLimit } from '../policy/issuance-limits.js';
import { capBeforeExpiry, retryDelay, type RetryPolicy } from '../policy/retry-delay.js';
import { plannedRenewal, type PlannedRenewal, type TimingPolicy } from '../policy/timing.js';
import type { CertificateAuthority, IssueRequest, IssueResult, RevocationReason } from '../ports/certificate-authority.js';
import type { AuditEvent, CertificateRecord, CertificateStore, IssuedCertificate, RenewalCause, StepError } from '../ports/certificate-store.js';
import type { Clock } from '../ports/clock.js';
import type { KeyHandle, KeyRef, KeyStore } from '../ports/key-store.js';
import { dueAlert, effectiveThresholds, nextAlertAt, type ResolvedThresholds } from './alerts.js';
import type { StewardEventName, StewardEvents } from './events.js';
import type { DryRunResult, StewardHooks } from './steward.js';
import type { TokenBucket } from './token-bucket.js';

/** Everything the worker needs from the steward that owns it. */
export interface WorkerContext {
  readonly store: CertificateStore;
  readonly keys: KeyStore;
  readonly authorities: Readonly<Record<string, CertificateAuthority>>;
  readonly clock: Clock;
  readonly owner: string;
  readonly leaseMs: number;
  readonly thresholds: ResolvedThresholds;
  readonly expiryThresholds: ExpiryThresholds | undefined;
  readonly timing: TimingPolicy | undefined;
  readonly retry: RetryPolicy | undefined;
  readonly random: (() => number) | undefined;
  readonly hooks: StewardHooks | undefined;
  readonly buckets: ReadonlyMap<string, TokenBucket>;
  readonly issuanceLimits: ReadonlyMap<string, readonly ResolvedIssuanceLimit[]>;
  readonly pollOrderMs: number;
  readonly orderTimeoutMs: number;
  readonly retryMinMs: number;
  readonly caWindowCheckMs: number;
  /** The signal of the steward's current run (aborted by `stop()`). */
  signal(): AbortSignal;
  emit<E extends StewardEventName>(event: E, payload: StewardEvents[E]): void;
}

/** What working on one claimed record did. */
export interface WorkResult {
  renewed: number;
  failed: number;
  alerts: number;
  conflict: number;
}

const MAX_STEPS_PER_CLAIM = 8;

/** Thrown inside work to stop on a record another process took over. */
class LostLease extends Error {}

function stepError(e: unknown, at: Date): StepError {
  if (e instanceof AuthorityError) {
    return { kind: `authority-${e.kind}`, message: e.message, retryable: e.retryable, at };
  }

  if (isCertstewardError(e)) {
    return { kind: e.code, message: e.message, retryable: e.code !== 'config', at };
  }

  return { kind: 'internal', message: e instanceof Error ? e.message : String(e), retryable: true, at };
}

/** Works on claimed records for one steward. */
export class RenewalWorker {
  readonly #c: WorkerContext;

  constructor(context: WorkerContext) {
    this.#c = context;
  }

  authority(name: string): CertificateAuthority {
    const a = this.#c.authorities[name];
    if (!a) {
      throw new ConfigError(
        'authority',
        name,
        `no authority named "${name}": the steward has ${Object.keys(this.#c.authorities).map((k) => `"${k}"`).join(', ') || 'none'}`,
      );
    }
    return a;
  }

  #timing(rec: CertificateRecord): TimingPolicy {
    return { ...(this.#c.timing ?? {}), ...((rec.spec.renewal as TimingPolicy | undefined) ?? {}) };
  }

  plan(rec: CertificateRecord): PlannedRenewal | undefined {
    if (!rec.current) return undefined;
    const w = rec.caWindow;
    // A window counts only for the certificate it was given for, and only if it opened after that
    // certificate was issued: a certificate issued inside a window is the answer to it, so a CA that
    // keeps repeating the window (a stale answer) never makes the steward issue again and again.
    const suggested =
      w && w.start && w.end && w.fingerprintSha256 === rec.current.fingerprintSha256 && w.start.getTime() > rec.current.notBefore.getTime()
        ? { start: w.start, end: w.end }
        : undefined;
    return plannedRenewal(rec.current, this.#timing(rec), rec.id, suggested);
  }

  /**
   * Asks the authority for its renewal window (ACME ARI) when it offers one
   * and the last answer about this certificate is due for a refresh. The
   * answer is remembered with the certificate it is about; a failure only
   * means asking again later, with the steward's own policy meanwhile.
   */
  async #refreshCaWindow(rec: CertificateRecord, now: Date): Promise<CertificateRecord> {
    const authority = this.#c.authorities[rec.spec.authority];
    const cur = rec.current;
    if (!authority?.renewalInfo || !cur) return rec;
    const w = rec.caWindow;
    if (w && w.fingerprintSha256 === cur.fingerprintSha256 && w.nextCheckAt.getTime() > now.getTime()) return rec;
    const base = { fingerprintSha256: cur.fingerprintSha256, checkedAt: now };
    try {
      const info = await authority.renewalInfo(cur.chainPem, { signal: this.#c.signal() });
      // The CA's Retry-After, between a minute and a day (RFC 9773 §4.3): a longer one would hide a
      // mass-revocation window, which is what asking the CA is for.
      const ca = info?.retryAfterMs;
      const next = new Date(now.getTime() + (ca === undefined ? this.#c.caWindowCheckMs : Math.min(86_400_000, Math.max(60_000, ca))));
      return { ...rec, caWindow: info ? { ...base, start: info.start, end: info.end, nextCheckAt: next } : { ...base, nextCheckAt: next } };
    } catch (e) {
      if (this.#c.signal().aborted) return rec; // stopped: not the CA's fault, ask again on the next run
      this.#c.emit('error', { at: now, id: rec.id, error: e, message: `could not read the renewal window from "${rec.spec.authority}": ${(e as Error).message}` });
      return { ...rec, caWindow: { ...(w?.fingerprintSha256 === cur.fingerprintSha256 ? w : base), checkedAt: now, nextCheckAt: new Date(now.getTime() + this.#c.caWindowCheckMs) } };
    }
  }

  /** Destroys the given keys except those still in use; a failure reaches the `error` event. */
  async destroyKeys(id: string, refs: readonly (KeyRef | undefined)[], keep: readonly (KeyRef | undefined)[], now: Date): Promise<void> {
    const kept = new Set(keep.filter((k): k is KeyRef => !!k).map((k) => `${k.store}:${k.id}`));
    const seen = new Set<string>();
    for (const ref of refs) {
      if (!ref || ref.store === 'none' || ref.store !== this.#c.keys.kind) continue;
      const key = `${ref.store}:${ref.id}`;
      if (kept.has(key) || seen.has(key)) continue;
      seen.add(key);
      try {
        await this.#c.keys.destroy(ref);
        this.#c.emit('key.destroyed', { id, at: now, keyId: ref.id });
      } catch (e) {
        this.#c.emit('error', { at: now, id, error: e, message: `could not destroy key ${ref.id}: ${(e as Error).message}` });
      }
    }
  }

  async dryRun(id: string): Promise<DryRunResult> {
    const rec = await this.#c.store.get(id);
    if (!rec) throw new NotFoundError(id);
    const production = this.authority(rec.spec.authority);
    const authority = production.staging ? await production.staging() : production;
    const key = await this.#c.keys.generate({ algorithm: rec.spec.key.algorithm, label: `${id}:dry-run` });
    try {
      const request = await this.request(rec, key);
      let result = await authority.issue(request, { signal: this.#c.signal() });
      for (let i = 0; result.status === 'pending' && i < 60; i++) {
        await this.#c.clock.sleep(result.retryAfterMs ?? this.#c.pollOrderMs, this.#c.signal());
        result = await authority.resume(result.orderRef, request, { signal: this.#c.signal() });
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
      await this.#c.keys.destroy(key.ref).catch(() => undefined);
    }
  }

  async request(rec: CertificateRecord, key: KeyHandle): Promise<IssueRequest> {
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
      // After a key-compromise revocation the current certificate is revoked: it can no longer authenticate a
      // renewal (Fabric CA re-enrollment), so the authority issues as for a certificate that was lost.
      ...(rec.current && rec.renewal.cause !== 'key-compromise' ? { replaces: rec.current.chainPem, currentKey: () => this.#currentKey(rec) } : {}),
    };
  }

  /** The current certificate's key, when this steward's key store holds it. */
  async #currentKey(rec: CertificateRecord): Promise<KeyHandle | undefined> {
    const ref = rec.current?.keyRef;
    if (!ref || ref.store === 'none' || ref.store !== this.#c.keys.kind) return undefined;
    try {
      return await this.#c.keys.load(ref, { signal: this.#c.signal() });
    } catch (e) {
      // A key that is gone (destroyed, sealed under a dropped KEK) is "not held": the authority takes its recovery path.
      if (isCertstewardError(e, 'key-store') && ['not-found', 'wrong-kek', 'corrupt'].includes(e.reason)) return undefined;
      throw e;
    }
  }

  async #write(rec: CertificateRecord, now: Date, audit?: AuditEvent[], archive?: IssuedCertificate): Promise<CertificateRecord> {
    try {
      return await this.#c.store.update(rec, now, { ...(audit ? { audit } : {}), ...(archive ? { archive } : {}) });
    } catch (e) {
      if (isCertstewardError(e, 'conflict')) throw new LostLease(e.message);
      throw e;
    }
  }

  nextActionAt(rec: CertificateRecord, now: Date): Date | null {
    if (rec.status === 'revoked') return null;
    if (!rec.current) return now;
    const plan = this.plan(rec)!;
    // Ask the CA (when it offers windows) about a new certificate at once, then whenever its answer is due for a refresh.
    const asks = !!this.#c.authorities[rec.spec.authority]?.renewalInfo;
    const known = rec.caWindow?.fingerprintSha256 === rec.current.fingerprintSha256;
    const recheck = !asks ? Infinity : known ? rec.caWindow!.nextCheckAt.getTime() : now.getTime();
    return this.#wake(rec, Math.min(plan.at.getTime(), recheck), now);
  }

  /** The earliest of `at` and the next expiry alert, never before now. */
  #wake(rec: CertificateRecord, at: number, now: Date): Date {
    const alert = rec.current ? nextAlertAt(rec.current, rec.announced, now.getTime(), this.#c.thresholds) : undefined;
    return new Date(Math.max(now.getTime(), Math.min(at, alert ?? Infinity)));
  }

  async work(claimed: CertificateRecord): Promise<{ renewed: number; failed: number; alerts: number; conflict: number }> {
    const r = { renewed: 0, failed: 0, alerts: 0, conflict: 0 };
    let rec = claimed;
    let handle: KeyHandle | undefined;
    try {
      for (let step = 0; step < MAX_STEPS_PER_CLAIM; step++) {
        const now = this.#c.clock.now();
        // Keep the lease while working, so no other process takes the record mid-step.
        if (rec.lease && rec.lease.until.getTime() - now.getTime() < this.#c.leaseMs / 2) {
          rec = await this.#write({ ...rec, lease: { owner: this.#c.owner, until: new Date(now.getTime() + this.#c.leaseMs) } }, now);
        }
        if (rec.status === 'revoked') {
          rec = await this.#write({ ...rec, nextActionAt: null, lease: undefined }, now);
          return r;
        }
        // 1. Expiry alerts, once per threshold per certificate.
        if (rec.current) {
          const due = dueAlert(rec.current, rec.announced, now.getTime(), this.#c.thresholds);
          if (due) {
            rec = await this.#announce(rec, due.level, due.settle, now);
            r.alerts++;
            continue;
          }
        }
        // 2. A renewal that is due to start.
        if (!inProgress(rec.renewal.phase)) {
          rec = await this.#refreshCaWindow(rec, now);
          const plan = this.plan(rec);
          if (plan && plan.at.getTime() <= now.getTime()) {
            const renewal = transition(rec.renewal, { type: 'start', cause: 'scheduled', at: now });
            rec = await this.#write({ ...rec, renewal }, now);
            this.#c.emit('renewal.started', { id: rec.id, at: now, cause: 'scheduled', rule: plan.rule });
            continue;
          }
          rec = await this.#write({ ...rec, nextActionAt: this.nextActionAt(rec, now), lease: undefined }, now);
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
          if (this.#c.signal().aborted) {
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
      rec = await this.#write({ ...rec, nextActionAt: this.#c.clock.now(), lease: undefined }, this.#c.clock.now());
      return r;
    } catch (e) {
      if (e instanceof LostLease) {
        r.conflict++;
        return r;
      }
      this.#c.emit('error', {
        at: this.#c.clock.now(),
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
      this.#c.emit('certificate.expired', {
        id: rec.id,
        at: now,
        notAfter: cur.notAfter,
        serialNumber: cur.serialNumber,
        recovery: inProgress(rec.renewal.phase)
          ? `a renewal is in progress (phase ${rec.renewal.phase}); serve an emergency certificate meanwhile if clients must connect`
          : 'the steward is renewing it now; check renewal.failed events for why earlier attempts failed',
      });
    } else {
      this.#c.emit('certificate.expiring', {
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
      retryDelay(failures, this.#c.retry, {
        id: rec.id,
        now,
        ...(rec.current ? { notAfter: rec.current.notAfter } : {}),
        ...(this.#c.random ? { random: this.#c.random } : {}),
      }),
    );
    // A CA that says "come back in a week" must not push a retry past expiry either.
    if (rec.current) delay = capBeforeExpiry(delay, now, rec.current.notAfter, this.#c.retryMinMs);
    const nextAttemptAt = new Date(now.getTime() + delay);
    const renewal = transition(rec.renewal, { type: 'failed', error, nextAttemptAt });
    const audit: AuditEvent[] = [
      { certificateId: rec.id, at: now, type: 'renewal.failed', data: { attempt: renewal.failures, kind: error.kind, message: error.message } },
    ];
    let announced = rec.announced;
    const overdueKey = rec.current ? `${rec.current.fingerprintSha256}:overdue` : undefined;
    const overdue = overdueKey !== undefined && !announced.includes(overdueKey) && rec.renewal.cause === 'scheduled';
    if (overdue) announced = [...announced, overdueKey];
    // The authority refused the current certificate as revoked, and this steward did not revoke it: it is never
    // renewed again (retrying could only succeed through a recovery path once it expires).
    const revokedAtAuthority = e instanceof AuthorityError && e.kind === 'revoked' && rec.current !== undefined && rec.renewal.cause !== 'key-compromise';
    if (revokedAtAuthority) {
      audit.push({ certificateId: rec.id, at: now, type: 'certificate.revoked', data: { serialNumber: rec.current!.serialNumber, reason: 'revoked at the authority' } });
    }
    const next = { ...rec, renewal, announced, ...(revokedAtAuthority ? { status: 'revoked' as const } : {}) };
    const written = await this.#write(
      { ...next, nextActionAt: revokedAtAuthority ? null : this.#wake(next, nextAttemptAt.getTime(), now), lease: undefined },
      now,
      audit,
    );
    this.#c.emit('renewal.failed', {
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
      this.#c.emit('renewal.overdue', { id: rec.id, at: now, renewalAt: this.plan(rec)!.at, notAfter: rec.current.notAfter });
    }
    if (revokedAtAuthority) {
      this.#c.emit('certificate.revoked', { id: rec.id, at: now, serialNumber: rec.current!.serialNumber, reason: 'revoked at the authority' });
      await this.destroyKeys(rec.id, [rec.renewal.keyRef], [rec.current!.keyRef], now);
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
          handle = await this.#c.keys.load(rec.current!.keyRef, { signal: this.#c.signal() });
        } else {
          handle = await this.#c.keys.generate({ algorithm: rec.spec.key.algorithm, label: rec.id }, { signal: this.#c.signal() });
          this.#c.emit('key.created', { id: rec.id, at: now, keyId: handle.ref.id, algorithm: handle.algorithm });
        }
        let next: CertificateRecord;
        try {
          next = await this.#write({ ...rec, renewal: ev({ type: 'key-ready', keyRef: handle.ref }) }, now);
        } catch (e) {
          // The key was never recorded anywhere: do not leave it behind.
          if (!reuse) await this.destroyKeys(rec.id, [handle.ref], [], now);
          throw e;
        }
        return { rec: next, handle };
      }
      case 'key-ready':
      case 'submitted': {
        const keyRef = rec.renewal.keyRef!;
        const handle = cached && cached.ref.id === keyRef.id ? cached : await this.#c.keys.load(keyRef, { signal: this.#c.signal() });
        const authority = this.authority(authorityName);
        let result: IssueResult;
        const request = await this.request(rec, handle);
        if (rec.renewal.phase === 'key-ready') {
          const bucket = this.#c.buckets.get(authorityName);
          const wait = bucket?.take() ?? 0;
          if (wait > 0) {
            const next = await this.#write({ ...rec, nextActionAt: this.#wake(rec, now.getTime() + wait, now), lease: undefined }, now);
            return { rec: next, handle, wait: true };
          }
          await this.#c.hooks?.beforeIssue?.({ id: rec.id, spec: rec.spec, cause: rec.renewal.cause });
          const deferred = await this.#reserveIssuance(rec, now);
          if (deferred) return { rec: deferred, handle, wait: true };
          result = await authority.issue(request, { signal: this.#c.signal() });
        } else {
          const placed = rec.renewal.submittedAt?.getTime() ?? now.getTime();
          if (now.getTime() - placed > this.#c.orderTimeoutMs) {
            // Not retryable: the retry places a new order instead of polling this one forever.
            throw new AuthorityError(
              'unavailable',
              `the order placed at ${new Date(placed).toISOString()} did not complete within ${Math.round(this.#c.orderTimeoutMs / 60_000)} min`,
              { retryable: false },
            );
          }
          result = await authority.resume(rec.renewal.orderRef!, request, { signal: this.#c.signal() });
        }
        if (result.status === 'pending') {
          // Persist the order before anything else relies on it.
          const delay = result.retryAfterMs ?? this.#c.pollOrderMs;
          // "Come back now" for an order just placed (ACME): keep the lease and continue in this claim, so
          // a fresh order is not queued behind every record that fell due before it. Polling an order that
          // is already placed always waits (a CA answering Retry-After: 0 must not be called in a loop).
          const continueNow = delay <= 0 && rec.renewal.phase === 'key-ready';
          const next = await this.#write(
            {
              ...rec,
              renewal: ev({ type: 'submitted', orderRef: result.orderRef, at: now }),
              nextActionAt: this.#wake(rec, now.getTime() + delay, now),
              ...(continueNow ? {} : { lease: undefined }),
            },
            now,
          );
          return { rec: next, handle, wait: !continueNow };
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

  /**
   * Counts the order in the shared issuance ledger when the authority has
   * published limits; when one is full, defers the renewal to the moment it
   * has room and returns the record so written (undefined: go ahead).
   */
  async #reserveIssuance(rec: CertificateRecord, now: Date): Promise<CertificateRecord | undefined> {
    const limits = this.#c.issuanceLimits.get(rec.spec.authority);
    const ledger = this.#c.store;
    if (!limits || limits.length === 0 || !ledger.reserveIssuance) return undefined;
    const buckets = issuanceBuckets(rec.spec.authority, limits, rec.spec);
    // Near expiry the emergency rule beats the ledger: ordering is the only way left to stay valid.
    const latest = this.plan(rec)?.latest.getTime();
    if (latest !== undefined && now.getTime() >= latest) return undefined;
    const decision = await ledger.reserveIssuance({ certificateId: rec.id, buckets }, now, { signal: this.#c.signal() });
    if (decision.granted) return undefined;
    const limit = limits[buckets.findIndex((b) => b.key === decision.bucket)]?.name ?? decision.bucket;
    // Never deferred past the emergency point: there the order is placed whatever the ledger says.
    const retryAt = latest !== undefined ? Math.min(decision.retryAt.getTime(), latest) : decision.retryAt.getTime();
    const audit: AuditEvent[] = [
      { certificateId: rec.id, at: now, type: 'renewal.deferred', data: { limit, retryAt: new Date(retryAt).toISOString() } },
    ];
    const written = await this.#write({ ...rec, nextActionAt: this.#wake(rec, retryAt, now), lease: undefined }, now, audit);
    this.#c.emit('renewal.deferred', { id: rec.id, at: now, limit, retryAt: new Date(retryAt) });
    return written;
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
    const written = await this.#write({ ...draft, nextActionAt: this.nextActionAt(draft, now), lease: undefined }, now, audit, previous);
    const keyRotated = !previous || previous.keyRef.id !== issued.keyRef.id;
    this.#c.emit('renewal.succeeded', {
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
      this.#c.emit('key.activated', { id: rec.id, at: now, keyId: issued.keyRef.id });
      if (previous && previous.keyRef.store !== 'none') {
        this.#c.emit('key.retiring', { id: rec.id, at: now, keyId: previous.keyRef.id });
      }
    }
    if (revokeAfter) {
      // Revoke exactly the certificate the host named: the previous one, or an older one in history.
      const target =
        previous?.serialNumber === revokeAfter.serialNumber
          ? previous
          : (await this.#c.store.history(rec.id).catch(() => [])).find((h) => h.serialNumber === revokeAfter.serialNumber);
      if (target) {
        try {
          await this.authority(rec.spec.authority).revoke?.(target.chainPem, revokeAfter.reason as RevocationReason);
          this.#c.emit('certificate.revoked', { id: rec.id, at: now, serialNumber: target.serialNumber, reason: revokeAfter.reason });
        } catch (e) {
          this.#c.emit('error', { at: now, id: rec.id, error: e, message: `the replaced certificate ${target.serialNumber} could not be revoked: ${(e as Error).message}` });
        }
      } else {
        this.#c.emit('error', { at: now, id: rec.id, error: undefined, message: `certificate ${revokeAfter.serialNumber} was not found to revoke after its replacement` });
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
    const history = await this.#c.store.history(id);
    const aged = cause === 'key-compromise' ? [history[1]?.keyRef, previous?.keyRef] : [history[1]?.keyRef];
    const keep = cause === 'key-compromise' ? [issued.keyRef] : [issued.keyRef, previous?.keyRef];
    const retiring = aged.filter((k): k is KeyRef => !!k && k.store === this.#c.keys.kind && !keep.some((x) => x?.id === k.id));
    for (const ref of retiring) this.#c.emit('key.retired', { id, at: now, keyId: ref.id });
    await this.destroyKeys(id, retiring, keep, now);
  }

  /** Expiry status with the thresholds scaled to the certificate's lifetime, as alerts use them. */
  expiry(cert: IssuedCertificate, now: Date): ExpiryReport {
    const t = effectiveThresholds(cert, this.#c.thresholds);
    return expiryStatus(cert, now, { warning: t.warningMs, critical: t.criticalMs });
  }
}
