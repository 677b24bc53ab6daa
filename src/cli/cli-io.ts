/**
 * What the CLI touches of its process, passed in so that tests run it
 * in-process with captured output and a fixed clock.
 *
 * @module
 */

/** Somewhere text goes: `process.stdout`, `process.stderr`, or a test buffer. */
export interface TextSink {
  write(text: string): unknown;
}

/**
 * The process as the CLI sees it.
 *
 * @example
 * ```ts
 * const out: string[] = []
 * const code = await runCli(['check', 'certs/'], {
 *   stdout: { write: (t) => out.push(t) }, stderr: process.stderr, isTTY: false,
 *   now: new Date('2030-01-01T00:00:00Z'),
 * })
 * ```
 */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** stderr is a terminal: progress is shown there as one overwritten line. */
  readonly isTTY: boolean;
  /** The instant expiry is judged at (default: the time the command starts). */
  readonly now?: Date;
  /** A monotonic clock in milliseconds that throttles progress (default `performance.now`). */
  readonly monotonicMs?: () => number;
}
