/**
 * The certificates in a file's bytes, one verdict per certificate, telling
 * "this file holds no certificate" (a key, a CSR, text, binary) apart from
 * "this certificate is broken".
 *
 * @module
 */
import { isCertstewardError, parseCertificate, parseCertificates, readPemBlocks } from '../index.js';
import type { CertificateInfo, CertificateParseError } from '../index.js';

/** One certificate of a file: read, or broken with the parser's message. */
export type CertificateReading =
  | { readonly index: number; readonly cert: CertificateInfo }
  | { readonly index: number; readonly error: string };

/** What a file holds. */
export type FileReading =
  /** At least one certificate (some may be broken). */
  | { readonly kind: 'certificates'; readonly items: readonly CertificateReading[] }
  /**
   * No certificate at all; `reason` says what is there instead. `holds` is
   * `object` when the content is recognisably something else (a key, a CSR,
   * a CRL), else what little is known: `empty`, `text`, `binary`.
   */
  | { readonly kind: 'no-certificate'; readonly holds: 'object' | 'empty' | 'text' | 'binary'; readonly reason: string }
  /** Looks like a certificate but cannot be read. */
  | { readonly kind: 'unreadable'; readonly reason: string };

const BEGIN = '-----BEGIN ';
const SEQUENCE = 0x30;

function isPrintableText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 4096);
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c < 0x09 || (c > 0x0d && c < 0x20) || c === 0x7f) return false;
  }
  return true;
}

/**
 * Reads every certificate in `bytes` (a PEM bundle, one DER certificate, or
 * concatenated DER).
 *
 * A PEM file is first read whole by `parseCertificates`; if that fails, each
 * `BEGIN` block is read on its own so that one cut certificate, or a broken
 * key block next to the certificates, does not hide the others. Indexes count
 * certificate blocks only, as `parseCertificates` does.
 *
 * @example
 * ```ts
 * const r = readCertificateBytes(readFileSync('fullchain.pem'))
 * if (r.kind === 'certificates') for (const it of r.items) if ('cert' in it) console.log(it.index, it.cert.subject.dn)
 * ```
 */
export function readCertificateBytes(bytes: Uint8Array): FileReading {
  let err: CertificateParseError;
  try {
    const certs = parseCertificates(bytes);
    return { kind: 'certificates', items: certs.map((cert, index) => ({ index, cert })) };
  } catch (e) {
    if (!isCertstewardError(e, 'certificate-parse')) throw e;
    err = e;
  }
  if (bytes.length === 0) return { kind: 'no-certificate', holds: 'empty', reason: 'the file is empty' };
  const text = isPrintableText(bytes) ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1') : undefined;
  if (text !== undefined && text.includes(BEGIN)) return readPemBlockByBlock(text, err);
  if (err.reason === 'empty') return { kind: 'no-certificate', holds: 'empty', reason: err.message };
  if (err.reason === 'not-a-certificate') {
    const holds = err.found === 'text' ? 'text' : err.found === 'unknown' || err.found === undefined ? 'binary' : 'object';
    return { kind: 'no-certificate', holds, reason: err.message };
  }
  // The parser takes any input that starts with 0x30 for DER, and "0" is 0x30:
  // a text file such as an OpenSSL `serial` file ("01") is text, not a broken certificate.
  if (text !== undefined) return { kind: 'no-certificate', holds: 'text', reason: 'the file is text without any PEM block' };
  if (bytes[0] !== SEQUENCE) return { kind: 'no-certificate', holds: 'binary', reason: 'the file is binary data, neither PEM nor DER' };
  return { kind: 'unreadable', reason: err.message };
}

/** Certificate PEM labels: `CERTIFICATE`, `X509 CERTIFICATE`, `TRUSTED CERTIFICATE` (not `CERTIFICATE REQUEST`). */
const CERTIFICATE_LABEL = /(?:^|\s)CERTIFICATE$/;

function readPemBlockByBlock(text: string, wholeError: CertificateParseError): FileReading {
  const items: CertificateReading[] = [];
  const others: string[] = [];
  let index = 0;
  for (let at = text.indexOf(BEGIN); at >= 0; ) {
    const next = text.indexOf(BEGIN, at + BEGIN.length);
    const segment = text.slice(at, next < 0 ? undefined : next);
    at = next;
    try {
      for (const block of readPemBlocks(segment)) {
        if (!CERTIFICATE_LABEL.test(block.label)) {
          others.push(`the file holds a PEM block "${block.label}", not a certificate`);
          continue;
        }
        try {
          items.push({ index, cert: parseCertificate(block.der) });
        } catch (e) {
          if (!isCertstewardError(e, 'certificate-parse')) throw e;
          items.push({ index, error: `PEM block "${block.label}": ${e.message}` });
        }
        index++;
      }
    } catch (e) {
      if (!isCertstewardError(e, 'certificate-parse')) throw e;
      // A broken block labelled as something else (a key) is not a certificate.
      if (e.found !== undefined) others.push(e.message);
      else items.push({ index: index++, error: e.message });
    }
  }
  if (items.length > 0) return { kind: 'certificates', items };
  const reason = wholeError.reason === 'not-a-certificate' ? wholeError.message : (others[0] ?? wholeError.message);
  return { kind: 'no-certificate', holds: others.length > 0 ? 'object' : 'text', reason };
}
