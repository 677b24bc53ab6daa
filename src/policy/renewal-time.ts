/**
 * When to renew: a fixed lead before expiry or a fraction of the lifetime,
 * spread by deterministic jitter, and never later than the critical threshold.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import { parseDuration, type Duration } from './duration.js';
import type { ValidityWindow } from './expiry.js';
import { stableUniform } from './jitter.js';

/** How to choose the renewal time. */
export interface RenewalPolicy {
  /**
   * Renew this long before notAfter (e.g. `'30d'`). When the lead is as long as
   * the lifetime, the fraction rule applies instead (as cert-manager does).
   */
  readonly before?: Duration;
  /**
   * Renew once this fraction of the lifetime has elapsed (0 < f < 1). Default
   * 2/3: a 90-day certificate renews with 30 days left. Ignored when `before`
   * is set.
   */
  readonly fraction?: number;
  /**
   * Jitter half-width as a fraction of the lifetime (default 1/20, as step
   * does). The offset is deterministic per certificate id, uniform over
   * ±jitter across a fleet.
   */
  readonly jitterRatio?: number;
  /** Jitter half-width as a duration; overrides `jitterRatio`. */
  readonly jitter?: Duration;
  /**
   * Never renew later than this long before notAfter (default `'7d'`). For a
   * certificate whose lifetime is shorter than 5× this threshold, a fifth of
   * the lifetime is used, so that short-lived certificates are not renewed the
   * moment they are issued.
   */
  readonly critical?: Duration;
}

/** Which rule produced the renewal time. */
export type RenewalRule = 'before' | 'fraction' | 'before-exceeds-lifetime' | 'critical-limit';

/** The result of {@link renewalTime}. */
export interface RenewalTime {
  /** When to renew. */
  readonly at: Date;
  /** The rule that decided `at`. */
  readonly rule: RenewalRule;
  /** The time the base rule gave, before jitter and limits. */
  readonly baseAt: Date;
  /** The jitter offset applied (ms, may be negative). */
  readonly jitterMs: number;
  /** The latest allowed renewal time (notAfter − effective critical threshold). */
  readonly latest: Date;
  /** One sentence for people. */
  readonly reason: string;
}

/**
 * The renewal time of a certificate under `policy`. `id` seeds the jitter: the
 * same id always gets the same offset (no thundering herd after a restart, no
 * flapping schedule).
 *
 * @throws {@link ConfigError} for an invalid policy.
 * @example
 * ```ts
 * const { at, reason } = renewalTime(info, { fraction: 2 / 3 }, 'api.example.com')
 * ```
 */
export function renewalTime(cert: ValidityWindow, policy: RenewalPolicy = {}, id = ''): RenewalTime {
  const nb = cert.notBefore.getTime();
  const na = cert.notAfter.getTime();
  if (Number.isNaN(nb) || Number.isNaN(na)) {
    throw new ConfigError('certificate', cert, 'cannot compute a renewal time: the validity window is not readable');
  }
  const lifetime = Math.max(0, na - nb);
  const fraction = policy.fraction ?? 2 / 3;
  if (!(fraction > 0 && fraction < 1)) {
    throw new ConfigError('fraction', policy.fraction, `invalid renewal fraction ${policy.fraction}: it must be between 0 and 1`);
  }
  const jitterRatio = policy.jitterRatio ?? 1 / 20;
  if (!(jitterRatio >= 0 && jitterRatio < 0.5)) {
    throw new ConfigError('jitterRatio', policy.jitterRatio, `invalid jitterRatio ${policy.jitterRatio}: use 0 ≤ ratio < 0.5`);
  }
  const criticalMs = Math.min(parseDuration(policy.critical ?? '7d', 'critical'), lifetime / 5);
  const latestMs = na - criticalMs;

  let rule: RenewalRule;
  let baseMs: number;
  let why: string;
  const fractionAt = nb + lifetime * fraction;
  if (policy.before !== undefined) {
    const lead = parseDuration(policy.before, 'before');
    if (lead >= lifetime) {
      rule = 'before-exceeds-lifetime';
      baseMs = fractionAt;
      why = `the lead ${String(policy.before)} is not shorter than the lifetime, so renew at ${pct(fraction)} of the lifetime`;
    } else {
      rule = 'before';
      baseMs = na - lead;
      why = `renew ${String(policy.before)} before expiry`;
    }
  } else {
    rule = 'fraction';
    baseMs = fractionAt;
    why = `renew when ${pct(fraction)} of the lifetime has elapsed`;
  }
  const half = policy.jitter !== undefined ? parseDuration(policy.jitter, 'jitter') : lifetime * jitterRatio;
  const jitterMs = Math.round((stableUniform(`renewal:${id}`) * 2 - 1) * half);
  let atMs = Math.max(nb, baseMs + jitterMs);
  if (atMs > latestMs) {
    // latest ≥ notBefore for any real window; for an inverted one, expiry wins.
    atMs = latestMs;
    rule = 'critical-limit';
    why += `, but no later than the critical threshold before expiry`;
  }
  return {
    at: new Date(atMs),
    rule,
    baseAt: new Date(baseMs),
    jitterMs,
    latest: new Date(latestMs),
    reason: `${why} (jitter ${jitterMs >= 0 ? '+' : ''}${Math.round(jitterMs / 60_000)} min)`,
  };
}

function pct(f: number): string {
  return `${Math.round(f * 1000) / 10}%`;
}
