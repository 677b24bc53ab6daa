/**
 * X.509 certificates from bytes to plain data.
 *
 * The parser walks the DER once with bounds checks and builds a plain
 * {@link CertificateInfo}; it does not build an ASN.1 tree, which is why it is
 * an order of magnitude faster than the general-purpose parsers on npm.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { CertificateParseError, isCertstewardError } from '../errors.js';
import { Tag, expect, integerBits, integerHex, readTlv, smallInteger, type Tlv } from './der.js';
import { decodeExtensions, type ExtensionInfo, type KeyUsage } from './extensions.js';
import type { GeneralName } from './general-name.js';
import { decodeName, type DistinguishedName } from './name.js';
import { CURVES, KEY_ALGORITHMS, SIGNATURE_ALGORITHMS, decodeOid } from './oid.js';
import { CERTIFICATE_LABELS, classifyDer, labelKind, notACertificate, readPemBlocks } from './pem.js';
import { NO_WELL_DEFINED_EXPIRATION_MS, decodeTime } from './time.js';

/** The subject public key, described. */
export interface PublicKeyInfo {
  /** `RSA`, `EC`, `Ed25519`, `RSA-PSS`, `DSA`, … or the dotted OID. */
  readonly algorithm: string;
  readonly oid: string;
  /** Key size in bits (RSA modulus, curve size, DSA prime), when known. */
  readonly bits: number | undefined;
  /** Named curve for EC keys (`P-256` …), or its OID when unnamed. */
  readonly curve: string | undefined;
  /** SHA-256 (hex) of the SubjectPublicKeyInfo DER: the key's pin. */
  readonly sha256: string;
}

/**
 * Everything certsteward reads from a certificate, as plain data.
 *
 * Dates are `Date`s in UTC; hex strings are lowercase without separators.
 */
export interface CertificateInfo {
  /** X.509 version: 1, 2 or 3. */
  readonly version: number;
  /** Serial number as lowercase hex of its magnitude (`-` prefix if negative). */
  readonly serialNumber: string;
  readonly subject: DistinguishedName;
  readonly issuer: DistinguishedName;
  /** Subject alternative names in encoded order. */
  readonly subjectAltNames: readonly GeneralName[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** notAfter is 99991231235959Z: "no well-defined expiration date" (RFC 5280 §4.1.2.5). */
  readonly noWellDefinedExpiration: boolean;
  /** notAfter − notBefore in milliseconds. */
  readonly lifetimeMs: number;
  readonly fingerprints: { readonly sha256: string; readonly sha1: string };
  readonly publicKey: PublicKeyInfo;
  readonly signatureAlgorithm: { readonly name: string; readonly oid: string };
  /** basicConstraints cA. */
  readonly isCA: boolean;
  /** basicConstraints pathLenConstraint. */
  readonly pathLength: number | undefined;
  /** Key usages, or undefined when the extension is absent. */
  readonly keyUsage: readonly KeyUsage[] | undefined;
  /** Extended key usages by name (`serverAuth` …) or OID, or undefined when absent. */
  readonly extendedKeyUsage: readonly string[] | undefined;
  readonly subjectKeyIdentifier: string | undefined;
  readonly authorityKeyIdentifier: string | undefined;
  readonly ocspUrls: readonly string[];
  readonly caIssuerUrls: readonly string[];
  readonly crlUrls: readonly string[];
  /**
   * Subject equals issuer (byte for byte) and the key identifiers, when both
   * present, agree. Whether the signature verifies is {@link verifyChain}'s job.
   */
  readonly selfSigned: boolean;
  /** Every extension present, with its criticality. */
  readonly extensions: readonly ExtensionInfo[];
  /**
   * Things OpenSSL accepts but RFC 5280 does not (a time without seconds, an
   * offset, GeneralizedTime before 2050, a malformed extension).
   */
  readonly warnings: readonly string[];
  /** The certificate's DER (a copy of exactly its bytes). */
  readonly der: Uint8Array;
}

/** Positions of the fields of a certificate, found by {@link locateFields}. */
export interface CertificateFields {
  readonly cert: Tlv;
  readonly tbs: Tlv;
  readonly version: Tlv | undefined;
  readonly serial: Tlv;
  readonly issuer: Tlv;
  readonly validity: Tlv;
  readonly notBefore: Tlv;
  readonly notAfter: Tlv;
  readonly subject: Tlv;
  readonly spki: Tlv;
  readonly extensions: Tlv | undefined;
  readonly signatureAlgorithm: Tlv;
}

/**
 * Finds each field of the Certificate at `pos` without decoding any of them.
 * @throws {@link CertificateParseError} when the structure is not a certificate.
 */
export function locateFields(der: Uint8Array, pos = 0): CertificateFields {
  const cert = expect(der, pos, der.length, Tag.SEQUENCE, 'Certificate');
  const tbs = expect(der, cert.contentStart, cert.end, Tag.SEQUENCE, 'TBSCertificate');
  const signatureAlgorithm = expect(der, tbs.end, cert.end, Tag.SEQUENCE, 'signatureAlgorithm');
  expect(der, signatureAlgorithm.end, cert.end, Tag.BIT_STRING, 'signatureValue');
  let p = tbs.contentStart;
  let version: Tlv | undefined;
  const first = readTlv(der, p, tbs.end);
  if (first.tag === 0xa0) {
    version = first;
    p = first.end;
  }
  const serial = expect(der, p, tbs.end, Tag.INTEGER, 'serialNumber');
  const sig = expect(der, serial.end, tbs.end, Tag.SEQUENCE, 'signature');
  const issuer = expect(der, sig.end, tbs.end, Tag.SEQUENCE, 'issuer');
  const validity = expect(der, issuer.end, tbs.end, Tag.SEQUENCE, 'validity');
  const notBefore = readTlv(der, validity.contentStart, validity.end);
  const notAfter = readTlv(der, notBefore.end, validity.end);
  const subject = expect(der, validity.end, tbs.end, Tag.SEQUENCE, 'subject');
  const spki = expect(der, subject.end, tbs.end, Tag.SEQUENCE, 'subjectPublicKeyInfo');
  let extensions: Tlv | undefined;
  for (let q = spki.end; q < tbs.end; ) {
    const t = readTlv(der, q, tbs.end);
    if (t.tag === 0xa3) extensions = t;
    q = t.end;
  }
  return { cert, tbs, version, serial, issuer, validity, notBefore, notAfter, subject, spki, extensions, signatureAlgorithm };
}

function sameBytes(buf: Uint8Array, a: Tlv, b: Tlv): boolean {
  const len = a.end - a.start;
  if (len !== b.end - b.start) return false;
  for (let i = 0; i < len; i++) if (buf[a.start + i] !== buf[b.start + i]) return false;
  return true;
}

function sha(alg: 'sha256' | 'sha1', bytes: Uint8Array): string {
  return createHash(alg).update(bytes).digest('hex');
}

function describeKey(der: Uint8Array, spki: Tlv): PublicKeyInfo {
  const alg = expect(der, spki.contentStart, spki.end, Tag.SEQUENCE, 'AlgorithmIdentifier');
  const oidTlv = expect(der, alg.contentStart, alg.end, Tag.OID, 'algorithm');
  const oid = decodeOid(der, oidTlv);
  const algorithm = KEY_ALGORITHMS[oid] ?? oid;
  const keyBits = expect(der, alg.end, spki.end, Tag.BIT_STRING, 'subjectPublicKey');
  let bits: number | undefined;
  let curve: string | undefined;
  try {
    if (algorithm === 'RSA' || algorithm === 'RSA-PSS') {
      const seq = expect(der, keyBits.contentStart + 1, keyBits.end, Tag.SEQUENCE, 'RSAPublicKey');
      bits = integerBits(der, expect(der, seq.contentStart, seq.end, Tag.INTEGER, 'modulus'));
    } else if (algorithm === 'EC' && oidTlv.end < alg.end) {
      const params = readTlv(der, oidTlv.end, alg.end);
      if (params.tag === Tag.OID) {
        const c = decodeOid(der, params);
        curve = CURVES[c]?.name ?? c;
        bits = CURVES[c]?.bits;
      }
    } else if (algorithm === 'DSA' && oidTlv.end < alg.end) {
      const params = expect(der, oidTlv.end, alg.end, Tag.SEQUENCE, 'Dss-Parms');
      bits = integerBits(der, expect(der, params.contentStart, params.end, Tag.INTEGER, 'p'));
    } else if (algorithm === 'Ed25519' || algorithm === 'X25519') {
      bits = 256;
    } else if (algorithm === 'Ed448') {
      bits = 456;
    } else if (algorithm === 'X448') {
      bits = 448;
    }
  } catch (e) {
    if (!isCertstewardError(e, 'certificate-parse')) throw e;
  }
  return { algorithm, oid, bits, curve, sha256: sha('sha256', der.subarray(spki.start, spki.end)) };
}

/**
 * Parses the certificate whose DER starts at `pos` in `der`.
 * @internal — use {@link parseCertificate}.
 */
export function parseDerCertificate(der: Uint8Array, pos = 0): CertificateInfo {
  let f: CertificateFields;
  try {
    f = locateFields(der, pos);
  } catch (e) {
    if (isCertstewardError(e, 'certificate-parse') && e.reason !== 'truncated' && pos === 0) {
      const found = classifyDer(der);
      if (found !== 'unknown') throw notACertificate(found);
    }
    throw e;
  }
  // A real copy (Buffer#slice would share memory with the caller's buffer).
  const own = new Uint8Array(der.subarray(f.cert.start, f.cert.end));
  // Re-base every position onto `own` so that nothing keeps the input alive.
  const shift = f.cert.start;
  const at = (t: Tlv): Tlv => ({ tag: t.tag, start: t.start - shift, contentStart: t.contentStart - shift, end: t.end - shift });
  const version = f.version ? smallInteger(own, expect(own, at(f.version).contentStart, at(f.version).end, Tag.INTEGER, 'version')) + 1 : 1;
  const nb = at(f.notBefore);
  const na = at(f.notAfter);
  const before = decodeTime(own, nb.tag, nb.contentStart, nb.end);
  const after = decodeTime(own, na.tag, na.contentStart, na.end);
  const exts = decodeExtensions(own, f.extensions && at(f.extensions));
  const warnings: string[] = [];
  if (!before.standard) warnings.push('notBefore is not encoded as RFC 5280 requires');
  if (!after.standard) warnings.push('notAfter is not encoded as RFC 5280 requires');
  warnings.push(...exts.warnings);
  const subjectTlv = at(f.subject);
  const issuerTlv = at(f.issuer);
  const sigAlg = at(f.signatureAlgorithm);
  const sigOid = decodeOid(own, expect(own, sigAlg.contentStart, sigAlg.end, Tag.OID, 'signature algorithm'));
  const selfSigned =
    sameBytes(own, subjectTlv, issuerTlv) &&
    (exts.authorityKeyIdentifier === undefined ||
      exts.subjectKeyIdentifier === undefined ||
      exts.authorityKeyIdentifier === exts.subjectKeyIdentifier);
  return {
    version,
    serialNumber: integerHex(own, at(f.serial)),
    subject: decodeName(own, subjectTlv),
    issuer: decodeName(own, issuerTlv),
    subjectAltNames: exts.subjectAltNames,
    notBefore: new Date(before.ms),
    notAfter: new Date(after.ms),
    noWellDefinedExpiration: after.ms === NO_WELL_DEFINED_EXPIRATION_MS,
    lifetimeMs: after.ms - before.ms,
    fingerprints: { sha256: sha('sha256', own), sha1: sha('sha1', own) },
    publicKey: describeKey(own, at(f.spki)),
    signatureAlgorithm: { name: SIGNATURE_ALGORITHMS[sigOid] ?? sigOid, oid: sigOid },
    isCA: exts.isCA,
    pathLength: exts.pathLength,
    keyUsage: exts.keyUsage,
    extendedKeyUsage: exts.extendedKeyUsage,
    subjectKeyIdentifier: exts.subjectKeyIdentifier,
    authorityKeyIdentifier: exts.authorityKeyIdentifier,
    ocspUrls: exts.ocspUrls,
    caIssuerUrls: exts.caIssuerUrls,
    crlUrls: exts.crlUrls,
    selfSigned,
    extensions: exts.extensions,
    warnings,
    der: own,
  };
}

/** Certificate input: PEM text, DER bytes, or the bytes of a PEM file. */
export type CertificateInput = string | Uint8Array;

const DASHES = 0x2d;

/**
 * The DER certificates in `input`: PEM blocks (text around them ignored) or
 * one or more concatenated DER certificates. Non-certificate PEM blocks are
 * skipped; if nothing is a certificate the error says what was found.
 * @internal
 */
export function certificateDers(input: CertificateInput): Uint8Array[] {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new CertificateParseError('not-a-certificate', `expected a string or Uint8Array, got ${describeType(input)}`, {
      found: 'unknown',
    });
  }
  if (input.length === 0) throw new CertificateParseError('empty', 'the input is empty');
  if (typeof input !== 'string') {
    let i = 0;
    while (i < input.length && (input[i] === 0x20 || input[i] === 0x0a || input[i] === 0x0d || input[i] === 0x09)) i++;
    if (i === input.length) throw new CertificateParseError('empty', 'the input holds only white space');
    const text = looksLikeText(input);
    if (input[0] === Tag.SEQUENCE && !text) return [input];
    if (!text) {
      throw new CertificateParseError(
        'malformed-der',
        `the input is neither PEM text nor DER (it starts with byte 0x${input[0]!.toString(16).padStart(2, '0')}, not a SEQUENCE)`,
        { offset: 0 },
      );
    }
    return fromText(Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1'));
  }
  if (input.trim().length === 0) throw new CertificateParseError('empty', 'the input holds only white space');
  return fromText(input);
}

/**
 * Whether bytes are DER rather than the bytes of a PEM file. One rule for
 * every reader, so they all agree on what an input is.
 * @internal
 */
export function isDerInput(b: Uint8Array): boolean {
  return b[0] === Tag.SEQUENCE && !looksLikeText(b);
}

/** Printable up to the first dashes (or the first 512 bytes): PEM text, not DER. */
function looksLikeText(b: Uint8Array): boolean {
  const n = Math.min(b.length, 512);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === DASHES) return true;
    if (c < 0x09 || (c > 0x0d && c < 0x20)) return false;
  }
  return true;
}

function fromText(text: string): Uint8Array[] {
  const blocks = readPemBlocks(text);
  if (blocks.length === 0) throw notACertificate('text');
  const certs = blocks.filter((b) => CERTIFICATE_LABELS.has(b.label)).map((b) => b.der);
  if (certs.length === 0) {
    const kind = labelKind(blocks[0]!.label);
    throw notACertificate(kind === 'certificate' ? 'unknown' : kind, `the PEM block "${blocks[0]!.label}"`);
  }
  return certs;
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/**
 * Parses one certificate: PEM (text around the block is ignored), DER, or the
 * bytes of a PEM file. From a bundle, the first certificate is returned.
 *
 * @throws {@link CertificateParseError} with a `reason` (and `found` for
 *   `not-a-certificate`).
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs'
 * const info = parseCertificate(readFileSync('server.pem'))
 * console.log(info.subject.dn, info.notAfter.toISOString(), info.fingerprints.sha256)
 * ```
 */
export function parseCertificate(input: CertificateInput): CertificateInfo {
  return parseDerCertificate(certificateDers(input)[0]!);
}

/**
 * Parses every certificate in a bundle (PEM blocks, or concatenated DER), in
 * the order given.
 *
 * @throws {@link CertificateParseError} when any certificate is unreadable or
 *   none is present.
 * @example
 * ```ts
 * const chain = parseCertificates(readFileSync('fullchain.pem'))
 * chain.forEach(c => console.log(c.subject.dn))
 * ```
 */
export function parseCertificates(input: CertificateInput): CertificateInfo[] {
  const out: CertificateInfo[] = [];
  for (const der of certificateDers(input)) {
    if (typeof input !== 'string' && der === input) {
      // Concatenated DER: walk the top-level elements.
      for (let p = 0; p < der.length; ) {
        const info = parseDerCertificate(p === 0 ? der : der.subarray(p));
        out.push(info);
        p += info.der.length;
      }
    } else {
      out.push(parseDerCertificate(der));
    }
  }
  return out;
}
