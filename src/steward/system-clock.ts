/**
 * The real clock.
 *
 * @module
 */
import type { Clock, TimerHandle } from '../ports/clock.js';

// setTimeout's delay is a signed 32-bit number of ms (~24.8 days); longer
// timers are chained so a 90-day renewal time does not fire at once.
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The system clock: `Date` and unref'd timers, so it never keeps a process
 * alive on its own.
 *
 * @example
 * ```ts
 * createSteward({ store, authorities, keys, clock: systemClock })
 * ```
 */
export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(at: Date, fn: () => void | Promise<void>): TimerHandle {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = () => {
      if (cancelled) return;
      const delay = at.getTime() - Date.now();
      if (delay > MAX_DELAY_MS) {
        handle = setTimeout(arm, MAX_DELAY_MS);
      } else {
        handle = setTimeout(() => {
          if (!cancelled) void fn();
        }, Math.max(0, delay));
      }
      handle.unref();
    };
    arm();
    return {
      cancel() {
        cancelled = true;
        if (handle) clearTimeout(handle);
      },
    };
  },
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};
