/**
 * The sealed-key envelope: a PKCS#8 private key encrypted with AES-256-GCM
 * under a KEK, bound to the {@link KeyRef} that carries it.
 *
 * Format (version 1), five fields joined by `.`:
 * `v1.<kekId>.<kcv>.<iv>.<ciphertext+tag>`, the last three base64url
 * (unpadded). `kcv` is the sealing KEK's key check value (`kekCheckValue`
 * in `kek.ts`), which lets `load()` tell a wrong KEK (`wrong-kek`)
 * from altered data (`corrupt`); AES-GCM alone cannot tell them apart. The
 * additional authenticated data is the envelope's header and the ref's
 * `algorithm`, `id` and `spkiSha256`, so a sealed key moved to another ref,
 * or relabelled, fails authentication.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { KeyStoreError } from '../errors.js';
import type { KeyRef } from '../ports/key-store.js';
import { KCV_BYTES, isKekId, type Kek, type KekRing } from './kek.js';

/**
 * The parts of a version-1 sealed-key envelope.
 *
 * @example
 * ```ts
 * const { kekId, iv } = parseSealedKey(ref.sealed) // iv.length === 12
 * ```
 */
export interface SealedKeyEnvelope {
  readonly kekId: string;
  /** Key check value of the KEK that sealed it (8 bytes). */
  readonly kcv: Uint8Array<ArrayBuffer>;
  /** AES-GCM IV (12 random bytes, new for every seal). */
  readonly iv: Uint8Array<ArrayBuffer>;
  /** AES-GCM ciphertext of the PKCS#8 DER, followed by the 16-byte tag. */
  readonly ciphertext: Uint8Array<ArrayBuffer>;
}

/**
 * The fields of a {@link KeyRef} a sealed key is bound to (its AES-GCM additional data).
 *
 * @example
 * ```ts
 * const binding: SealBinding = { algorithm: ref.algorithm, id: ref.id, spkiSha256: ref.spkiSha256 }
 * ```
 */
export type SealBinding = Pick<KeyRef, 'algorithm' | 'id' | 'spkiSha256'>;

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64U = /^[A-Za-z0-9_-]+$/;

function b64u(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

function fromB64u(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!B64U.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // Only the canonical encoding: Node would silently drop stray bits.
  return bytes.toString('base64url') === text ? new Uint8Array(bytes) : undefined;
}

/**
 * Writes an envelope as its `v1.…` text.
 *
 * @example
 * ```ts
 * const sealed = formatSealedKey({ kekId: 'kek-2026', kcv, iv, ciphertext })
 * ```
 */
export function formatSealedKey(envelope: SealedKeyEnvelope): string {
  return [VERSION, envelope.kekId, b64u(envelope.kcv), b64u(envelope.iv), b64u(envelope.ciphertext)].join('.');
}

/**
 * Reads a `v1.…` envelope. It checks the shape only; authenticity is checked
 * when it is opened.
 *
 * @throws {@link KeyStoreError} with `reason: 'corrupt'` naming what is wrong (never the bytes).
 * @example
 * ```ts
 * const { kekId } = parseSealedKey(ref.sealed)
 * ```
 */
export function parseSealedKey(text: unknown): SealedKeyEnvelope {
  const corrupt = (why: string): KeyStoreError => new KeyStoreError('corrupt', `the sealed key is not a ${VERSION} envelope: ${why}`);
  if (typeof text !== 'string' || text.length === 0) throw corrupt('it is empty or not text');
  const parts = text.split('.');
  if (parts[0] !== VERSION) throw corrupt(`it starts with an unknown version tag (expected "${VERSION}.")`);
  if (parts.length !== 5) throw corrupt(`it has ${parts.length} fields, not 5`);
  const [, kekId, kcvText, ivText, ctText] = parts as [string, string, string, string, string];
  if (!isKekId(kekId)) throw corrupt('its KEK id is not valid');
  const kcv = fromB64u(kcvText);
  if (kcv?.length !== KCV_BYTES) throw corrupt(`its key check value is not ${KCV_BYTES} bytes of base64url`);
  const iv = fromB64u(ivText);
  if (iv?.length !== IV_BYTES) throw corrupt(`its IV is not ${IV_BYTES} bytes of base64url`);
  const ciphertext = fromB64u(ctText);
  if (!ciphertext || ciphertext.length <= TAG_BYTES) throw corrupt('its ciphertext is not base64url or is too short');
  return { kekId, kcv, iv, ciphertext };
}

function additionalData(envelope: Pick<SealedKeyEnvelope, 'kekId' | 'kcv'>, binding: SealBinding): Uint8Array<ArrayBuffer> {
  // JSON of an array: an unambiguous encoding of the fields (no separator games).
  const fields = ['certsteward sealed key', VERSION, envelope.kekId, b64u(envelope.kcv), binding.algorithm, binding.id, binding.spkiSha256];
  return new Uint8Array(Buffer.from(JSON.stringify(fields), 'utf8'));
}

/**
 * Seals a PKCS#8 private key under `kek` with a fresh random IV, bound to `binding`.
 *
 * @example
 * ```ts
 * const sealed = await sealPrivateKey(crypto, await ring.current(), { algorithm, id, spkiSha256 }, pkcs8)
 * ```
 */
export async function sealPrivateKey(
  crypto: Crypto,
  kek: Kek,
  binding: SealBinding,
  pkcs8: Uint8Array<ArrayBuffer>,
): Promise<string> {
  if (!kek.kcv) throw new KeyStoreError('unavailable', `KEK "${kek.id}" cannot encrypt, so it cannot seal`);
  const header = { kekId: kek.id, kcv: kek.kcv };
  const iv = new Uint8Array(randomBytes(IV_BYTES));
  let ciphertext: Uint8Array<ArrayBuffer>;
  try {
    ciphertext = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: additionalData(header, binding) }, kek.key, pkcs8),
    );
  } catch (e) {
    throw new KeyStoreError('unavailable', `could not seal key "${binding.id}" with KEK "${kek.id}"`, { cause: e });
  }
  return formatSealedKey({ ...header, iv, ciphertext });
}

/**
 * Opens the sealed key of `ref` with the KEK it names, and returns the PKCS#8
 * DER. The caller should zero it (`fill(0)`) when done.
 *
 * @throws {@link KeyStoreError}
 *   `'corrupt'` when the envelope is malformed, names another KEK than
 *   `ref.kekId`, or fails authentication although the right KEK is configured
 *   (the data or the ref's fields were altered); `'wrong-kek'` when the ring
 *   has no KEK with the envelope's id, or the KEK with that id is another key.
 * @example
 * ```ts
 * const pkcs8 = await unsealPrivateKey(crypto, ring, ref)
 * try { ... } finally { pkcs8.fill(0) }
 * ```
 */
export async function unsealPrivateKey(crypto: Crypto, ring: KekRing, ref: KeyRef): Promise<Uint8Array<ArrayBuffer>> {
  const name = JSON.stringify(ref.id);
  let envelope: SealedKeyEnvelope;
  try {
    envelope = parseSealedKey(ref.sealed);
  } catch (e) {
    throw new KeyStoreError('corrupt', `key ${name}: ${(e as Error).message}`, { cause: e });
  }
  if (ref.kekId !== undefined && ref.kekId !== envelope.kekId) {
    throw new KeyStoreError(
      'corrupt',
      `key ${name}: the ref says KEK "${String(ref.kekId)}" but its sealed key names KEK "${envelope.kekId}"`,
    );
  }
  const kek = await ring.find(envelope.kekId);
  if (!kek) {
    const known = (await ring.ids()).map((id) => `"${id}"`).join(', ');
    throw new KeyStoreError(
      'wrong-kek',
      `key ${name} was sealed with KEK "${envelope.kekId}", which this key store does not have (it has ${known}): pass that KEK in previousKeks`,
    );
  }
  if (!(await kek.matches(envelope.kcv))) {
    throw new KeyStoreError(
      'wrong-kek',
      `key ${name} was sealed with another key than the KEK configured as "${kek.id}" (key check values differ): configure the KEK that sealed it`,
    );
  }
  try {
    const params: AesGcmParams = { name: 'AES-GCM', iv: envelope.iv, additionalData: additionalData(envelope, ref) };
    return new Uint8Array(await crypto.subtle.decrypt(params, kek.key, envelope.ciphertext));
  } catch (e) {
    if ((e as { name?: unknown } | null)?.name !== 'OperationError') {
      throw new KeyStoreError('unavailable', `key ${name}: the WebCrypto provider failed to unseal it`, { cause: e });
    }
    throw new KeyStoreError(
      'corrupt',
      `key ${name} failed AES-GCM authentication under KEK "${kek.id}", the KEK that sealed it: the sealed key, or the ref's algorithm, id or spkiSha256, were altered`,
      { cause: e },
    );
  }
}
