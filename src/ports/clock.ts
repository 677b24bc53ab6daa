/**
 * Time, injected. The core never calls `Date.now()` or `setTimeout` itself.
 *
 * @module
 */

/** A timer set with {@link Clock.setTimer}. */
export interface TimerHandle {
  /** Cancels the timer; calling it after the timer fired does nothing. */
  cancel(): void;
}

/**
 * The source of time. `systemClock` is the real one; `ManualClock`
 * (`certsteward/testing`) moves only when a test advances it.
 */
export interface Clock {
  /** The current time. */
  now(): Date;
  /**
   * Calls `fn` once at `at` (immediately if `at` is past). Implementations
   * must not keep the process alive for it (Node: `unref()`), and a manual
   * clock awaits the promise `fn` returns before it moves on, which is what
   * makes simulated time deterministic.
   */
  setTimer(at: Date, fn: () => void | Promise<void>): TimerHandle;
  /**
   * Resolves after `ms`, or rejects with the signal's reason when `signal`
   * aborts first.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
