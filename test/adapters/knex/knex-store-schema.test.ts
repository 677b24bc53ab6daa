/**
 * The Knex store's schema life: migrations run three ways (store.migrate(),
 * the host's own Knex migrator, the CLI), idempotent, concurrent, undone by
 * rollback; table prefixes that keep stores apart; indexes that answer "what
 * is due next" and "what expires before X" from the index alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { KnexStore, certstewardMigrations, tableNames } from '../../../adapters/knex/index.js';
import { isCertstewardError } from '../../../src/errors.js';
import type { NewCertificateRecord } from '../../../src/ports/certificate-store.js';
import { cli } from '../../unit/cli/capture-io.js';
import { PG_URL, freshPgSchema, freshSqlite, pgKnex } from '../../support/databases.js';

const NOW = new Date('2026-06-01T00:00:00.000Z');

function record(id: string, nextActionAt: Date | null = null): NewCertificateRecord {
  return {
    id,
    status: 'active',
    spec: { authority: 'local', subjectAltNames: [{ type: 'dns', value: `${id}.example.test` }], key: { algorithm: 'ECDSA-P256', rotate: 'always' } },
    labels: {},
    renewal: { phase: 'idle', failures: 0 },
    nextActionAt,
    announced: [],
  };
}

async function pgTables(knex: Knex, schema: string): Promise<string[]> {
  const rows = (await knex('information_schema.tables').select('table_name').where('table_schema', schema).orderBy('table_name')) as { table_name: string }[];
  return rows.map((r) => r.table_name);
}

describe('KnexStore migrations on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  beforeAll(async () => {
    db = await freshPgSchema('schema');
  });
  afterAll(async () => db?.drop());

  it('migrate() applies the migrations once; running it again changes nothing; rollback drops every table it made', async () => {
    const store = new KnexStore(db.knex, { schema: db.schema, tablePrefix: 'm1_' });
    expect(await store.migrate()).toEqual(['0001_certsteward_initial']);
    expect(await store.migrate()).toEqual([]);
    const made = (await pgTables(db.knex, db.schema)).filter((t) => t.startsWith('m1_'));
    expect(made).toEqual(['m1_audit', 'm1_certificates', 'm1_history', 'm1_issuances', 'm1_migrations', 'm1_migrations_lock']);
    await store.create(record('kept'), NOW);
    expect(await store.migrate()).toEqual([]);
    expect((await store.get('kept'))?.id).toBe('kept');
    expect(await store.rollback()).toEqual(['0001_certsteward_initial']);
    expect((await pgTables(db.knex, db.schema)).filter((t) => t.startsWith('m1_') && !t.startsWith('m1_migrations'))).toEqual([]);
    expect(await store.rollback()).toEqual([]);
    expect(await store.migrate()).toEqual(['0001_certsteward_initial']);
    expect(await store.get('kept')).toBe(undefined);
  });

  it('creates its PostgreSQL schema when it does not exist yet', async () => {
    const schema = `${db.schema}_new`;
    try {
      const store = new KnexStore(db.knex, { schema });
      expect(await store.migrate()).toEqual(['0001_certsteward_initial']);
      await store.create(record('in-new-schema'), NOW);
      expect((await store.get('in-new-schema'))?.id).toBe('in-new-schema');
    } finally {
      await db.knex.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    }
  });

  it('keeps the SQL and its values out of error messages and causes: only the database\'s own message and code', async () => {
    const store = new KnexStore(db.knex, { schema: db.schema, tablePrefix: 'err_' });
    await store.migrate();
    await db.knex.raw(`ALTER TABLE ?? ADD CONSTRAINT no_secret CHECK (body NOT LIKE '%SECRET-MARKER%')`, [store.tables.qualified.certificates]);
    const e = (await store
      .create({ ...record('leaky'), labels: { note: 'SECRET-MARKER' }, spec: { ...record('leaky').spec, profile: 'SECRET-MARKER' } }, NOW)
      .catch((x: unknown) => x)) as Error & { cause?: Error };
    expect(isCertstewardError(e, 'store-unavailable')).toBe(true);
    expect(e.message).toMatch(/no_secret/);
    expect(`${e.message} ${e.cause?.message} ${e.cause?.stack}`).not.toMatch(/SECRET-MARKER|insert into/i);
    expect((e.cause as Error & { code?: string }).code).toBe('23514');
  });

  it('three processes migrating a fresh schema at once all succeed, and the tables are made once', async () => {
    const knexes = [pgKnex(), pgKnex(), pgKnex()];
    try {
      const results = await Promise.all(knexes.map((k) => new KnexStore(k, { schema: db.schema, tablePrefix: 'race_' }).migrate()));
      expect(results.flat()).toEqual(['0001_certsteward_initial']);
      const store = new KnexStore(db.knex, { schema: db.schema, tablePrefix: 'race_' });
      await store.create(record('after-race'), NOW);
      expect((await store.list()).map((r) => r.id)).toEqual(['after-race']);
    } finally {
      await Promise.all(knexes.map((k) => k.destroy()));
    }
  });

  it("runs inside the host's own Knex migrator through the exported migration source", async () => {
    const config = { migrationSource: certstewardMigrations({ schema: db.schema, tablePrefix: 'host_' }), tableName: 'host_app_migrations', schemaName: db.schema };
    const [, applied] = (await db.knex.migrate.latest(config)) as [number, string[]];
    expect(applied).toEqual(['0001_certsteward_initial']);
    const store = new KnexStore(db.knex, { schema: db.schema, tablePrefix: 'host_' });
    // Already applied by the host: the store's own bookkeeping is separate, so it must not be needed to use the tables.
    await store.create(record('via-host'), NOW);
    expect((await store.get('via-host'))?.revision).toBe(1);
    const [, undone] = (await db.knex.migrate.rollback(config, true)) as [number, string[]];
    expect(undone).toEqual(['0001_certsteward_initial']);
    expect(isCertstewardError(await store.get('via-host').catch((e: unknown) => e), 'store-unavailable')).toBe(true);
  });

  it('keeps stores with different prefixes apart in one schema', async () => {
    const a = new KnexStore(db.knex, { schema: db.schema, tablePrefix: 'team_a_' });
    const b = new KnexStore(db.knex, { schema: db.schema, tablePrefix: 'team_b_' });
    await a.migrate();
    await b.migrate();
    await a.create(record('shared-id', new Date(NOW.getTime() - 1)), NOW);
    await b.create(record('shared-id'), NOW);
    expect((await a.claimDue(NOW, 'owner', 60_000, 10)).map((r) => r.id)).toEqual(['shared-id']);
    expect(await b.claimDue(NOW, 'owner', 60_000, 10)).toEqual([]);
    expect((await b.get('shared-id'))?.revision).toBe(1);
  });

  it('answers "what is due next" and "what expires before X" with index-only scans of the partial indexes', async () => {
    const store = new KnexStore(db.knex, { schema: db.schema, tablePrefix: 'plan_' });
    await store.migrate();
    const t = store.tables.qualified.certificates;
    const plan = async (sql: string, bindings: readonly Knex.RawBinding[]): Promise<string> =>
      db.knex.transaction(async (trx) => {
        // A near-empty table would be read whole; forbid that to see which index the query can use.
        await trx.raw('SET LOCAL enable_seqscan = off');
        const rows = (await trx.raw(`EXPLAIN ${sql}`, bindings)) as { rows: { 'QUERY PLAN': string }[] };
        return rows.rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    expect(await plan('SELECT min(due_at) FROM ?? WHERE due_at IS NOT NULL', [t])).toMatch(/Index Only Scan.*plan_certificates_due/);
    // The claim reads one of the two partial indexes (which one depends on how many rows are due), never the table.
    expect(await plan('SELECT id FROM ?? WHERE due_at <= ? ORDER BY next_action_at, id LIMIT 10', [t, 1])).toMatch(
      /(Index (Only )?Scan using|Bitmap Index Scan on) plan_certificates_(claim|due)/,
    );
    expect(await plan(`SELECT count(*) FROM ?? WHERE status = 'active' AND not_after <= ?`, [t, 1])).toMatch(/Index Only Scan using plan_certificates_expiry/);
  });
});

describe('KnexStore migrations on SQLite', () => {
  it('migrates once, keeps data across reopening the file, and rolls back', async () => {
    const db = freshSqlite();
    try {
      const store = new KnexStore(db.knex);
      expect(await store.migrate()).toEqual(['0001_certsteward_initial']);
      await store.create(record('durable'), NOW);
      await db.knex.destroy();
      const { sqliteKnex } = await import('../../support/databases.js');
      const reopened = sqliteKnex(db.filename);
      try {
        const again = new KnexStore(reopened);
        expect(await again.migrate()).toEqual([]);
        expect((await again.get('durable'))?.id).toBe('durable');
        expect(await again.rollback()).toEqual(['0001_certsteward_initial']);
        const left = (await reopened('sqlite_master').select('name').where('type', 'table')) as { name: string }[];
        expect(left.map((r) => r.name).filter((n) => n.startsWith('certsteward_') && !n.startsWith('certsteward_migrations'))).toEqual([]);
      } finally {
        await reopened.destroy();
      }
    } finally {
      await db.drop().catch(() => undefined);
    }
  });

  it('uses the due and expiry indexes (EXPLAIN QUERY PLAN)', async () => {
    const db = freshSqlite();
    try {
      const store = new KnexStore(db.knex);
      await store.migrate();
      const plan = async (sql: string, bindings: readonly Knex.RawBinding[]) =>
        ((await db.knex.raw(`EXPLAIN QUERY PLAN ${sql}`, bindings)) as { detail: string }[]).map((r) => r.detail).join('\n');
      expect(await plan('SELECT min(due_at) FROM certsteward_certificates WHERE due_at IS NOT NULL', [])).toMatch(/COVERING INDEX certsteward_certificates_due/);
      expect(await plan('SELECT id FROM certsteward_certificates WHERE due_at <= ? ORDER BY next_action_at, id LIMIT 10', [1])).toMatch(
        /INDEX certsteward_certificates_(claim|due)/,
      );
      expect(await plan(`SELECT count(*) FROM certsteward_certificates WHERE status = 'active' AND not_after <= ?`, [1])).toMatch(/INDEX certsteward_certificates_expiry/);
    } finally {
      await db.drop();
    }
  });
});

describe('KnexStore options', () => {
  it('refuses a prefix or schema that is not a plain identifier, a schema on SQLite, and an unsupported client', async () => {
    expect(() => tableNames({ tablePrefix: 'bad-prefix' })).toThrow(/tablePrefix/);
    expect(() => tableNames({ schema: 'x; drop table y' })).toThrow(/schema/);
    const db = freshSqlite();
    try {
      expect(() => new KnexStore(db.knex, { schema: 'ops' })).toThrow(/schema is for PostgreSQL/);
      expect(() => new KnexStore(db.knex, { historyLimit: -1 })).toThrow(/historyLimit/);
    } finally {
      await db.drop();
    }
    // What engineOf reads of a MySQL Knex instance (the driver is not installed here).
    const mysql = { client: { dialect: 'mysql' } } as unknown as Knex;
    expect(() => new KnexStore(mysql)).toThrow(/supports PostgreSQL .* and SQLite .*, not "mysql"/);
  });

  it('reports an unreachable database as StoreUnavailableError with the driver error as cause', async () => {
    const { default: knexFactory } = await import('knex');
    const dead = knexFactory({ client: 'pg', connection: 'postgres://postgres@127.0.0.1:1/none', pool: { min: 0, max: 1 }, acquireConnectionTimeout: 2_000 });
    try {
      const e = (await new KnexStore(dead).get('x').catch((err: unknown) => err)) as Error & { cause?: unknown };
      expect(isCertstewardError(e, 'store-unavailable')).toBe(true);
      expect(e.message).toMatch(/^KnexStore\.get: /);
      expect(e.cause).toBeInstanceOf(Error);
    } finally {
      await dead.destroy();
    }
  });
});

describe('certsteward migrate (CLI)', () => {
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  beforeAll(async () => {
    db = await freshPgSchema('cli');
  });
  afterAll(async () => db?.drop());

  it('creates the tables in a PostgreSQL schema, is idempotent, and rolls back', async () => {
    const first = await cli(['migrate', '--db', PG_URL, '--schema', db.schema, '--prefix', 'cli_']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/applied 0001_certsteward_initial\n$/);
    expect(await pgTables(db.knex, db.schema)).toContain('cli_certificates');
    const second = await cli(['migrate', '--db', PG_URL, '--schema', db.schema, '--prefix', 'cli_']);
    expect([second.code, second.stdout.trim().endsWith('up to date')]).toEqual([0, true]);
    const undo = await cli(['migrate', '--db', PG_URL, '--schema', db.schema, '--prefix', 'cli_', '--rollback']);
    expect(undo.code).toBe(0);
    expect(undo.stdout).toMatch(/rolled back 0001_certsteward_initial/);
    expect(await pgTables(db.knex, db.schema)).not.toContain('cli_certificates');
  });

  it('creates the tables in a SQLite file', async () => {
    const lite = freshSqlite();
    try {
      const run = await cli(['migrate', '--db', `sqlite:${lite.filename}`]);
      expect([run.code, run.stderr]).toEqual([0, '']);
      const store = new KnexStore(lite.knex);
      await store.create(record('from-cli-schema'), NOW);
      expect(await store.migrate()).toEqual([]);
    } finally {
      await lite.drop();
    }
  });

  it('exits 3 naming the problem: no --db, an unknown database kind, an unreachable server (password hidden)', async () => {
    const none = await cli(['migrate']);
    expect([none.code, /--db <url> is required/.test(none.stderr)]).toEqual([3, true]);
    const odd = await cli(['migrate', '--db', 'mongodb://localhost/x']);
    expect([odd.code, /names no supported database/.test(odd.stderr)]).toEqual([3, true]);
    const dead = await cli(['migrate', '--db', 'postgres://app:s3cret@127.0.0.1:1/none']);
    expect(dead.code).toBe(3);
    expect(dead.stderr).toMatch(/postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/none: KnexStore\.migrate: .*ECONNREFUSED/);
    expect(dead.stderr).not.toMatch(/s3cret/);
  });
});
