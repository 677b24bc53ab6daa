/**
 * An in-memory certificate store: for tests and simulations, and the reference
 * semantics every other {@link CertificateStore} (Knex on PostgreSQL and
 * SQLite) is held to through `describeCertificateStore`.
 *
 * @module
 */
import { ConfigError, ConflictError, StoreUnavailableError } from '../errors.js';
import type {
  AuditEvent,
  CertificateRecord,
  CertificateStore,
  IssuedCertificate,
  ExpiryCounts,
  IssuanceDecision,
  IssuanceReservation,
  ListFilter,
  NewCertificateRecord,
  StoreCallOptions,
  UpdateExtras,
} from '../ports/certificate-store.js';
import { assertBuckets, assertClaim, assertCount, assertRecord, assertTime } from '../ports/store-arguments.js';
import { expiryBucket } from '../policy/expiry.js';
import { DueIndex } from './due-index.js';

const STORE = 'MemoryStore';

/**
 * The store methods a fault can target.
 *
 * @example
 * ```ts
 * const writes: MemoryStoreMethod[] = ['create', 'update', 'delete', 'claimDue']
 * store.failNext(1, { methods: writes })
 * ```
 */
export type MemoryStoreMethod =
  | 'get'
  | 'list'
  | 'create'
  | 'update'
  | 'delete'
  | 'claimDue'
  | 'nextDueAt'
  | 'history'
  | 'audit'
  | 'countExpiring'
  | 'reserveIssuance';

/**
 * One call, as seen by the {@link MemoryStoreOptions.failWith} hook.
 *
 * @example
 * ```ts
 * const failWith = (call: MemoryStoreCall) =>
 *   call.method === 'update' && call.id === 'api.example.com' ? new Error('disk full') : undefined
 * ```
 */
export interface MemoryStoreCall {
  readonly method: MemoryStoreMethod;
  /** The record id the call is about (get, create, update, delete, history, audit). */
  readonly id?: string;
}

/**
 * Options of {@link MemoryStore}.
 *
 * @example
 * ```ts
 * new MemoryStore({ historyLimit: 3, failWith: (c) => (c.method === 'claimDue' ? new StoreUnavailableError('down') : undefined) })
 * ```
 */
export interface MemoryStoreOptions {
  /** Past certificates kept per id (newest first); older ones are dropped. A non-negative integer or `Infinity`. Default 10. */
  readonly historyLimit?: number;
  /**
   * Called before every call that no {@link MemoryStore.failNext} fault took.
   * Return an error to make the call reject with it (nothing is read or
   * written), or `undefined` to let it through.
   */
  readonly failWith?: (call: MemoryStoreCall) => Error | undefined;
}

/**
 * How the faults queued by {@link MemoryStore.failNext} fail.
 *
 * @example
 * ```ts
 * // The update is committed, but the caller sees the store fail: an ambiguous write.
 * store.failNext(1, { methods: ['update'], afterWrite: true })
 * ```
 */
export interface MemoryStoreFault {
  /** The error to reject with. Default: a new {@link StoreUnavailableError} per call. */
  readonly error?: Error;
  /** Only calls of these methods count and fail. Default: every method. */
  readonly methods?: readonly MemoryStoreMethod[];
  /**
   * Perform the call (commit the write), then reject anyway, as when a
   * database commits but the connection drops before the reply. Default false:
   * reject before anything is read or written.
   */
  readonly afterWrite?: boolean;
}



interface PendingFault {
  remaining: number;
  readonly error: Error | undefined;
  readonly methods: readonly MemoryStoreMethod[] | undefined;
  readonly afterWrite: boolean;
}

/**
 * A {@link CertificateStore} in process memory, with the exact semantics
 * adapters must reproduce:
 *
 * - **Copies.** Records, audit events and history entries are deep-copied
 *   (`structuredClone`) on the way in and out: mutating an argument after a
 *   call, or a returned object, never changes the store. Only the fields of
 *   `CertificateRecord` are kept, as a SQL store keeps only its columns.
 * - **Revisions.** `create` stores revision 1; `update` and each claim by
 *   `claimDue` bump it by exactly 1. `update` and `delete` whose revision is not
 *   the stored one, or whose id is not stored (it was deleted), reject with
 *   {@link ConflictError} (`actualRevision` undefined for a missing id): a lost
 *   race either way, so callers handle one error. `create` of a stored id
 *   rejects with `ConflictError(id, undefined, storedRevision)`.
 * - **Store-owned fields.** `create` sets `createdAt = updatedAt = now` and no
 *   lease, ignoring any revision, timestamps or lease the caller passes;
 *   `update` keeps the stored `createdAt`, sets `updatedAt = now` and writes
 *   the caller's `lease` (undefined releases it); a claim sets `updatedAt = now`.
 * - **Leases.** A record is claimable at `now` when it is `active`, its
 *   `nextActionAt` is non-null and ≤ `now`, and it has no lease or its
 *   `lease.until` ≤ `now`, whoever the owner (the same owner cannot re-claim a
 *   live lease either). Claims go earliest `nextActionAt` first, ties by id.
 * - **Extras.** The audit events and archived certificate of a `create` or
 *   `update` are written in the same atomic step as the record, and not at all
 *   when it is rejected. Audit events are filed under their own
 *   `certificateId`; `audit(id)` returns them ordered by `at` (oldest first,
 *   equal times in the order written). `history(id)` is newest-archived first,
 *   trimmed to `historyLimit`. `delete` keeps both; an id can be created again.
 * - **Order.** `list` orders by id in UTF-16 code-unit order (`<` on strings;
 *   for ASCII ids the same as byte order, i.e. PostgreSQL's `COLLATE "C"`).
 * - **Cancellation.** A call whose `signal` is already aborted rejects with
 *   `signal.reason` and has no effect.
 * - **Arguments.** An invalid `now`, `nextActionAt`, empty id or owner, a
 *   `leaseMs` that is not positive (a lease that ends at once would let two
 *   owners claim one record) or a `limit` that is not a non-negative integer
 *   rejects with {@link ConfigError}, so simulation bugs surface at the call.
 *
 * Complexity (n records, k = `limit`): `get`, `create`, `update`, `delete` are
 * O(log n) plus the copy (writes keep a schedule index); `claimDue` and
 * `nextDueAt` read that index, O(log n) per record they look at; `list` is one
 * O(n log k) scan with a bounded heap; `countExpiring` one O(n) scan. Fine for
 * simulations of a fleet of hundreds of thousands.
 *
 * Every call does its work synchronously before its promise settles, so calls
 * are atomic with respect to each other (`Promise.all` of several `claimDue`
 * never hands a record out twice).
 *
 * @example
 * ```ts
 * const store = new MemoryStore()
 * const clock = new ManualClock('2026-01-01T00:00:00Z')
 * const steward = createSteward({ store, authorities, keys, clock })
 * store.failNext(2) // the next two store calls reject with StoreUnavailableError
 * await clock.advance('90d')
 * expect(await store.audit('api.example.com')).toContainEqual(expect.objectContaining({ type: 'renewal.succeeded' }))
 * ```
 */
export class MemoryStore implements CertificateStore {
  readonly #records = new Map<string, CertificateRecord>();
  readonly #due = new DueIndex();
  /** Newest first. */
  readonly #history = new Map<string, IssuedCertificate[]>();
  /** In the order written. */
  readonly #audit = new Map<string, AuditEvent[]>();
  /** Issuance ledger: order times per bucket key, ascending. */
  readonly #issuances = new Map<string, number[]>();
  readonly #historyLimit: number;
  readonly #failWith: ((call: MemoryStoreCall) => Error | undefined) | undefined;
  #faults: PendingFault[] = [];

  /**
   * @throws {@link ConfigError} when `historyLimit` is not a non-negative integer or `Infinity`.
   * @example
   * ```ts
   * const store = new MemoryStore({ historyLimit: 5 })
   * ```
   */
  constructor(options: MemoryStoreOptions = {}) {
    const historyLimit = options.historyLimit ?? 10;
    if (!(historyLimit === Infinity || (Number.isInteger(historyLimit) && historyLimit >= 0))) {
      throw new ConfigError(
        'historyLimit',
        historyLimit,
        `MemoryStore: historyLimit must be a non-negative integer or Infinity, got ${String(historyLimit)}`,
      );
    }
    this.#historyLimit = historyLimit;
    this.#failWith = options.failWith;
  }

  /**
   * The number of records stored.
   *
   * @example
   * ```ts
   * expect(store.size).toBe(10_000)
   * ```
   */
  get size(): number {
    return this.#records.size;
  }

  /**
   * Makes the next `count` calls (of `fault.methods`, default every method)
   * reject, by default with a new {@link StoreUnavailableError}. Faults queue:
   * a call takes the first queued fault that matches its method, before the
   * {@link MemoryStoreOptions.failWith} hook is asked.
   *
   * @param fault an error to reject with, or {@link MemoryStoreFault} options.
   * @throws {@link ConfigError} when `count` is not a non-negative integer.
   * @example
   * ```ts
   * store.failNext(1)                                        // next call of any method
   * store.failNext(3, new StoreUnavailableError('failover')) // a given error
   * store.failNext(1, { methods: ['update'], afterWrite: true }) // committed, but reported as failed
   * ```
   */
  failNext(count: number, fault?: Error | MemoryStoreFault): void {
    if (!Number.isInteger(count) || count < 0) {
      throw new ConfigError('count', count, `MemoryStore.failNext: count must be a non-negative integer, got ${String(count)}`);
    }
    if (count === 0) return;
    const options: MemoryStoreFault = fault instanceof Error ? { error: fault } : (fault ?? {});
    this.#faults.push({
      remaining: count,
      error: options.error,
      methods: options.methods,
      afterWrite: options.afterWrite === true,
    });
  }

  /**
   * Queued {@link failNext} failures not yet spent, to check that a test's
   * fault actually hit.
   *
   * @example
   * ```ts
   * store.failNext(1, { methods: ['claimDue'] })
   * await clock.advance('1h')
   * expect(store.pendingFailures).toBe(0)
   * ```
   */
  get pendingFailures(): number {
    return this.#faults.reduce((sum, f) => sum + f.remaining, 0);
  }

  /** @inheritDoc */
  async get(id: string, options?: StoreCallOptions): Promise<CertificateRecord | undefined> {
    return this.#call({ method: 'get', id }, options, () => {
      const record = this.#records.get(id);
      return record === undefined ? undefined : structuredClone(record);
    });
  }

  /**
   * Records matching `filter`, ordered by id (UTF-16 code-unit order), at most
   * `filter.limit` (default 100; 0 gives none). `dueBefore` and
   * `expiresBefore` are inclusive; a record with `nextActionAt` null never
   * matches `dueBefore`, one without `current` never matches `expiresBefore`.
   * O(n log limit).
   *
   * @throws {@link ConfigError} when `limit` is not a non-negative integer.
   */
  async list(filter: ListFilter = {}, options?: StoreCallOptions): Promise<CertificateRecord[]> {
    return this.#call({ method: 'list' }, options, () => {
      const limit = filter.limit ?? 100;
      assertCount(limit, STORE, 'list', 'limit');
      const labels = filter.labels === undefined ? [] : Object.entries(filter.labels);
      const dueBefore = filter.dueBefore?.getTime();
      const expiresBefore = filter.expiresBefore?.getTime();
      const { after, status } = filter;
      const page = new SmallestK<CertificateRecord>(limit, byId);
      for (const r of this.#records.values()) {
        if (after !== undefined && !(r.id > after)) continue;
        if (status !== undefined && r.status !== status) continue;
        if (dueBefore !== undefined && (r.nextActionAt === null || r.nextActionAt.getTime() > dueBefore)) continue;
        if (expiresBefore !== undefined && (r.current === undefined || r.current.notAfter.getTime() > expiresBefore)) continue;
        if (!labels.every(([k, v]) => Object.hasOwn(r.labels, k) && r.labels[k] === v)) continue;
        page.offer(r);
      }
      return page.sorted().map((r) => structuredClone(r));
    });
  }

  /**
   * Stores a new record at revision 1 with `createdAt = updatedAt = now` and
   * no lease, and writes `extras` with it.
   *
   * @throws {@link ConflictError} when the id is stored (`actualRevision` is its revision).
   * @throws {@link ConfigError} when `now` or `nextActionAt` is not a valid Date or the id is empty.
   */
  async create(
    record: NewCertificateRecord,
    now: Date,
    extras?: UpdateExtras,
    options?: StoreCallOptions,
  ): Promise<CertificateRecord> {
    return this.#call({ method: 'create', id: record.id }, options, () => {
      assertTime(now, STORE, 'create', 'now');
      assertRecord(record, STORE, 'create');
      const stored = this.#records.get(record.id);
      if (stored !== undefined) throw new ConflictError(record.id, undefined, stored.revision);
      // Any revision, timestamps or lease the caller passed at run time are not picked up.
      const created = toStored(structuredClone(record), 1, new Date(now), new Date(now), undefined);
      this.#records.set(created.id, created);
      this.#schedule(created);
      this.#writeExtras(created.id, extras);
      return structuredClone(created);
    });
  }

  /**
   * Replaces the record stored at `record.revision` and returns it at the
   * next revision, with the stored `createdAt` and `updatedAt = now`; writes
   * `extras` in the same step. `lease: undefined` releases the lease.
   *
   * @throws {@link ConflictError} when the stored revision differs, or the id is
   *   not stored (`actualRevision` undefined); nothing is written then.
   * @throws {@link ConfigError} when `now` or `nextActionAt` is not a valid Date.
   */
  async update(record: CertificateRecord, now: Date, extras?: UpdateExtras, options?: StoreCallOptions): Promise<CertificateRecord> {
    return this.#call({ method: 'update', id: record.id }, options, () => {
      assertTime(now, STORE, 'update', 'now');
      assertRecord(record, STORE, 'update');
      const stored = this.#records.get(record.id);
      if (stored === undefined || stored.revision !== record.revision) {
        throw new ConflictError(record.id, record.revision, stored?.revision);
      }
      const copy = structuredClone(record);
      const updated = toStored(copy, stored.revision + 1, new Date(stored.createdAt), new Date(now), copy.lease);
      this.#records.set(updated.id, updated);
      this.#schedule(updated);
      this.#writeExtras(updated.id, extras);
      return structuredClone(updated);
    });
  }

  /**
   * Deletes the record stored at `revision`; its history and audit stay.
   *
   * @throws {@link ConflictError} when the stored revision differs, or the id is not stored.
   */
  async delete(id: string, revision: number, options?: StoreCallOptions): Promise<void> {
    return this.#call({ method: 'delete', id }, options, () => {
      const stored = this.#records.get(id);
      if (stored === undefined || stored.revision !== revision) throw new ConflictError(id, revision, stored?.revision);
      this.#records.delete(id);
      this.#due.forget(id);
    });
  }

  /**
   * Leases up to `limit` claimable records (see the class notes) to `owner`
   * until `now + leaseMs`, earliest `nextActionAt` first (ties by id), each at
   * the next revision with `updatedAt = now`, and returns those new versions.
   * O(log n) per record handed out (from the schedule index).
   *
   * @throws {@link ConfigError} when `now` is not a valid Date, `owner` is
   *   empty, `leaseMs` is not a positive finite number, or `limit` is not a
   *   non-negative integer.
   */
  async claimDue(
    now: Date,
    owner: string,
    leaseMs: number,
    limit: number,
    options?: StoreCallOptions,
  ): Promise<CertificateRecord[]> {
    return this.#call({ method: 'claimDue' }, options, () => {
      assertClaim(now, owner, leaseMs, limit, STORE);
      const t = now.getTime();
      const due = this.#due.takeDue(t, limit, this.#currentVersion, (r) => isClaimable(r, t));
      const until = t + leaseMs;
      return due.map((r) => {
        // Nested objects are shared with the version replaced, which nothing references any more.
        const claimed = toStored(r, r.revision + 1, r.createdAt, new Date(t), { owner, until: new Date(until) });
        this.#records.set(claimed.id, claimed);
        this.#schedule(claimed);
        return structuredClone(claimed);
      });
    });
  }

  /**
   * The earliest moment at which `claimDue` would return a record if nothing
   * were written meanwhile: the minimum, over active records with a non-null
   * `nextActionAt`, of `nextActionAt` — or of `lease.until` when the record
   * holds a lease ending later. It may be in the past (work is already due);
   * undefined when no record will ever be due. O(log n) per leased record at
   * the head of the schedule (an index kept on every write).
   */
  async nextDueAt(options?: StoreCallOptions): Promise<Date | undefined> {
    return this.#call({ method: 'nextDueAt' }, options, () => {
      const earliest = this.#due.earliest(this.#currentVersion);
      return earliest === undefined ? undefined : new Date(earliest);
    });
  }

  /** The stored record (the schedule index says which entry is its latest). */
  readonly #currentVersion = (id: string): CertificateRecord | undefined => this.#records.get(id);

  /** Adds a written version to the schedule, compacting it when stale entries pile up. */
  #schedule(r: CertificateRecord): void {
    this.#due.note(r);
    if (this.#due.size > 4 * this.#records.size + 1024) this.#due.rebuild(this.#records.values());
  }

  /** Past certificates of `id`, newest archived first (at most `historyLimit`); kept after delete. */
  async history(id: string, options?: StoreCallOptions): Promise<IssuedCertificate[]> {
    return this.#call({ method: 'history', id }, options, () => structuredClone(this.#history.get(id) ?? []));
  }

  /** Audit events filed under `id`, ordered by `at`, equal times in the order written; kept after delete. */
  async audit(id: string, options?: StoreCallOptions): Promise<AuditEvent[]> {
    return this.#call({ method: 'audit', id }, options, () => {
      // Array.prototype.sort is stable: equal times keep the order written.
      const events = [...(this.#audit.get(id) ?? [])].sort((a, b) => a.at.getTime() - b.at.getTime());
      return structuredClone(events);
    });
  }

  /**
   * Counts of active records by the remaining validity of their current
   * certificate at `now`: `expired` once `now` is past `notAfter`, else
   * `critical` when `notAfter − now ≤ criticalMs`, else `warning` when
   * `≤ warningMs`, else `ok`; `none` for records without a current
   * certificate. `notBefore` is not considered. Every key is present. O(n).
   *
   * @throws {@link ConfigError} when `now` is not a valid Date.
   */
  async countExpiring(
    now: Date,
    thresholds: { warningMs: number; criticalMs: number },
    options?: StoreCallOptions,
  ): Promise<ExpiryCounts> {
    return this.#call({ method: 'countExpiring' }, options, () => {
      assertTime(now, STORE, 'countExpiring', 'now');
      const t = now.getTime();
      const counts: ExpiryCounts = { ok: 0, warning: 0, critical: 0, expired: 0, none: 0 };
      for (const r of this.#records.values()) {
        if (r.status !== 'active') continue;
        if (r.current === undefined) {
          counts.none++;
          continue;
        }
        counts[expiryBucket(r.current.notAfter.getTime() - t, thresholds)]++;
      }
      return counts;
    });
  }

  /**
   * The shared issuance ledger (see {@link CertificateStore.reserveIssuance}).
   * O(orders in the window) per bucket; entries older than the window are
   * dropped as they are met.
   *
   * @throws {@link ConfigError} when `now` is not a valid Date or a bucket's
   *   `max` is not a positive integer or its `windowMs` not positive.
   */
  async reserveIssuance(reservation: IssuanceReservation, now: Date, options?: StoreCallOptions): Promise<IssuanceDecision> {
    return this.#call({ method: 'reserveIssuance', id: reservation.certificateId }, options, (): IssuanceDecision => {
      assertTime(now, STORE, 'reserveIssuance', 'now');
      assertBuckets(reservation, STORE);
      const t = now.getTime();
      for (const b of reservation.buckets) {
        const times = (this.#issuances.get(b.key) ?? []).filter((at) => at > t - b.windowMs && at <= t);
        if (times.length >= b.max) return { granted: false, bucket: b.key, retryAt: new Date(times[times.length - b.max]! + b.windowMs) };
      }
      for (const b of reservation.buckets) {
        const times = (this.#issuances.get(b.key) ?? []).filter((at) => at > t - b.windowMs);
        times.push(t);
        times.sort((x, y) => x - y);
        this.#issuances.set(b.key, times);
      }
      return { granted: true };
    });
  }

  /** Runs one call: cancellation, fault injection, then `work`, all before the promise settles. */
  #call<T>(call: MemoryStoreCall, options: StoreCallOptions | undefined, work: () => T): T {
    options?.signal?.throwIfAborted();
    const fault = this.#takeFault(call.method);
    if (fault !== undefined && !fault.afterWrite) throw fault.error ?? injected(call);
    if (fault === undefined) {
      const hooked = this.#failWith?.(call);
      if (hooked !== undefined) throw hooked;
    }
    const result = work();
    if (fault !== undefined) throw fault.error ?? injected(call);
    return result;
  }

  #takeFault(method: MemoryStoreMethod): PendingFault | undefined {
    const i = this.#faults.findIndex((f) => f.methods === undefined || f.methods.includes(method));
    const fault = this.#faults[i];
    if (fault === undefined) return undefined;
    if (--fault.remaining === 0) this.#faults.splice(i, 1);
    return fault;
  }

  #writeExtras(id: string, extras: UpdateExtras | undefined): void {
    for (const event of extras?.audit ?? []) {
      const copy = structuredClone(event);
      const events = this.#audit.get(copy.certificateId);
      if (events === undefined) this.#audit.set(copy.certificateId, [copy]);
      else events.push(copy);
    }
    if (extras?.archive !== undefined && this.#historyLimit > 0) {
      const past = this.#history.get(id) ?? [];
      past.unshift(structuredClone(extras.archive));
      if (past.length > this.#historyLimit) past.length = this.#historyLimit;
      this.#history.set(id, past);
    }
  }
}

/**
 * The stored form of a record: exactly the fields of {@link CertificateRecord}
 * (unknown extra properties are dropped, as a SQL store drops them), built as
 * one literal. Object rest/spread would be shorter but leaves V8 objects in
 * dictionary mode, which made every O(n) scan about 40 times slower.
 */
function toStored(
  source: NewCertificateRecord,
  revision: number,
  createdAt: Date,
  updatedAt: Date,
  lease: CertificateRecord['lease'],
): CertificateRecord {
  const record: { -readonly [K in keyof CertificateRecord]: CertificateRecord[K] } = {
    id: source.id,
    revision,
    status: source.status,
    spec: source.spec,
    labels: source.labels,
    renewal: source.renewal,
    nextActionAt: source.nextActionAt,
    announced: source.announced,
    createdAt,
    updatedAt,
  };
  if (source.current !== undefined) record.current = source.current;
  if (source.caWindow !== undefined) record.caWindow = source.caWindow;
  if (lease !== undefined) record.lease = lease;
  return record;
}

function injected(call: MemoryStoreCall): StoreUnavailableError {
  return new StoreUnavailableError(`MemoryStore: injected failure of ${call.method}() (failNext)`);
}

function isClaimable(r: CertificateRecord, t: number): boolean {
  return (
    r.status === 'active' &&
    r.nextActionAt !== null &&
    r.nextActionAt.getTime() <= t &&
    (r.lease === undefined || r.lease.until.getTime() <= t)
  );
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byId(a: CertificateRecord, b: CertificateRecord): number {
  return compareIds(a.id, b.id);
}

/**
 * The k smallest of the items offered, by `compare`: a bounded max-heap, so a
 * scan of n items costs O(n log k) and never sorts the whole set.
 */
class SmallestK<T> {
  readonly #heap: T[] = [];
  constructor(
    readonly k: number,
    readonly compare: (a: T, b: T) => number,
  ) {}

  offer(item: T): void {
    const heap = this.#heap;
    if (heap.length < this.k) {
      heap.push(item);
      this.#up(heap.length - 1);
    } else if (this.k > 0 && this.compare(item, heap[0]!) < 0) {
      heap[0] = item;
      this.#down(0);
    }
  }

  /** The kept items, ascending. */
  sorted(): T[] {
    return [...this.#heap].sort(this.compare);
  }

  #up(i: number): void {
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(heap[i]!, heap[parent]!) <= 0) return;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #down(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let largest = i;
      if (left < heap.length && this.compare(heap[left]!, heap[largest]!) > 0) largest = left;
      if (right < heap.length && this.compare(heap[right]!, heap[largest]!) > 0) largest = right;
      if (largest === i) return;
      [heap[i], heap[largest]] = [heap[largest]!, heap[i]!];
      i = largest;
    }
  }
}
