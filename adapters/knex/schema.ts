/**
 * The tables of the Knex store and the migrations that make them, shipped as
 * a Knex migration source so a host can run them three ways: inside its own
 * migration set-up, through `KnexStore.migrate()`, or with `certsteward
 * migrate --db <url>`.
 *
 * @module
 */
import type { Knex } from 'knex';
import { ConfigError } from '../../src/errors.js';

/** Where the store's tables live. */
export interface SchemaOptions {
  /** Prefix of every table and index name (default `certsteward_`). Letters, digits and `_` only. */
  readonly tablePrefix?: string;
  /** PostgreSQL schema holding the tables (default: the connection's search path). */
  readonly schema?: string;
}

/** The resolved table names, unqualified (`certificates`) and schema-qualified (`qualified.certificates`). */
export interface TableNames {
  readonly prefix: string;
  readonly schema: string | undefined;
  readonly certificates: string;
  readonly history: string;
  readonly audit: string;
  readonly issuances: string;
  /** The migration bookkeeping table `KnexStore.migrate()` uses (never the host's `knex_migrations`). */
  readonly migrations: string;
  readonly qualified: { readonly certificates: string; readonly history: string; readonly audit: string; readonly issuances: string };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks the options and names the tables. */
export function tableNames(options: SchemaOptions = {}): TableNames {
  const prefix = options.tablePrefix ?? 'certsteward_';
  if (prefix !== '' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(prefix)) {
    throw new ConfigError('tablePrefix', prefix, `KnexStore: tablePrefix must be letters, digits and "_" (starting with a letter or "_"), got "${prefix}"`);
  }
  if (options.schema !== undefined && !IDENTIFIER.test(options.schema)) {
    throw new ConfigError('schema', options.schema, `KnexStore: schema must be letters, digits and "_", got "${options.schema}"`);
  }
  const q = (t: string): string => (options.schema ? `${options.schema}.${t}` : t);
  const names = {
    certificates: `${prefix}certificates`,
    history: `${prefix}history`,
    audit: `${prefix}audit`,
    issuances: `${prefix}issuances`,
  };
  return {
    prefix,
    schema: options.schema,
    ...names,
    migrations: `${prefix}migrations`,
    qualified: {
      certificates: q(names.certificates),
      history: q(names.history),
      audit: q(names.audit),
      issuances: q(names.issuances),
    },
  };
}

/** The SQL engines the store supports. */
export type Engine = 'postgresql' | 'sqlite';

/** Which engine a Knex instance talks to. */
export function engineOf(knex: Knex): Engine {
  const dialect = (knex.client as { dialect?: string }).dialect;
  if (dialect === 'postgresql') return 'postgresql';
  if (dialect === 'sqlite3') return 'sqlite';
  throw new ConfigError(
    'knex',
    dialect,
    `KnexStore supports PostgreSQL (client "pg") and SQLite (client "better-sqlite3" or "sqlite3"), not "${String(dialect)}"`,
  );
}

interface Migration {
  readonly name: string;
  up(knex: Knex, names: TableNames, engine: Engine): Promise<void>;
  down(knex: Knex, names: TableNames, engine: Engine): Promise<void>;
}

/** Ids compare as bytes on both engines (keyset pagination relies on it). */
function idColumn(t: Knex.CreateTableBuilder, name: string, engine: Engine): Knex.ColumnBuilder {
  return t.specificType(name, engine === 'postgresql' ? 'text COLLATE "C"' : 'TEXT');
}

const MIGRATIONS: readonly Migration[] = [
  {
    name: '0001_certsteward_initial',
    async up(knex, n, engine) {
      // A fresh builder per statement: a Knex schema builder accumulates what it is given.
      const schema = () => (n.schema ? knex.schema.withSchema(n.schema) : knex.schema);
      if (n.schema && engine === 'postgresql') await knex.raw('CREATE SCHEMA IF NOT EXISTS ??', [n.schema]);
      await schema().createTable(n.certificates, (t) => {
        idColumn(t, 'id', engine).primary();
        t.bigInteger('revision').notNullable();
        t.string('status', 16).notNullable();
        t.bigInteger('next_action_at').nullable();
        t.bigInteger('due_at').nullable();
        t.text('lease_owner').nullable();
        t.bigInteger('lease_until').nullable();
        t.bigInteger('not_after').nullable();
        if (engine === 'postgresql') t.jsonb('labels').notNullable();
        else t.text('labels').notNullable();
        t.text('body').notNullable();
        t.bigInteger('created_at').notNullable();
        t.bigInteger('updated_at').notNullable();
      });
      await schema().createTable(n.history, (t) => {
        t.bigIncrements('seq').primary();
        idColumn(t, 'certificate_id', engine).notNullable();
        t.bigInteger('archived_at').notNullable();
        t.text('body').notNullable();
        t.index(['certificate_id', 'seq'], `${n.prefix}history_by_certificate`);
      });
      await schema().createTable(n.audit, (t) => {
        t.bigIncrements('seq').primary();
        idColumn(t, 'certificate_id', engine).notNullable();
        t.bigInteger('at').notNullable();
        t.string('type', 128).notNullable();
        t.text('data').notNullable();
        t.index(['certificate_id', 'at', 'seq'], `${n.prefix}audit_by_certificate`);
      });
      await schema().createTable(n.issuances, (t) => {
        t.bigIncrements('seq').primary();
        // text: a names bucket holds every name of a certificate, however many.
        t.specificType('bucket', engine === 'postgresql' ? 'text COLLATE "C"' : 'TEXT').notNullable();
        idColumn(t, 'certificate_id', engine).notNullable();
        t.bigInteger('at').notNullable();
        t.index(['bucket', 'at'], `${n.prefix}issuances_by_bucket`);
      });
      // Partial indexes (both engines have them): only scheduled, active records are in the claim indexes,
      // so "what is due next" reads a few index entries however large the fleet is.
      await knex.raw(`CREATE INDEX ?? ON ?? (due_at) WHERE due_at IS NOT NULL`, [`${n.prefix}certificates_due`, n.qualified.certificates]);
      await knex.raw(`CREATE INDEX ?? ON ?? (next_action_at, id, due_at) WHERE due_at IS NOT NULL`, [
        `${n.prefix}certificates_claim`,
        n.qualified.certificates,
      ]);
      await knex.raw(`CREATE INDEX ?? ON ?? (not_after) WHERE status = 'active'`, [`${n.prefix}certificates_expiry`, n.qualified.certificates]);
    },
    async down(knex, n) {
      for (const t of [n.issuances, n.audit, n.history, n.certificates]) {
        await (n.schema ? knex.schema.withSchema(n.schema) : knex.schema).dropTableIfExists(t);
      }
    },
  },
];

/**
 * The store's migrations as a Knex migration source, bound to the table
 * names. Use it in a host's own `knex.migrate.latest({ migrationSource })`;
 * give it its own `tableName` if the host keeps other migrations, since Knex
 * refuses a migration table that lists migrations its source does not know.
 *
 * @example
 * ```ts
 * await knex.migrate.latest({ migrationSource: certstewardMigrations(), tableName: 'certsteward_migrations' })
 * ```
 */
export function certstewardMigrations(options: SchemaOptions = {}): Knex.MigrationSource<Migration> {
  const names = tableNames(options);
  return {
    getMigrations: async () => [...MIGRATIONS],
    getMigrationName: (m) => m.name,
    getMigration: async (m) => ({
      up: (knex: Knex) => m.up(knex, names, engineOf(knex)),
      down: (knex: Knex) => m.down(knex, names, engineOf(knex)),
    }),
  };
}
