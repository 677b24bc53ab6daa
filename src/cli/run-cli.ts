/**
 * The whole CLI as a function of its arguments and I/O, so that tests run it
 * in-process; `main.ts` only wires it to the process.
 *
 * @module
 */
import { isCertstewardError } from '../index.js';
import { runCheck } from './check.js';
import type { CliIo } from './cli-io.js';
import { InputError, UsageError } from './cli-errors.js';
import { runInspect } from './inspect.js';
import { runMigrate } from './migrate.js';
import { usage, type CommandName } from './usage.js';
import { packageVersion } from './version.js';

/** Exit code for a command line that cannot run (the monitoring-plugin UNKNOWN). */
const EXIT_UNKNOWN = 3;

const COMMANDS: Readonly<Record<CommandName, (argv: readonly string[], io: CliIo) => Promise<number>>> = {
  inspect: runInspect,
  check: runCheck,
  migrate: runMigrate,
};

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Runs `certsteward <argv…>` and resolves to the exit code: for `check` 0 OK,
 * 1 WARNING, 2 CRITICAL, 3 UNKNOWN; for every command 3 on bad arguments or
 * unusable input. Never rejects for a user error; output goes to `io` only.
 *
 * @example
 * ```ts
 * const code = await runCli(['check', '/etc/ssl/certs', '--format', 'nagios'], {
 *   stdout: process.stdout, stderr: process.stderr, isTTY: process.stderr.isTTY === true,
 * })
 * process.exitCode = code
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(usage());
    return EXIT_UNKNOWN;
  }
  if (first === '--help' || first === '-h') {
    io.stdout.write(usage());
    return 0;
  }
  if (first === '--version' || first === '-V') {
    io.stdout.write(`certsteward ${packageVersion()}\n`);
    return 0;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.stdout.write(usage());
      return 0;
    }
    if (!isCommand(topic)) return usageError(io, `unknown command ${JSON.stringify(topic)}`);
    io.stdout.write(usage(topic));
    return 0;
  }
  if (!isCommand(first)) {
    return usageError(io, first.startsWith('-') ? `unknown option ${JSON.stringify(first)}` : `unknown command ${JSON.stringify(first)}`);
  }
  if (wantsHelp(rest)) {
    io.stdout.write(usage(first));
    return 0;
  }
  try {
    return await COMMANDS[first](rest, io);
  } catch (e) {
    if (e instanceof UsageError) return usageError(io, e.message, first);
    if (isCertstewardError(e, 'config') || e instanceof InputError) {
      io.stderr.write(`certsteward ${first}: ${e.message}\n`);
      return EXIT_UNKNOWN;
    }
    // A bug, not a user error: still UNKNOWN for monitoring, with the stack to report.
    io.stderr.write(`certsteward ${first}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT_UNKNOWN;
  }
}

function usageError(io: CliIo, message: string, command?: CommandName): number {
  io.stderr.write(`certsteward${command ? ` ${command}` : ''}: ${message}\n\n${usage(command)}`);
  return EXIT_UNKNOWN;
}
