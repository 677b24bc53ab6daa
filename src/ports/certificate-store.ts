/**
 * The durable home of tracked certificates.
 *
 * @module
 */
import type { KeyAlgorithm, KeyRef } from './key-store.js';

/** Phases of one renewal attempt (see the lifecycle diagram in the README). */
export type RenewalPhase =
  | 'idle'
  | 'scheduled'
  | 'key-ready'
  | 'submitted'
  | 'issued'
  | 'activated'
  | 'failed'
  | 'cancelled';

/** A certificate the steward holds, with the reference to its key. */
export interface IssuedCertificate {
  /** Leaf first, then intermediates, PEM. */
  readonly chainPem: string;
  readonly serialNumber: string;
  readonly fingerprintSha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly keyRef: KeyRef;
  readonly issuedAt: Date;
}

/** What was wrong the last time a step failed. */
export interface StepError {
  /** A stable kind: `authority-refused`, `authority-unavailable`, `rate-limited`, `key-store`, `invalid-response`, `internal`. */
  readonly kind: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly at: Date;
}

/** Why a renewal started. */
export type RenewalCause = 'initial' | 'scheduled' | 'manual' | 'replace-before-revoke' | 'key-compromise' | 'emergency';

/** The persisted state of the renewal in progress (or `idle`). */
export interface RenewalState {
  readonly phase: RenewalPhase;
  readonly cause?: RenewalCause;
  /** Failed attempts of this renewal. */
  readonly failures: number;
  /** The key the new certificate will use (set at `key-ready`). */
  readonly keyRef?: KeyRef;
  /** The authority's order (set at `submitted`). */
  readonly orderRef?: string;
  /** When the current order was placed (an order that never completes is abandoned after a deadline). */
  readonly submittedAt?: Date;
  /** The new certificate (set at `issued`). */
  readonly issued?: IssuedCertificate;
  /** The phase to continue from after a failure. */
  readonly resumePhase?: RenewalPhase;
  readonly lastError?: StepError;
  /** After a failure: when the next attempt is due (alerts may wake the record earlier). */
  readonly nextAttemptAt?: Date;
  readonly startedAt?: Date;
  /** For revocations that wait for their replacement. */
  readonly revokeAfter?: { readonly serialNumber: string; readonly reason: string };
}

/** How a tracked certificate is to be issued and renewed (JSON-safe). */
export interface CertificateSpec {
  /** Name of the authority in the steward's `authorities` map. */
  readonly authority: string;
  readonly commonName?: string;
  readonly subjectAltNames: readonly { readonly type: 'dns' | 'ip' | 'email' | 'uri'; readonly value: string }[];
  readonly key: { readonly algorithm: KeyAlgorithm; readonly rotate: 'always' | 'never' };
  /** Requested lifetime (ms) where the authority lets the requester choose. */
  readonly lifetimeMs?: number;
  readonly profile?: string;
  /** Renewal timing (see `TimingPolicy`), JSON-safe. */
  readonly renewal?: Readonly<Record<string, unknown>>;
}

/**
 * What the authority last said about when to renew the current certificate
 * (ACME ARI). Remembered per certificate: an answer about one certificate
 * never steers the renewal of the next.
 */
export interface CaWindow {
  /** The certificate the answer is about. */
  readonly fingerprintSha256: string;
  /** The suggested window, when the authority gave one. */
  readonly start?: Date;
  readonly end?: Date;
  readonly checkedAt: Date;
  /** When to ask again (the authority's Retry-After, or a default). */
  readonly nextCheckAt: Date;
}

/** One tracked certificate. */
export interface CertificateRecord {
  readonly id: string;
  /** Bumped by the store on every write, including claims: the fencing token. */
  readonly revision: number;
  readonly status: 'active' | 'revoked';
  readonly spec: CertificateSpec;
  readonly labels: Readonly<Record<string, string>>;
  readonly current?: IssuedCertificate;
  readonly renewal: RenewalState;
  /** When the steward must look at this record next (null: never). Indexed. */
  readonly nextActionAt: Date | null;
  /** Expiry alerts already announced for the current certificate: `<fingerprint>:<level>`. */
  readonly announced: readonly string[];
  /** The authority's renewal window for the current certificate, when it offers one. */
  readonly caWindow?: CaWindow;
  /** The lease, while a steward works on the record. */
  readonly lease?: { readonly owner: string; readonly until: Date };
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** An append-only audit entry. */
export interface AuditEvent {
  readonly certificateId: string;
  readonly at: Date;
  /** The event name (`renewal.succeeded` …). */
  readonly type: string;
  /** Plain data, never key material. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** Filters for {@link CertificateStore.list}. */
export interface ListFilter {
  readonly status?: 'active' | 'revoked';
  /** Every given label must match. */
  readonly labels?: Readonly<Record<string, string>>;
  /** nextActionAt ≤ this. */
  readonly dueBefore?: Date;
  /** current.notAfter ≤ this. */
  readonly expiresBefore?: Date;
  /** Page size (default 100). */
  readonly limit?: number;
  /** Return ids after this one (keyset pagination, ordered by id). */
  readonly after?: string;
}

/** What {@link CertificateStore.create} takes: a record without the fields the store owns. */
export type NewCertificateRecord = Omit<CertificateRecord, 'revision' | 'createdAt' | 'updatedAt' | 'lease'>;

/** Counts by expiry status of the current certificate; `none`: not issued yet. */
export type ExpiryCounts = Record<'ok' | 'warning' | 'critical' | 'expired' | 'none', number>;

/** Extra writes that happen in the same transaction as an update. */
export interface UpdateExtras {
  /** Audit events describing the change. */
  readonly audit?: readonly AuditEvent[];
  /** A certificate to keep in history (the one this update replaces). */
  readonly archive?: IssuedCertificate;
}

/**
 * One rate limit an order counts against, in the shared issuance ledger:
 * at most `max` orders with this `key` in any `windowMs`.
 */
export interface IssuanceBucket {
  /** What is counted together, e.g. `acme-le|duplicate-certificate|a.example,b.example`. */
  readonly key: string;
  readonly max: number;
  readonly windowMs: number;
}

/** An order about to be placed, and the limits it counts against. */
export interface IssuanceReservation {
  readonly certificateId: string;
  readonly buckets: readonly IssuanceBucket[];
}

/** The ledger's answer: go ahead (the order is recorded), or wait until `retryAt`. */
export type IssuanceDecision =
  | { readonly granted: true }
  | {
      readonly granted: false;
      /** The key of the first bucket that is full. */
      readonly bucket: string;
      /** When enough earlier orders leave that bucket's window for one more. */
      readonly retryAt: Date;
    };

/** Options every store call accepts. */
export interface StoreCallOptions {
  readonly signal?: AbortSignal;
}

/**
 * Durable home of tracked certificates. MUST be safe for concurrent use across
 * processes. Implementations must pass `describeCertificateStore` from
 * `certsteward/testing`.
 *
 * Records are written whole; every write bumps `revision`, and every write
 * names the revision it expects ({@link ConflictError} otherwise), so a
 * process that lost its lease can never overwrite the work of the one that
 * took over.
 *
 * Semantics every implementation keeps (the contract suite checks them):
 * - ids are compared and ordered as binary strings (`'B' < 'a'`; PostgreSQL
 *   needs `COLLATE "C"`), which keyset pagination relies on;
 * - Dates come back as `Date` objects with millisecond precision, whatever the
 *   backend returns (SQLite gives strings, PostgreSQL Dates);
 * - `spec.renewal`, `labels` and `AuditEvent.data` are JSON-safe plain data;
 * - `update`/`delete` of an id that is not stored is a {@link ConflictError}
 *   with `actualRevision` undefined (a deleted record is a lost race, like a
 *   stale revision), and a failed write writes nothing: no audit, no archive;
 * - the store owns `revision`, `createdAt` and `updatedAt`; `update` writes
 *   the `lease` the caller passes (undefined releases it);
 * - a call whose signal is already aborted rejects with `signal.reason` and
 *   has no effect.
 */
export interface CertificateStore {
  /** The record, or undefined. */
  get(id: string, options?: StoreCallOptions): Promise<CertificateRecord | undefined>;
  /** Records matching `filter`, ordered by id. */
  list(filter?: ListFilter, options?: StoreCallOptions): Promise<CertificateRecord[]>;
  /** Stores a new record at revision 1.
   *  @throws {@link ConflictError} when the id exists. */
  create(
    record: NewCertificateRecord,
    now: Date,
    extras?: UpdateExtras,
    options?: StoreCallOptions,
  ): Promise<CertificateRecord>;
  /**
   * Replaces the record whose revision is `record.revision` and returns it at
   * the next revision. Writing `lease: undefined` releases the lease.
   * @throws {@link ConflictError} when the stored revision differs.
   */
  update(record: CertificateRecord, now: Date, extras?: UpdateExtras, options?: StoreCallOptions): Promise<CertificateRecord>;
  /** Deletes the record at `revision` (its history and audit stay).
   *  @throws {@link ConflictError} when the stored revision differs. */
  delete(id: string, revision: number, options?: StoreCallOptions): Promise<void>;
  /**
   * Atomically hands out up to `limit` records whose `nextActionAt` ≤ `now`
   * and that hold no live lease, each leased to `owner` until `now + leaseMs`
   * and bumped to a new revision (the fencing token). Earliest first (ties by
   * id). `leaseMs` must be > 0; `limit: 0` claims nothing. Nobody, not even
   * the owner, can claim a record while its lease is live.
   */
  claimDue(now: Date, owner: string, leaseMs: number, limit: number, options?: StoreCallOptions): Promise<CertificateRecord[]>;
  /**
   * The earliest moment `claimDue` could hand out a record: the minimum, over
   * active records with a non-null nextActionAt, of max(nextActionAt,
   * lease.until while a lease is held). Undefined when nothing is scheduled.
   * It may be in the past.
   */
  nextDueAt(options?: StoreCallOptions): Promise<Date | undefined>;
  /** Past certificates of `id`, newest first. */
  history(id: string, options?: StoreCallOptions): Promise<IssuedCertificate[]>;
  /** Audit events of `id`, oldest first. */
  audit(id: string, options?: StoreCallOptions): Promise<AuditEvent[]>;
  /**
   * The issuance ledger every process shares, so a fleet defers orders before
   * it breaks an authority's published rate limits instead of after. In one
   * atomic step: for each bucket, count the orders recorded with that key in
   * (`now − windowMs`, `now`]; if any bucket holds `max` or more, record
   * nothing and answer with the first full bucket and the moment enough of
   * its orders leave the window; otherwise record one order per bucket at
   * `now` and grant. A granted order counts even if the authority then
   * refuses it (the safe side of a limit).
   */
  reserveIssuance?(reservation: IssuanceReservation, now: Date, options?: StoreCallOptions): Promise<IssuanceDecision>;
  /** Counts of active records by the status of their current certificate at `now` (for fleet dashboards). */
  countExpiring?(now: Date, thresholds: { warningMs: number; criticalMs: number }, options?: StoreCallOptions): Promise<ExpiryCounts>;
}
