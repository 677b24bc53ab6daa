/**
 * What MemoryKeyStore promises beyond the KeyStore contract: it behaves like
 * an HSM slot in process memory.
 */
import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCertstewardError } from '../../../src/errors.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import type { KeyRef } from '../../../src/ports/key-store.js';

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isCertstewardError(e, 'key-store') ? e.reason : `not a KeyStoreError: ${String(e)}`;
  }
  return 'resolved';
}

describe('MemoryKeyStore', () => {
  it('counts its keys in size: up on generate, down on destroy, and a repeated destroy changes nothing', async () => {
    const store = new MemoryKeyStore();
    const a = await store.generate({ algorithm: 'ECDSA-P256' });
    await store.generate({ algorithm: 'Ed25519' });
    expect(store.size).toBe(2);
    await store.destroy(a.ref);
    await store.destroy(a.ref);
    expect(store.size).toBe(1);
  });

  it('makes refs with no key material: exactly store, id, algorithm and spkiSha256', async () => {
    const { ref } = await new MemoryKeyStore().generate({ algorithm: 'RSA-2048' });
    expect(Object.keys(ref).sort()).toEqual(['algorithm', 'id', 'spkiSha256', 'store']);
    expect(ref.store).toBe('memory');
  });

  it('hands out non-extractable private keys and says so', async () => {
    const h = await new MemoryKeyStore().generate({ algorithm: 'ECDSA-P384' });
    expect([h.exportable, h.privateKey.extractable]).toEqual([false, false]);
    await expect(webcrypto.subtle.exportKey('pkcs8', h.privateKey)).rejects.toThrow();
  });

  it('keeps keys per instance: another MemoryKeyStore does not find them (not-found)', async () => {
    const { ref } = await new MemoryKeyStore().generate({ algorithm: 'ECDSA-P256' });
    expect(await reasonOf(new MemoryKeyStore().load(ref))).toBe('not-found');
  });

  it('refuses a ref whose spkiSha256 or algorithm is not the key\'s (corrupt), and still loads the true ref', async () => {
    const store = new MemoryKeyStore();
    const { ref } = await store.generate({ algorithm: 'ECDSA-P256' });
    const other = await store.generate({ algorithm: 'ECDSA-P256' });
    const wrong: KeyRef[] = [{ ...ref, spkiSha256: other.ref.spkiSha256 }, { ...ref, algorithm: 'ECDSA-P384' }];
    for (const r of wrong) expect(await reasonOf(store.load(r))).toBe('corrupt');
    expect((await store.load(ref)).ref.spkiSha256).toBe(ref.spkiSha256);
  });
});
