import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { importTable, type TableImportOptions, type TableImportRowResult, type TableImportTarget } from '../../../adapters/knex/index.js';
import { LocalAuthority } from '../../../adapters/local-ca/index.js';
import { ConfigError, isCertstewardError } from '../../../src/errors.js';
import { buildCsr, type SubjectAltName } from '../../../src/pki/csr.js';
import { parseCertificates } from '../../../src/pki/certificate.js';
import type { TimingPolicy } from '../../../src/policy/timing.js';
import { createSteward, type Steward } from '../../../src/steward/steward.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { MemoryStore } from '../../../src/testing/memory-store.js';
import { freshPgSchema, freshSqlite } from '../../support/databases.js';

const DAY = 86_400_000;
const AUTHORITY = 'fabric-ca';

/** A certificate authority, a steward tracking into memory, and leaves issued by the CA. */
async function world() {
  const clock = new ManualClock('2026-01-01T00:00:00Z');
  const keys = new MemoryKeyStore();
  const ca = await LocalAuthority.create({ keys, clock });
  const store = new MemoryStore();
  const steward = createSteward({ store, authorities: { [AUTHORITY]: ca }, keys, clock, pollIntervalMs: null });
  /** Leaf + intermediate, PEM, as a Fabric CA enrollment would leave it in a wallet. */
  const issue = async (commonName: string, lifetimeDays: number, subjectAltNames: readonly SubjectAltName[] = []): Promise<string> => {
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const csrPem = await buildCsr({ key, commonName, subjectAltNames });
    const r = await ca.issue({ id: commonName, key, commonName, subjectAltNames, csrPem, lifetimeMs: lifetimeDays * DAY });
    if (r.status !== 'issued') throw new Error('the local CA did not issue');
    return r.chainPem;
  };
  return { clock, keys, ca, store, steward, issue };
}

/** What Node's own X.509 reader (not certsteward's) says about the leaf of a PEM chain. */
function oracle(chainPem: string): { serial: string; notAfter: Date; leafPem: string; leafDer: Buffer } {
  const leafPem = chainPem.slice(0, chainPem.indexOf('-----END CERTIFICATE-----') + '-----END CERTIFICATE-----\n'.length);
  const x = new X509Certificate(leafPem);
  return { serial: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''), notAfter: new Date(x.validTo), leafPem, leafDer: x.raw };
}

const normSerial = (s: string): string => s.toLowerCase().replace(/^0+(?=.)/, '');

function privateKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection, but the promise resolved');
    },
    (e: unknown) => e,
  );
}

/** Records the SQL of every query the Knex instance runs while `fn` runs. */
async function sqlDuring<T>(knex: Knex, fn: () => Promise<T>): Promise<{ result: T; queries: { sql: string; bindings: readonly unknown[] }[] }> {
  const queries: { sql: string; bindings: readonly unknown[] }[] = [];
  const listen = (q: { sql: string; bindings?: readonly unknown[] }) => void queries.push({ sql: q.sql, bindings: q.bindings ?? [] });
  knex.on('query', listen);
  try {
    return { result: await fn(), queries };
  } finally {
    knex.off('query', listen);
  }
}

describe('importTable on PostgreSQL, a Fabric wallet table', () => {
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  let w: Awaited<ReturnType<typeof world>>;
  let table: string;
  /** The good rows and the chain each holds. */
  const good = new Map<string, { chainPem: string; names: readonly SubjectAltName[] }>();
  /** The broken rows and the reason each must be reported with. */
  const broken = new Map<string, string>([
    ['garbage', 'unparseable-certificate'],
    ['privkey', 'unparseable-certificate'],
    ['truncated', 'unparseable-certificate'],
    ['empty', 'missing-certificate'],
    ['nullcert', 'missing-certificate'],
    ['orphan', 'track-failed'],
  ]);
  type WalletRow = Record<string, unknown>;
  const rows = async (): Promise<Map<string, WalletRow>> =>
    new Map(((await db.knex(table).select('*').orderBy('label')) as WalletRow[]).map((r) => [r['label'] as string, r]));
  let before: Map<string, WalletRow>;
  let first: Awaited<ReturnType<typeof importTable>>;
  let firstQueries: { sql: string; bindings: readonly unknown[] }[];
  const seen: TableImportRowResult[] = [];
  const options = () => ({
    table,
    columns: { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at', revoked: 'revoked' },
    where: { type: 'X.509' },
    batchSize: 3,
    // The "orphan" row names an authority the steward does not have: a per-row failure of track().
    authority: (row: Readonly<Record<string, unknown>>) => (row['label'] === 'orphan' ? 'no-such-ca' : AUTHORITY),
    labels: (row: Readonly<Record<string, unknown>>) => ({ source: 'wallet', type: String(row['type']) }),
  });

  beforeAll(async () => {
    db = await freshPgSchema('importer');
    table = `${db.schema}.wallet`;
    w = await world();
    await db.knex.schema.withSchema(db.schema).createTable('wallet', (t) => {
      t.text('label').primary();
      t.text('certificate');
      t.text('type').notNullable();
      t.specificType('certificate_expires_at', 'timestamptz').nullable();
      t.specificType('certificate_notified_at', 'timestamptz').nullable();
      t.boolean('revoked').notNullable().defaultTo(false);
      t.specificType('revoked_at', 'timestamptz').nullable();
      t.text('revocation_reason').nullable();
    });
    const specs: Array<[string, number, SubjectAltName[]]> = [
      ['admin', 30, []],
      ['peer0', 60, [{ type: 'dns', value: 'peer0.org1.example.test' }, { type: 'ip', value: '10.0.0.7' }]],
      ['user1', 10, []],
      ['user2', 20, []],
      ['user3', 40, []],
      ['user4', 50, []],
      ['user5', 70, []],
      ['user6', 80, []],
    ];
    for (const [label, days, names] of specs) good.set(label, { chainPem: await w.issue(label, days, names), names });
    const pem = (label: string) => good.get(label)!.chainPem;
    const cut = pem('user1').slice(0, 200);
    await db.knex(table).insert([
      ...[...good.keys()].map((label) => ({
        label,
        certificate: pem(label),
        type: 'X.509',
        // A wrong expiry already in place for user2: it must be corrected, not kept.
        certificate_expires_at: label === 'user2' ? new Date('2000-01-01T00:00:00Z') : null,
        certificate_notified_at: label === 'user3' ? new Date('2025-12-01T00:00:00Z') : null,
      })),
      { label: 'garbage', certificate: 'this is not a certificate', type: 'X.509' },
      { label: 'privkey', certificate: privateKeyPem(), type: 'X.509', certificate_notified_at: new Date('2025-12-01T00:00:00Z') },
      { label: 'truncated', certificate: cut, type: 'X.509' },
      { label: 'empty', certificate: '', type: 'X.509' },
      { label: 'nullcert', certificate: null, type: 'X.509' },
      { label: 'orphan', certificate: await w.issue('orphan', 30), type: 'X.509' },
      {
        label: 'revoked1',
        certificate: await w.issue('revoked1', 30),
        type: 'X.509',
        revoked: true,
        revoked_at: new Date('2025-12-24T00:00:00Z'),
        revocation_reason: 'keyCompromise',
      },
      // Outside the `where` option: never read, even though it is broken.
      { label: 'idemix1', certificate: 'idemix credential, not X.509', type: 'idemix' },
    ]);
    before = await rows();
    const run = await sqlDuring(db.knex, () => importTable(db.knex, w.steward, { ...options(), onRow: (r) => void seen.push(r) }));
    first = run.result;
    firstQueries = run.queries;
  });
  afterAll(async () => db?.drop());

  it('tracks every good row under its label, with the serial and notAfter of the certificate in the row', async () => {
    expect(first.tracked).toBe(good.size);
    for (const [label, { chainPem }] of good) {
      const view = await w.steward.get(label);
      const expected = oracle(chainPem);
      expect(view?.authority, label).toBe(AUTHORITY);
      expect(normSerial(view!.certificate!.serialNumber), label).toBe(expected.serial);
      expect(view!.certificate!.notAfter.getTime(), label).toBe(expected.notAfter.getTime());
      // The whole chain (leaf and intermediate) is kept, as it was in the row.
      expect(view!.certificate!.chainPem, label).toBe(chainPem);
      expect(view!.labels, label).toEqual({ source: 'wallet', type: 'X.509' });
    }
  });

  it('asks for the names the certificate certifies at renewal: the CN alone, or the CN and the SANs', async () => {
    const admin = await w.store.get('admin');
    expect(admin?.spec.commonName).toBe('admin');
    expect(admin?.spec.subjectAltNames).toEqual([]);
    const peer = await w.store.get('peer0');
    expect(peer?.spec.commonName).toBe('peer0');
    expect(peer?.spec.subjectAltNames).toEqual(good.get('peer0')!.names);
  });

  it('reports each broken row with its reason, and the revoked row as skipped, without tracking any of them', async () => {
    const failed = first.problems.filter((p) => p.outcome === 'failed');
    expect(Object.fromEntries(failed.map((p) => [p.id, p.reason]))).toEqual(Object.fromEntries(broken));
    expect(first.problems.filter((p) => p.outcome === 'skipped').map((p) => [p.id, p.reason])).toEqual([['revoked1', 'revoked']]);
    expect(first.failed).toBe(broken.size);
    expect(first.skipped).toBe(1);
    for (const id of [...broken.keys(), 'revoked1', 'idemix1']) expect(await w.steward.get(id), id).toBeUndefined();
    // The parse error says what the row holds instead, and the message names the row and the column.
    const privkey = failed.find((p) => p.id === 'privkey')!;
    expect(isCertstewardError(privkey.cause, 'certificate-parse') && privkey.cause.found).toBe('private-key');
    expect(privkey.message).toMatch(/"privkey".*"certificate"/);
    expect(failed.find((p) => p.id === 'orphan')!.message).toMatch(/no-such-ca/);
  });

  it('leaves every row it did not track exactly as it was, and reads nothing outside the where option', async () => {
    const after = await rows();
    for (const id of [...broken.keys(), 'revoked1', 'idemix1']) expect(after.get(id), id).toEqual(before.get(id));
    expect(first.scanned).toBe(before.size - 1); // all but idemix1
    expect(seen.map((r) => r.id)).not.toContain('idemix1');
  });

  it('back-fills the expiry column of the tracked rows only, and changes nothing else in them', async () => {
    const after = await rows();
    for (const [label, { chainPem }] of good) {
      const row = after.get(label)!;
      expect((row['certificate_expires_at'] as Date).getTime(), label).toBe(oracle(chainPem).notAfter.getTime());
      expect({ ...row, certificate_expires_at: null }, label).toEqual({ ...before.get(label), certificate_expires_at: null });
    }
    expect(first.backfilled).toBe(good.size);
  });

  it('reads in pages of batchSize ordered by the id, continuing after the last id, never by OFFSET', () => {
    const scans = firstQueries.filter((q) => /^select \* from/i.test(q.sql) && /order by "label"/i.test(q.sql));
    // 15 rows in scope, 3 a page: 5 full pages and an empty one that ends the scan.
    expect(scans).toHaveLength(Math.ceil(first.scanned / 3) + (first.scanned % 3 === 0 ? 1 : 0));
    for (const q of scans) expect(q.sql).toMatch(/limit \$\d+$/i);
    expect(scans.filter((q) => /"label" > \$\d+/.test(q.sql))).toHaveLength(scans.length - 1);
    expect(firstQueries.some((q) => /\boffset\b/i.test(q.sql))).toBe(false);
  });

  it('reports each row once, in the order of the id column', async () => {
    const ordered = ((await db.knex(table).select('label').where({ type: 'X.509' }).orderBy('label')) as { label: string }[]).map((r) => r.label);
    expect(seen.map((r) => r.id)).toEqual(ordered);
    expect(first.scanned).toBe(first.tracked + first.skipped + first.failed);
  });

  it('is harmless to run again: every row is already tracked or still broken, and nothing is written', async () => {
    const rowsBefore = await rows();
    const records = await w.store.list({ limit: 1000 });
    const again = await importTable(db.knex, w.steward, options());
    expect(again.tracked).toBe(0);
    expect(again.backfilled).toBe(0);
    const skipped = again.problems.filter((p) => p.outcome === 'skipped');
    expect(Object.fromEntries(skipped.map((p) => [p.id, p.reason]))).toEqual({
      ...Object.fromEntries([...good.keys()].map((k) => [k, 'already-tracked'])),
      revoked1: 'revoked',
    });
    expect(Object.fromEntries(again.problems.filter((p) => p.outcome === 'failed').map((p) => [p.id, p.reason]))).toEqual(Object.fromEntries(broken));
    expect(await rows()).toEqual(rowsBefore);
    expect(await w.store.list({ limit: 1000 })).toEqual(records);
  });

  it('takes a real Steward as its target, with its renewal policy type', async () => {
    // Compile-time: the Steward's track() accepts what the importer builds (checked strictly, the target's track is a property).
    const target: TableImportTarget<TimingPolicy> = w.steward satisfies Steward;
    const report = await importTable(db.knex, target, {
      ...options(),
      where: { label: 'user1' },
      renewal: () => ({ before: '3d' }),
      key: () => ({ algorithm: 'ECDSA-P384', rotate: 'always' }),
    });
    // Tracked by the first run already: proves the target's ConflictError reaches the report.
    expect(report.problems.map((p) => [p.id, p.reason])).toEqual([['user1', 'already-tracked']]);
  });

  it('refuses a missing table, a missing column or a bad where before tracking anything', async () => {
    const count = (await w.store.list({ limit: 1000 })).length;
    const cases: Array<[string, TableImportOptions<TimingPolicy>]> = [
      ['table', { ...options(), table: `${db.schema}.no_such_table` }],
      ['columns.certificate', { ...options(), columns: { id: 'label', certificate: 'cert_pem' } }],
      ['columns.expiresAt', { ...options(), columns: { id: 'label', certificate: 'certificate', expiresAt: 'expires' } }],
      ['where', { ...options(), where: { no_such_column: 1 } }],
    ];
    for (const [setting, bad] of cases) {
      const e = await rejection(importTable(db.knex, w.steward, bad));
      expect(e, setting).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).setting, setting).toBe(setting);
    }
    expect((await w.store.list({ limit: 1000 })).length).toBe(count);
  });
});

describe('importTable on PostgreSQL, a table without a primary key', () => {
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  let w: Awaited<ReturnType<typeof world>>;
  let table: string;
  let pems: Record<string, string>;

  beforeAll(async () => {
    db = await freshPgSchema('importer');
    table = `${db.schema}.identities`;
    w = await world();
    await db.knex.schema.withSchema(db.schema).createTable('identities', (t) => {
      t.text('label').nullable();
      t.text('certificate').nullable();
      t.specificType('certificate_expires_at', 'timestamptz').nullable();
    });
    pems = {
      a: await w.issue('a', 30),
      dup1: await w.issue('dup', 30),
      dup2: await w.issue('dup', 31),
      pre: await w.issue('pre', 30),
      preOther: await w.issue('pre', 45),
      z: await w.issue('z', 30),
      nolabel: await w.issue('nolabel', 30),
      blank: await w.issue('blank', 30),
      keyed: await w.issue('keyed', 30),
    };
    await db.knex(table).insert([
      { label: 'a', certificate: pems['a'] },
      // Two rows share an id; with batchSize 3 the first page ('', a, dup) ends between them.
      { label: 'dup', certificate: pems['dup1'] },
      { label: 'dup', certificate: pems['dup2'] },
      { label: 'pre', certificate: pems['pre'] },
      { label: 'z', certificate: pems['z'] },
      { label: null, certificate: pems['nolabel'] },
      { label: '', certificate: pems['blank'] },
      // A cell holding the certificate and its private key: only the certificate may reach the steward.
      { label: 'keyed', certificate: oracle(pems['keyed']!).leafPem + privateKeyPem() },
    ]);
    // "pre" is tracked already, with another certificate.
    await w.steward.track({ id: 'pre', authority: AUTHORITY, commonName: 'pre', subjectAltNames: [], existing: { chainPem: pems['preOther']! } });
  });
  afterAll(async () => db?.drop());

  it('tracks none of the rows sharing an id, even across a page boundary; reports NULL and empty ids; skips an id already tracked', async () => {
    const allBefore = await db.knex(table).select('*').orderBy(['label', 'certificate']);
    const report = await importTable(db.knex, w.steward, {
      table,
      columns: { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at' },
      authority: AUTHORITY,
      batchSize: 3,
    });
    expect(report.problems.map((p) => [p.outcome, p.id, p.reason])).toEqual([
      ['failed', '', 'missing-id'],
      ['failed', 'dup', 'duplicate'],
      ['failed', 'dup', 'duplicate'],
      ['skipped', 'pre', 'already-tracked'],
      ['failed', null, 'missing-id'],
    ]);
    expect(report.problems.at(-1)!.message).toMatch(/^1 row/);
    expect({ scanned: report.scanned, tracked: report.tracked, skipped: report.skipped, failed: report.failed }).toEqual({
      scanned: 8,
      tracked: 3,
      skipped: 1,
      failed: 4,
    });
    expect(await w.steward.get('dup')).toBeUndefined();
    // The steward keeps the certificate it had, and the table row is not back-filled with anything.
    expect(normSerial((await w.steward.get('pre'))!.certificate!.serialNumber)).toBe(oracle(pems['preOther']!).serial);
    const after = await db.knex(table).select('*').orderBy(['label', 'certificate']);
    const untouched = (rs: Record<string, unknown>[]) => rs.filter((r) => !['a', 'z', 'keyed'].includes(r['label'] as string));
    expect(untouched(after)).toEqual(untouched(allBefore));
    for (const label of ['a', 'z']) {
      const row = after.find((r: Record<string, unknown>) => r['label'] === label)!;
      expect((row['certificate_expires_at'] as Date).getTime()).toBe(oracle(pems[label]!).notAfter.getTime());
    }
  });

  it('copies only the certificate blocks of a cell into the steward, never a private key next to them', async () => {
    const view = await w.steward.get('keyed');
    expect(view?.certificate?.chainPem).toBe(oracle(pems['keyed']!).leafPem);
    expect(JSON.stringify(await w.store.get('keyed'))).not.toMatch(/PRIVATE KEY/);
  });

  it('refuses invalid options with a ConfigError naming the option', async () => {
    const base = { table, columns: { id: 'label', certificate: 'certificate' }, authority: AUTHORITY };
    const cases: Array<[string, unknown]> = [
      ['batchSize', { ...base, batchSize: 0 }],
      ['batchSize', { ...base, batchSize: 2.5 }],
      ['table', { ...base, table: 'a.b.c' }],
      ['columns.id', { ...base, columns: { certificate: 'certificate' } }],
      ['columns.expiresAt', { ...base, columns: { id: 'label', certificate: 'certificate', expiresAt: 'certificate' } }],
      ['authority', { ...base, authority: '' }],
      ['where', { ...base, where: 'label = 1' }],
      ['labels', { ...base, labels: { a: 'b' } }],
    ];
    for (const [setting, bad] of cases) {
      const e = await rejection(importTable(db.knex, w.steward, bad as TableImportOptions<TimingPolicy>));
      expect(e, setting).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).setting, setting).toBe(setting);
      expect((e as ConfigError).message, setting).toContain(setting.replace('columns.', ''));
    }
    const e = await rejection(importTable(db.knex, {} as TableImportTarget, base));
    expect((e as ConfigError).setting).toBe('target');
  });
});

describe('importTable on SQLite (better-sqlite3), DER in a BLOB column', () => {
  let db: ReturnType<typeof freshSqlite>;
  let w: Awaited<ReturnType<typeof world>>;
  const chains: Record<string, string> = {};

  beforeAll(async () => {
    db = freshSqlite();
    w = await world();
    await db.knex.schema.createTable('identities', (t) => {
      t.text('name').primary();
      t.binary('der');
      t.bigInteger('expires_at').nullable();
    });
    for (const [name, days] of [['api', 30], ['db', 45], ['mq', 60], ['web', 90]] as const) chains[name] = await w.issue(name, days);
    await db.knex('identities').insert([
      { name: 'api', der: oracle(chains['api']!).leafDer },
      { name: 'db', der: oracle(chains['db']!).leafDer },
      // PEM text in the same column: both are accepted.
      { name: 'mq', der: chains['mq'] },
      { name: 'noise', der: Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]) },
      { name: 'web', der: oracle(chains['web']!).leafDer },
    ]);
  });
  afterAll(async () => db?.drop());

  it('stops between rows when its signal is aborted; what it tracked until then is tracked and back-filled', async () => {
    const controller = new AbortController();
    let rows = 0;
    const e = await rejection(
      importTable(db.knex, w.steward, {
        table: 'identities',
        columns: { id: 'name', certificate: 'der', expiresAt: 'expires_at' },
        authority: AUTHORITY,
        batchSize: 2,
        signal: controller.signal,
        onRow: () => {
          if (++rows === 1) controller.abort(new Error('operator stopped the import'));
        },
      }),
    );
    expect((e as Error).message).toBe('operator stopped the import');
    expect(await w.steward.get('api')).toBeDefined();
    expect(await w.steward.get('db')).toBeUndefined();
    const api = (await db.knex('identities').where({ name: 'api' }).first()) as { expires_at: number | null };
    expect(Number(api.expires_at)).toBe(oracle(chains['api']!).notAfter.getTime());
  });

  it('adopts DER and PEM cells, back-fills epoch ms, and reports malformed DER, on a second run after the interrupted one', async () => {
    const noiseBefore = await db.knex('identities').where({ name: 'noise' }).first();
    const report = await importTable(db.knex, w.steward, {
      table: 'identities',
      columns: { id: 'name', certificate: 'der', expiresAt: 'expires_at' },
      authority: AUTHORITY,
      batchSize: 2,
    });
    expect(report.problems.map((p) => [p.id, p.reason])).toEqual([
      ['api', 'already-tracked'],
      ['noise', 'unparseable-certificate'],
    ]);
    expect({ tracked: report.tracked, backfilled: report.backfilled }).toEqual({ tracked: 3, backfilled: 3 });
    for (const name of ['db', 'mq', 'web']) {
      const expected = oracle(chains[name]!);
      const view = await w.steward.get(name);
      expect(normSerial(view!.certificate!.serialNumber), name).toBe(expected.serial);
      const row = (await db.knex('identities').where({ name }).first()) as { expires_at: number | null };
      expect(Number(row.expires_at), name).toBe(expected.notAfter.getTime());
    }
    expect(await db.knex('identities').where({ name: 'noise' }).first()).toEqual(noiseBefore);
  });
});

describe('importTable keyRef option (SQLite)', () => {
  it('tracks each certificate with the key of its row, moved into the key store, and fails a row whose key is another', async () => {
    const db = freshSqlite();
    try {
      const w = await world();
      await db.knex.schema.createTable('wallet', (t) => {
        t.text('label').primary();
        t.text('certificate');
        t.text('private_key');
      });
      const rows: { label: string; certificate: string; private_key: string }[] = [];
      for (const label of ['alice', 'bob']) {
        const pkcs8Pem = privateKeyPem();
        const key = await w.keys.import!({ pkcs8: new Uint8Array(createPrivateKey(pkcs8Pem).export({ type: 'pkcs8', format: 'der' })), algorithm: 'ECDSA-P256' });
        const csrPem = await buildCsr({ key, commonName: label, subjectAltNames: [] });
        const r = await w.ca.issue({ id: label, key, commonName: label, subjectAltNames: [], csrPem, lifetimeMs: 30 * DAY });
        if (r.status !== 'issued') throw new Error('the local CA did not issue');
        rows.push({ label, certificate: r.chainPem, private_key: pkcs8Pem });
      }
      // carol's row holds alice's certificate with bob's key.
      rows.push({ label: 'carol', certificate: rows[0]!.certificate, private_key: rows[1]!.private_key });
      await db.knex('wallet').insert(rows);
      const report = await importTable(db.knex, w.steward, {
        table: 'wallet',
        columns: { id: 'label', certificate: 'certificate' },
        authority: AUTHORITY,
        keyRef: async (row) => {
          const pkcs8 = new Uint8Array(createPrivateKey(String(row['private_key'])).export({ type: 'pkcs8', format: 'der' }));
          return (await w.keys.import!({ pkcs8, algorithm: 'ECDSA-P256', label: String(row['label']) })).ref;
        },
      });
      expect([report.tracked, report.failed]).toEqual([2, 1]);
      expect(report.problems.map((p) => [p.id, p.reason])).toEqual([['carol', 'key-mismatch']]);
      for (const label of ['alice', 'bob']) {
        const rec = (await w.store.get(label))!;
        const handle = await w.keys.load(rec.current!.keyRef);
        expect(handle.ref.spkiSha256).toBe(parseCertificates(rec.current!.chainPem)[0]!.publicKey.sha256);
      }
      expect(await w.store.get('carol')).toBe(undefined);
    } finally {
      await db.drop();
    }
  });
});
