/**
 * What SoftwareKeyStore promises beyond the KeyStore contract: sealing under
 * a KEK, telling a wrong KEK from altered data, KEK rotation, fresh IVs, and
 * private keys that stay inside unless the host opts in.
 */
import { createPublicKey, verify as nodeVerify, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, isCertstewardError, KeyStoreError } from '../../../src/errors.js';
import { KekRing } from '../../../src/keys/kek.js';
import { formatSealedKey, parseSealedKey, sealPrivateKey } from '../../../src/keys/sealed-key.js';
import { SoftwareKeyStore } from '../../../src/keys/software-key-store.js';
import type { KeyRef } from '../../../src/ports/key-store.js';

const subtle = webcrypto.subtle;
const DATA = new TextEncoder().encode('certsteward software key store');

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, got a value');
}

async function reasonOf(p: Promise<unknown>): Promise<string> {
  const e = await caught(p);
  return isCertstewardError(e, 'key-store') ? e.reason : `not a KeyStoreError: ${String(e)}`;
}

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

/** Replaces field `index` (0 = version) of a sealed envelope. */
function withField(ref: KeyRef, index: number, value: string): KeyRef {
  const parts = ref.sealed!.split('.');
  parts[index] = value;
  return { ...ref, sealed: parts.join('.') };
}

/** Flips one bit of the base64url field `index` of the envelope, keeping it valid base64url. */
function flipBit(ref: KeyRef, index: number, byte: number): KeyRef {
  const bytes = Buffer.from(ref.sealed!.split('.')[index]!, 'base64url');
  bytes[byte] = bytes[byte]! ^ 0x01;
  return withField(ref, index, bytes.toString('base64url'));
}

const aesKey = (bits: 128 | 256, usages: KeyUsage[]): Promise<CryptoKey> =>
  subtle.generateKey({ name: 'AES-GCM', length: bits }, false, usages) as Promise<CryptoKey>;

describe('SoftwareKeyStore configuration', () => {
  it('rejects a KEK of the wrong length with a ConfigError that gives the length, never the bytes', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      const kek = new Uint8Array(length).fill(0xab);
      const e = configErrorOf(() => new SoftwareKeyStore({ kek }));
      expect(e.setting).toBe('kek');
      expect(e.message).toContain(`got ${length}`);
      expect(`${e.message} ${String(e.value)}`).not.toMatch(/abab|q6ur/i);
    }
  });

  it('rejects a wrong-length previous KEK, naming its place in previousKeks', () => {
    const e = configErrorOf(
      () => new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek(), previousKeks: [SoftwareKeyStore.generateKek(), new Uint8Array(24)] }),
    );
    expect(e.setting).toBe('previousKeks[1]');
  });

  it('accepts only AES-GCM 256-bit CryptoKeys, with encrypt and decrypt for the current KEK', async () => {
    const hmac = (await subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign'])) as CryptoKey;
    const cbc = (await subtle.generateKey({ name: 'AES-CBC', length: 256 }, false, ['encrypt', 'decrypt'])) as CryptoKey;
    for (const kek of [await aesKey(128, ['encrypt', 'decrypt']), cbc, hmac, await aesKey(256, ['decrypt'])]) {
      expect(configErrorOf(() => new SoftwareKeyStore({ kek })).setting).toBe('kek');
    }
    expect(new SoftwareKeyStore({ kek: await aesKey(256, ['encrypt', 'decrypt']) }).kind).toBe('software');
  });

  it('needs an id for a decrypt-only previous KEK (its id cannot be derived without encrypting)', async () => {
    const decryptOnly = await aesKey(256, ['decrypt']);
    const kek = SoftwareKeyStore.generateKek();
    expect(configErrorOf(() => new SoftwareKeyStore({ kek, previousKeks: [decryptOnly] })).setting).toBe('previousKeks[0]');
    expect(() => new SoftwareKeyStore({ kek, previousKeks: [{ id: 'old', key: decryptOnly }] })).not.toThrow();
  });

  it('rejects KEK ids that cannot go into an envelope, and two KEKs with one id', () => {
    const key = SoftwareKeyStore.generateKek();
    for (const id of ['', 'a.b', 'a b', 'x'.repeat(65)]) {
      expect(configErrorOf(() => new SoftwareKeyStore({ kek: { id, key } })).setting).toBe('kek.id');
    }
    const twice = configErrorOf(
      () => new SoftwareKeyStore({ kek: { id: 'k1', key }, previousKeks: [{ id: 'k1', key: SoftwareKeyStore.generateKek() }] }),
    );
    expect(twice.setting).toBe('previousKeks[0]');
  });

  it('rejects a missing kek and a non-boolean exportable', () => {
    expect(configErrorOf(() => new SoftwareKeyStore({} as never)).setting).toBe('kek');
    const kek = SoftwareKeyStore.generateKek();
    expect(configErrorOf(() => new SoftwareKeyStore({ kek, exportable: 'yes' as never })).setting).toBe('exportable');
  });

  it('generateKek gives 32 fresh random bytes each call', () => {
    const a = SoftwareKeyStore.generateKek();
    const b = SoftwareKeyStore.generateKek();
    expect([a.length, b.length]).toEqual([32, 32]);
    expect(Buffer.from(a).equals(b)).toBe(false);
  });

  it('derives the same KEK id for the same key as bytes or as a CryptoKey, and another id for another key', async () => {
    const bytes = SoftwareKeyStore.generateKek();
    const asKey = await subtle.importKey('raw', bytes, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const fromBytes = await new SoftwareKeyStore({ kek: bytes }).currentKekId();
    expect(fromBytes).toMatch(/^kek-[0-9a-f]{16}$/);
    expect(await new SoftwareKeyStore({ kek: asKey }).currentKekId()).toBe(fromBytes);
    expect(await new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek() }).currentKekId()).not.toBe(fromBytes);
  });

  it('copies the KEK bytes: zeroing the host array after construction does not change the KEK', async () => {
    const bytes = SoftwareKeyStore.generateKek();
    const copy = new Uint8Array(bytes);
    const store = new SoftwareKeyStore({ kek: bytes });
    bytes.fill(0);
    const { ref } = await store.generate({ algorithm: 'ECDSA-P256' });
    expect((await new SoftwareKeyStore({ kek: copy }).load(ref)).ref.id).toBe(ref.id);
  });

  it('uses the WebCrypto provider it is given, and hands it out as handle.crypto', async () => {
    const calls: string[] = [];
    const counting = new Proxy(webcrypto.subtle, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls.push(String(prop));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const provider = { subtle: counting, getRandomValues: webcrypto.getRandomValues.bind(webcrypto) } as unknown as Crypto;
    const store = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek(), crypto: provider });
    const handle = await store.generate({ algorithm: 'ECDSA-P256' });
    expect(handle.crypto).toBe(provider);
    expect(['importKey', 'generateKey', 'exportKey', 'encrypt'].filter((c) => !calls.includes(c))).toEqual([]);
  });
});

describe('SoftwareKeyStore sealing', () => {
  const kek = SoftwareKeyStore.generateKek();
  const store = new SoftwareKeyStore({ kek });

  it('seals into a v1 envelope naming the KEK, with a 12-byte IV and the key check value of the KEK', async () => {
    const { ref } = await store.generate({ algorithm: 'ECDSA-P256' });
    const envelope = parseSealedKey(ref.sealed);
    expect(ref.sealed!.startsWith(`v1.${ref.kekId}.`)).toBe(true);
    expect([envelope.kekId, envelope.iv.length, envelope.kcv.length]).toEqual([ref.kekId, 12, 8]);
    expect(formatSealedKey(envelope)).toBe(ref.sealed);
    // The ref holds nothing but what the port describes.
    expect(Object.keys(ref).sort()).toEqual(['algorithm', 'id', 'kekId', 'sealed', 'spkiSha256', 'store']);
  });

  it('fails with wrong-kek, naming the KEK id, in a store that does not have the KEK that sealed the key', async () => {
    const { ref } = await store.generate({ algorithm: 'ECDSA-P256' });
    const other = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek() });
    const e = await caught(other.load(ref));
    expect(e).toBeInstanceOf(KeyStoreError);
    expect((e as KeyStoreError).reason).toBe('wrong-kek');
    expect((e as KeyStoreError).message).toContain(ref.kekId!);
    expect((e as KeyStoreError).message).toContain('previousKeks');
  });

  it('fails with wrong-kek, never with a key, when another key is configured under the id that sealed it', async () => {
    const named = new SoftwareKeyStore({ kek: { id: 'prod', key: SoftwareKeyStore.generateKek() } });
    const { ref } = await named.generate({ algorithm: 'ECDSA-P256' });
    const impostor = new SoftwareKeyStore({ kek: { id: 'prod', key: SoftwareKeyStore.generateKek() } });
    expect(await reasonOf(impostor.load(ref))).toBe('wrong-kek');
    expect(await reasonOf(impostor.reseal(ref))).toBe('wrong-kek');
    // Same with a decrypt-only previous KEK, which checks the key check value by decryption.
    const decryptOnly = await aesKey(256, ['decrypt']);
    const withOld = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek(), previousKeks: [{ id: 'prod', key: decryptOnly }] });
    expect(await reasonOf(withOld.load(ref))).toBe('wrong-kek');
  });

  // Why 'corrupt' and not 'wrong-kek': the envelope carries the sealing KEK's key
  // check value, and the configured KEK matched it, so the KEK is right; a failed
  // AES-GCM tag can then only mean that the bytes were altered. Without the KCV,
  // AES-GCM could not tell the two apart.
  it('fails with corrupt when the ciphertext, its tag or the IV were altered (the key check value proves the KEK is right)', async () => {
    const { ref } = await store.generate({ algorithm: 'ECDSA-P256' });
    const ctLength = Buffer.from(ref.sealed!.split('.')[4]!, 'base64url').length;
    const altered = [flipBit(ref, 4, 0), flipBit(ref, 4, ctLength - 1), flipBit(ref, 3, 5)];
    for (const r of altered) expect(await reasonOf(store.load(r))).toBe('corrupt');
    // The unaltered ref still loads: the failures above come from the alterations.
    expect((await store.load(ref)).ref.id).toBe(ref.id);
  });

  it('fails when a sealed key is moved to another ref or its ref is relabelled (AAD binds algorithm, id and spkiSha256)', async () => {
    const a = (await store.generate({ algorithm: 'ECDSA-P256' })).ref;
    const b = (await store.generate({ algorithm: 'ECDSA-P256' })).ref;
    const moved: KeyRef[] = [
      { ...b, sealed: a.sealed }, // a's key under b's id and fingerprint
      { ...a, spkiSha256: b.spkiSha256 },
      { ...a, id: b.id },
      { ...a, algorithm: 'ECDSA-P384' },
    ];
    for (const r of moved) expect(await reasonOf(store.load(r))).toBe('corrupt');
    expect((await store.load(a)).ref.id).toBe(a.id);
  });

  it('fails with corrupt when an authentic sealed key holds another key than the ref names (a sealer that holds the KEK but pairs wrongly)', async () => {
    const exporting = new SoftwareKeyStore({ kek, exportable: true });
    const ring = new KekRing(webcrypto as unknown as Crypto, kek);
    const current = await ring.current();
    const seal = async (algorithm: KeyRef['algorithm'], spkiSha256: string, pkcs8: Uint8Array<ArrayBuffer>): Promise<KeyRef> => {
      const id = `forged-${algorithm}`;
      const sealed = await sealPrivateKey(webcrypto as unknown as Crypto, current, { algorithm, id, spkiSha256 }, pkcs8);
      return { store: 'software', id, algorithm, spkiSha256, sealed, kekId: current.id };
    };
    const a = await exporting.generate({ algorithm: 'ECDSA-P256' });
    const b = await exporting.generate({ algorithm: 'ECDSA-P256' });
    const ed = await exporting.generate({ algorithm: 'Ed25519' });
    const pkcs8Of = async (h: typeof a) => new Uint8Array(await subtle.exportKey('pkcs8', h.privateKey));
    // a's private key under b's fingerprint: authentic, but not b's key.
    expect(await reasonOf(store.load(await seal('ECDSA-P256', b.ref.spkiSha256, await pkcs8Of(a))))).toBe('corrupt');
    // An Ed25519 key labelled ECDSA-P256.
    expect(await reasonOf(store.load(await seal('ECDSA-P256', ed.ref.spkiSha256, await pkcs8Of(ed))))).toBe('corrupt');
    // The same forging path with the right pairing loads: the failures come from the pairing.
    expect((await store.load(await seal('ECDSA-P256', a.ref.spkiSha256, await pkcs8Of(a)))).ref.spkiSha256).toBe(a.ref.spkiSha256);
  });

  it('fails with corrupt on a malformed envelope or a ref whose kekId disagrees with it', async () => {
    const { ref } = await store.generate({ algorithm: 'ECDSA-P256' });
    const { sealed: _sealed, ...noSealed } = ref;
    const bad: KeyRef[] = [
      noSealed,
      { ...ref, sealed: '' },
      withField(ref, 0, 'v2'),
      { ...ref, sealed: ref.sealed!.split('.').slice(0, 4).join('.') },
      { ...ref, sealed: `${ref.sealed}.extra` },
      withField(ref, 3, Buffer.alloc(8).toString('base64url')), // an 8-byte IV
      withField(ref, 4, 'not*base64url'),
      withField(ref, 4, Buffer.alloc(16).toString('base64url')), // a tag and no ciphertext
      withField(ref, 2, 'AAAA'), // a 3-byte key check value
      { ...ref, kekId: 'another-kek' },
    ];
    for (const r of bad) expect(await reasonOf(store.load(r))).toBe('corrupt');
  });

  it('never puts key material in its error messages', async () => {
    const { ref } = await store.generate({ algorithm: 'ECDSA-P256' });
    const secrets = [ref.sealed!.split('.')[4]!, Buffer.from(kek).toString('hex'), Buffer.from(kek).toString('base64url')];
    const errors = [
      await caught(store.load(flipBit(ref, 4, 3))),
      await caught(new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek() }).load(ref)),
      await caught(store.load(withField(ref, 3, 'AAAA'))),
    ];
    for (const e of errors) {
      expect(e).toBeInstanceOf(KeyStoreError);
      for (const s of secrets) expect((e as Error).message).not.toContain(s);
    }
  });

  it('fails with unsupported for a ref of another store kind or an unknown algorithm, before unsealing anything', async () => {
    const { ref } = await store.generate({ algorithm: 'ECDSA-P256' });
    expect(await reasonOf(store.load({ ...ref, store: 'pkcs11' }))).toBe('unsupported');
    expect(await reasonOf(store.destroy({ ...ref, store: 'pkcs11' }))).toBe('unsupported');
    expect(await reasonOf(store.load({ ...ref, algorithm: 'ECDSA-P521' as never }))).toBe('unsupported');
  });
});

describe('SoftwareKeyStore KEK rotation', () => {
  it('loads refs sealed by a previous KEK, reseals them under the current one, and then needs the old KEK no more', async () => {
    const oldKek = { id: 'kek-2025', key: SoftwareKeyStore.generateKek() };
    const newKek = { id: 'kek-2026', key: SoftwareKeyStore.generateKek() };
    const before = new SoftwareKeyStore({ kek: oldKek });
    const original = await before.generate({ algorithm: 'ECDSA-P256' });
    const spki = Buffer.from(await subtle.exportKey('spki', original.publicKey));

    const during = new SoftwareKeyStore({ kek: newKek, previousKeks: [oldKek] });
    expect(await during.currentKekId()).toBe('kek-2026');
    expect((await during.load(original.ref)).ref.kekId).toBe('kek-2025');
    const resealed = await during.reseal(original.ref);
    expect(resealed.kekId).toBe('kek-2026');
    expect(resealed.sealed!.startsWith('v1.kek-2026.')).toBe(true);
    expect([resealed.id, resealed.algorithm, resealed.spkiSha256, resealed.store]).toEqual([
      original.ref.id,
      original.ref.algorithm,
      original.ref.spkiSha256,
      original.ref.store,
    ]);

    const after = new SoftwareKeyStore({ kek: newKek });
    const loaded = await after.load(JSON.parse(JSON.stringify(resealed)) as KeyRef);
    expect(Buffer.from(await subtle.exportKey('spki', loaded.publicKey)).equals(spki)).toBe(true);
    const signature = Buffer.from(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, loaded.privateKey, DATA));
    expect(await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, original.publicKey, signature, DATA)).toBe(true);
    // The un-resealed ref still needs the old KEK, and says which.
    const e = await caught(after.load(original.ref));
    expect([(e as KeyStoreError).reason, (e as KeyStoreError).message.includes('kek-2025')]).toEqual(['wrong-kek', true]);
  });

  it('accepts a previous KEK given as a decrypt-only CryptoKey with its id', async () => {
    const bytes = SoftwareKeyStore.generateKek();
    const old = new SoftwareKeyStore({ kek: { id: 'hsm-old', key: bytes } });
    const { ref } = await old.generate({ algorithm: 'Ed25519' });
    const decryptOnly = await subtle.importKey('raw', bytes, 'AES-GCM', false, ['decrypt']);
    const store = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek(), previousKeks: [{ id: 'hsm-old', key: decryptOnly }] });
    const resealed = await store.reseal(ref);
    expect(resealed.kekId).toBe(await store.currentKekId());
    expect((await store.load(resealed)).ref.spkiSha256).toBe(ref.spkiSha256);
  });

  it('seals with a fresh IV every time: resealing one key twice gives two different envelopes that both load', async () => {
    const store = new SoftwareKeyStore({ kek: SoftwareKeyStore.generateKek() });
    const { ref } = await store.generate({ algorithm: 'ECDSA-P256' });
    const one = await store.reseal(ref);
    const two = await store.reseal(ref);
    const [a, b, c] = [ref, one, two].map((r) => parseSealedKey(r.sealed));
    const ivs = new Set([a!, b!, c!].map((e) => Buffer.from(e.iv).toString('hex')));
    const ciphertexts = new Set([a!, b!, c!].map((e) => Buffer.from(e.ciphertext).toString('hex')));
    expect([ivs.size, ciphertexts.size]).toEqual([3, 3]);
    for (const r of [one, two]) expect((await store.load(r)).ref.spkiSha256).toBe(ref.spkiSha256);
  });
});

describe('SoftwareKeyStore keys', () => {
  const kek = SoftwareKeyStore.generateKek();

  it('makes Ed25519 keys that, loaded in another instance, sign what node:crypto verifies', async () => {
    const { ref, publicKey } = await new SoftwareKeyStore({ kek }).generate({ algorithm: 'Ed25519' });
    const loaded = await new SoftwareKeyStore({ kek }).load(ref);
    const signature = Buffer.from(await subtle.sign({ name: 'Ed25519' }, loaded.privateKey, DATA));
    const spki = createPublicKey({ key: Buffer.from(await subtle.exportKey('spki', publicKey)), format: 'der', type: 'spki' });
    expect(spki.asymmetricKeyType).toBe('ed25519');
    expect(nodeVerify(null, DATA, spki, signature)).toBe(true);
    expect(nodeVerify(null, Buffer.from('other data'), spki, signature)).toBe(false);
  });

  it('makes RSA-3072 keys (65537, PKCS#1 v1.5 with SHA-256) that, loaded in another instance, sign what node:crypto verifies', async () => {
    const { ref, publicKey } = await new SoftwareKeyStore({ kek }).generate({ algorithm: 'RSA-3072' });
    const loaded = await new SoftwareKeyStore({ kek }).load(ref);
    expect((loaded.privateKey.algorithm as RsaHashedKeyAlgorithm).hash.name).toBe('SHA-256');
    const signature = Buffer.from(await subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, loaded.privateKey, DATA));
    const spki = createPublicKey({ key: Buffer.from(await subtle.exportKey('spki', publicKey)), format: 'der', type: 'spki' });
    expect(spki.asymmetricKeyDetails).toEqual({ modulusLength: 3072, publicExponent: 65537n });
    expect(nodeVerify('sha256', DATA, spki, signature)).toBe(true);
    expect(nodeVerify('sha512', DATA, spki, signature)).toBe(false);
  });

  it('keeps private keys non-exportable by default, generated and loaded: exportKey pkcs8 rejects', async () => {
    const store = new SoftwareKeyStore({ kek });
    const generated = await store.generate({ algorithm: 'ECDSA-P256' });
    const loaded = await store.load(generated.ref);
    for (const h of [generated, loaded]) {
      expect([h.exportable, h.privateKey.extractable]).toEqual([false, false]);
      await expect(subtle.exportKey('pkcs8', h.privateKey)).rejects.toThrow();
    }
  });

  it('with exportable: true, hands out exportable private keys, and a loaded key exports the PKCS#8 that was generated', async () => {
    const store = new SoftwareKeyStore({ kek, exportable: true });
    const generated = await store.generate({ algorithm: 'ECDSA-P384' });
    const loaded = await new SoftwareKeyStore({ kek, exportable: true }).load(generated.ref);
    expect([generated.exportable, loaded.exportable]).toEqual([true, true]);
    const a = Buffer.from(await subtle.exportKey('pkcs8', generated.privateKey));
    const b = Buffer.from(await subtle.exportKey('pkcs8', loaded.privateKey));
    expect(a.equals(b)).toBe(true);
    // The same ref, loaded by a store that did not opt in, stays non-exportable.
    const locked = await new SoftwareKeyStore({ kek }).load(generated.ref);
    await expect(subtle.exportKey('pkcs8', locked.privateKey)).rejects.toThrow();
  });

  it('destroy succeeds and changes nothing: the sealed key lives in the ref, so the ref still loads', async () => {
    const store = new SoftwareKeyStore({ kek });
    const { ref } = await store.generate({ algorithm: 'ECDSA-P256' });
    await store.destroy(ref);
    await store.destroy(ref);
    expect((await store.load(ref)).ref.id).toBe(ref.id);
  });

  it('returns frozen refs and handles, so a shared ref cannot be changed under its owner', async () => {
    const h = await new SoftwareKeyStore({ kek }).generate({ algorithm: 'ECDSA-P256' });
    expect([Object.isFrozen(h), Object.isFrozen(h.ref)]).toEqual([true, true]);
  });
});
