import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { KnexStore } from '../../../adapters/knex/index.js';
import { describeCertificateStore } from '../../../src/testing/contracts/store-contract.js';
import { freshPgSchema, freshSqlite } from '../../support/databases.js';

/** Empties the store's tables between tests (the contract wants a new, empty store each time). */
async function emptied(knex: Knex, store: KnexStore): Promise<KnexStore> {
  const t = store.tables.qualified;
  for (const table of [t.certificates, t.history, t.audit, t.issuances]) await knex(table).del();
  return store;
}

describe('KnexStore on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  let store: KnexStore;
  beforeAll(async () => {
    db = await freshPgSchema('contract');
    store = new KnexStore(db.knex, { schema: db.schema });
    await store.migrate();
  });
  afterAll(async () => db?.drop());
  describeCertificateStore({ describe, it, expect, beforeEach }, () => emptied(db.knex, store), { name: 'contract' });
});

describe('KnexStore on SQLite (better-sqlite3)', () => {
  let db: ReturnType<typeof freshSqlite>;
  let store: KnexStore;
  beforeAll(async () => {
    db = freshSqlite();
    store = new KnexStore(db.knex);
    await store.migrate();
  });
  afterAll(async () => db?.drop());
  describeCertificateStore({ describe, it, expect, beforeEach }, () => emptied(db.knex, store), { name: 'contract' });
});
