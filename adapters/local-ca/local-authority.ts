/**
 * The built-in local certificate authority: a root and an intermediate whose
 * keys live in a {@link KeyStore}, issuing leaf certificates for internal
 * services and tests.
 *
 * `@peculiar/x509` builds the certificates. It is imported lazily (it imports
 * `reflect-metadata`, a global side effect) and every signature is made
 * through the key handle's own WebCrypto provider, so CA keys held in an HSM
 * sign without being exported.
 *
 * @module
 */
import { X509Certificate, getRandomValues, webcrypto } from 'node:crypto';
import { AuthorityError, ConfigError, KeyError, KeyMismatchError, isCertstewardError } from '../../src/errors.js';
import type {
  AuthorityDescription,
  CertificateAuthority,
  IssueRequest,
  IssueResult,
  RevocationReason,
} from '../../src/ports/certificate-authority.js';
import type { Clock } from '../../src/ports/clock.js';
import type { KeyAlgorithm, KeyHandle, KeyRef, KeyStore } from '../../src/ports/key-store.js';
import { locateFields, parseCertificate, type CertificateInfo } from '../../src/pki/certificate.js';
import { readCsr, signingAlgorithmFor, type CsrInfo, type SubjectAltName } from '../../src/pki/csr.js';
import { CRL_REASON_CODES } from '../../src/pki/crl-reason.js';
import { readTlv } from '../../src/pki/der.js';
import { bitString, explicit, sequence, smallInteger, unsignedInteger, x509Time } from '../../src/pki/der-writer.js';
import { keyIdentifier, signWith } from '../../src/pki/key-signer.js';
import { encodeGeneralNames, encodeName, endEntityExtensions as encodeEndEntityExtensions, signatureAlgorithm } from '../../src/pki/x509-encode.js';
import { decodeGeneralNames, type GeneralName } from '../../src/pki/general-name.js';
import { keyMatchesCertificate } from '../../src/pki/key-match.js';
import { toPem } from '../../src/pki/pem.js';
import type {
  EmergencySelfSignedOptions,
  LocalAuthorityLoadOptions,
  LocalAuthorityOptions,
  LocalAuthorityRevocation,
  LocalAuthorityState,
  LocalCrlOptions,
} from './options.js';

type X509 = typeof import('@peculiar/x509');

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Certificates start this long before "now", so a relying party whose clock is a little behind accepts them. */
const CLOCK_SKEW_MS = MINUTE_MS;
const DEFAULTS = {
  name: 'certsteward local',
  algorithm: 'ECDSA-P256' as KeyAlgorithm,
  rootLifetimeMs: 3_650 * DAY_MS,
  intermediateLifetimeMs: 1_825 * DAY_MS,
  defaultLeafLifetimeMs: 90 * DAY_MS,
  maxLeafLifetimeMs: 397 * DAY_MS,
  emergencyLifetimeMs: 7 * DAY_MS,
  crlValidityMs: 7 * DAY_MS,
};
const STATE_FORMAT = 'certsteward.local-ca';

/** Node's WebCrypto, for work on public data only (key identifiers); signing always uses the handle's provider. */
const publicCrypto = webcrypto as unknown as Crypto;


/** X.509 times have whole seconds: start on a whole second so every computed end is exact. */
function startFrom(now: Date): Date {
  return new Date(Math.floor((now.getTime() - CLOCK_SKEW_MS) / 1000) * 1000);
}

function defaultRandomBytes(length: number): Uint8Array {
  return getRandomValues(new Uint8Array(length));
}

/** A positive 16-byte serial (126 random bits): the top bit cleared keeps the INTEGER positive, the next set keeps it 16 bytes long. */
function newSerial(randomBytes: (length: number) => Uint8Array): string {
  const b = randomBytes(16);
  if (!(b instanceof Uint8Array) || b.length !== 16) {
    throw new ConfigError('randomBytes', b, 'randomBytes(16) must return a Uint8Array of 16 bytes');
  }
  const s = Uint8Array.from(b);
  s[0] = (s[0]! & 0x7f) | 0x40;
  return Buffer.from(s).toString('hex');
}

function checkLifetime(setting: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(setting, value, `${setting} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

function pemOf(cert: { rawData: ArrayBuffer }): string {
  return toPem(new Uint8Array(cert.rawData));
}

async function exportSpki(handle: KeyHandle): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return new Uint8Array(await handle.crypto.subtle.exportKey('spki', handle.publicKey));
  } catch (e) {
    throw new KeyError(`the public key of "${handle.ref.id}" cannot be exported: ${(e as Error).message}`, { cause: e });
  }
}

/** The subject Name DER of a certificate, so issuer names match byte for byte. */
function subjectDer(info: CertificateInfo): Uint8Array<ArrayBuffer> {
  const f = locateFields(info.der);
  return info.der.slice(f.subject.start, f.subject.end);
}

function sanJson(names: readonly SubjectAltName[]): { type: 'dns' | 'ip' | 'email' | 'url'; value: string }[] {
  return names.map((n) => ({ type: n.type === 'uri' ? 'url' : n.type, value: n.value }));
}

/** The names as certsteward's parser reports them (IPs in RFC 5952 form), for comparison. */
function canonicalNames(names: readonly SubjectAltName[]): GeneralName[] {
  const der = encodeGeneralNames(names);
  return decodeGeneralNames(der, readTlv(der, 0, der.length));
}

function nameKey(n: GeneralName): string {
  return `${n.type}:${n.type === 'dns' || n.type === 'email' ? n.value.toLowerCase() : n.value}`;
}

function sameNames(a: readonly GeneralName[], b: readonly GeneralName[]): boolean {
  const x = [...new Set(a.map(nameKey))].sort();
  const y = [...new Set(b.map(nameKey))].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function refused(message: string, cause?: unknown): AuthorityError {
  return new AuthorityError('refused', message, { retryable: false, cause });
}

/** Extensions of an end-entity certificate (leaf or emergency self-signed). */
async function endEntityExtensions(
  x509: X509,
  options: { names: readonly SubjectAltName[]; rsa: boolean; spki: Uint8Array<ArrayBuffer>; emptySubject: boolean; authorityKeyId?: string },
): Promise<InstanceType<X509['Extension']>[]> {
  const usage = x509.KeyUsageFlags.digitalSignature | (options.rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  const exts: InstanceType<X509['Extension']>[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
    await x509.SubjectKeyIdentifierExtension.create(options.spki, false, publicCrypto),
  ];
  if (options.authorityKeyId) exts.push(new x509.AuthorityKeyIdentifierExtension(options.authorityKeyId, false));
  // RFC 5280 §4.2.1.6: with an empty subject, the SAN extension is critical.
  if (options.names.length > 0) exts.push(new x509.SubjectAlternativeNameExtension(sanJson(options.names), options.emptySubject));
  return exts;
}

/** A CA certificate and, for the intermediate, its loaded key. */
interface CaCertificate {
  readonly pem: string;
  readonly info: CertificateInfo;
  readonly ref: KeyRef;
}

/**
 * A real, self-contained certificate authority: a root, an intermediate that
 * signs leaves, random 16-byte serials, revocation with a CRL. Its state
 * ({@link LocalAuthority.toJSON}) holds certificates and key references only,
 * so a host persists it anywhere and reloads it with
 * {@link LocalAuthority.load}. The root key is used only at creation; a loaded
 * CA never touches it.
 *
 * Leaves are signed by the intermediate; `issue()` returns leaf +
 * intermediate (the root is the trust anchor, {@link LocalAuthority.rootPem}).
 *
 * @example
 * ```ts
 * import { LocalAuthority } from 'certsteward/local-ca'
 * const ca = await LocalAuthority.create({ keys, clock: systemClock, name: 'Acme Internal' })
 * await writeFile('ca.json', JSON.stringify(ca))          // persist
 * const again = await LocalAuthority.load(JSON.parse(await readFile('ca.json', 'utf8')), { keys, clock: systemClock })
 * const steward = createSteward({ ..., authorities: { internal: again } })
 * ```
 */
export class LocalAuthority implements CertificateAuthority {
  readonly #name: string;
  readonly #clock: Clock;
  readonly #root: CaCertificate;
  readonly #intermediate: CaCertificate;
  readonly #signer: KeyHandle;
  readonly #defaultLeafLifetimeMs: number;
  readonly #maxLeafLifetimeMs: number;
  readonly #randomBytes: (length: number) => Uint8Array;
  readonly #revoked: Map<string, LocalAuthorityRevocation>;
  #crlNumber: number;
  #x509: Promise<X509> | undefined;

  private constructor(init: {
    name: string;
    clock: Clock;
    root: CaCertificate;
    intermediate: CaCertificate;
    signer: KeyHandle;
    defaultLeafLifetimeMs: number;
    maxLeafLifetimeMs: number;
    randomBytes: (length: number) => Uint8Array;
    revoked: readonly LocalAuthorityRevocation[];
    crlNumber: number;
    x509?: Promise<X509>;
  }) {
    this.#name = init.name;
    this.#clock = init.clock;
    this.#root = init.root;
    this.#intermediate = init.intermediate;
    this.#signer = init.signer;
    this.#defaultLeafLifetimeMs = init.defaultLeafLifetimeMs;
    this.#maxLeafLifetimeMs = init.maxLeafLifetimeMs;
    this.#randomBytes = init.randomBytes;
    this.#revoked = new Map(init.revoked.map((r) => [r.serial, r]));
    this.#crlNumber = init.crlNumber;
    this.#x509 = init.x509;
  }

  /**
   * Creates a new CA: generates the root and intermediate keys in `keys` and
   * their certificates (root: `rootLifetimeMs`, intermediate:
   * `intermediateLifetimeMs`, both starting one minute before `clock.now()`).
   *
   * @throws {@link ConfigError} for invalid options.
   * @throws {@link KeyStoreError} when the key store cannot generate the keys.
   * @example
   * ```ts
   * const ca = await LocalAuthority.create({ keys: new SoftwareKeyStore({ kek }), clock: systemClock })
   * ```
   */
  static async create(options: LocalAuthorityOptions): Promise<LocalAuthority> {
    const { keys, clock, signal } = options;
    const name = options.name ?? DEFAULTS.name;
    if (typeof name !== 'string' || name.trim() === '') throw new ConfigError('name', name, 'name must be a non-empty string');
    const algorithm = options.algorithm ?? DEFAULTS.algorithm;
    const signingAlgorithm = signingAlgorithmFor(algorithm);
    const rootLifetimeMs = checkLifetime('rootLifetimeMs', options.rootLifetimeMs, DEFAULTS.rootLifetimeMs);
    const intermediateLifetimeMs = checkLifetime('intermediateLifetimeMs', options.intermediateLifetimeMs, DEFAULTS.intermediateLifetimeMs);
    const defaultLeafLifetimeMs = checkLifetime('defaultLeafLifetimeMs', options.defaultLeafLifetimeMs, DEFAULTS.defaultLeafLifetimeMs);
    const maxLeafLifetimeMs = checkLifetime('maxLeafLifetimeMs', options.maxLeafLifetimeMs, DEFAULTS.maxLeafLifetimeMs);
    const randomBytes = options.randomBytes ?? defaultRandomBytes;

    const x509Promise = import('@peculiar/x509');
    const x509 = await x509Promise;
    const rootKey = await keys.generate({ algorithm, label: `${name} Root CA` }, { signal });
    let interKey: KeyHandle | undefined;
    try {
      interKey = await keys.generate({ algorithm, label: `${name} Intermediate CA` }, { signal });
      const notBefore = startFrom(clock.now());
      const rootSpki = await exportSpki(rootKey);
      const rootSki = await x509.SubjectKeyIdentifierExtension.create(rootSpki, false, publicCrypto);
      const rootName = new x509.Name([{ CN: [`${name} Root CA`] }]);
      const rootCert = await sign(rootKey, () =>
        x509.X509CertificateGenerator.create(
          {
            serialNumber: newSerial(randomBytes),
            subject: rootName,
            issuer: rootName,
            notBefore,
            notAfter: new Date(notBefore.getTime() + rootLifetimeMs),
            publicKey: rootSpki,
            signingKey: rootKey.privateKey,
            signingAlgorithm: { ...signingAlgorithm },
            extensions: [
              new x509.BasicConstraintsExtension(true, undefined, true),
              new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
              rootSki,
            ],
          },
          rootKey.crypto,
        ),
      );
      const rootPem = pemOf(rootCert);
      const rootInfo = parseCertificate(rootPem);
      const interSpki = await exportSpki(interKey);
      const interSki = await x509.SubjectKeyIdentifierExtension.create(interSpki, false, publicCrypto);
      const interCert = await sign(rootKey, () =>
        x509.X509CertificateGenerator.create(
          {
            serialNumber: newSerial(randomBytes),
            subject: new x509.Name([{ CN: [`${name} Intermediate CA`] }]),
            issuer: new x509.Name(subjectDer(rootInfo)),
            notBefore,
            notAfter: new Date(Math.min(notBefore.getTime() + intermediateLifetimeMs, rootInfo.notAfter.getTime())),
            publicKey: interSpki,
            signingKey: rootKey.privateKey,
            signingAlgorithm: { ...signingAlgorithm },
            extensions: [
              new x509.BasicConstraintsExtension(true, 0, true),
              new x509.KeyUsagesExtension(
                x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
                true,
              ),
              interSki,
              new x509.AuthorityKeyIdentifierExtension(rootSki.keyId, false),
            ],
          },
          rootKey.crypto,
        ),
      );
      const interPem = pemOf(interCert);
      return new LocalAuthority({
        name,
        clock,
        root: { pem: rootPem, info: rootInfo, ref: rootKey.ref },
        intermediate: { pem: interPem, info: parseCertificate(interPem), ref: interKey.ref },
        signer: interKey,
        defaultLeafLifetimeMs,
        maxLeafLifetimeMs,
        randomBytes,
        revoked: [],
        crlNumber: 0,
        x509: x509Promise,
      });
    } catch (e) {
      // Leave no orphan keys behind a CA that was never returned.
      for (const k of [interKey, rootKey]) if (k) await keys.destroy(k.ref).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Rebuilds a CA from the state {@link LocalAuthority.toJSON} returned. Only
   * the intermediate key is loaded (the root key stays untouched in the
   * store). Leaf lifetimes given here replace the persisted ones.
   *
   * @throws {@link ConfigError} when `state` is not a local CA state.
   * @throws {@link KeyStoreError} when the intermediate key cannot be loaded.
   * @throws {@link KeyMismatchError} when the loaded key does not belong to the intermediate certificate.
   * @example
   * ```ts
   * const ca = await LocalAuthority.load(JSON.parse(await readFile('ca.json', 'utf8')), { keys, clock: systemClock })
   * ```
   */
  static async load(state: LocalAuthorityState, options: LocalAuthorityLoadOptions): Promise<LocalAuthority> {
    checkState(state);
    let root: CertificateInfo;
    let inter: CertificateInfo;
    try {
      root = parseCertificate(state.root.certificatePem);
      inter = parseCertificate(state.intermediate.certificatePem);
    } catch (e) {
      throw new ConfigError('state', '(local CA state)', `the local CA state holds an unreadable certificate: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const signer = await options.keys.load(state.intermediate.key, { signal: options.signal });
    if (!(await keyMatchesCertificate(signer.publicKey, inter, { crypto: signer.crypto }))) {
      throw new KeyMismatchError(
        inter.fingerprints.sha256,
        `the key "${state.intermediate.key.id}" loaded from the key store does not belong to the intermediate "${inter.subject.dn}": the state and the key store do not match`,
      );
    }
    return new LocalAuthority({
      name: state.name,
      clock: options.clock,
      root: { pem: state.root.certificatePem, info: root, ref: state.root.key },
      intermediate: { pem: state.intermediate.certificatePem, info: inter, ref: state.intermediate.key },
      signer,
      defaultLeafLifetimeMs: checkLifetime('defaultLeafLifetimeMs', options.defaultLeafLifetimeMs, state.defaultLeafLifetimeMs),
      maxLeafLifetimeMs: checkLifetime('maxLeafLifetimeMs', options.maxLeafLifetimeMs, state.maxLeafLifetimeMs),
      randomBytes: options.randomBytes ?? defaultRandomBytes,
      revoked: state.revoked,
      crlNumber: state.crlNumber,
    });
  }

  /** The root certificate (PEM): the trust anchor to install in relying parties. */
  get rootPem(): string {
    return this.#root.pem;
  }

  /** The intermediate certificate (PEM). */
  get intermediatePem(): string {
    return this.#intermediate.pem;
  }

  /** The CA chain, intermediate then root (PEM): everything a relying party needs above a leaf. */
  get chainPem(): string {
    return this.#intermediate.pem + this.#root.pem;
  }

  /** The CA's name (the common-name prefix). */
  get name(): string {
    return this.#name;
  }

  /** When the intermediate expires: no leaf is issued past it. */
  get notAfter(): Date {
    return this.#intermediate.info.notAfter;
  }

  /** `{ kind: 'local' }`. */
  describe(): AuthorityDescription {
    return { kind: 'local' };
  }

  #lib(): Promise<X509> {
    return (this.#x509 ??= import('@peculiar/x509'));
  }

  /**
   * Issues a leaf for the CSR: verifies the CSR's self-signature, then signs a
   * certificate with the intermediate key for the request's names, valid from
   * one minute before now for `min(request.lifetimeMs ?? default, max)`,
   * never past the intermediate's end. Key usage digitalSignature (and
   * keyEncipherment for RSA keys), extended key usage serverAuth and
   * clientAuth. Always answers `issued`.
   *
   * @throws {@link AuthorityError} `refused` (not retryable) for an unreadable
   *   CSR, a bad CSR signature, names that differ from the CSR's, an invalid
   *   lifetime, or an expired intermediate; `unavailable` (retryable) when the
   *   CA key cannot sign.
   * @example
   * ```ts
   * const key = await keys.generate({ algorithm: 'ECDSA-P256' })
   * const names = [{ type: 'dns', value: 'api.internal' }] as const
   * const result = await ca.issue({ id: 'api', key, subjectAltNames: names, csrPem: await buildCsr({ key, subjectAltNames: names }) })
   * if (result.status === 'issued') writeFileSync('fullchain.pem', result.chainPem)
   * ```
   */
  async issue(request: IssueRequest, options: { signal?: AbortSignal } = {}): Promise<IssueResult> {
    options.signal?.throwIfAborted();
    let csr: CsrInfo;
    try {
      csr = readCsr(request.csrPem);
    } catch (e) {
      throw refused(`the CSR of "${request.id}" cannot be read: ${(e as Error).message}`, e);
    }
    if (!csr.signatureValid) {
      throw refused(
        `the CSR of "${request.id}" is not validly signed by its own key (${csr.signatureAlgorithm}): it was altered, or signed with another key`,
      );
    }
    const spki = csr.publicKeySpkiDer;
    let names: GeneralName[];
    try {
      names = canonicalNames(request.subjectAltNames);
    } catch (e) {
      throw refused(`the subject alternative names of "${request.id}" cannot be encoded: ${(e as Error).message}`, e);
    }
    if (csr.subjectAltNames.length > 0 && !sameNames(csr.subjectAltNames, names)) {
      throw refused(
        `the CSR of "${request.id}" names ${JSON.stringify(csr.subjectAltNames.map(nameKey))} but the request names ${JSON.stringify(names.map(nameKey))}: build the CSR from the request's names`,
      );
    }
    const commonName = request.commonName ?? csr.commonName;
    if (names.length === 0 && !commonName) throw refused(`the request "${request.id}" names nothing to certify`);
    const requested = request.lifetimeMs ?? this.#defaultLeafLifetimeMs;
    if (typeof requested !== 'number' || !Number.isFinite(requested) || requested <= 0) {
      throw refused(`the requested lifetime of "${request.id}" must be a positive number of milliseconds, got ${String(requested)}`);
    }
    const nowDate = this.#clock.now();
    const now = nowDate.getTime();
    const caEnd = this.#intermediate.info.notAfter.getTime();
    if (now >= caEnd) {
      throw refused(
        `the intermediate "${this.#intermediate.info.subject.dn}" expired at ${this.#intermediate.info.notAfter.toISOString()}: create a new local CA`,
      );
    }
    const notBefore = startFrom(nowDate);
    const notAfter = new Date(Math.min(notBefore.getTime() + Math.min(requested, this.#maxLeafLifetimeMs), caEnd));
    options.signal?.throwIfAborted();
    // The leaf is encoded directly (no ASN.1 object model): this is the hot
    // path of every renewal.
    let der: Uint8Array;
    try {
      const spkiTlv = readTlv(spki, 0, spki.length);
      const alg = readTlv(spki, spkiTlv.contentStart, spkiTlv.end);
      const keyBits = readTlv(spki, alg.end, spkiTlv.end);
      const aki = this.#intermediate.info.subjectKeyIdentifier;
      const tbs = sequence(
        explicit(0, smallInteger(2)),
        unsignedInteger(Buffer.from(newSerial(this.#randomBytes), 'hex')),
        signatureAlgorithm(this.#signer.algorithm),
        subjectDer(this.#intermediate.info),
        sequence(x509Time(notBefore), x509Time(notAfter)),
        encodeName(commonName),
        spki,
        explicit(
          3,
          sequence(
            ...encodeEndEntityExtensions({
              names: request.subjectAltNames,
              rsa: csr.publicKeyAlgorithm === 'RSA',
              subjectKeyId: keyIdentifier(spki.subarray(keyBits.contentStart + 1, keyBits.end)),
              ...(aki ? { authorityKeyId: Buffer.from(aki, 'hex') } : {}),
              emptySubject: !commonName,
            }),
          ),
        ),
      );
      const signature = await signWith(this.#signer, tbs);
      der = sequence(tbs, signatureAlgorithm(this.#signer.algorithm), bitString(signature));
    } catch (e) {
      if (isCertstewardError(e, 'config')) throw refused(`the certificate for "${request.id}" cannot be encoded: ${e.message}`, e);
      if (isCertstewardError(e) && !isCertstewardError(e, 'key')) throw e;
      throw new AuthorityError('unavailable', `the local CA key could not sign the certificate for "${request.id}": ${(e as Error).message}`, {
        retryable: true,
        cause: e,
      });
    }
    return { status: 'issued', chainPem: toPem(der) + this.#intermediate.pem };
  }

  /**
   * The local CA answers every request at once, so it has no orders to
   * resume: any order reference is unknown.
   *
   * @throws {@link AuthorityError} `refused`, not retryable: place a new order.
   * @example
   * ```ts
   * await ca.resume('{"order":1}', request) // throws AuthorityError (refused)
   * ```
   */
  async resume(orderRef: string, request: IssueRequest, options: { signal?: AbortSignal } = {}): Promise<IssueResult> {
    options.signal?.throwIfAborted();
    const shown = typeof orderRef === 'string' ? JSON.stringify(orderRef.slice(0, 80)) : typeof orderRef;
    throw refused(
      `the local CA has no pending order ${shown} (for "${request?.id}"): it issues at once and never leaves orders pending; place a new order`,
    );
  }

  /**
   * Records the revocation of a certificate this CA issued (in memory and in
   * {@link LocalAuthority.toJSON}); it appears in the next {@link LocalAuthority.crl}.
   * Revoking a certificate again keeps the first record and succeeds.
   *
   * @throws {@link AuthorityError} `refused` when the certificate is unreadable or was not issued by this CA.
   * @example
   * ```ts
   * await ca.revoke(leafPem, 'keyCompromise')
   * ca.isRevoked(parseCertificate(leafPem).serialNumber) // true
   * ```
   */
  async revoke(certificatePem: string, reason: RevocationReason, options: { signal?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted();
    let info: CertificateInfo;
    try {
      info = parseCertificate(certificatePem);
    } catch (e) {
      throw refused(`the certificate to revoke cannot be read: ${(e as Error).message}`, e);
    }
    if (!Object.hasOwn(CRL_REASON_CODES, reason)) throw refused(`unknown revocation reason ${JSON.stringify(reason)}`);
    if (!this.#issuedHere(info)) {
      throw refused(
        `the certificate "${info.subject.dn}" (serial ${info.serialNumber}) was not issued by the local CA "${this.#intermediate.info.subject.dn}"`,
      );
    }
    if (this.#revoked.has(info.serialNumber)) return;
    this.#revoked.set(info.serialNumber, {
      serial: info.serialNumber,
      reason,
      revokedAt: this.#clock.now().toISOString(),
    });
  }

  #issuedHere(info: CertificateInfo): boolean {
    const ca = this.#intermediate.info;
    if (info.issuer.dn !== ca.subject.dn) return false;
    if (info.authorityKeyIdentifier && ca.subjectKeyIdentifier && info.authorityKeyIdentifier !== ca.subjectKeyIdentifier) return false;
    try {
      return new X509Certificate(info.der).verify(new X509Certificate(ca.der).publicKey);
    } catch {
      return false;
    }
  }

  /**
   * Whether the certificate with this serial number (hex, any case, colons
   * allowed) was revoked.
   *
   * @example
   * ```ts
   * if (ca.isRevoked(parseCertificate(pem).serialNumber)) reject()
   * ```
   */
  isRevoked(serial: string): boolean {
    return this.#revoked.has(normalizeSerial(serial));
  }

  /** The recorded revocations, oldest first. */
  get revocations(): readonly LocalAuthorityRevocation[] {
    return [...this.#revoked.values()];
  }

  /**
   * A CRL (PEM, `X509 CRL`) of every revoked certificate, signed by the
   * intermediate, valid from now for `validityMs` (default 7 days). Each call
   * takes the next CRL number, which {@link LocalAuthority.toJSON} keeps: persist
   * the state after publishing a CRL.
   *
   * @throws {@link AuthorityError} `unavailable` when the CA key cannot sign.
   * @example
   * ```ts
   * await writeFile('/srv/pki/local.crl', await ca.crl())
   * ```
   */
  async crl(options: LocalCrlOptions = {}): Promise<string> {
    const validityMs = checkLifetime('validityMs', options.validityMs, DEFAULTS.crlValidityMs);
    const x509 = await this.#lib();
    const now = this.#clock.now();
    const number = this.#crlNumber + 1;
    let crl: InstanceType<X509['X509Crl']>;
    try {
      crl = await x509.X509CrlGenerator.create(
        {
          issuer: new x509.Name(subjectDer(this.#intermediate.info)),
          thisUpdate: now,
          nextUpdate: new Date(now.getTime() + validityMs),
          signingKey: this.#signer.privateKey,
          signingAlgorithm: { ...signingAlgorithmFor(this.#signer.algorithm) },
          extensions: [
            ...(this.#intermediate.info.subjectKeyIdentifier
              ? [new x509.AuthorityKeyIdentifierExtension(this.#intermediate.info.subjectKeyIdentifier, false)]
              : []),
            new x509.Extension('2.5.29.20', false, derInteger(number)),
          ],
          entries: [...this.#revoked.values()].map((r) => ({
            serialNumber: r.serial.length % 2 ? `0${r.serial}` : r.serial,
            revocationDate: new Date(r.revokedAt),
            reason: CRL_REASON_CODES[r.reason],
          })),
        },
        this.#signer.crypto,
      );
    } catch (e) {
      throw new AuthorityError('unavailable', `the local CA key could not sign a CRL: ${(e as Error).message}`, { retryable: true, cause: e });
    }
    this.#crlNumber = number;
    return toPem(new Uint8Array(crl.rawData), 'X509 CRL');
  }

  /**
   * The JSON-safe state: certificates, key references (never keys), leaf
   * policy, revocations and the CRL number. `JSON.stringify(ca)` calls it.
   *
   * @example
   * ```ts
   * await store.put('local-ca', JSON.stringify(ca))
   * ```
   */
  toJSON(): LocalAuthorityState {
    return {
      format: STATE_FORMAT,
      version: 1,
      name: this.#name,
      root: { certificatePem: this.#root.pem, key: this.#root.ref },
      intermediate: { certificatePem: this.#intermediate.pem, key: this.#intermediate.ref },
      defaultLeafLifetimeMs: this.#defaultLeafLifetimeMs,
      maxLeafLifetimeMs: this.#maxLeafLifetimeMs,
      revoked: this.revocations,
      crlNumber: this.#crlNumber,
    };
  }
}

/** Runs a signing step; a failure of the key (not of certsteward) becomes a {@link KeyError}. */
async function sign<T>(key: KeyHandle, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isCertstewardError(e)) throw e;
    throw new KeyError(`the ${key.algorithm} key "${key.ref.id}" could not sign: ${(e as Error).message}`, { cause: e });
  }
}

function normalizeSerial(serial: string): string {
  const hex = String(serial).toLowerCase().replace(/[:\s]/g, '');
  const stripped = hex.replace(/^(00)+(?=.)/, '');
  return stripped;
}

/** DER INTEGER of a non-negative safe integer. */
function derInteger(n: number): Uint8Array<ArrayBuffer> {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return Uint8Array.from([0x02, bytes.length, ...bytes]);
}

function isKeyRef(v: unknown): v is KeyRef {
  const r = v as KeyRef | undefined;
  return typeof r === 'object' && r !== null && typeof r.store === 'string' && typeof r.id === 'string' && typeof r.algorithm === 'string';
}

function checkState(state: LocalAuthorityState): void {
  const s = state as Partial<LocalAuthorityState> | undefined;
  const bad = (what: string): never => {
    throw new ConfigError('state', '(local CA state)', `not a local CA state: ${what} (pass what LocalAuthority.toJSON() returned)`);
  };
  if (typeof s !== 'object' || s === null) bad(`got ${s === null ? 'null' : typeof s}`);
  if (s!.format !== STATE_FORMAT) bad(`format is ${JSON.stringify(s!.format)}, expected "${STATE_FORMAT}"`);
  if (s!.version !== 1) bad(`version ${JSON.stringify(s!.version)} is not supported (this version reads 1)`);
  for (const which of ['root', 'intermediate'] as const) {
    const ca = s![which];
    if (!ca || typeof ca.certificatePem !== 'string' || !isKeyRef(ca.key)) bad(`${which} needs certificatePem and a key reference`);
  }
  if (typeof s!.name !== 'string') bad('name is missing');
  if (!Array.isArray(s!.revoked)) bad('revoked is not a list');
  if (typeof s!.crlNumber !== 'number' || !Number.isSafeInteger(s!.crlNumber) || s!.crlNumber < 0) bad('crlNumber is not a counter');
  if (typeof s!.defaultLeafLifetimeMs !== 'number' || typeof s!.maxLeafLifetimeMs !== 'number') bad('leaf lifetimes are missing');
}

/**
 * The "certificate already expired, serve something now" runbook step: a
 * self-signed certificate for `key`, valid from one minute before now for
 * `lifetimeMs` (default 7 days), with the given names, CA:false, key usage
 * digitalSignature (+ keyEncipherment for RSA) and extended key usage
 * serverAuth + clientAuth. Clients must be told to trust it explicitly; it
 * buys time, it does not replace a real renewal.
 *
 * @returns The certificate, PEM.
 * @throws {@link ConfigError} for missing names or an invalid lifetime.
 * @throws {@link KeyError} when the key cannot sign.
 * @example
 * ```ts
 * const pem = await emergencySelfSigned({ key, commonName: 'api.example.com',
 *   subjectAltNames: [{ type: 'dns', value: 'api.example.com' }], clock: systemClock })
 * server.setSecureContext({ cert: pem, key: keyPem })
 * ```
 */
export async function emergencySelfSigned(options: EmergencySelfSignedOptions): Promise<string> {
  const { key, commonName, subjectAltNames, clock } = options;
  if (!Array.isArray(subjectAltNames) || (subjectAltNames.length === 0 && !commonName)) {
    throw new ConfigError('subjectAltNames', subjectAltNames, 'an emergency certificate needs at least one name: give subjectAltNames or a commonName');
  }
  const lifetimeMs = checkLifetime('lifetimeMs', options.lifetimeMs, DEFAULTS.emergencyLifetimeMs);
  // RFC 5280 forbids an empty issuer, and here the issuer is the subject: name it after the first SAN if need be.
  const cn = commonName || subjectAltNames[0]!.value;
  const x509 = await import('@peculiar/x509');
  const spki = await exportSpki(key);
  let extensions: InstanceType<X509['Extension']>[];
  try {
    extensions = await endEntityExtensions(x509, {
      names: subjectAltNames,
      rsa: key.algorithm.startsWith('RSA-'),
      spki,
      emptySubject: false,
    });
  } catch (e) {
    throw new ConfigError('subjectAltNames', subjectAltNames, `cannot encode the names: ${(e as Error).message}`, { cause: e });
  }
  const name = new x509.Name([{ CN: [cn] }]);
  const notBefore = startFrom(clock.now());
  const cert = await sign(key, () =>
    x509.X509CertificateGenerator.create(
      {
        serialNumber: newSerial(options.randomBytes ?? defaultRandomBytes),
        subject: name,
        issuer: name,
        notBefore,
        notAfter: new Date(notBefore.getTime() + lifetimeMs),
        publicKey: spki,
        signingKey: key.privateKey,
        signingAlgorithm: { ...signingAlgorithmFor(key.algorithm) },
        extensions,
      },
      key.crypto,
    ),
  );
  return pemOf(cert);
}
