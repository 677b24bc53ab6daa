/**
 * Durations as people write them: `'30d'`, `'12h'`, `'90m'`, `'1d12h'`, or
 * milliseconds.
 *
 * @module
 */
import { ConfigError } from '../errors.js';

/** Milliseconds, or text such as `'30d'`, `'12h'`, `'90m'`, `'45s'`, `'2w'`, `'1d12h'`, `'500ms'`. */
export type Duration = number | string;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;

/** One day in milliseconds. */
export const DAY_MS = 86_400_000;

/**
 * Milliseconds in `value`.
 *
 * @param setting - the option's name, quoted in the error.
 * @throws {@link ConfigError} naming the setting and the bad value.
 * @example
 * ```ts
 * parseDuration('30d')   // 2_592_000_000
 * parseDuration('1d12h') // 129_600_000
 * parseDuration(5000)    // 5000
 * ```
 */
export function parseDuration(value: Duration, setting = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new ConfigError(setting, value, `invalid ${setting} ${value}: milliseconds must be a finite number ≥ 0`);
    }
    return value;
  }
  if (typeof value !== 'string') {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new ConfigError(setting, value, `invalid ${setting}: expected milliseconds or text like "30d", got ${got}`);
  }
  const text = value.trim();
  let total = NaN;
  if (WHOLE.test(text)) {
    total = 0;
    for (const m of text.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  if (!Number.isFinite(total)) {
    throw new ConfigError(
      setting,
      value,
      `invalid ${setting} ${JSON.stringify(value)}: write a number with a unit (ms, s, m, h, d, w), e.g. "30d", "12h", "1d12h", or milliseconds`,
    );
  }
  return total;
}

/**
 * A short human form: `29d 3h`, `4h 12m`, `45s`; negative values get a `-`.
 *
 * @example
 * ```ts
 * formatDuration(90 * 60_000) // '1h 30m'
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const d = Math.floor(rest / DAY_MS);
  rest -= d * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m && !d) parts.push(`${m}m`);
  if (s && !d && !h) parts.push(`${s}s`);
  if (parts.length === 0) parts.push(Math.abs(ms) < 1000 ? `${Math.round(Math.abs(ms))}ms` : '0s');
  return sign + parts.join(' ');
}
