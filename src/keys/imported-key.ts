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

/** The pair of an imported key; `privateKey` extractable as asked. */
export async function importedKeyPair(crypto: Crypto, input: KeyImport, extractable: boolean): Promise<CryptoKeyPair> {
  if (!isKeyAlgorithm(input?.algorithm)) {
    throw new KeyStoreError('unsupported', `cannot import a key of the unsupported algorithm ${JSON.stringify(input?.algorithm)}`);
  }
  if (!(input.pkcs8 instanceof Uint8Array) || input.pkcs8.length === 0) {
    throw new KeyStoreError('corrupt', 'import() needs the private key as PKCS#8 DER bytes');
  }
  const params = keyAlgorithmParams(input.algorithm);
  let spki: Uint8Array<ArrayBuffer>;
  try {
    spki = new Uint8Array(createPublicKey(createPrivateKey({ key: Buffer.from(input.pkcs8), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' }));
  } catch (e) {
    throw new KeyStoreError('corrupt', `the key to import is not a readable PKCS#8 private key: ${(e as Error).message}`, { cause: e });
  }
  try {
    const bytes = new Uint8Array(input.pkcs8);
    const privateKey = await crypto.subtle.importKey('pkcs8', bytes, params.import, extractable, ['sign']);
    bytes.fill(0);
    const publicKey = await crypto.subtle.importKey('spki', spki, params.import, true, ['verify']);
    return { privateKey, publicKey };
  } catch (e) {
    throw new KeyStoreError('unsupported', `the key to import is not a ${input.algorithm} key`, { cause: e });
  }
}
