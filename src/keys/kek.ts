/**
 * Key-encryption keys (KEKs): the host's AES-256-GCM keys that seal software
 * private keys, their ids, and their key check values.
 *
 * @module
 */
import { ConfigError } from '../errors.js';

/**
 * A KEK's key: 32 bytes, or an AES-GCM 256-bit `CryptoKey` of the store's WebCrypto provider.
 *
 * @example
 * ```ts
 * const key: KekKey = Buffer.from(process.env.CERTSTEWARD_KEK!, 'base64')
 * ```
 */
export type KekKey = Uint8Array | CryptoKey;

/**
 * A key-encryption key as a host passes it: bare (its id is then derived from
 * its key check value, `kek-<16 hex>`, the same for the same key in bytes or
 * as a `CryptoKey`), or with an id of the host's choice (letters, digits, `_`,
 * `-`; at most 64), which is what a KMS key version or a secret's name gives.
 *
 * @example
 * ```ts
 * const current: KekInput = { id: 'kek-2026', key: await secrets.get('kek-2026') }
 * const bare: KekInput = SoftwareKeyStore.generateKek() // id: kek-<kcv hex>
 * ```
 */
export type KekInput = KekKey | { readonly id: string; readonly key: KekKey };

/**
 * A KEK ready to seal or unseal, as a {@link KekRing} hands it out.
 *
 * @example
 * ```ts
 * const kek: Kek = await ring.current()
 * console.log(kek.id, Buffer.from(kek.kcv!).toString('hex'))
 * ```
 */
export interface Kek {
  /** Recorded in each sealed key, so a ref names the KEK it needs. */
  readonly id: string;
  readonly key: CryptoKey;
  /** True when `kcv` is this KEK's key check value (see {@link kekCheckValue}). */
  matches(kcv: Uint8Array): Promise<boolean>;
  /** This KEK's key check value; `undefined` for a decrypt-only key (it can still check one). */
  readonly kcv: Uint8Array<ArrayBuffer> | undefined;
}

/**
 * The length of a KEK in bytes (AES-256).
 *
 * @example
 * ```ts
 * if (kek.length !== KEK_BYTES) throw new Error('a KEK is 32 bytes')
 * ```
 */
export const KEK_BYTES = 32;
/**
 * The length of a key check value in bytes.
 *
 * @example
 * ```ts
 * (await kekCheckValue(crypto, key)).length === KCV_BYTES // true
 * ```
 */
export const KCV_BYTES = 8;

const KEK_ID = /^[A-Za-z0-9_-]{1,64}$/;
// The KCV is the 64-bit AES-GCM tag of nothing under a fixed all-zero IV: it
// is deterministic, reveals no more than one AES block does, and never meets
// the random 96-bit IVs used to seal (a collision has probability 2^-96).
const kcvParams = (): AesGcmParams => ({ name: 'AES-GCM', iv: new Uint8Array(12), tagLength: KCV_BYTES * 8 });

interface KekSource {
  readonly setting: string;
  readonly id: string | undefined;
  /** A private copy of the host's bytes, zeroed once imported. */
  readonly bytes: Uint8Array<ArrayBuffer> | undefined;
  readonly key: CryptoKey | undefined;
}

function isCryptoKey(v: unknown): v is CryptoKey {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as CryptoKey).type === 'string' &&
    typeof (v as CryptoKey).algorithm === 'object' &&
    Array.isArray((v as CryptoKey).usages)
  );
}

function readKekInput(input: unknown, setting: string, role: 'current' | 'previous'): KekSource {
  let id: string | undefined;
  let key: unknown = input;
  if (typeof input === 'object' && input !== null && !(input instanceof Uint8Array) && !isCryptoKey(input)) {
    const o = input as { id?: unknown; key?: unknown };
    if (typeof o.id !== 'string' || !KEK_ID.test(o.id)) {
      throw new ConfigError(
        `${setting}.id`,
        o.id,
        `${setting}.id must be 1 to 64 letters, digits, "_" or "-" (it is written into every sealed key), got ${JSON.stringify(o.id)}`,
      );
    }
    id = o.id;
    key = o.key;
  }
  if (key instanceof Uint8Array) {
    if (key.length !== KEK_BYTES) {
      // Never echo the bytes: only their count.
      throw new ConfigError(
        setting,
        `<${key.length} bytes>`,
        `${setting} must be ${KEK_BYTES} bytes (AES-256), got ${key.length}: make one with SoftwareKeyStore.generateKek()`,
      );
    }
    return { setting, id, bytes: new Uint8Array(key), key: undefined };
  }
  if (isCryptoKey(key)) {
    const alg = key.algorithm as Partial<AesKeyAlgorithm>;
    if (key.type !== 'secret' || alg.name !== 'AES-GCM' || alg.length !== 256) {
      throw new ConfigError(
        setting,
        `<CryptoKey ${key.type} ${String(alg.name)}>`,
        `${setting} must be an AES-GCM CryptoKey of 256 bits, got ${key.type} ${String(alg.name)}${alg.length ? ` ${alg.length}` : ''}`,
      );
    }
    const needs: KeyUsage[] = role === 'current' ? ['encrypt', 'decrypt'] : ['decrypt'];
    const missing = needs.filter((u) => !key.usages.includes(u));
    if (missing.length > 0) {
      throw new ConfigError(setting, `<CryptoKey usages ${key.usages.join(',')}>`, `${setting} must allow ${missing.join(' and ')}`);
    }
    if (id === undefined && !key.usages.includes('encrypt')) {
      throw new ConfigError(
        setting,
        '<CryptoKey without encrypt>',
        `${setting} cannot encrypt, so its id cannot be derived: pass it as { id, key } with the id it sealed under`,
      );
    }
    return { setting, id, bytes: undefined, key };
  }
  throw new ConfigError(
    setting,
    typeof key,
    `${setting} must be ${KEK_BYTES} bytes (Uint8Array), an AES-GCM CryptoKey, or { id, key } with one of those`,
  );
}

/**
 * The key check value (KCV) of an AES-GCM key: 8 bytes that identify the key
 * without revealing it, like the KCVs HSMs print. Two KEKs with the same KCV
 * are the same key (up to a 2^-64 chance).
 *
 * @example
 * ```ts
 * const kcv = await kekCheckValue(crypto, kekKey) // Uint8Array(8)
 * ```
 */
export async function kekCheckValue(crypto: Crypto, key: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.encrypt(kcvParams(), key, new Uint8Array(0)));
}

async function makeKek(crypto: Crypto, source: KekSource): Promise<Kek> {
  let key = source.key;
  if (!key) {
    const bytes = source.bytes!;
    try {
      key = await crypto.subtle.importKey('raw', bytes, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    } catch (e) {
      throw new ConfigError(source.setting, '<32 bytes>', `${source.setting} could not be imported as an AES-GCM key`, {
        cause: e,
      });
    } finally {
      bytes.fill(0);
    }
  }
  const kcv = key.usages.includes('encrypt') ? await kekCheckValue(crypto, key) : undefined;
  const own = key;
  return {
    id: source.id ?? `kek-${Buffer.from(kcv!).toString('hex')}`,
    key: own,
    kcv,
    async matches(candidate: Uint8Array): Promise<boolean> {
      if (candidate.length !== KCV_BYTES) return false;
      if (kcv) return Buffer.from(kcv).equals(candidate);
      try {
        // A decrypt-only key checks a KCV by authenticating it as a tag.
        await crypto.subtle.decrypt(kcvParams(), own, new Uint8Array(candidate));
        return true;
      } catch {
        return false;
      }
    },
  };
}

/**
 * The KEKs of one software key store: the current one, which seals, and the
 * previous ones, which only unseal (for rotation). Inputs are validated when
 * the ring is built (a wrong length or a wrong kind of key throws
 * {@link ConfigError} at once); keys are imported on first use.
 *
 * @example
 * ```ts
 * const ring = new KekRing(crypto, { id: 'kek-2026', key: newKek }, [{ id: 'kek-2025', key: oldKek }])
 * const kek = await ring.find('kek-2025')
 * ```
 */
export class KekRing {
  readonly #crypto: Crypto;
  readonly #sources: readonly KekSource[];
  #ready: Promise<readonly Kek[]> | undefined;

  constructor(crypto: Crypto, current: KekInput, previous: readonly KekInput[] = []) {
    if (!Array.isArray(previous)) {
      throw new ConfigError('previousKeks', typeof previous, 'previousKeks must be an array of KEKs');
    }
    const sources = [
      readKekInput(current, 'kek', 'current'),
      ...previous.map((p, i) => readKekInput(p, `previousKeks[${i}]`, 'previous')),
    ];
    const seen = new Map<string, string>();
    for (const s of sources) {
      if (s.id === undefined) continue;
      const other = seen.get(s.id);
      if (other) throw new ConfigError(s.setting, s.id, `${s.setting} has the id "${s.id}" that ${other} has already`);
      seen.set(s.id, s.setting);
    }
    this.#crypto = crypto;
    this.#sources = sources;
  }

  #keks(): Promise<readonly Kek[]> {
    this.#ready ??= (async () => {
      const keks = await Promise.all(this.#sources.map((s) => makeKek(this.#crypto, s)));
      const byId = new Map<string, Kek>();
      for (const [i, k] of keks.entries()) {
        const first = byId.get(k.id);
        if (!first) {
          byId.set(k.id, k);
        } else if (first.kcv && k.kcv && !Buffer.from(first.kcv).equals(k.kcv)) {
          const setting = this.#sources[i]?.setting ?? 'previousKeks';
          throw new ConfigError(setting, k.id, `${setting} is a different key with the id "${k.id}" of another KEK`);
        }
        // else: the same key listed twice; the first (current before previous) serves.
      }
      return [...byId.values()];
    })();
    return this.#ready;
  }

  /** The KEK that seals. */
  async current(): Promise<Kek> {
    return (await this.#keks())[0]!;
  }

  /** The KEK with this id, if the ring has it. */
  async find(id: string): Promise<Kek | undefined> {
    return (await this.#keks()).find((k) => k.id === id);
  }

  /** The ids of every KEK, current first (for messages). */
  async ids(): Promise<string[]> {
    return (await this.#keks()).map((k) => k.id);
  }
}

/**
 * True when `id` can be a KEK id (and so a field of a sealed-key envelope).
 *
 * @example
 * ```ts
 * isKekId('kek-2026') // true
 * isKekId('a.b')      // false: "." separates envelope fields
 * ```
 */
export function isKekId(id: unknown): id is string {
  return typeof id === 'string' && KEK_ID.test(id);
}
