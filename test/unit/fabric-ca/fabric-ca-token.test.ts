import { createPublicKey, verify, webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { fabricAuthToken, fabricTokenPayload, lowSDerSignature } from '../../../adapters/fabric-ca/fabric-ca-token.js';
import { emergencySelfSigned } from '../../../adapters/local-ca/local-authority.js';
import { isCertstewardError } from '../../../src/errors.js';
import type { KeyAlgorithm, KeyHandle } from '../../../src/ports/key-store.js';
import { systemClock } from '../../../src/steward/system-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';

const ORDERS: Record<string, bigint> = {
  'ECDSA-P256': BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'),
  'ECDSA-P384': BigInt('0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973'),
};

/** A strict reader of DER ECDSA-Sig-Value, written here independently of the code under test. */
function readDerSignature(der: Uint8Array): { r: bigint; s: bigint } {
  let p = 0;
  const length = (): number => {
    const b = der[p++]!;
    if (b < 0x80) return b;
    expect(b).toBe(0x81);
    return der[p++]!;
  };
  expect(der[p++]).toBe(0x30);
  expect(length()).toBe(der.length - p);
  const int = (): bigint => {
    expect(der[p++]).toBe(0x02);
    const l = length();
    const bytes = der.subarray(p, p + l);
    p += l;
    expect(bytes[0]! & 0x80).toBe(0); // positive
    if (l > 1) expect(bytes[0] === 0 && !(bytes[1]! & 0x80)).toBe(false); // minimal
    return BigInt('0x' + Buffer.from(bytes).toString('hex'));
  };
  const r = int();
  const s = int();
  expect(p).toBe(der.length);
  return { r, s };
}

async function identity(algorithm: KeyAlgorithm, keys = new MemoryKeyStore()): Promise<{ key: KeyHandle; certificatePem: string }> {
  const key = await keys.generate({ algorithm });
  const certificatePem = await emergencySelfSigned({ key, commonName: 'peer1', subjectAltNames: [], clock: systemClock });
  return { key, certificatePem };
}

function splitToken(token: string): { cert: string; sig: Buffer } {
  const parts = token.split('.');
  expect(parts).toHaveLength(2);
  const [cert, sig] = parts as [string, string];
  // Standard base64 with padding (Go's base64.StdEncoding), not base64url.
  for (const part of parts) expect(/^[A-Za-z0-9+/]*={0,2}$/.test(part) && part.length % 4 === 0).toBe(true);
  return { cert, sig: Buffer.from(sig, 'base64') };
}

describe('fabricTokenPayload', () => {
  it('builds METHOD.b64(requestURI).b64(body).b64(certPEM), the v1.4 form, as the Fabric SDK signs it', () => {
    // The official client (fabric-ca-client 2.2) as the reference: it hands its signString to the signer.
    const FabricCAClient = createRequire(import.meta.url)('fabric-ca-client/lib/FabricCAClient.js');
    const sdk = new FabricCAClient({ caname: 'ca-test', protocol: 'https', hostname: 'ca.example', port: 7054 }, { hash: () => '' });
    let signed = '';
    const signer = { _certificate: 'PEM-OF-THE-CALLER', sign: (s: string) => ((signed = s), 'ab') };
    const body = { certificate_request: 'CSR', caname: 'ca-test' };
    const sdkToken: string = sdk.generateAuthToken(body, signer, '/api/v1/reenroll', 'POST');
    const ours = fabricTokenPayload({
      certificatePem: 'PEM-OF-THE-CALLER',
      method: 'POST',
      requestUri: '/api/v1/reenroll',
      body: JSON.stringify(body),
    });
    expect(ours).toBe(signed);
    expect(sdkToken.split('.')[0]).toBe(Buffer.from('PEM-OF-THE-CALLER').toString('base64'));
  });

  it('signs the request URI with its query and an empty body as an empty segment (GET)', () => {
    const payload = fabricTokenPayload({ certificatePem: 'C', method: 'GET', requestUri: '/api/v1/identities/peer1?ca=ca-test', body: '' });
    // base64 computed outside the code under test (Python's base64 module).
    expect(payload).toBe('GET.L2FwaS92MS9pZGVudGl0aWVzL3BlZXIxP2NhPWNhLXRlc3Q=..Qw==');
  });

  it('builds b64(body).b64(certPEM) for the v1.3 form', () => {
    expect(fabricTokenPayload({ certificatePem: 'C', method: 'POST', requestUri: '/x', body: '{}', format: 'v1.3' })).toBe('e30=.Qw==');
  });
});

describe('lowSDerSignature', () => {
  it('matches a hand-computed vector: s above n/2 becomes n - s, r gets its sign octet', () => {
    const p1363 = new Uint8Array(64);
    p1363.fill(0xff, 0, 32);
    p1363[32] = 0x80; // s = 2^255 > n/2
    const der = Buffer.from(lowSDerSignature(p1363, 'ECDSA-P256')).toString('hex');
    expect(der).toBe(
      '3045022100ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff02207fffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551',
    );
  });

  it('keeps a low s and strips leading zeros', () => {
    const p1363 = new Uint8Array(64);
    p1363[31] = 0x05;
    p1363[63] = 0x01;
    expect(Buffer.from(lowSDerSignature(p1363, 'ECDSA-P256')).toString('hex')).toBe('3006020105020101');
  });

  it('turns a high-S signature into one that still verifies', async () => {
    const { key } = await identity('ECDSA-P256');
    const data = Buffer.from('payload');
    const n = ORDERS['ECDSA-P256']!;
    const sig = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, data));
    // Force the high-S twin of the signature: (r, n - s) verifies too under plain ECDSA.
    let s = BigInt('0x' + Buffer.from(sig.subarray(32)).toString('hex'));
    if (s <= n >> 1n) s = n - s;
    sig.set(Buffer.from(s.toString(16).padStart(64, '0'), 'hex'), 32);
    const der = lowSDerSignature(sig, 'ECDSA-P256');
    expect(readDerSignature(der).s <= n >> 1n).toBe(true);
    const pub = createPublicKey({ key: Buffer.from(await webcrypto.subtle.exportKey('spki', key.publicKey)), format: 'der', type: 'spki' });
    expect(verify('sha256', data, { key: pub, dsaEncoding: 'der' }, der)).toBe(true);
  });

  it('refuses a signature of the wrong length for the curve', () => {
    const e = (() => {
      try {
        lowSDerSignature(new Uint8Array(96), 'ECDSA-P256');
      } catch (err) {
        return err;
      }
    })();
    expect(isCertstewardError(e, 'key')).toBe(true);
  });
});

describe('fabricAuthToken', () => {
  for (const algorithm of ['ECDSA-P256', 'ECDSA-P384'] as const) {
    it(`makes a token the server's check accepts: ${algorithm}, DER low-S over SHA-256 of the v1.4 payload`, async () => {
      const { key, certificatePem } = await identity(algorithm);
      const body = JSON.stringify({ certificate_request: 'CSR' });
      const token = await fabricAuthToken({ certificatePem, key, method: 'POST', requestUri: '/api/v1/reenroll', body });
      const { cert, sig } = splitToken(token);
      expect(Buffer.from(cert, 'base64').toString('utf8')).toBe(certificatePem);
      // The server's side: rebuild the payload from the request and the token's own cert segment.
      const payload = `POST.${Buffer.from('/api/v1/reenroll').toString('base64')}.${Buffer.from(body).toString('base64')}.${cert}`;
      const pub = createPublicKey(certificatePem);
      expect(verify('sha256', Buffer.from(payload), { key: pub, dsaEncoding: 'der' }, sig)).toBe(true);
      expect(readDerSignature(sig).s <= ORDERS[algorithm]! >> 1n).toBe(true);
      // The same token does not authenticate another request.
      const other = payload.replace('POST.', 'PUT.');
      expect(verify('sha256', Buffer.from(other), { key: pub, dsaEncoding: 'der' }, sig)).toBe(false);
    });
  }

  it('always produces low-S signatures (80 tokens; about half would be high-S without normalisation)', async () => {
    const { key, certificatePem } = await identity('ECDSA-P256');
    const n = ORDERS['ECDSA-P256']!;
    const pub = createPublicKey(certificatePem);
    for (let i = 0; i < 80; i++) {
      const body = `{"i":${i}}`;
      const token = await fabricAuthToken({ certificatePem, key, method: 'POST', requestUri: '/api/v1/register', body });
      const { cert, sig } = splitToken(token);
      expect(readDerSignature(sig).s <= n >> 1n).toBe(true);
      const payload = `POST.${Buffer.from('/api/v1/register').toString('base64')}.${Buffer.from(body).toString('base64')}.${cert}`;
      expect(verify('sha256', Buffer.from(payload), { key: pub, dsaEncoding: 'der' }, sig)).toBe(true);
    }
  });

  it('signs the v1.3 payload when asked', async () => {
    const { key, certificatePem } = await identity('ECDSA-P256');
    const token = await fabricAuthToken({ certificatePem, key, method: 'POST', requestUri: '/api/v1/revoke', body: '{}', format: 'v1.3' });
    const { cert, sig } = splitToken(token);
    expect(verify('sha256', Buffer.from(`e30=.${cert}`), { key: createPublicKey(certificatePem), dsaEncoding: 'der' }, sig)).toBe(true);
  });

  it("signs through the key handle's own WebCrypto provider (an HSM key never leaves its provider)", async () => {
    const calls: string[] = [];
    // A provider other than Node's: every sign call goes through it.
    const provider = {
      getRandomValues: webcrypto.getRandomValues.bind(webcrypto),
      subtle: new Proxy(webcrypto.subtle, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target);
          if (prop === 'sign') return (...args: Parameters<SubtleCrypto['sign']>) => (calls.push('sign'), target.sign(...args));
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }),
    } as unknown as Crypto;
    const keys = new MemoryKeyStore({ crypto: provider });
    const { key, certificatePem } = await identity('ECDSA-P256', keys);
    calls.length = 0;
    const token = await fabricAuthToken({ certificatePem, key, method: 'GET', requestUri: '/api/v1/identities/x', body: '' });
    expect(calls).toEqual(['sign']);
    const { cert, sig } = splitToken(token);
    const payload = `GET.${Buffer.from('/api/v1/identities/x').toString('base64')}..${cert}`;
    expect(verify('sha256', Buffer.from(payload), { key: createPublicKey(certificatePem), dsaEncoding: 'der' }, sig)).toBe(true);
  });

  for (const algorithm of ['RSA-2048', 'Ed25519'] as const) {
    it(`refuses a ${algorithm} key with a ConfigError (Fabric tokens are ECDSA only)`, async () => {
      const key = await new MemoryKeyStore().generate({ algorithm });
      let error: unknown;
      try {
        await fabricAuthToken({ certificatePem: 'C', key, method: 'GET', requestUri: '/', body: '' });
      } catch (e) {
        error = e;
      }
      expect(isCertstewardError(error, 'config')).toBe(true);
      expect(String((error as Error).message)).toMatch(/ECDSA/);
    });
  }
});
