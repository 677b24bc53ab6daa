/**
 * The issue's end-to-end scenario ("Fabric CA … for Fabric wallets that never
 * expire"): a PostgreSQL wallet table shaped like Fabric's, with an admin and
 * users whose enrollment certificates expire in 5, 20 and 300 days, one
 * already expired, one revoked at the CA without the table knowing, and one
 * marked revoked in the table. The identities' private keys are in a
 * SoftwareKeyStore (KeyStore.import), the steward runs on a KnexStore in the
 * same schema, adopts the table with importTable, writes back with syncTable,
 * and renews through FabricCaAuthority against the protocol-faithful test
 * Fabric CA, everyone on one ManualClock.
 */
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FabricCaAuthority } from '../../../adapters/fabric-ca/index.js';
import { KnexStore, importTable, syncTable, type TableImportReport, type TableSyncFailure } from '../../../adapters/knex/index.js';
import { SoftwareKeyStore } from '../../../src/keys/software-key-store.js';
import { buildCsr } from '../../../src/pki/csr.js';
import type { KeyRef } from '../../../src/ports/key-store.js';
import type { StewardEventName } from '../../../src/steward/events.js';
import { createSteward, type Steward } from '../../../src/steward/steward.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { freshPgSchema } from '../../support/databases.js';
import { startFabricCaServer, type FabricCaTestServer } from '../../support/fabric-ca-server.js';

const DAY = 86_400_000;
const T0 = Date.parse('2025-01-01T00:00:00Z');
/** "Now" of the scenario: the day the host adopts its wallet. Every certificate is a 365-day Fabric ecert. */
const N = T0 + 400 * DAY;

/** The wallet: enrollment id = label; `left` = days of validity left at N. */
const WALLET = [
  { label: 'user5', type: 'client', left: -30 }, // expired a month ago
  { label: 'org1-admin', type: 'admin', left: 5 },
  { label: 'user3', type: 'client', left: 10, revokeAtCa: true }, // the CA revoked it; the table does not know
  { label: 'user1', type: 'client', left: 20 },
  { label: 'user4', type: 'client', left: 25, revokedInTable: true },
  { label: 'user2', type: 'client', left: 300 },
] as const;

type Row = Record<string, unknown>;
type Logged = { name: StewardEventName; id: string | undefined; at: number; payload: Record<string, unknown> };

const notAfterOf = (pem: string): number => Date.parse(new X509Certificate(pem).validTo);
const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
const blocks = (pem: string): number => pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;

describe('a Fabric wallet table kept renewed by the steward (PostgreSQL, Fabric CA, one ManualClock)', () => {
  let server: FabricCaTestServer;
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  let table: string;
  let clock: ManualClock;
  let steward: Steward;
  let sync: Awaited<ReturnType<typeof syncTable>>;
  let imported: TableImportReport;
  const events: Logged[] = [];
  const syncFailures: TableSyncFailure[] = [];
  /** The wallet as the host wrote it, before adoption. */
  let original: Map<string, Row>;
  /** Index of the first server request after the steward started. */
  let from: number;

  const rows = async (): Promise<Map<string, Row>> => new Map(((await db.knex(table).select('*')) as Row[]).map((r) => [r['label'] as string, r]));
  const of = (id: string, name?: StewardEventName) => events.filter((e) => e.id === id && (!name || e.name === name));
  /** Server calls (method, path without query, status, caller) since the steward started, that concern `id`. */
  const callsFor = (id: string): string[] =>
    server.requests
      .slice(from)
      .filter((r) => r.caller === id || r.path.includes(`/identities/${id}`))
      .map((r) => `${r.method} ${r.path.split('?')[0]} ${r.status}`);

  beforeAll(async () => {
    clock = new ManualClock(new Date(T0));
    server = await startFabricCaServer({ clock });
    db = await freshPgSchema('fabricwallet');
    table = `${db.schema}.wallet`;
    const keys = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek() });
    const registrar = { enrollmentId: 'admin', enrollmentSecret: 'adminpw' } as const;
    const ca = { url: server.url, caName: server.caName, tls: { ca: server.tlsCaPem }, registrar, clock };

    // ---- the host's past: identities registered and enrolled over the year, keys kept by the host.
    const setup = new FabricCaAuthority(ca);
    const walletKeys = new Map<string, KeyRef>();
    const certificates = new Map<string, string>();
    const secrets = new Map<string, string>();
    for (const w of WALLET) {
      secrets.set(w.label, (await setup.register({ id: w.label, type: w.type, affiliation: 'org1' })).secret);
    }
    for (const w of [...WALLET].sort((a, b) => a.left - b.left)) {
      // A 365-day certificate with `left` days to go at N was enrolled at N − 365 + left days.
      await clock.advanceTo(new Date(N - (365 - w.left) * DAY));
      const pkcs8 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'der' });
      const key = await keys.import({ pkcs8: new Uint8Array(pkcs8), algorithm: 'ECDSA-P256', label: w.label });
      walletKeys.set(w.label, key.ref);
      const csrPem = await buildCsr({ key, commonName: w.label, subjectAltNames: [] });
      const { certificatePem } = await setup.enroll({ enrollmentId: w.label, secret: secrets.get(w.label)!, csrPem });
      certificates.set(w.label, certificatePem);
      if ('revokeAtCa' in w) await setup.revokeCertificate(certificatePem, 'keyCompromise');
    }
    await clock.advanceTo(new Date(N));

    await db.knex.schema.withSchema(db.schema).createTable('wallet', (t) => {
      t.text('label').primary();
      t.text('certificate').notNullable();
      t.text('type').notNullable();
      t.specificType('certificate_expires_at', 'timestamptz').nullable();
      t.specificType('certificate_notified_at', 'timestamptz').nullable();
      t.boolean('revoked').notNullable().defaultTo(false);
      t.specificType('revoked_at', 'timestamptz').nullable();
      t.text('revocation_reason').nullable();
    });
    await db.knex(table).insert(
      WALLET.map((w) => ({
        label: w.label,
        certificate: certificates.get(w.label)!,
        type: 'X.509',
        ...('revokedInTable' in w ? { revoked: true, revoked_at: new Date(N - 3 * DAY), revocation_reason: 'affiliation changed' } : {}),
      })),
    );
    original = await rows();

    // ---- the host today: its steward, on the same database.
    const store = new KnexStore(db.knex, { schema: db.schema });
    await store.migrate();
    const fabric = new FabricCaAuthority({
      ...ca,
      // Adopted certificates have no key in the steward's store: the wallet's key signs their re-enrollment token.
      currentKey: async (request) => {
        const ref = walletKeys.get(request.commonName ?? request.id);
        return ref ? keys.load(ref) : undefined;
      },
    });
    steward = createSteward({ store, keys, clock, authorities: { fabric }, pollIntervalMs: null, timing: { before: '14d', jitter: '1d' } });
    const names: StewardEventName[] = ['certificate.tracked', 'certificate.expiring', 'certificate.expired', 'renewal.started', 'renewal.succeeded', 'renewal.failed', 'renewal.overdue', 'error'];
    for (const name of names) {
      steward.on(name, (p) => {
        const payload = p as unknown as Record<string, unknown>;
        events.push({ name, id: payload['id'] as string | undefined, at: (payload['at'] as Date).getTime(), payload });
      });
    }
    imported = await importTable(db.knex, steward, {
      table,
      columns: { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at', revoked: 'revoked' },
      where: { type: 'X.509' },
      authority: 'fabric',
      labels: () => ({ wallet: 'org1' }),
    });
    sync = await syncTable(db.knex, steward, {
      table,
      columns: { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at', notifiedAt: 'certificate_notified_at' },
      where: { type: 'X.509' },
      onError: (f) => void syncFailures.push(f),
    });
    from = server.requests.length;
    await steward.start();
    // Nine days: user1 comes due (14 ± 1 days before its end), user3's certificate is still within its validity.
    await clock.advanceTo(new Date(N + 9 * DAY));
    await sync.flush();
  }, 60_000);

  afterAll(async () => {
    await steward?.stop();
    await sync?.();
    await db?.drop();
    await server?.stop();
  });

  it('adopts every X.509 row but the one marked revoked, and back-fills the expiry column', async () => {
    expect({ tracked: imported.tracked, backfilled: imported.backfilled, failed: imported.failed }).toEqual({ tracked: 5, backfilled: 5, failed: 0 });
    expect(imported.problems.map((p) => [p.id, p.outcome, p.reason])).toEqual([['user4', 'skipped', 'revoked']]);
    expect(await steward.get('user4')).toBeUndefined();
    for (const w of WALLET) expect(notAfterOf(original.get(w.label)!['certificate'] as string)).toBe(N + w.left * DAY);
  });

  it('warns for the 5-day (critical) and the 20-day (warning) certificates, no later than their renewal, and not for the 300-day one', () => {
    const warned = (id: string) => of(id, 'certificate.expiring').map((e) => ({ level: e.payload['level'], at: e.at }));
    expect(warned('org1-admin')).toEqual([{ level: 'critical', at: N }]);
    const [user1] = warned('user1');
    expect(user1?.level).toBe('warning');
    expect(user1!.at).toBeLessThanOrEqual(of('user1', 'renewal.started')[0]!.at);
    expect(warned('user2')).toEqual([]);
    expect(of('user5', 'certificate.expired').map((e) => e.at)).toEqual([N]);
  });

  it('re-enrolls the admin at once and user1 inside its renewal window, with the token of the current certificate (POST reenroll, never enroll or register)', () => {
    const admin = of('org1-admin', 'renewal.succeeded');
    expect(admin.map((e) => e.at)).toEqual([N]);
    const user1 = of('user1', 'renewal.succeeded');
    expect(user1).toHaveLength(1);
    const user1End = N + 20 * DAY;
    expect(user1[0]!.at).toBeGreaterThanOrEqual(user1End - 15 * DAY);
    expect(user1[0]!.at).toBeLessThanOrEqual(user1End - 13 * DAY);
    // Each renewal is one re-enrollment authenticated by the identity itself.
    expect(callsFor('org1-admin')).toEqual(['POST /api/v1/reenroll 201']);
    expect(callsFor('user1')).toEqual(['POST /api/v1/reenroll 201']);
    expect(server.requests.slice(from).filter((r) => r.path.includes('/register'))).toEqual([]);
    // The events of each step, in order.
    expect(of('org1-admin').map((e) => e.name)).toEqual(['certificate.tracked', 'certificate.expiring', 'renewal.started', 'renewal.succeeded']);
    expect(of('user1').map((e) => e.name)).toEqual(['certificate.tracked', 'certificate.expiring', 'renewal.started', 'renewal.succeeded']);
  });

  it('writes the renewals back to the wallet rows (leaf certificate, new expiry) and stamps the warnings', async () => {
    const now = await rows();
    for (const label of ['org1-admin', 'user1', 'user5']) {
      const [renewed] = of(label, 'renewal.succeeded');
      const row = now.get(label)!;
      const cell = row['certificate'] as string;
      expect({ label, blocks: blocks(cell), serial: serialOf(cell), expires: (row['certificate_expires_at'] as Date).getTime() }).toEqual({
        label,
        blocks: 1,
        serial: (renewed!.payload['serialNumber'] as string).toLowerCase().replace(/^0+(?=.)/, ''),
        expires: notAfterOf(cell),
      });
      // A fresh 365-day certificate from the CA.
      expect(notAfterOf(cell)).toBeGreaterThan(N + 300 * DAY);
      // Nothing else in the row changed but the notification time.
      expect({ ...row, certificate: null, certificate_expires_at: null, certificate_notified_at: null }).toEqual({
        ...original.get(label)!,
        certificate: null,
        certificate_expires_at: null,
        certificate_notified_at: null,
      });
    }
    expect((now.get('org1-admin')!['certificate_notified_at'] as Date).getTime()).toBe(N);
    expect((now.get('user1')!['certificate_notified_at'] as Date).getTime()).toBe(of('user1', 'certificate.expiring')[0]!.at);
    expect(syncFailures).toEqual([]);
  });

  it('keeps the 300-day certificate as it is, and never touches the row marked revoked', async () => {
    const now = await rows();
    expect(now.get('user2')).toEqual({ ...original.get('user2')!, certificate_expires_at: new Date(N + 300 * DAY) });
    expect(now.get('user4')).toEqual(original.get('user4'));
    expect(of('user2').map((e) => e.name)).toEqual(['certificate.tracked']);
    expect(callsFor('user2')).toEqual([]);
    expect(callsFor('user4')).toEqual([]);
    // Its renewal is planned 14 ± 1 days before its end.
    expect((await steward.explain('user2')).plan!.at.getTime()).toBeGreaterThanOrEqual(N + 285 * DAY);
  });

  it('refuses to renew the certificate the CA revoked: renewal.failed with errorKind authority-revoked, no enrollment, the row unchanged', async () => {
    const failed = of('user3', 'renewal.failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.map((e) => [e.payload['errorKind'], e.payload['retryable']])).toEqual(failed.map(() => ['authority-revoked', false]));
    expect(of('user3', 'renewal.succeeded')).toEqual([]);
    // Every attempt was a re-enrollment the CA refused for the revoked certificate (a failed authentication
    // names no caller: user3's are the only refusals); no secret reset, no enrollment.
    const refused = server.requests.slice(from).filter((r) => r.status !== 200 && r.status !== 201);
    expect(refused.map((r) => `${r.method} ${r.path} ${r.status} ${r.code} ${r.log}`)).toEqual(
      failed.map(() => 'POST /api/v1/reenroll 401 20 28 "The certificate in the authorization header is a revoked certificate"'),
    );
    // Only the registrar's lookup that confirms the refusal is about the certificate, not the token.
    expect(callsFor('user3')).toEqual(['GET /api/v1/identities/user3 200']);
    expect(server.issued().filter((c) => c.id === 'user3')).toHaveLength(1);
    const now = await rows();
    expect(now.get('user3')!['certificate']).toBe(original.get('user3')!['certificate']);
  });

  it('recovers the already-expired certificate through the registrar: identity lookup, secret reset, enrollment (never register)', () => {
    expect(callsFor('user5')).toEqual(['GET /api/v1/identities/user5 200', 'PUT /api/v1/identities/user5 200', 'POST /api/v1/enroll 201']);
    expect(of('user5').map((e) => e.name)).toEqual(['certificate.tracked', 'certificate.expired', 'renewal.started', 'renewal.succeeded']);
    expect(server.identity('user5')!.enrollments).toBe(2);
  });

  it('warns a certificate adopted inside its warning threshold at adoption, not days later at its renewal', () => {
    // user1 had 20 days left at N (warning threshold: 30 days): a reached but unannounced level is due at once.
    expect(of('user1', 'certificate.expiring').map((e) => e.at)).toEqual([N]);
  });

  it('never renews the certificate the CA revoked, also once it reaches its end (last test: moves the clock on)', async () => {
    // The CA refused the re-enrollment as revoked: the record is marked revoked, so the steward never reaches the
    // certificate's last minute, where the authority would treat it as expired and recover it through the registrar.
    await clock.advanceTo(new Date(N + 12 * DAY));
    await sync.flush();
    expect({
      renewed: of('user3', 'renewal.succeeded').length,
      calls: callsFor('user3'),
      issued: server.issued().filter((c) => c.id === 'user3').length,
      row: (await rows()).get('user3')!['certificate'] === original.get('user3')!['certificate'],
    }).toEqual({ renewed: 0, calls: ['GET /api/v1/identities/user3 200'], issued: 1, row: true });
  });
});
