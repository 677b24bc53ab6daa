/**
 * The fleet-scan fast path: read only a certificate's validity window.
 *
 * @module
 */
import { CertificateParseError, isCertstewardError } from '../errors.js';
import { Tag, readTlv } from './der.js';
import { certificateDers, isDerInput } from './certificate.js';
import { classifyDer, notACertificate } from './pem.js';
import { NO_WELL_DEFINED_EXPIRATION_MS, decodeTime } from './time.js';

/** A certificate's validity window. */
export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** notAfter is 99991231235959Z ("no well-defined expiration"). */
  readonly noWellDefinedExpiration: boolean;
  /** False when either time uses an encoding RFC 5280 forbids (read as OpenSSL reads it). */
  readonly standard: boolean;
}

function mismatch(pos: number, what: string, tag: number): CertificateParseError {
  return new CertificateParseError(
    'malformed-der',
    `expected ${what} at offset ${pos}, found tag 0x${tag.toString(16).padStart(2, '0')}`,
    { offset: pos },
  );
}

/**
 * Reads notBefore and notAfter by skipping straight to the validity field:
 * no names, extensions or hashes are decoded. Gives the same dates as
 * {@link parseCertificate} on every certificate the full parser reads.
 *
 * DER input takes the fast path; PEM is decoded first (base64 is then most of
 * the cost).
 *
 * @throws {@link CertificateParseError} as {@link parseCertificate} does.
 * @example
 * ```ts
 * const { notAfter } = readValidity(row.der)
 * if (notAfter.getTime() - Date.now() < 7 * 86_400_000) alert(row.id)
 * ```
 */
export function readValidity(input: Uint8Array | string): Validity {
  const der = typeof input !== 'string' && isDerInput(input) ? input : certificateDers(input)[0]!;
  try {
    return fastValidity(der);
  } catch (e) {
    // Say what a DER non-certificate is, as parseCertificate does.
    if (isCertstewardError(e, 'certificate-parse') && e.reason === 'malformed-der') {
      const found = classifyDer(der);
      if (found !== 'unknown') throw notACertificate(found);
    }
    throw e;
  }
}

function fastValidity(der: Uint8Array): Validity {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== Tag.SEQUENCE) throw mismatch(0, 'Certificate', cert.tag);
  const tbs = readTlv(der, cert.contentStart, cert.end);
  if (tbs.tag !== Tag.SEQUENCE) throw mismatch(cert.contentStart, 'TBSCertificate', tbs.tag);
  let t = readTlv(der, tbs.contentStart, tbs.end);
  if (t.tag === 0xa0) t = readTlv(der, t.end, tbs.end);
  if (t.tag !== Tag.INTEGER) throw mismatch(t.start, 'serialNumber', t.tag);
  t = readTlv(der, t.end, tbs.end); // signature
  if (t.tag !== Tag.SEQUENCE) throw mismatch(t.start, 'signature', t.tag);
  t = readTlv(der, t.end, tbs.end); // issuer
  if (t.tag !== Tag.SEQUENCE) throw mismatch(t.start, 'issuer', t.tag);
  const validity = readTlv(der, t.end, tbs.end);
  if (validity.tag !== Tag.SEQUENCE) throw mismatch(validity.start, 'validity', validity.tag);
  const nb = readTlv(der, validity.contentStart, validity.end);
  const na = readTlv(der, nb.end, validity.end);
  const before = decodeTime(der, nb.tag, nb.contentStart, nb.end);
  const after = decodeTime(der, na.tag, na.contentStart, na.end);
  return {
    notBefore: new Date(before.ms),
    notAfter: new Date(after.ms),
    noWellDefinedExpiration: after.ms === NO_WELL_DEFINED_EXPIRATION_MS,
    standard: before.standard && after.standard,
  };
}
