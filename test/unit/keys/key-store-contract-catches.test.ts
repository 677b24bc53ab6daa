/**
 * The contract is worth passing only if it fails broken stores. Each flawed
 * store below breaks one promise, and the contract's test for that promise
 * must fail (while a sound store passes). The contract runs here through a
 * runner built on node:assert, not vitest: it needs no particular runner.
 */
import { deepStrictEqual, strictEqual } from 'node:assert';
import { randomUUID, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyStoreError } from '../../../src/errors.js';
import { generateKeyPair, isKeyAlgorithm } from '../../../src/keys/key-algorithms.js';
import { spkiSha256 } from '../../../src/keys/spki-sha256.js';
import type { KeyAlgorithm, KeyHandle, KeyRef, KeySpec, KeyStore } from '../../../src/ports/key-store.js';
import type { ContractAssertion, ContractTestApi } from '../../../src/testing/contracts/contract-api.js';
import { describeKeyStore } from '../../../src/testing/contracts/key-store-contract.js';

interface Flaws {
  /** Writes the PKCS#8 into the ref (base64). */
  leak?: boolean;
  /** Says exportable: false of an exportable key. */
  lieExportable?: boolean;
  /** Makes RSA-2048 whatever RSA size is asked. */
  wrongSize?: boolean;
  /** destroy() keeps the key. */
  keepOnDestroy?: boolean;
  /** Ids that collide under concurrency. */
  weakIds?: boolean;
  /** Fingerprints the PKCS#8 instead of the SPKI. */
  wrongFingerprint?: boolean;
  /** Ignores the abort signal. */
  ignoreAbort?: boolean;
}

/** A memory key store with exportable keys and the given flaws. */
class FlawedKeyStore implements KeyStore {
  readonly kind = 'flawed';
  readonly #keys = new Map<string, KeyHandle>();
  #counter = 0;
  constructor(private readonly flaws: Flaws = {}) {}

  async generate(spec: KeySpec, options?: { signal?: AbortSignal }): Promise<KeyHandle> {
    if (!this.flaws.ignoreAbort) options?.signal?.throwIfAborted();
    if (!isKeyAlgorithm(spec.algorithm)) throw new KeyStoreError('unsupported', 'unsupported');
    const crypto = webcrypto as unknown as Crypto;
    const asked: KeyAlgorithm = spec.algorithm;
    const made = this.flaws.wrongSize && asked.startsWith('RSA') ? 'RSA-2048' : asked;
    const pair = await generateKeyPair(crypto, made, { extractable: true });
    const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
    const id = this.flaws.weakIds ? `key-${this.#counter >> 8}` : randomUUID();
    this.#counter++;
    const fingerprint = this.flaws.wrongFingerprint
      ? Buffer.from(await crypto.subtle.digest('SHA-256', pkcs8)).toString('hex')
      : await spkiSha256(crypto, pair.publicKey);
    const ref: KeyRef = {
      store: this.kind,
      id,
      algorithm: asked,
      spkiSha256: fingerprint,
      ...(this.flaws.leak ? { sealed: pkcs8.toString('base64') } : {}),
    };
    const handle: KeyHandle = { ref, algorithm: asked, crypto, ...pair, exportable: !this.flaws.lieExportable };
    this.#keys.set(id, handle);
    return handle;
  }

  async load(ref: KeyRef, options?: { signal?: AbortSignal }): Promise<KeyHandle> {
    if (!this.flaws.ignoreAbort) options?.signal?.throwIfAborted();
    if (ref.store !== this.kind || !isKeyAlgorithm(ref.algorithm)) throw new KeyStoreError('unsupported', 'unsupported');
    const h = this.#keys.get(ref.id);
    if (!h) throw new KeyStoreError('not-found', 'not found');
    return h;
  }

  async destroy(ref: KeyRef, options?: { signal?: AbortSignal }): Promise<void> {
    if (!this.flaws.ignoreAbort) options?.signal?.throwIfAborted();
    if (ref.store !== this.kind) throw new KeyStoreError('unsupported', 'unsupported');
    if (!this.flaws.keepOnDestroy) this.#keys.delete(ref.id);
  }
}

interface Collected {
  readonly name: string;
  readonly fn: () => Promise<void>;
}

/** A runner on node:assert that collects the contract's tests to run them by hand. */
function collect(store: KeyStore, algorithms: KeyAlgorithm[]): Collected[] {
  const tests: Collected[] = [];
  const runner: ContractTestApi = {
    describe: (_name, fn) => fn(),
    it: (name, fn) => void tests.push({ name, fn }),
    expect: (actual): ContractAssertion => ({
      toBe: (expected) => strictEqual(actual, expected),
      toEqual: (expected) => deepStrictEqual(actual, expected),
      toHaveLength: (n) => strictEqual((actual as { length: number }).length, n),
    }),
  };
  describeKeyStore(runner, () => store, { algorithms });
  return tests;
}

/** Names of the contract tests (those whose name matches `only`, if given) that fail for `store`. */
async function failures(store: KeyStore, algorithms: KeyAlgorithm[] = ['ECDSA-P256'], only?: RegExp): Promise<string[]> {
  const tests = collect(store, algorithms).filter((t) => !only || only.test(t.name));
  if (tests.length === 0) throw new Error(`no contract test matches ${String(only)}`);
  const failed: string[] = [];
  for (const t of tests) {
    try {
      await t.fn();
    } catch {
      failed.push(t.name);
    }
  }
  return failed;
}

describe('describeKeyStore catches broken stores', () => {
  it('passes a sound store, run by a runner that is not vitest', async () => {
    // 2 general tests, 5 per algorithm, 2 for stateful stores, 5 more.
    expect(collect(new FlawedKeyStore(), ['ECDSA-P256', 'Ed25519']).length).toBe(21);
    expect(await failures(new FlawedKeyStore(), ['ECDSA-P256', 'Ed25519'])).toEqual([]);
  });

  const cases: [string, Flaws, RegExp, KeyAlgorithm[]?][] = [
    ['the PKCS#8 in clear in the ref', { leak: true }, /no ref field holds the private key in clear/],
    ['exportable: false on an exportable key', { lieExportable: true }, /handle\.exportable is true to the key/],
    ['RSA-2048 when RSA-3072 is asked', { wrongSize: true }, /RSA-3072: the key is exactly RSA-3072/, ['RSA-3072']],
    ['a destroy that keeps the key', { keepOnDestroy: true }, /destroy removes the key/],
    ['ids that collide under concurrency', { weakIds: true }, /20 concurrent generate calls/],
    ['a fingerprint of something else than the SPKI', { wrongFingerprint: true }, /ref\.spkiSha256 is the SHA-256/],
    ['a signal it ignores', { ignoreAbort: true }, /an aborted signal rejects/],
  ];
  for (const [flaw, flaws, test, algorithms] of cases) {
    it(`fails a store with ${flaw}, in the test that names it`, async () => {
      // Only the test that names the promise runs: it alone must catch the flaw.
      expect((await failures(new FlawedKeyStore(flaws), algorithms, test)).length).toBeGreaterThan(0);
    });
  }

  it('refuses an algorithm it does not know, when the suite is declared', () => {
    const runner = { describe: () => undefined, it: () => undefined, expect: () => ({ toBe() {}, toEqual() {}, toHaveLength() {} }) };
    expect(() => describeKeyStore(runner, () => new FlawedKeyStore(), { algorithms: ['DSA-1024' as KeyAlgorithm] })).toThrow(/DSA-1024/);
  });
});
