/**
 * The certificate-authority port on a Hyperledger Fabric CA, speaking its
 * REST API directly (no Fabric SDK at run time).
 *
 * Renewal follows Fabric's own rules:
 *
 * - A certificate that is still valid is renewed by **re-enrollment**: a
 *   token made with the current certificate and its key authenticates the
 *   request, the CSR carries the new key (or the same key, per the key
 *   policy: the steward already made the CSR with the right one).
 * - A certificate that expired, was lost, or whose key is gone can only be
 *   recovered by an enrollment with the identity's secret. With a registrar
 *   configured the authority resets the identity's secret
 *   (`PUT /identities/{id}`) to a fresh random value used once, and enrolls
 *   again. It never registers a new identity while renewing. Without a
 *   registrar it fails with an `unauthorized` error that says so.
 * - A still-valid certificate the CA refuses (401 code 20) was revoked, or
 *   its identity was: `revoked`, not retried, not recovered.
 *
 * @module
 */
import { createHash, getRandomValues, webcrypto } from 'node:crypto';
import { AuthorityError, ConfigError, KeyMismatchError, isCertstewardError } from '../../src/errors.js';
import type {
  AuthorityDescription,
  CertificateAuthority,
  IssueRequest,
  IssueResult,
  RevocationReason,
} from '../../src/ports/certificate-authority.js';
import type { KeyHandle } from '../../src/ports/key-store.js';
import { parseCertificate, parseCertificates, type CertificateInfo } from '../../src/pki/certificate.js';
import { buildCsr, readCsr, type CsrInfo } from '../../src/pki/csr.js';
import { spkiOf } from '../../src/pki/key-signer.js';
import { toPem } from '../../src/pki/pem.js';
import { fabricCaCode, type FabricCallContext } from './fabric-ca-errors.js';
import type { FabricTokenFormat } from './fabric-ca-token.js';
import { FabricCaTransport, type FabricAuth } from './fabric-ca-transport.js';
import type {
  FabricAttribute,
  FabricAttributeRequest,
  FabricCaAuthorityOptions,
  FabricCaInfo,
  FabricEnrollRequest,
  FabricEnrollment,
  FabricIdentity,
  FabricIdentityChanges,
  FabricIdentityInfo,
  FabricReenrollRequest,
  FabricRegistrar,
  FabricRegistrationRequest,
  FabricRevocation,
} from './options.js';

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_EXPIRY_MARGIN_MS = 60_000;
const systemTime = { now: () => new Date() };
/** Key algorithms a Fabric CA token can be signed with. */
const TOKEN_KEYS: ReadonlySet<string> = new Set(['ECDSA-P256', 'ECDSA-P384']);

type Signal = { signal?: AbortSignal };

/** The fields of an enrollment answer (`EnrollmentResponseNet`). */
interface EnrollResult {
  Cert?: unknown;
  ServerInfo?: { CAName?: unknown; CAChain?: unknown; Version?: unknown };
}

function refused(message: string, cause?: unknown): AuthorityError {
  return new AuthorityError('refused', message, { retryable: false, cause });
}

function invalid(message: string, cause?: unknown): AuthorityError {
  return new AuthorityError('invalid-response', message, { retryable: true, cause });
}

function fromBase64Text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw invalid(`the Fabric CA answer lacks ${what}`);
  return Buffer.from(value, 'base64').toString('utf8');
}

/** PEM of each certificate in `text`, normalised (one block each, 64-column lines). */
function normalisedPems(text: string, what: string): string[] {
  if (text.trim() === '') return [];
  try {
    return parseCertificates(text).map((c) => toPem(c.der));
  } catch (e) {
    throw invalid(`${what} from the Fabric CA is not a PEM certificate bundle: ${(e as Error).message}`, e);
  }
}

function commonNameOf(info: { subject: CertificateInfo['subject'] }): string | undefined {
  return info.subject.attributes.find((a) => a.type === 'CN')?.value;
}

/** Serial or AKI as Fabric's database keeps them: lowercase hex, no separators, no leading zeros. */
function fabricHex(hex: string): string {
  return hex.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+(?=.)/, '');
}

function attrReqs(list: readonly FabricAttributeRequest[] | undefined): { name: string; optional: boolean }[] | undefined {
  return list?.map((a) => ({ name: a.name, optional: a.optional ?? false }));
}

function attributesOf(value: unknown): FabricAttribute[] {
  if (!Array.isArray(value)) return [];
  return value.map((a: { name?: unknown; value?: unknown; ecert?: unknown }) => ({
    name: String(a?.name ?? ''),
    value: String(a?.value ?? ''),
    ...(a?.ecert === true ? { ecert: true } : {}),
  }));
}

function checkId(setting: string, id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) throw new ConfigError(setting, id, `${setting} must be a non-empty string`);
  // HTTP Basic splits at the first colon: an ID with one could never enroll.
  if (id.includes(':')) throw new ConfigError(setting, id, `${setting} ${JSON.stringify(id)} contains ":", which Fabric CA enrollment IDs cannot hold`);
  return id;
}

/**
 * Certificates from a Hyperledger Fabric CA (1.4 and later; 1.3 with
 * `tokenFormat: 'v1.3'`), through its REST API.
 *
 * `issue()` re-enrolls while the current certificate is valid and recovers
 * through the registrar otherwise (secret reset + enrollment, never a new
 * registration). The issued chain is the certificate followed by the CA chain
 * the server returns. `revoke()` revokes by serial and AKI with the
 * registrar's token (it needs `hf.Revoker`).
 *
 * Enrollment IDs: Fabric requires the CSR's common name to equal the
 * enrollment ID; see {@link FabricCaAuthorityOptions.enrollmentId}.
 *
 * @example
 * ```ts
 * import { FabricCaAuthority } from 'certsteward/fabric-ca'
 * const fabric = new FabricCaAuthority({
 *   url: 'https://ca.org1.example.com:7054', caName: 'ca-org1',
 *   tls: { ca: readFileSync('/etc/hyperledger/tls-ca.pem', 'utf8') },
 *   registrar: { enrollmentId: 'admin', enrollmentSecret: process.env.CA_ADMIN_SECRET! },
 * })
 * const steward = createSteward({ store, keys, clock: systemClock, authorities: { fabric } })
 * await steward.track({ id: 'peer1', authority: 'fabric', commonName: 'peer1', key: { algorithm: 'ECDSA-P256' } })
 * ```
 */
export class FabricCaAuthority implements CertificateAuthority {
  readonly #http: FabricCaTransport;
  readonly #url: string;
  readonly #caName: string | undefined;
  readonly #registrar: FabricRegistrar | undefined;
  readonly #options: FabricCaAuthorityOptions;
  readonly #tokenFormat: FabricTokenFormat;
  readonly #expiryMarginMs: number;
  readonly #clock: { now(): Date };
  readonly #randomBytes: (length: number) => Uint8Array;
  /** The registrar enrolled with its secret, shared by concurrent calls. */
  #enrolledRegistrar: Promise<FabricIdentity> | undefined;
  /** Key identifiers and names of the CA's own certificates (from `cainfo`). */
  #caIssuers: Promise<{ keyIds: Set<string>; names: Set<string> }> | undefined;

  /**
   * @throws {@link ConfigError} for an invalid URL, registrar or setting.
   * @example
   * ```ts
   * const fabric = new FabricCaAuthority({ url: 'https://localhost:7054', tls: { ca: tlsRootPem }, registrar: { enrollmentId: 'admin', enrollmentSecret: 'adminpw' } })
   * ```
   */
  constructor(options: FabricCaAuthorityOptions) {
    if (typeof options !== 'object' || options === null) throw new ConfigError('options', options, 'FabricCaAuthority needs options: { url, ... }');
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new ConfigError('requestTimeoutMs', timeoutMs, 'requestTimeoutMs must be a positive number of milliseconds');
    }
    const margin = options.expiryMarginMs ?? DEFAULT_EXPIRY_MARGIN_MS;
    if (!Number.isFinite(margin) || margin < 0) throw new ConfigError('expiryMarginMs', margin, 'expiryMarginMs must be a non-negative number of milliseconds');
    const format = options.tokenFormat ?? 'v1.4';
    if (format !== 'v1.4' && format !== 'v1.3') throw new ConfigError('tokenFormat', format, "tokenFormat must be 'v1.4' or 'v1.3'");
    if (options.caName !== undefined && typeof options.caName !== 'string') throw new ConfigError('caName', options.caName, 'caName must be a string');
    const registrar = options.registrar;
    if (registrar !== undefined) {
      checkId('registrar.enrollmentId', registrar?.enrollmentId);
      const hasIdentity = 'identity' in registrar && registrar.identity;
      const hasSecret = 'enrollmentSecret' in registrar && typeof registrar.enrollmentSecret === 'string' && registrar.enrollmentSecret.length > 0;
      if (!hasIdentity && !hasSecret) {
        throw new ConfigError('registrar', '(registrar)', 'registrar needs { enrollmentId, identity: { certificatePem, key } } or { enrollmentId, enrollmentSecret }');
      }
    }
    this.#http = new FabricCaTransport({ url: options.url, ca: options.tls?.ca, timeoutMs, apiPrefix: options.apiPrefix });
    this.#url = options.url;
    this.#caName = options.caName || undefined;
    this.#registrar = registrar;
    this.#options = options;
    this.#tokenFormat = format;
    this.#expiryMarginMs = margin;
    this.#clock = options.clock ?? systemTime;
    this.#randomBytes = options.randomBytes ?? ((n) => getRandomValues(new Uint8Array(n)));
  }

  /** @example `fabric.describe() // { kind: 'fabric-ca', endpoint: 'https://ca.org1.example.com:7054#ca-org1' }` */
  describe(): AuthorityDescription {
    return { kind: 'fabric-ca', endpoint: `${this.#url}${this.#caName ? `#${this.#caName}` : ''}` };
  }

  // ---------------------------------------------------------------- CA port

  /**
   * Issues the certificate of `request`: re-enrollment with the current
   * certificate and key while it is valid, else recovery through the
   * registrar (secret reset + enrollment), else an `unauthorized` error.
   *
   * @throws {@link AuthorityError}: `refused` for an unreadable CSR or an
   *   identity the CA does not know, `revoked` when the CA refuses a valid
   *   current certificate, `unauthorized` when no path can authenticate,
   *   `unavailable` when the CA cannot be reached.
   * @example
   * ```ts
   * const result = await fabric.issue({ id: 'peer1', key, csrPem, subjectAltNames, replaces: currentPem, currentKey: async () => currentKey })
   * ```
   */
  async issue(request: IssueRequest, options?: Signal): Promise<IssueResult> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    let csr: CsrInfo;
    try {
      csr = readCsr(request.csrPem);
    } catch (e) {
      throw refused(`the CSR of "${request.id}" cannot be read: ${(e as Error).message}`, e);
    }
    if (!csr.signatureValid) throw refused(`the CSR of "${request.id}" is not signed by its own key (${csr.signatureAlgorithm})`);
    let current: CertificateInfo | undefined;
    if (request.replaces) {
      try {
        current = parseCertificate(request.replaces);
      } catch {
        current = undefined; // unreadable: treated as lost
      }
    }
    const enrollmentId = checkId('enrollmentId', this.#enrollmentIdOf(request, current, csr));
    const csrPem = csr.commonName === enrollmentId ? request.csrPem : await this.#csrFor(request, enrollmentId);
    const expectedSpki = createHash('sha256').update(readCsr(csrPem).publicKeySpkiDer).digest('hex');
    const common = {
      csrPem,
      ...(request.subjectAltNames.length ? { hosts: request.subjectAltNames.map((n) => n.value) } : {}),
      ...((request.profile ?? this.#options.profile) ? { profile: request.profile ?? this.#options.profile! } : {}),
      ...(this.#options.attributeRequests ? { attributeRequests: this.#options.attributeRequests } : {}),
    };
    const done = (e: FabricEnrollment): IssueResult => {
      const leaf = parseCertificate(e.certificatePem);
      if (leaf.publicKey.sha256 !== expectedSpki) throw invalid(`the Fabric CA returned a certificate for another key than the CSR's ("${request.id}")`);
      return { status: 'issued', chainPem: e.chainPem };
    };

    const now = this.#clock.now().getTime();
    const valid = current !== undefined && now >= current.notBefore.getTime() && now < current.notAfter.getTime() - this.#expiryMarginMs;
    const mayReenroll = current !== undefined && (valid || this.#options.reenrollIgnoresCertExpiry === true);
    let why: string;
    if (current && mayReenroll && !(await this.#issuedHere(current, signal))) {
      // A certificate from another CA (a migration to Fabric): this CA would refuse its token, which must not read as a revocation.
      why = `the current certificate was not issued by this CA (${current.issuer.dn})`;
    } else if (current && mayReenroll) {
      const key = await this.#currentKey(request, current);
      if (key && !TOKEN_KEYS.has(key.algorithm)) {
        why = `the current key is ${key.algorithm} and Fabric CA tokens are signed with ECDSA keys only`;
      } else if (key) {
        try {
          return done(await this.#reenroll({ identity: { certificatePem: toPem(current.der), key }, ...common }, valid ? 'reenroll' : 'reenroll-expired', signal));
        } catch (e) {
          if (valid && isCertstewardError(e, 'authority') && e.kind === 'revoked') throw await this.#confirmRevoked(e, enrollmentId, signal);
          // An expired certificate the server would not take after all: recover like any expired one.
          if (valid || !isCertstewardError(e, 'authority') || fabricCaCode(e.cause) !== 20) throw e;
        }
        why = `the current certificate expired at ${current.notAfter.toISOString()} and the CA refused it for re-enrollment`;
      } else {
        why = `the key of the current certificate is not available (neither IssueRequest.currentKey nor the currentKey option gave it)`;
      }
    } else {
      why = !request.replaces
        ? 'there is no current certificate'
        : !current
          ? 'the current certificate cannot be read'
          : now < current.notBefore.getTime()
            ? `the current certificate is not valid before ${current.notBefore.toISOString()}`
            : `the current certificate expired at ${current.notAfter.toISOString()}`;
    }
    return done(await this.#recover(request, enrollmentId, why, common, signal));
  }

  /**
   * Fabric answers the same code 20 for a revoked certificate and for a token
   * it cannot verify (a token format the server does not take, a path a proxy
   * rewrote): "revoked" makes the steward stop renewing for good, so it is
   * only kept when the registrar's own token is accepted by the same CA, which
   * rules out the token. Without a registrar it cannot be told apart: the
   * failure is `unauthorized` (retried), never `revoked`.
   */
  async #confirmRevoked(refused: AuthorityError, enrollmentId: string, signal: AbortSignal | undefined): Promise<AuthorityError> {
    const unconfirmed = (why: string, cause?: unknown) =>
      new AuthorityError('unauthorized', `${refused.message}; not taken as a revocation: ${why}`, { retryable: false, cause: cause ?? refused.cause });
    if (!this.#options.registrar) return unconfirmed('without a registrar the CA cannot be asked whether the token or the certificate was refused');
    try {
      await this.getIdentity(enrollmentId, signal ? { signal } : undefined);
      return refused;
    } catch (e) {
      return unconfirmed(`the CA refused the registrar's token as well (check tokenFormat and that the URL reaches the CA without a rewritten path): ${(e as Error).message}`, e);
    }
  }

  /**
   * Fabric CA issues at once: there is never an order to resume.
   * @throws {@link AuthorityError} `refused`, not retryable, always.
   */
  async resume(orderRef: string, request: IssueRequest): Promise<IssueResult> {
    throw refused(
      `Fabric CA issues certificates at once and gives no orders: there is nothing to resume for "${request.id}" (order reference ${JSON.stringify(String(orderRef).slice(0, 80))})`,
    );
  }

  /**
   * Revokes a certificate this CA issued (by serial and AKI, with the
   * registrar's token). Revoking a certificate already revoked succeeds.
   *
   * @throws {@link AuthorityError} `unauthorized` without a registrar or when
   *   the registrar lacks `hf.Revoker`; `refused` for a certificate the CA does not know.
   * @example
   * ```ts
   * await fabric.revoke(pem, 'keyCompromise')
   * ```
   */
  async revoke(certificatePem: string, reason: RevocationReason, options?: Signal): Promise<void> {
    await this.revokeCertificate(certificatePem, reason, options);
  }

  // ---------------------------------------------------------------- Fabric operations

  /**
   * The CA's name, chain and version (`cainfo`, unauthenticated).
   * @example
   * ```ts
   * const { caChainPem } = await fabric.caInfo()
   * ```
   */
  async caInfo(options?: Signal): Promise<FabricCaInfo> {
    const result = await this.#http.call<{ CAName?: unknown; CAChain?: unknown; Version?: unknown }>({
      method: 'POST',
      endpoint: 'cainfo',
      body: this.#caName ? { caname: this.#caName } : {},
      context: 'public',
      what: 'cainfo',
      signal: options?.signal,
    });
    return {
      caName: typeof result?.CAName === 'string' ? result.CAName : '',
      caChainPem: normalisedPems(fromBase64Text(result?.CAChain, 'CAChain'), 'CAChain').join(''),
      version: typeof result?.Version === 'string' ? result.Version : undefined,
    };
  }

  /**
   * Enrolls an identity with its secret (HTTP Basic).
   * @throws {@link AuthorityError} `unauthorized` when the secret is refused
   *   (wrong, already used up, or the identity is revoked: Fabric hides which).
   * @example
   * ```ts
   * const { certificatePem } = await fabric.enroll({ enrollmentId: 'peer1', secret, csrPem })
   * ```
   */
  async enroll(request: FabricEnrollRequest, options?: Signal): Promise<FabricEnrollment> {
    const enrollmentId = checkId('enrollmentId', request.enrollmentId);
    return this.#enrollment(
      'enroll',
      { basic: { enrollmentId, secret: request.secret } },
      request,
      'enroll',
      `enrollment of "${enrollmentId}"`,
      options?.signal,
    );
  }

  /**
   * Re-enrolls an identity with a token of its current certificate and key.
   * @throws {@link AuthorityError} `revoked` when the CA refuses the current certificate.
   * @example
   * ```ts
   * const next = await fabric.reenroll({ identity: { certificatePem: current, key: currentKey }, csrPem })
   * ```
   */
  async reenroll(request: FabricReenrollRequest, options?: Signal): Promise<FabricEnrollment> {
    return this.#reenroll(request, 'reenroll', options?.signal);
  }

  /**
   * Registers a new identity (the registrar needs `hf.Registrar.Roles` for its
   * type). Never called by `issue()`.
   * @returns The enrollment secret (generated by the CA when none was given).
   * @example
   * ```ts
   * const { secret } = await fabric.register({ id: 'peer1', type: 'peer', affiliation: 'org1.department1', maxEnrollments: -1 })
   * ```
   */
  async register(request: FabricRegistrationRequest, options?: Signal): Promise<{ secret: string }> {
    const id = checkId('id', request.id);
    const body = {
      id,
      type: request.type ?? 'client',
      ...(request.secret ? { secret: request.secret } : {}),
      ...(request.maxEnrollments !== undefined ? { max_enrollments: request.maxEnrollments } : {}),
      affiliation: request.affiliation ?? '',
      ...(request.attributes ? { attrs: request.attributes.map((a) => ({ name: a.name, value: a.value, ecert: a.ecert ?? false })) } : {}),
      ...this.#caname(),
    };
    const result = await this.#asRegistrar<{ secret?: unknown }>('POST', 'register', body, `registration of "${id}"`, options?.signal);
    const secret = typeof result?.secret === 'string' && result.secret ? result.secret : request.secret;
    if (!secret) throw invalid(`the Fabric CA registered "${id}" but returned no secret`);
    return { secret };
  }

  /**
   * Looks an identity up (the registrar must be able to act on its type and affiliation).
   * @returns The identity, or undefined when the CA does not know it.
   * @example
   * ```ts
   * if (!(await fabric.getIdentity('peer1'))) await fabric.register({ id: 'peer1', type: 'peer' })
   * ```
   */
  async getIdentity(id: string, options?: Signal): Promise<FabricIdentityInfo | undefined> {
    checkId('id', id);
    try {
      const result = await this.#asRegistrar<Record<string, unknown>>(
        'GET',
        `identities/${encodeURIComponent(id)}`,
        undefined,
        `lookup of identity "${id}"`,
        options?.signal,
        this.#caName ? { ca: this.#caName } : undefined,
      );
      return this.#identityInfo(result, id);
    } catch (e) {
      if (isCertstewardError(e, 'authority') && fabricCaCode(e.cause) === 63) return undefined;
      throw e;
    }
  }

  /**
   * Modifies an identity (`PUT /identities/{id}`), e.g. resets its secret.
   * @returns The identity as modified, with the new `secret` when one was set.
   * @throws {@link AuthorityError} `refused` (code 63) when the identity does not exist.
   * @example
   * ```ts
   * await fabric.modifyIdentity('peer1', { secret: 'n3w-s3cret', maxEnrollments: -1 })
   * ```
   */
  async modifyIdentity(id: string, changes: FabricIdentityChanges, options?: Signal): Promise<FabricIdentityInfo & { secret?: string }> {
    checkId('id', id);
    const body = {
      ...(changes.type ? { type: changes.type } : {}),
      ...(changes.affiliation ? { affiliation: changes.affiliation } : {}),
      ...(changes.maxEnrollments !== undefined ? { max_enrollments: changes.maxEnrollments } : {}),
      ...(changes.attributes ? { attrs: changes.attributes.map((a) => ({ name: a.name, value: a.value, ecert: a.ecert ?? false })) } : {}),
      ...(changes.secret ? { secret: changes.secret } : {}),
      ...this.#caname(),
    };
    const result = await this.#asRegistrar<Record<string, unknown>>('PUT', `identities/${encodeURIComponent(id)}`, body, `modification of identity "${id}"`, options?.signal);
    const info = this.#identityInfo(result, id);
    return changes.secret ? { ...info, secret: changes.secret } : info;
  }

  /**
   * Revokes a certificate by serial and AKI, optionally asking for the CRL
   * (`gencrl`, the registrar needs `hf.GenCRL`).
   * @example
   * ```ts
   * const { crlPem } = await fabric.revokeCertificate(pem, 'keyCompromise', { generateCrl: true })
   * ```
   */
  async revokeCertificate(
    certificatePem: string,
    reason: RevocationReason,
    options?: Signal & { generateCrl?: boolean },
  ): Promise<FabricRevocation> {
    let cert: CertificateInfo;
    try {
      cert = parseCertificate(certificatePem);
    } catch (e) {
      throw refused(`the certificate to revoke cannot be read: ${(e as Error).message}`, e);
    }
    if (!cert.authorityKeyIdentifier) throw refused('the certificate to revoke has no authority key identifier, which Fabric CA needs to find it');
    const serial = fabricHex(cert.serialNumber);
    const aki = fabricHex(cert.authorityKeyIdentifier);
    const body = {
      serial,
      aki,
      reason: String(reason).toLowerCase(),
      ...this.#caname(),
      ...(options?.generateCrl ? { gencrl: true } : {}),
    };
    try {
      const result = await this.#asRegistrar<{ RevokedCerts?: unknown; CRL?: unknown }>(
        'POST',
        'revoke',
        body,
        `revocation of serial ${serial}`,
        options?.signal,
      );
      const revoked = Array.isArray(result?.RevokedCerts)
        ? result.RevokedCerts.map((r: { Serial?: unknown; AKI?: unknown }) => ({ serial: String(r?.Serial ?? ''), aki: String(r?.AKI ?? '') }))
        : [];
      const crl = typeof result?.CRL === 'string' && result.CRL ? Buffer.from(result.CRL, 'base64').toString('utf8') : undefined;
      return { revoked, crlPem: crl, alreadyRevoked: false };
    } catch (e) {
      if (isCertstewardError(e, 'authority') && fabricCaCode(e.cause) === 66) return { revoked: [], crlPem: undefined, alreadyRevoked: true };
      throw e;
    }
  }

  // ---------------------------------------------------------------- internals

  #caname(): { caname?: string } {
    return this.#caName ? { caname: this.#caName } : {};
  }

  /**
   * Whether this CA issued `cert` (its AKI is the key identifier of a CA
   * certificate in `cainfo`'s chain). The chain is fetched once per instance,
   * and again when a certificate names an unknown issuer (the CA renewed its
   * own). Without an AKI the issuer name is compared; an empty chain decides nothing (yes).
   */
  async #issuedHere(cert: CertificateInfo, signal: AbortSignal | undefined): Promise<boolean> {
    const aki = cert.authorityKeyIdentifier;
    for (const refresh of [false, true]) {
      if (refresh || !this.#caIssuers) {
        const fetching = this.caInfo({ ...(signal ? { signal } : {}) }).then((info) => {
          const chain = parseCertificates(info.caChainPem || '');
          return {
            keyIds: new Set(chain.map((c) => c.subjectKeyIdentifier).filter((k): k is string => !!k)),
            names: new Set(chain.map((c) => c.subject.dn)),
          };
        });
        this.#caIssuers = fetching;
        fetching.catch(() => {
          if (this.#caIssuers === fetching) this.#caIssuers = undefined;
        });
      }
      const issuers = await this.#caIssuers!;
      if (issuers.names.size === 0) return true;
      if (aki ? issuers.keyIds.has(aki) : issuers.names.has(cert.issuer.dn)) return true;
    }
    return false;
  }

  #enrollmentIdOf(request: IssueRequest, current: CertificateInfo | undefined, csr: CsrInfo): string {
    if (this.#options.enrollmentId) return this.#options.enrollmentId(request);
    return (current && commonNameOf(current)) || request.commonName || csr.commonName || request.id;
  }

  /** The request's CSR again, with the enrollment ID as common name (Fabric requires it). */
  async #csrFor(request: IssueRequest, enrollmentId: string): Promise<string> {
    try {
      return await buildCsr({ key: request.key, commonName: enrollmentId, subjectAltNames: request.subjectAltNames });
    } catch (e) {
      if (isCertstewardError(e)) throw refused(`the CSR of "${request.id}" cannot be rebuilt with common name "${enrollmentId}": ${e.message}`, e);
      throw e;
    }
  }

  /** The current certificate's key: from the steward, the option, or the request key when it is the same key. */
  async #currentKey(request: IssueRequest, current: CertificateInfo): Promise<KeyHandle | undefined> {
    const candidates: (() => Promise<KeyHandle | undefined>)[] = [
      async () => request.currentKey?.(),
      async () => this.#options.currentKey?.(request),
      async () => request.key,
    ];
    for (const [i, get] of candidates.entries()) {
      const key = await get();
      if (!key) continue;
      const spki = createHash('sha256').update(await spkiOf(key)).digest('hex');
      if (spki === current.publicKey.sha256) return key;
      // The request key is only a candidate (key reuse); a key someone handed over as the current one must be it.
      if (i < 2) {
        throw new AuthorityError('unauthorized', `the key given as the current key of "${request.id}" is not the key of its current certificate`, {
          retryable: false,
          cause: new KeyMismatchError(current.fingerprints.sha256, 'the current key does not match the current certificate'),
        });
      }
    }
    return undefined;
  }

  /** Secret reset through the registrar (or a host-provided secret), then enrollment. */
  async #recover(
    request: IssueRequest,
    enrollmentId: string,
    why: string,
    common: Omit<FabricEnrollRequest, 'enrollmentId' | 'secret'>,
    signal: AbortSignal | undefined,
  ): Promise<FabricEnrollment> {
    const given = await this.#options.enrollmentSecret?.(enrollmentId);
    if (given) {
      try {
        return await this.enroll({ enrollmentId, secret: given, ...common }, { signal });
      } catch (e) {
        // A used-up secret: the registrar can still reset it.
        if (!this.#registrar || !isCertstewardError(e, 'authority') || fabricCaCode(e.cause) !== 20) throw e;
      }
    }
    if (!this.#registrar) {
      throw new AuthorityError(
        'unauthorized',
        `cannot renew "${request.id}" (enrollment ID "${enrollmentId}") at the Fabric CA: ${why}, and only a valid certificate with its key can re-enroll. ` +
          'To recover, configure a registrar (the `registrar` option: its secret reset + enrollment re-issues the certificate; no identity is registered), ' +
          'or an `enrollmentSecret` for the identity, or have the CA administrator reset its secret (fabric-ca-client identity modify) and enroll.',
        { retryable: false },
      );
    }
    const secret = Buffer.from(this.#randomBytes(24)).toString('base64url');
    // A secret reset does not reset the identity's enrollment count: an identity limited to N
    // enrollments that used them all gets one more (unlimited identities stay unlimited).
    const identity = await this.getIdentity(enrollmentId, signal ? { signal } : undefined);
    const maxEnrollments = identity && identity.maxEnrollments > 0 ? identity.maxEnrollments + 1 : undefined;
    await this.modifyIdentity(enrollmentId, { secret, ...(maxEnrollments !== undefined ? { maxEnrollments } : {}) }, { signal });
    return this.enroll({ enrollmentId, secret, ...common }, { signal });
  }

  async #reenroll(request: FabricReenrollRequest, context: FabricCallContext, signal: AbortSignal | undefined): Promise<FabricEnrollment> {
    const { identity } = request;
    const id = commonNameOf(parseCertificate(identity.certificatePem)) ?? '(no common name)';
    return this.#enrollment(
      'reenroll',
      { token: { certificatePem: identity.certificatePem, key: identity.key, format: this.#tokenFormat } },
      request,
      context,
      `re-enrollment of "${id}"`,
      signal,
    );
  }

  async #enrollment(
    endpoint: 'enroll' | 'reenroll',
    auth: FabricAuth,
    request: Omit<FabricEnrollRequest, 'enrollmentId' | 'secret'>,
    context: FabricCallContext,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<FabricEnrollment> {
    const body = {
      certificate_request: request.csrPem,
      ...(request.hosts ? { hosts: [...request.hosts] } : {}),
      ...(request.profile ? { profile: request.profile } : {}),
      ...(request.label ? { label: request.label } : {}),
      ...this.#caname(),
      ...(request.attributeRequests ? { attr_reqs: attrReqs(request.attributeRequests) } : {}),
    };
    const result = await this.#http.call<EnrollResult>({ method: 'POST', endpoint, body, auth, context, what, signal });
    const [certificatePem] = normalisedPems(fromBase64Text(result?.Cert, 'Cert'), 'Cert');
    if (!certificatePem) throw invalid(`the Fabric CA answered the ${what} without a certificate`);
    const chain = result.ServerInfo?.CAChain;
    const caChainPem = typeof chain === 'string' && chain ? normalisedPems(fromBase64Text(chain, 'ServerInfo.CAChain'), 'ServerInfo.CAChain').join('') : '';
    return { certificatePem, caChainPem, chainPem: certificatePem + caChainPem };
  }

  async #asRegistrar<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    endpoint: string,
    body: unknown,
    what: string,
    signal: AbortSignal | undefined,
    query?: Record<string, string>,
  ): Promise<T> {
    const identity = await this.#registrarIdentity(what);
    return this.#http.call<T>({
      method,
      endpoint,
      ...(body !== undefined ? { body } : {}),
      ...(query ? { query } : {}),
      auth: { token: { certificatePem: identity.certificatePem, key: identity.key, format: this.#tokenFormat } },
      context: 'registrar',
      what,
      signal,
    });
  }

  async #registrarIdentity(what: string): Promise<FabricIdentity> {
    const r = this.#registrar;
    if (!r) {
      throw new AuthorityError('unauthorized', `the ${what} needs a Fabric CA registrar: pass the \`registrar\` option (an identity with hf.Registrar.Roles, and hf.Revoker to revoke)`, {
        retryable: false,
      });
    }
    if ('identity' in r) return r.identity;
    const cached = this.#enrolledRegistrar;
    if (cached) {
      const identity = await cached;
      const notAfter = parseCertificate(identity.certificatePem).notAfter.getTime();
      if (this.#clock.now().getTime() < notAfter - this.#expiryMarginMs) return identity;
    }
    const enrolling = this.#enrollRegistrar(r.enrollmentId, r.enrollmentSecret);
    this.#enrolledRegistrar = enrolling;
    enrolling.catch(() => {
      if (this.#enrolledRegistrar === enrolling) this.#enrolledRegistrar = undefined;
    });
    return enrolling;
  }

  /** Enrolls the registrar with a P-256 key that lives in this process only (never exported). */
  async #enrollRegistrar(enrollmentId: string, secret: string): Promise<FabricIdentity> {
    const subtle = webcrypto.subtle;
    const pair = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const spki = new Uint8Array(await subtle.exportKey('spki', pair.publicKey));
    const key: KeyHandle = Object.freeze({
      ref: Object.freeze({
        store: 'fabric-ca-registrar',
        id: `registrar-${Buffer.from(this.#randomBytes(8)).toString('hex')}`,
        algorithm: 'ECDSA-P256' as const,
        spkiSha256: createHash('sha256').update(spki).digest('hex'),
      }),
      algorithm: 'ECDSA-P256' as const,
      crypto: webcrypto as unknown as Crypto,
      publicKey: pair.publicKey,
      privateKey: pair.privateKey,
      exportable: false,
    });
    const csrPem = await buildCsr({ key, commonName: enrollmentId, subjectAltNames: [] });
    const { certificatePem } = await this.enroll({ enrollmentId, secret, csrPem });
    return { certificatePem, key };
  }

  #identityInfo(result: Record<string, unknown> | undefined, id: string): FabricIdentityInfo {
    if (!result || typeof result !== 'object') throw invalid(`the Fabric CA answered the lookup of "${id}" without an identity`);
    return {
      id: typeof result.id === 'string' ? result.id : id,
      type: typeof result.type === 'string' ? result.type : '',
      affiliation: typeof result.affiliation === 'string' ? result.affiliation : '',
      maxEnrollments: typeof result.max_enrollments === 'number' ? result.max_enrollments : 0,
      attributes: attributesOf(result.attrs),
      caName: typeof result.caname === 'string' ? result.caname : (this.#caName ?? ''),
    };
  }
}
