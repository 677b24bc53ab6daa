/**
 * Command-line arguments: `--name value`, `--name=value`, boolean flags,
 * short aliases, and `--` to end the options.
 *
 * @module
 */

import { UsageError } from './cli-errors.js';

/** One option a command accepts. */
export interface OptionSpec {
  /** Long name without dashes, e.g. `warn`. */
  readonly name: string;
  /** True when the option takes a value (`--warn 30d`); false for a flag (`--json`). */
  readonly takesValue: boolean;
  /** One-letter alias without the dash, e.g. `h`. */
  readonly short?: string;
}

/** The parsed command line of one command. */
export interface ParsedArgs {
  readonly positionals: readonly string[];
  /** Option values by long name; flags are `true`. The last occurrence wins. */
  readonly options: ReadonlyMap<string, string | true>;
}

/**
 * Splits `argv` into positionals and options per `specs`.
 *
 * @throws {@link UsageError} for an unknown option, a missing value, or a value given to a flag.
 * @example
 * ```ts
 * parseArgs(['a.pem', '--warn=30d', '--json'], [{ name: 'warn', takesValue: true }, { name: 'json', takesValue: false }])
 * // { positionals: ['a.pem'], options: Map { 'warn' => '30d', 'json' => true } }
 * ```
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.length < 2 || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith('--');
    const eq = long ? arg.indexOf('=') : -1;
    const key = long ? arg.slice(2, eq < 0 ? undefined : eq) : arg.slice(1);
    const spec = long ? byLong.get(key) : byShort.get(key);
    if (!spec) throw new UsageError(`unknown option ${JSON.stringify(long ? `--${key}` : arg)}`);
    if (!spec.takesValue) {
      if (eq >= 0) throw new UsageError(`option --${spec.name} takes no value`);
      options.set(spec.name, true);
      continue;
    }
    if (eq >= 0) {
      options.set(spec.name, arg.slice(eq + 1));
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) throw new UsageError(`option --${spec.name} needs a value`);
    options.set(spec.name, value);
    i++;
  }
  return { positionals, options };
}

/** The value of a value-taking option, or `fallback`. */
export function optionValue(args: ParsedArgs, name: string, fallback: string): string {
  const v = args.options.get(name);
  return typeof v === 'string' ? v : fallback;
}
