/**
 * Backoff between failed renewal attempts: exponential with full jitter,
 * capped, and never past expiry.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import { parseDuration, type Duration } from './duration.js';
import { stableUniform } from './jitter.js';

/** Backoff settings. Defaults: `base: '1h'`, `max: '32h'`, `min: '1m'` (cert-manager's 1h·2^(n−1) capped at 32 h). */
export interface RetryPolicy {
  /** Delay ceiling of the first retry. */
  readonly base?: Duration;
  /** Largest delay ceiling. */
  readonly max?: Duration;
  /** Smallest delay: a retry never follows a failure sooner (no spinning). */
  readonly min?: Duration;
}

/** What the delay is for. */
export interface RetryContext {
  /** Now; needed with `notAfter`. */
  readonly now?: Date;
  /** The certificate's expiry: a retry is never scheduled past it while it is still valid. */
  readonly notAfter?: Date;
  /**
   * A uniform sample source in [0, 1) for the jitter. Without one the sample is
   * derived from `id` and the attempt, so the result is reproducible and a fleet
   * still spreads.
   */
  readonly random?: () => number;
  /** Seed for the derived sample (the certificate id). */
  readonly id?: string;
}

/**
 * Milliseconds to wait before attempt `attempt + 1`, after `attempt` failures
 * (attempt ≥ 1): a uniform draw between `min` and min(max, base·2^(attempt−1)).
 * When the certificate is still valid and the retry would land past notAfter,
 * it lands halfway to expiry instead (no sooner than `min`, and on notAfter
 * itself when less than `min` is left), so retries get denser as expiry nears
 * rather than stopping.
 *
 * @throws {@link ConfigError} for an invalid attempt or policy.
 * @example
 * ```ts
 * retryDelay(3, { base: '1h', max: '32h' }, { id: 'api', now, notAfter }) // ≤ 4 h
 * ```
 */
export function retryDelay(attempt: number, policy: RetryPolicy = {}, context: RetryContext = {}): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new ConfigError('attempt', attempt, `invalid attempt ${attempt}: it counts failures and starts at 1`);
  }
  const base = parseDuration(policy.base ?? '1h', 'retry base');
  const max = parseDuration(policy.max ?? '32h', 'retry max');
  const min = parseDuration(policy.min ?? '1m', 'retry min');
  if (min > max) throw new ConfigError('retry min', policy.min, `retry min (${String(policy.min ?? '1m')}) must not exceed retry max (${String(policy.max ?? '32h')})`);
  const ceiling = Math.max(min, Math.min(max, base * 2 ** Math.min(attempt - 1, 52)));
  const u = context.random ? context.random() : stableUniform(`retry:${context.id ?? ''}:${attempt}`);
  let delay = min + Math.max(0, Math.min(1, u)) * (ceiling - min);
  if (context.now && context.notAfter) delay = capBeforeExpiry(delay, context.now, context.notAfter, min);
  return Math.round(delay);
}

/**
 * Caps a delay so that, while the certificate is still valid, the next try
 * lands before it expires: halfway to expiry (no sooner than `minMs`), or on
 * notAfter itself when less than `minMs` is left. After expiry the delay is
 * returned unchanged. Also used for delays a CA asks for (`Retry-After`).
 *
 * @example
 * ```ts
 * capBeforeExpiry(7 * 86_400_000, now, notAfterInTwoDays, 60_000) // one day
 * ```
 */
export function capBeforeExpiry(delayMs: number, now: Date, notAfter: Date, minMs: number): number {
  const left = notAfter.getTime() - now.getTime();
  // Valid through notAfter inclusive: landing exactly on it is still in time.
  if (left > 0 && delayMs > left) return left > minMs ? Math.max(minMs, left / 2) : left;
  return delayMs;
}
