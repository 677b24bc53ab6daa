/**
 * examples/fabric-wallet.mjs, run as users run it (`node examples/…` against
 * the built package), pointed through its environment variables at the test
 * Fabric CA (HTTPS on loopback) and a wallet table in a fresh PostgreSQL
 * schema. The wallet's certificates were enrolled "a year ago" (the test
 * server's clock is set back while they are minted), so one is due now.
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FabricCaAuthority } from '../../adapters/fabric-ca/index.js';
import { buildCsr } from '../../src/pki/csr.js';
import type { Clock } from '../../src/ports/clock.js';
import { systemClock } from '../../src/steward/system-clock.js';
import { MemoryKeyStore } from '../../src/testing/memory-key-store.js';
import { PG_URL, freshPgSchema } from '../support/databases.js';
import { startFabricCaServer, type FabricCaTestServer } from '../support/fabric-ca-server.js';
import { runNode, type NodeRun } from '../support/run-node.js';

const root = resolve(__dirname, '..', '..');
const example = join(root, 'examples', 'fabric-wallet.mjs');
const DAY = 86_400_000;

/** Days of validity left now; `revoked` rows are marked revoked in the table. */
const WALLET = [
  { label: 'org1-admin', type: 'admin', left: 5 },
  { label: 'user1', type: 'client', left: 200 },
  { label: 'user2', type: 'client', left: 20, revoked: true },
] as const;

type Row = Record<string, unknown>;
const spkiOfCert = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
const spkiOfKey = (pem: string) => createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' }).toString('hex');
const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+(?=.)/, '');

let server: FabricCaTestServer;
let db: Awaited<ReturnType<typeof freshPgSchema>>;
let dir: string;
let table: string;
let original: Map<string, Row>;

const rows = async (): Promise<Map<string, Row>> => new Map(((await db.knex(table).select('*')) as Row[]).map((r) => [r['label'] as string, r]));

beforeAll(async () => {
  // The server's clock starts a year and a month back, so its CA can have issued what the wallet holds, then catches up.
  let offset = 400 * DAY;
  const clock: Clock = { now: () => new Date(Date.now() - offset), setTimer: (at, fn) => systemClock.setTimer(at, fn), sleep: (ms, signal) => systemClock.sleep(ms, signal) };
  server = await startFabricCaServer({ clock });
  const ca = new FabricCaAuthority({ url: server.url, caName: server.caName, tls: { ca: server.tlsCaPem }, registrar: { enrollmentId: 'admin', enrollmentSecret: 'adminpw' }, clock: { now: () => server.now() } });
  const keys = new MemoryKeyStore();
  const wallet: Row[] = [];
  const now = Date.now();
  for (const w of WALLET) {
    const { secret } = await ca.register({ id: w.label, type: w.type, affiliation: 'org1' });
    // A 365-day certificate with `left` days to go was enrolled 365 − left days ago.
    server.setTime(new Date(now - (365 - w.left) * DAY));
    const privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const key = await keys.import({ pkcs8: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })), algorithm: 'ECDSA-P256' });
    const { certificatePem } = await ca.enroll({ enrollmentId: w.label, secret, csrPem: await buildCsr({ key, commonName: w.label, subjectAltNames: [] }) });
    server.setTime(undefined);
    wallet.push({
      label: w.label,
      certificate: certificatePem,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      type: 'X.509',
      ...('revoked' in w ? { revoked: true, revoked_at: new Date(now - DAY), revocation_reason: 'affiliation changed' } : {}),
    });
  }
  offset = 0;

  db = await freshPgSchema('fabricexample');
  table = `${db.schema}.wallet`;
  await db.knex.schema.withSchema(db.schema).createTable('wallet', (t) => {
    t.text('label').primary();
    t.text('certificate').notNullable();
    t.text('private_key').notNullable();
    t.text('type').notNullable();
    t.specificType('certificate_expires_at', 'timestamptz').nullable();
    t.specificType('certificate_notified_at', 'timestamptz').nullable();
    t.boolean('revoked').notNullable().defaultTo(false);
    t.specificType('revoked_at', 'timestamptz').nullable();
    t.text('revocation_reason').nullable();
  });
  await db.knex(table).insert(wallet);
  original = await rows();
  dir = mkdtempSync(join(tmpdir(), 'certsteward-fabric-example-'));
  writeFileSync(join(dir, 'tls-ca.pem'), server.tlsCaPem);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<NodeRun> {
  if (!existsSync(join(root, 'dist', 'knex.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  const env = {
    ...process.env,
    DATABASE_URL: PG_URL,
    WALLET_TABLE: table,
    CERTSTEWARD_SCHEMA: db.schema,
    FABRIC_CA_URL: server.url,
    FABRIC_CA_NAME: server.caName,
    FABRIC_CA_TLS_CA_FILE: join(dir, 'tls-ca.pem'),
    FABRIC_CA_REGISTRAR: 'admin:adminpw',
    CERTSTEWARD_KEK: Buffer.alloc(32, 7).toString('base64'),
  };
  return runNode(example, args, { cwd: root, env });
}

describe('examples/fabric-wallet.mjs (a host service keeping its Fabric wallet table renewed)', () => {
  let first: Awaited<ReturnType<typeof run>>;

  it('adopts the wallet rows, re-enrolls the one that is due, writes its certificate, expiry and key back, and exits 0', async () => {
    const from = server.requests.length;
    first = await run(['--once']);
    expect(first.status, `stdout:\n${first.stdout}\nstderr:\n${first.stderr}`).toBe(0);
    expect(first.stdout).toMatch(/^adopted 2 of 3 wallet rows$/m);
    expect(first.stdout).toMatch(/^ {2}skipped user2: revoked$/m);
    expect(first.stdout).toMatch(/^ {2}org1-admin +until \S+ \([45] days\) {2}next: renew now$/m);
    expect(first.stdout).toMatch(/^ {2}user1 +until \S+ \((199|200) days\) {2}next: renew \d{4}-/m);
    expect(first.stdout).toMatch(/^expiring org1-admin: critical, [45] days left/m);
    const renewed = /^renewed org1-admin: serial ([0-9a-f]+), valid until (\S+)$/m.exec(first.stdout);
    expect(renewed, first.stdout).not.toBeNull();
    expect(first.stdout).toMatch(/^wallet row org1-admin updated: new certificate and key \(1 row\)$/m);
    expect(first.stdout).toMatch(/^one pass: 1 renewed, 0 failed$/m);
    expect(first.stdout).not.toMatch(/renewed user1/);

    const now = await rows();
    const admin = now.get('org1-admin')!;
    const cert = admin['certificate'] as string;
    // The row holds the certificate the example announced, its expiry, and the key that goes with it.
    expect(serialOf(cert)).toBe(renewed![1]!.replace(/^0+(?=.)/, ''));
    expect((admin['certificate_expires_at'] as Date).getTime()).toBe(Date.parse(new X509Certificate(cert).validTo));
    expect(new Date(renewed![2]!).getTime()).toBe(Date.parse(new X509Certificate(cert).validTo));
    expect(spkiOfKey(admin['private_key'] as string)).toBe(spkiOfCert(cert));
    expect(admin['private_key']).not.toBe(original.get('org1-admin')!['private_key']);
    expect(admin['certificate_notified_at']).toBeInstanceOf(Date);
    // By re-enrollment with the wallet's key, at this CA; nothing registered.
    const calls = server.requests.slice(from).filter((r) => !r.path.includes('/cainfo')).map((r) => `${r.method} ${r.path} ${r.status} ${r.caller}`);
    expect(calls).toEqual(['POST /api/v1/reenroll 201 org1-admin']);
    // user1 (not due) only got its expiry back-filled; user2 (revoked) was not touched.
    expect(now.get('user1')).toEqual({ ...original.get('user1')!, certificate_expires_at: new Date(Date.parse(new X509Certificate(original.get('user1')!['certificate'] as string).validTo)) });
    expect(now.get('user2')).toEqual(original.get('user2'));
  }, 60_000);

  it('a second run picks up the adopted wallet: nothing adopted again, nothing due, exit 0', async () => {
    const before = await rows();
    const from = server.requests.length;
    const r = await run(['--once']);
    expect(r.status, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^adopted 0 of 3 wallet rows$/m);
    expect(r.stdout).toMatch(/^ {2}skipped org1-admin: already-tracked$/m);
    expect(r.stdout).toMatch(/^one pass: 0 renewed, 0 failed$/m);
    expect(await rows()).toEqual(before);
    expect(server.requests.slice(from).filter((x) => !x.path.includes('/cainfo'))).toEqual([]);
  }, 60_000);
});
