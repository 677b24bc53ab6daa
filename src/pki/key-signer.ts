/**
 * Signing with a key handle, in the form X.509 structures carry signatures.
 *
 * Keys that belong to Node's own WebCrypto are used through `node:crypto`
 * synchronously (a hundred times faster than a WebCrypto round trip through
 * the thread pool); keys of any other provider (an HSM through
 * node-webcrypto-p11) sign through their provider, never exported.
 *
 * @module
 */
import { KeyObject, createHash, sign as nodeSign, verify as nodeVerify, webcrypto } from 'node:crypto';
import { ConfigError, KeyError } from '../errors.js';
import type { KeyAlgorithm, KeyHandle } from '../ports/key-store.js';
import { concat, tlv, unsignedInteger } from './der-writer.js';

/**
 * WebCrypto signing parameters for each key algorithm; see {@link signingAlgorithmFor}.
 *
 * @example
 * ```ts
 * const alg: SigningAlgorithm = { name: 'ECDSA', hash: 'SHA-256' }
 * await key.crypto.subtle.sign(alg, key.privateKey, data)
 * ```
 */
export type SigningAlgorithm =
  | { readonly name: 'ECDSA'; readonly hash: 'SHA-256' | 'SHA-384' }
  | { readonly name: 'RSASSA-PKCS1-v1_5'; readonly hash: 'SHA-256' }
  | { readonly name: 'Ed25519' };

/**
 * The signature algorithm certsteward signs with for a key algorithm:
 * ECDSA P-256 → ECDSA with SHA-256, P-384 → SHA-384, RSA → RSASSA-PKCS1-v1_5
 * with SHA-256, Ed25519 → Ed25519.
 *
 * @example
 * ```ts
 * signingAlgorithmFor('ECDSA-P384') // { name: 'ECDSA', hash: 'SHA-384' }
 * ```
 */
export function signingAlgorithmFor(algorithm: KeyAlgorithm): SigningAlgorithm {
  switch (algorithm) {
    case 'ECDSA-P256':
      return { name: 'ECDSA', hash: 'SHA-256' };
    case 'ECDSA-P384':
      return { name: 'ECDSA', hash: 'SHA-384' };
    case 'RSA-2048':
    case 'RSA-3072':
    case 'RSA-4096':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    case 'Ed25519':
      return { name: 'Ed25519' };
    default:
      throw new ConfigError('algorithm', algorithm, `unsupported key algorithm ${JSON.stringify(algorithm)}`);
  }
}

/** The node:crypto hash name each key algorithm signs with (Ed25519 hashes internally). */
export function hashFor(algorithm: KeyAlgorithm): 'sha256' | 'sha384' | null {
  const alg = signingAlgorithmFor(algorithm);
  return 'hash' in alg ? (alg.hash === 'SHA-384' ? 'sha384' : 'sha256') : null;
}

/** The key as a KeyObject when the handle's provider is Node's own WebCrypto; else undefined. */
function nodeKey(handle: KeyHandle, key: CryptoKey): KeyObject | undefined {
  // A wrapped or foreign provider (an HSM, an auditing proxy) is always used as given.
  if (handle.crypto !== (webcrypto as unknown as Crypto) && handle.crypto !== globalThis.crypto) return undefined;
  try {
    return KeyObject.from(key);
  } catch {
    return undefined;
  }
}

/** The handle's public key as SubjectPublicKeyInfo DER. */
export async function spkiOf(handle: KeyHandle): Promise<Uint8Array> {
  const k = nodeKey(handle, handle.publicKey);
  if (k) return new Uint8Array(k.export({ type: 'spki', format: 'der' }));
  return new Uint8Array(await handle.crypto.subtle.exportKey('spki', handle.publicKey));
}

/** ECDSA r||s (IEEE P1363, what WebCrypto returns) → DER ECDSA-Sig-Value. */
export function p1363ToDer(sig: Uint8Array): Uint8Array {
  const half = sig.length / 2;
  return tlv(0x30, concat([unsignedInteger(sig.subarray(0, half)), unsignedInteger(sig.subarray(half))]));
}

/**
 * Signs `data` with the handle's private key and returns the signature as an
 * X.509 signatureValue carries it (DER for ECDSA, raw for RSA and Ed25519).
 * @throws {@link KeyError} when the key cannot sign.
 */
export async function signWith(handle: KeyHandle, data: Uint8Array): Promise<Uint8Array> {
  const k = nodeKey(handle, handle.privateKey);
  try {
    const params = signingAlgorithmFor(handle.algorithm);
    if (k) return new Uint8Array(nodeSign(hashFor(handle.algorithm), data, k));
    const sig = new Uint8Array(await handle.crypto.subtle.sign({ ...params }, handle.privateKey, new Uint8Array(data)));
    return params.name === 'ECDSA' ? p1363ToDer(sig) : sig;
  } catch (e) {
    throw new KeyError(`the ${handle.algorithm} key "${handle.ref.id}" could not sign: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Whether `signature` (as {@link signWith} returns it) over `data` verifies
 * with the handle's own public key, or undefined when the handle's provider is
 * not Node's (the caller then checks another way).
 */
export function verifyWithNodeKey(handle: KeyHandle, data: Uint8Array, signature: Uint8Array): boolean | undefined {
  const k = nodeKey(handle, handle.publicKey);
  if (!k) return undefined;
  try {
    return nodeVerify(hashFor(handle.algorithm), data, k, signature);
  } catch {
    return false;
  }
}

/** SHA-1 of the subjectPublicKey bits: the key identifier of RFC 5280 §4.2.1.2 (method 1). */
export function keyIdentifier(subjectPublicKeyBits: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(subjectPublicKeyBits).digest());
}
