/**
 * `check --format json`: one JSON document with every entry and the summary.
 *
 * @module
 */
import type { CheckResult } from './check-result.js';
import { EXIT_CODE } from './plugin-state.js';

/**
 * The check as JSON: `{ state, exitCode, now, thresholds, summary, entries, skipped, duplicates }`.
 * Dates are ISO strings; an unknown number of days is `null`.
 *
 * @example
 * ```ts
 * const doc = JSON.parse(renderCheckJson(result))
 * doc.entries.filter((e) => e.status === 'expired').map((e) => e.label)
 * ```
 */
export function renderCheckJson(result: CheckResult, targets: readonly string[] = []): string {
  const iso = (d: Date) => (Number.isNaN(d.getTime()) ? null : d.toISOString());
  const doc = {
    state: result.state,
    exitCode: EXIT_CODE[result.state],
    now: iso(result.now),
    targets,
    thresholds: result.thresholds,
    summary: { ...result.summary, skipped: result.skipped.length, duplicates: result.duplicates },
    entries: result.entries.map((e) => ({
      label: e.label,
      source: e.source,
      index: e.index ?? null,
      status: e.status,
      state: e.state,
      daysRemaining: e.expiry && Number.isFinite(e.expiry.daysRemaining) ? e.expiry.daysRemaining : null,
      remainingMs: e.expiry && Number.isFinite(e.expiry.remainingMs) ? e.expiry.remainingMs : null,
      reason: e.error ?? e.expiry?.reason ?? null,
      subject: e.cert?.subject.dn ?? null,
      issuer: e.cert?.issuer.dn ?? null,
      serialNumber: e.cert?.serialNumber ?? null,
      notBefore: e.cert ? iso(e.cert.notBefore) : null,
      notAfter: e.cert ? iso(e.cert.notAfter) : null,
      sha256: e.cert?.fingerprints.sha256 ?? null,
      error: e.error ?? null,
    })),
    skipped: result.skipped,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
