/**
 * Options and persisted state of the local certificate authority.
 *
 * @module
 */
import type { Clock } from '../../src/ports/clock.js';
import type { KeyAlgorithm, KeyHandle, KeyRef, KeyStore } from '../../src/ports/key-store.js';
import type { RevocationReason } from '../../src/ports/certificate-authority.js';
import type { SubjectAltName } from '../../src/pki/csr.js';

/**
 * Leaf lifetime settings, kept in the state so a reloaded CA keeps its policy.
 *
 * @example
 * ```ts
 * const policy: LocalAuthorityLeafPolicy = { defaultLeafLifetimeMs: 30 * 86_400_000, maxLeafLifetimeMs: 90 * 86_400_000 }
 * ```
 */
export interface LocalAuthorityLeafPolicy {
  /** Leaf lifetime when the request names none (default 90 days). */
  readonly defaultLeafLifetimeMs?: number;
  /** Longest leaf lifetime granted whatever the request asks (default 397 days, the CA/Browser Forum limit). */
  readonly maxLeafLifetimeMs?: number;
}

/**
 * Options of `LocalAuthority.create`.
 *
 * @example
 * ```ts
 * const ca = await LocalAuthority.create({ keys, clock: systemClock, name: 'Acme Internal', algorithm: 'ECDSA-P384' })
 * ```
 */
export interface LocalAuthorityOptions extends LocalAuthorityLeafPolicy {
  /** Where the root and intermediate keys are generated and kept (an HSM, or sealed software keys). */
  readonly keys: KeyStore;
  /** The time source for validity periods. */
  readonly clock: Clock;
  /** Common-name prefix: the CA certificates are `<name> Root CA` and `<name> Intermediate CA` (default `certsteward local`). */
  readonly name?: string;
  /** Algorithm of the root and intermediate keys (default `ECDSA-P256`). */
  readonly algorithm?: KeyAlgorithm;
  /** Root lifetime (default 10 years). */
  readonly rootLifetimeMs?: number;
  /** Intermediate lifetime (default 5 years, never past the root's end). */
  readonly intermediateLifetimeMs?: number;
  /**
   * Source of random bytes for serial numbers (default `crypto.getRandomValues`
   * of Node). Inject one for reproducible tests.
   */
  readonly randomBytes?: (length: number) => Uint8Array;
  /** Cancels the key generation of `create`. */
  readonly signal?: AbortSignal;
}

/**
 * Options of `LocalAuthority.load`: the key store and clock, and optionally a
 * new leaf policy (the persisted one is kept otherwise).
 *
 * @example
 * ```ts
 * const ca = await LocalAuthority.load(JSON.parse(saved), { keys, clock: systemClock })
 * ```
 */
export interface LocalAuthorityLoadOptions extends LocalAuthorityLeafPolicy {
  readonly keys: KeyStore;
  readonly clock: Clock;
  readonly randomBytes?: (length: number) => Uint8Array;
  readonly signal?: AbortSignal;
}

/**
 * One CA certificate and the reference of its key.
 *
 * @example
 * ```ts
 * const { certificatePem, key } = ca.toJSON().intermediate
 * ```
 */
export interface LocalAuthorityCaState {
  readonly certificatePem: string;
  readonly key: KeyRef;
}

/**
 * A revocation the local CA recorded.
 *
 * @example
 * ```ts
 * for (const r of ca.revocations) console.log(r.serial, r.reason, r.revokedAt)
 * ```
 */
export interface LocalAuthorityRevocation {
  /** Serial number, lowercase hex (as `parseCertificate` reports it). */
  readonly serial: string;
  readonly reason: RevocationReason;
  /** ISO 8601. */
  readonly revokedAt: string;
}

/**
 * The JSON-safe state of a local CA (`toJSON()`), from which `load()` rebuilds
 * it. It holds certificates and key references, never private keys in clear:
 * the keys stay in the key store.
 *
 * @example
 * ```ts
 * const state: LocalAuthorityState = ca.toJSON()
 * await writeFile('ca.json', JSON.stringify(state))
 * ```
 */
export interface LocalAuthorityState {
  readonly format: 'certsteward.local-ca';
  readonly version: 1;
  readonly name: string;
  readonly root: LocalAuthorityCaState;
  readonly intermediate: LocalAuthorityCaState;
  readonly defaultLeafLifetimeMs: number;
  readonly maxLeafLifetimeMs: number;
  readonly revoked: readonly LocalAuthorityRevocation[];
  /** The number of the last CRL issued (CRL numbers must only grow, RFC 5280 §5.2.3). */
  readonly crlNumber: number;
}

/**
 * Options of {@link emergencySelfSigned}.
 *
 * @example
 * ```ts
 * const pem = await emergencySelfSigned({ key, commonName: 'api.example.com',
 *   subjectAltNames: [{ type: 'dns', value: 'api.example.com' }], clock: systemClock })
 * ```
 */
export interface EmergencySelfSignedOptions {
  /** The key to certify and sign with. */
  readonly key: KeyHandle;
  readonly commonName?: string;
  readonly subjectAltNames: readonly SubjectAltName[];
  /** Lifetime (default 7 days). */
  readonly lifetimeMs?: number;
  readonly clock: Clock;
  /** Source of random bytes for the serial number (default Node's `crypto.getRandomValues`). */
  readonly randomBytes?: (length: number) => Uint8Array;
}

/**
 * Options of `LocalAuthority.crl`.
 *
 * @example
 * ```ts
 * const pem = await ca.crl({ validityMs: 86_400_000 })
 * ```
 */
export interface LocalCrlOptions {
  /** How long the CRL is valid (default 7 days). */
  readonly validityMs?: number;
}
