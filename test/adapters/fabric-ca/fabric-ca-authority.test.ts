/**
 * FabricCaAuthority against a protocol-faithful Fabric CA (test/support/fabric-ca-server.ts,
 * HTTPS on loopback): the authority contract, re-enrollment with a new and
 * with the same key, registration by the registrar, revocation, recovery of
 * an expired certificate through the registrar (secret reset + enrollment,
 * never a registration), the typed errors, revoked certificates never
 * renewed, the steward driving it end to end, and Fabric wallets.
 */
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FabricCaAuthority,
  exportWalletIdentity,
  importWalletIdentity,
  type FabricCaAuthorityOptions,
  type FabricCaProblem,
} from '../../../adapters/fabric-ca/index.js';
import { AuthorityError, isCertstewardError } from '../../../src/errors.js';
import { SoftwareKeyStore } from '../../../src/keys/software-key-store.js';
import { parseCertificate, parseCertificates } from '../../../src/pki/certificate.js';
import { verifyChain } from '../../../src/pki/chain.js';
import { buildCsr } from '../../../src/pki/csr.js';
import { toPem } from '../../../src/pki/pem.js';
import type { IssueRequest } from '../../../src/ports/certificate-authority.js';
import type { KeyHandle } from '../../../src/ports/key-store.js';
import { createSteward } from '../../../src/steward/steward.js';
import { systemClock } from '../../../src/steward/system-clock.js';
import { describeCertificateAuthority } from '../../../src/testing/contracts/authority-contract.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { MemoryStore } from '../../../src/testing/memory-store.js';
import { startFabricCaServer, type FabricCaTestServer } from '../../support/fabric-ca-server.js';

const HOUR_MS = 3_600_000;
const keys = new MemoryKeyStore();
const servers: FabricCaTestServer[] = [];

async function server(options: Parameters<typeof startFabricCaServer>[0] = {}): Promise<FabricCaTestServer> {
  const s = await startFabricCaServer(options);
  servers.push(s);
  return s;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

function authority(s: FabricCaTestServer, extra: Partial<FabricCaAuthorityOptions> = {}): FabricCaAuthority {
  return new FabricCaAuthority({
    url: s.url,
    caName: s.caName,
    tls: { ca: s.tlsCaPem },
    registrar: { enrollmentId: 'admin', enrollmentSecret: 'adminpw' },
    clock: { now: () => s.now() },
    ...extra,
  });
}

const names = (cn: string) => [{ type: 'dns', value: `${cn}.org1.example.com` }] as const;

/** An issue request the way the steward makes one: CSR with the enrollment ID as CN, signed by `key`. */
async function request(cn: string, key: KeyHandle, extra: Partial<IssueRequest> = {}): Promise<IssueRequest> {
  const subjectAltNames = names(cn);
  return { id: `tracked-${cn}`, key, commonName: cn, subjectAltNames, csrPem: await buildCsr({ key, commonName: cn, subjectAltNames }), ...extra };
}

async function chainOf(a: FabricCaAuthority, req: IssueRequest): Promise<string> {
  const result = await a.issue(req);
  expect(result.status).toBe('issued');
  if (result.status !== 'issued') throw new Error('pending');
  return result.chainPem;
}

async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

/** What an AuthorityError says, compared as a whole so a failure shows it all. */
function summary(e: unknown): { kind: string; retryable: boolean; codes: number[] } {
  if (!isCertstewardError(e, 'authority')) return { kind: `not an AuthorityError: ${String(e)}`, retryable: false, codes: [] };
  const cause = e.cause as Partial<FabricCaProblem> | undefined;
  return { kind: e.kind, retryable: e.retryable, codes: Array.isArray(cause?.errors) ? cause.errors.map((x) => x.code) : [] };
}

/** Calls (method, path, status) the server saw after position `from`, without the unauthenticated cainfo lookups. */
function calls(s: FabricCaTestServer, from: number): string[] {
  return s.requests
    .slice(from)
    .filter((r) => !r.path.includes('/cainfo'))
    .map((r) => `${r.method} ${r.path.split('?')[0]} ${r.status}`);
}

/** The first certificate of a chain, PEM. */
const leafPem = (chainPem: string): string => toPem(parseCertificates(chainPem)[0]!.der);
const cnOf = (pem: string): string | undefined => parseCertificate(pem).subject.attributes.find((a) => a.type === 'CN')?.value;

// ---------------------------------------------------------------------------

describe('FabricCaAuthority: the authority contract', () => {
  let shared: FabricCaTestServer;
  beforeAll(async () => {
    shared = await server();
    await authority(shared).register({ id: 'contract-client', type: 'client', affiliation: 'org1', maxEnrollments: -1 });
  });
  describeCertificateAuthority({ describe, it, expect }, async () => ({
    // The contract's CSRs carry no common name: the adapter rebuilds them with the enrollment ID.
    authority: authority(shared, { enrollmentId: () => 'contract-client' }),
    trustAnchorsPem: shared.rootPem,
    makeKey: () => keys.generate({ algorithm: 'ECDSA-P256' }),
  }));
});

describe('FabricCaAuthority: enrollment and renewal', () => {
  let s: FabricCaTestServer;
  let ca: FabricCaAuthority;
  beforeAll(async () => {
    s = await server();
    ca = authority(s);
  });

  it('registers an identity by the registrar and enrolls it with the secret the CA generated', async () => {
    const { secret } = await ca.register({ id: 'app1', type: 'client', affiliation: 'org1.department1' });
    expect(s.identity('app1')).toMatchObject({ secret, type: 'client', affiliation: 'org1.department1', enrollments: 0 });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const enrolled = await ca.enroll({ enrollmentId: 'app1', secret, csrPem: await buildCsr({ key, commonName: 'app1', subjectAltNames: [] }) });
    expect(cnOf(enrolled.certificatePem)).toBe('app1');
    expect(s.identity('app1')!.enrollments).toBe(1);
    // The chain is the certificate followed by the CA chain the server returned.
    expect(parseCertificates(enrolled.chainPem).map((c) => c.fingerprints.sha256)).toEqual(
      [enrolled.certificatePem, s.caChainPem].flatMap((p) => parseCertificates(p).map((c) => c.fingerprints.sha256)),
    );
    const info = await ca.caInfo();
    expect({ caName: info.caName, chain: info.caChainPem === enrolled.caChainPem }).toEqual({ caName: s.caName, chain: true });
  });

  it('issues the first certificate through the registrar: secret reset and enrollment, never a registration', async () => {
    await ca.register({ id: 'peer1', type: 'peer', affiliation: 'org1', secret: 'original-secret' });
    const from = s.requests.length;
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const chain = await chainOf(ca, await request('peer1', key));
    expect(calls(s, from)).toEqual([
      'GET /api/v1/identities/peer1 200',
      'PUT /api/v1/identities/peer1 200',
      'POST /api/v1/enroll 201',
    ]);
    expect(s.requests.slice(from).some((r) => r.path.includes('/register'))).toBe(false);
    expect(s.identity('peer1')!.secret === 'original-secret').toBe(false);
    expect(verifyChain(chain, { roots: s.rootPem }).trusted).toBe(true);
    expect(parseCertificate(chain).publicKey.sha256).toBe(key.ref.spkiSha256);
  });

  it('renews a valid certificate by re-enrollment with a token of the current certificate and key, for a new key', async () => {
    const first = await keys.generate({ algorithm: 'ECDSA-P256' });
    await ca.register({ id: 'peer2', type: 'peer', affiliation: 'org1' });
    const current = leafPem(await chainOf(ca, await request('peer2', first)));
    const from = s.requests.length;
    const next = await keys.generate({ algorithm: 'ECDSA-P256' });
    const chain = await chainOf(ca, await request('peer2', next, { replaces: current, currentKey: async () => first }));
    const authenticated = s.requests.slice(from).filter((r) => !r.path.includes('/cainfo'));
    expect(authenticated.map((r) => ({ call: `${r.method} ${r.path}`, status: r.status, form: r.tokenForm, caller: r.caller }))).toEqual([
      { call: 'POST /api/v1/reenroll', status: 201, form: 'v14', caller: 'peer2' },
    ]);
    const leaf = parseCertificate(chain);
    expect({ key: leaf.publicKey.sha256, cn: cnOf(chain), via: s.issued().at(-1)!.via }).toEqual({ key: next.ref.spkiSha256, cn: 'peer2', via: 'reenroll' });
    expect(leaf.serialNumber === parseCertificate(current).serialNumber).toBe(false);
  });

  it('re-enrolls with the same key when the key policy keeps it (the request key is the current key)', async () => {
    const key = await keys.generate({ algorithm: 'ECDSA-P384' });
    await ca.register({ id: 'peer3', type: 'peer', affiliation: 'org1' });
    const current = leafPem(await chainOf(ca, await request('peer3', key)));
    const from = s.requests.length;
    // No currentKey from the steward: the request key matches the current certificate, so it signs the token.
    const chain = await chainOf(ca, await request('peer3', key, { replaces: current }));
    expect(calls(s, from)).toEqual(['POST /api/v1/reenroll 201']);
    expect(parseCertificate(chain).publicKey.sha256).toBe(key.ref.spkiSha256);
  });

  it("takes the enrollment ID from the current certificate's CN, whatever the tracked id", async () => {
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    await ca.register({ id: 'peer4', type: 'peer', affiliation: 'org1' });
    const current = leafPem(await chainOf(ca, await request('peer4', key)));
    const from = s.requests.length;
    const subjectAltNames = names('peer4');
    // A CSR without a CN and a tracked id unrelated to the identity.
    const req: IssueRequest = { id: 'orders-service', key, subjectAltNames, csrPem: await buildCsr({ key, subjectAltNames }), replaces: current };
    const chain = await chainOf(ca, req);
    expect(s.requests.slice(from).flatMap((r) => (r.caller ? [r.caller] : []))).toEqual(['peer4']);
    expect(cnOf(chain)).toBe('peer4');
  });

  it('requests attributes (attr_reqs) and a profile, and puts the CA chain after the certificate', async () => {
    await ca.register({ id: 'peer5', type: 'peer', affiliation: 'org1', attributes: [{ name: 'app.role', value: 'writer' }] });
    const withAttrs = authority(s, { attributeRequests: [{ name: 'app.role', optional: false }] });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const chain = await chainOf(withAttrs, await request('peer5', key, { profile: 'tls' }));
    const x509 = await import('@peculiar/x509');
    const ext = new x509.X509Certificate(leafPem(chain)).getExtension('1.2.3.4.5.6.7.8.1');
    expect(JSON.parse(Buffer.from(ext!.value).toString('utf8'))).toEqual({ attrs: { 'app.role': 'writer' } });
    expect(parseCertificate(chain).extendedKeyUsage).toEqual(['serverAuth', 'clientAuth']);
    expect(parseCertificates(chain).slice(1).map((c) => c.fingerprints.sha256)).toEqual(parseCertificates(s.caChainPem).map((c) => c.fingerprints.sha256));
  });

  it('authenticates every registrar call: 40 tokens in a row, none refused for a high S', async () => {
    const from = s.requests.length;
    for (let i = 0; i < 40; i++) expect((await ca.getIdentity('admin'))?.id).toBe('admin');
    expect(s.requests.slice(from).filter((r) => r.status !== 200 && r.path.includes('identities'))).toEqual([]);
  });

  it('looks identities up and modifies them; an unknown identity is undefined', async () => {
    await ca.register({ id: 'peer6', type: 'peer', affiliation: 'org1', maxEnrollments: 3 });
    expect(await ca.getIdentity('peer6')).toMatchObject({ id: 'peer6', type: 'peer', affiliation: 'org1', maxEnrollments: 3, caName: s.caName });
    expect(await ca.getIdentity('nobody')).toBeUndefined();
    const modified = await ca.modifyIdentity('peer6', { secret: 'reset-1', maxEnrollments: 5 });
    expect(modified).toMatchObject({ id: 'peer6', maxEnrollments: 5, secret: 'reset-1' });
    expect(s.identity('peer6')).toMatchObject({ secret: 'reset-1', maxEnrollments: 5 });
  });

  it('signs the v1.3 token form when asked, which a server in compatibility mode accepts', async () => {
    const old = authority(s, { tokenFormat: 'v1.3' });
    const from = s.requests.length;
    expect((await old.getIdentity('admin'))?.id).toBe('admin');
    expect(s.requests.slice(from).map((r) => r.tokenForm).filter(Boolean)).toEqual(['v13']);
  });
});

describe('FabricCaAuthority: revocation', () => {
  let s: FabricCaTestServer;
  let ca: FabricCaAuthority;
  beforeAll(async () => {
    s = await server();
    ca = authority(s);
  });

  it('revokes by serial and AKI with the reason, returns the CRL on request, and treats a second revocation as done', async () => {
    await ca.register({ id: 'rev1', type: 'client', affiliation: 'org1' });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const pem = leafPem(await chainOf(ca, await request('rev1', key)));
    const serial = parseCertificate(pem).serialNumber.replace(/^0+/, '');
    const result = await ca.revokeCertificate(pem, 'keyCompromise', { generateCrl: true });
    expect(result.revoked.map((r) => r.serial)).toEqual([serial]);
    expect(result.crlPem).toMatch(/-----BEGIN X509 CRL-----/);
    expect(s.issued().find((c) => c.serial === serial)).toMatchObject({ revoked: true, reason: 1 });
    expect(await ca.revokeCertificate(pem, 'keyCompromise')).toEqual({ revoked: [], crlPem: undefined, alreadyRevoked: true });
  });

  it('takes a refused re-enrollment as a revocation only when the registrar\'s token is accepted; otherwise unauthorized, never revoked', async () => {
    await ca.register({ id: 'rev4', type: 'peer', affiliation: 'org1' });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const pem = leafPem(await chainOf(ca, await request('rev4', key)));
    await ca.revoke(pem, 'superseded');
    const next = await keys.generate({ algorithm: 'ECDSA-P256' });
    // No registrar: a revoked certificate and an unverifiable token look the same, so not "revoked" (which stops renewals for good).
    const bare = authority(s, { registrar: undefined });
    const e = await errorOf(async () => bare.issue(await request('rev4', next, { replaces: pem, currentKey: async () => key })));
    expect(summary(e)).toEqual({ kind: 'unauthorized', retryable: false, codes: [20] });
    expect((e as Error).message).toMatch(/not taken as a revocation/);
  });

  it('never renews a revoked certificate: the refused re-enrollment is kind revoked, not retried, not recovered', async () => {
    await ca.register({ id: 'rev2', type: 'peer', affiliation: 'org1' });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const pem = leafPem(await chainOf(ca, await request('rev2', key)));
    await ca.revoke(pem, 'superseded');
    const issuedBefore = s.issued().length;
    const from = s.requests.length;
    const next = await keys.generate({ algorithm: 'ECDSA-P256' });
    const e = await errorOf(async () => ca.issue(await request('rev2', next, { replaces: pem, currentKey: async () => key })));
    expect(summary(e)).toEqual({ kind: 'revoked', retryable: false, codes: [20] });
    // The refused re-enrollment, then the registrar's lookup that rules out a token problem; no secret reset, no enrollment.
    expect(calls(s, from)).toEqual(['POST /api/v1/reenroll 401', 'GET /api/v1/identities/rev2 200']);
    expect(s.issued().length).toBe(issuedBefore);
  });

  it('revoke() needs a registrar: without one it is an unauthorized AuthorityError that says so', async () => {
    const bare = authority(s, { registrar: undefined });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    await ca.register({ id: 'rev3', type: 'client', affiliation: 'org1' });
    const pem = leafPem(await chainOf(ca, await request('rev3', key)));
    const e = await errorOf(() => bare.revoke(pem, 'superseded'));
    expect(summary(e)).toEqual({ kind: 'unauthorized', retryable: false, codes: [] });
    expect((e as Error).message).toMatch(/registrar/);
  });
});

describe('FabricCaAuthority: expired or lost certificates', () => {
  it('recovers an expired certificate through the registrar (secret reset + enrollment), never registering', async () => {
    const s = await server({ leafLifetimeMs: HOUR_MS });
    const ca = authority(s);
    await ca.register({ id: 'exp1', type: 'peer', affiliation: 'org1' });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const current = leafPem(await chainOf(ca, await request('exp1', key)));
    s.setTime(new Date(parseCertificate(current).notAfter.getTime() + HOUR_MS));
    const secretBefore = s.identity('exp1')!.secret;
    const from = s.requests.length;
    const next = await keys.generate({ algorithm: 'ECDSA-P256' });
    const chain = await chainOf(ca, await request('exp1', next, { replaces: current, currentKey: async () => key }));
    const seen = calls(s, from);
    // The registrar's own (expired) certificate is re-enrolled first; then the identity's secret is reset and it enrolls.
    expect(seen.slice(-2)).toEqual(['PUT /api/v1/identities/exp1 200', 'POST /api/v1/enroll 201']);
    expect(seen.some((c) => c.includes('/register') || c.includes('/reenroll'))).toBe(false);
    expect(s.identity('exp1')!.secret === secretBefore).toBe(false);
    const leaf = parseCertificate(chain);
    expect({ key: leaf.publicKey.sha256, valid: leaf.notAfter.getTime() > s.now().getTime() }).toEqual({ key: next.ref.spkiSha256, valid: true });
  });

  it('re-enrolls an expired certificate when the server ignores expiry for re-enrollment, and recovers when it does not', async () => {
    const lenient = await server({ leafLifetimeMs: HOUR_MS, reenrollIgnoreCertExpiry: true });
    const strict = await server({ leafLifetimeMs: HOUR_MS });
    for (const [s, expected] of [
      [lenient, ['POST /api/v1/reenroll 201']],
      [strict, ['POST /api/v1/reenroll 401', 'GET /api/v1/identities/exp2 200',
 'PUT /api/v1/identities/exp2 200', 'POST /api/v1/enroll 201']],
    ] as const) {
      const ca = authority(s, { reenrollIgnoresCertExpiry: true });
      await ca.register({ id: 'exp2', type: 'peer', affiliation: 'org1' });
      const key = await keys.generate({ algorithm: 'ECDSA-P256' });
      const current = leafPem(await chainOf(ca, await request('exp2', key)));
      s.setTime(new Date(parseCertificate(current).notAfter.getTime() + HOUR_MS));
      await ca.caInfo(); // nothing to enroll for the registrar in what is measured
      await ca.getIdentity('admin');
      const from = s.requests.length;
      await chainOf(ca, await request('exp2', key, { replaces: current, currentKey: async () => key }));
      expect(calls(s, from)).toEqual(expected);
    }
  });

  it('without a registrar, an expired certificate fails with unauthorized and the recovery path, without calling the CA', async () => {
    const s = await server({ leafLifetimeMs: HOUR_MS });
    const ca = authority(s);
    await ca.register({ id: 'exp3', type: 'peer', affiliation: 'org1' });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const current = leafPem(await chainOf(ca, await request('exp3', key)));
    s.setTime(new Date(parseCertificate(current).notAfter.getTime() + HOUR_MS));
    const bare = authority(s, { registrar: undefined });
    const from = s.requests.length;
    for (const req of [await request('exp3', key, { replaces: current, currentKey: async () => key }), await request('exp3', key)]) {
      const e = await errorOf(() => bare.issue(req));
      expect(summary(e)).toEqual({ kind: 'unauthorized', retryable: false, codes: [] });
      expect((e as Error).message).toMatch(/registrar/);
    }
    expect((await errorOf(async () => bare.issue(await request('exp3', key, { replaces: current }))) as Error).message).toMatch(/expired/);
    expect(calls(s, from)).toEqual([]);
  });

  it('enrolls with a host-provided secret when there is no registrar', async () => {
    const s = await server();
    const { secret } = await authority(s).register({ id: 'boot1', type: 'client', affiliation: 'org1' });
    const bare = authority(s, { registrar: undefined, enrollmentSecret: (id) => (id === 'boot1' ? secret : undefined) });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const from = s.requests.length;
    const chain = await chainOf(bare, await request('boot1', key));
    expect({ calls: calls(s, from), cn: cnOf(chain) }).toEqual({ calls: ['POST /api/v1/enroll 201'], cn: 'boot1' });
  });

  it('refuses to recover an identity the CA does not know (code 63) instead of registering it', async () => {
    const s = await server();
    const ca = authority(s);
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const from = s.requests.length;
    const e = await errorOf(async () => ca.issue(await request('ghost', key)));
    expect(summary(e)).toEqual({ kind: 'refused', retryable: false, codes: [63] });
    expect((e as Error).message).toMatch(/register/);
    expect(s.requests.slice(from).some((r) => r.path.includes('/register'))).toBe(false);
    expect(s.identity('ghost')).toBeUndefined();
  });
});

describe('FabricCaAuthority: typed errors', () => {
  let s: FabricCaTestServer;
  beforeAll(async () => {
    s = await server();
  });

  it('maps a wrong secret and a used-up enrollment allowance to unauthorized (code 20), not retryable', async () => {
    const ca = authority(s);
    const { secret } = await ca.register({ id: 'once', type: 'client', affiliation: 'org1', maxEnrollments: 1 });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const csrPem = await buildCsr({ key, commonName: 'once', subjectAltNames: [] });
    expect(summary(await errorOf(() => ca.enroll({ enrollmentId: 'once', secret: 'wrong', csrPem })))).toEqual({ kind: 'unauthorized', retryable: false, codes: [20] });
    await ca.enroll({ enrollmentId: 'once', secret, csrPem });
    const limit = await errorOf(() => ca.enroll({ enrollmentId: 'once', secret, csrPem }));
    expect(summary(limit)).toEqual({ kind: 'unauthorized', retryable: false, codes: [20] });
    expect((limit as Error).message).toMatch(/max_enrollments/);
  });

  it('stops at an aborted signal with its reason, before anything is sent', async () => {
    const from = s.requests.length;
    const reason = new Error('shutting down');
    const controller = new AbortController();
    controller.abort(reason);
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    expect(await errorOf(() => authority(s).caInfo({ signal: controller.signal }))).toBe(reason);
    expect(await errorOf(async () => authority(s).issue(await request('abort1', key), { signal: controller.signal }))).toBe(reason);
    expect(s.requests.length).toBe(from);
  });

  it('maps an unknown CA name (code 19) to refused', async () => {
    const e = await errorOf(() => authority(s, { caName: 'no-such-ca' }).caInfo());
    expect(summary(e)).toEqual({ kind: 'refused', retryable: false, codes: [19] });
  });

  it('maps an unreachable CA to unavailable, retryable, with the network error as cause', async () => {
    const gone = await startFabricCaServer();
    await gone.stop();
    const e = await errorOf(() => authority(gone).caInfo());
    expect(summary(e)).toEqual({ kind: 'unavailable', retryable: true, codes: [] });
    expect(((e as AuthorityError).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('maps an untrusted TLS certificate to unavailable with the TLS error as cause and names the tls.ca fix', async () => {
    const e = await errorOf(() => authority(s, { tls: {} }).caInfo());
    expect(summary(e)).toEqual({ kind: 'unavailable', retryable: true, codes: [] });
    expect((e as Error).message).toMatch(/tls\.ca/);
    expect(typeof ((e as AuthorityError).cause as NodeJS.ErrnoException).code).toBe('string');
  });

  it('refuses a key given as the current key that is not the current certificate key', async () => {
    const ca = authority(s);
    await ca.register({ id: 'mix1', type: 'client', affiliation: 'org1' });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const other = await keys.generate({ algorithm: 'ECDSA-P256' });
    const current = leafPem(await chainOf(ca, await request('mix1', key)));
    const e = await errorOf(async () => ca.issue(await request('mix1', other, { replaces: current, currentKey: async () => other })));
    expect(summary(e)).toEqual({ kind: 'unauthorized', retryable: false, codes: [] });
  });

  it('recovers an RSA certificate through the registrar (Fabric tokens are ECDSA only); without a registrar the error says why', async () => {
    const ca = authority(s);
    await ca.register({ id: 'rsa1', type: 'client', affiliation: 'org1' });
    const key = await keys.generate({ algorithm: 'RSA-2048' });
    const current = leafPem(await chainOf(ca, await request('rsa1', key)));
    const from = s.requests.length;
    await chainOf(ca, await request('rsa1', key, { replaces: current }));
    expect(calls(s, from)).toEqual(['GET /api/v1/identities/rsa1 200', 'PUT /api/v1/identities/rsa1 200', 'POST /api/v1/enroll 201']);
    const e = await errorOf(async () => authority(s, { registrar: undefined }).issue(await request('rsa1', key, { replaces: current })));
    expect(summary(e)).toEqual({ kind: 'unauthorized', retryable: false, codes: [] });
    expect((e as Error).message).toMatch(/ECDSA/);
    // The token itself refuses an RSA key with a ConfigError.
    expect(isCertstewardError(await errorOf(() => ca.reenroll({ identity: { certificatePem: current, key }, csrPem: 'x' })), 'config')).toBe(true);
  });

  it('recovers an identity that used up its enrollments: the secret reset also allows one more enrollment', async () => {
    const ca = authority(s);
    await ca.register({ id: 'once1', type: 'client', affiliation: 'org1', maxEnrollments: 1 });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    await chainOf(ca, await request('once1', key)); // the one enrollment it was allowed
    expect(s.identity('once1')!.enrollments).toBe(1);
    // The certificate is lost: no current one to re-enroll with.
    const chain = await chainOf(ca, await request('once1', await keys.generate({ algorithm: 'ECDSA-P256' })));
    expect(verifyChain(chain, { roots: s.rootPem }).trusted).toBe(true);
    expect(s.identity('once1')!.maxEnrollments).toBe(3);
    expect(s.requests.some((r) => r.path.includes('/register') && r.caller !== 'admin')).toBe(false);
  });

  it('treats a current certificate from another CA as no certificate (recovery), not as a revocation', async () => {
    const other = await server();
    await authority(other).register({ id: 'mig1', type: 'peer', affiliation: 'org1' });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const foreign = leafPem(await chainOf(authority(other), await request('mig1', key)));
    const ca = authority(s);
    await ca.register({ id: 'mig1', type: 'peer', affiliation: 'org1' });
    const from = s.requests.length;
    const chain = await chainOf(ca, await request('mig1', key, { replaces: foreign, currentKey: async () => key }));
    expect(calls(s, from)).toEqual(['GET /api/v1/identities/mig1 200', 'PUT /api/v1/identities/mig1 200', 'POST /api/v1/enroll 201']);
    expect(verifyChain(chain, { roots: s.rootPem }).trusted).toBe(true);
    const bare = authority(s, { registrar: undefined });
    const e = await errorOf(async () => bare.issue(await request('mig1', key, { replaces: foreign, currentKey: async () => key })));
    expect(summary(e)).toEqual({ kind: 'unauthorized', retryable: false, codes: [] });
    expect((e as Error).message).toMatch(/not issued by this CA/);
  });
});

describe('FabricCaAuthority driven by the steward', () => {
  it('issues through the registrar, then renews by re-enrollment with the key the steward loads (IssueRequest.currentKey)', async () => {
    const s = await server();
    const fabric = authority(s);
    await fabric.register({ id: 'peer9', type: 'peer', affiliation: 'org1' });
    const stewardKeys = new MemoryKeyStore();
    const store = new MemoryStore();
    const steward = createSteward({ store, keys: stewardKeys, clock: systemClock, authorities: { fabric }, pollIntervalMs: null });
    await steward.track({ id: 'peer9-tls', authority: 'fabric', commonName: 'peer9', subjectAltNames: ['peer9.org1.example.com'], key: { rotate: 'always' } });
    const from = s.requests.length;
    await steward.runOnce();
    const first = (await store.get('peer9-tls'))!.current!;
    await steward.renewNow('peer9-tls');
    const second = (await store.get('peer9-tls'))!.current!;
    await steward.stop();
    // (The registrar enrolled already, for the registration above.)
    expect(calls(s, from)).toEqual([
      'GET /api/v1/identities/peer9 200',
      'PUT /api/v1/identities/peer9 200',
      'POST /api/v1/enroll 201',
      'POST /api/v1/reenroll 201',
    ]);
    expect(s.requests.at(-1)!.caller).toBe('peer9');
    expect(second.keyRef.id === first.keyRef.id).toBe(false);
    expect(cnOf(second.chainPem)).toBe('peer9');
  });
});

describe('Fabric wallet identities', () => {
  it('exports an identity as a Fabric X.509 wallet JSON with the key in clear, imports it into another store, and the imported key re-enrolls', async () => {
    const s = await server();
    const ca = authority(s);
    await ca.register({ id: 'wallet1', type: 'client', affiliation: 'org1' });
    const source = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek(), exportable: true });
    const key = await source.generate({ algorithm: 'ECDSA-P256' });
    const chainPem = await chainOf(ca, await request('wallet1', key));
    const wallet = await exportWalletIdentity({ chainPem, key, mspId: 'Org1MSP' });
    const json = JSON.stringify(wallet);
    const parsed = JSON.parse(json);
    expect(Object.keys(parsed).sort()).toEqual(['credentials', 'mspId', 'type', 'version']);
    expect({ type: parsed.type, version: parsed.version, mspId: parsed.mspId, certificate: parsed.credentials.certificate }).toEqual({
      type: 'X.509',
      version: 1,
      mspId: 'Org1MSP',
      certificate: leafPem(chainPem),
    });
    expect(parsed.credentials.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    // The clear key is the certificate's key (read by node:crypto, not by the code under test).
    const spki = createPublicKey(parsed.credentials.privateKey).export({ type: 'spki', format: 'der' });
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(spki).digest('hex')).toBe(parseCertificate(chainPem).publicKey.sha256);

    // Another process's store: the imported key is sealed under its own KEK.
    const target = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek() });
    const imported = await importWalletIdentity(json, target);
    expect({ chain: imported.chainPem, mspId: imported.mspId, store: imported.keyRef.store }).toEqual({
      chain: leafPem(chainPem),
      mspId: 'Org1MSP',
      store: 'software',
    });
    const from = s.requests.length;
    const next = await target.generate({ algorithm: 'ECDSA-P256' });
    await chainOf(ca, await request('wallet1', next, { replaces: imported.chainPem, currentKey: () => target.load(imported.keyRef) }));
    expect(calls(s, from)).toEqual(['POST /api/v1/reenroll 201']);
  });

  it('refuses wallets whose key is not the certificate key, HSM wallets, and stores that cannot import', async () => {
    const store = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek(), exportable: true });
    const a = await store.generate({ algorithm: 'ECDSA-P256' });
    const b = await store.generate({ algorithm: 'ECDSA-P256' });
    const { emergencySelfSigned } = await import('../../../adapters/local-ca/local-authority.js');
    const pem = await emergencySelfSigned({ key: a, commonName: 'w', subjectAltNames: [], clock: systemClock });
    const good = await exportWalletIdentity({ chainPem: pem, key: a, mspId: 'Org1MSP' });
    const bKey = (await exportWalletIdentity({ chainPem: await emergencySelfSigned({ key: b, commonName: 'w', subjectAltNames: [], clock: systemClock }), key: b, mspId: 'X' })).credentials.privateKey;
    const mixed = { ...good, credentials: { ...good.credentials, privateKey: bKey } };
    expect(isCertstewardError(await errorOf(() => importWalletIdentity(mixed, store)), 'key-mismatch')).toBe(true);
    const hsm = { credentials: { certificate: pem }, mspId: 'Org1MSP', type: 'HSM-X.509', version: 1 };
    expect(isCertstewardError(await errorOf(() => importWalletIdentity(JSON.stringify(hsm), store)), 'config')).toBe(true);
    const memory = new MemoryKeyStore();
    const withoutImport = { kind: memory.kind, generate: memory.generate.bind(memory), load: memory.load.bind(memory), destroy: memory.destroy.bind(memory) };
    const e = await errorOf(() => importWalletIdentity(good, withoutImport));
    expect(isCertstewardError(e, 'key-store') && e.reason).toBe('unsupported');
    // A non-exportable key cannot be written into a wallet.
    const hsmLike = await new MemoryKeyStore().generate({ algorithm: 'ECDSA-P256' });
    const hsmPem = await emergencySelfSigned({ key: hsmLike, commonName: 'h', subjectAltNames: [], clock: systemClock });
    expect(isCertstewardError(await errorOf(() => exportWalletIdentity({ chainPem: hsmPem, key: hsmLike, mspId: 'Org1MSP' })), 'key')).toBe(true);
  });
});
