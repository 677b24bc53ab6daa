import { describe, expect, it } from 'vitest';
import { ConfigError, expiryStatus, isCertstewardError, resolveThresholds } from '../../../src/index.js';

const S = 1_000;
const H = 3_600_000;
const D = 86_400_000;

// A fixed 90-day window; every `now` below is written relative to it.
const NOT_BEFORE = Date.UTC(2025, 0, 1, 0, 0, 0);
const NOT_AFTER = NOT_BEFORE + 90 * D;
const cert = { notBefore: new Date(NOT_BEFORE), notAfter: new Date(NOT_AFTER) };
/** `now` at `remaining` ms before notAfter. */
const left = (remaining: number) => new Date(NOT_AFTER - remaining);

describe('resolveThresholds', () => {
  it('defaults to a 30-day warning and a 7-day critical threshold', () => {
    expect(resolveThresholds()).toEqual({ warningMs: 30 * D, criticalMs: 7 * D });
    expect(resolveThresholds({})).toEqual({ warningMs: 30 * D, criticalMs: 7 * D });
  });

  it('reads thresholds given as text or as milliseconds', () => {
    expect(resolveThresholds({ warning: '14d', critical: 2 * D })).toEqual({ warningMs: 14 * D, criticalMs: 2 * D });
  });

  it('accepts a critical threshold equal to the warning threshold', () => {
    expect(resolveThresholds({ warning: '10d', critical: '10d' })).toEqual({ warningMs: 10 * D, criticalMs: 10 * D });
  });

  it('rejects a critical threshold longer than the warning threshold, naming both', () => {
    let err: unknown;
    try {
      resolveThresholds({ warning: '5d', critical: '10d' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).setting).toBe('critical threshold');
    expect((err as ConfigError).message).toContain('10d');
    expect((err as ConfigError).message).toContain('5d');
  });

  it('rejects a warning shorter than the default critical and quotes the default in the message', () => {
    let err: unknown;
    try {
      resolveThresholds({ warning: '5d' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain('7d');
    expect((err as ConfigError).message).not.toContain('undefined');
  });

  it('names the threshold whose duration is unreadable', () => {
    expect(() => resolveThresholds({ warning: '30 days' })).toThrow(
      expect.objectContaining({ setting: 'warning threshold' }),
    );
    expect(() => resolveThresholds({ critical: '-1d' })).toThrow(
      expect.objectContaining({ setting: 'critical threshold' }),
    );
  });
});

describe('expiryStatus', () => {
  describe('classifies the time left with the default thresholds (30d warning, 7d critical), boundaries exact', () => {
    it.each([
      ['60 days left', 60 * D, 'ok', undefined],
      ['30 days and 1 ms left', 30 * D + 1, 'ok', undefined],
      ['exactly 30 days left', 30 * D, 'warning', 'warning'],
      ['7 days and 1 ms left', 7 * D + 1, 'warning', 'warning'],
      ['exactly 7 days left', 7 * D, 'critical', 'critical'],
      ['1 hour left', H, 'critical', 'critical'],
      ['now == notAfter (still valid through notAfter)', 0, 'critical', 'critical'],
      ['1 ms past notAfter', -1, 'expired', 'critical'],
      ['10 days past notAfter', -10 * D, 'expired', 'critical'],
    ] as const)('%s → %s', (_label, remaining, status, threshold) => {
      const r = expiryStatus(cert, left(remaining));
      expect(r.status).toBe(status);
      expect(r.threshold).toBe(threshold);
      expect(r.remainingMs).toBe(remaining);
      expect(r.noWellDefinedExpiration).toBe(false);
    });
  });

  it.each([
    ['1 ms before notBefore', NOT_BEFORE - 1, 'not-yet-valid'],
    ['a day before notBefore', NOT_BEFORE - D, 'not-yet-valid'],
    ['exactly at notBefore', NOT_BEFORE, 'ok'],
  ] as const)('treats %s as %s', (_label, now, status) => {
    const r = expiryStatus(cert, new Date(now));
    expect(r.status).toBe(status);
    if (status === 'not-yet-valid') expect(r.threshold).toBeUndefined();
  });

  describe('floors daysRemaining to whole days', () => {
    it.each([
      ['29.9 days left', 29.9 * D, 29],
      ['exactly 30 days left', 30 * D, 30],
      ['1 ms short of 30 days', 30 * D - 1, 29],
      ['half a day left', 0.5 * D, 0],
      ['0 ms left', 0, 0],
      ['1 ms past expiry', -1, -1],
      ['23 hours past expiry', -23 * H, -1],
      ['exactly 1 day past expiry', -D, -1],
      ['1 day and 1 ms past expiry', -D - 1, -2],
    ])('%s → %d', (_label, remaining, days) => {
      expect(expiryStatus(cert, left(remaining)).daysRemaining).toBe(days);
    });
  });

  describe('never calls an unreadable time "ok"', () => {
    it.each([
      ['notBefore', { notBefore: new Date(NaN), notAfter: new Date(NOT_AFTER) }],
      ['notAfter', { notBefore: new Date(NOT_BEFORE), notAfter: new Date(NaN) }],
      ['both bounds', { notBefore: new Date(NaN), notAfter: new Date(NaN) }],
      ['notAfter, even with noWellDefinedExpiration', { notBefore: new Date(NOT_BEFORE), notAfter: new Date(NaN), noWellDefinedExpiration: true }],
    ])('an invalid Date for %s gives unknown with NaN counts', (_label, window) => {
      const r = expiryStatus(window, left(60 * D));
      expect(r.status).toBe('unknown');
      expect(r.remainingMs).toBeNaN();
      expect(r.daysRemaining).toBeNaN();
      expect(r.threshold).toBeUndefined();
      expect(r.reason).toMatch(/unknown|could not be read/);
    });

    it('an invalid `now` gives unknown', () => {
      expect(expiryStatus(cert, new Date(NaN)).status).toBe('unknown');
    });
  });

  it('rejects a critical threshold longer than the warning threshold with a ConfigError', () => {
    let err: unknown;
    try {
      expiryStatus(cert, left(60 * D), { warning: '7d', critical: '30d' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(isCertstewardError(err, 'config')).toBe(true);
  });

  it('validates thresholds even when the window is unreadable', () => {
    const window = { notBefore: new Date(NaN), notAfter: new Date(NaN) };
    expect(() => expiryStatus(window, left(0), { warning: '1d', critical: '2d' })).toThrow(ConfigError);
  });

  it('reports ok for a certificate with no well-defined expiration', () => {
    const forever = {
      notBefore: new Date(NOT_BEFORE),
      notAfter: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)),
      noWellDefinedExpiration: true,
    };
    const r = expiryStatus(forever, new Date(NOT_BEFORE + D), { warning: 1e15, critical: 1e15 });
    expect(r.status).toBe('ok');
    expect(r.threshold).toBeUndefined();
    expect(r.noWellDefinedExpiration).toBe(true);
    expect(r.reason).toMatch(/no well-defined expiration/);
  });

  describe('honours custom thresholds given as text or milliseconds', () => {
    it.each([
      ['text', { warning: '14d', critical: '3d' }],
      ['milliseconds', { warning: 14 * D, critical: 3 * D }],
      ['mixed', { warning: '2w', critical: 72 * H }],
    ])('as %s', (_label, thresholds) => {
      expect(expiryStatus(cert, left(14 * D + 1), thresholds).status).toBe('ok');
      expect(expiryStatus(cert, left(14 * D), thresholds).status).toBe('warning');
      expect(expiryStatus(cert, left(3 * D + 1), thresholds).status).toBe('warning');
      expect(expiryStatus(cert, left(3 * D), thresholds).status).toBe('critical');
      // 20 days left would be a warning under the defaults, but not here.
      expect(expiryStatus(cert, left(20 * D), thresholds).status).toBe('ok');
    });
  });

  it('works with a zero critical threshold: critical only at the notAfter instant', () => {
    const t = { warning: '1d', critical: 0 };
    expect(expiryStatus(cert, left(1), t).status).toBe('warning');
    expect(expiryStatus(cert, left(0), t).status).toBe('critical');
  });

  describe('mentions the relevant ISO time in the reason', () => {
    const naIso = '2025-04-01T00:00:00.000Z';
    const nbIso = '2025-01-01T00:00:00.000Z';
    it('hand-computed fixture times are right', () => {
      expect(new Date(NOT_AFTER).toISOString()).toBe(naIso);
    });
    it.each([
      ['ok', 60 * D, naIso],
      ['warning', 20 * D, naIso],
      ['critical', 2 * D, naIso],
      ['expired', -5 * S, naIso],
    ])('%s names notAfter', (status, remaining, iso) => {
      const r = expiryStatus(cert, left(remaining));
      expect(r.status).toBe(status);
      expect(r.reason).toContain(iso);
    });
    it('not-yet-valid names notBefore', () => {
      const r = expiryStatus(cert, new Date(NOT_BEFORE - H));
      expect(r.status).toBe('not-yet-valid');
      expect(r.reason).toContain(nbIso);
    });
  });

  it('does not mutate or depend on anything but its arguments (same input, same report)', () => {
    const now = left(10 * D);
    expect(expiryStatus(cert, now)).toEqual(expiryStatus(cert, now));
    expect(cert.notAfter.getTime()).toBe(NOT_AFTER);
  });
});
