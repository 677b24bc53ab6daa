import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCertificateBytes } from '../../../src/cli/read-certificates.js';
import { OpensslPki, opensslFacts, type Issued } from './openssl-pki.js';

let pki: OpensslPki;
let cert: Issued;
let other: Issued;
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

beforeAll(() => {
  pki = new OpensslPki('certsteward-read-');
  cert = pki.issue({ cn: 'read.test' });
  other = pki.issue({ cn: 'other.test' });
});

afterAll(() => pki?.remove());

describe('readCertificateBytes', () => {
  it('reads a certificate that shares its file with a key block whose base64 is broken', () => {
    const key = readFileSync(cert.keyPath, 'utf8').replace(/^([A-Za-z0-9+/]{10})/m, '$1!!');
    const r = readCertificateBytes(bytes(cert.pem + key));
    expect(r.kind).toBe('certificates');
    if (r.kind !== 'certificates') return;
    expect(r.items).toHaveLength(1);
    const first = r.items[0]!;
    expect('cert' in first && first.cert.fingerprints.sha256.toUpperCase()).toBe(opensslFacts(cert.certPath).sha256Colon.replace(/:/g, ''));
  });

  it('keeps the good certificates of a bundle and reports the cut one at its index', () => {
    const cut = other.pem.split('\n').slice(0, 4).join('\n');
    const r = readCertificateBytes(bytes(cert.pem + cut + '\n' + cert.pem));
    expect(r.kind).toBe('certificates');
    if (r.kind !== 'certificates') return;
    expect(r.items.map((i) => ('cert' in i ? 'cert' : 'error'))).toEqual(['cert', 'error', 'cert']);
    expect(r.items.map((i) => i.index)).toEqual([0, 1, 2]);
  });

  it('says what a file is when it holds no certificate: a key, text, binary, or nothing', () => {
    expect(readCertificateBytes(bytes(readFileSync(cert.keyPath, 'utf8')))).toMatchObject({ kind: 'no-certificate', holds: 'object' });
    expect(readCertificateBytes(bytes('01\n'))).toMatchObject({ kind: 'no-certificate', holds: 'text' });
    expect(readCertificateBytes(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]))).toMatchObject({ kind: 'no-certificate', holds: 'binary' });
    expect(readCertificateBytes(new Uint8Array(0))).toMatchObject({ kind: 'no-certificate', holds: 'empty' });
  });

  it('calls a DER certificate cut short unreadable, not "no certificate"', () => {
    const der = Buffer.from(cert.pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const r = readCertificateBytes(new Uint8Array(der.subarray(0, der.length - 20)));
    expect(r.kind).toBe('unreadable');
  });
});
