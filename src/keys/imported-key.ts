/**
 * Taking in an existing private key (`KeyStore.import`): the PKCS#8 is read
 * once, checked against the algorithm the caller names, and turned into a
 * WebCrypto key pair; the public key is derived from the private one, so a
 * store never has to be told it.
 *
 * @module
 * @internal
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { KeyStoreError } from '../errors.js';
import type { KeyImport } from '../ports/key-store.js';
import { isKeyAlgorithm, keyAlgorithmParams } from './key-algorithms.js';

/** The pair of an imported key; `privateKey` extractable as asked. The caller's PKCS#8 bytes are zeroed, also on failure. */
export async function importedKeyPair(crypto: Crypto, input: KeyImport, extractable: boolean): Promise<CryptoKeyPair> {
  try {
    return await pairOf(crypto, input, extractable);
  } finally {
    if (input?.pkcs8 instanceof Uint8Array) input.pkcs8.fill(0);
  }
}

async function pairOf(crypto: Crypto, input: KeyImport, extractable: boolean): Promise<CryptoKeyPair> {
  if (!isKeyAlgorithm(input?.algorithm)) {
    throw new KeyStoreError('unsupported', `cannot import a key of the unsupported algorithm ${JSON.stringify(input?.algorithm)}`);
  }
  if (!(input.pkcs8 instanceof Uint8Array) || input.pkcs8.length === 0) {
    throw new KeyStoreError('corrupt', 'import() needs the private key as PKCS#8 DER bytes');
  }
  const params = keyAlgorithmParams(input.algorithm);
  let spki: Uint8Array<ArrayBuffer>;
  try {
    // A view, not a copy: no stray copy of the key is left for the garbage collector.
    const view = Buffer.from(input.pkcs8.buffer, input.pkcs8.byteOffset, input.pkcs8.byteLength);
    spki = new Uint8Array(createPublicKey(createPrivateKey({ key: view, format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' }));
  } catch (e) {
    throw new KeyStoreError('corrupt', `the key to import is not a readable PKCS#8 private key: ${(e as Error).message}`, { cause: e });
  }
  const bytes = new Uint8Array(input.pkcs8);
  try {
    const privateKey = await crypto.subtle.importKey('pkcs8', bytes, params.import, extractable, ['sign']);
    const publicKey = await crypto.subtle.importKey('spki', spki, params.import, true, ['verify']);
    // WebCrypto takes any RSA modulus under an RSA name: the size is part of the algorithm.
    const bits = (publicKey.algorithm as { modulusLength?: number }).modulusLength;
    const wanted = /^RSA-(\d+)$/.exec(input.algorithm)?.[1];
    if (wanted !== undefined && bits !== Number(wanted)) throw new Error(`an RSA-${bits ?? '?'} key`);
    return { privateKey, publicKey };
  } catch (e) {
    throw new KeyStoreError('unsupported', `the key to import is not a ${input.algorithm} key${e instanceof Error && e.message.startsWith('an RSA') ? ` (${e.message})` : ''}`, { cause: e });
  } finally {
    bytes.fill(0);
  }
}
