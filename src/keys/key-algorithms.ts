/**
 * What each {@link KeyAlgorithm} means in WebCrypto: how to generate, import
 * and sign with it.
 *
 * @module
 */
import { KeyStoreError } from '../errors.js';
import type { KeyAlgorithm } from '../ports/key-store.js';

/**
 * The WebCrypto parameters of one {@link KeyAlgorithm}.
 *
 * @example
 * ```ts
 * const { generate, sign }: KeyAlgorithmParams = keyAlgorithmParams('ECDSA-P384')
 * // generate: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' }
 * ```
 */
export interface KeyAlgorithmParams {
  /** For `subtle.generateKey`. */
  readonly generate: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm;
  /** For `subtle.importKey` of its PKCS#8, SPKI or JWK. */
  readonly import: EcKeyImportParams | RsaHashedImportParams | Algorithm;
  /** For `subtle.sign` and `subtle.verify`. */
  readonly sign: EcdsaParams | Algorithm;
}

// RSA keys bind their hash at generation (WebCrypto), so SHA-256 is fixed here;
// ECDSA signs P-384 with SHA-384, the pairing CAs and the Baseline Requirements expect.
const table: Readonly<Record<KeyAlgorithm, () => KeyAlgorithmParams>> = {
  'ECDSA-P256': () => ec('P-256', 'SHA-256'),
  'ECDSA-P384': () => ec('P-384', 'SHA-384'),
  'RSA-2048': () => rsa(2048),
  'RSA-3072': () => rsa(3072),
  'RSA-4096': () => rsa(4096),
  Ed25519: () => ({ generate: { name: 'Ed25519' }, import: { name: 'Ed25519' }, sign: { name: 'Ed25519' } }),
};

function ec(namedCurve: 'P-256' | 'P-384', hash: 'SHA-256' | 'SHA-384'): KeyAlgorithmParams {
  return {
    generate: { name: 'ECDSA', namedCurve },
    import: { name: 'ECDSA', namedCurve },
    sign: { name: 'ECDSA', hash },
  };
}

function rsa(modulusLength: 2048 | 3072 | 4096): KeyAlgorithmParams {
  const name = 'RSASSA-PKCS1-v1_5';
  return {
    // A fresh exponent array per call: a shared one could be mutated by a caller.
    generate: { name, modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    import: { name, hash: 'SHA-256' },
    sign: { name },
  };
}

/**
 * Every key algorithm certsteward supports, in a stable order.
 *
 * @example
 * ```ts
 * for (const algorithm of keyAlgorithms) await store.generate({ algorithm })
 * ```
 */
export const keyAlgorithms: readonly KeyAlgorithm[] = Object.freeze(Object.keys(table) as KeyAlgorithm[]);

/**
 * True when `value` names a supported {@link KeyAlgorithm} (refs read from a
 * database are not to be trusted to hold one).
 *
 * @example
 * ```ts
 * if (!isKeyAlgorithm(row.algorithm)) throw new Error(`unknown key algorithm ${row.algorithm}`)
 * ```
 */
export function isKeyAlgorithm(value: unknown): value is KeyAlgorithm {
  return typeof value === 'string' && Object.hasOwn(table, value);
}

/**
 * The WebCrypto parameters of `algorithm`: a new object on every call.
 *
 * @throws {@link KeyStoreError} with `reason: 'unsupported'` when `algorithm` is not a {@link KeyAlgorithm}.
 * @example
 * ```ts
 * const { sign } = keyAlgorithmParams(handle.algorithm)
 * const signature = await handle.crypto.subtle.sign(sign, handle.privateKey, data)
 * ```
 */
export function keyAlgorithmParams(algorithm: KeyAlgorithm): KeyAlgorithmParams {
  if (!isKeyAlgorithm(algorithm)) {
    throw new KeyStoreError(
      'unsupported',
      `unsupported key algorithm ${JSON.stringify(algorithm)}: use one of ${keyAlgorithms.join(', ')}`,
    );
  }
  return table[algorithm]();
}

/**
 * Generates a signing key pair of `algorithm` with `crypto` (Node's WebCrypto,
 * or another provider). Public keys are always extractable (WebCrypto);
 * `extractable` applies to the private key.
 *
 * @throws {@link KeyStoreError} `'unsupported'` for an unknown algorithm or one
 *   the provider does not implement, `'unavailable'` when the provider fails.
 * @example
 * ```ts
 * const pair = await generateKeyPair(crypto, 'ECDSA-P256', { extractable: false })
 * ```
 */
export async function generateKeyPair(
  crypto: Crypto,
  algorithm: KeyAlgorithm,
  options: { readonly extractable: boolean },
): Promise<CryptoKeyPair> {
  const params = keyAlgorithmParams(algorithm);
  try {
    return (await crypto.subtle.generateKey(params.generate, options.extractable, ['sign', 'verify'])) as CryptoKeyPair;
  } catch (e) {
    const unsupported = (e as { name?: unknown } | null)?.name === 'NotSupportedError';
    throw new KeyStoreError(
      unsupported ? 'unsupported' : 'unavailable',
      unsupported
        ? `the WebCrypto provider cannot generate ${algorithm} keys: choose another algorithm or provider`
        : `could not generate a ${algorithm} key: ${(e as Error)?.message ?? String(e)}`,
      { cause: e },
    );
  }
}
