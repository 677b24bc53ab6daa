/**
 * Every CertificateParseError reason, each from an input someone could really
 * hand us: files cut in transit, keys and CSRs in the wrong place, CRLs, text.
 * Keys, CSRs and certificates are made by the openssl CLI in a temp dir.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateParseError,
  isCertstewardError,
  parseCertificate,
  parseCertificates,
  readValidity,
  type CertificateParseReason,
  type FoundObject,
} from '../../../src/index.js';
import { pemToDer, splitPem, zlintCrlFiles } from './corpus.js';
import { opensslOk } from './openssl-cli.js';

let dir = '';
const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
const readBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(join(dir, name)));

/** Fixtures made by openssl: the file names below, in `dir`. */
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'certsteward-errors-'));
  const run = (...args: string[]): string => opensslOk(args, dir);
  run('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-keyout', 'key.pem', '-out', 'csr.pem');
  run('req', '-in', 'csr.pem', '-outform', 'DER', '-out', 'csr.der');
  run('pkey', '-in', 'key.pem', '-outform', 'DER', '-out', 'key.der');
  run('ec', '-in', 'key.pem', '-out', 'ec-key.pem');
  run('ec', '-in', 'key.pem', '-outform', 'DER', '-out', 'ec-key.der');
  run('genrsa', '-traditional', '-out', 'rsa-key.pem', '2048');
  run('rsa', '-in', 'rsa-key.pem', '-outform', 'DER', '-traditional', '-out', 'rsa-key.der');
  run('pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-passout', 'pass:secret', '-in', 'key.pem', '-out', 'enc-key.pem');
  run('pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-passout', 'pass:secret', '-in', 'key.pem', '-outform', 'DER', '-out', 'enc-key.der');
  run('pkey', '-in', 'key.pem', '-pubout', '-out', 'pub.pem');
  run('pkey', '-in', 'key.pem', '-pubout', '-outform', 'DER', '-out', 'pub.der');
  run('req', '-x509', '-key', 'key.pem', '-subj', '/CN=one', '-days', '30', '-out', 'cert.pem');
  run('req', '-x509', '-key', 'key.pem', '-subj', '/CN=two', '-days', '60', '-out', 'cert2.pem');
  run('x509', '-in', 'cert.pem', '-outform', 'DER', '-out', 'cert.der');
  run('x509', '-in', 'cert2.pem', '-outform', 'DER', '-out', 'cert2.der');
  run('x509', '-in', 'cert.pem', '-addtrust', 'serverAuth', '-trustout', '-out', 'trusted.pem');
  run('crl2pkcs7', '-nocrl', '-certfile', 'cert.pem', '-out', 'p7.pem');
  run('crl2pkcs7', '-nocrl', '-certfile', 'cert.pem', '-outform', 'DER', '-out', 'p7.der');
  run('pkcs12', '-export', '-in', 'cert.pem', '-inkey', 'key.pem', '-passout', 'pass:secret', '-out', 'bundle.p12');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The CertificateParseError that `fn` throws (fails the test for any other outcome). */
function parseError(fn: () => unknown): CertificateParseError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error('expected a CertificateParseError, but nothing was thrown');
  if (!(thrown instanceof CertificateParseError)) throw thrown;
  return thrown;
}

/**
 * Asserts that parseCertificate and parseCertificates fail with `reason` (and
 * `found`), and readValidity too unless `fastPath` is false (it skips the
 * fields after the validity, so it cannot see a defect there).
 */
function expectRejected(
  input: string | Uint8Array,
  reason: CertificateParseReason,
  found?: FoundObject,
  fastPath = true,
): CertificateParseError {
  const e = parseError(() => parseCertificate(input));
  expect({ reason: e.reason, found: e.found }).toEqual({ reason, found });
  const others = fastPath ? [() => parseCertificates(input), () => readValidity(input)] : [() => parseCertificates(input)];
  for (const other of others) {
    const o = parseError(other);
    expect({ reason: o.reason, found: o.found }).toEqual({ reason, found });
  }
  return e;
}

const sha256 = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');

/** Minimal TLV header reader, independent of src: [tag, header length, content length]. */
function header(buf: Uint8Array, pos: number): { tag: number; hdr: number; len: number } {
  const first = buf[pos + 1]!;
  if (first < 0x80) return { tag: buf[pos]!, hdr: 2, len: first };
  const n = first & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[pos + 2 + i]!;
  return { tag: buf[pos]!, hdr: 2 + n, len };
}

/** Rewrites the length of the element at `pos` in place, keeping the number of length octets. */
function setLength(buf: Uint8Array, pos: number, len: number): void {
  const first = buf[pos + 1]!;
  if (first < 0x80) {
    if (len >= 0x80) throw new Error('does not fit a short-form length');
    buf[pos + 1] = len;
    return;
  }
  const n = first & 0x7f;
  for (let i = n - 1, v = len; i >= 0; i--, v = Math.floor(v / 256)) buf[pos + 2 + i] = v & 0xff;
}

describe('reason "empty"', () => {
  it('is given for an empty string', () => expectRejected('', 'empty'));
  it('is given for an empty Uint8Array', () => expectRejected(new Uint8Array(0), 'empty'));
  it('is given for a string of white space', () => expectRejected(' \n\t\r\n  ', 'empty'));
  it('is given for bytes that are only white space', () => expectRejected(new Uint8Array([0x20, 0x0a, 0x0d, 0x09]), 'empty'));
  it('is given for a PEM block with no body', () => {
    expectRejected('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', 'empty');
  });
});

describe('reason "bad-base64"', () => {
  it('is given when a "!" sits inside a certificate body', () => {
    const lines = read('cert.pem').split('\n');
    lines[2] = lines[2]!.slice(0, 10) + '!' + lines[2]!.slice(11);
    expectRejected(lines.join('\n'), 'bad-base64');
  });

  it('is given when a body line lost characters (not a whole number of base64 quanta)', () => {
    const lines = read('cert.pem').split('\n');
    lines[1] = lines[1]!.slice(0, 61);
    expectRejected(lines.join('\n'), 'bad-base64');
  });
});

describe('reason "truncated"', () => {
  it('is given for a PEM block whose END line is missing', () => {
    const pem = read('cert.pem');
    expectRejected(pem.slice(0, pem.indexOf('-----END')), 'truncated');
  });

  it('is given for a PEM block cut before its END line when another block follows (a damaged fullchain.pem)', () => {
    const first = read('cert.pem');
    const cut = first.slice(0, first.indexOf('-----END'));
    expectRejected(cut + read('cert2.pem'), 'truncated');
  });

  it('is given for a PEM file cut in the middle of a body line', () => {
    const pem = read('cert.pem');
    expectRejected(pem.slice(0, Math.floor(pem.length / 2)), 'truncated');
  });

  it('is given for DER cut in half', () => {
    const der = readBytes('cert.der');
    expectRejected(der.slice(0, Math.floor(der.length / 2)), 'truncated');
  });

  it('is given for DER missing only its last byte', () => {
    const der = readBytes('cert.der');
    expectRejected(der.slice(0, der.length - 1), 'truncated');
  });

  it('is given for a PEM body whose DER was cut (whole base64 quanta, short content)', () => {
    const der = readBytes('cert.der');
    const body = Buffer.from(der.subarray(0, 300)).toString('base64');
    expectRejected(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`, 'truncated');
  });
});

describe('reason "malformed-der"', () => {
  it('is given when the extensions length overruns the TBSCertificate but not the buffer', () => {
    const der = readBytes('cert.der');
    const tbsPos = header(der, 0).hdr;
    const tbs = header(der, tbsPos);
    const tbsEnd = tbsPos + tbs.hdr + tbs.len;
    // Find the last element of the TBSCertificate (the [3] extensions).
    let p = tbsPos + tbs.hdr;
    let last = p;
    while (p < tbsEnd) {
      last = p;
      const h = header(der, p);
      p += h.hdr + h.len;
    }
    expect(der[last]).toBe(0xa3);
    const h = header(der, last);
    const lying = der.slice();
    setLength(lying, last, h.len + 8); // 8 bytes into signatureAlgorithm: inside the buffer
    expect(last + h.hdr + h.len + 8).toBeLessThan(der.length);
    expectRejected(lying, 'malformed-der', undefined, false);
  });

  it('is given when notAfter overruns the validity SEQUENCE but not the buffer', () => {
    const der = readBytes('cert.der');
    // Certificate > TBSCertificate > [0] version, serial, signature, issuer, validity.
    let p = header(der, 0).hdr;
    p += header(der, p).hdr;
    for (let i = 0; i < 4; i++) p += header(der, p).hdr + header(der, p).len;
    const validity = header(der, p);
    expect(validity.tag).toBe(0x30);
    const notBefore = p + validity.hdr;
    const notAfter = notBefore + header(der, notBefore).hdr + header(der, notBefore).len;
    expect(der[notAfter]).toBe(0x17);
    const lying = der.slice();
    setLength(lying, notAfter, header(der, notAfter).len + 2);
    expectRejected(lying, 'malformed-der');
  });

  it('is given for an indefinite length (0x80), which DER forbids', () => {
    const der = readBytes('cert.der');
    const tbsPos = header(der, 0).hdr;
    const tbs = header(der, tbsPos);
    expect(tbs.hdr).toBe(4); // 0x30 0x82 hh ll: the BER form below keeps the total length
    const tbsEnd = tbsPos + tbs.hdr + tbs.len;
    const ber = Uint8Array.from([
      ...der.subarray(0, tbsPos),
      0x30,
      0x80,
      ...der.subarray(tbsPos + tbs.hdr, tbsEnd),
      0x00,
      0x00, // end-of-contents
      ...der.subarray(tbsEnd),
    ]);
    expect(ber.length).toBe(der.length);
    expectRejected(ber, 'malformed-der');
  });

  it('is given for bytes that are neither PEM text nor DER', () => {
    expectRejected(new Uint8Array([0x00, 0x01, 0x02, 0xff, 0xfe, 0x00]), 'malformed-der');
  });

  it('is given for a DER SEQUENCE that holds no certificate structure', () => {
    expectRejected(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]), 'malformed-der');
  });
});

describe('reason "not-a-certificate" says what was found', () => {
  it('names a CSR in PEM form "certificate-request"', () => {
    expectRejected(read('csr.pem'), 'not-a-certificate', 'certificate-request');
  });

  it('names a CSR in DER form "certificate-request"', () => {
    expectRejected(readBytes('csr.der'), 'not-a-certificate', 'certificate-request', false);
  });

  it('names a PKCS#8 private key "private-key", and the message holds no line of the key', () => {
    const pem = read('key.pem');
    const e = expectRejected(pem, 'not-a-certificate', 'private-key');
    const bodyLines = pem.split('\n').filter((l) => l.length > 0 && !l.startsWith('-----'));
    expect(bodyLines.length).toBeGreaterThan(1);
    for (const line of bodyLines) {
      expect(e.message).not.toContain(line);
      expect(String(e.stack)).not.toContain(line);
    }
  });

  it('names a PKCS#8 private key in DER form "private-key", and the message holds none of its bytes', () => {
    const der = readBytes('key.der');
    const e = expectRejected(der, 'not-a-certificate', 'private-key', false);
    const hex = Buffer.from(der).toString('hex');
    const b64 = Buffer.from(der).toString('base64');
    for (let i = 0; i + 16 <= hex.length; i += 16) expect(e.message.toLowerCase()).not.toContain(hex.slice(i, i + 16));
    for (let i = 0; i + 12 <= b64.length; i += 12) expect(e.message).not.toContain(b64.slice(i, i + 12));
  });

  it('names an "EC PRIVATE KEY" block "private-key"', () => {
    expectRejected(read('ec-key.pem'), 'not-a-certificate', 'private-key');
  });

  it('names a SEC1 EC private key in DER form "private-key"', () => {
    expectRejected(readBytes('ec-key.der'), 'not-a-certificate', 'private-key', false);
  });

  it('names a PKCS#1 "RSA PRIVATE KEY" block, and its DER, "private-key"', () => {
    expectRejected(read('rsa-key.pem'), 'not-a-certificate', 'private-key');
    expectRejected(readBytes('rsa-key.der'), 'not-a-certificate', 'private-key', false);
  });

  it('names an "ENCRYPTED PRIVATE KEY" block, and its DER, "encrypted-private-key"', () => {
    expectRejected(read('enc-key.pem'), 'not-a-certificate', 'encrypted-private-key');
    expectRejected(readBytes('enc-key.der'), 'not-a-certificate', 'encrypted-private-key', false);
  });

  it('names a public key, PEM and DER, "public-key"', () => {
    expectRejected(read('pub.pem'), 'not-a-certificate', 'public-key');
    expectRejected(readBytes('pub.der'), 'not-a-certificate', 'public-key', false);
  });

  it('names a PKCS#7 certificate bag, PEM and DER, "pkcs7"', () => {
    expectRejected(read('p7.pem'), 'not-a-certificate', 'pkcs7');
    expectRejected(readBytes('p7.der'), 'not-a-certificate', 'pkcs7', false);
  });

  it('names a PKCS#12 archive "pkcs12"', () => {
    expectRejected(readBytes('bundle.p12'), 'not-a-certificate', 'pkcs12', false);
  });

  it('names every CRL of the zlint corpus "crl", in PEM form and in DER form', () => {
    const files = zlintCrlFiles();
    expect(files.length).toBeGreaterThan(50);
    const wrong: string[] = [];
    for (const f of files) {
      const der = pemToDer(splitPem(f.text, 'X509 CRL')[0]!);
      for (const [form, input] of [['PEM', f.text], ['DER', der]] as const) {
        try {
          parseCertificate(input);
          wrong.push(`${f.name} (${form}): parsed as a certificate`);
        } catch (e) {
          if (!(e instanceof CertificateParseError)) throw e;
          if (e.reason !== 'not-a-certificate' || e.found !== 'crl') wrong.push(`${f.name} (${form}): ${e.reason}/${e.found}: ${e.message}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('is reported by readValidity for DER keys, CSRs and bundles as parseCertificate reports it', () => {
    const files = ['csr.der', 'key.der', 'ec-key.der', 'rsa-key.der', 'enc-key.der', 'pub.der', 'p7.der', 'bundle.p12'];
    const differences: string[] = [];
    for (const name of files) {
      const full = parseError(() => parseCertificate(readBytes(name)));
      const fast = parseError(() => readValidity(readBytes(name)));
      if (fast.reason !== full.reason || fast.found !== full.found) {
        differences.push(`${name}: parseCertificate ${full.reason}/${full.found}, readValidity ${fast.reason}/${fast.found}`);
      }
    }
    expect(differences).toEqual([]);
  });

  it('names prose without any PEM block "text"', () => {
    expectRejected('This is not a certificate.\nIt is a note about one.\n', 'not-a-certificate', 'text');
  });

  it('names the bytes of a text file without a PEM block "text"', () => {
    expectRejected(new TextEncoder().encode('hello: world\nsubject=CN=example\n'), 'not-a-certificate', 'text');
  });

  it('rejects a value that is neither a string nor bytes', () => {
    const e = parseError(() => parseCertificate(42 as unknown as string));
    expect(e.reason).toBe('not-a-certificate');
  });
});

describe('error identity', () => {
  it('is recognised by isCertstewardError with and without the "certificate-parse" code', () => {
    const e = parseError(() => parseCertificate(''));
    expect(isCertstewardError(e)).toBe(true);
    expect(isCertstewardError(e, 'certificate-parse')).toBe(true);
    expect(isCertstewardError(e, 'config')).toBe(false);
    expect(e.code).toBe('certificate-parse');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('CertificateParseError');
  });

  it('is not claimed for foreign errors or look-alikes', () => {
    expect(isCertstewardError(new Error('x'))).toBe(false);
    expect(isCertstewardError({ code: 'certificate-parse', reason: 'empty' })).toBe(false);
    expect(isCertstewardError(null)).toBe(false);
  });
});

describe('inputs that are certificates', () => {
  it('parses the certificate when a private key block comes first in the bundle', () => {
    const info = parseCertificate(read('key.pem') + read('cert.pem'));
    expect(info.fingerprints.sha256).toBe(sha256(readBytes('cert.der')));
  });

  it('parses PEM with text before, between and after the blocks', () => {
    const text = `subject=CN=one\nissuer=CN=one\n${read('cert.pem')}\nsome notes\n${read('cert2.pem')}trailing words`;
    const infos = parseCertificates(text);
    expect(infos.map((i) => i.fingerprints.sha256)).toEqual([sha256(readBytes('cert.der')), sha256(readBytes('cert2.der'))]);
    expect(parseCertificate(text).fingerprints.sha256).toBe(sha256(readBytes('cert.der')));
  });

  it('parses PEM with CRLF line endings', () => {
    const info = parseCertificate(read('cert.pem').replace(/\n/g, '\r\n'));
    expect(info.fingerprints.sha256).toBe(sha256(readBytes('cert.der')));
  });

  it('parses DER input', () => {
    expect(parseCertificate(readBytes('cert.der')).fingerprints.sha256).toBe(sha256(readBytes('cert.der')));
  });

  it('parses a Uint8Array holding PEM text', () => {
    expect(parseCertificate(readBytes('cert.pem')).fingerprints.sha256).toBe(sha256(readBytes('cert.der')));
  });

  it('reads two certificates from two concatenated DER certificates', () => {
    const one = readBytes('cert.der');
    const two = readBytes('cert2.der');
    const infos = parseCertificates(Uint8Array.from([...one, ...two]));
    expect(infos.map((i) => i.fingerprints.sha256)).toEqual([sha256(one), sha256(two)]);
    expect(infos.map((i) => i.subject.dn)).toEqual(['CN=one', 'CN=two']);
  });

  it('parses an OpenSSL "TRUSTED CERTIFICATE" block (certificate followed by trust settings)', () => {
    const text = read('trusted.pem');
    expect(text).toContain('-----BEGIN TRUSTED CERTIFICATE-----');
    const infos = parseCertificates(text);
    expect(infos.map((i) => i.fingerprints.sha256)).toEqual([sha256(readBytes('cert.der'))]);
  });

  it('parses the bytes of a PEM file whose leading text starts with the digit "0"', () => {
    const bytes = new TextEncoder().encode(`0) the server certificate\n${read('cert.pem')}`);
    expect(parseCertificate(bytes).fingerprints.sha256).toBe(sha256(readBytes('cert.der')));
  });

  it('keeps info.der intact when the caller reuses the Node Buffer it parsed', () => {
    const buf = readFileSync(join(dir, 'cert.der'));
    const expected = Buffer.from(buf);
    const info = parseCertificate(buf);
    const [fromBundle] = parseCertificates(buf);
    buf.fill(0);
    expect(Buffer.from(info.der).equals(expected)).toBe(true);
    expect(Buffer.from(fromBundle!.der).equals(expected)).toBe(true);
  });

  it('returns a DER copy of exactly the certificate bytes, not the whole input', () => {
    const one = readBytes('cert.der');
    const two = readBytes('cert2.der');
    const [first] = parseCertificates(Uint8Array.from([...one, ...two]));
    expect(Buffer.from(first!.der).equals(Buffer.from(one))).toBe(true);
  });
});
