/**
 * Expiry alerts of a tracked certificate: which thresholds are crossed, which
 * were announced already, and when the next one falls due.
 *
 * Thresholds scale down for short-lived certificates (warning at most a
 * quarter of the lifetime, critical at most a tenth), so that a 7-day
 * certificate renewed on schedule never raises an alert, and a 90-day one
 * renewed at 2/3 of its life never warns before its renewal was due.
 *
 * @module
 */
import type { IssuedCertificate } from '../ports/certificate-store.js';

/** Alert levels, least severe first. */
export type AlertLevel = 'warning' | 'critical' | 'expired';

const LEVELS: readonly AlertLevel[] = ['warning', 'critical', 'expired'];

/** Thresholds in ms before notAfter. */
export interface ResolvedThresholds {
  readonly warningMs: number;
  readonly criticalMs: number;
}

/** The thresholds that apply to one certificate. */
export function effectiveThresholds(cert: IssuedCertificate, t: ResolvedThresholds): ResolvedThresholds {
  const lifetime = Math.max(0, cert.notAfter.getTime() - cert.notBefore.getTime());
  return { warningMs: Math.min(t.warningMs, lifetime / 4), criticalMs: Math.min(t.criticalMs, lifetime / 10) };
}

/** When each level is reached. */
export function levelTimes(cert: IssuedCertificate, t: ResolvedThresholds): Record<AlertLevel, number> {
  const e = effectiveThresholds(cert, t);
  const na = cert.notAfter.getTime();
  return { warning: na - e.warningMs, critical: na - e.criticalMs, expired: na + 1 };
}

/** The key under which an announcement is remembered. */
export function announcementKey(cert: IssuedCertificate, level: AlertLevel): string {
  return `${cert.fingerprintSha256}:${level}`;
}

/**
 * The most severe level reached at `now` that was not announced yet, plus
 * every level it implies (crossing `critical` also settles `warning`).
 */
export function dueAlert(
  cert: IssuedCertificate,
  announced: readonly string[],
  now: number,
  t: ResolvedThresholds,
): { level: AlertLevel; settle: string[] } | undefined {
  const times = levelTimes(cert, t);
  let reached: AlertLevel | undefined;
  for (const level of LEVELS) if (now >= times[level]) reached = level;
  if (!reached || announced.includes(announcementKey(cert, reached))) return undefined;
  const settle = LEVELS.slice(0, LEVELS.indexOf(reached) + 1).map((l) => announcementKey(cert, l));
  return { level: reached, settle };
}

/** Now when a reached level was not announced yet, else the earliest time a not-yet-announced level is reached, after `now`. */
export function nextAlertAt(cert: IssuedCertificate, announced: readonly string[], now: number, t: ResolvedThresholds): number | undefined {
  // A level reached but never announced (a certificate adopted inside a threshold) is due now, not at the next one.
  if (dueAlert(cert, announced, now, t)) return now;
  const times = levelTimes(cert, t);
  let next: number | undefined;
  for (const level of LEVELS) {
    const at = times[level];
    if (at > now && !announced.includes(announcementKey(cert, level)) && (next === undefined || at < next)) next = at;
  }
  return next;
}
