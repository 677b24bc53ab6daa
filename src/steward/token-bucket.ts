/**
 * A token bucket per authority, so a fleet that comes due together does not
 * flood a CA. Time comes from the injected clock.
 *
 * @module
 */
import type { Clock } from '../ports/clock.js';

/** Rate limit of one authority: `burst` orders at once, refilled at `perHour`. */
export interface RateLimit {
  readonly burst: number;
  readonly perHour: number;
}

/** A token bucket. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {
    this.#tokens = limit.burst;
    this.#last = clock.now().getTime();
  }

  #refill(): void {
    const now = this.clock.now().getTime();
    this.#tokens = Math.min(this.limit.burst, this.#tokens + ((now - this.#last) * this.limit.perHour) / 3_600_000);
    this.#last = now;
  }

  /** Takes a token; returns 0 when one was taken, else the ms until one is available. */
  take(): number {
    this.#refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) * 3_600_000) / this.limit.perHour);
  }
}
