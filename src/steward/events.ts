/**
 * The typed lifecycle events: names are the public contract. Payloads are
 * readonly plain data with the certificate id and the time, never key material.
 *
 * @module
 */
import type { RenewalCause } from '../ports/certificate-store.js';

/** What every event payload carries. */
export interface StewardEventBase {
  /** The tracked certificate's id. */
  readonly id: string;
  /** When it happened (the steward's clock). */
  readonly at: Date;
}

/** Every event and its payload. */
export interface StewardEvents {
  'certificate.tracked': StewardEventBase & { readonly authority: string };
  'certificate.untracked': StewardEventBase;
  /** Once per threshold per certificate, never repeated (also not after a restart). */
  'certificate.expiring': StewardEventBase & {
    readonly level: 'warning' | 'critical';
    readonly notAfter: Date;
    readonly daysRemaining: number;
    readonly serialNumber: string;
  };
  'certificate.expired': StewardEventBase & {
    readonly notAfter: Date;
    readonly serialNumber: string;
    /** What the steward does about it, and what the host can do. */
    readonly recovery: string;
  };
  'certificate.revoked': StewardEventBase & { readonly serialNumber: string; readonly reason: string };
  /** The renewal time passed and no new certificate exists yet. */
  'renewal.overdue': StewardEventBase & { readonly renewalAt: Date; readonly notAfter: Date | undefined };
  'renewal.started': StewardEventBase & { readonly cause: RenewalCause; readonly rule: string };
  'renewal.succeeded': StewardEventBase & {
    readonly serialNumber: string;
    readonly notBefore: Date;
    readonly notAfter: Date;
    readonly previousSerialNumber: string | undefined;
    /** Leaf first, then intermediates. Load the key with `steward.tlsMaterial(id)`. */
    readonly chainPem: string;
    readonly keyRotated: boolean;
  };
  /**
   * An order was not placed because the authority's published rate limit is
   * reached (counted in the store's shared issuance ledger); the renewal
   * continues at `retryAt`.
   */
  'renewal.deferred': StewardEventBase & { readonly limit: string; readonly retryAt: Date };
  /** On every failed attempt: silent failure is what this library exists to prevent. */
  'renewal.failed': StewardEventBase & {
    readonly attempt: number;
    readonly errorKind: string;
    readonly message: string;
    readonly retryable: boolean;
    readonly nextAttemptAt: Date;
    readonly phase: string;
  };
  'key.created': StewardEventBase & { readonly keyId: string; readonly algorithm: string };
  'key.activated': StewardEventBase & { readonly keyId: string };
  'key.retiring': StewardEventBase & { readonly keyId: string };
  'key.retired': StewardEventBase & { readonly keyId: string };
  'key.destroyed': StewardEventBase & { readonly keyId: string };
  /** A listener threw, or work failed outside any certificate's renewal. */
  error: { readonly at: Date; readonly id?: string; readonly error: unknown; readonly message: string };
}

/** An event name. */
export type StewardEventName = keyof StewardEvents;
