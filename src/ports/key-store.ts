/**
 * Where private keys live: software keys sealed with a host key, or an HSM.
 *
 * @module
 */

/** Key algorithms certsteward can ask a key store for. */
export type KeyAlgorithm = 'ECDSA-P256' | 'ECDSA-P384' | 'RSA-2048' | 'RSA-3072' | 'RSA-4096' | 'Ed25519';

/** What to generate. */
export interface KeySpec {
  readonly algorithm: KeyAlgorithm;
  /** A label for people and HSM object labels (the certificate id, a version). */
  readonly label?: string;
}

/**
 * A persisted, JSON-safe reference to a key. It is what the certificate store
 * keeps: never a private key in clear. `sealed` holds the private key
 * encrypted under the key store's key-encryption key (software keys only).
 */
export interface KeyRef {
  /** The key store kind that made it (`software`, `memory`, `pkcs11`, …). */
  readonly store: string;
  /** The key's id within that store. */
  readonly id: string;
  readonly algorithm: KeyAlgorithm;
  /** Sealed private key (base64url), for stores that keep no state of their own. */
  readonly sealed?: string;
  /** Which key-encryption key sealed it, so the KEK can be rotated. */
  readonly kekId?: string;
  /** SHA-256 (hex) of the public key's SubjectPublicKeyInfo. */
  readonly spkiSha256: string;
}

/** A usable key: WebCrypto keys plus the provider that can use them. */
export interface KeyHandle {
  readonly ref: KeyRef;
  readonly algorithm: KeyAlgorithm;
  /** The WebCrypto implementation that owns these keys (Node's, or an HSM's). */
  readonly crypto: Crypto;
  readonly publicKey: CryptoKey;
  readonly privateKey: CryptoKey;
  /** Whether the private key can leave the key store (software keys: yes; HSM keys: no). */
  readonly exportable: boolean;
}

/** An existing private key handed to {@link KeyStore.import}. */
export interface KeyImport {
  /** PKCS#8 DER of the private key; the store may zero it after use. */
  readonly pkcs8: Uint8Array;
  readonly algorithm: KeyAlgorithm;
  readonly label?: string;
}

/**
 * Generates, loads and destroys keys. Implementations must pass
 * `describeKeyStore` from `certsteward/testing`.
 */
export interface KeyStore {
  /** A short name for the kind of store, recorded in each {@link KeyRef}. */
  readonly kind: string;
  /** Generates a key pair.
   *  @throws {@link KeyStoreError} when the store cannot generate it. */
  generate(spec: KeySpec, options?: { signal?: AbortSignal }): Promise<KeyHandle>;
  /** Loads a key from its reference.
   *  @throws {@link KeyStoreError} with `reason`: `'not-found'` when the key is gone, `'wrong-kek'` when it was
   *  sealed under a key-encryption key this store does not have, `'corrupt'` when the reference or its sealed
   *  data was altered, `'unsupported'` for a reference made by another kind of store or an unknown algorithm. */
  load(ref: KeyRef, options?: { signal?: AbortSignal }): Promise<KeyHandle>;
  /** Destroys the key. Destroying a key that is already gone succeeds; a reference made by another
   *  kind of store is refused (`'unsupported'`), so a key is never reported destroyed that was not. */
  destroy(ref: KeyRef, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Takes in an existing private key (a Fabric wallet's, a file's) and keeps
   * it as the store keeps its own: sealed by a software store, unwrapped into
   * the token by an HSM store (optional power).
   * @throws {@link KeyStoreError} `'corrupt'` for unreadable PKCS#8, `'unsupported'` when the key is not of `algorithm`. */
  import?(key: KeyImport, options?: { signal?: AbortSignal }): Promise<KeyHandle>;
}
