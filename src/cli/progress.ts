/**
 * Progress of a long scan as one line on stderr that rewrites itself, shown
 * only on a terminal so that logs and pipes never receive `\r` noise.
 *
 * @module
 */
import type { CliIo } from './cli-io.js';

/** Shortest interval between two repaints: about 10 per second. */
const REPAINT_MS = 100;
/** `\r` back to the line start, then ESC [2K: erase the whole line. */
const CLEAR_LINE = '\r\u001b[2K';

/** A progress line. Calls are cheap when nothing is painted. */
export interface Progress {
  /** Shows `text`, unless the last repaint was less than ~100 ms ago. */
  update(text: string): void;
  /** Erases the line (before normal output is written). */
  clear(): void;
}

const SILENT: Progress = { update() {}, clear() {} };

/**
 * A progress line on `io.stderr` when `io.isTTY`, else one that does nothing.
 * The repaint rate is throttled by `io.monotonicMs` (default `performance.now`).
 *
 * @example
 * ```ts
 * const progress = createProgress(io)
 * for (const f of files) { progress.update(`reading ${f}`); … }
 * progress.clear()
 * ```
 */
export function createProgress(io: CliIo): Progress {
  if (!io.isTTY) return SILENT;
  const clock = io.monotonicMs ?? (() => performance.now());
  let lastPaint = -Infinity;
  let shown = false;
  return {
    update(text) {
      const t = clock();
      if (t - lastPaint < REPAINT_MS) return;
      lastPaint = t;
      shown = true;
      io.stderr.write(CLEAR_LINE + fit(text));
    },
    clear() {
      if (!shown) return;
      shown = false;
      lastPaint = -Infinity;
      io.stderr.write(CLEAR_LINE);
    },
  };
}

/** Keeps the line short enough not to wrap on a narrow terminal (a wrapped line cannot be erased by `\r`). */
function fit(text: string): string {
  const max = 78;
  return text.length <= max ? text : `…${text.slice(text.length - max + 1)}`;
}
