/**
 * The fingerprint that names a key pair in a {@link KeyRef}.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { KeyRef } from '../ports/key-store.js';

/**
 * SHA-256 (lowercase hex) of a public key's SubjectPublicKeyInfo DER: the
 * `spkiSha256` of a {@link KeyRef}, the same value as
 * `openssl pkey -pubin -outform DER | sha256sum`. The key is exported by its
 * own provider (public keys are always exportable in WebCrypto), the hash is
 * Node's.
 *
 * @example
 * ```ts
 * const fingerprint = await spkiSha256(handle.crypto, handle.publicKey)
 * if (fingerprint !== handle.ref.spkiSha256) throw new Error('key and ref disagree')
 * ```
 */
export async function spkiSha256(crypto: Crypto, publicKey: CryptoKey): Promise<string> {
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', publicKey));
  return createHash('sha256').update(spki).digest('hex');
}
