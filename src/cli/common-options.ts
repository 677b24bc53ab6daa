/**
 * Options shared by `inspect` and `check`: the expiry thresholds and the TLS
 * connect timeout, validated before any work starts.
 *
 * @module
 */
import { parseDuration, resolveThresholds } from '../index.js';
import { UsageError } from './cli-errors.js';
import { optionValue, type ParsedArgs } from './args.js';

/** `--warn`, `--crit` and `--timeout`, resolved to milliseconds. */
export interface CommonOptions {
  readonly warningMs: number;
  readonly criticalMs: number;
  readonly timeoutMs: number;
}

/**
 * Reads `--warn` (default 30d), `--crit` (default 7d) and `--timeout`
 * (default 10s).
 *
 * @throws `ConfigError` for an invalid duration or a critical threshold longer than the warning one.
 * @throws {@link UsageError} for a zero timeout.
 * @example
 * ```ts
 * readCommonOptions(parseArgs(['--warn', '3 days'], specs)) // throws ConfigError: invalid warning threshold "3 days" …
 * ```
 */
export function readCommonOptions(args: ParsedArgs): CommonOptions {
  const { warningMs, criticalMs } = resolveThresholds({
    warning: optionValue(args, 'warn', '30d'),
    critical: optionValue(args, 'crit', '7d'),
  });
  const timeoutMs = parseDuration(optionValue(args, 'timeout', '10s'), 'timeout');
  if (timeoutMs <= 0) throw new UsageError('--timeout must be longer than 0');
  return { warningMs, criticalMs, timeoutMs };
}
