/**
 * A key store in process memory, for tests and demos.
 *
 * @module
 */
import { randomUUID, webcrypto } from 'node:crypto';
import { KeyStoreError } from '../errors.js';
import { generateKeyPair, isKeyAlgorithm, keyAlgorithmParams } from '../keys/key-algorithms.js';
import { spkiSha256 } from '../keys/spki-sha256.js';
import type { KeyHandle, KeyImport, KeyRef, KeySpec, KeyStore } from '../ports/key-store.js';
import { importedKeyPair } from '../keys/imported-key.js';
import { assertOwnKeyRef } from '../keys/own-key-ref.js';

/**
 * Options of {@link MemoryKeyStore}.
 *
 * @example
 * ```ts
 * const keys = new MemoryKeyStore({ crypto: hsmLikeProvider })
 * ```
 */
export interface MemoryKeyStoreOptions {
  /** The WebCrypto implementation that generates the keys. Default: Node's. */
  readonly crypto?: Crypto;
}

interface Entry {
  readonly ref: KeyRef;
  readonly publicKey: CryptoKey;
  readonly privateKey: CryptoKey;
}

/**
 * A {@link KeyStore} that keeps key pairs in a `Map` of this instance, like an
 * HSM would keep them in its slot: refs carry no key material at all (no
 * `sealed`), private keys are non-extractable (`exportable: false`), and
 * `destroy()` really removes the key, after which `load()` fails with
 * `'not-found'`. Keys die with the instance, so share one instance wherever
 * a test needs the same keys (a steward and its restarted copy, for one).
 *
 * @example
 * ```ts
 * const keys = new MemoryKeyStore()
 * const steward = createSteward({ store: new MemoryStore(), keys, clock: new ManualClock(), authorities })
 * // ...
 * expect(keys.size).toBe(1) // the old key was destroyed after rotation
 * ```
 */
export class MemoryKeyStore implements KeyStore {
  /** Recorded as `ref.store` in every ref this store makes. */
  readonly kind = 'memory';
  readonly #crypto: Crypto;
  readonly #keys = new Map<string, Entry>();

  /**
   * @example
   * ```ts
   * const keys = new MemoryKeyStore()
   * ```
   */
  constructor(options: MemoryKeyStoreOptions = {}) {
    this.#crypto = options.crypto ?? (webcrypto as unknown as Crypto);
  }

  /**
   * How many keys the store holds (generated and not destroyed).
   *
   * @example
   * ```ts
   * await keys.destroy(handle.ref)
   * expect(keys.size).toBe(0)
   * ```
   */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * Generates a non-extractable key pair and keeps it under a random id.
   *
   * @throws {@link KeyStoreError} `'unsupported'` for an algorithm that is not a {@link KeyAlgorithm}.
   * @example
   * ```ts
   * const { ref } = await keys.generate({ algorithm: 'ECDSA-P256' })
   * ```
   */
  async generate(spec: KeySpec, options?: { signal?: AbortSignal }): Promise<KeyHandle> {
    options?.signal?.throwIfAborted();
    const algorithm = spec?.algorithm;
    keyAlgorithmParams(algorithm);
    const pair = await generateKeyPair(this.#crypto, algorithm, { extractable: false });
    const ref: KeyRef = Object.freeze({
      store: this.kind,
      id: randomUUID(),
      algorithm,
      spkiSha256: await spkiSha256(this.#crypto, pair.publicKey),
    });
    options?.signal?.throwIfAborted();
    const entry: Entry = { ref, publicKey: pair.publicKey, privateKey: pair.privateKey };
    this.#keys.set(ref.id, entry);
    return this.#handle(entry);
  }

  /**
   * Keeps an existing private key (PKCS#8), non-extractable, as if generated here.
   *
   * @throws {@link KeyStoreError} `'corrupt'` for unreadable PKCS#8, `'unsupported'` when it is not an `algorithm` key.
   * @example
   * ```ts
   * const handle = await keys.import({ pkcs8, algorithm: 'ECDSA-P256' })
   * ```
   */
  async import(input: KeyImport, options?: { signal?: AbortSignal }): Promise<KeyHandle> {
    options?.signal?.throwIfAborted();
    const pair = await importedKeyPair(this.#crypto, input, false);
    const ref: KeyRef = Object.freeze({ store: this.kind, id: randomUUID(), algorithm: input.algorithm, spkiSha256: await spkiSha256(this.#crypto, pair.publicKey) });
    const entry: Entry = { ref, publicKey: pair.publicKey, privateKey: pair.privateKey };
    this.#keys.set(ref.id, entry);
    return this.#handle(entry);
  }

  /**
   * The key of `ref`.
   *
   * @throws {@link KeyStoreError} `'not-found'` when this instance never made it
   *   or destroyed it; `'corrupt'` when the ref's algorithm or spkiSha256 are not
   *   the key's; `'unsupported'` for a ref of another store kind or algorithm.
   * @example
   * ```ts
   * const handle = await keys.load(JSON.parse(JSON.stringify(ref)))
   * ```
   */
  async load(ref: KeyRef, options?: { signal?: AbortSignal }): Promise<KeyHandle> {
    options?.signal?.throwIfAborted();
    this.#checkRef(ref);
    const entry = this.#keys.get(ref.id);
    if (!entry) {
      throw new KeyStoreError('not-found', `this memory key store has no key ${JSON.stringify(ref.id)} (never made here, or destroyed)`);
    }
    if (entry.ref.algorithm !== ref.algorithm || entry.ref.spkiSha256 !== ref.spkiSha256) {
      throw new KeyStoreError('corrupt', `key ${JSON.stringify(ref.id)}: the ref's algorithm or spkiSha256 are not the key's`);
    }
    return this.#handle(entry);
  }

  /**
   * Forgets the key of `ref`. Destroying a key that is gone succeeds.
   *
   * @throws {@link KeyStoreError} `'unsupported'` for a ref of another store kind.
   * @example
   * ```ts
   * await keys.destroy(ref)
   * await keys.destroy(ref) // still fine
   * ```
   */
  async destroy(ref: KeyRef, options?: { signal?: AbortSignal }): Promise<void> {
    options?.signal?.throwIfAborted();
    assertOwnKeyRef(ref, this.kind);
    this.#keys.delete(ref.id);
  }


  #checkRef(ref: KeyRef): void {
    assertOwnKeyRef(ref, this.kind);
    if (!isKeyAlgorithm(ref.algorithm)) {
      throw new KeyStoreError('unsupported', `key ${JSON.stringify(ref.id)} has an unsupported algorithm ${JSON.stringify(ref.algorithm)}`);
    }
  }

  #handle(entry: Entry): KeyHandle {
    return Object.freeze({
      ref: entry.ref,
      algorithm: entry.ref.algorithm,
      crypto: this.#crypto,
      publicKey: entry.publicKey,
      privateKey: entry.privateKey,
      exportable: false,
    });
  }
}
