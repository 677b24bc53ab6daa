import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalAuthority, emergencySelfSigned, type LocalAuthorityState } from '../../../adapters/local-ca/index.js';
import {
  AuthorityError,
  CertificateParseError,
  ConfigError,
  KeyMismatchError,
  KeyStoreError,
  isCertstewardError,
} from '../../../src/errors.js';
import { parseCertificate, parseCertificates } from '../../../src/pki/certificate.js';
import { verifyChain } from '../../../src/pki/chain.js';
import { buildCsr, readCsr, type SubjectAltName } from '../../../src/pki/csr.js';
import { keyMatchesCertificate } from '../../../src/pki/key-match.js';
import { toPem } from '../../../src/pki/pem.js';
import type { IssueRequest } from '../../../src/ports/certificate-authority.js';
import type { KeyAlgorithm, KeyHandle, KeyRef, KeySpec, KeyStore } from '../../../src/ports/key-store.js';
import { systemClock } from '../../../src/steward/system-clock.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { openssl } from '../../unit/pki/openssl-cli.js';

/** The memory key store, counting calls and able to run out of room. */
class MapKeyStore extends MemoryKeyStore {
  readonly loaded: string[] = [];
  failGenerateAfter = Infinity;
  generated = 0;
  override async generate(spec: KeySpec): Promise<KeyHandle> {
    if (this.generated >= this.failGenerateAfter) throw new KeyStoreError('unavailable', 'the test key store is full');
    this.generated++;
    return super.generate(spec);
  }
  override async load(ref: KeyRef): Promise<KeyHandle> {
    this.loaded.push(ref.id);
    return super.load(ref);
  }
}

const DAY = 86_400_000;
const MINUTE = 60_000;
const NAMES: readonly SubjectAltName[] = [
  { type: 'dns', value: 'api.internal.test' },
  { type: 'dns', value: 'www.internal.test' },
  { type: 'ip', value: '10.1.2.3' },
  { type: 'email', value: 'ops@internal.test' },
  { type: 'uri', value: 'spiffe://internal.test/api' },
];

async function requestFor(keys: KeyStore, algorithm: KeyAlgorithm = 'ECDSA-P256', extra: Partial<IssueRequest> = {}): Promise<IssueRequest> {
  const key = await keys.generate({ algorithm });
  return { id: 'api', key, subjectAltNames: NAMES, commonName: 'api.internal.test', csrPem: await buildCsr({ key, commonName: 'api.internal.test', subjectAltNames: NAMES }), ...extra };
}

async function issuePem(ca: LocalAuthority, request: IssueRequest): Promise<string> {
  const r = await ca.issue(request);
  if (r.status !== 'issued') throw new Error('expected a chain');
  return r.chainPem;
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'certsteward-local-ca-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function file(content: string): string {
  const p = join(dir, `f${fileNo++}.pem`);
  writeFileSync(p, content);
  return p;
}

describe('LocalAuthority: chains openssl accepts', () => {
  for (const algorithm of ['ECDSA-P256', 'ECDSA-P384', 'RSA-2048', 'Ed25519'] as const) {
    it(`issues, with a ${algorithm} CA, a chain that openssl verify -x509_strict accepts for TLS servers and clients`, async () => {
      const keys = new MapKeyStore();
      const ca = await LocalAuthority.create({ keys, clock: systemClock, algorithm });
      const [leaf, intermediate, ...rest] = parseCertificates(await issuePem(ca, await requestFor(keys)));
      expect(rest).toEqual([]);
      expect(intermediate!.der).toEqual(parseCertificate(ca.intermediatePem).der);
      const root = file(ca.rootPem);
      const untrusted = file(toPem(intermediate!.der));
      const leafFile = file(toPem(leaf!.der));
      for (const purpose of ['sslserver', 'sslclient']) {
        const r = await openssl(['verify', '-x509_strict', '-purpose', purpose, '-CAfile', root, '-untrusted', untrusted, leafFile]);
        expect(r.stdout + r.stderr, purpose).toContain(`${leafFile}: OK`);
        expect(r.status).toBe(0);
      }
      // Without the intermediate, the leaf does not chain: the root alone is not its issuer.
      const missing = await openssl(['verify', '-CAfile', root, leafFile]);
      expect(missing.status).not.toBe(0);
    });
  }

  it('openssl sees the leaf profile: CA:FALSE, digitalSignature, serverAuth and clientAuth, the names, SKI and AKI', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const chain = await issuePem(ca, await requestFor(keys));
    const text = await openssl(['x509', '-noout', '-text'], chain);
    expect(text.stdout).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text.stdout).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text.stdout).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text.stdout).toContain('DNS:api.internal.test, DNS:www.internal.test, IP Address:10.1.2.3, email:ops@internal.test, URI:spiffe://internal.test/api');
    expect(text.stdout).toContain('Subject Key Identifier');
    expect(text.stdout).toContain('Authority Key Identifier');
  });
});

describe('LocalAuthority: the leaf', () => {
  it('carries the request names, the CSR key, a positive 16-byte serial, and the intermediate as issuer', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock, name: 'Acme Internal' });
    const req = await requestFor(keys);
    const [leaf, inter] = parseCertificates(await issuePem(ca, req));
    expect(leaf!.subject.dn).toBe('CN=api.internal.test');
    expect(leaf!.issuer.dn).toBe('CN=Acme Internal Intermediate CA');
    expect(inter!.issuer.dn).toBe('CN=Acme Internal Root CA');
    expect(parseCertificate(ca.rootPem).subject.dn).toBe('CN=Acme Internal Root CA');
    expect(leaf!.subjectAltNames).toEqual(NAMES.map((n) => ({ type: n.type, value: n.value })));
    expect(await keyMatchesCertificate(req.key.publicKey, leaf!, { crypto: req.key.crypto })).toBe(true);
    expect(leaf!.serialNumber).toMatch(/^[4-7][0-9a-f]{31}$/);
    expect(leaf!.isCA).toBe(false);
    expect(leaf!.keyUsage).toEqual(['digitalSignature']);
    expect(leaf!.extendedKeyUsage).toEqual(['serverAuth', 'clientAuth']);
    expect(leaf!.authorityKeyIdentifier).toBe(inter!.subjectKeyIdentifier);
    expect(leaf!.subjectKeyIdentifier).toMatch(/^[0-9a-f]{40}$/);
    expect(inter!.isCA).toBe(true);
    expect(inter!.pathLength).toBe(0);
    expect(inter!.keyUsage).toEqual(expect.arrayContaining(['keyCertSign', 'cRLSign']));
  });

  it('adds keyEncipherment for an RSA key', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const [leaf] = parseCertificates(await issuePem(ca, await requestFor(keys, 'RSA-2048')));
    expect(leaf!.keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
  });

  it('leaves the subject empty and marks the SAN critical when there is no common name', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const names = [{ type: 'dns', value: 'nocn.internal.test' }] as const;
    const [leaf] = parseCertificates(await issuePem(ca, { id: 'nocn', key, subjectAltNames: names, csrPem: await buildCsr({ key, subjectAltNames: names }) }));
    expect(leaf!.subject.dn).toBe('');
    expect(leaf!.extensions.find((e) => e.oid === '2.5.29.17')?.critical).toBe(true);
  });

  it('issues for a common name alone, without a SAN extension', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const csrPem = await buildCsr({ key, commonName: 'legacy.internal.test', subjectAltNames: [] });
    const [leaf] = parseCertificates(await issuePem(ca, { id: 'legacy', key, subjectAltNames: [], csrPem }));
    expect(leaf!.subject.dn).toBe('CN=legacy.internal.test');
    expect(leaf!.subjectAltNames).toEqual([]);
    expect(leaf!.extensions.some((e) => e.oid === '2.5.29.17')).toBe(false);
  });

  it('starts one minute before the clock, and lasts the default 90 days', async () => {
    const clock = new ManualClock('2030-05-01T12:00:00Z');
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock });
    await clock.advance('40d');
    const [leaf] = parseCertificates(await issuePem(ca, await requestFor(keys)));
    expect(leaf!.notBefore.toISOString()).toBe('2030-06-10T11:59:00.000Z');
    expect(leaf!.lifetimeMs).toBe(90 * DAY);
    const root = parseCertificate(ca.rootPem);
    expect(root.notBefore.toISOString()).toBe('2030-05-01T11:59:00.000Z');
    expect(root.lifetimeMs).toBe(3650 * DAY);
    expect(parseCertificate(ca.intermediatePem).lifetimeMs).toBe(1825 * DAY);
  });

  it('honours the requested lifetime, capped by maxLeafLifetimeMs', async () => {
    const clock = new ManualClock('2030-01-01T00:00:00Z');
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock, defaultLeafLifetimeMs: 30 * DAY, maxLeafLifetimeMs: 100 * DAY });
    const lifetime = async (lifetimeMs?: number) =>
      parseCertificate(await issuePem(ca, await requestFor(keys, 'ECDSA-P256', lifetimeMs === undefined ? {} : { lifetimeMs }))).lifetimeMs;
    expect(await lifetime()).toBe(30 * DAY);
    expect(await lifetime(7 * DAY)).toBe(7 * DAY);
    expect(await lifetime(15 * MINUTE)).toBe(15 * MINUTE);
    expect(await lifetime(100 * DAY)).toBe(100 * DAY);
    expect(await lifetime(1000 * DAY)).toBe(100 * DAY);
  });

  it('never issues past the intermediate, and refuses once the intermediate has expired', async () => {
    const clock = new ManualClock('2030-01-01T00:00:00Z');
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock, intermediateLifetimeMs: 60 * DAY });
    await clock.advance('50d');
    const leaf = parseCertificate(await issuePem(ca, await requestFor(keys)));
    expect(leaf.notAfter.getTime()).toBe(ca.notAfter.getTime());
    expect(leaf.notAfter.getTime()).toBe(parseCertificate(ca.intermediatePem).notAfter.getTime());
    await clock.advance('11d');
    const e = await errorOf(ca.issue(await requestFor(keys)));
    expect(e).toBeInstanceOf(AuthorityError);
    expect(e).toMatchObject({ kind: 'refused', retryable: false });
    expect((e as Error).message).toMatch(/expired/);
  });

  it('caps the intermediate at the root', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock, rootLifetimeMs: 10 * DAY, intermediateLifetimeMs: 20 * DAY });
    expect(parseCertificate(ca.intermediatePem).notAfter).toEqual(parseCertificate(ca.rootPem).notAfter);
  });

  it('uses the injected random source for serials', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock, randomBytes: (n) => new Uint8Array(n).fill(0xff) });
    expect(parseCertificate(await issuePem(ca, await requestFor(keys))).serialNumber).toBe('7f' + 'ff'.repeat(15));
  });
});

describe('LocalAuthority: refusals', () => {
  it('refuses a CSR whose content was altered after signing, not retryable', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const req = await requestFor(keys);
    const der = readCsr(req.csrPem).der.slice();
    const at = Buffer.from(der).indexOf('api.internal.test');
    der[at] = 'x'.charCodeAt(0);
    const e = await errorOf(ca.issue({ ...req, csrPem: toPem(der, 'CERTIFICATE REQUEST') }));
    expect(e).toBeInstanceOf(AuthorityError);
    expect(e).toMatchObject({ kind: 'refused', retryable: false });
    expect((e as Error).message).toMatch(/not validly signed/);
  });

  it('refuses a CSR signed by another key than the one it carries', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const req = await requestFor(keys);
    const intruder = await requestFor(keys);
    // Splice the intruder's public key into the victim's CSR info: the signature no longer fits.
    const victim = readCsr(req.csrPem);
    const other = readCsr(intruder.csrPem);
    const der = Buffer.from(victim.der);
    const at = der.indexOf(Buffer.from(victim.publicKeySpkiDer));
    Buffer.from(other.publicKeySpkiDer).copy(der, at);
    const e = await errorOf(ca.issue({ ...req, csrPem: toPem(new Uint8Array(der), 'CERTIFICATE REQUEST') }));
    expect(e).toMatchObject({ kind: 'refused', retryable: false });
  });

  it('refuses an unreadable CSR with the parse error as cause', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const req = await requestFor(keys);
    const e = await errorOf(ca.issue({ ...req, csrPem: ca.rootPem }));
    expect(e).toMatchObject({ kind: 'refused', retryable: false });
    expect((e as Error).cause).toBeInstanceOf(CertificateParseError);
  });

  it('refuses a request whose names differ from the CSR names', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const req = await requestFor(keys);
    const e = await errorOf(ca.issue({ ...req, subjectAltNames: [...NAMES, { type: 'dns', value: 'extra.internal.test' }] }));
    expect(e).toMatchObject({ kind: 'refused', retryable: false });
    expect((e as Error).message).toContain('extra.internal.test');
    // The same names in another order and case are the same request.
    const reordered = [...NAMES].reverse().map((n) => (n.type === 'dns' ? { ...n, value: n.value.toUpperCase() } : n));
    expect((await ca.issue({ ...req, subjectAltNames: reordered })).status).toBe('issued');
  });

  it('refuses an invalid requested lifetime', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    for (const lifetimeMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(await errorOf(ca.issue(await requestFor(keys, 'ECDSA-P256', { lifetimeMs })))).toMatchObject({ kind: 'refused' });
    }
  });

  it('has no orders to resume: any order reference is refused, not retryable', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const e = await errorOf(ca.resume('{"order":"x"}', await requestFor(keys)));
    expect(isCertstewardError(e, 'authority')).toBe(true);
    expect(e).toMatchObject({ kind: 'refused', retryable: false });
  });

  it('rejects with the signal reason when the signal is aborted', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    expect(await errorOf(ca.issue(await requestFor(keys), { signal: controller.signal }))).toBe(controller.signal.reason);
  });

  it('describes itself as local', async () => {
    const ca = await LocalAuthority.create({ keys: new MapKeyStore(), clock: systemClock });
    expect(ca.describe()).toEqual({ kind: 'local' });
  });
});

describe('LocalAuthority: persistence', () => {
  it('round-trips through JSON: the reloaded CA issues chains to the same root, and keeps its revocations and policy', async () => {
    const keys = new MapKeyStore();
    const first = await LocalAuthority.create({ keys, clock: systemClock, name: 'Persisted', maxLeafLifetimeMs: 10 * DAY });
    const earlier = await issuePem(first, await requestFor(keys));
    await first.revoke(earlier, 'superseded');
    const json = JSON.stringify(first);
    expect(json).not.toMatch(/PRIVATE KEY/);
    const state = JSON.parse(json) as LocalAuthorityState;
    expect(state.root.key.id).toBeTruthy();
    expect(state.intermediate.key.id).toBeTruthy();

    keys.loaded.length = 0;
    const again = await LocalAuthority.load(state, { keys, clock: systemClock });
    // The root key is never needed again.
    expect(keys.loaded).toEqual([state.intermediate.key.id]);
    expect(again.rootPem).toBe(first.rootPem);
    expect(again.chainPem).toBe(first.chainPem);
    expect(again.name).toBe('Persisted');
    const chain = await issuePem(again, await requestFor(keys, 'ECDSA-P256', { lifetimeMs: 365 * DAY }));
    const report = verifyChain(chain, { roots: first.rootPem });
    expect({ trusted: report.trusted, problems: report.problems }).toEqual({ trusted: true, problems: [] });
    expect(parseCertificate(chain).lifetimeMs).toBe(10 * DAY);
    expect(again.isRevoked(parseCertificate(earlier).serialNumber)).toBe(true);
    expect(again.toJSON()).toEqual(state);
  });

  it('lets load() replace the leaf policy', async () => {
    const keys = new MapKeyStore();
    const first = await LocalAuthority.create({ keys, clock: systemClock });
    const again = await LocalAuthority.load(first.toJSON(), { keys, clock: systemClock, defaultLeafLifetimeMs: 3 * DAY });
    expect(parseCertificate(await issuePem(again, await requestFor(keys))).lifetimeMs).toBe(3 * DAY);
    expect(again.toJSON().defaultLeafLifetimeMs).toBe(3 * DAY);
  });

  it('fails to load with the key store error when the key is gone, and with KeyMismatchError when the key is another', async () => {
    const keys = new MapKeyStore();
    const first = await LocalAuthority.create({ keys, clock: systemClock });
    const state = first.toJSON();
    const gone = await errorOf(LocalAuthority.load(state, { keys: new MapKeyStore(), clock: systemClock }));
    expect(gone).toBeInstanceOf(KeyStoreError);
    expect(gone).toMatchObject({ reason: 'not-found' });
    const swapped = { ...state, intermediate: { ...state.intermediate, key: state.root.key } };
    expect(await errorOf(LocalAuthority.load(swapped, { keys, clock: systemClock }))).toBeInstanceOf(KeyMismatchError);
  });

  it('rejects a state that is not a local CA state with ConfigError', async () => {
    const keys = new MapKeyStore();
    const state = (await LocalAuthority.create({ keys, clock: systemClock })).toJSON();
    const bad: unknown[] = [
      null,
      {},
      { ...state, format: 'other' },
      { ...state, version: 2 },
      { ...state, root: { certificatePem: state.root.certificatePem } },
      { ...state, revoked: 'none' },
      { ...state, crlNumber: -1 },
      { ...state, intermediate: { ...state.intermediate, certificatePem: 'garbage' } },
    ];
    for (const s of bad) {
      expect(await errorOf(LocalAuthority.load(s as LocalAuthorityState, { keys, clock: systemClock })), JSON.stringify(s)?.slice(0, 60)).toBeInstanceOf(
        ConfigError,
      );
    }
  });
});

describe('LocalAuthority: creation', () => {
  it('rejects invalid options with ConfigError', async () => {
    const keys = new MapKeyStore();
    for (const bad of [{ name: '' }, { rootLifetimeMs: 0 }, { intermediateLifetimeMs: -5 }, { maxLeafLifetimeMs: Number.NaN }, { algorithm: 'DSA' as KeyAlgorithm }]) {
      expect(await errorOf(LocalAuthority.create({ keys, clock: systemClock, ...bad })), JSON.stringify(bad)).toBeInstanceOf(ConfigError);
    }
    expect(keys.size).toBe(0);
  });

  it('destroys the root key when the intermediate key cannot be made', async () => {
    const keys = new MapKeyStore();
    keys.failGenerateAfter = 1;
    expect(await errorOf(LocalAuthority.create({ keys, clock: systemClock }))).toBeInstanceOf(KeyStoreError);
    expect(keys.generated).toBe(1);
    expect(keys.size).toBe(0);
  });
});

describe('LocalAuthority: revocation', () => {
  it('records revocations, keeps the first on a second call, and lists them in a CRL that openssl verifies', async () => {
    const clock = new ManualClock('2030-01-01T00:00:00Z');
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock });
    const revokedPem = await issuePem(ca, await requestFor(keys));
    const keptPem = await issuePem(ca, await requestFor(keys));
    const serial = parseCertificate(revokedPem).serialNumber;
    expect(ca.isRevoked(serial)).toBe(false);
    await ca.revoke(revokedPem, 'keyCompromise');
    await clock.advance('1h');
    await ca.revoke(revokedPem, 'superseded');
    expect(ca.isRevoked(serial)).toBe(true);
    expect(ca.isRevoked(serial.toUpperCase().replace(/(..)(?=.)/g, '$1:'))).toBe(true);
    expect(ca.isRevoked(parseCertificate(keptPem).serialNumber)).toBe(false);
    expect(ca.revocations).toEqual([{ serial, reason: 'keyCompromise', revokedAt: '2030-01-01T00:00:00.000Z' }]);
    expect(ca.toJSON().revoked).toEqual(ca.revocations);

    const crl = await ca.crl();
    expect(ca.toJSON().crlNumber).toBe(1);
    const text = await openssl(['crl', '-noout', '-text', '-CAfile', file(ca.chainPem), '-verify'], crl);
    expect(text.stderr).toMatch(/verify OK/);
    expect(text.stdout).toContain(`Serial Number: ${serial.toUpperCase()}`);
    expect(text.stdout).toContain('Key Compromise');
    expect(text.stdout).toMatch(/X509v3 CRL Number:\s+1\b/);
    expect(text.stdout).not.toContain(parseCertificate(keptPem).serialNumber.toUpperCase());
    await ca.crl();
    expect(ca.toJSON().crlNumber).toBe(2);
  });

  it('makes openssl reject the revoked leaf when it checks the CRL', async () => {
    const keys = new MapKeyStore();
    const ca = await LocalAuthority.create({ keys, clock: systemClock });
    const chain = await issuePem(ca, await requestFor(keys));
    await ca.revoke(chain, 'cessationOfOperation');
    const crlFile = file(await ca.crl());
    const args = ['verify', '-crl_check', '-CRLfile', crlFile, '-CAfile', file(ca.rootPem), '-untrusted', file(ca.intermediatePem), file(chain)];
    const r = await openssl(args);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/certificate revoked/);
  });

  it('refuses to revoke a certificate another CA issued', async () => {
    const keys = new MapKeyStore();
    const ours = await LocalAuthority.create({ keys, clock: systemClock, name: 'Same' });
    const theirs = await LocalAuthority.create({ keys, clock: systemClock, name: 'Same' });
    const foreign = await issuePem(theirs, await requestFor(keys));
    expect(await errorOf(ours.revoke(foreign, 'superseded'))).toMatchObject({ kind: 'refused', retryable: false });
    expect(await errorOf(ours.revoke(ours.intermediatePem, 'superseded'))).toMatchObject({ kind: 'refused' });
    expect(await errorOf(ours.revoke('not a certificate', 'superseded'))).toMatchObject({ kind: 'refused' });
  });
});

describe('emergencySelfSigned', () => {
  it('makes a self-signed certificate, valid now for 7 days, for the requested names and key, that openssl accepts', async () => {
    const clock = new ManualClock(new Date());
    const keys = new MapKeyStore();
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const pem = await emergencySelfSigned({ key, commonName: 'api.internal.test', subjectAltNames: NAMES, clock });
    const cert = parseCertificate(pem);
    const now = clock.now().getTime();
    expect(cert.selfSigned).toBe(true);
    expect(cert.notBefore.getTime()).toBe(Math.floor(now / 1000) * 1000 - MINUTE);
    expect(cert.lifetimeMs).toBe(7 * DAY);
    expect(cert.notBefore.getTime() <= now && now < cert.notAfter.getTime()).toBe(true);
    expect(cert.subjectAltNames).toEqual(NAMES.map((n) => ({ type: n.type, value: n.value })));
    expect(cert.isCA).toBe(false);
    expect(cert.extendedKeyUsage).toEqual(['serverAuth', 'clientAuth']);
    expect(await keyMatchesCertificate(key.publicKey, cert, { crypto: key.crypto })).toBe(true);
    expect(verifyChain(pem, { roots: pem })).toMatchObject({ complete: true, trusted: true });
    const f = file(pem);
    const r = await openssl(['verify', '-purpose', 'sslserver', '-CAfile', f, f]);
    expect(r.stdout + r.stderr).toContain(`${f}: OK`);
  });

  it('takes a lifetime, names an RSA key for key encipherment, and uses the first name when there is no common name', async () => {
    const keys = new MapKeyStore();
    const key = await keys.generate({ algorithm: 'RSA-2048' });
    const pem = await emergencySelfSigned({ key, subjectAltNames: [{ type: 'dns', value: 'only.internal.test' }], lifetimeMs: DAY, clock: systemClock });
    const cert = parseCertificate(pem);
    expect(cert.lifetimeMs).toBe(DAY);
    expect(cert.subject.dn).toBe('CN=only.internal.test');
    expect(cert.keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
  });

  it('requires a name and a positive lifetime', async () => {
    const keys = new MapKeyStore();
    const key = await keys.generate({ algorithm: 'Ed25519' });
    expect(await errorOf(emergencySelfSigned({ key, subjectAltNames: [], clock: systemClock }))).toBeInstanceOf(ConfigError);
    expect(
      await errorOf(emergencySelfSigned({ key, subjectAltNames: NAMES, lifetimeMs: 0, clock: systemClock })),
    ).toBeInstanceOf(ConfigError);
  });
});
