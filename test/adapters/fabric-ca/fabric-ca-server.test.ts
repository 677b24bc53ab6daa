/**
 * Keeps the Fabric CA test server honest: the OFFICIAL fabric-ca-client SDK
 * (2.2.20, the same calls PEERS.md §3 verified against a real Fabric CA 1.5)
 * drives it through enroll, register, reenroll with a new key, revoke by
 * serial/AKI and by enrollment id, and a reenroll after revocation; raw
 * requests with tokens built by hand with node:crypto pin the token rules
 * (URI and body binding, low-S, foreign CA, v1.3 form, expiry) and the error
 * codes a real server returns.
 */
import { X509Certificate, createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, webcrypto, type KeyObject } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { buildCsr } from '../../../src/pki/csr.js';
import type { KeyHandle } from '../../../src/ports/key-store.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { startFabricCaServer, type FabricCaTestServer } from '../../support/fabric-ca-server.js';

// ------------------------------------------------------------ the official SDK

interface SdkKey {
  toBytes(): string;
  getPublicKey(): { toBytes(): string };
}
interface SdkEnrollment {
  key: SdkKey;
  certificate: string;
  rootCertificate: string;
}
interface SdkUser {
  setCryptoSuite(suite: unknown): void;
}
interface SdkIdentityService {
  getOne(id: string, registrar: SdkUser): Promise<{ result: Record<string, unknown>; success: boolean }>;
  getAll(registrar: SdkUser): Promise<{ result: { identities: { id: string }[]; caname: string } }>;
  update(id: string, req: Record<string, unknown>, registrar: SdkUser): Promise<{ result: Record<string, unknown> }>;
  delete(id: string, registrar: SdkUser, force?: boolean): Promise<unknown>;
  create(req: Record<string, unknown>, registrar: SdkUser): Promise<string>;
}
interface SdkCa {
  enroll(req: { enrollmentID: string; enrollmentSecret: string; attr_reqs?: { name: string; optional?: boolean }[] }): Promise<SdkEnrollment>;
  reenroll(user: SdkUser, attrReqs?: unknown[]): Promise<SdkEnrollment>;
  register(req: Record<string, unknown>, registrar: SdkUser): Promise<string>;
  revoke(
    req: { enrollmentID?: string; serial?: string; aki?: string; reason?: string; gencrl?: boolean },
    registrar: SdkUser,
  ): Promise<{ result: { RevokedCerts: { Serial: string; AKI: string }[] | null; CRL: string }; success: boolean }>;
  getCaInfo(registrar: SdkUser): Promise<{ caName: string; caChain: string; version: string }>;
  generateCRL(req: Record<string, unknown>, registrar: SdkUser): Promise<string>;
  getCryptoSuite(): unknown;
  newIdentityService(): SdkIdentityService;
}
type SdkError = Error & { errors?: { code: number; message: string }[] };

const require = createRequire(import.meta.url);
const FabricCAServices = require('fabric-ca-client') as new (url: string, tls: unknown, caName: string) => SdkCa;
const { User } = require('fabric-common') as {
  User: { createUser(name: string, pw: string, mspId: string, cert: string, key: string): SdkUser };
};

function sdkFor(server: FabricCaTestServer): SdkCa {
  return new FabricCAServices(server.url, { trustedRoots: [server.tlsCaPem], verify: true }, server.caName);
}

function userOf(ca: SdkCa, name: string, enrollment: { certificate: string; key: SdkKey }): SdkUser {
  const user = User.createUser(name, '', 'Org1MSP', enrollment.certificate, enrollment.key.toBytes());
  user.setCryptoSuite(ca.getCryptoSuite());
  return user;
}

/** The fabric-ca error list an SDK call rejected with. */
async function sdkErrors(p: Promise<unknown>): Promise<{ code: number; message: string }[]> {
  try {
    await p;
  } catch (e) {
    const errors = (e as SdkError).errors;
    if (!errors) throw e;
    return errors;
  }
  throw new Error('the call was expected to fail');
}

const ATTR_OID = '1.2.3.4.5.6.7.8.1';
function fabricAttrs(pem: string): Record<string, string> | undefined {
  const ext = new x509.X509Certificate(pem).getExtension(ATTR_OID);
  if (!ext) return undefined;
  return (JSON.parse(Buffer.from(ext.value).toString('utf8')) as { attrs: Record<string, string> }).attrs;
}

// --------------------------------------------------------- raw HTTP and tokens

interface RawResponse {
  status: number;
  text: string;
  json: { result: unknown; errors: { code: number; message: string }[]; messages: unknown[]; success: boolean };
}

function call(
  server: FabricCaTestServer,
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const url = new URL(path, server.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, headers: options.headers, ca: server.tlsCaPem || undefined }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: RawResponse['json'];
        try {
          json = JSON.parse(text) as RawResponse['json'];
        } catch {
          json = { result: undefined, errors: [], messages: [], success: false };
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');
const basic = (id: string, secret: string): string => `Basic ${b64(`${id}:${secret}`)}`;
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

function derInt(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}
function splitSig(der: Buffer): { r: bigint; s: bigint } {
  const rLen = der[3]!;
  const r = BigInt('0x' + der.subarray(4, 4 + rLen).toString('hex'));
  const sLen = der[5 + rLen]!;
  const s = BigInt('0x' + der.subarray(6 + rLen, 6 + rLen + sLen).toString('hex'));
  return { r, s };
}
function joinSig(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

interface Credential {
  certPem: string;
  key: KeyObject;
}

/** A Fabric token made with node:crypto: v1.4 (method.uri.body.cert) or v1.3 (body.cert), low-S or forced high-S. */
function token(
  cred: Credential,
  method: string,
  uri: string,
  body: string,
  options: { form?: 'v14' | 'v13'; s?: 'low' | 'high' } = {},
): string {
  const b64Cert = b64(cred.certPem);
  const payload = options.form === 'v13' ? `${b64(body)}.${b64Cert}` : `${method}.${b64(uri)}.${b64(body)}.${b64Cert}`;
  const { r, s } = splitSig(cryptoSign('sha256', Buffer.from(payload), { key: cred.key, dsaEncoding: 'der' }));
  const low = s > P256_N >> 1n ? P256_N - s : s;
  const sig = joinSig(r, options.s === 'high' ? P256_N - low : low);
  return `${b64Cert}.${b64(sig)}`;
}

async function newKey(): Promise<{ handle: KeyHandle; key: KeyObject }> {
  const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const handle: KeyHandle = {
    ref: { store: 'test', id: 'k', algorithm: 'ECDSA-P256', spkiSha256: '' },
    algorithm: 'ECDSA-P256',
    crypto: webcrypto as unknown as Crypto,
    publicKey: pair.publicKey,
    privateKey: pair.privateKey,
    exportable: true,
  };
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
  return { handle, key: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }) };
}

async function csrFor(cn: string): Promise<{ csrPem: string; key: KeyObject }> {
  const { handle, key } = await newKey();
  return { csrPem: await buildCsr({ key: handle, commonName: cn, subjectAltNames: [] }), key };
}

/** Enrolls over raw HTTP (Basic auth) and returns a credential for tokens. */
async function rawEnroll(server: FabricCaTestServer, id: string, secret: string, path = '/api/v1/enroll'): Promise<Credential> {
  const { csrPem, key } = await csrFor(id);
  const res = await call(server, 'POST', path, {
    body: JSON.stringify({ certificate_request: csrPem, caname: server.caName }),
    headers: { authorization: basic(id, secret) },
  });
  expect(res.status, res.text).toBe(201);
  const certPem = Buffer.from((res.json.result as { Cert: string }).Cert, 'base64').toString('utf8');
  return { certPem, key };
}

const AUTH_FAILURE = [{ code: 20, message: 'Authentication failure' }];

// ======================================================================= tests

describe('Fabric CA test server driven by the official fabric-ca-client 2.2.20', () => {
  let server: FabricCaTestServer;
  let ca: SdkCa;
  let admin: SdkUser;
  let adminEnrollment: SdkEnrollment;

  beforeAll(async () => {
    server = await startFabricCaServer();
    ca = sdkFor(server);
    adminEnrollment = await ca.enroll({ enrollmentID: 'admin', enrollmentSecret: 'adminpw' });
    admin = userOf(ca, 'admin', adminEnrollment);
  });
  afterAll(() => server?.stop());

  it('enrolls the bootstrap admin over verified TLS and returns the chain the SDK expects', async () => {
    const cert = parseCertificate(adminEnrollment.certificate);
    expect(cert.subject.dn).toBe('CN=admin,OU=client');
    expect(cert.keyUsage).toEqual(['digitalSignature']);
    expect(cert.isCA).toBe(false);
    expect(adminEnrollment.rootCertificate).toBe(server.caChainPem);
    // The leaf chains to the CA chain the server advertises.
    const [inter] = parseCertificatesPem(server.caChainPem);
    expect(new X509Certificate(adminEnrollment.certificate).verify(new X509Certificate(inter!).publicKey)).toBe(true);
    // The SDK's private key belongs to the certificate.
    expect(new X509Certificate(adminEnrollment.certificate).publicKey.export({ format: 'pem', type: 'spki' })).toBe(
      createPublicKeyPem(adminEnrollment.key.getPublicKey().toBytes()),
    );
    // The bootstrap identity has no ecert attributes: no attribute extension.
    expect(fabricAttrs(adminEnrollment.certificate)).toBeUndefined();
    expect(server.identity('admin')).toMatchObject({ enrollments: 1, maxEnrollments: -1, revoked: false });
    const info = await ca.getCaInfo(admin);
    expect(info).toMatchObject({ caName: server.caName, caChain: server.caChainPem, version: '1.5.12' });
    expect(server.requests.find((r) => r.path === '/api/v1/enroll')).toMatchObject({ method: 'POST', status: 201, caller: 'admin' });
  });

  it('register → enroll → reenroll (new key) → revoke by serial/AKI → reenroll with the revoked cert fails with code 20 → revoke by id', async () => {
    const secret = await ca.register(
      { enrollmentID: 'user1', affiliation: 'org1.department1', role: 'client', attrs: [{ name: 'app.role', value: 'auditor', ecert: true }] },
      admin,
    );
    expect(secret).toMatch(/^[A-Za-z]{12}$/); // generated: util.RandomString(12)
    expect(server.identity('user1')).toMatchObject({ secret, type: 'client', affiliation: 'org1.department1', maxEnrollments: 1, enrollments: 0 });
    const registerCall = server.requests.find((r) => r.path === '/api/v1/register')!;
    expect(registerCall).toMatchObject({ status: 201, tokenForm: 'v14', caller: 'admin' });

    const first = await ca.enroll({ enrollmentID: 'user1', enrollmentSecret: secret });
    const firstInfo = parseCertificate(first.certificate);
    expect(firstInfo.subject.dn).toBe('CN=user1,OU=client+OU=org1+OU=department1');
    expect(fabricAttrs(first.certificate)).toEqual({
      'app.role': 'auditor',
      'hf.Affiliation': 'org1.department1',
      'hf.EnrollmentID': 'user1',
      'hf.Type': 'client',
    });
    expect(server.identity('user1')!.enrollments).toBe(1);
    // max_enrollments defaults to 1 in the SDK: a second enroll is refused like a wrong password.
    expect(await sdkErrors(ca.enroll({ enrollmentID: 'user1', enrollmentSecret: secret }))).toEqual(AUTH_FAILURE);

    // Reenroll: token-authenticated, CSR built by the SDK from the current subject, new key.
    const user1 = userOf(ca, 'user1', first);
    const second = await ca.reenroll(user1);
    const secondInfo = parseCertificate(second.certificate);
    expect(secondInfo.subject.dn).toBe(firstInfo.subject.dn);
    expect(secondInfo.publicKey.sha256).not.toBe(firstInfo.publicKey.sha256);
    expect(secondInfo.serialNumber).not.toBe(firstInfo.serialNumber);
    expect(second.rootCertificate).toBe(server.caChainPem);
    expect(server.identity('user1')!.enrollments).toBe(1); // reenroll does not count
    expect(server.requests.filter((r) => r.path === '/api/v1/reenroll').at(-1)).toMatchObject({ status: 201, tokenForm: 'v14', caller: 'user1' });
    // The renewed identity can renew again.
    const third = await ca.reenroll(userOf(ca, 'user1', second));

    // Revoke the first certificate by serial and AKI (as any client reads them from the cert).
    const serial = new X509Certificate(first.certificate).serialNumber.toLowerCase();
    const aki = firstInfo.authorityKeyIdentifier!;
    const byCert = await ca.revoke({ serial, aki, reason: 'keycompromise' }, admin);
    expect(byCert.result).toEqual({ RevokedCerts: [{ Serial: serial.replace(/^0+/, ''), AKI: aki.replace(/^0+/, '') }], CRL: '' });
    const issuedFirst = server.issued().find((c) => c.pem === first.certificate)!;
    expect(issuedFirst).toMatchObject({ revoked: true, reason: 1, id: 'user1', via: 'enroll' });
    expect(server.authority.isRevoked(firstInfo.serialNumber)).toBe(true);

    // A reenroll signed with the revoked certificate fails exactly like a real CA: 401, code 20.
    expect(await sdkErrors(ca.reenroll(user1))).toEqual(AUTH_FAILURE);
    expect(server.requests.at(-1)).toMatchObject({
      path: '/api/v1/reenroll',
      status: 401,
      code: 20,
      log: '28 "The certificate in the authorization header is a revoked certificate"',
    });
    // Revoking it again: 404, code 66.
    expect(await sdkErrors(ca.revoke({ serial, aki }, admin))).toEqual([
      // Fabric's parseInput trims leading zeros of both (lowercase, no colons).
      { code: 66, message: `Certificate with serial ${serial.replace(/^0+/, '')} and AKI ${aki.replace(/^0+/, '')} was already revoked` },
    ]);

    // Revoke the identity: every certificate it still holds, plus a CRL.
    const byId = await ca.revoke({ enrollmentID: 'user1', gencrl: true }, admin);
    const revokedSerials = byId.result.RevokedCerts!.map((c) => c.Serial).sort();
    const expected = [second, third].map((e) => parseCertificate(e.certificate).serialNumber.replace(/^0+/, '')).sort();
    expect(revokedSerials).toEqual(expected);
    const crl = new x509.X509Crl(Buffer.from(byId.result.CRL, 'base64').toString('utf8'));
    const crlSerials = crl.entries.map((e) => e.serialNumber.toLowerCase().replace(/^0+/, '')).sort();
    expect(crlSerials).toEqual([...expected, serial.replace(/^0+/, '')].sort());
    expect(await crl.verify({ publicKey: new x509.X509Certificate(parseCertificatesPem(server.caChainPem)[0]!).publicKey })).toBe(true);
    expect(server.identity('user1')!.revoked).toBe(true);
    expect(server.issued().filter((c) => c.id === 'user1').every((c) => c.revoked)).toBe(true);
    // gencrl through the SDK: the same CA-signed CRL.
    const crl2 = new x509.X509Crl(Buffer.from(await ca.generateCRL({}, admin), 'base64').toString('utf8'));
    expect(crl2.entries).toHaveLength(3);

    // Nothing of user1 works any more.
    expect(await sdkErrors(ca.reenroll(userOf(ca, 'user1', third)))).toEqual(AUTH_FAILURE);
    expect(await sdkErrors(ca.enroll({ enrollmentID: 'user1', enrollmentSecret: secret }))).toEqual(AUTH_FAILURE);
    expect(server.requests.at(-1)!.log).toBe('24 "Login failure: User user1 is revoked; access denied"');
  });

  it('identity service: read with ?ca= in the signed URI, modify the secret and allowance, list', async () => {
    const secret = await ca.register({ enrollmentID: 'user2', affiliation: 'org2', maxEnrollments: 1 }, admin);
    await ca.enroll({ enrollmentID: 'user2', enrollmentSecret: secret });
    const ids = ca.newIdentityService();
    const one = await ids.getOne('user2', admin);
    expect(one.result).toMatchObject({ id: 'user2', type: 'client', affiliation: 'org2', max_enrollments: 1, caname: server.caName });
    expect(server.requests.at(-1)).toMatchObject({ method: 'GET', path: `/api/v1/identities/user2?ca=${server.caName}`, status: 200, tokenForm: 'v14' });
    // Exhausted: enrolling again fails until the allowance is raised (a new secret alone keeps the count).
    expect(await sdkErrors(ca.enroll({ enrollmentID: 'user2', enrollmentSecret: secret }))).toEqual(AUTH_FAILURE);
    const updated = await ids.update('user2', { enrollmentSecret: 'newpw', maxEnrollments: 2 }, admin);
    expect(updated.result).toMatchObject({ id: 'user2', secret: 'newpw', max_enrollments: 2 });
    expect(await sdkErrors(ca.enroll({ enrollmentID: 'user2', enrollmentSecret: secret }))).toEqual(AUTH_FAILURE);
    await ca.enroll({ enrollmentID: 'user2', enrollmentSecret: 'newpw' });
    expect(server.identity('user2')).toMatchObject({ secret: 'newpw', maxEnrollments: 2, enrollments: 2 });
    const all = await ids.getAll(admin);
    expect(all.result.caname).toBe(server.caName);
    expect(all.result.identities.map((i) => i.id)).toEqual(expect.arrayContaining(['admin', 'user2']));
    // Removal is off by default (cfg.identities.allowremove).
    expect(await sdkErrors(ids.delete('user2', admin))).toEqual([{ code: 56, message: 'Identity removal is disabled' }]);
    // Unknown identity and a duplicate registration.
    expect(await sdkErrors(ids.getOne('nobody', admin))).toEqual([{ code: 63, message: 'Failed to get User: sql: no rows in result set' }]);
    expect((await sdkErrors(ca.register({ enrollmentID: 'user2', affiliation: 'org2' }, admin)))[0]).toMatchObject({
      code: 74,
      message: "Identity 'user2' is already registered",
    });
  });

  it('refuses a registrar action from an identity that is not a registrar (403, code 71)', async () => {
    const secret = await ca.register({ enrollmentID: 'plain', affiliation: 'org1' }, admin);
    const plain = userOf(ca, 'plain', await ca.enroll({ enrollmentID: 'plain', enrollmentSecret: secret }));
    expect(await sdkErrors(ca.register({ enrollmentID: 'other', affiliation: 'org1' }, plain))).toEqual([{ code: 71, message: 'Authorization failure' }]);
    expect(await sdkErrors(ca.revoke({ enrollmentID: 'admin' }, plain))).toEqual([{ code: 71, message: 'Authorization failure' }]);
    expect(await sdkErrors(ca.register({ enrollmentID: 'lost', affiliation: 'org9' }, admin))).toEqual([
      {
        code: 0,
        message:
          "Registration of 'lost' failed in affiliation validation: Failed getting affiliation 'org9': : scode: 404, code: 63, msg: Failed to get Affiliation: sql: no rows in result set",
      },
    ]);
  });

  it('puts requested attributes in the certificate and refuses a missing required one', async () => {
    const secret = await ca.register(
      { enrollmentID: 'attr1', affiliation: 'org1', maxEnrollments: -1, attrs: [{ name: 'app.level', value: '3' }] },
      admin,
    );
    const e = await ca.enroll({ enrollmentID: 'attr1', enrollmentSecret: secret, attr_reqs: [{ name: 'app.level' }, { name: 'hf.Type' }] });
    expect(fabricAttrs(e.certificate)).toEqual({ 'app.level': '3', 'hf.Type': 'client' });
    const plain = await ca.enroll({ enrollmentID: 'attr1', enrollmentSecret: secret });
    expect(fabricAttrs(plain.certificate)).toEqual({ 'hf.Affiliation': 'org1', 'hf.EnrollmentID': 'attr1', 'hf.Type': 'client' });
    expect(await sdkErrors(ca.enroll({ enrollmentID: 'attr1', enrollmentSecret: secret, attr_reqs: [{ name: 'app.missing' }] }))).toEqual([
      { code: 0, message: 'Failed to find requested attributes: The following required attributes are missing: [app.missing]' },
    ]);
  });
});

describe('Fabric CA test server: tokens and errors, with hand-made requests', () => {
  let server: FabricCaTestServer;
  let strict: FabricCaTestServer;
  let adminCred: Credential;

  beforeAll(async () => {
    [server, strict] = await Promise.all([startFabricCaServer(), startFabricCaServer({ compatibilityV13: false, tls: false })]);
    adminCred = await rawEnroll(server, 'admin', 'adminpw');
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), strict?.stop()]);
  });

  it('serves every endpoint at /<name> and /api/v1/<name>; cainfo needs no authentication', async () => {
    for (const path of ['/cainfo', '/api/v1/cainfo']) {
      const res = await call(server, 'GET', path);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        result: { CAName: server.caName, CAChain: b64(server.caChainPem), IssuerPublicKey: '', IssuerRevocationPublicKey: '', Version: '1.5.12' },
        errors: [],
        messages: [],
        success: true,
      });
    }
    const cred = await rawEnroll(server, 'admin', 'adminpw', '/enroll');
    expect(parseCertificate(cred.certPem).subject.dn).toBe('CN=admin,OU=client');
    expect((await call(server, 'GET', '/api/v2/cainfo')).status).toBe(404);
    const wrongCa = await call(server, 'GET', '/cainfo?ca=elsewhere');
    expect(wrongCa.status).toBe(404);
    expect(wrongCa.json.errors).toEqual([{ code: 19, message: "CA 'elsewhere' does not exist" }]);
    const wrongMethod = await call(server, 'GET', '/api/v1/enroll');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.json.errors).toEqual([{ code: 1, message: 'Method GET is not allowed' }]);
  });

  it('answers the basic-auth failures as Fabric does: no header 401/2, wrong password 401/20, CN ≠ id 403/77', async () => {
    const { csrPem } = await csrFor('admin');
    const body = JSON.stringify({ certificate_request: csrPem });
    const none = await call(server, 'POST', '/api/v1/enroll', { body });
    expect(none.status).toBe(401);
    expect(none.text).toBe('{"result":"","errors":[{"code":2,"message":"No authorization header"}\n],"messages":[],"success":false}');
    const wrong = await call(server, 'POST', '/api/v1/enroll', { body, headers: { authorization: basic('admin', 'nope') } });
    expect(wrong.status).toBe(401);
    expect(wrong.json.errors).toEqual(AUTH_FAILURE);
    expect(server.identity('admin')!.incorrectPasswordAttempts).toBe(1);
    const unknown = await call(server, 'POST', '/api/v1/enroll', { body, headers: { authorization: basic('ghost', 'x') } });
    expect(unknown.json.errors).toEqual(AUTH_FAILURE);
    const other = await csrFor('someone-else');
    const cn = await call(server, 'POST', '/api/v1/enroll', {
      body: JSON.stringify({ certificate_request: other.csrPem }),
      headers: { authorization: basic('admin', 'adminpw') },
    });
    expect(cn.status).toBe(403);
    expect(cn.json.errors).toEqual([{ code: 77, message: 'The CSR subject common name must equal the enrollment ID' }]);
    expect(server.identity('admin')!.incorrectPasswordAttempts).toBe(0); // a good password resets the count
  });

  it('counts enrollments against max_enrollments and refuses the one past the limit with 401/20', async () => {
    const body = JSON.stringify({ id: 'limited', affiliation: 'org1', max_enrollments: 2, secret: 'limitedpw' });
    const reg = await call(server, 'POST', '/api/v1/register', { body, headers: { authorization: token(adminCred, 'POST', '/api/v1/register', body) } });
    expect(reg.status, reg.text).toBe(201);
    expect(reg.json.result).toEqual({ secret: 'limitedpw' });
    await rawEnroll(server, 'limited', 'limitedpw');
    await rawEnroll(server, 'limited', 'limitedpw');
    expect(server.identity('limited')!.enrollments).toBe(2);
    const { csrPem } = await csrFor('limited');
    const third = await call(server, 'POST', '/api/v1/enroll', {
      body: JSON.stringify({ certificate_request: csrPem }),
      headers: { authorization: basic('limited', 'limitedpw') },
    });
    expect(third.status).toBe(401);
    expect(third.json.errors).toEqual(AUTH_FAILURE);
    expect(server.requests.at(-1)!.log).toBe(
      '24 "Login failure: The identity limited has already enrolled 2 times, it has reached its maximum enrollment allowance"',
    );
    expect(server.identity('limited')!.enrollments).toBe(2);
    expect(server.issued().filter((c) => c.id === 'limited')).toHaveLength(2);
  });

  it('accepts a v1.4 token over exactly the method, request URI (prefix and query included), body and certificate', async () => {
    const uri = `/api/v1/identities/admin?ca=${server.caName}`;
    const ok = await call(server, 'GET', uri, { headers: { authorization: token(adminCred, 'GET', uri, '') } });
    expect(ok.status, ok.text).toBe(200);
    expect(server.requests.at(-1)).toMatchObject({ tokenForm: 'v14', caller: 'admin' });
    // Signed without the /api/v1 prefix, sent with it.
    const noPrefix = await call(server, 'GET', '/api/v1/identities/admin', { headers: { authorization: token(adminCred, 'GET', '/identities/admin', '') } });
    expect(noPrefix.status).toBe(401);
    expect(noPrefix.json.errors).toEqual(AUTH_FAILURE);
    expect(server.requests.at(-1)!.log).toBe('25 "Invalid token in authorization header: Token signature validation failed"');
    // Signed without the query.
    const noQuery = await call(server, 'GET', uri, { headers: { authorization: token(adminCred, 'GET', '/api/v1/identities/admin', '') } });
    expect(noQuery.json.errors).toEqual(AUTH_FAILURE);
    // Signed for another method.
    const otherMethod = await call(server, 'GET', uri, { headers: { authorization: token(adminCred, 'DELETE', uri, '') } });
    expect(otherMethod.json.errors).toEqual(AUTH_FAILURE);
    // Signed over another body.
    const signed = JSON.stringify({ id: 'bodyA', affiliation: 'org1' });
    const sent = JSON.stringify({ id: 'bodyB', affiliation: 'org1' });
    const swapped = await call(server, 'POST', '/api/v1/register', { body: sent, headers: { authorization: token(adminCred, 'POST', '/api/v1/register', signed) } });
    expect(swapped.status).toBe(401);
    expect(swapped.json.errors).toEqual(AUTH_FAILURE);
    expect(server.identity('bodyB')).toBeUndefined();
    // No header at all.
    const none = await call(server, 'GET', uri);
    expect(none.status).toBe(401);
    expect(none.json.errors).toEqual([{ code: 2, message: 'No authorization header' }]);
    // Garbage.
    const garbage = await call(server, 'GET', uri, { headers: { authorization: 'not.a.token' } });
    expect(garbage.json.errors).toEqual(AUTH_FAILURE);
  });

  it('rejects a high-S signature that node:crypto itself would accept, and accepts the same signature low-S', async () => {
    const uri = '/api/v1/identities/admin';
    const high = token(adminCred, 'GET', uri, '', { s: 'high' });
    // The high-S signature is mathematically valid: only the BCCSP rule rejects it.
    const [b64Cert, b64Sig] = high.split('.') as [string, string];
    const payload = `GET.${b64(uri)}.${b64('')}.${b64Cert}`;
    expect(cryptoVerify('sha256', Buffer.from(payload), { key: adminCred.key, dsaEncoding: 'der' }, Buffer.from(b64Sig, 'base64'))).toBe(true);
    expect(splitSig(Buffer.from(b64Sig, 'base64')).s > P256_N >> 1n).toBe(true);
    const rejected = await call(server, 'GET', uri, { headers: { authorization: high } });
    expect(rejected.status).toBe(401);
    expect(rejected.json.errors).toEqual(AUTH_FAILURE);
    expect(server.requests.at(-1)!.log).toMatch(/^25 "Invalid token in authorization header: Token signature validation failure: Invalid S\. Must be smaller than half the order \[/);
    const accepted = await call(server, 'GET', uri, { headers: { authorization: token(adminCred, 'GET', uri, '', { s: 'low' }) } });
    expect(accepted.status).toBe(200);
  });

  it('rejects a correctly signed token whose certificate another CA issued', async () => {
    const foreign = await rawEnroll(strict, 'admin', 'adminpw'); // same id, same subject, other CA
    const uri = '/api/v1/identities/admin';
    const res = await call(server, 'GET', uri, { headers: { authorization: token(foreign, 'GET', uri, '') } });
    expect(res.status).toBe(401);
    expect(res.json.errors).toEqual(AUTH_FAILURE);
    expect(server.requests.at(-1)!.log).toMatch(/^26 "Untrusted certificate/);
    // The same token shape is fine at its own CA.
    const home = await call(strict, 'GET', uri, { headers: { authorization: token(foreign, 'GET', uri, '') } });
    expect(home.status).toBe(200);
  });

  it('accepts the v1.3 token form (body.cert) only in compatibility mode', async () => {
    const body = JSON.stringify({ id: 'legacy1', affiliation: 'org1' });
    const v13 = await call(server, 'POST', '/api/v1/register', { body, headers: { authorization: token(adminCred, 'POST', '', body, { form: 'v13' }) } });
    expect(v13.status, v13.text).toBe(201);
    expect(server.requests.at(-1)).toMatchObject({ path: '/api/v1/register', tokenForm: 'v13' });

    const strictAdmin = await rawEnroll(strict, 'admin', 'adminpw');
    const body2 = JSON.stringify({ id: 'legacy2', affiliation: 'org1' });
    const refused = await call(strict, 'POST', '/api/v1/register', { body: body2, headers: { authorization: token(strictAdmin, 'POST', '', body2, { form: 'v13' }) } });
    expect(refused.status).toBe(401);
    expect(refused.json.errors).toEqual(AUTH_FAILURE);
    expect(strict.requests.at(-1)!.log).toBe('25 "Invalid token in authorization header: Token signature validation failed"');
    expect(strict.identity('legacy2')).toBeUndefined();
    const v14 = await call(strict, 'POST', '/register', { body: body2, headers: { authorization: token(strictAdmin, 'POST', '/register', body2) } });
    expect(v14.status).toBe(201);
    expect(strict.requests.at(-1)).toMatchObject({ tokenForm: 'v14' });
  });

  it('reenroll rotates the key; the CSR CN must be the caller; revoked and unknown certificates are refused', async () => {
    const body = JSON.stringify({ id: 'rot', affiliation: 'org1', secret: 'rotpw' });
    await call(server, 'POST', '/api/v1/register', { body, headers: { authorization: token(adminCred, 'POST', '/api/v1/register', body) } });
    const cred = await rawEnroll(server, 'rot', 'rotpw');
    const next = await csrFor('rot');
    const reBody = JSON.stringify({ certificate_request: next.csrPem });
    const re = await call(server, 'POST', '/api/v1/reenroll', { body: reBody, headers: { authorization: token(cred, 'POST', '/api/v1/reenroll', reBody) } });
    expect(re.status, re.text).toBe(201);
    const newPem = Buffer.from((re.json.result as { Cert: string }).Cert, 'base64').toString('utf8');
    expect(new X509Certificate(newPem).publicKey.export({ type: 'spki', format: 'pem' })).not.toBe(
      new X509Certificate(cred.certPem).publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const wrongCn = await csrFor('admin');
    const wrongBody = JSON.stringify({ certificate_request: wrongCn.csrPem });
    const escalate = await call(server, 'POST', '/api/v1/reenroll', { body: wrongBody, headers: { authorization: token(cred, 'POST', '/api/v1/reenroll', wrongBody) } });
    expect(escalate.status).toBe(403);
    expect(escalate.json.errors[0]!.code).toBe(77);
    // Revoke the old certificate by serial/AKI with the raw API (colons and leading zeros are normalised).
    const info = parseCertificate(cred.certPem);
    const revBody = JSON.stringify({ serial: `00${info.serialNumber}`, aki: info.authorityKeyIdentifier!.match(/../g)!.join(':').toUpperCase(), reason: 'superseded' });
    const rev = await call(server, 'POST', '/api/v1/revoke', { body: revBody, headers: { authorization: token(adminCred, 'POST', '/api/v1/revoke', revBody) } });
    expect(rev.status, rev.text).toBe(200);
    const again = await call(server, 'POST', '/api/v1/reenroll', { body: reBody, headers: { authorization: token(cred, 'POST', '/api/v1/reenroll', reBody) } });
    expect(again.status).toBe(401);
    expect(again.json.errors).toEqual(AUTH_FAILURE);
  });

  it('refuses an expired caller certificate, except on reenroll with reenrollIgnoreCertExpiry', async () => {
    const clock = new ManualClock(new Date());
    const [plainCa, lenientCa] = await Promise.all([
      startFabricCaServer({ clock, leafLifetimeMs: 3_600_000 }),
      startFabricCaServer({ clock, leafLifetimeMs: 3_600_000, reenrollIgnoreCertExpiry: true }),
    ]);
    try {
      for (const s of [plainCa, lenientCa]) {
        const cred = await rawEnroll(s, 'admin', 'adminpw');
        const leaf = s.issued()[0]!;
        expect(leaf.notAfter.getTime() - Math.round(clock.now().getTime() / 60_000) * 60_000).toBe(3_600_000);
        s.setTime(new Date(leaf.notAfter.getTime() + 60_000));
        const next = await csrFor('admin');
        const reBody = JSON.stringify({ certificate_request: next.csrPem });
        const re = await call(s, 'POST', '/api/v1/reenroll', { body: reBody, headers: { authorization: token(cred, 'POST', '/api/v1/reenroll', reBody) } });
        const body = JSON.stringify({ id: 'late', affiliation: 'org1' });
        const reg = await call(s, 'POST', '/api/v1/register', { body, headers: { authorization: token(cred, 'POST', '/api/v1/register', body) } });
        expect(reg.status).toBe(401);
        expect(reg.json.errors).toEqual(AUTH_FAILURE);
        expect(s.requests.at(-1)!.log).toMatch(/certificate has expired or is not yet valid/);
        if (s === lenientCa) {
          expect(re.status, re.text).toBe(201);
          const renewed = parseCertificate(Buffer.from((re.json.result as { Cert: string }).Cert, 'base64'));
          expect(renewed.notAfter.getTime()).toBeGreaterThan(s.now().getTime());
        } else {
          expect(re.status).toBe(401);
          expect(re.json.errors).toEqual(AUTH_FAILURE);
        }
      }
    } finally {
      await Promise.all([plainCa.stop(), lenientCa.stop()]);
    }
  });

  it('locks an identity after too many wrong passwords (401, code 73)', async () => {
    const s = await startFabricCaServer({ tls: false, passwordAttempts: 2 });
    try {
      const { csrPem } = await csrFor('admin');
      const body = JSON.stringify({ certificate_request: csrPem });
      for (let i = 0; i < 2; i++) {
        expect((await call(s, 'POST', '/enroll', { body, headers: { authorization: basic('admin', 'bad') } })).json.errors).toEqual(AUTH_FAILURE);
      }
      const locked = await call(s, 'POST', '/enroll', { body, headers: { authorization: basic('admin', 'adminpw') } });
      expect(locked.status).toBe(401);
      expect(locked.json.errors).toEqual([{ code: 73, message: 'Incorrect password entered 2 times, max incorrect password limit of 2 reached' }]);
    } finally {
      await s.stop();
    }
  });
});

function parseCertificatesPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

function createPublicKeyPem(pem: string): string {
  return createPublicKey(pem).export({ format: 'pem', type: 'spki' }) as string;
}
