/**
 * The contract every {@link KeyStore} must pass, runnable with any test runner.
 *
 * @module
 */
import { createHash, createPublicKey, generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import { isCertstewardError } from '../../errors.js';
import type { KeyAlgorithm, KeyHandle, KeyRef, KeyStore } from '../../ports/key-store.js';
import type { ContractAssertion, ContractTestApi } from './contract-api.js';



/**
 * Options of {@link describeKeyStore}.
 *
 * @example
 * ```ts
 * describeKeyStore({ describe, it, expect }, () => new Pkcs11KeyStore(config), {
 *   algorithms: ['ECDSA-P256', 'ECDSA-P384', 'RSA-2048'], // what the token supports
 * })
 * ```
 */
export interface KeyStoreContractOptions {
  /** Title of the outer `describe` (default `KeyStore contract`). */
  readonly name?: string;
  /** The algorithms to prove (default: all six). Name only those your store supports. */
  readonly algorithms?: readonly KeyAlgorithm[];
  /**
   * The store keeps no key state: each ref carries its (sealed) key, so
   * `destroy()` cannot remove anything and a ref still loads after it. Default
   * `false`: `destroy()` removes the key and `load()` then fails with `'not-found'`.
   */
  readonly stateless?: boolean;
  /** Per-test timeout passed as `it`'s third argument (default 60 s: RSA-4096 is slow). */
  readonly timeoutMs?: number;
}

const ALL: readonly KeyAlgorithm[] = ['ECDSA-P256', 'ECDSA-P384', 'RSA-2048', 'RSA-3072', 'RSA-4096', 'Ed25519'];

interface Expected {
  /** How a caller signs with the key in WebCrypto. */
  readonly sign: AlgorithmIdentifier | EcdsaParams;
  /** How node:crypto verifies it. */
  readonly nodeHash: string | null;
  readonly p1363: boolean;
  /** `KeyObject.asymmetricKeyType` and `asymmetricKeyDetails` of the public key. */
  readonly key: Readonly<Record<string, string | number>>;
}

// Written out here rather than read from src/keys: the contract is the spec, not the code under test.
const rsa = (bits: number): Expected => ({
  sign: { name: 'RSASSA-PKCS1-v1_5' },
  nodeHash: 'sha256',
  p1363: false,
  key: { type: 'rsa', modulusLength: bits, publicExponent: 65537 },
});
const expectations: Readonly<Record<KeyAlgorithm, Expected>> = {
  'ECDSA-P256': { sign: { name: 'ECDSA', hash: 'SHA-256' }, nodeHash: 'sha256', p1363: true, key: { type: 'ec', namedCurve: 'prime256v1' } },
  'ECDSA-P384': { sign: { name: 'ECDSA', hash: 'SHA-384' }, nodeHash: 'sha384', p1363: true, key: { type: 'ec', namedCurve: 'secp384r1' } },
  'RSA-2048': rsa(2048),
  'RSA-3072': rsa(3072),
  'RSA-4096': rsa(4096),
  Ed25519: { sign: { name: 'Ed25519' }, nodeHash: null, p1363: false, key: { type: 'ed25519' } },
};

const DATA = new TextEncoder().encode('certsteward key store contract: sign me');

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return 'resolved without an error';
}

/** `key-store/<reason>` for a KeyStoreError (from any copy of certsteward), else a description. */
function kindOf(e: unknown): string {
  if (isCertstewardError(e, 'key-store')) return `key-store/${e.reason}`;
  if (typeof e === 'string') return e;
  return `not a KeyStoreError: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
}

async function exportSpki(handle: KeyHandle): Promise<Uint8Array> {
  return new Uint8Array(await handle.crypto.subtle.exportKey('spki', handle.publicKey));
}

function nodeVerifies(algorithm: KeyAlgorithm, spki: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  const e = expectations[algorithm];
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  return nodeVerify(e.nodeHash, data, e.p1363 ? { key, dsaEncoding: 'ieee-p1363' } : key, signature);
}

/** Every way `secret` could be written into text: hex, and base64(url) at each byte alignment. */
function encodingsOf(secret: Uint8Array): string[] {
  const b = Buffer.from(secret);
  const out = [b.toString('hex'), b.toString('hex').toUpperCase()];
  for (let offset = 0; offset < 3; offset++) {
    const whole = b.subarray(offset, offset + Math.floor((b.length - offset) / 3) * 3);
    out.push(whole.toString('base64'), whole.toString('base64url'));
  }
  return out;
}

/**
 * What is wrong with `handle.exportable` and the ref's secrecy: an empty list
 * when an exportable key's PKCS#8 and private scalar appear in no field of its
 * ref, or when a non-exportable key refuses to be exported.
 */
async function secrecyProblems(handle: KeyHandle): Promise<string[]> {
  const subtle = handle.crypto.subtle;
  if (!handle.exportable) {
    const e = await caught(subtle.exportKey('pkcs8', handle.privateKey));
    return e === 'resolved without an error' ? ['exportable is false, yet the private key exported as PKCS#8'] : [];
  }
  let pkcs8: Uint8Array;
  let d: string | undefined;
  try {
    pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', handle.privateKey));
    d = (await subtle.exportKey('jwk', handle.privateKey)).d;
  } catch (e) {
    return [`exportable is true, yet the private key does not export: ${kindOf(e)}`];
  }
  const json = JSON.stringify(handle.ref);
  const problems: string[] = [];
  for (const s of encodingsOf(pkcs8)) if (json.includes(s)) problems.push('the ref holds the PKCS#8 private key in clear');
  if (d) for (const s of encodingsOf(Buffer.from(d, 'base64url'))) if (json.includes(s)) problems.push('the ref holds the private scalar in clear');
  return [...new Set(problems)];
}

/**
 * Registers the {@link KeyStore} contract with your test runner. Every key
 * store (memory, software, PKCS#11, yours) must pass it unchanged.
 *
 * `make` is called once for the store under test and again wherever the
 * contract needs "another store over the same keys", as a restarted process
 * would build: for a persistent store return a new instance over the same
 * backend (same KEK, same HSM slot); for an in-memory store return the same
 * instance each time. It proves, per algorithm: generated keys sign and
 * verify (WebCrypto, and node:crypto over the exported SPKI); the key has
 * exactly the requested curve or modulus; `ref.spkiSha256` is the SPKI's
 * SHA-256; the ref is JSON and loads after a JSON round trip into a store from
 * `make()`, giving a key that signs for the original public key;
 * `handle.exportable` is true to the key and no ref field holds the private
 * key in clear. And, once: destroy (removes, or is a no-op for `stateless`
 * stores) and is idempotent; unknown algorithms and foreign refs fail with
 * `'unsupported'`; 20 concurrent generates give 20 distinct keys; an aborted
 * signal rejects with its reason.
 *
 * @example vitest
 * ```ts
 * import { describe, it, expect } from 'vitest'
 * import { describeKeyStore } from 'certsteward/testing'
 *
 * const kek = SoftwareKeyStore.generateKek()
 * describeKeyStore({ describe, it, expect }, () => new SoftwareKeyStore({ kek }), { stateless: true })
 *
 * const memory = new MemoryKeyStore()
 * describeKeyStore({ describe, it, expect }, () => memory)
 * ```
 */
export function describeKeyStore(
  t: ContractTestApi,
  make: () => Promise<KeyStore> | KeyStore,
  options: KeyStoreContractOptions = {},
): void {
  const algorithms = options.algorithms ?? ALL;
  const unknown = algorithms.filter((a) => !Object.hasOwn(expectations, a));
  if (unknown.length > 0) throw new Error(`describeKeyStore: unknown algorithms ${unknown.join(', ')}`);
  if (algorithms.length === 0) throw new Error('describeKeyStore: options.algorithms is empty');
  const first: KeyAlgorithm = algorithms.includes('ECDSA-P256') ? 'ECDSA-P256' : algorithms[0]!;
  const stateless = options.stateless ?? false;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const it = (name: string, fn: () => Promise<void>): void => void t.it(name, fn, timeoutMs);
  const expect = (actual: unknown): ContractAssertion => t.expect(actual);

  let store: Promise<KeyStore> | undefined;
  const theStore = (): Promise<KeyStore> => (store ??= Promise.resolve().then(make));
  // One key per algorithm, shared by the tests that only read it (RSA-4096 takes seconds).
  const keys = new Map<KeyAlgorithm, Promise<KeyHandle>>();
  const keyOf = (algorithm: KeyAlgorithm): Promise<KeyHandle> => {
    let key = keys.get(algorithm);
    if (!key) {
      key = theStore().then((s) => s.generate({ algorithm, label: `contract ${algorithm}` }));
      keys.set(algorithm, key);
    }
    return key;
  };

  t.describe(options.name ?? 'KeyStore contract', () => {
    it('has a kind, recorded as ref.store in the refs it makes', async () => {
      const s = await theStore();
      const h = await keyOf(first);
      expect(typeof s.kind === 'string' && s.kind.length > 0).toBe(true);
      expect(h.ref.store).toBe(s.kind);
    });

    it('makes JSON refs: every field a string, equal to itself after a JSON round trip', async () => {
      const { ref } = await keyOf(first);
      const nonStrings = Object.entries(ref).filter(([, v]) => v !== undefined && typeof v !== 'string');
      expect(nonStrings.map(([k]) => k)).toEqual([]);
      expect(JSON.parse(JSON.stringify(ref))).toEqual(ref);
    });

    for (const algorithm of algorithms) {
      const e = expectations[algorithm];

      it(`${algorithm}: generate gives a private key that signs and a public key that verifies, in WebCrypto and in node:crypto over the exported SPKI`, async () => {
        const h = await keyOf(algorithm);
        expect([h.algorithm, h.ref.algorithm, h.privateKey.type, h.publicKey.type]).toEqual([algorithm, algorithm, 'private', 'public']);
        const signature = new Uint8Array(await h.crypto.subtle.sign(e.sign, h.privateKey, DATA));
        expect(await h.crypto.subtle.verify(e.sign, h.publicKey, signature, DATA)).toBe(true);
        const spki = await exportSpki(h);
        expect(nodeVerifies(algorithm, spki, DATA, signature)).toBe(true);
        // The verification can fail: the same signature does not cover other data.
        expect(nodeVerifies(algorithm, spki, DATA.subarray(1), signature)).toBe(false);
      });

      it(`${algorithm}: the key is exactly ${algorithm} (type, curve or modulus, exponent 65537)`, async () => {
        const h = await keyOf(algorithm);
        const key = createPublicKey({ key: Buffer.from(await exportSpki(h)), format: 'der', type: 'spki' });
        const details = key.asymmetricKeyDetails ?? {};
        const seen: Record<string, unknown> = { type: key.asymmetricKeyType };
        for (const name of Object.keys(e.key)) {
          if (name === 'type') continue;
          const v = (details as Record<string, unknown>)[name];
          seen[name] = typeof v === 'bigint' ? Number(v) : v;
        }
        expect(seen).toEqual(e.key);
      });

      it(`${algorithm}: ref.spkiSha256 is the SHA-256 (hex) of the exported SPKI`, async () => {
        const h = await keyOf(algorithm);
        expect(h.ref.spkiSha256).toBe(createHash('sha256').update(await exportSpki(h)).digest('hex'));
      });

      it(`${algorithm}: the ref survives a JSON round trip into load() on a store from a new make() call, and the loaded key signs for the original public key`, async () => {
        const h = await keyOf(algorithm);
        const ref = JSON.parse(JSON.stringify(h.ref)) as KeyRef;
        const other = await make();
        const loaded = await other.load(ref);
        expect([loaded.algorithm, loaded.privateKey.type]).toEqual([algorithm, 'private']);
        expect(loaded.ref).toEqual(ref);
        const spki = await exportSpki(h);
        expect(Buffer.from(await exportSpki(loaded)).equals(spki)).toBe(true);
        const signature = new Uint8Array(await loaded.crypto.subtle.sign(e.sign, loaded.privateKey, DATA));
        expect(await h.crypto.subtle.verify(e.sign, h.publicKey, signature, DATA)).toBe(true);
        expect(nodeVerifies(algorithm, spki, DATA, signature)).toBe(true);
      });

      it(`${algorithm}: handle.exportable is true to the key (generated and loaded), and no ref field holds the private key in clear`, async () => {
        const h = await keyOf(algorithm);
        const loaded = await (await make()).load(JSON.parse(JSON.stringify(h.ref)) as KeyRef);
        expect([...(await secrecyProblems(h)), ...(await secrecyProblems(loaded))]).toEqual([]);
      });
    }

    if (stateless) {
      it('destroy of a stateless store succeeds, twice, and the ref still loads (the ref is the key\'s only home)', async () => {
        const s = await theStore();
        const h = await s.generate({ algorithm: first });
        await s.destroy(h.ref);
        await s.destroy(h.ref);
        expect((await (await make()).load(h.ref)).ref.id).toBe(h.ref.id);
      });
    } else {
      it('destroy removes the key: load then fails with not-found, in this store and in one from make(), and a second destroy succeeds', async () => {
        const s = await theStore();
        const h = await s.generate({ algorithm: first });
        expect((await s.load(h.ref)).ref.id).toBe(h.ref.id);
        await s.destroy(h.ref);
        expect(kindOf(await caught(s.load(h.ref)))).toBe('key-store/not-found');
        expect(kindOf(await caught((await make()).load(h.ref)))).toBe('key-store/not-found');
        expect(kindOf(await caught(s.destroy(h.ref)))).toBe('resolved without an error');
      });

      it('load of an id the store never made fails with not-found', async () => {
        const s = await theStore();
        const { ref } = await keyOf(first);
        const stranger: KeyRef = { ...ref, id: `${ref.id}-never-made` };
        expect(kindOf(await caught(s.load(stranger)))).toBe('key-store/not-found');
      });
    }

    it('generate with an unknown algorithm fails with KeyStoreError unsupported', async () => {
      const s = await theStore();
      const spec = { algorithm: 'DSA-1024' as KeyAlgorithm };
      expect(kindOf(await caught(s.generate(spec)))).toBe('key-store/unsupported');
    });

    it('load of a ref with an unknown algorithm fails with unsupported', async () => {
      const s = await theStore();
      const { ref } = await keyOf(first);
      expect(kindOf(await caught(s.load({ ...ref, algorithm: 'DSA-1024' as KeyAlgorithm })))).toBe('key-store/unsupported');
    });

    it('load and destroy refuse a ref made by another kind of store (unsupported), and the key survives', async () => {
      const s = await theStore();
      const h = await s.generate({ algorithm: first });
      const foreign: KeyRef = { ...h.ref, store: `not-${s.kind}` };
      expect(kindOf(await caught(s.load(foreign)))).toBe('key-store/unsupported');
      expect(kindOf(await caught(s.destroy(foreign)))).toBe('key-store/unsupported');
      expect((await s.load(h.ref)).ref.id).toBe(h.ref.id);
      await s.destroy(h.ref);
    });

    it('import (when implemented): takes in a PKCS#8 key made elsewhere, which then signs for its own public key and loads from its ref', async () => {
      const s = await theStore();
      if (!s.import) return;
      const made = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const pkcs8 = new Uint8Array(made.privateKey.export({ type: 'pkcs8', format: 'der' }));
      const spki = made.publicKey.export({ type: 'spki', format: 'der' });
      const h = await s.import.call(s, { pkcs8, algorithm: 'ECDSA-P256', label: 'contract-import' });
      expect([h.ref.store, h.ref.algorithm, h.ref.spkiSha256]).toEqual([s.kind, 'ECDSA-P256', createHash('sha256').update(spki).digest('hex')]);
      const signature = new Uint8Array(await h.crypto.subtle.sign(expectations['ECDSA-P256'].sign, h.privateKey, DATA));
      expect(nodeVerifies('ECDSA-P256', new Uint8Array(spki), DATA, signature)).toBe(true);
      const loaded = await s.load(JSON.parse(JSON.stringify(h.ref)) as KeyRef);
      expect(await exportSpki(loaded)).toEqual(new Uint8Array(spki));
      expect(await secrecyProblems(h)).toEqual([]);
      await s.destroy(h.ref);
    });

    it('import (when implemented): refuses bytes that are not PKCS#8 (corrupt) and a key of another algorithm (unsupported)', async () => {
      const s = await theStore();
      if (!s.import) return;
      expect(kindOf(await caught(s.import.call(s, { pkcs8: new Uint8Array([48, 3, 2, 1, 0]), algorithm: 'ECDSA-P256' })))).toBe('key-store/corrupt');
      const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'der' });
      expect(kindOf(await caught(s.import.call(s, { pkcs8: new Uint8Array(p384), algorithm: 'ECDSA-P256' })))).toBe('key-store/unsupported');
    });

    it('20 concurrent generate calls give 20 distinct ids and 20 distinct keys', async () => {
      const s = await theStore();
      const handles = await Promise.all(Array.from({ length: 20 }, () => s.generate({ algorithm: first })));
      expect(new Set(handles.map((h) => h.ref.id)).size).toBe(20);
      expect(new Set(handles.map((h) => h.ref.spkiSha256)).size).toBe(20);
      await Promise.all(handles.map((h) => s.destroy(h.ref)));
    });

    it('an aborted signal rejects generate, load and destroy with its reason, and the aborted destroy keeps the key', async () => {
      const s = await theStore();
      const h = await s.generate({ algorithm: first });
      const reason = new Error('contract: aborted');
      const signal = AbortSignal.abort(reason);
      expect(await caught(s.generate({ algorithm: first }, { signal }))).toBe(reason);
      expect(await caught(s.load(h.ref, { signal }))).toBe(reason);
      expect(await caught(s.destroy(h.ref, { signal }))).toBe(reason);
      expect((await s.load(h.ref)).ref.id).toBe(h.ref.id);
      await s.destroy(h.ref);
    });
  });
}
