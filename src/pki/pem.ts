/**
 * PEM (RFC 7468) reading and writing, and telling what an input is.
 *
 * @module
 */
import { CertificateParseError, type FoundObject } from '../errors.js';
import { Tag, children, readTlv } from './der.js';
import { decodeOid } from './oid.js';

/** One PEM block. */
export interface PemBlock {
  /** The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`. */
  readonly label: string;
  /** The decoded body. */
  readonly der: Uint8Array;
}

const BEGIN = '-----BEGIN ';
/** 1 for the 64 base64 alphabet characters, by char code. */
const B64 = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') B64[ch.charCodeAt(0)] = 1;

/** PEM labels that hold an X.509 certificate. */
export const CERTIFICATE_LABELS: ReadonlySet<string> = new Set([
  'CERTIFICATE',
  'X509 CERTIFICATE',
  'TRUSTED CERTIFICATE',
]);

/** What a non-certificate PEM label holds. */
export function labelKind(label: string): FoundObject | 'certificate' {
  if (CERTIFICATE_LABELS.has(label)) return 'certificate';
  if (label === 'CERTIFICATE REQUEST' || label === 'NEW CERTIFICATE REQUEST') return 'certificate-request';
  if (label === 'ENCRYPTED PRIVATE KEY') return 'encrypted-private-key';
  if (label.endsWith('PRIVATE KEY')) return 'private-key';
  if (label.endsWith('PUBLIC KEY')) return 'public-key';
  if (label === 'X509 CRL') return 'crl';
  if (label === 'PKCS7' || label === 'CMS') return 'pkcs7';
  return 'unknown';
}

/**
 * Every PEM block in `text`, in order, with text around and between blocks
 * ignored (as in `openssl x509 -text` output).
 * @throws {@link CertificateParseError} `truncated` for a block without its END
 *   line, `bad-base64` for a body that is not base64.
 */
export function readPemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let pos = 0;
  for (;;) {
    const b = text.indexOf(BEGIN, pos);
    if (b < 0) return blocks;
    const labelEnd = text.indexOf('-----', b + BEGIN.length);
    const eol = text.indexOf('\n', b);
    if (labelEnd < 0 || (eol >= 0 && labelEnd > eol)) {
      throw new CertificateParseError('truncated', `PEM BEGIN line at character ${b} is not closed by dashes`);
    }
    const label = text.slice(b + BEGIN.length, labelEnd);
    const endLine = `-----END ${label}-----`;
    const bodyStart = labelEnd + 5;
    const e = text.indexOf(endLine, bodyStart);
    const nextBegin = text.indexOf(BEGIN, bodyStart);
    if (e < 0 || (nextBegin >= 0 && nextBegin < e)) {
      throw new CertificateParseError('truncated', `PEM block "${label}" has no "${endLine}" line: the input was cut`, {
        found: blockFound(label),
      });
    }
    blocks.push({ label, der: decodeBody(text.slice(bodyStart, e), label) });
    pos = e + endLine.length;
  }
}

function blockFound(label: string): FoundObject | undefined {
  const k = labelKind(label);
  return k === 'certificate' ? undefined : k;
}

function decodeBody(body: string, label: string): Uint8Array {
  // RFC 1421 encapsulated headers ("Proc-Type: …") end at the first blank line.
  let b = body;
  if (b.includes(':')) {
    const blank = b.search(/\r?\n[ \t]*\r?\n/);
    if (blank >= 0 && b.slice(0, blank).includes(':')) b = b.slice(blank);
  }
  // One pass: every character must be base64 or white space, '=' only at the end.
  let count = 0;
  let pad = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x3d) {
      pad++;
    } else if (pad > 0 || c > 0x7f || B64[c] === 0) {
      const what = pad > 0 && B64[c] === 1 ? `"=" padding appears before the end of the body` : `character ${JSON.stringify(b[i])} is not base64`;
      throw new CertificateParseError('bad-base64', `PEM block "${label}": ${what}`, { found: blockFound(label) });
    }
    count++;
  }
  if (count === 0) {
    throw new CertificateParseError('empty', `PEM block "${label}" has an empty body`, { found: blockFound(label) });
  }
  if (count % 4 !== 0 || pad > 2) {
    throw new CertificateParseError(
      'bad-base64',
      `PEM block "${label}": ${count} characters is not a whole number of base64 quanta`,
      { found: blockFound(label) },
    );
  }
  const buf = Buffer.from(b, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** PEM-encodes DER with 64-character lines. */
export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let out = `-----BEGIN ${label}-----\n`;
  for (let i = 0; i < b64.length; i += 64) out += b64.slice(i, i + 64) + '\n';
  return out + `-----END ${label}-----\n`;
}

/**
 * Best-effort guess at what a DER structure that is not a certificate is, so
 * errors can say "this is a private key" instead of "malformed".
 */
export function classifyDer(der: Uint8Array): FoundObject {
  try {
    const top = readTlv(der, 0, der.length);
    if (top.tag !== Tag.SEQUENCE) return 'unknown';
    const kids = children(der, top);
    const [a, b, c] = kids;
    if (!a) return 'unknown';
    if (a.tag === Tag.OID) {
      const oid = decodeOid(der, a);
      return oid.startsWith('1.2.840.113549.1.7.') ? 'pkcs7' : 'unknown';
    }
    if (a.tag === Tag.INTEGER && b) {
      const v = der[a.contentStart];
      // PKCS#12 PFX: version 3, then a ContentInfo.
      if (v === 3 && b.tag === Tag.SEQUENCE) return 'pkcs12';
      // PKCS#8 (v0/v1) with AlgorithmIdentifier and OCTET STRING key.
      if (b.tag === Tag.SEQUENCE && c?.tag === Tag.OCTET_STRING) return 'private-key';
      // SEC1 EC private key: version 1, OCTET STRING.
      if (b.tag === Tag.OCTET_STRING) return 'private-key';
      // PKCS#1 RSA private key: version, n, e, d, …
      if (b.tag === Tag.INTEGER && kids.length >= 9) return 'private-key';
      return 'unknown';
    }
    if (a.tag === Tag.SEQUENCE && b?.tag === Tag.BIT_STRING && kids.length === 2) return 'public-key';
    if (a.tag === Tag.SEQUENCE && b?.tag === Tag.OCTET_STRING && kids.length === 2) return 'encrypted-private-key';
    if (a.tag === Tag.SEQUENCE && b?.tag === Tag.SEQUENCE && c?.tag === Tag.BIT_STRING) {
      const inner = children(der, a);
      // CertificationRequestInfo: INTEGER version, Name, SubjectPublicKeyInfo, [0] attributes.
      if (inner[0]?.tag === Tag.INTEGER && inner[1]?.tag === Tag.SEQUENCE && inner[3]?.tag === 0xa0) {
        return 'certificate-request';
      }
      // TBSCertList: [version,] AlgorithmIdentifier, Name, thisUpdate Time, …
      const i = inner[0]?.tag === Tag.INTEGER ? 1 : 0;
      const t = inner[i + 2]?.tag;
      if (inner[i]?.tag === Tag.SEQUENCE && (t === Tag.UTC_TIME || t === Tag.GENERALIZED_TIME)) return 'crl';
    }
    return 'unknown';
  } catch {
    return 'unknown';
  }
}

const FOUND_TEXT: Record<FoundObject, string> = {
  'certificate-request': 'a certificate signing request (CSR)',
  'private-key': 'a private key',
  'encrypted-private-key': 'an encrypted private key',
  'public-key': 'a public key',
  crl: 'a certificate revocation list',
  pkcs7: 'a PKCS#7/CMS structure',
  pkcs12: 'a PKCS#12 (PFX) archive',
  text: 'text without any PEM block',
  unknown: 'something that is not a certificate',
};

/** The `not-a-certificate` error for what was found instead. */
export function notACertificate(found: FoundObject, where = 'input'): CertificateParseError {
  const hint =
    found === 'private-key' || found === 'encrypted-private-key'
      ? ' (keep private keys out of certificate files)'
      : found === 'certificate-request'
        ? ' (a CSR becomes a certificate only once a CA signs it)'
        : '';
  return new CertificateParseError('not-a-certificate', `${where} is ${FOUND_TEXT[found]}, not a certificate${hint}`, {
    found,
  });
}
