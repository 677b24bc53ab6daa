/**
 * The KeyAlgorithm table: what each name means in WebCrypto.
 */
import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyStoreError } from '../../../src/errors.js';
import { generateKeyPair, isKeyAlgorithm, keyAlgorithmParams, keyAlgorithms } from '../../../src/keys/key-algorithms.js';
import type { KeyAlgorithm } from '../../../src/ports/key-store.js';

const crypto = webcrypto as unknown as Crypto;

describe('key algorithms', () => {
  it('lists exactly the six algorithms of the KeyAlgorithm type', () => {
    const all: Record<KeyAlgorithm, true> = {
      'ECDSA-P256': true,
      'ECDSA-P384': true,
      'RSA-2048': true,
      'RSA-3072': true,
      'RSA-4096': true,
      Ed25519: true,
    };
    expect([...keyAlgorithms].sort()).toEqual(Object.keys(all).sort());
  });

  it('recognises only those names: not prototype keys, other cases or other types', () => {
    for (const v of ['toString', 'constructor', 'ecdsa-p256', 'ECDSA-P521', '', undefined, null, 256]) {
      expect(isKeyAlgorithm(v)).toBe(false);
    }
    for (const a of keyAlgorithms) expect(isKeyAlgorithm(a)).toBe(true);
  });

  it('signs P-256 with SHA-256, P-384 with SHA-384, binds SHA-256 and exponent 65537 into RSA keys', () => {
    expect(keyAlgorithmParams('ECDSA-P256').sign).toEqual({ name: 'ECDSA', hash: 'SHA-256' });
    expect(keyAlgorithmParams('ECDSA-P384').sign).toEqual({ name: 'ECDSA', hash: 'SHA-384' });
    expect(keyAlgorithmParams('RSA-3072').generate).toEqual({
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 3072,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    });
  });

  it('returns new parameter objects each call, so a caller mutating one cannot change the next key', () => {
    const a = keyAlgorithmParams('RSA-2048').generate as RsaHashedKeyGenParams;
    (a.publicExponent as Uint8Array)[0] = 3;
    const b = keyAlgorithmParams('RSA-2048').generate as RsaHashedKeyGenParams;
    expect(Array.from(b.publicExponent)).toEqual([1, 0, 1]);
  });

  it('rejects an unknown algorithm with KeyStoreError unsupported, listing the supported ones', async () => {
    let error: unknown;
    try {
      keyAlgorithmParams('DSA-1024' as KeyAlgorithm);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeyStoreError);
    expect((error as KeyStoreError).reason).toBe('unsupported');
    expect((error as KeyStoreError).message).toContain('ECDSA-P256');
    await expect(generateKeyPair(crypto, 'DSA-1024' as KeyAlgorithm, { extractable: false })).rejects.toMatchObject({
      reason: 'unsupported',
    });
  });

  it('reports a provider that cannot generate an algorithm as unsupported', async () => {
    const refusing = {
      subtle: {
        generateKey: () => Promise.reject(new DOMException('Unrecognized name.', 'NotSupportedError')),
      },
    } as unknown as Crypto;
    await expect(generateKeyPair(refusing, 'Ed25519', { extractable: false })).rejects.toMatchObject({ reason: 'unsupported' });
    const failing = { subtle: { generateKey: () => Promise.reject(new Error('token removed')) } } as unknown as Crypto;
    await expect(generateKeyPair(failing, 'Ed25519', { extractable: false })).rejects.toMatchObject({ reason: 'unavailable' });
  });
});
