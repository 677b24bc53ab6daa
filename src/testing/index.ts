/**
 * `certsteward/testing`: everything a host needs to test its wiring without a
 * real CA, database or HSM — a manual clock, in-memory adapters, a test CA
 * that can be told to misbehave — and the contract suites every adapter
 * (ours and yours) must pass.
 *
 * @packageDocumentation
 */
export { ManualClock } from './manual-clock.js';
export { MemoryStore } from './memory-store.js';
export type { MemoryStoreCall, MemoryStoreFault, MemoryStoreMethod, MemoryStoreOptions } from './memory-store.js';
export { MemoryKeyStore } from './memory-key-store.js';
export type { MemoryKeyStoreOptions } from './memory-key-store.js';
export { TestAuthority } from './test-authority.js';
export type { TestAuthorityCall, TestAuthorityOptions } from './test-authority.js';
export { describeCertificateStore } from './contracts/store-contract.js';
export type { StoreContractOptions } from './contracts/store-contract.js';
export { describeKeyStore } from './contracts/key-store-contract.js';
export type { KeyStoreContractOptions } from './contracts/key-store-contract.js';
export { describeCertificateAuthority } from './contracts/authority-contract.js';
export type { AuthorityContractSubject } from './contracts/authority-contract.js';
export type { ContractAssertion, ContractTestApi } from './contracts/contract-api.js';
