/**
 * ACME Renewal Information (RFC 9773) end to end: AcmeAuthority and the
 * steward against a real Pebble behind a local ARI responder
 * (test/support/ari-proxy.ts), since Pebble 2.4 has no ARI of its own.
 *
 * Pebble issues 30-day certificates here (certificateValidityPeriod); the
 * steward runs on a ManualClock started at the real time, so Pebble's real
 * notBefore and the steward's plans line up.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AcmeAuthority, certId } from '../../../adapters/acme/acme-authority.js';
import { Http01Solver } from '../../../adapters/acme/http01-solver.js';
import { LocalAuthority } from '../../../adapters/local-ca/local-authority.js';
import { AuthorityError, buildCsr, createSteward, type IssueRequest, type StewardOptions } from '../../../src/index.js';
import type { StewardEvents } from '../../../src/steward/events.js';
import { ManualClock, MemoryKeyStore, MemoryStore } from '../../../src/testing/index.js';
import { ariCertId, ariParts, defaultReply, startAriProxy, type AriProxy, type KnownCertificate } from '../../support/ari-proxy.js';
import { startPebble, type PebblePeer } from '../../support/pebble.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LIFETIME_DAYS = 30;

let pebble: PebblePeer;
let proxy: AriProxy;
let http01: Http01Solver;
let opensslDir: string;
const keys = new MemoryKeyStore();
const opened: AcmeAuthority[] = [];

beforeAll(async () => {
  pebble = await startPebble({ certificateValidityPeriod: LIFETIME_DAYS * 86_400 });
  http01 = new Http01Solver();
  await http01.listen(pebble.httpPort, '127.0.0.1');
  proxy = await startAriProxy(pebble);
  opensslDir = mkdtempSync(join(tmpdir(), 'certsteward-ari-openssl-'));
});

afterAll(async () => {
  for (const a of opened) a.close();
  await proxy?.close();
  await http01?.close();
  await pebble?.stop();
  if (opensslDir) rmSync(opensslDir, { recursive: true, force: true });
});

beforeEach(() => proxy.reset());

/** An AcmeAuthority on the proxy (default) or straight on Pebble. */
async function acme(options: { direct?: boolean; renewalInfo?: boolean } = {}): Promise<AcmeAuthority> {
  const accountKey = await keys.generate({ algorithm: 'ECDSA-P256', label: 'acme-account' });
  const a = await AcmeAuthority.create({
    directoryUrl: options.direct ? pebble.directoryUrl : proxy.directoryUrl,
    ca: options.direct ? pebble.tlsCaPem : proxy.tlsCaPem,
    accountKey,
    termsOfServiceAgreed: true,
    solvers: [http01],
    pollIntervalMs: 25,
    ...(options.renewalInfo !== undefined ? { renewalInfo: options.renewalInfo } : {}),
  });
  opened.push(a);
  return a;
}

/** A full order through the adapter (issue, then resume until issued); returns the chain. */
async function order(a: AcmeAuthority, name: string, replaces?: string): Promise<string> {
  const key = await keys.generate({ algorithm: 'ECDSA-P256', label: name });
  const subjectAltNames = [{ type: 'dns' as const, value: name }];
  const request: IssueRequest = { id: name, csrPem: await buildCsr({ key, subjectAltNames }), subjectAltNames, key, ...(replaces ? { replaces } : {}) };
  let r = await a.issue(request);
  for (let i = 0; r.status === 'pending'; i++) {
    if (i > 40) throw new Error(`the order for ${name} did not complete`);
    if (i > 0) await new Promise((res) => setTimeout(res, Math.min(200, r.status === 'pending' ? (r.retryAfterMs ?? 25) : 0)));
    r = await a.resume(r.orderRef, request);
  }
  return r.chainPem;
}

/** A certificate from another CA (the built-in local CA). */
async function localCertificate(name: string): Promise<string> {
  const ca = await LocalAuthority.create({ keys, clock: new ManualClock(new Date()) });
  const key = await keys.generate({ algorithm: 'ECDSA-P256', label: name });
  const subjectAltNames = [{ type: 'dns' as const, value: name }];
  const r = await ca.issue({ id: name, csrPem: await buildCsr({ key, subjectAltNames }), subjectAltNames, key });
  if (r.status !== 'issued') throw new Error('the local CA did not issue');
  return r.chainPem;
}

let opensslReady = false;
/** A leaf from an openssl CA whose subject key identifier is the RFC 9773 example's, with the given serial. */
function opensslLeaf(serial: string, options: { aki?: boolean } = {}): string {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: opensslDir, stdio: 'pipe' });
  if (!opensslReady) {
    run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-keyout', 'ca.key', '-out', 'ca.pem',
      '-subj', '/CN=ari test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign',
      '-addext', 'subjectKeyIdentifier=69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4']);
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=leaf.example']);
    writeFileSync(join(opensslDir, 'aki.cnf'), 'authorityKeyIdentifier=keyid:always\nsubjectAltName=DNS:leaf.example\n');
    writeFileSync(join(opensslDir, 'noaki.cnf'), 'subjectAltName=DNS:leaf.example\nauthorityKeyIdentifier=none\nsubjectKeyIdentifier=none\n');
    opensslReady = true;
  }
  const out = `leaf-${serial.replace(/[^0-9a-zA-Z]/g, '_')}-${options.aki === false ? 'noaki' : 'aki'}.pem`;
  run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial, '-days', '3', '-out', out,
    '-extfile', options.aki === false ? 'noaki.cnf' : 'aki.cnf']);
  return readFileSync(join(opensslDir, out), 'utf8');
}

/** The certID computed from node:crypto's serial number (hex, sign-padded) and the AKI read from the DER. */
function certIdFromX509(pem: string): string {
  let hex = new X509Certificate(pem).serialNumber.toLowerCase();
  if (hex.length % 2) hex = `0${hex}`;
  if (/^[89a-f]/.test(hex)) hex = `00${hex}`;
  return `${ariParts(pem).aki!.toString('base64url')}.${Buffer.from(hex, 'hex').toString('base64url')}`;
}

const within = (t: Date | null | undefined, w: { start: Date; end: Date }) =>
  !!t && t.getTime() >= w.start.getTime() && t.getTime() <= w.end.getTime();

/** A steward on the ManualClock with `a` as "acme", recording its events, and a driver for its loop. */
function stewardOn(a: AcmeAuthority, clock: ManualClock, extra: Partial<StewardOptions> = {}) {
  const store = new MemoryStore();
  const steward = createSteward({ store, keys, clock, authorities: { acme: a }, pollIntervalMs: null, pollOrderMs: 50, ...extra });
  const started: StewardEvents['renewal.started'][] = [];
  const succeeded: StewardEvents['renewal.succeeded'][] = [];
  const failed: StewardEvents['renewal.failed'][] = [];
  const errors: StewardEvents['error'][] = [];
  steward.on('renewal.started', (e) => void started.push(e));
  steward.on('renewal.succeeded', (e) => void succeeded.push(e));
  steward.on('renewal.failed', (e) => void failed.push(e));
  steward.on('error', (e) => void errors.push(e));
  /**
   * Runs the steward's work the way its loop would, jumping the clock from one
   * due time to the next, up to `until`. An order Pebble is still processing
   * is due at once: real time is let pass for it. Stops early once `stop()` holds.
   */
  const drive = async (until: Date, stop: () => boolean = () => false): Promise<void> => {
    for (let i = 0; i < 5_000; i++) {
      await steward.runOnce();
      if (stop()) return;
      const due = await store.nextDueAt();
      const now = clock.now().getTime();
      if (!due || due.getTime() > until.getTime()) {
        if (now < until.getTime()) await clock.advanceTo(until);
        return;
      }
      if (due.getTime() > now) await clock.advanceTo(due);
      else await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the steward did not settle');
  };
  return { steward, store, started, succeeded, failed, errors, drive };
}

const named = (name: string) => (cert: KnownCertificate | undefined) => !!cert && cert.names.includes(name);

describe('AcmeAuthority.renewalInfo() (RFC 9773) against Pebble behind an ARI responder', () => {
  it('returns the suggested window as Dates, the Retry-After in ms and the explanation URL', async () => {
    const a = await acme();
    const chain = await order(a, 'info.example.com');
    const id = ariCertId(chain);
    expect(proxy.issued.map((c) => c.certId)).toContain(id);
    const start = new Date('2031-01-02T03:04:05.000Z');
    const end = new Date('2031-01-03T00:00:00.000Z');
    proxy.respond = (cid) => (cid === id ? { start, end, retryAfter: 4321, explanationURL: 'https://ca.example/why' } : undefined);

    const info = await a.renewalInfo(chain);
    expect(info).toEqual({ start, end, retryAfterMs: 4_321_000, explanationUrl: 'https://ca.example/why' });
    expect(info!.start).toBeInstanceOf(Date);
    // It asked about exactly this certificate (the leaf of the chain), once.
    expect(proxy.ariRequests).toEqual([{ certId: id, at: expect.any(Date), status: 200 }]);

    // Retry-After as an HTTP date.
    const later = new Date(Math.floor(Date.now() / 1000) * 1000 + 2 * HOUR);
    proxy.respond = (cid) => (cid === id ? { start, end, retryAfter: later.toUTCString() } : undefined);
    const dated = await a.renewalInfo(chain);
    expect(dated!.retryAfterMs).toBeGreaterThan(2 * HOUR - 5_000);
    expect(dated!.retryAfterMs).toBeLessThanOrEqual(2 * HOUR);

    // No Retry-After: none reported (the steward then uses its own cadence).
    proxy.respond = (cid) => (cid === id ? { start, end } : undefined);
    const bare = await a.renewalInfo(chain);
    expect(bare).toEqual({ start, end });
  });

  it('is undefined for a certificate the CA does not know (404), after asking about it', async () => {
    const a = await acme();
    const foreign = await localCertificate('foreign.example.com');
    expect(await a.renewalInfo(foreign)).toBeUndefined();
    expect(proxy.ariRequests).toEqual([{ certId: ariCertId(foreign), at: expect.any(Date), status: 404 }]);
  });

  it('is undefined, without asking, when the directory has no renewalInfo or ARI is turned off', async () => {
    const plain = await acme({ direct: true }); // Pebble itself: its directory has no renewalInfo
    const chain = await order(plain, 'plain.example.com');
    expect(await plain.renewalInfo(chain)).toBeUndefined();

    proxy.advertise = false;
    const quiet = await acme();
    const known = await order(quiet, 'quiet.example.com');
    expect(proxy.issued.map((c) => c.certId)).toContain(ariCertId(known));
    expect(await quiet.renewalInfo(known)).toBeUndefined();

    proxy.advertise = true;
    const off = await acme({ renewalInfo: false });
    expect(await off.renewalInfo(known)).toBeUndefined();
    expect(proxy.ariRequests).toEqual([]);

    // Control: the same certificate with ARI on is answered.
    expect(await (await acme()).renewalInfo(known)).toMatchObject({ start: expect.any(Date), end: expect.any(Date) });
  });

  it('maps a failing responder to AuthorityErrors the steward can back off on', async () => {
    const a = await acme();
    const chain = await order(a, 'failing.example.com');
    proxy.respond = () => ({ status: 503, retryAfter: 120 });
    await expect(a.renewalInfo(chain)).rejects.toMatchObject({ name: AuthorityError.name, kind: 'unavailable', retryable: true, retryAfterMs: 120_000 });
    proxy.respond = () => ({ status: 429, retryAfter: 60 });
    await expect(a.renewalInfo(chain)).rejects.toMatchObject({ kind: 'rate-limited', retryAfterMs: 60_000 });
    proxy.respond = () => ({ status: 200, body: '{"suggestedWindow":{"start":"2030-01-02T00:00:00Z","end":"2030-01-01T00:00:00Z"}}' });
    await expect(a.renewalInfo(chain)).rejects.toMatchObject({ kind: 'invalid-response' });
    proxy.respond = () => ({ status: 200, body: 'not json' });
    await expect(a.renewalInfo(chain)).rejects.toMatchObject({ kind: 'invalid-response' });
    // RFC 9773 §4.2: an end that equals or precedes the start makes the object invalid.
    const at = new Date('2030-01-01T00:00:00Z');
    proxy.respond = () => ({ start: at, end: at, retryAfter: 60 });
    await expect(a.renewalInfo(chain)).rejects.toMatchObject({ kind: 'invalid-response' });
    // Control: the same responder with a one-second window is fine.
    proxy.respond = () => ({ start: at, end: new Date(at.getTime() + 1000), retryAfter: 60 });
    await expect(a.renewalInfo(chain)).resolves.toMatchObject({ start: at });
  });

  it('is undefined, without asking, for a certificate without an authority key identifier (no CA can know it by certID)', async () => {
    const a = await acme();
    const pem = opensslLeaf('11', { aki: false });
    expect(await a.renewalInfo(pem)).toBeUndefined();
    expect(proxy.ariRequests).toEqual([]);
    // Adopted by a steward, it raises no error every time the steward would ask, and renews on the steward's own plan.
    const clock = new ManualClock(new Date());
    const s = stewardOn(a, clock);
    await s.steward.track({ id: 'no-aki', authority: 'acme', subjectAltNames: ['no-aki.example.com'], existing: { chainPem: pem } });
    await s.drive(new Date(clock.now().getTime() + 12 * HOUR), () => s.started.length > 0);
    expect(s.errors).toEqual([]);
  });
});

describe('certId()', () => {
  it('gives the RFC 9773 §4.1 example for its AKI and serial', () => {
    const pem = opensslLeaf('0x87654321');
    expect(certId(pem)).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    expect(ariCertId(pem)).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });

  it('matches an independent computation from node:crypto and the DER, for Pebble, local-CA and openssl certificates', async () => {
    const a = await acme();
    const pebbleCerts = [await order(a, 'id1.example.com'), await order(a, 'id2.example.com'), await order(a, 'id3.example.com')];
    const serials = ['0x80', '0x7f', '1', '0', '0xffffffffffffffffffffffffffffffffffffff', '0x00ff', '0x0080'];
    const certs = [...pebbleCerts, await localCertificate('local.example.com'), ...serials.map((s) => opensslLeaf(s))];
    for (const pem of certs) {
      // The DER walk and node:crypto agree on the serial's value (all positive here).
      expect(BigInt(`0x${ariParts(pem).serial.toString('hex')}`)).toBe(BigInt(`0x${new X509Certificate(pem).serialNumber}`));
      expect(certId(pem)).toBe(certIdFromX509(pem));
      expect(certId(pem)).toBe(ariCertId(pem));
    }
    // High bit set: the serial part carries the leading zero byte.
    const high = opensslLeaf('0x80');
    expect(new X509Certificate(high).serialNumber).toBe('80');
    expect(Buffer.from(certId(high).split('.')[1]!, 'base64url').toString('hex')).toBe('0080');
    expect(Buffer.from(certId(opensslLeaf('0x7f')).split('.')[1]!, 'base64url').toString('hex')).toBe('7f');
    expect(Buffer.from(certId(opensslLeaf('0')).split('.')[1]!, 'base64url').toString('hex')).toBe('00');
    // The identifier is the leaf's, whatever follows it in the chain.
    expect(certId(pebbleCerts[0]!)).toBe(ariCertId(pebbleCerts[0]!.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)![0]));
    // base64url without padding.
    for (const pem of certs) expect(certId(pem)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  it('uses the DER content bytes of a negative serial (two\'s complement), not its magnitude', () => {
    const pem = opensslLeaf('-5');
    expect(ariParts(pem).serial.toString('hex')).toBe('fb');
    expect(certId(pem)).toBe(ariCertId(pem));
    expect(certId(pem).split('.')[1]).toBe('-w');
  });

  it('refuses a certificate without an authority key identifier', () => {
    const pem = opensslLeaf('7', { aki: false });
    expect(ariParts(pem).aki).toBeUndefined();
    expect(() => certId(pem)).toThrow(AuthorityError);
  });
});

describe('newOrder `replaces` (RFC 9773 §5)', () => {
  it('sends the old certificate\'s certID when this CA issued it', async () => {
    const a = await acme();
    const old = await order(a, 'replace.example.com');
    const before = proxy.newOrders.length;
    const renewed = await order(a, 'replace.example.com', old);
    const orders = proxy.newOrders.slice(before);
    expect(orders).toEqual([{ identifiers: [{ type: 'dns', value: 'replace.example.com' }], replaces: ariCertId(old), status: 201 }]);
    expect(orders[0]!.replaces).toBe(certId(old));
    // It checked with renewalInfo that the CA knows the old certificate.
    expect(proxy.requestsFor(ariCertId(old)).map((r) => r.status)).toEqual([200]);
    expect(ariCertId(renewed)).not.toBe(ariCertId(old));
    expect(proxy.issued.map((c) => c.certId)).toContain(ariCertId(renewed));
  });

  it('places the order without `replaces` when the CA refuses it (alreadyReplaced)', async () => {
    const a = await acme();
    const old = await order(a, 'refused.example.com');
    proxy.refuseReplaces.add(ariCertId(old));
    const before = proxy.newOrders.length;
    const renewed = await order(a, 'refused.example.com', old);
    expect(proxy.newOrders.slice(before).map((o) => [o.replaces, o.status])).toEqual([
      [ariCertId(old), 409],
      [undefined, 201],
    ]);
    expect(new X509Certificate(renewed).subjectAltName).toBe('DNS:refused.example.com');
  });

  it('does not send it for a certificate from another CA (adopted through `existing`), and the renewal still succeeds', async () => {
    const a = await acme();
    const foreign = await localCertificate('adopted.example.com');
    const clock = new ManualClock(new Date());
    proxy.now = () => clock.now();
    const s = stewardOn(a, clock);
    await s.steward.track({ id: 'adopted', authority: 'acme', subjectAltNames: ['adopted.example.com'], existing: { chainPem: foreign } });
    await s.steward.renewNow('adopted');
    await s.drive(new Date(clock.now().getTime() + 60_000));

    expect(s.failed).toEqual([]);
    expect(s.succeeded).toHaveLength(1);
    const view = await s.steward.get('adopted');
    expect(view!.certificate!.serialNumber).not.toBe(new X509Certificate(foreign).serialNumber.toLowerCase());
    expect(proxy.issued.map((c) => c.certId)).toContain(ariCertId(view!.certificate!.chainPem));
    expect(proxy.newOrders).toEqual([{ identifiers: [{ type: 'dns', value: 'adopted.example.com' }], replaces: undefined, status: 201 }]);
    // The CA was asked about the foreign certificate and said it does not know it.
    const asked = proxy.requestsFor(ariCertId(foreign));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.status === 404)).toBe(true);
  });
});

describe('the steward with ARI (ManualClock, real Pebble)', () => {
  it('renews inside a CA window that comes before its own plan, explains it as ca-window, and sends replaces', async () => {
    const t0 = Date.now();
    const clock = new ManualClock(new Date(t0));
    proxy.now = () => clock.now();
    const window = { start: new Date(t0 + 6 * HOUR), end: new Date(t0 + 12 * HOUR) };
    let firstId: string | undefined;
    proxy.respond = (id, cert) => {
      if (!named('early.example.com')(cert)) return undefined;
      firstId ??= id;
      // Retry-After one day (RFC 9773's suggested upper bound): the next question comes after the window.
      return id === firstId ? { ...window, retryAfter: 86_400 } : defaultReply(id, cert);
    };
    const s = stewardOn(await acme(), clock);
    await s.steward.track({ id: 'early', authority: 'acme', subjectAltNames: ['early.example.com'] });
    await s.drive(new Date(t0 + 60_000));
    const old = (await s.steward.get('early'))!.certificate!;
    expect(ariCertId(old.chainPem)).toBe(firstId);
    expect(proxy.requestsFor(firstId!)).toHaveLength(1); // asked at once after issuance

    const ex = await s.steward.explain('early');
    expect(ex.action).toBe('renew');
    expect(ex.rule).toBe('ca-window');
    expect(within(ex.at, window)).toBe(true);
    // The steward's own plan (2/3 of 30 days, ± jitter) is well after the window.
    expect(ex.plan!.steps[0]!.at.getTime()).toBeGreaterThan(window.end.getTime() + 10 * DAY);

    await s.drive(new Date(t0 + 2 * DAY));
    const scheduled = s.started.filter((e) => e.cause === 'scheduled');
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]!.rule).toBe('ca-window');
    expect(within(scheduled[0]!.at, window)).toBe(true);
    expect(scheduled[0]!.at.getTime()).toBe(ex.at!.getTime());
    expect(s.succeeded).toHaveLength(2);
    const renewal = proxy.newOrders.filter((o) => o.identifiers[0]!.value === 'early.example.com');
    expect(renewal.map((o) => o.replaces)).toEqual([undefined, firstId]);
    const now = (await s.steward.get('early'))!.certificate!;
    expect(now.serialNumber).not.toBe(old.serialNumber);
    expect(s.errors).toEqual([]);
  });

  it('never renews twice inside one window that a stale responder keeps repeating for the new certificate', async () => {
    // The clock starts an hour before the real time, so the first plan cannot be due during the first issuance.
    const clock = new ManualClock(new Date(Date.now() - HOUR));
    proxy.now = () => clock.now();
    let first: KnownCertificate | undefined;
    const windowOf = (c: KnownCertificate) => ({ start: new Date(c.notBefore.getTime() + 1), end: new Date(c.notBefore.getTime() + 2 * DAY) });
    // Stale: every certificate for the name gets the window that opened just after the FIRST one was issued.
    proxy.respond = (_id, cert) => {
      if (!named('stale.example.com')(cert)) return undefined;
      first ??= cert!;
      return { ...windowOf(first), retryAfter: 6 * 3_600 };
    };
    const s = stewardOn(await acme(), clock);
    await s.steward.track({ id: 'stale', authority: 'acme', subjectAltNames: ['stale.example.com'] });
    await s.drive(new Date(clock.now().getTime() + 60_000));
    const old = (await s.steward.get('stale'))!.certificate!;
    expect(s.succeeded).toHaveLength(1);
    const w = windowOf(first!);
    expect((await s.steward.explain('stale')).plan!.rule).toBe('ca-window'); // the window counts for the first certificate
    // Let Pebble's (whole-second) clock pass the window's start, so the renewal is issued after it opened.
    while (Date.now() < w.start.getTime() + 1_100) await new Promise((r) => setTimeout(r, 50));

    await s.drive(new Date(w.end.getTime() + 3 * DAY));
    const current = (await s.steward.get('stale'))!.certificate!;
    expect(current.serialNumber).not.toBe(old.serialNumber);
    expect(current.notBefore.getTime()).toBeGreaterThan(w.start.getTime()); // the precondition of "stale"
    const scheduled = s.started.filter((e) => e.cause === 'scheduled');
    expect(scheduled).toHaveLength(1);
    expect(within(scheduled[0]!.at, w)).toBe(true);
    expect(s.succeeded).toHaveLength(2);
    // The responder repeated the same window for the new certificate again and again…
    const asked = proxy.requestsFor(ariCertId(current.chainPem));
    expect(asked.length).toBeGreaterThanOrEqual(12); // every 6 hours for at least 3 days
    expect(asked.every((r) => r.status === 200)).toBe(true);
    const rec = await s.store.get('stale');
    expect(rec!.caWindow).toMatchObject({ fingerprintSha256: current.fingerprintSha256, start: w.start, end: w.end });
    // …and the steward went back to its own plan for it.
    const ex = await s.steward.explain('stale');
    expect(ex.plan!.rule).not.toBe('ca-window');
    expect(ex.plan!.at.getTime()).toBeGreaterThan(w.end.getTime());
  });

  it('asks again exactly when Retry-After says, not on its own 6-hour cadence', async () => {
    const t0 = Date.now();
    const clock = new ManualClock(new Date(t0));
    proxy.now = () => clock.now();
    const retry: Record<string, number | undefined> = { 'ra-long.example.com': 10 * 3_600, 'ra-short.example.com': 3_600, 'ra-none.example.com': undefined };
    proxy.respond = (_id, cert) => {
      const name = cert?.names.find((n) => n in retry);
      if (!name) return undefined;
      const w = { start: new Date(cert!.notBefore.getTime() + 20 * DAY), end: new Date(cert!.notBefore.getTime() + 21 * DAY) };
      return retry[name] === undefined ? w : { ...w, retryAfter: retry[name] };
    };
    const s = stewardOn(await acme(), clock);
    for (const name of Object.keys(retry)) await s.steward.track({ id: name, authority: 'acme', subjectAltNames: [name] });
    const end = t0 + 50 * HOUR;
    await s.drive(new Date(end));
    expect(s.succeeded).toHaveLength(3);
    expect(s.started.filter((e) => e.cause === 'scheduled')).toEqual([]);

    const gaps = async (name: string) => {
      const pem = (await s.steward.get(name))!.certificate!.chainPem;
      const times = proxy.requestsFor(ariCertId(pem)).map((r) => r.at.getTime());
      return { first: times[0]!, count: times.length, gaps: times.slice(1).map((t, i) => t - times[i]!) };
    };
    const long = await gaps('ra-long.example.com');
    expect(new Set(long.gaps)).toEqual(new Set([10 * HOUR]));
    expect(long.count).toBe(Math.floor((end - long.first) / (10 * HOUR)) + 1);
    const short = await gaps('ra-short.example.com');
    expect(new Set(short.gaps)).toEqual(new Set([HOUR]));
    expect(short.count).toBe(Math.floor((end - short.first) / HOUR) + 1);
    const none = await gaps('ra-none.example.com');
    expect(new Set(none.gaps)).toEqual(new Set([6 * HOUR]));
    expect(s.errors).toEqual([]);
  });

  it('lets the emergency rule beat a CA that keeps saying "later" (a window past expiry)', async () => {
    const t0 = Date.now();
    const clock = new ManualClock(new Date(t0));
    proxy.now = () => clock.now();
    proxy.respond = (_id, cert) =>
      named('later.example.com')(cert)
        ? { start: new Date(cert!.notAfter.getTime() + 10 * DAY), end: new Date(cert!.notAfter.getTime() + 20 * DAY), retryAfter: 86_400 }
        : undefined;
    const s = stewardOn(await acme(), clock);
    await s.steward.track({ id: 'later', authority: 'acme', subjectAltNames: ['later.example.com'] });
    await s.drive(new Date(t0 + 60_000));
    const old = (await s.steward.get('later'))!.certificate!;
    const first = await s.steward.explain('later');
    expect(first.plan!.rule).toBe('emergency');
    expect(first.plan!.steps.map((x) => x.rule)).toContain('ca-window');
    const latest = first.plan!.latest;
    expect(latest.getTime()).toBeLessThan(old.notAfter.getTime());

    // Just before the emergency point the last answer (a day ago) is still fresh: the renewal is next.
    await s.drive(new Date(latest.getTime() - 1));
    expect(s.started.filter((e) => e.cause === 'scheduled')).toEqual([]);
    const ex = await s.steward.explain('later');
    expect(ex.action).toBe('renew');
    expect(ex.rule).toBe('emergency');
    expect(ex.at!.getTime()).toBe(latest.getTime());
    expect(proxy.requestsFor(ariCertId(old.chainPem)).length).toBeGreaterThan(20); // it kept asking, once a day

    // Stop at the renewal: Pebble dates the new certificate by the real time, which is now ~24 days behind
    // the steward's clock, so in the steward's eyes the new one would be at its own emergency point at once.
    await s.drive(old.notAfter, () => s.succeeded.length === 2);
    const scheduled = s.started.filter((e) => e.cause === 'scheduled');
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]!.rule).toBe('emergency');
    expect(scheduled[0]!.at.getTime()).toBe(latest.getTime());
    const renewed = s.succeeded[1]!;
    expect(renewed.at.getTime()).toBeLessThan(old.notAfter.getTime());
    expect((await s.steward.get('later'))!.certificate!.serialNumber).not.toBe(old.serialNumber);
  });
});
