/**
 * A certificate authority: ACME, Fabric CA, the built-in local CA, or a test
 * double.
 *
 * @module
 */
import type { KeyHandle } from './key-store.js';

/** What the steward asks an authority for. */
export interface IssueRequest {
  /** The tracked certificate's id (for logs, rate limits and test doubles). */
  readonly id: string;
  /** PKCS#10 CSR, PEM, signed by `key`. */
  readonly csrPem: string;
  /** DNS names, IPs and emails requested (also inside the CSR). */
  readonly subjectAltNames: readonly { readonly type: 'dns' | 'ip' | 'email' | 'uri'; readonly value: string }[];
  /** The subject common name, if any. */
  readonly commonName?: string;
  /** Requested lifetime in ms, for authorities that let the requester choose. */
  readonly lifetimeMs?: number;
  /** Authority-specific profile or template name. */
  readonly profile?: string;
  /** The key the CSR was made with; authorities that authenticate with the current key (Fabric re-enroll) use it. */
  readonly key: KeyHandle;
  /** The certificate being replaced (PEM), when this is a renewal. */
  readonly replaces?: string;
  /**
   * Loads the key of the certificate being replaced, for authorities that
   * authenticate a renewal with it (Fabric CA re-enrollment signs its token
   * with the current certificate's key). Undefined when there is no current
   * certificate or its key is not held by the steward's key store (an adopted
   * certificate). Called only by authorities that need it.
   */
  readonly currentKey?: () => Promise<KeyHandle | undefined>;
}

/** An authority's answer: a chain now, or an order to come back to. */
export type IssueResult =
  | {
      readonly status: 'issued';
      /** Leaf first, then intermediates, PEM. */
      readonly chainPem: string;
    }
  | {
      readonly status: 'pending';
      /** JSON-safe order reference, persisted by the steward and passed to {@link CertificateAuthority.resume}. */
      readonly orderRef: string;
      /** When to ask again, if the authority says. */
      readonly retryAfterMs?: number;
    };

/** A CA-suggested renewal window (ACME ARI, RFC 9773). */
export interface RenewalInfo {
  readonly start: Date;
  readonly end: Date;
  /** When to ask again. */
  readonly retryAfterMs?: number;
  readonly explanationUrl?: string;
}

/** RFC 5280 revocation reasons. */
export type RevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'caCompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'privilegeWithdrawn';

/** What an authority tells about itself. */
export interface AuthorityDescription {
  /** A kind name: `acme`, `fabric-ca`, `local`, `test`. */
  readonly kind: string;
  /** Where it is (directory URL, CA URL), for logs. */
  readonly endpoint?: string;
}

/**
 * Issues certificates. `issue()` either returns the chain or a pending order
 * that the steward persists before it does anything else, so that a restart
 * resumes the same order instead of placing a new one. Implementations must
 * pass `describeCertificateAuthority` from `certsteward/testing`.
 *
 * Errors must be {@link AuthorityError}s: `retryable` says whether backing off
 * and trying again can help; `retryAfterMs` carries the CA's own advice.
 */
export interface CertificateAuthority {
  /** Requests a certificate. */
  issue(request: IssueRequest, options?: { signal?: AbortSignal }): Promise<IssueResult>;
  /** Continues a pending order. */
  resume(orderRef: string, request: IssueRequest, options?: { signal?: AbortSignal }): Promise<IssueResult>;
  /** Revokes a certificate (optional power). */
  revoke?(certificatePem: string, reason: RevocationReason, options?: { signal?: AbortSignal }): Promise<void>;
  /** The CA's suggested renewal window for a certificate it issued (optional power). */
  renewalInfo?(certificatePem: string, options?: { signal?: AbortSignal }): Promise<RenewalInfo | undefined>;
  /** Describes the authority for logs and `explain()`. */
  describe?(): AuthorityDescription;
  /**
   * The authority that dry runs (`renewNow(id, { dryRun: true })`) order
   * from: a staging directory of the same CA, so a rehearsal neither counts
   * against production rate limits nor leaves a real certificate behind
   * (optional power; without it dry runs use this authority).
   */
  staging?(): CertificateAuthority | Promise<CertificateAuthority>;
}
