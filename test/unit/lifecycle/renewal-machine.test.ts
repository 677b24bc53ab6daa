import { describe, expect, it } from 'vitest';
import { ALLOWED, IDLE, InvalidTransitionError, inProgress, transition, type RenewalEvent } from '../../../src/index.js';
import type { RenewalPhase, RenewalState } from '../../../src/index.js';

const at = new Date('2026-01-01T00:00:00Z');
const keyRef = { store: 'memory', id: 'k1', algorithm: 'ECDSA-P256' as const, spkiSha256: 'aa' };
const issued = {
  chainPem: 'PEM',
  serialNumber: '01',
  fingerprintSha256: 'ff',
  notBefore: at,
  notAfter: new Date('2026-04-01T00:00:00Z'),
  keyRef,
  issuedAt: at,
};
const error = { kind: 'authority-unavailable', message: 'down', retryable: true, at };

const events: Record<RenewalEvent['type'], RenewalEvent> = {
  start: { type: 'start', cause: 'scheduled', at },
  'key-ready': { type: 'key-ready', keyRef },
  submitted: { type: 'submitted', orderRef: '{"order":1}', at },
  issued: { type: 'issued', issued },
  activated: { type: 'activated' },
  failed: { type: 'failed', error, nextAttemptAt: new Date('2026-01-01T01:00:00Z') },
  retry: { type: 'retry' },
  cancel: { type: 'cancel' },
};

const phases: RenewalPhase[] = ['idle', 'scheduled', 'key-ready', 'submitted', 'issued', 'activated', 'failed', 'cancelled'];

// The expected table, written out independently of ALLOWED.
const expected: Record<RenewalPhase, Partial<Record<RenewalEvent['type'], RenewalPhase>>> = {
  idle: { start: 'scheduled', cancel: 'cancelled' },
  scheduled: { 'key-ready': 'key-ready', failed: 'failed', cancel: 'cancelled' },
  'key-ready': { submitted: 'submitted', issued: 'issued', failed: 'failed', cancel: 'cancelled' },
  submitted: { submitted: 'submitted', issued: 'issued', failed: 'failed', cancel: 'cancelled' },
  issued: { activated: 'activated', failed: 'failed', cancel: 'cancelled' },
  activated: { start: 'scheduled' },
  failed: { retry: 'scheduled', cancel: 'cancelled' },
  cancelled: { start: 'scheduled' },
};

describe('the renewal state machine', () => {
  for (const phase of phases) {
    for (const [type, event] of Object.entries(events) as [RenewalEvent['type'], RenewalEvent][]) {
      const to = expected[phase][type];
      const state: RenewalState = { phase, failures: 0 };
      if (to) {
        it(`${phase} --${type}--> ${to}`, () => {
          expect(transition(state, event).phase).toBe(to);
        });
      } else {
        it(`${phase} rejects ${type}`, () => {
          expect(() => transition(state, event)).toThrow(InvalidTransitionError);
        });
      }
    }
  }

  it('keeps ALLOWED in line with the table', () => {
    for (const p of phases) expect([...ALLOWED[p]].sort()).toEqual(Object.keys(expected[p]).sort());
  });

  it('persists the key at key-ready and the order at submitted, and drops the order once issued', () => {
    let s = transition(IDLE, events.start);
    s = transition(s, events['key-ready']);
    expect(s.keyRef).toEqual(keyRef);
    s = transition(s, events.submitted);
    expect(s.orderRef).toBe('{"order":1}');
    expect(s.keyRef).toEqual(keyRef);
    s = transition(s, events.issued);
    expect(s.orderRef).toBeUndefined();
    expect(s.issued).toEqual(issued);
  });

  it('resumes a failed renewal in the phase it failed in, keeping its key and order', () => {
    let s = transition(transition(transition(IDLE, events.start), events['key-ready']), events.submitted);
    s = transition(s, events.failed);
    expect(s).toMatchObject({ phase: 'failed', resumePhase: 'submitted', failures: 1, lastError: error, orderRef: '{"order":1}' });
    expect(s.nextAttemptAt).toEqual(new Date('2026-01-01T01:00:00Z'));
    s = transition(s, events.retry);
    expect(s.phase).toBe('submitted');
    expect(s.orderRef).toBe('{"order":1}');
    expect(s.nextAttemptAt).toBeUndefined();
    expect(s.failures).toBe(1);
    s = transition(transition(s, events.failed), events.retry);
    expect(s.failures).toBe(2);
  });

  it('places a new order (same key) after an order the CA gave up on, instead of resuming it forever', () => {
    let s = transition(transition(transition(IDLE, events.start), events['key-ready']), events.submitted);
    s = transition(s, { type: 'failed', error: { ...error, kind: 'authority-challenge-failed', retryable: false }, nextAttemptAt: at });
    expect(s).toMatchObject({ phase: 'failed', resumePhase: 'key-ready', keyRef });
    expect(s.orderRef).toBeUndefined();
    expect(transition(s, events.retry).phase).toBe('key-ready');
  });

  it('keeps the submission time while polling the same order, and starts a new one for a new order', () => {
    const later = new Date('2026-01-01T00:10:00Z');
    let s = transition(transition(transition(IDLE, events.start), events['key-ready']), events.submitted);
    s = transition(s, { type: 'submitted', orderRef: '{"order":1}', at: later });
    expect(s.submittedAt).toEqual(at);
    s = transition(s, { type: 'submitted', orderRef: '{"order":2}', at: later });
    expect(s.submittedAt).toEqual(later);
  });

  it('resets failures and leftovers on activation', () => {
    let s = transition(transition(IDLE, events.start), events['key-ready']);
    s = transition(transition(s, events.failed), events.retry);
    s = transition(transition(s, events.issued), events.activated);
    expect(s).toEqual({ phase: 'activated', cause: 'scheduled', failures: 0, startedAt: at });
  });

  it('keeps a pending revocation across a restart of the renewal', () => {
    const s = transition({ phase: 'cancelled', failures: 0, revokeAfter: { serialNumber: '01', reason: 'superseded' } }, events.start);
    expect(s.revokeAfter).toEqual({ serialNumber: '01', reason: 'superseded' });
  });

  it('is pure: the input state is not modified', () => {
    const s = Object.freeze({ phase: 'scheduled' as const, failures: 0 });
    transition(s, events['key-ready']);
    expect(s).toEqual({ phase: 'scheduled', failures: 0 });
  });

  it('says which phases are renewals in progress', () => {
    expect(phases.filter(inProgress)).toEqual(['scheduled', 'key-ready', 'submitted', 'issued', 'failed']);
  });
});
