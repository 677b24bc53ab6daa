/**
 * `check --format human`: aligned columns and a summary line.
 *
 * @module
 */
import type { ExpiryStatus } from '../index.js';
import type { CheckResult, CheckSummary } from './check-result.js';
import { isoSeconds, safeText, shortName } from './field-text.js';

/** The status word of each line. */
export const STATUS_WORD: Readonly<Record<ExpiryStatus, string>> = {
  ok: 'OK',
  warning: 'WARNING',
  critical: 'CRITICAL',
  expired: 'EXPIRED',
  'not-yet-valid': 'NOT-YET-VALID',
  unknown: 'UNKNOWN',
};

/** Longest subject shown; the JSON format has the full name. */
const SUBJECT_WIDTH = 60;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * `N certificates: a ok, b warning, c critical, d expired, e unknown`
 * (and `, f not yet valid` when there are any).
 */
export function summaryLine(s: CheckSummary): string {
  const parts = [`${s.ok} ok`, `${s.warning} warning`, `${s.critical} critical`, `${s.expired} expired`, `${s.unknown} unknown`];
  if (s.notYetValid > 0) parts.push(`${s.notYetValid} not yet valid`);
  return `${s.total} certificate${s.total === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

/**
 * One line per entry (STATUS, DAYS left, NOT AFTER, SUBJECT, PATH), columns
 * padded to the widest cell, days right-aligned; then the summary line.
 *
 * @example
 * ```text
 * STATUS   DAYS  NOT AFTER             SUBJECT            PATH
 * OK        364  2027-01-01T00:00:00Z  CN=api.example     certs/api.pem
 * EXPIRED   -12  2025-12-20T00:00:00Z  CN=old.example     certs/old.pem
 * 2 certificates: 1 ok, 0 warning, 0 critical, 1 expired, 0 unknown
 * ```
 */
export function renderCheckTable(result: CheckResult): string {
  const header = ['STATUS', 'DAYS', 'NOT AFTER', 'SUBJECT', 'PATH'];
  const rows = result.entries.map((e) => [
    STATUS_WORD[e.status],
    e.expiry && Number.isFinite(e.expiry.daysRemaining) ? String(e.expiry.daysRemaining) : '-',
    e.cert ? isoSeconds(e.cert.notAfter) : '-',
    e.cert ? clip(shortName(e.cert.subject), SUBJECT_WIDTH) : '-',
    safeText(e.error === undefined ? e.label : `${e.label}: ${e.error}`),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : c === 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ');
  const out = rows.length > 0 ? [line(header), ...rows.map(line)] : [];
  out.push(summaryLine(result.summary));
  return out.join('\n') + '\n';
}
