/**
 * syncTable on PostgreSQL with a real steward (KnexStore on the same schema,
 * the local CA, a ManualClock): rows adopted with importTable are written
 * back on renewal (leaf PEM + notAfter) and on expiry warnings (notified
 * time), nothing else in any row changes, a failing write goes to onError
 * without disturbing the steward, and the sync refuses bad set-ups up front.
 */
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KnexStore, importTable, syncTable, type TableSyncFailure, type TableSyncSource, type TableSyncWrite } from '../../../adapters/knex/index.js';
import { LocalAuthority } from '../../../adapters/local-ca/index.js';
import { isCertstewardError } from '../../../src/errors.js';
import { buildCsr } from '../../../src/pki/csr.js';
import { createSteward, type Steward } from '../../../src/steward/steward.js';
import type { StewardEvents } from '../../../src/steward/events.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { freshPgSchema } from '../../support/databases.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const AUTHORITY = 'local';

type Row = Record<string, unknown>;

/** What Node's own X.509 reader says about one PEM certificate (not certsteward's parser). */
function oracle(pem: string): { serial: string; notAfter: number } {
  const x = new X509Certificate(pem);
  return { serial: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''), notAfter: Date.parse(x.validTo) };
}
const blocks = (pem: string): number => pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
const firstBlock = (pem: string): string => pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + '-----END CERTIFICATE-----\n'.length);
const norm = (s: string): string => s.toLowerCase().replace(/^0+(?=.)/, '');
const keyPem = (): string => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

describe('syncTable on PostgreSQL, driven by a steward on the local CA', () => {
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  let table: string;
  let clock: ManualClock;
  let steward: Steward;
  const events: { name: string; payload: Record<string, unknown> }[] = [];
  const writes: TableSyncWrite[] = [];
  const failures: TableSyncFailure[] = [];
  let before: Row[];
  let after: Row[];
  let sync: Awaited<ReturnType<typeof syncTable>>;

  const rows = async (): Promise<Row[]> => (await db.knex(table).select('*').orderBy('pk')) as Row[];
  const syncColumns = { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at', notifiedAt: 'certificate_notified_at' };

  beforeAll(async () => {
    db = await freshPgSchema('tablesync');
    table = `${db.schema}.wallet`;
    clock = new ManualClock(new Date(T0));
    const keys = new MemoryKeyStore();
    const ca = await LocalAuthority.create({ keys, clock });
    const issue = async (cn: string): Promise<string> => {
      const key = await keys.generate({ algorithm: 'ECDSA-P256' });
      const r = await ca.issue({ id: cn, key, commonName: cn, subjectAltNames: [], csrPem: await buildCsr({ key, commonName: cn, subjectAltNames: [] }), lifetimeMs: 90 * DAY });
      if (r.status !== 'issued') throw new Error('the local CA did not issue');
      return r.chainPem;
    };
    await db.knex.schema.withSchema(db.schema).createTable('wallet', (t) => {
      t.increments('pk').primary();
      t.text('label').notNullable();
      t.text('certificate');
      t.text('private_key');
      t.text('type').notNullable();
      t.text('msp_id');
      t.specificType('certificate_expires_at', 'timestamptz').nullable();
      t.specificType('certificate_notified_at', 'timestamptz').nullable();
      t.boolean('revoked').notNullable().defaultTo(false);
      t.specificType('revoked_at', 'timestamptz').nullable();
      t.text('revocation_reason').nullable();
    });
    // alice and carol come due in this test; bob (issued 60 days later) does not.
    const alice = await issue('alice');
    const carol = await issue('carol');
    await clock.advanceTo(new Date(T0 + 60 * DAY));
    const bob = await issue('bob');
    const notified = new Date(T0 + 10 * DAY);
    await db.knex(table).insert([
      { label: 'alice', certificate: alice, private_key: keyPem(), type: 'X.509', msp_id: 'Org1MSP', certificate_notified_at: notified, revocation_reason: 'n/a' },
      { label: 'bob', certificate: bob, private_key: keyPem(), type: 'X.509', msp_id: 'Org1MSP' },
      { label: 'carol', certificate: carol, private_key: keyPem(), type: 'X.509', msp_id: 'Org2MSP' },
      // Same label, outside the where restriction: never written.
      { label: 'alice', certificate: alice, private_key: null, type: 'HSM-X.509', msp_id: 'Org1MSP', certificate_notified_at: notified },
    ]);
    // carol's row refuses every update of its certificate: the write fails in the database.
    await db.knex.raw(
      `CREATE FUNCTION ??.refuse_carol() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'carol is read-only'; END $$ LANGUAGE plpgsql`,
      [db.schema],
    );
    await db.knex.raw(
      `CREATE TRIGGER refuse_carol BEFORE UPDATE OF certificate ON ?? FOR EACH ROW WHEN (NEW.label = 'carol') EXECUTE FUNCTION ??.refuse_carol()`,
      [table, db.schema],
    );

    const store = new KnexStore(db.knex, { schema: db.schema });
    await store.migrate();
    steward = createSteward({
      store,
      keys,
      clock,
      authorities: { [AUTHORITY]: ca },
      pollIntervalMs: null,
      timing: { before: '10d', jitter: '0s' },
    });
    for (const name of ['certificate.expiring', 'renewal.succeeded', 'renewal.failed', 'error'] as const) {
      steward.on(name, (p) => void events.push({ name, payload: p as unknown as Record<string, unknown> }));
    }
    const report = await importTable(db.knex, steward, {
      table,
      columns: { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at', revoked: 'revoked' },
      where: { type: 'X.509' },
      authority: AUTHORITY,
    });
    expect({ tracked: report.tracked, failed: report.failed }).toEqual({ tracked: 3, failed: 0 });
    before = await rows();
    // The Steward is passed as it is: it is a TableSyncSource.
    sync = await syncTable(db.knex, steward, {
      table,
      columns: syncColumns,
      where: { type: 'X.509' },
      onError: (f) => void failures.push(f),
      onWrite: (w) => void writes.push(w),
    });
    await steward.start();
    // alice and carol: 90-day certificates, warning at 22.5 days left (day 67.5), renewal 10 days before expiry (day 80).
    await clock.advanceTo(new Date(T0 + 85 * DAY));
    await steward.stop();
    await sync.flush();
    after = await rows();
  });

  afterAll(async () => {
    await sync?.();
    await steward?.stop();
    await db?.drop();
  });

  /** The validity of a row's adopted certificate, read by Node. */
  const validity = (label: string): { notBefore: number; notAfter: number } => {
    const x = new X509Certificate(before.find((r) => r['label'] === label)!['certificate'] as string);
    return { notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo) };
  };
  const renewalOf = (id: string) => events.find((e) => e.name === 'renewal.succeeded' && e.payload['id'] === id)?.payload as StewardEvents['renewal.succeeded'] | undefined;
  const warningOf = (id: string) => events.find((e) => e.name === 'certificate.expiring' && e.payload['id'] === id)?.payload as StewardEvents['certificate.expiring'] | undefined;

  it('writes the renewed leaf (PEM, certificate blocks only) and its notAfter to the row after a renewal', () => {
    const renewed = renewalOf('alice')!;
    // Renewed exactly where the timing policy puts it: 10 days before the old certificate's end.
    expect(renewed.at.getTime()).toBe(validity('alice').notAfter - 10 * DAY);
    expect(blocks(renewed.chainPem)).toBe(2); // the steward's chain has the intermediate…
    const row = after.find((r) => r['label'] === 'alice' && r['type'] === 'X.509')!;
    const cell = row['certificate'] as string;
    expect(blocks(cell)).toBe(1); // …the wallet row gets the leaf alone
    expect(cell).toBe(firstBlock(renewed.chainPem));
    expect(oracle(cell).serial).toBe(norm(renewed.serialNumber));
    expect((row['certificate_expires_at'] as Date).getTime()).toBe(oracle(cell).notAfter);
    expect(oracle(cell).notAfter).toBeGreaterThan(oracle(before.find((r) => r['label'] === 'alice')!['certificate'] as string).notAfter);
  });

  it('stamps notified_at with the time of the expiry warning', () => {
    const warned = warningOf('alice')!;
    expect(warned.level).toBe('warning');
    // A quarter of the lifetime before its end (the 30-day warning, scaled to a 90-day certificate).
    const { notBefore, notAfter } = validity('alice');
    expect(warned.at.getTime()).toBe(notAfter - (notAfter - notBefore) / 4);
    const row = after.find((r) => r['label'] === 'alice' && r['type'] === 'X.509')!;
    expect((row['certificate_notified_at'] as Date).getTime()).toBe(warned.at.getTime());
    expect(writes.filter((w) => w.id === 'alice').map((w) => [w.event, w.updated])).toEqual([
      ['certificate.expiring', 1],
      ['renewal.succeeded', 1],
    ]);
  });

  it('touches no other column of a written row, no row outside `where`, and no row that was not renewed', () => {
    const byPk = new Map(after.map((r) => [r['pk'], r]));
    const changes = before.map((old) => {
      const now = byPk.get(old['pk'])!;
      return { label: old['label'], type: old['type'], changed: Object.keys(old).filter((k) => JSON.stringify(old[k]) !== JSON.stringify(now[k])).sort() };
    });
    expect(changes).toEqual([
      { label: 'alice', type: 'X.509', changed: ['certificate', 'certificate_expires_at', 'certificate_notified_at'] },
      { label: 'bob', type: 'X.509', changed: [] },
      // carol's certificate update was refused; its warning time was written.
      { label: 'carol', type: 'X.509', changed: ['certificate_notified_at'] },
      { label: 'alice', type: 'HSM-X.509', changed: [] },
    ]);
    expect(after).toHaveLength(before.length);
  });

  it('reports a write the database refuses through onError, once, and the steward is not disturbed', async () => {
    // carol was renewed in the steward's store: only the host table lags behind.
    const renewed = renewalOf('carol')!;
    expect((await steward.get('carol'))!.certificate!.serialNumber).toBe(renewed.serialNumber);
    expect(failures.map((f) => ({ id: f.id, event: f.event, store: isCertstewardError(f.error, 'store-unavailable') }))).toEqual([
      { id: 'carol', event: 'renewal.succeeded', store: true },
    ]);
    expect(failures[0]!.message).toMatch(/carol is read-only/);
    expect(failures[0]!.at.getTime()).toBe(renewed.at.getTime());
    // carol's warning was still written (only certificate updates are refused).
    expect(writes.filter((w) => w.id === 'carol').map((w) => w.event)).toEqual(['certificate.expiring']);
    expect(events.filter((e) => e.name === 'error' || e.name === 'renewal.failed')).toEqual([]);
  });

  it('writes nothing more once unsubscribed', async () => {
    const count = writes.length;
    await sync();
    await steward.renewNow('bob');
    await sync.flush();
    expect(renewalOf('bob')).toBeDefined();
    expect(writes.length).toBe(count);
    const bob = (await rows()).find((r) => r['label'] === 'bob')!;
    expect(bob['certificate']).toBe(before.find((r) => r['label'] === 'bob')!['certificate']);
  });
});

describe('syncTable: set-up and ordering', () => {
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  let table: string;

  /** A TableSyncSource that records subscriptions and emits on demand. */
  function fakeSource() {
    const listeners = new Map<string, Set<(p: never) => void>>();
    const source = {
      on(event: string, listener: (p: never) => void) {
        const set = listeners.get(event) ?? new Set();
        set.add(listener);
        listeners.set(event, set);
        return () => void set.delete(listener);
      },
    } as TableSyncSource;
    const emit = (event: string, payload: unknown) => {
      for (const l of listeners.get(event) ?? []) (l as (p: unknown) => void)(payload);
    };
    const count = () => [...listeners.values()].reduce((n, s) => n + s.size, 0);
    return { source, emit, count };
  }

  beforeAll(async () => {
    db = await freshPgSchema('tablesync2');
    table = `${db.schema}.certs`;
    await db.knex.schema.withSchema(db.schema).createTable('certs', (t) => {
      t.text('id').primary();
      t.text('pem');
      t.specificType('not_after', 'timestamptz');
      t.text('key_pem');
    });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('refuses a missing onError, a misspelt column, an unknown table and one column for two roles, leaving nothing subscribed', async () => {
    const f = fakeSource();
    const cases: [unknown, string][] = [
      [{ table, columns: { id: 'id', certificate: 'pem' } }, 'onError'],
      [{ table, columns: { id: 'id', certificate: 'pem', expiresAt: 'not_afer' }, onError: () => undefined }, 'columns.expiresAt'],
      [{ table: `${db.schema}.nope`, columns: { id: 'id', certificate: 'pem' }, onError: () => undefined }, 'table'],
      [{ table, columns: { id: 'id', certificate: 'pem', notifiedAt: 'pem' }, onError: () => undefined }, 'columns.notifiedAt'],
    ];
    for (const [options, setting] of cases) {
      const e = await syncTable(db.knex, f.source, options as never).then(
        () => new Error('resolved'),
        (x: unknown) => x,
      );
      expect({ config: isCertstewardError(e, 'config'), setting: (e as { setting?: string }).setting }).toEqual({ config: true, setting });
      expect(f.count()).toBe(0);
    }
  });

  it('applies the writes of one id in event order, whatever the pool does', async () => {
    const clock = new ManualClock(new Date(T0));
    const keys = new MemoryKeyStore();
    const ca = await LocalAuthority.create({ keys, clock });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const chains: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await ca.issue({ id: 'x', key, commonName: 'x', subjectAltNames: [], csrPem: await buildCsr({ key, commonName: 'x', subjectAltNames: [] }), lifetimeMs: (10 + i) * DAY });
      if (r.status === 'issued') chains.push(r.chainPem);
    }
    await db.knex(table).insert({ id: 'x', pem: 'old', not_after: null });
    // The first write is slow in the database: written concurrently, it would land last.
    const first = new Date(T0 + 10 * DAY).toISOString(); // a fixed ISO string, safe inline
    await db.knex.raw(
      `CREATE FUNCTION ??.slow_first() RETURNS trigger AS $$ BEGIN IF NEW.not_after = '${first}'::timestamptz THEN PERFORM pg_sleep(0.3); END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
      [db.schema],
    );
    await db.knex.raw(`CREATE TRIGGER slow_first BEFORE UPDATE ON ?? FOR EACH ROW EXECUTE FUNCTION ??.slow_first()`, [table, db.schema]);
    const f = fakeSource();
    const failures: TableSyncFailure[] = [];
    const sync = await syncTable(db.knex, f.source, { table, columns: { id: 'id', certificate: 'pem', expiresAt: 'not_after' }, onError: (x) => void failures.push(x) });
    expect(f.count()).toBe(1); // no notifiedAt column: only renewals are listened to
    chains.forEach((chainPem, i) => f.emit('renewal.succeeded', { id: 'x', at: new Date(T0 + i), chainPem, notAfter: new Date(T0 + (10 + i) * DAY) }));
    await sync();
    const row = (await db.knex(table).where({ id: 'x' }).first()) as Row;
    expect({ pem: row['pem'], notAfter: (row['not_after'] as Date).getTime(), failures }).toEqual({
      pem: firstBlock(chains.at(-1)!),
      notAfter: T0 + 21 * DAY,
      failures: [],
    });
    expect(f.count()).toBe(0);
  });

  it('writes the renewalValues columns in the same UPDATE as the certificate, and nothing of a renewal whose renewalValues fails', async () => {
    const clock = new ManualClock(new Date(T0));
    const keys = new MemoryKeyStore();
    const ca = await LocalAuthority.create({ keys, clock });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const r = await ca.issue({ id: 'k', key, commonName: 'k', subjectAltNames: [], csrPem: await buildCsr({ key, commonName: 'k', subjectAltNames: [] }) });
    if (r.status !== 'issued') throw new Error('not issued');
    await db.knex(table).insert([
      { id: 'k1', pem: 'old', key_pem: 'old key' },
      { id: 'k2', pem: 'old', key_pem: 'old key' },
    ]);
    const f = fakeSource();
    const failures: TableSyncFailure[] = [];
    const sync = await syncTable(db.knex, f.source, {
      table,
      columns: { id: 'id', certificate: 'pem', expiresAt: 'not_after' },
      // The sync's own columns win over a clash.
      renewalValues: async (e) => {
        if (e.id === 'k2') throw new Error('the key store is down');
        return { key_pem: `new key of ${e.id}`, pem: 'clobbered' };
      },
      onError: (x) => void failures.push(x),
    });
    const updates: string[] = [];
    const listen = (q: { sql: string }) => void (/^update/i.test(q.sql) && updates.push(q.sql));
    db.knex.on('query', listen);
    try {
      for (const id of ['k1', 'k2']) f.emit('renewal.succeeded', { id, at: new Date(T0), chainPem: r.chainPem, notAfter: new Date(T0 + DAY) });
      await sync();
    } finally {
      db.knex.off('query', listen);
    }
    const got = (await db.knex(table).whereIn('id', ['k1', 'k2']).orderBy('id')) as Row[];
    expect(got.map((x) => [x['id'], x['pem'] === firstBlock(r.chainPem) ? 'new leaf' : x['pem'], x['key_pem']])).toEqual([
      ['k1', 'new leaf', 'new key of k1'],
      ['k2', 'old', 'old key'],
    ]);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatch(/"key_pem"/);
    expect(failures.map((x) => [x.id, x.event, (x.error as Error).message])).toEqual([['k2', 'renewal.succeeded', 'the key store is down']]);
  });
});
