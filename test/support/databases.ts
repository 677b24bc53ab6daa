/**
 * The real database peers of the Knex tests. `npm test` (scripts/test.sh)
 * makes sure PostgreSQL runs and exports its URL; run alone, the tests use the
 * machine's server on 127.0.0.1:5432, database `test`. A server that cannot
 * be reached fails the tests with its name, never skips them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';

export const PG_URL = process.env['CERTSTEWARD_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A Knex instance on PostgreSQL. */
export function pgKnex(pool: { min?: number; max?: number } = { min: 0, max: 8 }): Knex {
  return knexFactory({ client: 'pg', connection: PG_URL, pool });
}

/** A schema of its own for one test file, dropped by `drop()`: runs never see each other's rows. */
export async function freshPgSchema(label: string): Promise<{ knex: Knex; schema: string; drop(): Promise<void> }> {
  const knex = pgKnex();
  const schema = `cs_${label}_${process.pid}_${Math.floor(Math.random() * 1e9).toString(36)}`.toLowerCase();
  try {
    await knex.raw('CREATE SCHEMA ??', [schema]);
  } catch (e) {
    await knex.destroy();
    throw new Error(`PostgreSQL peer unreachable at ${PG_URL} (set CERTSTEWARD_PG_URL or run npm test, which starts one): ${(e as Error).message}`, {
      cause: e,
    });
  }
  return {
    knex,
    schema,
    async drop() {
      await knex.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      await knex.destroy();
    },
  };
}

/** A SQLite file in a fresh temporary folder, in WAL mode, removed by `drop()`. */
export function freshSqlite(): { knex: Knex; filename: string; drop(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'certsteward-sqlite-'));
  const filename = join(dir, 'certs.db');
  const knex = sqliteKnex(filename);
  return {
    knex,
    filename,
    async drop() {
      await knex.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Knex instance on a SQLite file through better-sqlite3, set up for several processes (WAL, busy timeout). */
export function sqliteKnex(filename: string): Knex {
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename, options: { timeout: 10_000 } } as Knex.Sqlite3ConnectionConfig,
    useNullAsDefault: true,
    pool: {
      afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        conn.pragma('journal_mode = WAL');
        done(null, conn);
      },
    },
  });
}
