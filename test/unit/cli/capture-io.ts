/**
 * An in-memory `CliIo` for calling `runCli` in-process. Not a test file.
 */
import { runCli } from '../../../src/cli/run-cli.js';
import type { CliIo } from '../../../src/cli/cli-io.js';

/** What one run printed and returned. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI with captured output (stderr not a terminal unless `isTTY`). */
export async function cli(argv: readonly string[], opts: { now?: Date; isTTY?: boolean; monotonicMs?: () => number } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    isTTY: opts.isTTY ?? false,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.monotonicMs ? { monotonicMs: opts.monotonicMs } : {}),
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/** The table line whose last column is `label` (exactly), split into its status and days columns. */
export function tableLine(stdout: string, label: string): { status: string; days: string; line: string } | undefined {
  const line = stdout.split('\n').find((l) => l.endsWith(`  ${label}`) || l.includes(`  ${label}: `));
  if (!line) return undefined;
  const [status, days] = line.trim().split(/\s+/);
  return { status: status!, days: days!, line };
}
