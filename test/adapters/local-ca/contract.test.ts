import { describe, expect, it } from 'vitest';
import { LocalAuthority } from '../../../adapters/local-ca/index.js';
import { KeyStoreError } from '../../../src/errors.js';
import type { KeyAlgorithm, KeyHandle, KeyRef, KeyStore } from '../../../src/ports/key-store.js';
import { systemClock } from '../../../src/steward/system-clock.js';
import { describeCertificateAuthority } from '../../../src/testing/contracts/authority-contract.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';

/** A key store of WebCrypto keys in a Map; private keys are not extractable, as in an HSM. */
class MapKeyStore implements KeyStore {
  readonly kind = 'map';
  readonly #keys = new Map<string, KeyHandle>();
  async generate(spec: { algorithm: KeyAlgorithm; label?: string }): Promise<KeyHandle> {
    const params: Record<KeyAlgorithm, AlgorithmIdentifier | RsaHashedKeyGenParams | EcKeyGenParams> = {
      'ECDSA-P256': { name: 'ECDSA', namedCurve: 'P-256' },
      'ECDSA-P384': { name: 'ECDSA', namedCurve: 'P-384' },
      'RSA-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      'RSA-3072': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      'RSA-4096': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 4096, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      Ed25519: { name: 'Ed25519' },
    };
    const pair = (await crypto.subtle.generateKey(params[spec.algorithm], false, ['sign', 'verify'])) as CryptoKeyPair;
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
    const spkiSha256 = Buffer.from(await crypto.subtle.digest('SHA-256', spki)).toString('hex');
    const ref: KeyRef = { store: this.kind, id: crypto.randomUUID(), algorithm: spec.algorithm, spkiSha256 };
    const handle: KeyHandle = { ref, algorithm: spec.algorithm, crypto, publicKey: pair.publicKey, privateKey: pair.privateKey, exportable: false };
    this.#keys.set(ref.id, handle);
    return handle;
  }
  async load(ref: KeyRef): Promise<KeyHandle> {
    const h = this.#keys.get(ref.id);
    if (!h) throw new KeyStoreError('not-found', `no key ${ref.id}`);
    return h;
  }
  async destroy(ref: KeyRef): Promise<void> {
    this.#keys.delete(ref.id);
  }
}

describe('LocalAuthority (ECDSA-P256 CA, system clock)', () => {
  describeCertificateAuthority({ describe, it, expect }, async () => {
    const keys = new MapKeyStore();
    const authority = await LocalAuthority.create({ keys, clock: systemClock });
    return { authority, trustAnchorsPem: authority.rootPem, makeKey: () => keys.generate({ algorithm: 'ECDSA-P256' }) };
  });
});

describe('LocalAuthority (Ed25519 CA issuing for RSA keys, manual clock)', () => {
  describeCertificateAuthority({ describe, it, expect }, async () => {
    const keys = new MapKeyStore();
    const clock = new ManualClock('2031-03-04T05:06:07Z');
    const authority = await LocalAuthority.create({ keys, clock, algorithm: 'Ed25519', name: 'Contract' });
    return { authority, clock, trustAnchorsPem: authority.rootPem, makeKey: () => keys.generate({ algorithm: 'RSA-2048' }) };
  });
});

describe('LocalAuthority (ECDSA-P384 CA reloaded from its JSON state)', () => {
  describeCertificateAuthority({ describe, it, expect }, async () => {
    const keys = new MapKeyStore();
    const first = await LocalAuthority.create({ keys, clock: systemClock, algorithm: 'ECDSA-P384' });
    const authority = await LocalAuthority.load(JSON.parse(JSON.stringify(first)), { keys, clock: systemClock });
    return { authority, trustAnchorsPem: first.rootPem, makeKey: () => keys.generate({ algorithm: 'ECDSA-P384' }) };
  });
});
