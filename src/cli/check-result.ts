/**
 * The outcome of `certsteward check`: one entry per certificate (or per
 * input that could not be read) and the counts every output format shows.
 *
 * @module
 */
import type { CertificateInfo, ExpiryReport, ExpiryStatus } from '../index.js';
import { worstState, type PluginState } from './plugin-state.js';

/** One line of the check. */
export interface CheckEntry {
  /** Where the certificate is: `dir/a.pem`, `dir/bundle.pem#1`, `example.com:443#0`. */
  readonly label: string;
  /** The file path or `host:port` it came from. */
  readonly source: string;
  /** Position in a bundle or served chain; undefined when the source holds one certificate. */
  readonly index: number | undefined;
  /** `unknown` when the input could not be read. */
  readonly status: ExpiryStatus;
  readonly state: PluginState;
  readonly cert: CertificateInfo | undefined;
  readonly expiry: ExpiryReport | undefined;
  /** Why there is no certificate to judge (unreadable, unreachable, missing). */
  readonly error: string | undefined;
}

/** Counts per status. `critical` excludes expired and not-yet-valid, which have their own counts. */
export interface CheckSummary {
  readonly total: number;
  readonly ok: number;
  readonly warning: number;
  readonly critical: number;
  readonly expired: number;
  readonly notYetValid: number;
  readonly unknown: number;
}

/** Everything a check found, before it is rendered. */
export interface CheckResult {
  readonly now: Date;
  readonly thresholds: { readonly warningMs: number; readonly criticalMs: number };
  readonly entries: readonly CheckEntry[];
  /** Files passed over because they hold no certificate, and why. */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
  /** Certificates found again under the same directory argument (same SHA-256), listed once. */
  readonly duplicates: number;
  readonly summary: CheckSummary;
  /** The worst entry state; UNKNOWN when there is no entry at all. */
  readonly state: PluginState;
}

/**
 * Counts `entries` by status.
 *
 * @example
 * ```ts
 * summarize(entries) // { total: 5, ok: 2, warning: 1, critical: 0, expired: 1, notYetValid: 0, unknown: 1 }
 * ```
 */
export function summarize(entries: readonly CheckEntry[]): CheckSummary {
  const n = (s: ExpiryStatus) => entries.filter((e) => e.status === s).length;
  return {
    total: entries.length,
    ok: n('ok'),
    warning: n('warning'),
    critical: n('critical'),
    expired: n('expired'),
    notYetValid: n('not-yet-valid'),
    unknown: n('unknown'),
  };
}

/** The state of a whole check (see {@link worstState}). */
export function overallState(entries: readonly CheckEntry[]): PluginState {
  return worstState(entries.map((e) => e.state));
}
