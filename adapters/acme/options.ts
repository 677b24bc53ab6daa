/**
 * Options of the ACME authority.
 *
 * @module
 */
import type { KeyHandle } from '../../src/ports/key-store.js';
import type { ChallengeSolver } from './challenge-solver.js';

/** The acme-client module (`import * as acme from 'acme-client'`), when the host passes it in. */
export type AcmeClientModule = typeof import('acme-client');

/**
 * Options of {@link AcmeAuthority.create}.
 *
 * @example
 * ```ts
 * const account = await keys.load(savedAccountKeyRef)
 * const le = await AcmeAuthority.create({
 *   directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
 *   accountKey: account, contact: ['mailto:pki@example.com'], termsOfServiceAgreed: true,
 *   solvers: [new Http01Solver()],
 * })
 * ```
 */
export interface AcmeAuthorityOptions {
  readonly directoryUrl: string;
  /**
   * The account key, from a `KeyStore` (ECDSA P-256/P-384 or RSA). It must be
   * a Node key (`SoftwareKeyStore`, `MemoryKeyStore`): acme-client signs its
   * requests synchronously with node:crypto, which an HSM key cannot do.
   * Certificate keys may live in an HSM.
   */
  readonly accountKey: KeyHandle;
  /** The account URL, when the host saved it (skips the account lookup). */
  readonly accountUrl?: string;
  /** Contact URLs (`mailto:…`) for a new account. */
  readonly contact?: readonly string[];
  /** Agreement to the CA's terms of service, required by most CAs to create an account. */
  readonly termsOfServiceAgreed?: boolean;
  /** External account binding for CAs that require one (ZeroSSL, Google, internal CAs). */
  readonly externalAccountBinding?: { readonly kid: string; readonly hmacKey: string };
  /** How to answer challenges; the first solver that handles an offered type is used. */
  readonly solvers: readonly ChallengeSolver[];
  /** Extra trust anchors (PEM) for the ACME server's TLS certificate (a private ACME server, Pebble). */
  readonly ca?: string | readonly string[];
  /** Prefer the chain whose root has this common name, when the CA offers alternate chains. */
  readonly preferredChain?: string;
  /** acme-client, when the host wants to pass it (default: imported on first use; an optional peer dependency). */
  readonly acme?: AcmeClientModule;
  /** How long to wait before polling an order the CA is still processing, without a Retry-After (default 1 s). */
  readonly pollIntervalMs?: number;
  /** How long to wait for one challenge to be validated (default 60 s). */
  readonly challengeTimeoutMs?: number;
  /** Use ACME Renewal Information (RFC 9773) when the directory offers it (default true). */
  readonly renewalInfo?: boolean;
  /** Timeout of one HTTP request to the CA (default 30 s). */
  readonly requestTimeoutMs?: number;
  /**
   * The CA's staging directory, for dry runs (`renewNow(id, { dryRun: true })`):
   * a full order there proves the wiring (account, solvers, DNS) without a
   * production certificate or rate-limit cost. Other options are inherited
   * unless given (a staging account is created with the same key).
   */
  readonly staging?: Partial<Omit<AcmeAuthorityOptions, 'staging' | 'accountUrl'>> & { readonly directoryUrl: string };
}
