/**
 * Expiry status: how close a certificate is to the end of its validity.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import { DAY_MS, parseDuration, type Duration } from './duration.js';

/** Where a certificate stands. `unknown` when a time could not be read. */
export type ExpiryStatus = 'ok' | 'warning' | 'critical' | 'expired' | 'not-yet-valid' | 'unknown';

/** Thresholds of remaining validity; defaults `warning: '30d'`, `critical: '7d'`. */
export interface ExpiryThresholds {
  readonly warning?: Duration;
  readonly critical?: Duration;
}

/** The validity window a status is computed from (a `CertificateInfo` or a `Validity` fits). */
export interface ValidityWindow {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly noWellDefinedExpiration?: boolean;
}

/** The result of {@link expiryStatus}. */
export interface ExpiryReport {
  readonly status: ExpiryStatus;
  /** notAfter − now in milliseconds (negative once expired; NaN when unknown). */
  readonly remainingMs: number;
  /** Whole days remaining, rounded down (−1 on the first day after expiry; NaN when unknown). */
  readonly daysRemaining: number;
  /** The threshold crossed, if any. */
  readonly threshold: 'warning' | 'critical' | undefined;
  /** The certificate claims no well-defined expiration (notAfter 99991231235959Z). */
  readonly noWellDefinedExpiration: boolean;
  /** One sentence for people: why this status. */
  readonly reason: string;
}

/** Resolved thresholds in milliseconds. */
export function resolveThresholds(t: ExpiryThresholds = {}): { warningMs: number; criticalMs: number } {
  const warningMs = parseDuration(t.warning ?? '30d', 'warning threshold');
  const criticalMs = parseDuration(t.critical ?? '7d', 'critical threshold');
  if (criticalMs > warningMs) {
    throw new ConfigError(
      'critical threshold',
      t.critical,
      `critical threshold (${t.critical ?? '7d'}) must not be longer than the warning threshold (${t.warning ?? '30d'})`,
    );
  }
  return { warningMs, criticalMs };
}

/**
 * The expiry status of a certificate at `now`. A certificate is valid through
 * its notAfter second (RFC 5280) and expired after it. A time that could not be
 * read (an invalid Date) gives `unknown`, never "not expired".
 *
 * @throws {@link ConfigError} for invalid thresholds.
 * @example
 * ```ts
 * const r = expiryStatus(parseCertificate(pem), new Date(), { warning: '30d', critical: '7d' })
 * if (r.status !== 'ok') console.warn(r.reason)
 * ```
 */
export function expiryStatus(cert: ValidityWindow, now: Date, thresholds?: ExpiryThresholds): ExpiryReport {
  const { warningMs, criticalMs } = resolveThresholds(thresholds);
  const nb = cert.notBefore?.getTime?.();
  const na = cert.notAfter?.getTime?.();
  const t = now.getTime();
  const noWellDefinedExpiration = cert.noWellDefinedExpiration === true;
  const base = { noWellDefinedExpiration };
  if (nb === undefined || na === undefined || Number.isNaN(nb) || Number.isNaN(na) || Number.isNaN(t)) {
    return {
      ...base,
      status: 'unknown',
      remainingMs: NaN,
      daysRemaining: NaN,
      threshold: undefined,
      reason: 'the validity window could not be read, so expiry is unknown',
    };
  }
  const remainingMs = na - t;
  const daysRemaining = Math.floor(remainingMs / DAY_MS);
  const at = (ms: number) => new Date(ms).toISOString();
  if (t > na) {
    return { ...base, status: 'expired', remainingMs, daysRemaining, threshold: 'critical', reason: `expired at ${at(na)}` };
  }
  if (t < nb) {
    return {
      ...base,
      status: 'not-yet-valid',
      remainingMs,
      daysRemaining,
      threshold: undefined,
      reason: `not valid before ${at(nb)}`,
    };
  }
  if (noWellDefinedExpiration) {
    return { ...base, status: 'ok', remainingMs, daysRemaining, threshold: undefined, reason: 'no well-defined expiration date' };
  }
  if (remainingMs <= criticalMs) {
    return {
      ...base,
      status: 'critical',
      remainingMs,
      daysRemaining,
      threshold: 'critical',
      reason: `expires at ${at(na)}, within the critical threshold`,
    };
  }
  if (remainingMs <= warningMs) {
    return {
      ...base,
      status: 'warning',
      remainingMs,
      daysRemaining,
      threshold: 'warning',
      reason: `expires at ${at(na)}, within the warning threshold`,
    };
  }
  return { ...base, status: 'ok', remainingMs, daysRemaining, threshold: undefined, reason: `valid until ${at(na)}` };
}

/**
 * Which count of an expiry summary a certificate with `remainingMs` of
 * validity left falls in, at fixed thresholds (thresholds inclusive; past
 * `notAfter` is `expired`). The rule `countExpiring` implementations and
 * `steward.summary()` share.
 *
 * @example
 * ```ts
 * expiryBucket(5 * DAY_MS, { warningMs: 30 * DAY_MS, criticalMs: 7 * DAY_MS }) // 'critical'
 * ```
 */
export function expiryBucket(remainingMs: number, thresholds: { readonly warningMs: number; readonly criticalMs: number }): 'ok' | 'warning' | 'critical' | 'expired' {
  if (remainingMs < 0) return 'expired';
  if (remainingMs <= thresholds.criticalMs) return 'critical';
  if (remainingMs <= thresholds.warningMs) return 'warning';
  return 'ok';
}
