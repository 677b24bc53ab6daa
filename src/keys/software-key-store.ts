/**
 * Software keys sealed with the host's key-encryption key.
 *
 * @module
 */
import { randomBytes, randomUUID, webcrypto } from 'node:crypto';
import { ConfigError, KeyStoreError } from '../errors.js';
import type { KeyAlgorithm, KeyHandle, KeyImport, KeyRef, KeySpec, KeyStore } from '../ports/key-store.js';
import { importedKeyPair } from './imported-key.js';
import { KEK_BYTES, KekRing, type KekInput } from './kek.js';
import { generateKeyPair, isKeyAlgorithm, keyAlgorithmParams } from './key-algorithms.js';
import { sealPrivateKey, unsealPrivateKey } from './sealed-key.js';
import { spkiSha256 } from './spki-sha256.js';
import { assertOwnKeyRef } from './own-key-ref.js';

/**
 * Options of {@link SoftwareKeyStore}.
 *
 * @example
 * ```ts
 * const options: SoftwareKeyStoreOptions = {
 *   kek: { id: 'kek-2026', key: newKek },
 *   previousKeks: [{ id: 'kek-2025', key: oldKek }],
 * }
 * ```
 */
export interface SoftwareKeyStoreOptions {
  /**
   * The key-encryption key that seals new keys: 32 bytes, an AES-GCM 256-bit
   * `CryptoKey` (with `encrypt` and `decrypt`), or `{ id, key }` with one of
   * those. Without an id, the KEK's id is derived from its key check value.
   */
  readonly kek: KekInput;
  /**
   * Earlier KEKs, kept during a KEK rotation: `load()` opens keys sealed by
   * any of them; {@link SoftwareKeyStore.reseal} moves a key to `kek`.
   */
  readonly previousKeks?: readonly KekInput[];
  /**
   * Whether handed-out private keys can be exported (`subtle.exportKey`).
   * Default `false`: they can sign, and nothing else.
   */
  readonly exportable?: boolean;
  /**
   * The WebCrypto implementation for keys and sealing. Default: Node's.
   * Ids and IVs always come from Node's CSPRNG.
   */
  readonly crypto?: Crypto;
}

interface Opened {
  readonly publicKey: CryptoKey;
  /** The private key, imported extractable (needed to derive the public key). */
  readonly extractable: CryptoKey;
  readonly pkcs8: Uint8Array<ArrayBuffer>;
}

/**
 * A {@link KeyStore} for software keys that keeps no state of its own: each
 * private key is exported as PKCS#8, sealed with AES-256-GCM under the
 * host's key-encryption key (KEK), and carried in {@link KeyRef.sealed}, so
 * the certificate store's record is the key's only home. Any process with
 * the KEK can `load()` it; without the KEK the ref is useless.
 *
 * `load()` fails with {@link KeyStoreError} `'wrong-kek'` when the KEK it
 * needs is missing or different, and `'corrupt'` when the sealed key or the
 * ref's `algorithm`, `id` or `spkiSha256` were altered: it never hands out a
 * wrong key.
 *
 * `destroy()` is a no-op that succeeds: there is nothing to destroy here. The
 * sealed key lives in the certificate store, and deleting the record (or the
 * ref within it) destroys it. Rotating the KEK and resealing every ref makes
 * copies in old backups unreadable once the old KEK is gone.
 *
 * @example
 * ```ts
 * const keys = new SoftwareKeyStore({ kek: Buffer.from(process.env.CERTSTEWARD_KEK!, 'base64') })
 * const key = await keys.generate({ algorithm: 'ECDSA-P256' })
 * await db.save(JSON.stringify(key.ref))                  // sealed: safe to store
 * const again = await keys.load(JSON.parse(await db.read()))
 * const sig = await again.crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, again.privateKey, data)
 * ```
 * @example KEK rotation
 * ```ts
 * const keys = new SoftwareKeyStore({ kek: { id: 'kek-2026', key: newKek }, previousKeks: [{ id: 'kek-2025', key: oldKek }] })
 * for (const record of records) {
 *   if (record.keyRef.kekId !== (await keys.currentKekId())) record.keyRef = await keys.reseal(record.keyRef)
 * }
 * ```
 */
export class SoftwareKeyStore implements KeyStore {
  /** Recorded as `ref.store` in every ref this store makes. */
  readonly kind = 'software';
  readonly #crypto: Crypto;
  readonly #ring: KekRing;
  readonly #exportable: boolean;

  /**
   * 32 random bytes from Node's CSPRNG: a new KEK. Keep it in a secret
   * manager; whoever holds it can open every sealed key.
   *
   * @example
   * ```ts
   * console.log(Buffer.from(SoftwareKeyStore.generateKek()).toString('base64'))
   * ```
   */
  static generateKek(): Uint8Array {
    return new Uint8Array(randomBytes(KEK_BYTES));
  }

  /**
   * @throws {@link ConfigError} when a KEK has the wrong length or is not an
   *   AES-GCM 256-bit key, when two KEKs share an id, or when an option has the wrong type.
   * @example
   * ```ts
   * const keys = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek(), exportable: false })
   * ```
   */
  constructor(options: SoftwareKeyStoreOptions) {
    if (typeof options !== 'object' || options === null || !('kek' in options)) {
      throw new ConfigError('kek', undefined, 'SoftwareKeyStore needs { kek }: make one with SoftwareKeyStore.generateKek()');
    }
    if (options.exportable !== undefined && typeof options.exportable !== 'boolean') {
      throw new ConfigError('exportable', options.exportable, 'exportable must be true or false');
    }
    this.#crypto = options.crypto ?? (webcrypto as unknown as Crypto);
    this.#ring = new KekRing(this.#crypto, options.kek, options.previousKeks ?? []);
    this.#exportable = options.exportable ?? false;
  }

  /**
   * The id of the KEK that seals new keys (and resealed ones): a ref whose
   * `kekId` differs needs {@link SoftwareKeyStore.reseal} to leave the old KEK behind.
   *
   * @example
   * ```ts
   * const current = await keys.currentKekId()
   * const stale = records.filter((r) => r.keyRef.kekId !== current)
   * ```
   */
  async currentKekId(): Promise<string> {
    return (await this.#ring.current()).id;
  }

  /**
   * Generates a key pair and seals its private key under the current KEK.
   *
   * @throws {@link KeyStoreError} `'unsupported'` for an algorithm that is not a {@link KeyAlgorithm}.
   * @example
   * ```ts
   * const { ref, privateKey } = await keys.generate({ algorithm: 'Ed25519', label: 'api.example.com' })
   * ```
   */
  async generate(spec: KeySpec, options?: { signal?: AbortSignal }): Promise<KeyHandle> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const algorithm = spec?.algorithm;
    const params = keyAlgorithmParams(algorithm);
    // Extractable once, to seal; the handle gets a non-extractable copy unless the host opted in.
    const pair = await generateKeyPair(this.#crypto, algorithm, { extractable: true });
    const pkcs8 = new Uint8Array(await this.#crypto.subtle.exportKey('pkcs8', pair.privateKey));
    try {
      const binding = { algorithm, id: randomUUID(), spkiSha256: await spkiSha256(this.#crypto, pair.publicKey) };
      const kek = await this.#ring.current();
      const sealed = await sealPrivateKey(this.#crypto, kek, binding, pkcs8);
      const privateKey = this.#exportable
        ? pair.privateKey
        : await this.#crypto.subtle.importKey('pkcs8', pkcs8, params.import, false, ['sign']);
      signal?.throwIfAborted();
      const ref: KeyRef = Object.freeze({ store: this.kind, ...binding, sealed, kekId: kek.id });
      return this.#handle(ref, pair.publicKey, privateKey);
    } finally {
      pkcs8.fill(0);
    }
  }

  /**
   * Seals an existing private key (PKCS#8) under the current KEK and returns
   * its handle, as if this store had generated it. The caller's bytes are
   * zeroed.
   *
   * @throws {@link KeyStoreError} `'corrupt'` for unreadable PKCS#8, `'unsupported'` when it is not an `algorithm` key.
   * @example
   * ```ts
   * const handle = await keys.import({ pkcs8: walletKeyDer, algorithm: 'ECDSA-P256', label: 'appUser' })
   * ```
   */
  async import(input: KeyImport, options?: { signal?: AbortSignal }): Promise<KeyHandle> {
    options?.signal?.throwIfAborted();
    const pair = await importedKeyPair(this.#crypto, input, true);
    const pkcs8 = new Uint8Array(await this.#crypto.subtle.exportKey('pkcs8', pair.privateKey));
    try {
      const binding = { algorithm: input.algorithm, id: randomUUID(), spkiSha256: await spkiSha256(this.#crypto, pair.publicKey) };
      const kek = await this.#ring.current();
      const sealed = await sealPrivateKey(this.#crypto, kek, binding, pkcs8);
      const privateKey = this.#exportable
        ? pair.privateKey
        : await this.#crypto.subtle.importKey('pkcs8', pkcs8, keyAlgorithmParams(input.algorithm).import, false, ['sign']);
      options?.signal?.throwIfAborted();
      return this.#handle(Object.freeze({ store: this.kind, ...binding, sealed, kekId: kek.id }), pair.publicKey, privateKey);
    } finally {
      pkcs8.fill(0);
    }
  }

  /**
   * Unseals and imports the key of `ref` (sealed by the current KEK or any previous one).
   *
   * @throws {@link KeyStoreError} `'wrong-kek'` when the KEK that sealed it is
   *   not configured (the message names its id) or a different key has its id;
   *   `'corrupt'` when the ref or its sealed key were altered or are malformed;
   *   `'unsupported'` for a ref of another store kind or an unknown algorithm.
   * @example
   * ```ts
   * const handle = await keys.load(record.keyRef)
   * ```
   */
  async load(ref: KeyRef, options?: { signal?: AbortSignal }): Promise<KeyHandle> {
    options?.signal?.throwIfAborted();
    const opened = await this.#open(ref);
    try {
      const privateKey = this.#exportable
        ? opened.extractable
        : await this.#crypto.subtle.importKey('pkcs8', opened.pkcs8, keyAlgorithmParams(ref.algorithm).import, false, ['sign']);
      options?.signal?.throwIfAborted();
      return this.#handle(Object.freeze({ ...ref }), opened.publicKey, privateKey);
    } finally {
      opened.pkcs8.fill(0);
    }
  }

  /**
   * Does nothing and succeeds: a software key has no home but its ref (see
   * the class notes). Refs of another store kind are refused, so an HSM key
   * routed here by mistake is never reported destroyed.
   *
   * @throws {@link KeyStoreError} `'unsupported'` for a ref of another store kind.
   * @example
   * ```ts
   * await keys.destroy(record.keyRef)
   * await store.update({ ...record, keyRef: undefined }, now) // this is what destroys it
   * ```
   */
  async destroy(ref: KeyRef, options?: { signal?: AbortSignal }): Promise<void> {
    options?.signal?.throwIfAborted();
    assertOwnKeyRef(ref, this.kind);
  }

  /**
   * Re-seals the key of `ref` under the current KEK (with a new IV) and
   * returns the new ref: same `id`, `algorithm` and `spkiSha256`, new `sealed`
   * and `kekId`. Persist it in place of the old one; once no ref names an old
   * KEK, drop it from `previousKeks`.
   *
   * @throws {@link KeyStoreError} as {@link SoftwareKeyStore.load} does.
   * @example
   * ```ts
   * await certificates.update({ ...record, keyRef: await keys.reseal(record.keyRef) }, now)
   * ```
   */
  async reseal(ref: KeyRef, options?: { signal?: AbortSignal }): Promise<KeyRef> {
    options?.signal?.throwIfAborted();
    const opened = await this.#open(ref);
    try {
      const kek = await this.#ring.current();
      const binding = { algorithm: ref.algorithm, id: ref.id, spkiSha256: ref.spkiSha256 };
      const sealed = await sealPrivateKey(this.#crypto, kek, binding, opened.pkcs8);
      options?.signal?.throwIfAborted();
      return Object.freeze({ ...ref, sealed, kekId: kek.id });
    } finally {
      opened.pkcs8.fill(0);
    }
  }


  /** Unseals, imports and checks the key of `ref` against `ref.spkiSha256`. */
  async #open(ref: KeyRef): Promise<Opened> {
    assertOwnKeyRef(ref, this.kind);
    const name = JSON.stringify(ref.id);
    if (!isKeyAlgorithm(ref.algorithm)) {
      throw new KeyStoreError('unsupported', `key ${name} has an unsupported algorithm ${JSON.stringify(ref.algorithm)}`);
    }
    if (typeof ref.id !== 'string' || typeof ref.spkiSha256 !== 'string') {
      throw new KeyStoreError('corrupt', `key ${name}: the ref lacks its id or spkiSha256`);
    }
    const params = keyAlgorithmParams(ref.algorithm);
    const pkcs8 = await unsealPrivateKey(this.#crypto, this.#ring, ref);
    try {
      let extractable: CryptoKey;
      try {
        extractable = await this.#crypto.subtle.importKey('pkcs8', pkcs8, params.import, true, ['sign']);
      } catch (e) {
        throw new KeyStoreError('corrupt', `key ${name}: its unsealed private key is not a ${ref.algorithm} PKCS#8 key`, { cause: e });
      }
      const publicKey = await this.#publicKeyOf(extractable, ref.algorithm);
      // Authentication proves who sealed it; this proves the sealer paired the right key with the ref.
      if ((await spkiSha256(this.#crypto, publicKey)) !== ref.spkiSha256) {
        throw new KeyStoreError('corrupt', `key ${name}: its private key does not match the ref's spkiSha256`);
      }
      return { publicKey, extractable, pkcs8 };
    } catch (e) {
      pkcs8.fill(0);
      throw e;
    }
  }

  /** WebCrypto cannot derive a public key; its JWK members can (copied by name, never `d`). */
  async #publicKeyOf(privateKey: CryptoKey, algorithm: KeyAlgorithm): Promise<CryptoKey> {
    const jwk = await this.#crypto.subtle.exportKey('jwk', privateKey);
    const pub: JsonWebKey = { kty: jwk.kty };
    for (const member of ['crv', 'x', 'y', 'n', 'e'] as const) if (jwk[member] !== undefined) pub[member] = jwk[member];
    return this.#crypto.subtle.importKey('jwk', pub, keyAlgorithmParams(algorithm).import, true, ['verify']);
  }

  #handle(ref: KeyRef, publicKey: CryptoKey, privateKey: CryptoKey): KeyHandle {
    return Object.freeze({
      ref,
      algorithm: ref.algorithm,
      crypto: this.#crypto,
      publicKey,
      privateKey,
      exportable: this.#exportable,
    });
  }
}
