/**
 * The certificate store on SQL through the host's Knex instance: PostgreSQL
 * for fleets shared by many processes on many hosts, SQLite for the embedded
 * default. Same semantics as `MemoryStore` (the contract suite checks both).
 *
 * @module
 */
import type { Knex } from 'knex';
import { ConfigError, ConflictError, StoreUnavailableError, isCertstewardError } from '../../src/errors.js';
import type {
  AuditEvent,
  CertificateRecord,
  CertificateStore,
  ExpiryCounts,
  IssuanceDecision,
  IssuanceReservation,
  IssuedCertificate,
  ListFilter,
  NewCertificateRecord,
  StoreCallOptions,
  UpdateExtras,
} from '../../src/ports/certificate-store.js';
import { assertBuckets, assertClaim, assertCount, assertRecord, assertTime } from '../../src/ports/store-arguments.js';
import { driverFailure } from './driver-error.js';
import { auditToRow, issuedIn, issuedToJson, recordColumns, rowToAudit, rowToRecord, toMs, type CertificateRow } from './record-codec.js';
import { certstewardMigrations, engineOf, tableNames, type Engine, type SchemaOptions, type TableNames } from './schema.js';

const STORE = 'KnexStore';

/**
 * Options of {@link KnexStore}.
 *
 * @example
 * ```ts
 * new KnexStore(knex, { tablePrefix: 'pki_', schema: 'ops', historyLimit: 20 })
 * ```
 */
export interface KnexStoreOptions extends SchemaOptions {
  /** Past certificates kept per id (newest first). A non-negative integer or `Infinity`. Default 10. */
  readonly historyLimit?: number;
}

/**
 * A {@link CertificateStore} on PostgreSQL or SQLite through the host's own
 * `Knex` instance (certsteward never imports a driver).
 *
 * - **Leases across processes.** `claimDue` is one statement: on PostgreSQL
 *   `SELECT … FOR UPDATE SKIP LOCKED` feeding an `UPDATE`, so concurrent
 *   claimers on any number of hosts skip each other's rows instead of waiting
 *   or double-claiming; on SQLite an `UPDATE … WHERE id IN (SELECT …)`
 *   under the database's single-writer lock. Every claim bumps `revision`,
 *   the fencing token every later write must name.
 * - **Atomic writes.** A record, its audit events and its archived
 *   certificate are written in one transaction; a rejected write writes
 *   nothing.
 * - **One time representation.** Every time is a BIGINT of epoch
 *   milliseconds, so both engines return exactly what was written.
 * - **Work grows with what is due, not with the fleet.** `nextDueAt` and
 *   `claimDue` read partial indexes holding only active, scheduled records;
 *   `countExpiring` is one aggregate computed in the database.
 *
 * SQLite shared by several processes needs WAL mode and a busy timeout
 * (better-sqlite3 waits 5 s by default); see the README.
 *
 * @example
 * ```ts
 * import knexFactory from 'knex'
 * import { KnexStore } from 'certsteward/knex'
 * const knex = knexFactory({ client: 'pg', connection: process.env.DATABASE_URL })
 * const store = new KnexStore(knex)
 * await store.migrate()
 * const steward = createSteward({ store, authorities, keys })
 * ```
 */
export class KnexStore implements CertificateStore {
  readonly #knex: Knex;
  readonly #t: TableNames;
  readonly #engine: Engine;
  readonly #historyLimit: number;

  /**
   * @throws {@link ConfigError} when the Knex client is neither PostgreSQL nor
   *   SQLite, or an option is invalid.
   */
  constructor(knex: Knex, options: KnexStoreOptions = {}) {
    this.#knex = knex;
    this.#engine = engineOf(knex);
    this.#t = tableNames(options);
    if (this.#t.schema !== undefined && this.#engine === 'sqlite') {
      throw new ConfigError('schema', this.#t.schema, 'KnexStore: schema is for PostgreSQL; on SQLite use tablePrefix');
    }
    const historyLimit = options.historyLimit ?? 10;
    if (!(historyLimit === Infinity || (Number.isInteger(historyLimit) && historyLimit >= 0))) {
      throw new ConfigError('historyLimit', historyLimit, `KnexStore: historyLimit must be a non-negative integer or Infinity, got ${String(historyLimit)}`);
    }
    this.#historyLimit = historyLimit;
  }

  /** The table names this store uses. */
  get tables(): TableNames {
    return this.#t;
  }

  /** Which engine the Knex instance talks to. */
  get engine(): Engine {
    return this.#engine;
  }

  /**
   * Brings the tables up to date (idempotent; safe to run from several
   * processes at once, Knex takes a lock). Uses its own bookkeeping table
   * (`<prefix>migrations`), never the host's `knex_migrations`.
   *
   * @returns the names of the migrations applied now (empty when up to date).
   */
  async migrate(): Promise<string[]> {
    return this.#run('migrate', undefined, async () => {
      // Knex makes its bookkeeping table in the schema before any migration runs: the schema must exist first.
      if (this.#t.schema && this.#engine === 'postgresql') await this.#knex.raw('CREATE SCHEMA IF NOT EXISTS ??', [this.#t.schema]);
      return this.#migrating(async () => ((await this.#knex.migrate.latest(this.#migratorConfig())) as [number, string[]])[1]);
    });
  }

  /**
   * Undoes every certsteward migration: drops the store's tables and
   * everything in them.
   *
   * @returns the names of the migrations undone.
   */
  async rollback(): Promise<string[]> {
    return this.#run('rollback', undefined, () =>
      this.#migrating(async () => ((await this.#knex.migrate.rollback(this.#migratorConfig(), true)) as [number, string[]])[1]),
    );
  }

  /**
   * Runs a migration step, waiting for another process's run to finish: Knex
   * refuses at once while its migration lock is held, and two first runs can
   * race to create the bookkeeping tables. A lock held for longer than a
   * minute is reported with the way out (a run that crashed leaves it held).
   */
  async #migrating(step: () => Promise<string[]>): Promise<string[]> {
    const deadline = Date.now() + 60_000;
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (e) {
        const locked = (e as Error).name === 'MigrationLocked';
        if (locked && Date.now() >= deadline) {
          throw new StoreUnavailableError(
            `${STORE}.migrate: the migration lock in ${this.#t.migrations}_lock is held for over a minute; if no migration is running (one crashed), free it with knex.migrate.forceFreeMigrationsLock({ tableName: '${this.#t.migrations}' })`,
            { cause: e },
          );
        }
        if (!locked && attempt > 2) throw e;
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(Math.random() * 200)));
      }
    }
  }

  #migratorConfig(): Knex.MigratorConfig {
    return {
      migrationSource: certstewardMigrations({ tablePrefix: this.#t.prefix, ...(this.#t.schema ? { schema: this.#t.schema } : {}) }),
      tableName: this.#t.migrations,
      ...(this.#t.schema ? { schemaName: this.#t.schema } : {}),
    };
  }

  /** @inheritDoc */
  async get(id: string, options?: StoreCallOptions): Promise<CertificateRecord | undefined> {
    return this.#run('get', options, async () => {
      const row = (await this.#knex(this.#t.qualified.certificates).where({ id }).first()) as CertificateRow | undefined;
      return row === undefined ? undefined : rowToRecord(row);
    });
  }

  /**
   * Records matching `filter`, ordered by id (byte order), at most
   * `filter.limit` (default 100). Filters run in the database.
   *
   * @throws {@link ConfigError} when `limit` is not a non-negative integer.
   */
  async list(filter: ListFilter = {}, options?: StoreCallOptions): Promise<CertificateRecord[]> {
    return this.#run('list', options, async () => {
      const limit = filter.limit ?? 100;
      assertCount(limit, STORE, 'list', 'limit');
      if (limit === 0) return [];
      const q = this.#knex(this.#t.qualified.certificates).select('*').orderBy('id').limit(limit);
      if (filter.after !== undefined) q.where('id', '>', filter.after);
      if (filter.status !== undefined) q.where('status', filter.status);
      if (filter.dueBefore !== undefined) q.where('next_action_at', '<=', filter.dueBefore.getTime());
      if (filter.expiresBefore !== undefined) q.where('not_after', '<=', filter.expiresBefore.getTime());
      const labels = Object.entries(filter.labels ?? {});
      if (labels.length > 0) {
        if (this.#engine === 'postgresql') q.whereRaw('labels @> ?::jsonb', [JSON.stringify(filter.labels)]);
        // json_each names keys as they are, whatever characters they hold.
        else for (const [k, v] of labels) q.whereRaw(`EXISTS (SELECT 1 FROM json_each(labels) WHERE key = ? AND type = 'text' AND value = ?)`, [k, v]);
      }
      return ((await q) as CertificateRow[]).map(rowToRecord);
    });
  }

  /**
   * Stores a new record at revision 1 with `createdAt = updatedAt = now` and
   * no lease, and `extras` in the same transaction.
   *
   * @throws {@link ConflictError} when the id is stored.
   */
  async create(record: NewCertificateRecord, now: Date, extras?: UpdateExtras, options?: StoreCallOptions): Promise<CertificateRecord> {
    return this.#run('create', options, async () => {
      assertTime(now, STORE, 'create', 'now');
      assertRecord(record, STORE, 'create');
      const { lease: _ignored, ...fields } = record as NewCertificateRecord & { lease?: unknown };
      const row = { ...recordColumns(fields), revision: 1, created_at: now.getTime(), updated_at: now.getTime() };
      return this.#knex.transaction(async (trx) => {
        const inserted = (await trx(this.#t.qualified.certificates).insert(row).onConflict('id').ignore().returning('*')) as CertificateRow[];
        const created = inserted[0];
        if (created === undefined) throw new ConflictError(record.id, undefined, await this.#revisionOf(trx, record.id));
        await this.#writeExtras(trx, record.id, now, extras);
        return rowToRecord(created);
      });
    });
  }

  /**
   * Replaces the record stored at `record.revision` and returns it at the
   * next revision (`updatedAt = now`), with `extras` in the same transaction.
   *
   * @throws {@link ConflictError} when the stored revision differs or the id is not stored.
   */
  async update(record: CertificateRecord, now: Date, extras?: UpdateExtras, options?: StoreCallOptions): Promise<CertificateRecord> {
    return this.#run('update', options, async () => {
      assertTime(now, STORE, 'update', 'now');
      assertRecord(record, STORE, 'update');
      const { id: _id, ...columns } = recordColumns(record);
      return this.#knex.transaction(async (trx) => {
        const updated = (await trx(this.#t.qualified.certificates)
          .where({ id: record.id, revision: record.revision })
          .update({ ...columns, revision: record.revision + 1, updated_at: now.getTime() })
          .returning('*')) as CertificateRow[];
        const row = updated[0];
        if (row === undefined) throw new ConflictError(record.id, record.revision, await this.#revisionOf(trx, record.id));
        await this.#writeExtras(trx, record.id, now, extras);
        return rowToRecord(row);
      });
    });
  }

  /**
   * Deletes the record stored at `revision`; its history and audit stay.
   *
   * @throws {@link ConflictError} when the stored revision differs or the id is not stored.
   */
  async delete(id: string, revision: number, options?: StoreCallOptions): Promise<void> {
    return this.#run('delete', options, async () => {
      await this.#knex.transaction(async (trx) => {
        const deleted = await trx(this.#t.qualified.certificates).where({ id, revision }).del();
        if (deleted === 0) throw new ConflictError(id, revision, await this.#revisionOf(trx, id));
      });
    });
  }

  /**
   * Leases up to `limit` due records to `owner` until `now + leaseMs`,
   * earliest `nextActionAt` first (ties by id), each one revision later, in
   * one statement (see the class notes).
   */
  async claimDue(now: Date, owner: string, leaseMs: number, limit: number, options?: StoreCallOptions): Promise<CertificateRecord[]> {
    return this.#run('claimDue', options, async () => {
      assertClaim(now, owner, leaseMs, limit, STORE);
      if (limit === 0) return [];
      const t = now.getTime();
      const until = t + leaseMs;
      const table = this.#t.qualified.certificates;
      // A claimable record has next_action_at ≤ now and no live lease, which is exactly due_at ≤ now
      // (while leased, due_at = lease_until > next_action_at). `next_action_at <= now` changes no result
      // (due_at ≥ next_action_at) but bounds the ordered scan of the claim index even when the
      // planner's statistics are stale. On PostgreSQL, FOR UPDATE SKIP LOCKED re-checks the row's
      // latest version and holds the lock to the end of the statement, so the UPDATE joins on the
      // primary key alone: a second due_at test there let the planner pick a nested loop comparing
      // every due row with every other when many share one due time (a bulk track, an outage).
      const result =
        this.#engine === 'postgresql'
          ? await this.#knex.raw(
              `WITH picked AS (
                 SELECT id FROM ?? WHERE due_at <= ? AND next_action_at <= ? ORDER BY next_action_at, id LIMIT ? FOR UPDATE SKIP LOCKED
               )
               UPDATE ?? AS c SET revision = c.revision + 1, lease_owner = ?, lease_until = ?, due_at = ?, updated_at = ?
               FROM picked WHERE c.id = picked.id
               RETURNING c.*`,
              [table, t, t, limit, table, owner, until, until, t],
            )
          : await this.#knex.raw(
              `UPDATE ?? SET revision = revision + 1, lease_owner = ?, lease_until = ?, due_at = ?, updated_at = ?
               WHERE id IN (SELECT id FROM ?? WHERE due_at <= ? AND next_action_at <= ? ORDER BY next_action_at, id LIMIT ?)
               RETURNING *`,
              [table, owner, until, until, t, table, t, t, limit],
            );
      const rows = (this.#engine === 'postgresql' ? (result as { rows: CertificateRow[] }).rows : (result as CertificateRow[])).map(rowToRecord);
      return rows.sort(
        (a, b) => a.nextActionAt!.getTime() - b.nextActionAt!.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      );
    });
  }

  /** The earliest moment `claimDue` could hand out a record (one index lookup). */
  async nextDueAt(options?: StoreCallOptions): Promise<Date | undefined> {
    return this.#run('nextDueAt', options, async () => {
      const row = (await this.#knex(this.#t.qualified.certificates).whereNotNull('due_at').min({ earliest: 'due_at' }).first()) as
        | { earliest: number | string | null }
        | undefined;
      const earliest = toMs(row?.earliest);
      return earliest === null ? undefined : new Date(earliest);
    });
  }

  /** Past certificates of `id`, newest archived first (at most `historyLimit`); kept after delete. */
  async history(id: string, options?: StoreCallOptions): Promise<IssuedCertificate[]> {
    return this.#run('history', options, async () => {
      const rows = (await this.#knex(this.#t.qualified.history).select('body').where({ certificate_id: id }).orderBy('seq', 'desc')) as { body: string }[];
      return rows.map((r) => issuedIn(JSON.parse(r.body) as Record<string, unknown>));
    });
  }

  /** Audit events filed under `id`, ordered by `at`, equal times in the order written; kept after delete. */
  async audit(id: string, options?: StoreCallOptions): Promise<AuditEvent[]> {
    return this.#run('audit', options, async () => {
      const rows = await this.#knex(this.#t.qualified.audit).select('certificate_id', 'at', 'type', 'data').where({ certificate_id: id }).orderBy([
        { column: 'at', order: 'asc' },
        { column: 'seq', order: 'asc' },
      ]);
      return rows.map(rowToAudit);
    });
  }

  /**
   * Counts of active records by the remaining validity of their current
   * certificate at `now`, as `MemoryStore.countExpiring` defines them, in one
   * aggregate over the expiry index: no record leaves the database.
   */
  async countExpiring(now: Date, thresholds: { warningMs: number; criticalMs: number }, options?: StoreCallOptions): Promise<ExpiryCounts> {
    return this.#run('countExpiring', options, async () => {
      assertTime(now, STORE, 'countExpiring', 'now');
      const t = now.getTime();
      const critical = t + thresholds.criticalMs;
      const warning = t + thresholds.warningMs;
      const row = (await this.#knex(this.#t.qualified.certificates)
        // A literal, not a parameter: a prepared, reused plan still matches the partial expiry index.
        .whereRaw(`status = 'active'`)
        .select(
          this.#knex.raw('SUM(CASE WHEN not_after IS NULL THEN 1 ELSE 0 END) AS none'),
          this.#knex.raw('SUM(CASE WHEN not_after < ? THEN 1 ELSE 0 END) AS expired', [t]),
          this.#knex.raw('SUM(CASE WHEN not_after >= ? AND not_after <= ? THEN 1 ELSE 0 END) AS critical', [t, critical]),
          this.#knex.raw('SUM(CASE WHEN not_after > ? AND not_after <= ? THEN 1 ELSE 0 END) AS warning', [critical, warning]),
          this.#knex.raw('SUM(CASE WHEN not_after > ? AND not_after > ? THEN 1 ELSE 0 END) AS ok', [critical, warning]),
        )
        .first()) as Record<keyof ExpiryCounts, number | string | null>;
      const n = (v: number | string | null | undefined): number => toMs(v) ?? 0;
      return { ok: n(row.ok), warning: n(row.warning), critical: n(row.critical), expired: n(row.expired), none: n(row.none) };
    });
  }

  /**
   * The shared issuance ledger (see {@link CertificateStore.reserveIssuance}).
   * On PostgreSQL each bucket is serialized by a transaction-scoped advisory
   * lock (taken in key order, so two reservations never deadlock); on SQLite
   * the transaction starts with a write, which takes the database's write
   * lock before anything is counted. Orders older than a bucket's window are
   * pruned as they are met.
   */
  async reserveIssuance(reservation: IssuanceReservation, now: Date, options?: StoreCallOptions): Promise<IssuanceDecision> {
    return this.#run('reserveIssuance', options, async () => {
      assertTime(now, STORE, 'reserveIssuance', 'now');
      assertBuckets(reservation, STORE);
      const t = now.getTime();
      const table = this.#t.qualified.issuances;
      const buckets = [...reservation.buckets].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      if (buckets.length === 0) return { granted: true };
      return this.#knex.transaction(async (trx): Promise<IssuanceDecision> => {
        for (const b of buckets) {
          if (this.#engine === 'postgresql') await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [`${table}|${b.key}`]);
          await trx(table).where('bucket', b.key).where('at', '<=', t - b.windowMs).del();
        }
        for (const b of buckets) {
          const rows = (await trx(table).select('at').where('bucket', b.key).where('at', '>', t - b.windowMs).where('at', '<=', t).orderBy('at')) as {
            at: number | string;
          }[];
          if (rows.length >= b.max) {
            return { granted: false, bucket: b.key, retryAt: new Date(toMs(rows[rows.length - b.max]!.at)! + b.windowMs) };
          }
        }
        await trx(table).insert(buckets.map((b) => ({ bucket: b.key, certificate_id: reservation.certificateId, at: t })));
        return { granted: true };
      });
    });
  }

  async #revisionOf(trx: Knex.Transaction, id: string): Promise<number | undefined> {
    const row = (await trx(this.#t.qualified.certificates).select('revision').where({ id }).first()) as { revision: number | string } | undefined;
    return row === undefined ? undefined : toMs(row.revision)!;
  }

  async #writeExtras(trx: Knex.Transaction, id: string, now: Date, extras: UpdateExtras | undefined): Promise<void> {
    const audit = extras?.audit ?? [];
    if (audit.length > 0) await trx(this.#t.qualified.audit).insert(audit.map(auditToRow));
    if (extras?.archive !== undefined && this.#historyLimit > 0) {
      const table = this.#t.qualified.history;
      await trx(table).insert({ certificate_id: id, archived_at: now.getTime(), body: issuedToJson(extras.archive) });
      if (this.#historyLimit !== Infinity) {
        const keep = trx(table).select('seq').where({ certificate_id: id }).orderBy('seq', 'desc').limit(this.#historyLimit);
        await trx(table).where({ certificate_id: id }).whereNotIn('seq', keep).del();
      }
    }
  }

  /** Cancellation, then the work; foreign errors become {@link StoreUnavailableError} with the cause kept. */
  async #run<T>(method: string, options: StoreCallOptions | undefined, work: () => Promise<T>): Promise<T> {
    options?.signal?.throwIfAborted();
    try {
      return await work();
    } catch (e) {
      if (isCertstewardError(e)) throw e;
      const { message, cause } = driverFailure(e);
      throw new StoreUnavailableError(`${STORE}.${method}: ${message}`, { cause });
    }
  }
}
