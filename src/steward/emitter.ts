/**
 * A typed, fire-and-forget event emitter: a listener that throws (or rejects)
 * reaches the `error` event and never breaks the state machine.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { StewardEventName, StewardEvents } from './events.js';

/** A listener of one event. */
export type Listener<E extends StewardEventName> = (payload: StewardEvents[E]) => void | Promise<void>;

/** The steward's emitter. */
export class StewardEmitter {
  readonly #ee = new EventEmitter();
  readonly #now: () => Date;

  constructor(now: () => Date) {
    this.#now = now;
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<E extends StewardEventName>(event: E, listener: Listener<E>): () => void {
    this.#ee.on(event, listener as (...args: unknown[]) => void);
    return () => this.#ee.off(event, listener as (...args: unknown[]) => void);
  }

  /** Subscribes for one event. */
  once<E extends StewardEventName>(event: E, listener: Listener<E>): () => void {
    // emit() calls listeners itself (to catch their errors), so the wrapper unsubscribes.
    const off = this.on(event, (payload) => {
      off();
      return listener(payload);
    });
    return off;
  }

  /** Delivers `payload` to every listener; failures go to `error`. */
  emit<E extends StewardEventName>(event: E, payload: StewardEvents[E]): void {
    const frozen = Object.freeze(payload) as StewardEvents[E];
    for (const listener of this.#ee.listeners(event)) {
      try {
        const r = (listener as Listener<E>)(frozen);
        if (r && typeof (r as Promise<void>).then === 'function') {
          (r as Promise<void>).then(undefined, (e: unknown) => this.#fail(event, e, payload));
        }
      } catch (e) {
        this.#fail(event, e, payload);
      }
    }
  }

  #fail(event: StewardEventName, error: unknown, payload: unknown): void {
    if (event === 'error') return; // an error listener that throws has nowhere further to go
    const id = typeof payload === 'object' && payload && 'id' in payload ? String((payload as { id: unknown }).id) : undefined;
    this.emit('error', {
      at: this.#now(),
      ...(id !== undefined ? { id } : {}),
      error,
      message: `a "${event}" listener failed: ${error instanceof Error ? error.message : String(error)}`,
    });
  }

  /** Removes every listener. */
  clear(): void {
    this.#ee.removeAllListeners();
  }
}
