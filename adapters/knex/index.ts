/**
 * `certsteward/knex`: the certificate store on PostgreSQL or SQLite through
 * the host's own Knex instance, its migrations, and an importer that adopts
 * an existing table of certificates.
 *
 * @example
 * ```ts
 * import knexFactory from 'knex'
 * import { KnexStore } from 'certsteward/knex'
 * const store = new KnexStore(knexFactory({ client: 'better-sqlite3', connection: { filename: 'certs.db' }, useNullAsDefault: true }))
 * await store.migrate()
 * ```
 *
 * @packageDocumentation
 */
export { KnexStore } from './knex-store.js';
export type { KnexStoreOptions } from './knex-store.js';
export { certstewardMigrations, tableNames } from './schema.js';
export type { Engine, SchemaOptions, TableNames } from './schema.js';
export { importTable } from './table-importer.js';
export type {
  TableImportColumns,
  TableImportFailReason,
  TableImportKeyPolicy,
  TableImportName,
  TableImportOptions,
  TableImportProblem,
  TableImportReason,
  TableImportReport,
  TableImportRow,
  TableImportRowResult,
  TableImportSkipReason,
  TableImportTarget,
  TableImportTrackInput,
} from './table-importer.js';
export { syncTable } from './table-sync.js';
export type {
  TableSync,
  TableSyncCertificate,
  TableSyncColumns,
  TableSyncEvent,
  TableSyncExpiring,
  TableSyncFailure,
  TableSyncOptions,
  TableSyncRenewal,
  TableSyncSource,
  TableSyncWrite,
} from './table-sync.js';
