/**
 * The CLI's own failures; both end the command with exit code 3 (UNKNOWN).
 *
 * @module
 */

/** A bad command line: the message says what is wrong, and the usage is shown. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An input the command cannot work with (unreadable file, no certificate, unreachable host). */
export class InputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InputError';
  }
}
