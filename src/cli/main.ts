#!/usr/bin/env node
/**
 * The `certsteward` executable: wires {@link runCli} to the process.
 *
 * @module
 */
import { runCli } from './run-cli.js';

// `certsteward check … | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: process.stderr.isTTY === true,
}).then(
  (code) => {
    // exitCode, not exit(): let piped stdout drain before the process ends.
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`certsteward: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 3;
  },
);
