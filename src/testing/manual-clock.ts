/**
 * A clock that moves only when a test says so.
 *
 * @module
 */
import type { Clock, TimerHandle } from '../ports/clock.js';
import { ConfigError } from '../errors.js';
import { parseDuration, type Duration } from '../policy/duration.js';

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void | Promise<void>;
  cancelled: boolean;
}

/**
 * A deterministic clock for tests: `advance('30d')` moves time forward and,
 * before it returns, runs every timer that falls due on the way, in time
 * order, awaiting each one (so a steward's whole tick, store writes and
 * crypto included, completes at the simulated instant it was due).
 *
 * @example
 * ```ts
 * const clock = new ManualClock('2026-01-01T00:00:00Z')
 * const steward = createSteward({ ..., clock })
 * await steward.start()
 * await clock.advance('365d') // a year of renewals, in seconds
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Pending[] = [];

  constructor(start: Date | string | number = '2026-01-01T00:00:00Z') {
    const t = new Date(start).getTime();
    if (Number.isNaN(t)) throw new ConfigError('start', start, `ManualClock: invalid start time ${JSON.stringify(start)}`);
    this.#now = t;
  }

  now(): Date {
    return new Date(this.#now);
  }

  setTimer(at: Date, fn: () => void | Promise<void>): TimerHandle {
    const p: Pending = { at: at.getTime(), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(p);
    return {
      cancel: () => {
        p.cancelled = true;
        this.#timers = this.#timers.filter((t) => t !== p);
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = this.setTimer(new Date(this.#now + Math.max(0, ms)), () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      const onAbort = () => {
        t.cancel();
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** The time of the next timer, if any. */
  nextTimerAt(): Date | undefined {
    const next = this.#earliest();
    return next ? new Date(next.at) : undefined;
  }

  /** Moves time forward by `duration`, running every timer due on the way. */
  async advance(duration: Duration): Promise<void> {
    await this.advanceTo(new Date(this.#now + parseDuration(duration, 'advance')));
  }

  /** Moves time to `target` (never backwards), running every timer due on the way. */
  async advanceTo(target: Date): Promise<void> {
    const end = target.getTime();
    if (end < this.#now) throw new ConfigError('target', target, 'ManualClock cannot move backwards');
    for (let fired = 0; ; fired++) {
      if (fired > 10_000_000) throw new Error('ManualClock: more than 10,000,000 timers fired in one advance');
      await settle();
      const next = this.#earliest();
      if (!next || next.at > end) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = Math.max(this.#now, next.at);
      await next.fn();
    }
    this.#now = end;
    await settle();
  }

  /** Runs the timers due now without moving time. */
  async runDue(): Promise<void> {
    await this.advanceTo(this.now());
  }

  #earliest(): Pending | undefined {
    let best: Pending | undefined;
    for (const t of this.#timers) {
      if (!t.cancelled && (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    }
    return best;
  }
}

/** Lets promise continuations that are not awaited by a timer run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
