/**
 * The renewal state machine as a pure transition function: no I/O, no clock.
 *
 * ```
 *  idle/activated ──start──▶ scheduled ──key-ready──▶ key-ready ──issued──────────▶ issued ──activated──▶ activated
 *                                │                        └──submitted──▶ submitted ──issued──▶ ┘
 *                                └───────── any step ──failed──▶ failed ──retry──▶ (the phase it failed in)
 *  any phase but activated ──cancel──▶ cancelled
 * ```
 *
 * The runner persists the state a transition returns before it relies on the
 * step's effect, so a crash anywhere resumes from the last persisted phase:
 * the key made at `key-ready` is reused, and the order placed at `submitted`
 * is resumed rather than placed again.
 *
 * @module
 */
import type { IssuedCertificate, RenewalCause, RenewalPhase, RenewalState, StepError } from '../ports/certificate-store.js';
import type { KeyRef } from '../ports/key-store.js';

/** What can happen to a renewal. */
export type RenewalEvent =
  | { readonly type: 'start'; readonly cause: RenewalCause; readonly at: Date }
  | { readonly type: 'key-ready'; readonly keyRef: KeyRef }
  | { readonly type: 'submitted'; readonly orderRef: string; readonly at: Date }
  | { readonly type: 'issued'; readonly issued: IssuedCertificate }
  | { readonly type: 'activated' }
  | { readonly type: 'failed'; readonly error: StepError; readonly nextAttemptAt: Date }
  | { readonly type: 'retry' }
  | { readonly type: 'cancel' };

/** The initial state of a record that has never been renewed. */
export const IDLE: RenewalState = { phase: 'idle', failures: 0 };

/** Which events each phase accepts. */
export const ALLOWED: Readonly<Record<RenewalPhase, readonly RenewalEvent['type'][]>> = {
  idle: ['start', 'cancel'],
  scheduled: ['key-ready', 'failed', 'cancel'],
  'key-ready': ['submitted', 'issued', 'failed', 'cancel'],
  submitted: ['submitted', 'issued', 'failed', 'cancel'],
  issued: ['activated', 'failed', 'cancel'],
  activated: ['start'],
  failed: ['retry', 'cancel'],
  cancelled: ['start'],
};

/** A transition the machine does not allow (a bug in the runner, or a stale record). */
export class InvalidTransitionError extends Error {
  constructor(
    readonly phase: RenewalPhase,
    readonly event: RenewalEvent['type'],
  ) {
    super(`renewal: event "${event}" is not allowed in phase "${phase}"`);
    this.name = 'InvalidTransitionError';
  }
}

/** True when the phase is a renewal in progress (not idle, activated or cancelled). */
export function inProgress(phase: RenewalPhase): boolean {
  return phase !== 'idle' && phase !== 'activated' && phase !== 'cancelled';
}

/**
 * The next state. Pure: the same inputs always give the same output.
 * @throws {@link InvalidTransitionError} for an event the phase does not accept.
 */
export function transition(state: RenewalState, event: RenewalEvent): RenewalState {
  if (!ALLOWED[state.phase].includes(event.type)) throw new InvalidTransitionError(state.phase, event.type);
  switch (event.type) {
    case 'start':
      return { phase: 'scheduled', cause: event.cause, failures: 0, startedAt: event.at, ...keep(state) };
    case 'key-ready':
      return { ...clean(state), phase: 'key-ready', keyRef: event.keyRef };
    case 'submitted':
      // Polling the same order keeps its submission time; a new order starts a new one.
      return {
        ...clean(state),
        phase: 'submitted',
        orderRef: event.orderRef,
        submittedAt: state.orderRef === event.orderRef && state.submittedAt ? state.submittedAt : event.at,
      };
    case 'issued': {
      const { orderRef: _order, submittedAt: _at, ...rest } = clean(state);
      return { ...rest, phase: 'issued', issued: event.issued };
    }
    case 'activated':
      return { phase: 'activated', cause: state.cause, failures: 0, ...(state.startedAt ? { startedAt: state.startedAt } : {}) };
    case 'failed': {
      // An order the CA gave up on (a failed challenge, a refusal) cannot be
      // resumed: the retry places a new one with the same key.
      if (state.phase === 'submitted' && !event.error.retryable) {
        const { orderRef: _order, submittedAt: _at, ...rest } = state;
        return { ...rest, phase: 'failed', resumePhase: 'key-ready', failures: state.failures + 1, lastError: event.error, nextAttemptAt: event.nextAttemptAt };
      }
      return {
        ...state,
        phase: 'failed',
        resumePhase: state.phase,
        failures: state.failures + 1,
        lastError: event.error,
        nextAttemptAt: event.nextAttemptAt,
      };
    }
    case 'retry': {
      const { resumePhase, nextAttemptAt: _next, ...rest } = state;
      return { ...rest, phase: resumePhase ?? 'scheduled' };
    }
    case 'cancel':
      return { phase: 'cancelled', failures: state.failures, ...(state.cause ? { cause: state.cause } : {}) };
  }
}

/** Fields that survive a restart of the renewal (a pending revocation). */
function keep(state: RenewalState): Partial<RenewalState> {
  return state.revokeAfter ? { revokeAfter: state.revokeAfter } : {};
}

/** The state without the previous failure's leftovers (a step succeeded). */
function clean(state: RenewalState): RenewalState {
  const { resumePhase: _r, nextAttemptAt: _n, ...rest } = state;
  return rest;
}
