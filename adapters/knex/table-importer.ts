/**
 * Adopting a table of certificates the host already has (a Hyperledger
 * Fabric wallet table, an inventory of service identities): every row's
 * certificate is parsed and tracked, the row's expiry column is back-filled,
 * and every row that could not be adopted is reported with the reason,
 * without stopping the run and without touching the row.
 *
 * @module
 */
import type { Knex } from 'knex';
import { driverFailure } from './driver-error.js';
import { preflightTable } from './table-preflight.js';
import { ConfigError, StoreUnavailableError, isCertstewardError } from '../../src/errors.js';
import { parseCertificates, type CertificateInfo } from '../../src/pki/certificate.js';
import { toPem } from '../../src/pki/pem.js';
import type { KeyAlgorithm, KeyRef } from '../../src/ports/key-store.js';

/**
 * One row of the imported table, as the Knex driver returns it (column name →
 * value): what the per-row options (`authority`, `labels`, …) are given.
 *
 * @example
 * ```ts
 * const labelsOf = (row: TableImportRow) => ({ wallet: 'org1', type: String(row['type']) })
 * ```
 */
export type TableImportRow = Readonly<Record<string, unknown>>;

/**
 * A subject alternative name read from an adopted certificate, in the form
 * `track()` takes.
 *
 * @example
 * ```ts
 * const name: TableImportName = { type: 'dns', value: 'peer0.org1.example.com' }
 * ```
 */
export interface TableImportName {
  readonly type: 'dns' | 'ip' | 'email' | 'uri';
  readonly value: string;
}

/**
 * The key policy for the certificate's future renewals (the key in the
 * table, if any, is never read).
 *
 * @example
 * ```ts
 * const key: TableImportKeyPolicy = { algorithm: 'ECDSA-P256', rotate: 'always' }
 * ```
 */
export interface TableImportKeyPolicy {
  readonly algorithm?: KeyAlgorithm;
  readonly rotate?: 'always' | 'never';
}

/**
 * What the importer hands to {@link TableImportTarget.track} for each row:
 * the part of the Steward's `TrackInput` that adopts an existing
 * certificate. The names (`commonName`, `subjectAltNames`) are read from the
 * certificate itself, so renewals ask for what the certificate certifies.
 *
 * @typeParam R - the target's renewal policy type (the Steward's `TimingPolicy`).
 * @example
 * ```ts
 * const input: TableImportTrackInput = {
 *   id: 'user1', authority: 'fabric-ca', commonName: 'user1', subjectAltNames: [],
 *   existing: { chainPem },
 * }
 * ```
 */
export interface TableImportTrackInput<R = unknown> {
  /** The row's id column, as text. */
  readonly id: string;
  readonly authority: string;
  /** The leaf's subject CN (the most specific one), when it has one. */
  readonly commonName?: string;
  /** The leaf's DNS, IP, email and URI names (possibly none: a Fabric identity is often named by its CN alone). */
  readonly subjectAltNames: readonly TableImportName[];
  /** The row's certificate chain, leaf first, re-encoded as PEM certificate blocks only (nothing else of the cell is copied). */
  readonly existing: { readonly chainPem: string; readonly keyRef?: KeyRef };
  readonly labels?: Readonly<Record<string, string>>;
  readonly renewal?: R;
  readonly key?: TableImportKeyPolicy;
}

/**
 * Where the importer tracks certificates: a `Steward` fits as it is. Its
 * `track` must reject an id it already tracks with a `ConflictError`, which
 * is what makes a second run harmless.
 *
 * @typeParam R - the renewal policy type `track` takes.
 * @example
 * ```ts
 * const target: TableImportTarget<TimingPolicy> = createSteward({ store, authorities, keys })
 * ```
 */
export interface TableImportTarget<R = unknown> {
  // A property (not a method) so a target is checked strictly: the input built here must be one `track` accepts.
  readonly track: (input: TableImportTrackInput<R>) => Promise<unknown>;
}

/**
 * Column names of the imported table.
 *
 * @example
 * ```ts
 * const columns: TableImportColumns = { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at', revoked: 'revoked' }
 * ```
 */
export interface TableImportColumns {
  /** The certificate's id in the target; also the column the scan is ordered and paged by (index it). */
  readonly id: string;
  /** The certificate: PEM text (a chain, leaf first, or one certificate), or DER / PEM bytes. */
  readonly certificate: string;
  /** When given, set to the certificate's notAfter for every row tracked by this run, and for no other row. */
  readonly expiresAt?: string;
  /** When given, rows whose value is truthy (`true`, a non-zero number, a date, text other than `''`, `0`, `f`, `false`, `n`, `no`) are skipped. */
  readonly revoked?: string;
}

/**
 * Options of {@link importTable}.
 *
 * @typeParam R - the renewal policy type of the target.
 * @example
 * ```ts
 * const options: TableImportOptions = {
 *   table: 'fabric.wallet',
 *   columns: { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at', revoked: 'revoked' },
 *   where: { type: 'X.509' },
 *   authority: 'fabric-ca',
 *   labels: (row) => ({ source: 'wallet', mspId: String(row['msp_id']) }),
 * }
 * ```
 */
export interface TableImportOptions<R = unknown> {
  /** The table, optionally schema-qualified (`schema.table`). */
  readonly table: string;
  readonly columns: TableImportColumns;
  /** The authority that will renew each certificate: a name, or a function of the row. */
  readonly authority: string | ((row: TableImportRow) => string);
  /** Labels of each tracked certificate. */
  readonly labels?: (row: TableImportRow) => Readonly<Record<string, string>> | undefined;
  /** Renewal timing of each tracked certificate (default: the target's). */
  readonly renewal?: (row: TableImportRow) => R | undefined;
  /** Key policy for each certificate's renewals (default: the target's). */
  readonly key?: (row: TableImportRow) => TableImportKeyPolicy | undefined;
  /**
   * The key of each row's certificate, already in the target's key store (for
   * example moved there with `KeyStore.import` from the row's key column), so
   * the target holds the current key: a renewal can authenticate with it
   * (Fabric re-enrollment) and `rotate: 'never'` keeps it. A reference whose
   * public key is not the certificate's fails the row (`key-mismatch`).
   */
  readonly keyRef?: (row: TableImportRow) => KeyRef | undefined | Promise<KeyRef | undefined>;
  /**
   * Imports only the rows this restricts to: column values (`{ type: 'X.509' }`)
   * or a Knex `where` callback. Back-fill updates carry it too, so a row
   * outside it is never written even when it shares an id.
   */
  readonly where?: Readonly<Record<string, unknown>> | ((builder: Knex.QueryBuilder) => void);
  /** How the notAfter is written to `columns.expiresAt` (default: the `Date`, which suits a PostgreSQL `timestamptz`; better-sqlite3 stores it as epoch ms). */
  readonly expiresAtValue?: (notAfter: Date) => unknown;
  /** Rows read per query (default 500): pages follow the id column (`id > last`), never OFFSET. */
  readonly batchSize?: number;
  /** Stops the run between rows; the promise rejects with the signal's reason. Rows already tracked stay tracked and back-filled. */
  readonly signal?: AbortSignal;
  /** Called with each row's outcome as it is known (progress, logs). An exception it throws stops the run. */
  readonly onRow?: (result: TableImportRowResult) => void;
}

/**
 * Why a row was skipped: it is `revoked`, or its id is `already-tracked` by
 * the target (a second run, or an id tracked otherwise): nothing was changed.
 *
 * @example
 * ```ts
 * const rerun = report.problems.every((p) => p.outcome === 'failed' || p.reason === 'already-tracked' || p.reason === 'revoked')
 * ```
 */
export type TableImportSkipReason = 'revoked' | 'already-tracked';

/**
 * Why a row failed, so that someone has to look at it:
 * - `missing-id`: the id column is NULL, empty, or not text or a number;
 * - `duplicate`: the id is on more than one (not revoked) row: none of them is tracked;
 * - `missing-certificate`: the certificate column is NULL or blank;
 * - `unparseable-certificate`: the certificate column holds no readable certificate;
 * - `track-failed`: the target refused the row, or a per-row option threw.
 *
 * @example
 * ```ts
 * const fixable: TableImportFailReason[] = ['missing-certificate', 'unparseable-certificate', 'duplicate']
 * ```
 */
export type TableImportFailReason = 'missing-id' | 'duplicate' | 'missing-certificate' | 'unparseable-certificate' | 'key-mismatch' | 'track-failed';

/**
 * Every reason a row was not tracked.
 *
 * @example
 * ```ts
 * const needsAttention = (r: TableImportReason) => r !== 'already-tracked'
 * ```
 */
export type TableImportReason = TableImportSkipReason | TableImportFailReason;

/**
 * A row that was not tracked, and why. Its row in the table was not changed.
 *
 * @example
 * ```ts
 * for (const p of report.problems) console.warn(`${p.id ?? '(no id)'}: ${p.reason}: ${p.message}`)
 * ```
 */
export type TableImportProblem =
  | {
      readonly outcome: 'skipped';
      readonly id: string;
      readonly reason: TableImportSkipReason;
      readonly message: string;
      /** The error behind it, when there is one (the target's `ConflictError`). */
      readonly cause?: unknown;
    }
  | {
      readonly outcome: 'failed';
      /** `null` for rows without a usable id. Rows whose id is NULL are reported together, as one problem saying how many. */
      readonly id: string | null;
      readonly reason: TableImportFailReason;
      readonly message: string;
      /** The error behind it (a `CertificateParseError`, the target's error), when there is one. */
      readonly cause?: unknown;
    };

/**
 * A row's outcome, as {@link TableImportOptions.onRow} receives it.
 *
 * @example
 * ```ts
 * onRow: (r) => { if (r.outcome === 'tracked') log.info(`${r.id} expires ${r.notAfter.toISOString()}`) }
 * ```
 */
export type TableImportRowResult =
  | {
      readonly outcome: 'tracked';
      readonly id: string;
      /** The leaf's serial number (lowercase hex). */
      readonly serialNumber: string;
      readonly notAfter: Date;
      /** Whether `columns.expiresAt` of the row was written. */
      readonly backfilled: boolean;
    }
  | TableImportProblem;

/**
 * What one {@link importTable} run did. `scanned = tracked + skipped + failed`.
 *
 * @example
 * ```ts
 * if (report.failed > 0) console.table(report.problems.filter((p) => p.outcome === 'failed'))
 * ```
 */
export interface TableImportReport {
  /** Rows read (those the `where` option excludes are not). */
  readonly scanned: number;
  /** Rows whose certificate was tracked by this run. */
  readonly tracked: number;
  /** Tracked rows whose expiry column was written. */
  readonly backfilled: number;
  readonly skipped: number;
  readonly failed: number;
  /** Every row skipped or failed, in table order. */
  readonly problems: readonly TableImportProblem[];
}

const NAME = 'importTable';
const SAN_TYPES: ReadonlySet<string> = new Set(['dns', 'ip', 'email', 'uri']);
const FALSE_TEXT: ReadonlySet<string> = new Set(['', '0', 'f', 'false', 'n', 'no']);

interface Resolved<R> {
  readonly knex: Knex;
  readonly target: TableImportTarget<R>;
  readonly options: TableImportOptions<R>;
  readonly columns: TableImportColumns;
  readonly batchSize: number;
}

/**
 * Adopts every row of a table of certificates: scans it in pages ordered by
 * the id column, parses each row's certificate (a PEM chain, leaf first, one
 * PEM certificate, or DER bytes), tracks it in `target` under the row's id,
 * then writes its notAfter to `columns.expiresAt` when that column is given.
 *
 * A row that cannot be adopted (see {@link TableImportReason}) is reported
 * and left as it was; the run goes on. Rows are tracked one at a time, in id
 * order. Running it again is harmless: rows already tracked are skipped as
 * `already-tracked` and not written.
 *
 * The run stops (the promise rejects) only for: invalid options or a missing
 * table, column or a bad `where` ({@link ConfigError}, before anything is
 * tracked); the table's database failing ({@link StoreUnavailableError}); the
 * target's own store failing (its `store-unavailable` or `stopped` error, as
 * thrown); `signal`; an exception from `onRow`. Rows tracked until then stay
 * tracked and back-filled, so the next run carries on where this one ended.
 *
 * @param knex - the host's Knex instance (any engine; PostgreSQL and SQLite are tested).
 * @param target - where certificates are tracked: a `Steward`.
 * @param options - the table, its columns, and how to track each row.
 * @throws {@link ConfigError} naming the option, before anything is tracked.
 * @throws {@link StoreUnavailableError} when reading or back-filling the table fails.
 * @example
 * ```ts
 * import { importTable } from 'certsteward/knex'
 * const report = await importTable(knex, steward, {
 *   table: 'fabric.wallet',
 *   columns: { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at', revoked: 'revoked' },
 *   where: { type: 'X.509' },
 *   authority: 'fabric-ca',
 * })
 * console.log(`${report.tracked} tracked, ${report.failed} to look at`)
 * for (const p of report.problems) if (p.outcome === 'failed') console.warn(p.id, p.reason, p.message)
 * ```
 */
export async function importTable<R = unknown>(knex: Knex, target: TableImportTarget<R>, options: TableImportOptions<R>): Promise<TableImportReport> {
  const r = resolve(knex, target, options);
  options.signal?.throwIfAborted();
  await preflightTable(r.knex, {
    tool: NAME,
    table: r.options.table,
    columns: { id: r.columns.id, certificate: r.columns.certificate, expiresAt: r.columns.expiresAt, revoked: r.columns.revoked },
    ...(r.options.where !== undefined ? { where: { value: r.options.where, query: () => restricted(r).select(r.columns.id) } } : {}),
  });
  const counts = { scanned: 0, tracked: 0, backfilled: 0, skipped: 0, failed: 0 };
  const problems: TableImportProblem[] = [];
  const record = (result: TableImportRowResult, rows = 1): void => {
    counts.scanned += rows;
    if (result.outcome === 'tracked') {
      counts.tracked++;
      if (result.backfilled) counts.backfilled++;
    } else {
      counts[result.outcome] += rows;
      problems.push(result);
    }
    options.onRow?.(result);
  };

  let cursor: { readonly value: unknown } | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const page = await readPage(r, cursor);
    if (page.rows.length === 0) break;
    await adoptPage(r, page.rows, record);
    if (page.last) break;
    cursor = { value: page.cursor };
  }

  // NULL ids cannot be paged by id (nor told apart), so they are counted, not listed.
  const nulls = await readNullIds(r);
  if (nulls > 0) {
    record(
      {
        outcome: 'failed',
        id: null,
        reason: 'missing-id',
        message: `${nulls} row(s) of "${options.table}" have no value in the id column "${r.columns.id}": give each an id and run again`,
      },
      nulls,
    );
  }
  return { ...counts, problems };
}

function resolve<R>(knex: Knex, target: TableImportTarget<R>, options: TableImportOptions<R>): Resolved<R> {
  if (typeof knex !== 'function' || typeof (knex as { raw?: unknown }).raw !== 'function') {
    throw new ConfigError('knex', knex, `${NAME}: pass the host's Knex instance (the function knex(config) returns)`);
  }
  if (typeof target !== 'object' || target === null || typeof target.track !== 'function') {
    throw new ConfigError('target', target, `${NAME}: target must have a track(input) method: pass the Steward`);
  }
  if (typeof options !== 'object' || options === null) throw new ConfigError('options', options, `${NAME}: options are required ({ table, columns, authority })`);
  const { table, columns } = options;
  if (typeof table !== 'string' || table.trim() !== table || !/^[^.]+(\.[^.]+)?$/.test(table)) {
    throw new ConfigError('table', table, `${NAME}: table must be a table name or "schema.table", got ${JSON.stringify(table)}`);
  }
  if (typeof columns !== 'object' || columns === null) {
    throw new ConfigError('columns', columns, `${NAME}: columns must name at least the id and certificate columns: { id: 'label', certificate: 'certificate' }`);
  }
  for (const role of ['id', 'certificate', 'expiresAt', 'revoked'] as const) {
    const name = columns[role];
    if (name === undefined && (role === 'expiresAt' || role === 'revoked')) continue;
    if (typeof name !== 'string' || name.trim() === '' || name.includes('.')) {
      throw new ConfigError(`columns.${role}`, name, `${NAME}: columns.${role} must be a column name of "${table}" (not qualified), got ${JSON.stringify(name)}`);
    }
  }
  for (const role of ['expiresAt', 'revoked'] as const) {
    const name = columns[role];
    const clash = (['id', 'certificate'] as const).find((other) => columns[other] === name);
    // Back-filling the id or certificate column would destroy the data being imported.
    if (clash !== undefined) throw new ConfigError(`columns.${role}`, name, `${NAME}: columns.${role} and columns.${clash} are both "${String(name)}": name two different columns`);
  }
  if (columns.expiresAt !== undefined && columns.expiresAt === columns.revoked) {
    throw new ConfigError('columns.expiresAt', columns.expiresAt, `${NAME}: columns.expiresAt and columns.revoked are both "${columns.expiresAt}": name two different columns`);
  }
  const { authority } = options;
  if (!(typeof authority === 'function' || (typeof authority === 'string' && authority !== ''))) {
    throw new ConfigError('authority', authority, `${NAME}: authority must be the name of an authority of the target, or a function of the row returning one`);
  }
  for (const name of ['labels', 'renewal', 'key', 'expiresAtValue', 'onRow'] as const) {
    const fn = options[name];
    if (fn !== undefined && typeof fn !== 'function') throw new ConfigError(name, fn, `${NAME}: ${name} must be a function (of the row), got ${typeof fn}`);
  }
  const { where } = options;
  if (where !== undefined && typeof where !== 'function' && (typeof where !== 'object' || where === null || Array.isArray(where))) {
    throw new ConfigError('where', where, `${NAME}: where must be an object of column values ({ type: 'X.509' }) or a Knex where callback`);
  }
  const batchSize = options.batchSize ?? 500;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new ConfigError('batchSize', batchSize, `${NAME}: batchSize must be a positive integer, got ${String(batchSize)}`);
  }
  const { signal } = options;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.throwIfAborted !== 'function')) {
    throw new ConfigError('signal', signal, `${NAME}: signal must be an AbortSignal`);
  }
  return { knex, target, options, columns, batchSize };
}

/** The query restricted by `options.where`. */
function restricted<R>(r: Resolved<R>): Knex.QueryBuilder {
  const q = r.knex(r.options.table);
  const { where } = r.options;
  if (typeof where === 'function') q.where((builder) => where(builder));
  else if (where !== undefined) q.where(where as Record<string, unknown>);
  return q;
}

/** Runs a query on the host's table; a failure of the database becomes a StoreUnavailableError naming the table. */
async function onTable<R, T>(r: Resolved<R>, what: string, query: PromiseLike<T>): Promise<T> {
  try {
    return await query;
  } catch (e) {
    const { message, cause } = driverFailure(e);
    throw new StoreUnavailableError(`${NAME}: ${what} "${r.options.table}" failed: ${message}`, { cause });
  }
}


/** A value's identity for telling duplicate ids apart in JavaScript as the database does (deterministic collations). */
function keyOf(value: unknown): string {
  if (value instanceof Uint8Array) return `b:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if (value instanceof Date) return `d:${value.getTime()}`;
  return `${typeof value}:${String(value)}`;
}

/**
 * The next page of rows with an id, in id order after `cursor`. A full page
 * is completed with every row sharing its last id, so that copies of one id
 * (a table without a unique id) are always seen together and `id > cursor`
 * skips none of them.
 */
async function readPage<R>(
  r: Resolved<R>,
  cursor: { readonly value: unknown } | undefined,
): Promise<{ rows: TableImportRow[]; cursor: unknown; last: boolean }> {
  const id = r.columns.id;
  const q = restricted(r).select('*').whereNotNull(id).orderBy(id).limit(r.batchSize);
  if (cursor !== undefined) q.where(id, '>', cursor.value as Knex.Value);
  const rows = (await onTable(r, 'reading', q)) as TableImportRow[];
  if (rows.length < r.batchSize) return { rows, cursor: undefined, last: true };
  const lastId = rows[rows.length - 1]![id];
  const same = (await onTable(r, 'reading', restricted(r).select('*').where(id, lastId as Knex.Value))) as TableImportRow[];
  const key = keyOf(lastId);
  return { rows: [...rows.filter((row) => keyOf(row[id]) !== key), ...same], cursor: lastId, last: false };
}

async function readNullIds<R>(r: Resolved<R>): Promise<number> {
  const row = (await onTable(r, 'counting rows without an id in', restricted(r).whereNull(r.columns.id).count({ n: '*' }).first())) as
    | { n: number | string | bigint }
    | undefined;
  return Number(row?.n ?? 0);
}

/** The row's id as the target's id, or why it has none. */
function idOf(value: unknown): string | { problem: string } {
  if (typeof value === 'string') return value === '' ? { problem: 'is empty' } : value;
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint') return String(value);
  return { problem: `holds ${value instanceof Uint8Array ? 'bytes' : typeof value}, not text or a number` };
}

function isRevoked(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'bigint') return value !== 0n;
  if (typeof value === 'string') return !FALSE_TEXT.has(value.trim().toLowerCase());
  return true;
}

async function adoptPage<R>(r: Resolved<R>, rows: readonly TableImportRow[], record: (result: TableImportRowResult) => void): Promise<void> {
  const { columns, options } = r;
  // Revoked rows first step aside, so that an old revoked row does not make its live successor a duplicate.
  const live = (row: TableImportRow): boolean => columns.revoked === undefined || !isRevoked(row[columns.revoked]);
  const copies = new Map<string, number>();
  for (const row of rows) {
    const id = idOf(row[columns.id]);
    if (typeof id === 'string' && live(row)) copies.set(id, (copies.get(id) ?? 0) + 1);
  }
  for (const row of rows) {
    options.signal?.throwIfAborted();
    const raw = row[columns.id];
    const id = idOf(raw);
    if (typeof id !== 'string') {
      record({
        outcome: 'failed',
        id: typeof raw === 'string' ? raw : null,
        reason: 'missing-id',
        message: `a row of "${options.table}" has an id column "${columns.id}" that ${id.problem}: give it an id (text or a number) and run again`,
      });
    } else if (!live(row)) {
      record({
        outcome: 'skipped',
        id,
        reason: 'revoked',
        message: `row "${id}" is marked revoked (column "${columns.revoked!}"): a revoked certificate is not tracked, so it is never renewed`,
      });
    } else if ((copies.get(id) ?? 0) > 1) {
      record({
        outcome: 'failed',
        id,
        reason: 'duplicate',
        message: `the id "${id}" is on ${copies.get(id)!} rows of "${options.table}" (column "${columns.id}"), so none of them is tracked: give each row its own id, or exclude the extra rows with the where option`,
      });
    } else {
      record(await adoptRow(r, row, id, raw));
    }
  }
}

function certificateProblem(id: string, column: string, message: string, reason: 'missing-certificate' | 'unparseable-certificate', cause?: unknown): TableImportProblem {
  return {
    outcome: 'failed',
    id,
    reason,
    message:
      reason === 'missing-certificate'
        ? `row "${id}" has no certificate in column "${column}": fill it in (PEM, leaf first) or exclude the row with the where option`
        : `row "${id}": column "${column}" holds no readable certificate (${message}): put the certificate there (PEM, leaf first, or DER) or exclude the row with the where option`,
    ...(cause !== undefined ? { cause } : {}),
  };
}

/** Parses, tracks and back-fills one row whose id is known to be unique and not revoked. */
async function adoptRow<R>(r: Resolved<R>, row: TableImportRow, id: string, raw: unknown): Promise<TableImportRowResult> {
  const { columns, options } = r;
  const cell = row[columns.certificate];
  if (cell === null || cell === undefined) return certificateProblem(id, columns.certificate, '', 'missing-certificate');
  let chain: CertificateInfo[];
  try {
    chain = parseCertificates(cell as string | Uint8Array);
  } catch (e) {
    if (!isCertstewardError(e, 'certificate-parse')) throw e;
    return certificateProblem(id, columns.certificate, e.message, e.reason === 'empty' ? 'missing-certificate' : 'unparseable-certificate', e);
  }
  const leaf = chain[0]!;

  let input: TableImportTrackInput<R>;
  let step = 'authority';
  try {
    const authority = typeof options.authority === 'function' ? options.authority(row) : options.authority;
    if (typeof authority !== 'string' || authority === '') throw new Error(`returned ${JSON.stringify(authority) ?? String(authority)}, not an authority name`);
    step = 'labels';
    const labels = options.labels?.(row);
    step = 'renewal';
    const renewal = options.renewal?.(row);
    step = 'key';
    const key = options.key?.(row);
    step = 'keyRef';
    const keyRef = await options.keyRef?.(row);
    if (keyRef !== undefined && keyRef.spkiSha256 !== leaf.publicKey.sha256) {
      return { outcome: 'failed', id, reason: 'key-mismatch', message: `row "${id}" was not tracked: the key reference ${JSON.stringify(keyRef.id)} is not the key of its certificate` };
    }
    const commonName = leaf.subject.attributes.filter((a) => a.type === 'CN').at(-1)?.value;
    input = {
      id,
      authority,
      ...(commonName !== undefined ? { commonName } : {}),
      subjectAltNames: leaf.subjectAltNames.filter((n) => SAN_TYPES.has(n.type)) as TableImportName[],
      // Only the certificate blocks: whatever else the cell holds (a private key) stays out of the target's store.
      existing: { chainPem: chain.map((c) => toPem(c.der)).join(''), ...(keyRef !== undefined ? { keyRef } : {}) },
      ...(labels !== undefined ? { labels } : {}),
      ...(renewal !== undefined ? { renewal } : {}),
      ...(key !== undefined ? { key } : {}),
    };
  } catch (e) {
    return { outcome: 'failed', id, reason: 'track-failed', message: `row "${id}" was not tracked: the ${step} option failed for it: ${messageOf(e)}`, cause: e };
  }

  try {
    await r.target.track(input);
  } catch (e) {
    if (isCertstewardError(e, 'conflict')) {
      return { outcome: 'skipped', id, reason: 'already-tracked', message: `"${id}" is already tracked by the target: nothing changed (untrack it first to import this row again)`, cause: e };
    }
    // The target's store is down or it is stopping: every later row would fail the same way.
    if (isCertstewardError(e, 'store-unavailable') || isCertstewardError(e, 'stopped')) throw e;
    return { outcome: 'failed', id, reason: 'track-failed', message: `row "${id}" could not be tracked: ${messageOf(e)}`, cause: e };
  }

  let backfilled = false;
  if (columns.expiresAt !== undefined) {
    const value = options.expiresAtValue ? options.expiresAtValue(leaf.notAfter) : leaf.notAfter;
    const updated = await onTable(
      r,
      `writing the expiry of "${id}" to`,
      restricted(r)
        .where(columns.id, raw as Knex.Value)
        .update({ [columns.expiresAt]: value }),
    );
    backfilled = Number(updated) > 0;
  }
  return { outcome: 'tracked', id, serialNumber: leaf.serialNumber, notAfter: leaf.notAfter, backfilled };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
