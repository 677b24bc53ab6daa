/**
 * A protocol-faithful Hyperledger Fabric CA test server (REST API v1, as
 * fabric-ca-server 1.5.x speaks it), in process, on a free 127.0.0.1 port.
 *
 * What it reproduces, from fabric-ca's own sources (lib/server*.go,
 * lib/serverrequestcontext.go, lib/caerrors, util/util.go, lib/server/user)
 * and the live facts in /work/shared/PEERS.md §3:
 *
 * - every endpoint at `/<name>` and `/api/v1/<name>`, cfssl envelope written
 *   the way serverendpoint.go writes it (`{"result":…,"errors":[…],"messages":[],"success":…}`,
 *   `"result":""` on errors), success codes 201 for enroll/reenroll/register/POST identities;
 * - HTTP Basic for /enroll with max_enrollments (state) counting, incorrect
 *   password attempts, revoked identities; token auth for everything else:
 *   `b64(certPEM).b64(DER sig)`, ECDSA over SHA-256 of
 *   `METHOD.b64(requestURI).b64(body).b64(certPEM)`, high-S rejected like
 *   BCCSP, the v1.3 form `b64(body).b64(certPEM)` accepted only in
 *   compatibility mode, the caller's certificate issued by this CA, in its
 *   validity period (or reenroll with reenrollIgnoreCertExpiry), in the
 *   certificate DB and not revoked; every authentication failure is remote
 *   401 code 20 "Authentication failure", every authorization failure 403
 *   code 71 "Authorization failure" (NewAuthenticationErr/NewAuthorizationErr);
 * - enrollment certificates as cfssl signs them for Fabric: subject
 *   `C/ST/L/O` from the CSR, `OU=<type>+OU=<affiliation parts>` (one
 *   multi-valued RDN, like Go's pkix.Name), `CN=<enrollment id>`, 20-byte
 *   serials, key usage digitalSignature, CA:false, SKI/AKI, SANs from the CSR
 *   or `hosts`, and the attribute extension 1.2.3.4.5.6.7.8.1 holding
 *   `{"attrs":{…}}` as raw JSON (ecert attributes by default, or `attr_reqs`);
 * - register (type/affiliation defaults from the registrar, hf.Registrar.Roles,
 *   affiliation checks, generated 12-letter secrets, hf.EnrollmentID/hf.Type/
 *   hf.Affiliation attributes), revoke by serial+AKI or by id (identity state
 *   -1, all its certificates), gencrl, identities GET/PUT/POST/DELETE.
 *
 * The CA is a {@link LocalAuthority} (root + intermediate; leaves are signed
 * with the intermediate's key loaded from the same key store, so the local
 * CA's revoke() and crl() work on them). TLS uses a second LocalAuthority on
 * the real system clock, so a simulated `clock` never breaks the handshake.
 * Every failure is recorded in `requests[].log` as the real server would log
 * it (local code and message), which is what tells apart the many causes
 * behind the one remote "401 code 20".
 *
 * Not reproduced (or reproduced from reading, not from a live server):
 * idemix (IssuerPublicKey/IssuerRevocationPublicKey are ""; no
 * /idemix/*), /affiliations, /certificates, LDAP, multiple CAs per server,
 * the `ca` signing profile (intermediate CA certificates), attribute
 * delegation rules beyond hf.Registrar.Attributes and the hf.* booleans,
 * gencrl's time filters (the CRL lists every revocation), CSR field-length
 * checks. The HTTP status of "already registered" (code 74) is a guess (409),
 * and ecert notBefore is now−5 min rounded to the minute, never before the
 * CA's notBefore (cfssl's backdate plus Fabric's clamp); Fabric 1.5 may set
 * it to the CA's notBefore outright.
 */
import { X509Certificate, createPublicKey, randomBytes, verify as cryptoVerify, webcrypto, type KeyObject } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { LocalAuthority } from '../../adapters/local-ca/local-authority.js';
import type { RevocationReason } from '../../src/ports/certificate-authority.js';
import type { Clock } from '../../src/ports/clock.js';
import type { KeyHandle } from '../../src/ports/key-store.js';
import { locateFields, parseCertificate, type CertificateInfo } from '../../src/pki/certificate.js';
import { buildCsr, readCsr, type CsrInfo } from '../../src/pki/csr.js';
import { readPemBlocks } from '../../src/pki/pem.js';
import { systemClock } from '../../src/steward/system-clock.js';
import { MemoryKeyStore } from '../../src/testing/memory-key-store.js';

type X509Lib = typeof import('@peculiar/x509');

// ---------------------------------------------------------------- public API

/** An attribute of an identity, as Fabric CA stores it (api.Attribute). */
export interface FabricCaAttribute {
  name: string;
  value: string;
  ecert?: boolean;
}

/** Options of {@link startFabricCaServer}. */
export interface FabricCaServerOptions {
  /** The CA name (`ca.name`); requests naming another CA get 404 code 19. Default `ca-test`. */
  caName?: string;
  /** The bootstrap registrar (`-b id:secret`). Default admin/adminpw. */
  registrar?: { id: string; secret: string };
  /** Serve HTTPS (default true). */
  tls?: boolean;
  /** FABRIC_CA_SERVER_COMPATIBILITY_MODE_V1_3: also accept `b64(body).b64(cert)` tokens (default true, as servers ≤ 1.5.12). */
  compatibilityV13?: boolean;
  /** Enrollment certificate lifetime (the signing profile's expiry; default 8760h). */
  leafLifetimeMs?: number;
  /** Time source for issuance and for token validity checks (default the system clock). */
  clock?: Clock;
  /** `ca.reenrollignorecertexpiry`: /reenroll accepts an expired (not revoked) caller certificate. */
  reenrollIgnoreCertExpiry?: boolean;
  /** The affiliation tree (every level listed). Default Fabric's: org1, org1.department1, org1.department2, org2, org2.department1. */
  affiliations?: readonly string[];
  /** `cfg.identities.passwordattempts` (default 10; 0 or less: unlimited). */
  passwordAttempts?: number;
  /** `cfg.identities.allowremove` (default false). */
  allowRemove?: boolean;
  /** `registry.maxenrollments` of the CA (default -1: unlimited). */
  caMaxEnrollments?: number;
  /** The version /cainfo reports (default 1.5.12). */
  version?: string;
}

/** A snapshot of an identity in the registry. */
export interface FabricCaIdentityView {
  id: string;
  type: string;
  secret: string;
  /** -1 unlimited. */
  maxEnrollments: number;
  /** Successful /enroll calls (the `state` column before a revocation). */
  enrollments: number;
  attrs: FabricCaAttribute[];
  affiliation: string;
  /** Revoked by id (state -1). */
  revoked: boolean;
  /** Consecutive wrong passwords. */
  incorrectPasswordAttempts: number;
}

/** A certificate the CA issued (its certificates table). */
export interface FabricCaIssuedCertificate {
  /** Enrollment id (the certificate's CN). */
  id: string;
  /** Lowercase hex, leading zeros trimmed (util.GetSerialAsHex). */
  serial: string;
  /** Lowercase hex of the authority key identifier, leading zeros trimmed. */
  aki: string;
  pem: string;
  revoked: boolean;
  /** RFC 5280 reason code, when revoked. */
  reason?: number;
  revokedAt?: Date;
  notBefore: Date;
  notAfter: Date;
  /** `enroll` or `reenroll`. */
  via: 'enroll' | 'reenroll';
}

/** One HTTP exchange the server saw. */
export interface FabricCaRequestRecord {
  method: string;
  /** The request URI as received (path and query). */
  path: string;
  status: number;
  /** Which token form authenticated the call, for token-authenticated calls that passed authentication. */
  tokenForm?: 'v14' | 'v13';
  /** The remote error code, on failures. */
  code?: number;
  /** The enrollment id that authenticated (Basic or token). */
  caller?: string;
  /** Time the server spent on the request, in ms. */
  ms?: number;
  /** What a real server would log for a failure: local code and message (they differ from the remote ones for 401/20 and 403/71). */
  log?: string;
}

export interface FabricCaTestServer {
  /** `https://127.0.0.1:<port>` (or http:// with `tls: false`). */
  url: string;
  /** Trust anchor of the TLS listener (empty string with `tls: false`). */
  tlsCaPem: string;
  /** The CA chain /cainfo and enroll return (intermediate then root). */
  caChainPem: string;
  /** The root alone (the trust anchor of issued certificates). */
  rootPem: string;
  caName: string;
  stop(): Promise<void>;
  identity(id: string): FabricCaIdentityView | undefined;
  issued(): FabricCaIssuedCertificate[];
  requests: FabricCaRequestRecord[];
  /** Pins the server's clock at `at` (issuance, expiry checks); `undefined` goes back to `clock`/system time. */
  setTime(at: Date | undefined): void;
  /** The server's current time. */
  now(): Date;
  /** The CA behind the server. */
  authority: LocalAuthority;
}

// ------------------------------------------------------------------- errors

/** caerrors.HTTPErr as the client sees it: status, remote code, remote message. */
class HttpErr extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    /** What the real server logs (local code and message), when it differs from what the client sees. */
    readonly local?: string,
  ) {
    super(message);
  }
}

const ERR = {
  unknown: 0,
  methodNotAllowed: 1,
  noAuthHdr: 2,
  emptyReqBody: 4,
  badReqBody: 5,
  revCertNotFound: 8,
  certWrongOwner: 9,
  revokeIdNotFound: 10,
  missingRevokeArgs: 15,
  caNotFound: 19,
  authenticationFailure: 20,
  badCsr: 31,
  addIdentity: 52,
  removeIdentity: 56,
  dbGet: 63,
  modifyingIdentity: 58,
  certAlreadyRevoked: 66,
  authorizationFailure: 71,
  passwordAttempts: 73,
  /** Seen live from 1.5.x clients ("Error Code: 74 - Identity 'x' is already registered"); the HTTP status is our guess. */
  alreadyRegistered: 74,
  cnInvalidEnroll: 77,
} as const;

/** NewAuthenticationErr: the specific reason stays in the server log; the client gets 401/20. */
const authenticationErr = (localCode: number, localMessage: string): HttpErr =>
  new HttpErr(401, ERR.authenticationFailure, 'Authentication failure', `${localCode} "${localMessage}"`);
/** NewAuthorizationErr: the client gets 403/71. */
const authorizationErr = (localCode: number, localMessage: string): HttpErr =>
  new HttpErr(403, ERR.authorizationFailure, 'Authorization failure', `${localCode} "${localMessage}"`);
/** A plain Go error (no HTTPErr in its cause chain): 500, code 0, the error text. */
const plainErr = (message: string): HttpErr => new HttpErr(500, ERR.unknown, message);

// -------------------------------------------------------------------- state

/** The registry keeps exactly what `identity()` shows (as a copy). */
type IdentityRecord = FabricCaIdentityView;

interface CertRecord extends FabricCaIssuedCertificate {
  info: CertificateInfo;
}

interface Endpoint {
  methods: readonly string[];
  successRC: number;
  handler: (ctx: RequestContext) => Promise<unknown>;
}

interface RequestContext {
  method: string;
  requestUri: string;
  endpoint: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
  res: ServerResponse;
  /** Set by a handler that wants another success status (POST /identities: 201). */
  successRC?: number;
  /** Set by a handler that streams its result itself (GET /identities). */
  rawResult?: string;
  record: FabricCaRequestRecord;
  caller?: IdentityRecord;
  callerCert?: CertificateInfo;
}

// ------------------------------------------------------------ small helpers

const DAY_MS = 86_400_000;
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
const P384_N = BigInt('0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973');
const REASON_CODES: Readonly<Record<string, number>> = {
  unspecified: 0,
  keycompromise: 1,
  cacompromise: 2,
  affiliationchanged: 3,
  superseded: 4,
  cessationofoperation: 5,
  certificatehold: 6,
  removefromcrl: 8,
  privilegewithdrawn: 9,
  aacompromise: 10,
};
const LOCAL_REASONS: Readonly<Record<number, RevocationReason>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'caCompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  9: 'privilegeWithdrawn',
};
const FIXED_ATTRS = new Set(['hf.EnrollmentID', 'hf.Type', 'hf.Affiliation']);
const BOOLEAN_ROLES = new Set(['hf.Revoker', 'hf.GenCRL', 'hf.IntermediateCA', 'hf.AffiliationMgr']);

const b64 = (data: string | Uint8Array): string => Buffer.from(data).toString('base64');

/** base64.StdEncoding.DecodeString: padding required, `\r`/`\n` ignored, anything else outside the alphabet fails. */
function stdB64Decode(s: string): Buffer | undefined {
  const t = s.replace(/[\r\n]/g, '');
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) return undefined;
  return Buffer.from(t, 'base64');
}

/** Go's strings.TrimLeft(strings.ToLower(hex), "0"). */
const trimHex = (hex: string): string => hex.toLowerCase().replace(/:/g, '').replace(/^0+/, '');

/** A Go-style quoted error fragment for messages that embed strings. */
const goList = (xs: readonly string[]): string => `[${xs.join(' ')}]`;

/**
 * encoding/json matches keys case-insensitively when no exact match exists;
 * null leaves a field at its zero value; a wrong type is an error.
 */
function field(body: Record<string, unknown>, key: string): unknown {
  if (Object.hasOwn(body, key)) return body[key];
  const k = Object.keys(body).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : body[k];
}
function typeError(v: unknown, key: string, goType: string): HttpErr {
  const kind = Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v;
  return new HttpErr(400, ERR.badReqBody, `Invalid request body: json: cannot unmarshal ${kind} into Go struct field .${key} of type ${goType}`);
}
function str(body: Record<string, unknown>, key: string): string {
  const v = field(body, key);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw typeError(v, key, 'string');
  return v;
}
function int(body: Record<string, unknown>, key: string): number {
  const v = field(body, key);
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(v, key, 'int');
  return v;
}
function bool(body: Record<string, unknown>, key: string): boolean {
  const v = field(body, key);
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw typeError(v, key, 'bool');
  return v;
}
function attrList(body: Record<string, unknown>, key: string): FabricCaAttribute[] | undefined {
  const v = field(body, key);
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw typeError(v, key, '[]api.Attribute');
  return v.map((a: unknown) => {
    if (a !== null && (typeof a !== 'object' || Array.isArray(a))) throw typeError(a, key, 'api.Attribute');
    const o = (a ?? {}) as Record<string, unknown>;
    return { name: str(o, 'name'), value: str(o, 'value'), ...(bool(o, 'ecert') ? { ecert: true } : {}) };
  });
}

/** Strict DER ECDSA-Sig-Value → r, s (utils.UnmarshalECDSASignature). */
function parseEcdsaSignature(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
  let p = 0;
  const len = (): number | undefined => {
    const b = sig[p++];
    if (b === undefined) return undefined;
    if (b < 0x80) return b;
    if (b !== 0x81) return undefined;
    const l = sig[p++];
    return l !== undefined && l >= 0x80 ? l : undefined;
  };
  if (sig[p++] !== 0x30) return undefined;
  const total = len();
  if (total === undefined || p + total !== sig.length) return undefined;
  const integer = (): bigint | undefined => {
    if (sig[p++] !== 0x02) return undefined;
    const l = len();
    if (l === undefined || l === 0 || p + l > sig.length) return undefined;
    const bytes = sig.subarray(p, p + l);
    p += l;
    if (bytes[0]! & 0x80) return undefined; // negative
    if (l > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) return undefined; // not minimal
    return BigInt('0x' + Buffer.from(bytes).toString('hex'));
  };
  const r = integer();
  const s = integer();
  if (r === undefined || s === undefined || p !== sig.length) return undefined;
  return { r, s };
}

/** The curve order of an EC public key (P-256 or P-384), or undefined. */
function curveOrder(key: KeyObject): bigint | undefined {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'prime256v1' || curve === 'P-256') return P256_N;
  if (curve === 'secp384r1' || curve === 'P-384') return P384_N;
  return undefined;
}

/**
 * BCCSP's ECDSA verify: DER signature, r and s positive, s ≤ n/2 ("Invalid S.
 * Must be smaller than half the order"), then ECDSA over SHA-256(payload).
 */
function bccspVerify(key: KeyObject, payload: string, sig: Uint8Array): { valid: boolean; error?: string } {
  if (key.asymmetricKeyType !== 'ec') return { valid: false, error: 'Key type not recognized' };
  const n = curveOrder(key);
  const rs = parseEcdsaSignature(sig);
  if (!n || !rs) return { valid: false, error: 'Failed unmashalling signature' };
  if (rs.r <= 0n || rs.s <= 0n) return { valid: false, error: 'Invalid signature. R and S must be larger than zero' };
  if (rs.s > n >> 1n) return { valid: false, error: `Invalid S. Must be smaller than half the order [${rs.s.toString(16)}][${(n >> 1n).toString(16)}].` };
  try {
    return { valid: cryptoVerify('sha256', Buffer.from(payload), { key, dsaEncoding: 'der' }, sig) };
  } catch (e) {
    return { valid: false, error: (e as Error).message };
  }
}

/** util.RandomString(12). */
function randomSecret(length = 12): string {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += letters[b % letters.length];
  return out;
}

/** The last CN of a subject (Go's pkix.Name.CommonName), or ''. */
function commonNameOf(attrs: readonly { oid: string; value: string }[]): string {
  let cn = '';
  for (const a of attrs) if (a.oid === '2.5.4.3') cn = a.value;
  return cn;
}

/** Go's time.Round(time.Minute). */
function roundToMinute(t: number): number {
  return Math.floor((t + 30_000) / 60_000) * 60_000;
}

/** Fabric's setRequestOUs + cfssl PopulateSubjectFromCSR + Go's pkix.Name.ToRDNSequence. */
function ecertSubject(csr: CsrInfo, id: string, type: string, affiliation: string): Record<string, string[]>[] {
  const pick = (oid: string): string[] => csr.subject.attributes.filter((a) => a.oid === oid).map((a) => a.value);
  const rdns: Record<string, string[]>[] = [];
  const add = (key: string, values: string[]): void => {
    const vs = values.filter((v) => v !== '');
    if (vs.length) rdns.push({ [key]: vs });
  };
  add('C', pick('2.5.4.6'));
  add('ST', pick('2.5.4.8'));
  add('L', pick('2.5.4.7'));
  add('O', pick('2.5.4.10'));
  add('OU', [type, ...affiliation.split('.')]);
  add('CN', [id]);
  add('2.5.4.5', pick('2.5.4.5').slice(-1));
  return rdns;
}

function isIp(v: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(v) || (v.includes(':') && /^[0-9a-fA-F:.]+$/.test(v));
}

// ------------------------------------------------------------------- server

/**
 * Starts a Fabric CA test server. Stop it with `stop()`.
 *
 * @example
 * ```ts
 * const ca = await startFabricCaServer()
 * const sdk = new FabricCAServices(ca.url, { trustedRoots: [ca.tlsCaPem], verify: true }, ca.caName)
 * const { certificate } = await sdk.enroll({ enrollmentID: 'admin', enrollmentSecret: 'adminpw' })
 * ```
 */
export async function startFabricCaServer(options: FabricCaServerOptions = {}): Promise<FabricCaTestServer> {
  const caName = options.caName ?? 'ca-test';
  const registrar = options.registrar ?? { id: 'admin', secret: 'adminpw' };
  const useTls = options.tls ?? true;
  const compat = options.compatibilityV13 ?? true;
  const leafLifetimeMs = options.leafLifetimeMs ?? 365 * DAY_MS;
  const baseClock = options.clock ?? systemClock;
  const passwordAttempts = options.passwordAttempts ?? 10;
  const caMaxEnrollments = options.caMaxEnrollments ?? -1;
  const version = options.version ?? '1.5.12';
  const affiliations = new Set(options.affiliations ?? ['org1', 'org1.department1', 'org1.department2', 'org2', 'org2.department1']);
  let pinned: Date | undefined;
  const now = (): Date => (pinned ? new Date(pinned.getTime()) : baseClock.now());
  const caClock: Clock = { now, setTimer: (at, fn) => baseClock.setTimer(at, fn), sleep: (ms, signal) => baseClock.sleep(ms, signal) };

  const x509: X509Lib = await import('@peculiar/x509');
  const keys = new MemoryKeyStore();
  const authority = await LocalAuthority.create({ keys, clock: caClock, name: `Fabric ${caName}` });
  const state = authority.toJSON();
  const signer = await keys.load(state.intermediate.key);
  const intermediate = parseCertificate(authority.intermediatePem);
  const intermediateX509 = new X509Certificate(authority.intermediatePem);
  const caChainPem = authority.chainPem;
  const subjectTlv = locateFields(intermediate.der).subject;
  const intermediateSubject = intermediate.der.slice(subjectTlv.start, subjectTlv.end);

  const identities = new Map<string, IdentityRecord>();
  const certs: CertRecord[] = [];
  const requests: FabricCaRequestRecord[] = [];

  identities.set(registrar.id, {
    id: registrar.id,
    type: 'client',
    secret: registrar.secret,
    maxEnrollments: caMaxEnrollments,
    enrollments: 0,
    // The default fabric-ca-server-config.yaml bootstrap identity; viper turns `true` into "1".
    attrs: [
      { name: 'hf.Registrar.Roles', value: '*' },
      { name: 'hf.Registrar.DelegateRoles', value: '*' },
      { name: 'hf.Revoker', value: '1' },
      { name: 'hf.IntermediateCA', value: '1' },
      { name: 'hf.GenCRL', value: '1' },
      { name: 'hf.Registrar.Attributes', value: '*' },
      { name: 'hf.AffiliationMgr', value: '1' },
    ],
    affiliation: '',
    revoked: false,
    incorrectPasswordAttempts: 0,
  });

  // ------------------------------------------------------------ request parts

  const caInfo = () => ({
    CAName: caName,
    CAChain: b64(caChainPem),
    IssuerPublicKey: '',
    IssuerRevocationPublicKey: '',
    Version: version,
  });

  const jsonBody = (ctx: RequestContext): Record<string, unknown> | undefined => {
    if (ctx.body.length === 0) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(ctx.body.toString('utf8'));
    } catch (e) {
      throw new HttpErr(400, ERR.badReqBody, `Invalid request body: ${(e as Error).message}; body=${ctx.body.toString('utf8')}`);
    }
    if (parsed === null) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new HttpErr(400, ERR.badReqBody, `Invalid request body: json: cannot unmarshal ${Array.isArray(parsed) ? 'array' : typeof parsed} into Go value; body=${ctx.body.toString('utf8')}`);
    }
    return parsed as Record<string, unknown>;
  };

  /** ReadBody: empty → 400 code 4. */
  const readBody = (ctx: RequestContext): Record<string, unknown> => {
    const body = jsonBody(ctx);
    if (!body) throw new HttpErr(400, ERR.emptyReqBody, 'Empty request body');
    return body;
  };

  /** getCAName + Server.GetCA: ?ca= first, then the body's caname, else the default CA. */
  const checkCa = (ctx: RequestContext): void => {
    const q = ctx.query.get('ca');
    const name = q ? q : str(jsonBody(ctx) ?? {}, 'caname');
    if (name !== '' && name !== caName) throw new HttpErr(404, ERR.caNotFound, `CA '${name}' does not exist`);
  };

  const hasAttr = (who: IdentityRecord, name: string): FabricCaAttribute | undefined => who.attrs.find((a) => a.name === name);
  const roleTrue = (who: IdentityRecord, name: string): boolean => {
    const v = hasAttr(who, name)?.value.toLowerCase();
    return v === '1' || v === 't' || v === 'true';
  };
  /** HasRole: a missing attribute or a false value is 403/71. */
  const requireRole = (who: IdentityRecord, role: string): void => {
    if (!hasAttr(who, role)) throw authorizationErr(76, `Invoker does not have following role'${role}'`);
    if (!roleTrue(who, role)) throw authorizationErr(59, `Caller has a value of 'false' for attribute/role '${role}'`);
  };
  const registrarRoles = (who: IdentityRecord): string | undefined => {
    const v = hasAttr(who, 'hf.Registrar.Roles')?.value;
    return v ? v : undefined;
  };
  /** CanActOnType. */
  const canActOnType = (caller: IdentityRecord, type: string): void => {
    const roles = registrarRoles(caller);
    if (!roles) throw authorizationErr(42, `'${caller.id}' is not allowed to manage users`);
    const list = roles.split(',').map((r) => r.trim());
    if (list.includes('*')) return;
    const wanted = type === '' ? 'client' : type;
    if (!list.some((r) => r.toLowerCase() === wanted.toLowerCase())) throw authorizationErr(44, `Registrar does not have authority to act on type '${wanted}'`);
  };
  /** ContainsAffiliation. */
  const containsAffiliation = (caller: IdentityRecord, affiliation: string): void => {
    const mine = caller.affiliation;
    if (mine === '' || affiliation === mine || affiliation.startsWith(`${mine}.`)) return;
    throw authorizationErr(44, `Caller does not have authority to act on affiliation '${affiliation}'`);
  };
  /** CanManageUser. */
  const canManage = (caller: IdentityRecord, user: IdentityRecord): void => {
    containsAffiliation(caller, user.affiliation);
    canActOnType(caller, user.type);
  };
  /** A simplified attr.CanRegisterRequestedAttributes. */
  const canRegisterAttrs = (caller: IdentityRecord, attrs: readonly FabricCaAttribute[]): void => {
    if (attrs.length === 0) return;
    const allowed = (hasAttr(caller, 'hf.Registrar.Attributes')?.value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const a of attrs) {
      if (FIXED_ATTRS.has(a.name)) throw authorizationErr(42, `Failed to register attribute: Cannot register fixed value attribute '${a.name}'`);
      const ok = allowed.some((p) => p === '*' || p === a.name || (p.endsWith('*') && a.name.startsWith(p.slice(0, -1))));
      if (!ok) throw authorizationErr(42, `Failed to register attribute: Registrar does not have authority to register '${a.name}'`);
      if (BOOLEAN_ROLES.has(a.name) && ['1', 't', 'true'].includes(a.value.toLowerCase()) && !roleTrue(caller, a.name)) throw authorizationErr(42, `Failed to register attribute: caller does not have '${a.name}'`);
    }
  };
  const getUser = (id: string): IdentityRecord => {
    const u = identities.get(id);
    if (!u) throw new HttpErr(404, ERR.dbGet, 'Failed to get User: sql: no rows in result set');
    return u;
  };

  /** getMaxEnrollments. */
  const maxEnrollmentsFor = (requested: number): number => {
    if (requested < -1) throw new HttpErr(400, ERR.unknown, `Max enrollment in registration request may not be less than -1, but was ${requested}`);
    if (caMaxEnrollments === -1) return requested === 0 ? -1 : requested;
    if (caMaxEnrollments === 0) throw new HttpErr(400, ERR.unknown, 'Registration is disabled');
    if (requested === -1) throw new HttpErr(400, ERR.unknown, `Registration for infinite enrollments is not allowed; max enrollments is ${caMaxEnrollments}`);
    if (requested === 0) return caMaxEnrollments;
    if (requested > caMaxEnrollments) throw new HttpErr(400, ERR.unknown, `Max enrollments of ${requested} is not allowed; max enrollments is ${caMaxEnrollments}`);
    return requested;
  };

  // -------------------------------------------------------- authentication

  /** BasicAuthentication: returns the identity whose password and enrollment allowance check out. */
  const basicAuthentication = (ctx: RequestContext): IdentityRecord => {
    const hdr = ctx.headers.authorization;
    if (!hdr) throw new HttpErr(401, ERR.noAuthHdr, 'No authorization header');
    const m = /^basic (.*)$/is.exec(hdr);
    const decoded = m ? stdB64Decode(m[1]!)?.toString('utf8') : undefined;
    const colon = decoded?.indexOf(':') ?? -1;
    if (decoded === undefined || colon < 0) throw authenticationErr(21, 'No user/pass in authorization header');
    const username = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    checkCa(ctx);
    if (caMaxEnrollments === 0) throw authenticationErr(22, 'Enroll is disabled');
    const user = identities.get(username);
    if (!user) throw authenticationErr(23, `Failed to get user: Failed to get User: sql: no rows in result set`);
    if (passwordAttempts > 0 && user.incorrectPasswordAttempts >= passwordAttempts) {
      throw new HttpErr(
        401,
        ERR.passwordAttempts,
        `Incorrect password entered ${user.incorrectPasswordAttempts} times, max incorrect password limit of ${passwordAttempts} reached`,
      );
    }
    // user.Login
    if (password !== user.secret) {
      user.incorrectPasswordAttempts++;
      throw authenticationErr(24, 'Login failure: Password mismatch: crypto/bcrypt: hashedPassword is not the hash of the given password');
    }
    let max = user.maxEnrollments;
    if (max === 0) throw authenticationErr(24, `Login failure: Zero is an invalid value for maximum enrollments on identity '${user.id}'`);
    if (user.revoked) throw authenticationErr(24, `Login failure: User ${user.id} is revoked; access denied`);
    if (caMaxEnrollments !== -1 && (max > caMaxEnrollments || max === -1)) max = caMaxEnrollments;
    // "The identity %s has already enrolled %d times, it has reached its maximum enrollment allowance"
    if (max !== -1 && user.enrollments >= max) {
      throw authenticationErr(24, `Login failure: The identity ${user.id} has already enrolled ${max} times, it has reached its maximum enrollment allowance`);
    }
    user.incorrectPasswordAttempts = 0;
    ctx.record.caller = user.id;
    return user;
  };

  /** TokenAuthentication (x509 tokens), util.VerifyToken included. */
  const tokenAuthentication = (ctx: RequestContext, reenroll = false): IdentityRecord => {
    const hdr = ctx.headers.authorization;
    if (!hdr) throw new HttpErr(401, ERR.noAuthHdr, 'No authorization header');
    checkCa(ctx);
    // DecodeToken
    const parts = hdr.split('.');
    const invalid = (why: string): HttpErr => authenticationErr(25, `Invalid token in authorization header: ${why}`);
    if (parts.length !== 2) throw invalid("Invalid token format; expecting 2 parts separated by '.'");
    const [b64Cert, b64Sig] = parts as [string, string];
    const certBytes = stdB64Decode(b64Cert);
    const sig = stdB64Decode(b64Sig);
    if (!certBytes) throw invalid('Failed to decode base64 encoded x509 cert: illegal base64 data');
    if (!sig) throw invalid('Invalid base64 encoded signature in token: illegal base64 data');
    let certDer: Uint8Array;
    let info: CertificateInfo;
    let cert: X509Certificate;
    try {
      const block = readPemBlocks(certBytes.toString('latin1'))[0];
      if (!block) throw new Error('Failed to PEM decode certificate');
      certDer = block.der;
      cert = new X509Certificate(certDer);
      info = parseCertificate(certDer);
    } catch (e) {
      throw invalid(`Error in parsing x509 certificate given block bytes: ${(e as Error).message}`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: cert.publicKey.export({ type: 'spki', format: 'der' }), format: 'der', type: 'spki' });
    } catch (e) {
      throw invalid(`Public Key import into BCCSP failed with error: ${(e as Error).message}`);
    }
    const b64Body = b64(ctx.body);
    const v14 = `${ctx.method}.${b64(ctx.requestUri)}.${b64Body}.${b64Cert}`;
    let form: 'v14' | 'v13' = 'v14';
    let result = bccspVerify(key, v14, sig);
    if (compat && !result.valid) {
      form = 'v13';
      result = bccspVerify(key, `${b64Body}.${b64Cert}`, sig);
    }
    if (result.error) throw invalid(`Token signature validation failure: ${result.error}`);
    if (!result.valid) throw invalid('Token signature validation failed');
    // ca.VerifyCertificate: issued by this CA.
    let trusted = false;
    try {
      trusted = cert.checkIssued(intermediateX509) && cert.verify(intermediateX509.publicKey);
    } catch {
      trusted = false;
    }
    if (!trusted) throw authenticationErr(26, 'Untrusted certificate: Failed to verify certificate: x509: certificate signed by unknown authority');
    const t = now().getTime();
    const inValidity = t >= info.notBefore.getTime() && t <= info.notAfter.getTime();
    if (!inValidity && !(reenroll && options.reenrollIgnoreCertExpiry)) {
      throw authenticationErr(26, 'Untrusted certificate: Failed to verify certificate: x509: certificate has expired or is not yet valid');
    }
    const serial = trimHex(info.serialNumber);
    const aki = trimHex(info.authorityKeyIdentifier ?? '');
    const record = certs.find((c) => c.serial === serial && c.aki === aki);
    if (!record) throw authenticationErr(30, `Certificate not found with AKI '${aki}' and serial '${serial}'`);
    if (record.revoked) throw authenticationErr(28, 'The certificate in the authorization header is a revoked certificate');
    const id = commonNameOf(info.subject.attributes);
    const caller = identities.get(id);
    if (!caller) throw authenticationErr(49, 'Failed to get user');
    ctx.record.tokenForm = form;
    ctx.record.caller = caller.id;
    ctx.caller = caller;
    ctx.callerCert = info;
    return caller;
  };

  // ------------------------------------------------------------- issuance

  const issue = async (ctx: RequestContext, caller: IdentityRecord, via: 'enroll' | 'reenroll'): Promise<unknown> => {
    const body = readBody(ctx);
    checkCa(ctx);
    const profile = str(body, 'profile');
    const csrPem = str(body, 'certificate_request');
    const blocks = (() => {
      try {
        return readPemBlocks(csrPem);
      } catch {
        return [];
      }
    })();
    const block = blocks[0];
    if (!block) throw new HttpErr(400, ERR.badCsr, 'CSR Decode failed');
    if (block.label !== 'NEW CERTIFICATE REQUEST' && block.label !== 'CERTIFICATE REQUEST') {
      throw plainErr('{"code":9002,"message":"not a certificate or csr"}');
    }
    let csr: CsrInfo;
    try {
      csr = readCsr(block.der);
    } catch (e) {
      throw plainErr(`asn1: structure error: ${(e as Error).message}`);
    }
    const subjectBody = field(body, 'subject') as Record<string, unknown> | undefined | null;
    const subjectCn = subjectBody && typeof subjectBody === 'object' ? str(subjectBody, 'CN') : undefined;
    if ((subjectCn !== undefined && subjectCn !== caller.id) || commonNameOf(csr.subject.attributes) !== caller.id) {
      throw new HttpErr(403, ERR.cnInvalidEnroll, 'The CSR subject common name must equal the enrollment ID');
    }
    if (profile !== '' && profile !== 'tls') throw plainErr(`Invalid profile: '${profile}'`);
    // GetAttrExtension
    const rawReqs = field(body, 'attr_reqs');
    let attrs: Record<string, string> | undefined;
    if (rawReqs === undefined || rawReqs === null) {
      const defaults = caller.attrs.filter((a) => a.ecert);
      if (defaults.length) attrs = Object.fromEntries(defaults.map((a) => [a.name, a.value]));
    } else {
      if (!Array.isArray(rawReqs)) throw new HttpErr(400, ERR.badReqBody, 'Invalid request body: json: cannot unmarshal into Go struct field .attr_reqs');
      attrs = {};
      const missing: string[] = [];
      for (const r of rawReqs as Record<string, unknown>[]) {
        const name = str(r ?? {}, 'name');
        const optional = bool(r ?? {}, 'optional');
        const a = hasAttr(caller, name);
        if (!a) {
          if (!optional) missing.push(name);
          continue;
        }
        attrs[name] = a.value;
      }
      if (missing.length) throw plainErr(`Failed to find requested attributes: The following required attributes are missing: ${goList(missing)}`);
    }
    if (!csr.signatureValid) throw plainErr('Certificate signing failure: {"code":2202,"message":"Key Mismatch"}');

    // cfssl local signer + Fabric's profile expiry.
    const nowMs = now().getTime();
    const caNotBefore = intermediate.notBefore.getTime();
    const caNotAfter = intermediate.notAfter.getTime();
    const notBefore = new Date(Math.max(roundToMinute(nowMs) - 5 * 60_000, caNotBefore));
    const notAfter = new Date(Math.min(roundToMinute(nowMs) + leafLifetimeMs, caNotAfter));
    let serialBytes = randomBytes(20);
    serialBytes[0]! &= 0x7f;
    const firstNonZero = serialBytes.findIndex((b) => b !== 0);
    serialBytes = serialBytes.subarray(firstNonZero < 0 ? 19 : firstNonZero);
    if (serialBytes[0]! & 0x80) serialBytes = Buffer.concat([Buffer.from([0]), serialBytes]);
    const spki = new Uint8Array(csr.publicKeySpkiDer);
    const usage =
      profile === 'tls'
        ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement
        : x509.KeyUsageFlags.digitalSignature;
    const extensions: InstanceType<X509Lib['Extension']>[] = [new x509.KeyUsagesExtension(usage, true)];
    if (profile === 'tls') extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false));
    extensions.push(new x509.BasicConstraintsExtension(false, undefined, true));
    extensions.push(await x509.SubjectKeyIdentifierExtension.create(spki, false, webcrypto as unknown as Crypto));
    if (intermediate.subjectKeyIdentifier) extensions.push(new x509.AuthorityKeyIdentifierExtension(intermediate.subjectKeyIdentifier, false));
    // OverrideHosts: `hosts` replaces the CSR's names when present.
    const hosts = field(body, 'hosts');
    const sans: { type: 'dns' | 'ip' | 'email' | 'url'; value: string }[] = [];
    if (Array.isArray(hosts)) {
      for (const h of hosts) {
        if (typeof h !== 'string') continue;
        sans.push(isIp(h) ? { type: 'ip', value: h } : /^[^@\s]+@[^@\s]+$/.test(h) ? { type: 'email', value: h } : { type: 'dns', value: h });
      }
    } else {
      for (const n of csr.subjectAltNames) {
        if (n.type === 'dns' || n.type === 'ip' || n.type === 'email') sans.push({ type: n.type, value: n.value });
        else if (n.type === 'uri') sans.push({ type: 'url', value: n.value });
      }
    }
    if (sans.length) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
    if (attrs) {
      const sorted = Object.fromEntries(Object.keys(attrs).sort().map((k) => [k, attrs[k]!]));
      extensions.push(new x509.Extension('1.2.3.4.5.6.7.8.1', false, Buffer.from(JSON.stringify({ attrs: sorted }))));
    }
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialBytes.toString('hex'),
        subject: new x509.Name(ecertSubject(csr, caller.id, caller.type, caller.affiliation)),
        issuer: new x509.Name(intermediateSubject),
        notBefore,
        notAfter,
        publicKey: spki,
        signingKey: signer.privateKey,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        extensions,
      },
      signer.crypto,
    );
    const pem = cert.toString('pem') + '\n';
    const info = parseCertificate(pem);
    certs.push({
      id: caller.id,
      serial: trimHex(info.serialNumber),
      aki: trimHex(info.authorityKeyIdentifier ?? ''),
      pem,
      revoked: false,
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      via,
      info,
    });
    return { Cert: b64(pem), ServerInfo: caInfo() };
  };

  // --------------------------------------------------------------- revoke

  const revokeCert = async (c: CertRecord, reason: number): Promise<void> => {
    c.revoked = true;
    c.reason = reason;
    c.revokedAt = now();
    await authority.revoke(c.pem, LOCAL_REASONS[reason] ?? 'unspecified');
  };

  // ------------------------------------------------------------ endpoints

  const identityInfo = (u: IdentityRecord) => ({
    id: u.id,
    type: u.type,
    affiliation: u.affiliation,
    attrs: u.attrs.length ? u.attrs.map((a) => ({ ...a })) : null,
    max_enrollments: u.maxEnrollments,
  });
  /** api.IdentityResponse: omitempty fields dropped. */
  const identityResponse = (u: IdentityRecord, secret: string) => {
    const r: Record<string, unknown> = { id: u.id };
    if (u.type) r.type = u.type;
    r.affiliation = u.affiliation;
    if (u.attrs.length) r.attrs = u.attrs.map((a) => ({ ...a }));
    if (u.maxEnrollments) r.max_enrollments = u.maxEnrollments;
    if (secret) r.secret = secret;
    r.caname = caName;
    return r;
  };

  /** registerUser (register and POST /identities). */
  const registerUser = (ctx: RequestContext, caller: IdentityRecord, body: Record<string, unknown>): { secret: string; user: IdentityRecord } => {
    const id = str(body, 'id');
    let type = str(body, 'type');
    let affiliation = str(body, 'affiliation');
    let secret = str(body, 'secret');
    const attrs = attrList(body, 'attrs') ?? [];
    const requestedMax = int(body, 'max_enrollments');
    // normalizeRegistrationRequest
    if (affiliation === '') affiliation = caller.affiliation;
    else if (affiliation === '.') affiliation = '';
    if (type === '') type = caller.type;
    // canRegister
    canActOnType(caller, type);
    containsAffiliation(caller, affiliation);
    if (affiliation !== '' && !affiliations.has(affiliation)) {
      throw plainErr(
        `Registration of '${id}' failed in affiliation validation: Failed getting affiliation '${affiliation}': : scode: 404, code: 63, msg: Failed to get Affiliation: sql: no rows in result set`,
      );
    }
    canRegisterAttrs(caller, attrs);
    // registerUserID
    if (secret === '') secret = randomSecret(12);
    const maxEnrollments = maxEnrollmentsFor(requestedMax);
    if (identities.has(id)) throw new HttpErr(409, ERR.alreadyRegistered, `Identity '${id}' is already registered`);
    const user: IdentityRecord = {
      id,
      type,
      secret,
      maxEnrollments,
      enrollments: 0,
      attrs: [
        ...attrs,
        { name: 'hf.EnrollmentID', value: id, ecert: true },
        { name: 'hf.Type', value: type, ecert: true },
        { name: 'hf.Affiliation', value: affiliation, ecert: true },
      ],
      affiliation,
      revoked: false,
      incorrectPasswordAttempts: 0,
    };
    identities.set(id, user);
    ctx.res.setHeader('Location', `/api/v1/identities/${encodeURIComponent(id)}`);
    return { secret, user };
  };

  const endpoints: Record<string, Endpoint> = {
    cainfo: {
      methods: ['GET', 'POST', 'HEAD'],
      successRC: 200,
      handler: async (ctx) => {
        checkCa(ctx);
        return caInfo();
      },
    },
    enroll: {
      methods: ['POST'],
      successRC: 201,
      handler: async (ctx) => {
        const user = basicAuthentication(ctx);
        const resp = await issue(ctx, user, 'enroll');
        user.enrollments++; // LoginComplete
        return resp;
      },
    },
    reenroll: {
      methods: ['POST'],
      successRC: 201,
      handler: async (ctx) => issue(ctx, tokenAuthentication(ctx, true), 'reenroll'),
    },
    register: {
      methods: ['POST'],
      successRC: 201,
      handler: async (ctx) => {
        checkCa(ctx);
        const body = readBody(ctx);
        const caller = tokenAuthentication(ctx);
        return { secret: registerUser(ctx, caller, body).secret };
      },
    },
    revoke: {
      methods: ['POST'],
      successRC: 200,
      handler: async (ctx) => {
        const body = readBody(ctx);
        const caller = tokenAuthentication(ctx);
        const aki = trimHex(str(body, 'aki'));
        const serial = trimHex(str(body, 'serial'));
        const name = str(body, 'id');
        const reason = REASON_CODES[str(body, 'reason')] ?? 0;
        const gencrl = bool(body, 'gencrl');
        const revoked: { Serial: string; AKI: string }[] = [];
        if (serial !== '' && aki !== '') {
          const c = certs.find((x) => x.serial === serial && x.aki === aki);
          if (!c) throw new HttpErr(404, ERR.revCertNotFound, `Certificate with serial ${serial} and AKI ${aki} was not found: sql: no rows in result set`);
          if (caller.id !== c.id && !roleTrue(caller, 'hf.Revoker')) throw authorizationErr(7, 'Caller does not have authority to revoke');
          if (c.revoked) throw new HttpErr(404, ERR.certAlreadyRevoked, `Certificate with serial ${serial} and AKI ${aki} was already revoked`);
          if (name !== '' && name !== c.id) throw new HttpErr(400, ERR.certWrongOwner, `Certificate with serial ${serial} and AKI ${aki} is not owned by ${name}`);
          const owner = identities.get(c.id);
          if (!owner) throw new HttpErr(404, ERR.revokeIdNotFound, `Identity ${c.id} was not found: sql: no rows in result set`);
          const own = ctx.callerCert && trimHex(ctx.callerCert.serialNumber) === serial && trimHex(ctx.callerCert.authorityKeyIdentifier ?? '') === aki;
          if (!own) canManage(caller, owner);
          await revokeCert(c, reason);
          revoked.push({ Serial: serial, AKI: aki });
        } else if (name !== '') {
          if (caller.id !== name && !roleTrue(caller, 'hf.Revoker')) throw authorizationErr(7, 'Caller does not have authority to revoke');
          const user = identities.get(name);
          if (!user) throw new HttpErr(404, ERR.revokeIdNotFound, `Identity ${name} was not found: sql: no rows in result set`);
          if (caller.id !== user.id) canManage(caller, user);
          user.revoked = true;
          for (const c of certs) {
            if (c.id !== name || c.revoked) continue;
            await revokeCert(c, reason);
            revoked.push({ Serial: c.serial, AKI: c.aki });
          }
        } else {
          throw new HttpErr(400, ERR.missingRevokeArgs, 'Either Name or Serial and AKI are required for a revoke request');
        }
        let crl = '';
        if (gencrl && revoked.length > 0) crl = b64(await authority.crl());
        return { RevokedCerts: revoked.length ? revoked : null, CRL: crl };
      },
    },
    gencrl: {
      methods: ['POST'],
      successRC: 200,
      handler: async (ctx) => {
        readBody(ctx);
        const caller = tokenAuthentication(ctx);
        requireRole(caller, 'hf.GenCRL');
        return { CRL: b64(await authority.crl()) };
      },
    },
    identities: {
      methods: ['GET', 'POST'],
      successRC: 200,
      handler: async (ctx) => {
        const caller = tokenAuthentication(ctx);
        checkCa(ctx);
        if (ctx.method === 'GET') {
          const roles = registrarRoles(caller);
          if (!roles) throw authorizationErr(49, 'Caller is not a registrar');
          const types = roles.split(',').map((r) => r.trim().toLowerCase());
          const mine = caller.affiliation;
          const visible = [...identities.values()].filter(
            (u) =>
              (mine === '' || u.affiliation === mine || u.affiliation.startsWith(`${mine}.`)) &&
              (types.includes('*') || types.includes(u.type.toLowerCase())),
          );
          ctx.rawResult = `{"identities":[${visible.map((u) => JSON.stringify(identityInfo(u))).join(',')}], "caname":"${caName}"}`;
          return undefined;
        }
        ctx.successRC = 201;
        const body = readBody(ctx);
        if (str(body, 'id') === '') throw new HttpErr(400, ERR.addIdentity, "Missing 'ID' in request to add a new identity");
        try {
          const { secret, user } = registerUser(ctx, caller, body);
          return identityResponse(user, secret);
        } catch (e) {
          if (e instanceof HttpErr && e.status < 500 && e.code !== ERR.unknown) throw e;
          throw new HttpErr(400, ERR.addIdentity, `Failed to add identity: ${(e as Error).message}`);
        }
      },
    },
    'identities/{id}': {
      methods: ['GET', 'DELETE', 'PUT'],
      successRC: 200,
      handler: async (ctx) => {
        const caller = tokenAuthentication(ctx);
        checkCa(ctx);
        const id = ctx.params.id ?? '';
        if (ctx.method === 'GET') {
          const user = getUser(id);
          canManage(caller, user);
          return { ...identityInfo(user), caname: caName };
        }
        if (ctx.method === 'DELETE') {
          if (!options.allowRemove) throw new HttpErr(403, ERR.removeIdentity, 'Identity removal is disabled');
          if (id === '') throw new HttpErr(400, ERR.removeIdentity, 'No ID name specified in remove request');
          const force = (ctx.query.get('force') ?? '').toLowerCase() === 'true';
          if (id === caller.id && !force) throw new HttpErr(403, ERR.removeIdentity, "Need to use 'force' option to delete your own identity");
          const user = getUser(id);
          canManage(caller, user);
          identities.delete(id);
          for (const c of certs) if (c.id === id && !c.revoked) await revokeCert(c, 5);
          return identityResponse(user, '');
        }
        // PUT
        if (id === '') throw new HttpErr(400, ERR.modifyingIdentity, 'No ID name specified in modify request');
        const user = getUser(id);
        canManage(caller, user);
        const body = readBody(ctx);
        const secret = str(body, 'secret');
        const type = str(body, 'type');
        const affiliation = str(body, 'affiliation');
        const max = int(body, 'max_enrollments');
        const reqAttrs = attrList(body, 'attrs') ?? [];
        if (affiliation !== '' && affiliation !== '.' && !affiliations.has(affiliation)) {
          throw new HttpErr(400, ERR.modifyingIdentity, `Affiliation '${affiliation}' is not supported`);
        }
        if (affiliation !== '') containsAffiliation(caller, affiliation === '.' ? '' : affiliation);
        if (type !== '') canActOnType(caller, type);
        if (reqAttrs.length) canRegisterAttrs(caller, reqAttrs);
        // getModifyReq
        if (secret !== '') {
          user.secret = secret;
          user.incorrectPasswordAttempts = 0;
        }
        if (max === -2) user.maxEnrollments = 0;
        else if (max !== 0) user.maxEnrollments = max;
        const changes = [...reqAttrs];
        if (affiliation === '.') {
          user.affiliation = '';
          changes.push({ name: 'hf.Affiliation', value: '', ecert: true });
        } else if (affiliation !== '') {
          user.affiliation = affiliation;
          changes.push({ name: 'hf.Affiliation', value: affiliation, ecert: true });
        }
        if (type !== '') {
          user.type = type;
          changes.push({ name: 'hf.Type', value: type, ecert: true });
        }
        for (const a of changes) {
          const i = user.attrs.findIndex((x) => x.name === a.name);
          if (i >= 0) {
            if (a.value === '') user.attrs.splice(i, 1);
            else user.attrs[i] = { name: a.name, value: a.value, ...(a.ecert ? { ecert: true } : {}) };
          } else if (a.value !== '') {
            user.attrs.push({ ...a });
          }
        }
        return identityResponse(user, secret);
      },
    },
  };

  // --------------------------------------------------------- HTTP plumbing

  const route = (pathname: string): { name: string; params: Record<string, string> } | undefined => {
    let rest: string;
    if (pathname.startsWith('/api/v1/')) rest = pathname.slice('/api/v1/'.length);
    else if (pathname.startsWith('/')) rest = pathname.slice(1);
    else return undefined;
    if (Object.hasOwn(endpoints, rest) && !rest.includes('/')) return { name: rest, params: {} };
    const m = /^identities\/([^/]+)$/.exec(rest);
    if (m) {
      try {
        return { name: 'identities/{id}', params: { id: decodeURIComponent(m[1]!) } };
      } catch {
        return undefined;
      }
    }
    return undefined;
  };

  /** serverEndpoint.ServeHTTP's output, byte for byte in structure (json.Encoder adds the newlines). */
  const envelope = (result: string | undefined, error: HttpErr | undefined): string =>
    `{"result":${result ?? '""'},"errors":[${error ? JSON.stringify({ code: error.code, message: error.message }) + '\n' : ''}],"messages":[],"success":${error ? 'false' : 'true'}}`;

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    const requestUri = req.url ?? '/';
    const method = req.method ?? 'GET';
    const started = performance.now();
    const record: FabricCaRequestRecord = { method, path: requestUri, status: 0 };
    requests.push(record);
    const url = new URL(requestUri, 'http://fabric-ca.invalid');
    const r = route(url.pathname);
    if (!r) {
      record.status = 404;
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end('404 page not found\n');
      return;
    }
    const ep = endpoints[r.name]!;
    const ctx: RequestContext = { method, requestUri, endpoint: r.name, params: r.params, query: url.searchParams, headers: req.headers, body, res, record };
    let result: string | undefined;
    let error: HttpErr | undefined;
    try {
      if (!ep.methods.includes(method)) throw new HttpErr(405, ERR.methodNotAllowed, `Method ${method} is not allowed`);
      const value = await ep.handler(ctx);
      if (ctx.rawResult !== undefined) result = ctx.rawResult;
      else if (value !== undefined) result = JSON.stringify(value) + '\n';
    } catch (e) {
      error = e instanceof HttpErr ? e : plainErr((e as Error).message ?? String(e));
    }
    const status = error ? error.status : (ctx.successRC ?? ep.successRC);
    record.status = status;
    if (error) {
      record.code = error.code;
      record.log = error.local ?? `${error.code} "${error.message}"`;
    }
    record.ms = Math.round((performance.now() - started) * 10) / 10;
    res.setHeader('Connection', 'Keep-Alive');
    if (method === 'HEAD') {
      res.writeHead(status, { 'Content-Length': '0' });
      res.end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(envelope(result, error));
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(envelope(undefined, plainErr(String(e))));
      });
    });
  };

  let tlsCaPem = '';
  let server: Server;
  if (useTls) {
    const tls = await tlsMaterial();
    tlsCaPem = tls.caPem;
    server = createHttpsServer({ key: tls.keyPem, cert: tls.chainPem }, listener);
  } else {
    server = createHttpServer(listener);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `${useTls ? 'https' : 'http'}://127.0.0.1:${port}`,
    tlsCaPem,
    caChainPem,
    rootPem: authority.rootPem,
    caName,
    requests,
    authority,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    identity(id) {
      const u = identities.get(id);
      if (!u) return undefined;
      return {
        id: u.id,
        type: u.type,
        secret: u.secret,
        maxEnrollments: u.maxEnrollments,
        enrollments: u.enrollments,
        attrs: u.attrs.map((a) => ({ ...a })),
        affiliation: u.affiliation,
        revoked: u.revoked,
        incorrectPasswordAttempts: u.incorrectPasswordAttempts,
      };
    },
    issued() {
      return certs.map(({ info: _info, ...c }) => ({ ...c }));
    },
    setTime(at) {
      pinned = at ? new Date(at.getTime()) : undefined;
    },
    now,
  };
}

/** A TLS CA (LocalAuthority on the system clock) and a 127.0.0.1/localhost leaf with an exportable key. */
async function tlsMaterial(): Promise<{ caPem: string; chainPem: string; keyPem: string }> {
  const ca = await LocalAuthority.create({ keys: new MemoryKeyStore(), clock: systemClock, name: 'Fabric CA test TLS' });
  const subtle = webcrypto.subtle;
  const pair = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const handle: KeyHandle = {
    ref: { store: 'fabric-ca-test', id: 'tls', algorithm: 'ECDSA-P256', spkiSha256: '' },
    algorithm: 'ECDSA-P256',
    crypto: webcrypto as unknown as Crypto,
    publicKey: pair.publicKey,
    privateKey: pair.privateKey,
    exportable: true,
  };
  const subjectAltNames = [
    { type: 'ip', value: '127.0.0.1' },
    { type: 'dns', value: 'localhost' },
  ] as const;
  const csrPem = await buildCsr({ key: handle, commonName: 'localhost', subjectAltNames });
  const issued = await ca.issue({ id: 'fabric-ca-tls', csrPem, subjectAltNames, commonName: 'localhost', key: handle });
  if (issued.status !== 'issued') throw new Error('the TLS certificate was not issued');
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', pair.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { caPem: ca.rootPem, chainPem: issued.chainPem, keyPem };
}
