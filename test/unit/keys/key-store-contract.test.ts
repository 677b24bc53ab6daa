/**
 * The KeyStore contract, run unchanged against every key store in src/.
 */
import { describe, expect, it } from 'vitest';
import { SoftwareKeyStore } from '../../../src/keys/software-key-store.js';
import { describeKeyStore } from '../../../src/testing/contracts/key-store-contract.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';

describe('SoftwareKeyStore, KEK as bytes, private keys non-exportable', () => {
  const kek = SoftwareKeyStore.generateKek();
  // A new instance on each make(): proves that the ref alone carries the key.
  describeKeyStore({ describe, it, expect }, () => new SoftwareKeyStore({ kek }), { stateless: true });
});

describe('SoftwareKeyStore, named KEK, private keys exportable', () => {
  // exportable: true lets the contract export the PKCS#8 and look for it in the ref.
  const kek = { id: 'kek-contract', key: SoftwareKeyStore.generateKek() };
  describeKeyStore({ describe, it, expect }, () => new SoftwareKeyStore({ kek, exportable: true }), { stateless: true });
});

describe('MemoryKeyStore', () => {
  // Keys live in the instance: "another store over the same keys" is the same instance.
  const store = new MemoryKeyStore();
  describeKeyStore({ describe, it, expect }, () => store);
});
