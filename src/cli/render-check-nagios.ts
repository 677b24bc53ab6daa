/**
 * `check --format nagios`: the one-line output of a monitoring plugin,
 * `SERVICE STATUS - message | perfdata`.
 *
 * @module
 */
import type { CheckEntry, CheckResult } from './check-result.js';
import { daysText, isoSeconds, safeText, shortName } from './field-text.js';

/** How many problem certificates the message names before "and N more". */
const NAMED_PROBLEMS = 3;
const SEVERITY = { CRITICAL: 0, WARNING: 1, UNKNOWN: 2, OK: 3 } as const;

function describe(e: CheckEntry): string {
  if (!e.cert || !e.expiry) return `${e.label}: ${e.error ?? 'unreadable'}`;
  const name = shortName(e.cert.subject);
  switch (e.status) {
    case 'expired':
      return `${name} expired ${daysText(e.expiry.remainingMs)} ago (${e.label})`;
    case 'not-yet-valid':
      return `${name} not valid before ${isoSeconds(e.cert.notBefore)} (${e.label})`;
    case 'unknown':
      return `${name}: validity unreadable (${e.label})`;
    default:
      return `${name} expires in ${daysText(e.expiry.remainingMs)} (${e.label})`;
  }
}

/** The plugin text must stay on one line, and `|` would start the performance data. */
function pluginText(text: string): string {
  return safeText(text).replace(/\|/g, '/');
}

/**
 * `CERTSTEWARD OK - 140 certificates, soonest expiry in 120d (CN=…) | ok=140 warning=0 critical=0 unknown=0`.
 * When not OK, the message counts the problems and names the worst few.
 * `critical` in the performance data includes expired and not-yet-valid certificates.
 *
 * @example
 * ```text
 * CERTSTEWARD CRITICAL - 4 certificates, 1 expired, 1 warning: CN=old expired 12d ago (certs/old.pem); CN=soon expires in 20d (certs/soon.pem) | ok=2 warning=1 critical=1 unknown=0
 * ```
 */
export function renderCheckNagios(result: CheckResult, targets: readonly string[] = []): string {
  const s = result.summary;
  const perf = `ok=${s.ok} warning=${s.warning} critical=${s.critical + s.expired + s.notYetValid} unknown=${s.unknown}`;
  let message: string;
  if (s.total === 0) {
    message = `no certificate found in ${targets.join(', ') || 'the given paths'}`;
  } else if (result.state === 'OK') {
    const judged = result.entries.filter((e) => e.expiry && Number.isFinite(e.expiry.remainingMs));
    const soonest = judged.reduce<CheckEntry | undefined>(
      (a, e) => (a === undefined || e.expiry!.remainingMs < a.expiry!.remainingMs ? e : a),
      undefined,
    );
    message = `${s.total} certificate${s.total === 1 ? '' : 's'}`;
    if (soonest?.cert && soonest.expiry) {
      message += `, soonest expiry in ${daysText(soonest.expiry.remainingMs)} (${shortName(soonest.cert.subject)})`;
    }
  } else {
    const counts = [
      [s.expired, 'expired'],
      [s.notYetValid, 'not yet valid'],
      [s.critical, 'critical'],
      [s.warning, 'warning'],
      [s.unknown, 'unknown'],
    ]
      .filter(([n]) => (n as number) > 0)
      .map(([n, what]) => `${n} ${what}`);
    const problems = result.entries
      .filter((e) => e.state !== 'OK')
      .sort(
        (a, b) =>
          SEVERITY[a.state] - SEVERITY[b.state] ||
          (a.expiry?.remainingMs ?? Infinity) - (b.expiry?.remainingMs ?? Infinity),
      );
    const named = problems.slice(0, NAMED_PROBLEMS).map(describe);
    if (problems.length > NAMED_PROBLEMS) named.push(`and ${problems.length - NAMED_PROBLEMS} more`);
    message = `${s.total} certificate${s.total === 1 ? '' : 's'}, ${counts.join(', ')}: ${named.join('; ')}`;
  }
  return `CERTSTEWARD ${result.state} - ${pluginText(message)} | ${perf}\n`;
}
