/**
 * A full steward lifecycle on the Knex store, then a look at the raw tables
 * (and, on SQLite, the database file's bytes): renewals, history and audit are
 * there, and no private key is — no PEM private-key marker, no PKCS#8 DER, no
 * private scalar, in any encoding.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { KnexStore } from '../../../adapters/knex/index.js';
import { LocalAuthority } from '../../../adapters/local-ca/index.js';
import { SoftwareKeyStore, createSteward } from '../../../src/index.js';
import type { KeyRef } from '../../../src/ports/key-store.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { freshPgSchema, freshSqlite } from '../../support/databases.js';

interface Lifecycle {
  store: KnexStore;
  keys: SoftwareKeyStore;
  refs: KeyRef[];
  renewed: number;
}

async function runLifecycle(knex: Knex, store: KnexStore): Promise<Lifecycle> {
  await store.migrate();
  const clock = new ManualClock('2026-01-01T00:00:00Z');
  // Exportable only so the test can learn each key's secret bytes and search the database for them.
  const keys = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek(), exportable: true });
  const local = await LocalAuthority.create({ keys, clock, name: 'lifecycle test CA' });
  const steward = createSteward({ store, authorities: { local }, keys, clock, pollIntervalMs: null });
  let renewed = 0;
  const errors: string[] = [];
  steward.on('renewal.succeeded', () => void renewed++);
  steward.on('error', (e) => void errors.push(e.message));
  steward.on('renewal.failed', (e) => void errors.push(e.message));
  await steward.track({ id: 'p256.example.test', authority: 'local', subjectAltNames: ['p256.example.test'], lifetime: '30d' });
  await steward.track({ id: 'rsa.example.test', authority: 'local', subjectAltNames: ['rsa.example.test'], lifetime: '30d', key: { algorithm: 'RSA-2048', rotate: 'never' } });
  await steward.track({ id: 'ed.example.test', authority: 'local', subjectAltNames: ['ed.example.test'], lifetime: '30d', key: { algorithm: 'Ed25519' } });
  await steward.start();
  await clock.advance('120d');
  await steward.stop();
  expect(errors).toEqual([]);
  const refs: KeyRef[] = [];
  for (const r of await store.list()) {
    if (r.current) refs.push(r.current.keyRef);
    for (const h of await store.history(r.id)) refs.push(h.keyRef);
  }
  void knex;
  return { store, keys, refs, renewed };
}

/** Every encoding of a private key's secret bytes a careless store might hold. */
async function secretsOf(keys: SoftwareKeyStore, refs: readonly KeyRef[]): Promise<{ label: string; text: string[]; bytes: Buffer[] }[]> {
  const out = [];
  const seen = new Set<string>();
  for (const ref of refs) {
    if (seen.has(ref.id)) continue;
    seen.add(ref.id);
    const handle = await keys.load(ref);
    const pkcs8 = Buffer.from(await handle.crypto.subtle.exportKey('pkcs8', handle.privateKey));
    const jwk = await handle.crypto.subtle.exportKey('jwk', handle.privateKey);
    const d = Buffer.from(jwk.d!, 'base64url');
    // The PKCS#8 body minus its fixed header, in case only part of it was stored.
    const tail = pkcs8.subarray(pkcs8.length - 32);
    out.push({
      label: `${ref.algorithm} ${ref.id}`,
      text: [pkcs8, d, tail].flatMap((b) => [b.toString('base64'), b.toString('base64url'), b.toString('hex')]).concat(jwk.d!),
      bytes: [pkcs8, d],
    });
  }
  return out;
}

function expectNoPrivateKeys(dump: string, rawBytes: Buffer | undefined, secrets: Awaited<ReturnType<typeof secretsOf>>): void {
  expect(dump).not.toMatch(/PRIVATE KEY/);
  expect(dump).not.toMatch(/"d"\s*:/); // no JWK private member
  for (const s of secrets) {
    for (const t of s.text) expect(dump.includes(t), `${s.label}: secret text in the tables`).toBe(false);
    if (rawBytes) for (const b of s.bytes) expect(rawBytes.includes(b), `${s.label}: secret bytes in the database file`).toBe(false);
  }
}

async function dumpTables(knex: Knex, store: KnexStore): Promise<string> {
  const t = store.tables.qualified;
  const parts: string[] = [];
  for (const table of [t.certificates, t.history, t.audit, t.issuances]) parts.push(JSON.stringify(await knex(table).select('*')));
  return parts.join('\n');
}

describe('a full lifecycle on the Knex store leaves no private key in the database', () => {
  describe('PostgreSQL', () => {
    let db: Awaited<ReturnType<typeof freshPgSchema>>;
    beforeAll(async () => {
      db = await freshPgSchema('lifecycle');
    });
    afterAll(async () => db?.drop());

    it('renews through 120 days, keeps history and audit, and stores only sealed keys', async () => {
      const store = new KnexStore(db.knex, { schema: db.schema });
      const run = await runLifecycle(db.knex, store);
      // 30-day certificates renew every ~20 days: at least 5 renewals each, plus the first issuance.
      expect(run.renewed).toBeGreaterThanOrEqual(3 * 6);
      expect((await store.history('p256.example.test')).length).toBeGreaterThanOrEqual(5);
      expect((await store.audit('p256.example.test')).some((e) => e.type === 'renewal.succeeded')).toBe(true);
      // The sealed form is there (so the check below looks at real key records), the clear form is not.
      expect(run.refs.every((r) => typeof r.sealed === 'string' && r.sealed.length > 40)).toBe(true);
      const dump = await dumpTables(db.knex, store);
      expect(dump).toContain(run.refs[0]!.sealed!);
      expectNoPrivateKeys(dump, undefined, await secretsOf(run.keys, run.refs));
    });
  });

  describe('SQLite', () => {
    it('the same, and the database file holds none of the key bytes either', async () => {
      const db = freshSqlite();
      try {
        const store = new KnexStore(db.knex);
        const run = await runLifecycle(db.knex, store);
        expect(run.renewed).toBeGreaterThanOrEqual(3 * 6);
        const dump = await dumpTables(db.knex, store);
        await db.knex.raw('PRAGMA wal_checkpoint(TRUNCATE)');
        const file = readFileSync(db.filename);
        // The file does hold the records (so it is the right file to search).
        expect(file.includes(Buffer.from('p256.example.test'))).toBe(true);
        expectNoPrivateKeys(dump, file, await secretsOf(run.keys, run.refs));
      } finally {
        await db.drop();
      }
    });
  });
});
