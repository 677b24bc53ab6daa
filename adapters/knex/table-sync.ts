/**
 * Writing a steward's renewals back to a table it adopted with
 * {@link importTable} (a Hyperledger Fabric wallet table, an inventory of
 * service identities): each renewal puts the new certificate and its expiry
 * in the row, each expiry warning stamps the row's "notified at" column.
 *
 * @module
 */
import type { Knex } from 'knex';
import { driverFailure } from './driver-error.js';
import { preflightTable } from './table-preflight.js';
import { ConfigError, StoreUnavailableError } from '../../src/errors.js';
import { parseCertificates } from '../../src/pki/certificate.js';
import { toPem } from '../../src/pki/pem.js';

/**
 * What a `renewal.succeeded` event must carry for the sync (the Steward's
 * payload has these fields and more).
 *
 * @example
 * ```ts
 * const renewed: TableSyncRenewal = { id: 'user1', at: new Date(), chainPem, notAfter }
 * ```
 */
export interface TableSyncRenewal {
  /** The tracked id: the row's id column, as the importer tracked it. */
  readonly id: string;
  readonly at: Date;
  /** The new chain, leaf first. */
  readonly chainPem: string;
  /** The new certificate's notAfter. */
  readonly notAfter: Date;
}

/**
 * What a `certificate.expiring` event must carry for the sync.
 *
 * @example
 * ```ts
 * const warned: TableSyncExpiring = { id: 'user1', at: new Date() }
 * ```
 */
export interface TableSyncExpiring {
  readonly id: string;
  /** When the steward raised the warning: written to `columns.notifiedAt`. */
  readonly at: Date;
}

/**
 * Where the events come from: a `Steward` fits as it is (its `on` returns the
 * function that unsubscribes). Listeners handle their own failures: they
 * never throw or reject into the emitter.
 *
 * @example
 * ```ts
 * const source: TableSyncSource = steward
 * ```
 */
export interface TableSyncSource {
  on(event: 'renewal.succeeded', listener: (payload: TableSyncRenewal) => void): () => void;
  on(event: 'certificate.expiring', listener: (payload: TableSyncExpiring) => void): () => void;
}

/** The events the sync writes. */
export type TableSyncEvent = 'renewal.succeeded' | 'certificate.expiring';

/**
 * Column names of the synced table.
 *
 * @example
 * ```ts
 * const columns: TableSyncColumns = { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at', notifiedAt: 'certificate_notified_at' }
 * ```
 */
export interface TableSyncColumns {
  /** The column holding the tracked id (the importer's `columns.id`). */
  readonly id: string;
  /** Set to the new certificate on every renewal (see {@link TableSyncOptions.certificateValue}). */
  readonly certificate: string;
  /** When given, set to the new certificate's notAfter on every renewal. */
  readonly expiresAt?: string;
  /** When given, set to the event time of every `certificate.expiring` event. */
  readonly notifiedAt?: string;
}

/**
 * The new certificate, in the forms a certificate column may want.
 *
 * @example
 * ```ts
 * const toCell = (c: TableSyncCertificate) => c.chainPem // keep the whole chain in the row
 * ```
 */
export interface TableSyncCertificate {
  /** The leaf alone, PEM. */
  readonly leafPem: string;
  /** Every certificate of the chain, leaf first, as PEM certificate blocks (nothing else of the event's text). */
  readonly chainPem: string;
  /** The leaf, DER (for a `bytea` / BLOB column). */
  readonly leafDer: Uint8Array;
}

/**
 * A write the sync could not make, as {@link TableSyncOptions.onError}
 * receives it. The steward is not affected: the renewal stands in its store,
 * only the host's table lags behind.
 *
 * @example
 * ```ts
 * onError: (f) => log.error(f.message, { id: f.id, event: f.event, cause: f.error })
 * ```
 */
export interface TableSyncFailure {
  readonly event: TableSyncEvent;
  /** The tracked id the write was for. */
  readonly id: string;
  /** The event's time. */
  readonly at: Date;
  /**
   * A {@link StoreUnavailableError} when the UPDATE failed (its `cause` is the
   * driver's error), a {@link ConfigError} for an event without a readable
   * chain or time, or what `renewalValues` / `certificateValue` / `dateValue` threw.
   */
  readonly error: unknown;
  readonly message: string;
}

/**
 * A write the sync made, as {@link TableSyncOptions.onWrite} receives it.
 *
 * @example
 * ```ts
 * onWrite: (w) => { if (w.updated === 0) log.warn(`${w.id} is not in the wallet table`) }
 * ```
 */
export interface TableSyncWrite {
  readonly event: TableSyncEvent;
  readonly id: string;
  readonly at: Date;
  /** Rows updated: 0 when no row has this id (within `where`): a certificate the table does not hold. */
  readonly updated: number;
}

/**
 * Options of {@link syncTable}.
 *
 * @example
 * ```ts
 * const options: TableSyncOptions = {
 *   table: 'fabric.wallet',
 *   columns: { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at', notifiedAt: 'certificate_notified_at' },
 *   where: { type: 'X.509' },
 *   onError: (f) => log.error(f.message, f.error),
 * }
 * ```
 */
export interface TableSyncOptions {
  /** The table, optionally schema-qualified (`schema.table`). */
  readonly table: string;
  readonly columns: TableSyncColumns;
  /**
   * Every update carries it (column values or a Knex `where` callback), so a
   * row outside it is never written even when it shares an id: give the
   * importer's `where`.
   */
  readonly where?: Readonly<Record<string, unknown>> | ((builder: Knex.QueryBuilder) => void);
  /**
   * Required: how a write that failed is reported (there is no default:
   * a library does not write to the console). It is called, never thrown at
   * the steward; an exception it throws is dropped.
   */
  readonly onError: (failure: TableSyncFailure) => void;
  /** Called after each write (logs, metrics, tests); an exception it throws is dropped. */
  readonly onWrite?: (write: TableSyncWrite) => void;
  /**
   * More columns to set in the same UPDATE as a renewal, by name (the sync's
   * own columns win on a clash). For a table that also keeps the private key
   * (a Fabric wallet), so the row never holds a certificate with the wrong
   * key: read the new key with `steward.tlsMaterial(id)`, which already
   * returns it when `renewal.succeeded` is emitted. A throw or rejection goes
   * to `onError` and nothing of that renewal is written.
   */
  readonly renewalValues?: (renewal: TableSyncRenewal) => Readonly<Record<string, unknown>> | Promise<Readonly<Record<string, unknown>>>;
  /** The value written to `columns.certificate` (default: the leaf PEM, as a Fabric wallet keeps it). */
  readonly certificateValue?: (certificate: TableSyncCertificate) => unknown;
  /** How times are written to `columns.expiresAt` and `columns.notifiedAt` (default: the `Date`, which suits a PostgreSQL `timestamptz`; better-sqlite3 stores it as epoch ms). */
  readonly dateValue?: (at: Date) => unknown;
}

/**
 * The running sync: call it to unsubscribe.
 *
 * @example
 * ```ts
 * const sync = await syncTable(knex, steward, options)
 * // … at shutdown, after steward.stop():
 * await sync()
 * ```
 */
export interface TableSync {
  /** Unsubscribes at once; resolves when the writes already started have finished (never rejects). */
  (): Promise<void>;
  /** Resolves when every write started so far has finished (never rejects); the sync keeps running. */
  readonly flush: () => Promise<void>;
}

const NAME = 'syncTable';

interface Resolved {
  readonly knex: Knex;
  readonly options: TableSyncOptions;
  readonly columns: TableSyncColumns;
}

/**
 * Keeps a table of certificates in step with a steward that adopted it
 * ({@link importTable}): subscribes to the steward's events and updates the
 * row whose `columns.id` is the event's id (and that `where` admits):
 *
 * - `renewal.succeeded`: `columns.certificate` gets the new certificate (the
 *   leaf PEM by default: only certificate blocks, never a key) and
 *   `columns.expiresAt` its notAfter, in one UPDATE;
 * - `certificate.expiring`: `columns.notifiedAt` gets the event time.
 *
 * No other column is written (unless `renewalValues` names more). Writes for one id are made one at a time, in
 * event order. A write that fails goes to `onError` and is not retried (the
 * next renewal writes the row again); it never reaches or stops the steward.
 * Only events of this process's steward are seen: run a sync wherever a
 * steward runs.
 *
 * The returned promise settles once the table and its columns have been
 * checked; the subscription starts at once, so events emitted meanwhile are
 * written after the check (or dropped when it fails).
 *
 * @param knex - the host's Knex instance (PostgreSQL and SQLite are tested).
 * @param source - the steward (anything with `on(event, listener)` returning an unsubscribe function).
 * @param options - the table, its columns and `onError`.
 * @throws {@link ConfigError} for invalid options, a missing table or column, or a bad `where`.
 * @throws {@link StoreUnavailableError} when the database cannot be reached for the check.
 * @example
 * ```ts
 * import { importTable, syncTable } from 'certsteward/knex'
 * const columns = { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at' }
 * await importTable(knex, steward, { table: 'wallet', columns: { ...columns, revoked: 'revoked' }, authority: 'fabric' })
 * const sync = await syncTable(knex, steward, {
 *   table: 'wallet',
 *   columns: { ...columns, notifiedAt: 'certificate_notified_at' },
 *   onError: (f) => log.error(f.message, f.error),
 * })
 * await steward.start()
 * ```
 */
export async function syncTable(knex: Knex, source: TableSyncSource, options: TableSyncOptions): Promise<TableSync> {
  const r = resolve(knex, source, options);
  const pending = new Map<string, Promise<void>>();
  const checking = preflightTable(r.knex, {
    tool: NAME,
    table: r.options.table,
    columns: { id: r.columns.id, certificate: r.columns.certificate, expiresAt: r.columns.expiresAt, notifiedAt: r.columns.notifiedAt },
    ...(r.options.where !== undefined ? { where: { value: r.options.where, query: () => restricted(r).select(r.columns.id) } } : {}),
  });
  const ready = checking.then(
    () => true,
    () => false,
  );
  let active = true;

  const enqueue = (event: TableSyncEvent, payload: { id: unknown; at: unknown }, write: () => Promise<number>): void => {
    if (!active) return;
    const id = typeof payload?.id === 'string' ? payload.id : String(payload?.id);
    const at = payload?.at instanceof Date ? payload.at : new Date(NaN);
    const previous = pending.get(id) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (!(await ready)) return;
      try {
        const updated = await write();
        report(options.onWrite, { event, id, at, updated });
      } catch (error) {
        report(options.onError, { event, id, at, error, message: `${NAME}: the ${event} of "${id}" was not written to "${options.table}": ${messageOf(error)}` });
      }
    });
    pending.set(id, next);
    void next.then(() => {
      if (pending.get(id) === next) pending.delete(id);
    });
  };

  const offRenewal = source.on('renewal.succeeded', (e) =>
    enqueue('renewal.succeeded', e, async () => {
      const certificate = certificateOf(e?.chainPem, e?.id);
      if (!(e?.notAfter instanceof Date) || Number.isNaN(e.notAfter.getTime())) {
        throw new ConfigError('notAfter', e?.notAfter, `${NAME}: the renewal of "${String(e?.id)}" carries no notAfter date`);
      }
      const extra = options.renewalValues ? await options.renewalValues(e) : undefined;
      if (extra !== undefined && (typeof extra !== 'object' || extra === null || Array.isArray(extra))) {
        throw new ConfigError('renewalValues', extra, `${NAME}: renewalValues must return an object of column values`);
      }
      const changes: Record<string, unknown> = {
        ...extra,
        [r.columns.certificate]: options.certificateValue ? options.certificateValue(certificate) : certificate.leafPem,
      };
      if (r.columns.expiresAt !== undefined) changes[r.columns.expiresAt] = dateOf(options, e.notAfter);
      return update(r, e.id, changes);
    }),
  );
  const offExpiring =
    r.columns.notifiedAt === undefined
      ? () => undefined
      : source.on('certificate.expiring', (e) =>
          enqueue('certificate.expiring', e, async () => {
            if (!(e?.at instanceof Date) || Number.isNaN(e.at.getTime())) {
              throw new ConfigError('at', e?.at, `${NAME}: the expiry warning of "${String(e?.id)}" carries no time`);
            }
            return update(r, e.id, { [r.columns.notifiedAt!]: dateOf(options, e.at) });
          }),
        );

  const flush = async (): Promise<void> => {
    // Writes queued while waiting are waited for too.
    while (pending.size > 0) await Promise.all([...pending.values()]);
  };
  const stop = async (): Promise<void> => {
    if (active) {
      active = false;
      offRenewal();
      offExpiring();
    }
    await flush();
  };

  try {
    await checking;
  } catch (e) {
    await stop();
    throw e;
  }
  return Object.assign(stop, { flush }) as TableSync;
}

function report<T>(callback: ((value: T) => void) | undefined, value: T): void {
  try {
    callback?.(value);
  } catch {
    // A reporting callback that throws has nowhere further to go; the steward must not see it.
  }
}

function dateOf(options: TableSyncOptions, at: Date): unknown {
  return options.dateValue ? options.dateValue(at) : at;
}

function certificateOf(chainPem: unknown, id: unknown): TableSyncCertificate {
  let chain;
  try {
    chain = parseCertificates(chainPem as string);
  } catch (e) {
    throw new ConfigError('chainPem', undefined, `${NAME}: the renewed chain of "${String(id)}" cannot be read: ${messageOf(e)}`, { cause: e });
  }
  const leaf = chain[0];
  if (!leaf) throw new ConfigError('chainPem', undefined, `${NAME}: the renewal of "${String(id)}" carries no certificate`);
  return { leafPem: toPem(leaf.der), chainPem: chain.map((c) => toPem(c.der)).join(''), leafDer: leaf.der };
}

function restricted(r: Resolved): Knex.QueryBuilder {
  const q = r.knex(r.options.table);
  const { where } = r.options;
  if (typeof where === 'function') q.where((builder) => where(builder));
  else if (where !== undefined) q.where(where as Record<string, unknown>);
  return q;
}

async function update(r: Resolved, id: string, changes: Record<string, unknown>): Promise<number> {
  try {
    const updated = await restricted(r)
      .where(r.columns.id, id)
      .update(changes as Record<string, Knex.Value>);
    return Number(updated);
  } catch (e) {
    const { message, cause } = driverFailure(e);
    throw new StoreUnavailableError(`${NAME}: updating "${id}" in "${r.options.table}" failed: ${message}`, { cause });
  }
}

function resolve(knex: Knex, source: TableSyncSource, options: TableSyncOptions): Resolved {
  if (typeof knex !== 'function' || typeof (knex as { raw?: unknown }).raw !== 'function') {
    throw new ConfigError('knex', knex, `${NAME}: pass the host's Knex instance (the function knex(config) returns)`);
  }
  if (typeof source !== 'object' || source === null || typeof source.on !== 'function') {
    throw new ConfigError('source', source, `${NAME}: source must have an on(event, listener) method: pass the Steward`);
  }
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('options', options, `${NAME}: options are required ({ table, columns, onError })`);
  }
  const { table, columns } = options;
  if (typeof table !== 'string' || table.trim() !== table || !/^[^.]+(\.[^.]+)?$/.test(table)) {
    throw new ConfigError('table', table, `${NAME}: table must be a table name or "schema.table", got ${JSON.stringify(table)}`);
  }
  if (typeof columns !== 'object' || columns === null) {
    throw new ConfigError('columns', columns, `${NAME}: columns must name at least the id and certificate columns: { id: 'label', certificate: 'certificate' }`);
  }
  const roles = ['id', 'certificate', 'expiresAt', 'notifiedAt'] as const;
  const seen = new Map<string, string>();
  for (const role of roles) {
    const name = columns[role];
    if (name === undefined && (role === 'expiresAt' || role === 'notifiedAt')) continue;
    if (typeof name !== 'string' || name.trim() === '' || name.includes('.')) {
      throw new ConfigError(`columns.${role}`, name, `${NAME}: columns.${role} must be a column name of "${table}" (not qualified), got ${JSON.stringify(name)}`);
    }
    const clash = seen.get(name);
    // Writing one column for two roles would overwrite the id, or the certificate, with a date.
    if (clash !== undefined) throw new ConfigError(`columns.${role}`, name, `${NAME}: columns.${role} and columns.${clash} are both "${name}": name two different columns`);
    seen.set(name, role);
  }
  if (typeof options.onError !== 'function') {
    throw new ConfigError(
      'onError',
      options.onError,
      `${NAME}: onError is required: a function that reports a write the sync could not make (for example to your logger); without it a failed write would go unnoticed`,
    );
  }
  for (const name of ['onWrite', 'renewalValues', 'certificateValue', 'dateValue'] as const) {
    const fn = options[name];
    if (fn !== undefined && typeof fn !== 'function') throw new ConfigError(name, fn, `${NAME}: ${name} must be a function, got ${typeof fn}`);
  }
  const { where } = options;
  if (where !== undefined && typeof where !== 'function' && (typeof where !== 'object' || where === null || Array.isArray(where))) {
    throw new ConfigError('where', where, `${NAME}: where must be an object of column values ({ type: 'X.509' }) or a Knex where callback`);
  }
  return { knex, options, columns };
}


function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
