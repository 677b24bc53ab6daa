import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CertificateParseError, ConfigError, KeyError, isCertstewardError } from '../../../src/errors.js';
import { buildCsr, readCsr, signingAlgorithmFor, type SubjectAltName } from '../../../src/pki/csr.js';
import { toPem } from '../../../src/pki/pem.js';
import type { KeyAlgorithm, KeyHandle } from '../../../src/ports/key-store.js';
import { openssl, opensslOk } from './openssl-cli.js';

/** WebCrypto parameters per algorithm; private keys are not extractable, as in an HSM. */
const GENERATE: Record<KeyAlgorithm, AlgorithmIdentifier | RsaHashedKeyGenParams | EcKeyGenParams> = {
  'ECDSA-P256': { name: 'ECDSA', namedCurve: 'P-256' },
  'ECDSA-P384': { name: 'ECDSA', namedCurve: 'P-384' },
  'RSA-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  'RSA-3072': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  'RSA-4096': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 4096, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  Ed25519: { name: 'Ed25519' },
};

async function makeKey(algorithm: KeyAlgorithm): Promise<KeyHandle> {
  const pair = (await crypto.subtle.generateKey(GENERATE[algorithm], false, ['sign', 'verify'])) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  const digest = Buffer.from(await crypto.subtle.digest('SHA-256', spki)).toString('hex');
  return {
    ref: { store: 'test', id: crypto.randomUUID(), algorithm, spkiSha256: digest },
    algorithm,
    crypto,
    publicKey: pair.publicKey,
    privateKey: pair.privateKey,
    exportable: false,
  };
}

const NAMES: readonly SubjectAltName[] = [
  { type: 'dns', value: 'api.example.test' },
  { type: 'dns', value: 'www.example.test' },
  { type: 'ip', value: '10.0.0.7' },
  { type: 'ip', value: '2001:db8::1' },
  { type: 'email', value: 'ops@example.test' },
  { type: 'uri', value: 'spiffe://example.test/api' },
];

const dir = mkdtempSync(join(tmpdir(), 'certsteward-csr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('buildCsr', () => {
  for (const algorithm of ['ECDSA-P256', 'ECDSA-P384', 'RSA-2048', 'Ed25519'] as const) {
    it(`makes a ${algorithm} CSR that openssl req -verify accepts, with every SAN visible to openssl`, async () => {
      const key = await makeKey(algorithm);
      const pem = await buildCsr({ key, commonName: 'api.example.test', subjectAltNames: NAMES });
      expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
      const verified = await openssl(['req', '-verify', '-noout'], pem);
      expect(verified.status, verified.stderr).toBe(0);
      expect(verified.stdout + verified.stderr).toMatch(/verify OK/);
      const text = await openssl(['req', '-text', '-noout'], pem);
      expect(text.status, text.stderr).toBe(0);
      expect(text.stdout).toContain('CN = api.example.test');
      for (const expected of [
        'DNS:api.example.test',
        'DNS:www.example.test',
        'IP Address:10.0.0.7',
        'IP Address:2001:DB8:0:0:0:0:0:1',
        'email:ops@example.test',
        'URI:spiffe://example.test/api',
      ]) {
        expect(text.stdout).toContain(expected);
      }
    });
  }

  it('signs with the hash that fits the key: SHA-256 for P-256 and RSA, SHA-384 for P-384, Ed25519 for Ed25519', async () => {
    const expected: Record<string, string> = {
      'ECDSA-P256': 'ecdsa-with-SHA256',
      'ECDSA-P384': 'ecdsa-with-SHA384',
      'RSA-2048': 'sha256WithRSAEncryption',
      Ed25519: 'ED25519',
    };
    for (const [algorithm, name] of Object.entries(expected)) {
      const key = await makeKey(algorithm as KeyAlgorithm);
      const csr = readCsr(await buildCsr({ key, subjectAltNames: [{ type: 'dns', value: 'x.example.test' }] }));
      expect(csr.signatureAlgorithm).toBe(name);
      expect(csr.signatureValid).toBe(true);
    }
  });

  it('marks the SAN extension critical when the subject is empty (RFC 5280 §4.2.1.6), and not otherwise', async () => {
    const key = await makeKey('ECDSA-P256');
    const noCn = await openssl(['req', '-text', '-noout'], await buildCsr({ key, subjectAltNames: [{ type: 'dns', value: 'x.example.test' }] }));
    expect(noCn.stdout).toMatch(/Subject Alternative Name: critical/);
    const withCn = await openssl(
      ['req', '-text', '-noout'],
      await buildCsr({ key, commonName: 'x.example.test', subjectAltNames: [{ type: 'dns', value: 'x.example.test' }] }),
    );
    expect(withCn.stdout).toMatch(/Subject Alternative Name: *\n/);
  });

  it('makes a CSR with only a common name', async () => {
    const key = await makeKey('ECDSA-P256');
    const csr = readCsr(await buildCsr({ key, commonName: 'legacy.example.test', subjectAltNames: [] }));
    expect(csr.commonName).toBe('legacy.example.test');
    expect(csr.subjectAltNames).toEqual([]);
    expect(csr.signatureValid).toBe(true);
  });

  it('throws ConfigError when there is no name at all, or a name is malformed', async () => {
    const key = await makeKey('ECDSA-P256');
    await expect(buildCsr({ key, subjectAltNames: [] })).rejects.toBeInstanceOf(ConfigError);
    await expect(buildCsr({ key, subjectAltNames: [{ type: 'dns', value: '' }] })).rejects.toBeInstanceOf(ConfigError);
    await expect(
      buildCsr({ key, subjectAltNames: [{ type: 'srv' as 'dns', value: 'x.example.test' }] }),
    ).rejects.toBeInstanceOf(ConfigError);
    await expect(buildCsr({ key, subjectAltNames: [{ type: 'ip', value: 'not-an-ip' }] })).rejects.toBeInstanceOf(ConfigError);
  });

  it('throws KeyError when the key provider cannot sign (an HSM that is down)', async () => {
    const key = await makeKey('ECDSA-P256');
    const failing = {
      getRandomValues: crypto.getRandomValues.bind(crypto),
      subtle: new Proxy(crypto.subtle, {
        get(target, prop) {
          if (prop === 'sign') return () => Promise.reject(new Error('CKR_DEVICE_REMOVED'));
          const v = Reflect.get(target, prop) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }),
    } as unknown as Crypto;
    const e = await buildCsr({ key: { ...key, crypto: failing }, subjectAltNames: [{ type: 'dns', value: 'x.example.test' }] }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(KeyError);
    expect((e as Error).message).toContain(key.ref.id);
    expect((e as Error).message).toContain('CKR_DEVICE_REMOVED');
  });

  it('throws KeyError rather than return a CSR that does not verify (a handle with a mismatched private key)', async () => {
    const key = await makeKey('ECDSA-P256');
    const other = await makeKey('ECDSA-P256');
    const e = await buildCsr({ key: { ...key, privateKey: other.privateKey }, subjectAltNames: [{ type: 'dns', value: 'x.example.test' }] }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(KeyError);
    expect((e as Error).message).toMatch(/does not belong to its public key/);
  });

  it('maps every key algorithm to its signature algorithm', () => {
    expect(signingAlgorithmFor('ECDSA-P256')).toEqual({ name: 'ECDSA', hash: 'SHA-256' });
    expect(signingAlgorithmFor('ECDSA-P384')).toEqual({ name: 'ECDSA', hash: 'SHA-384' });
    expect(signingAlgorithmFor('RSA-4096')).toEqual({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' });
    expect(signingAlgorithmFor('Ed25519')).toEqual({ name: 'Ed25519' });
    expect(() => signingAlgorithmFor('DSA' as KeyAlgorithm)).toThrow(ConfigError);
  });
});

describe('readCsr', () => {
  it('reads the names, the key and a valid self-signature from a buildCsr CSR', async () => {
    const key = await makeKey('ECDSA-P256');
    const pem = await buildCsr({ key, commonName: 'api.example.test', subjectAltNames: NAMES });
    const csr = readCsr(pem);
    expect(csr.commonName).toBe('api.example.test');
    expect(csr.subject.dn).toBe('CN=api.example.test');
    expect(csr.subjectAltNames).toEqual(NAMES.map((n) => ({ type: n.type, value: n.value })));
    expect(csr.publicKeyAlgorithm).toBe('EC');
    expect(Buffer.from(csr.publicKeySpkiDer)).toEqual(Buffer.from(await crypto.subtle.exportKey('spki', key.publicKey)));
    expect(csr.signatureValid).toBe(true);
    // The same from DER and from the bytes of the PEM file.
    expect(readCsr(csr.der).signatureValid).toBe(true);
    expect(readCsr(new TextEncoder().encode(pem)).commonName).toBe('api.example.test');
  });

  it('reads CSRs made by openssl, RSA-PSS included', () => {
    const cases: [string, string[], string][] = [
      ['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], 'EC'],
      ['rsa', ['-newkey', 'rsa:2048'], 'RSA'],
      ['pss', ['-newkey', 'rsa:2048', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'], 'RSA'],
      ['ed', ['-newkey', 'ed25519'], 'Ed25519'],
    ];
    for (const [tag, args, keyAlg] of cases) {
      const out = join(dir, `${tag}.csr`);
      opensslOk([
        'req', '-new', ...args, '-nodes', '-keyout', join(dir, `${tag}.key`), '-subj', '/CN=outside.example.test',
        '-addext', 'subjectAltName=DNS:outside.example.test,IP:192.0.2.1', '-out', out,
      ]);
      const csr = readCsr(readFileSync(out, 'utf8'));
      expect(csr.signatureValid, tag).toBe(true);
      expect(csr.publicKeyAlgorithm).toBe(keyAlg);
      expect(csr.commonName).toBe('outside.example.test');
      expect(csr.subjectAltNames).toEqual([
        { type: 'dns', value: 'outside.example.test' },
        { type: 'ip', value: '192.0.2.1' },
      ]);
    }
  });

  it('reports an invalid signature when the requested names were altered after signing, as openssl does', async () => {
    const key = await makeKey('ECDSA-P256');
    const der = readCsr(await buildCsr({ key, subjectAltNames: [{ type: 'dns', value: 'good.example.test' }] })).der.slice();
    const at = Buffer.from(der).indexOf('good.example.test');
    expect(at).toBeGreaterThan(0);
    der[at] = 'e'.charCodeAt(0); // "eood.example.test": still well-formed DER
    const tampered = toPem(der, 'CERTIFICATE REQUEST');
    const csr = readCsr(tampered);
    expect(csr.subjectAltNames).toEqual([{ type: 'dns', value: 'eood.example.test' }]);
    expect(csr.signatureValid).toBe(false);
    const o = await openssl(['req', '-verify', '-noout'], tampered);
    expect(o.stdout + o.stderr).not.toMatch(/verify OK/);
  });

  it('throws CertificateParseError for input that is not a CSR, saying what it is', async () => {
    const key = await makeKey('ECDSA-P256');
    const der = readCsr(await buildCsr({ key, subjectAltNames: [{ type: 'dns', value: 'x.example.test' }] })).der;
    const cases: [string | Uint8Array, string, string | undefined][] = [
      ['', 'empty', undefined],
      ['   \n', 'empty', undefined],
      ['hello', 'malformed-der', 'text'],
      ['-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n', 'bad-base64', 'certificate-request'],
      ['-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n', 'truncated', 'certificate-request'],
      [toPem(der.subarray(0, der.length - 10), 'CERTIFICATE REQUEST'), 'truncated', undefined],
      ['-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 'malformed-der', 'private-key'],
      ['-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', 'malformed-der', undefined],
      [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), 'malformed-der', undefined],
    ];
    for (const [input, reason, found] of cases) {
      let error: unknown;
      try {
        readCsr(input);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(input)).toBeInstanceOf(CertificateParseError);
      expect(isCertstewardError(error, 'certificate-parse')).toBe(true);
      expect((error as CertificateParseError).reason, String(input)).toBe(reason);
      expect((error as CertificateParseError).found, String(input)).toBe(found);
    }
  });
});
