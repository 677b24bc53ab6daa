import { describe, expect, it } from 'vitest';
import { ConfigError, renewalTime } from '../../../src/index.js';
import type { RenewalPolicy } from '../../../src/index.js';
import { configError } from '../../support/config-error.js';

const H = 3_600_000;
const D = 86_400_000;

const NOT_BEFORE = Date.UTC(2025, 0, 1);

/** A validity window starting at NOT_BEFORE and lasting `lifetimeMs`. */
function windowOf(lifetimeMs: number) {
  return { notBefore: new Date(NOT_BEFORE), notAfter: new Date(NOT_BEFORE + lifetimeMs) };
}

const cert90 = windowOf(90 * D);
const NA90 = NOT_BEFORE + 90 * D;

const ids = (n: number, prefix = 'host') => Array.from({ length: n }, (_, i) => `${prefix}-${i}.example.com`);


describe('renewalTime: base rules', () => {
  it('renews at 2/3 of the lifetime by default (a 90-day certificate with 30 days left)', () => {
    const r = renewalTime(cert90, { jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('fraction');
    expect(r.baseAt.getTime()).toBe(NOT_BEFORE + 60 * D);
    expect(r.at.getTime()).toBe(NOT_BEFORE + 60 * D);
    expect(Math.abs(r.jitterMs)).toBe(0);
  });

  it('uses a custom fraction of the lifetime', () => {
    const r = renewalTime(cert90, { fraction: 0.5, jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('fraction');
    expect(r.at.getTime()).toBe(NOT_BEFORE + 45 * D);
  });

  it("with before: '30d' on a 90-day certificate renews at notAfter − 30d ± jitter", () => {
    const exact = renewalTime(cert90, { before: '30d', jitterRatio: 0 }, 'api');
    expect(exact.rule).toBe('before');
    expect(exact.baseAt.getTime()).toBe(NA90 - 30 * D);
    expect(exact.at.getTime()).toBe(NA90 - 30 * D);

    for (const id of ids(200)) {
      const r = renewalTime(cert90, { before: '30d' }, id);
      expect(r.rule).toBe('before');
      expect(r.baseAt.getTime()).toBe(NA90 - 30 * D);
      expect(Math.abs(r.at.getTime() - (NA90 - 30 * D))).toBeLessThanOrEqual(4.5 * D);
    }
  });

  it('takes a lead given in milliseconds', () => {
    const r = renewalTime(cert90, { before: 20 * D, jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('before');
    expect(r.at.getTime()).toBe(NA90 - 20 * D);
  });

  it('ignores fraction when before is set', () => {
    const r = renewalTime(cert90, { before: '30d', fraction: 0.1, jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('before');
    expect(r.at.getTime()).toBe(NA90 - 30 * D);
  });

  it.each([
    ['equal to the lifetime', '90d'],
    ['longer than the lifetime', '120d'],
  ])('falls back to the fraction rule when the lead is %s (rule before-exceeds-lifetime)', (_label, before) => {
    const r = renewalTime(cert90, { before, jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('before-exceeds-lifetime');
    expect(r.baseAt.getTime()).toBe(NOT_BEFORE + 60 * D);
    expect(r.at.getTime()).toBe(NOT_BEFORE + 60 * D);
    expect(r.reason).toContain(before);
  });

  it('uses the custom fraction in the before-exceeds-lifetime fallback', () => {
    const r = renewalTime(cert90, { before: '365d', fraction: 0.5, jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('before-exceeds-lifetime');
    expect(r.at.getTime()).toBe(NOT_BEFORE + 45 * D);
  });

  it('keeps the before rule for a lead 1 ms shorter than the lifetime', () => {
    const r = renewalTime(cert90, { before: 90 * D - 1, jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('before');
    expect(r.baseAt.getTime()).toBe(NOT_BEFORE + 1);
  });
});

describe('renewalTime: deterministic jitter', () => {
  it('gives the same id the same time on every call', () => {
    const a = renewalTime(cert90, {}, 'api.example.com');
    const b = renewalTime(windowOf(90 * D), {}, 'api.example.com');
    expect(b.at.getTime()).toBe(a.at.getTime());
    expect(b.jitterMs).toBe(a.jitterMs);
  });

  it('gives different ids different times', () => {
    const times = new Set(ids(200).map((id) => renewalTime(cert90, {}, id).at.getTime()));
    expect(times.size).toBe(200);
  });

  it('accepts a missing id (the empty id) and is still deterministic', () => {
    expect(renewalTime(cert90).at.getTime()).toBe(renewalTime(cert90, {}, '').at.getTime());
  });

  it('keeps the jitter within ±lifetime/20 by default, and at == baseAt + jitterMs', () => {
    for (const id of ids(1000)) {
      const r = renewalTime(cert90, {}, id);
      expect(Math.abs(r.jitterMs)).toBeLessThanOrEqual(4.5 * D); // 90d / 20
      expect(r.at.getTime()).toBe(r.baseAt.getTime() + r.jitterMs);
      expect(r.rule).toBe('fraction');
    }
  });

  it('gives exactly the base time with jitterRatio: 0, for every id', () => {
    for (const id of ids(50)) {
      const r = renewalTime(cert90, { jitterRatio: 0 }, id);
      // ±0: a zero half-width times a negative sample gives -0, which is still no jitter.
      expect(Math.abs(r.jitterMs)).toBe(0);
      expect(r.at.getTime()).toBe(NOT_BEFORE + 60 * D);
    }
  });

  it('scales the half-width with jitterRatio', () => {
    const offsets = ids(1000).map((id) => renewalTime(cert90, { jitterRatio: 0.1 }, id).jitterMs);
    expect(Math.max(...offsets.map(Math.abs))).toBeLessThanOrEqual(9 * D);
    // With 1000 uniform samples, some land beyond the default 4.5-day half-width.
    expect(offsets.some((o) => Math.abs(o) > 4.5 * D)).toBe(true);
  });

  it('lets a jitter duration override jitterRatio', () => {
    for (const id of ids(200)) {
      const r = renewalTime(cert90, { jitter: '1h', jitterRatio: 0.4 }, id);
      expect(Math.abs(r.jitterMs)).toBeLessThanOrEqual(H);
    }
    expect(renewalTime(cert90, { jitter: 0, jitterRatio: 0.4 }, 'api').at.getTime()).toBe(NOT_BEFORE + 60 * D);
  });

  it('spreads 10,000 ids evenly over ±jitter with a mean near 0 (measured from at − baseAt)', () => {
    const half = 4.5 * D;
    const buckets = new Array<number>(10).fill(0);
    let sum = 0;
    for (const id of ids(10_000, 'fleet')) {
      const r = renewalTime(cert90, {}, id);
      const offset = r.at.getTime() - r.baseAt.getTime();
      expect(Math.abs(offset)).toBeLessThanOrEqual(half);
      sum += offset;
      const b = Math.min(9, Math.floor(((offset + half) / (2 * half)) * 10));
      buckets[b] = (buckets[b] ?? 0) + 1;
    }
    for (const count of buckets) {
      expect(count).toBeGreaterThanOrEqual(850);
      expect(count).toBeLessThanOrEqual(1150);
    }
    // Standard error of the mean is half/√3/100 ≈ 0.0058·half; allow ~5σ.
    expect(Math.abs(sum / 10_000)).toBeLessThan(0.03 * half);
  });
});

describe('renewalTime: limits', () => {
  it('never renews later than notAfter − critical (7d default), reporting rule critical-limit when it clamps', () => {
    const r = renewalTime(cert90, { before: '1d', jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('critical-limit');
    expect(r.at.getTime()).toBe(NA90 - 7 * D);
    expect(r.latest.getTime()).toBe(NA90 - 7 * D);
    expect(r.baseAt.getTime()).toBe(NA90 - 1 * D);
  });

  it('does not clamp a base time exactly on the limit', () => {
    const r = renewalTime(cert90, { before: '7d', jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('before');
    expect(r.at.getTime()).toBe(NA90 - 7 * D);
  });

  it('honours a custom critical threshold', () => {
    const r = renewalTime(cert90, { before: '1d', critical: '10d', jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('critical-limit');
    expect(r.at.getTime()).toBe(NA90 - 10 * D);
  });

  it('caps the critical threshold at a fifth of the lifetime', () => {
    const r = renewalTime(cert90, { before: '1d', critical: '30d', jitterRatio: 0 }, 'api');
    expect(r.latest.getTime()).toBe(NA90 - 18 * D);
    expect(r.at.getTime()).toBe(NA90 - 18 * D);
    expect(r.rule).toBe('critical-limit');
  });

  it.each([
    ['90 days, late fraction, wide jitter', 90 * D, { fraction: 0.99, jitterRatio: 0.49 }, 7 * D],
    ['90 days, short lead', 90 * D, { before: '2d' }, 7 * D],
    ['24 hours, late fraction, wide jitter', 24 * H, { fraction: 0.95, jitterRatio: 0.3 }, 4.8 * H],
    ['7 days, late fraction', 7 * D, { fraction: 0.9 }, 1.4 * D],
    ['1 year, jitter of 200 days', 365 * D, { jitter: '200d' }, 7 * D],
  ] as const)(
    'stays within [notBefore, notAfter − min(critical, lifetime/5)] for every id (%s)',
    (_label, lifetime, policy: RenewalPolicy, critical) => {
      const w = windowOf(lifetime);
      const latest = NOT_BEFORE + lifetime - critical;
      let clamped = 0;
      for (const id of ids(1000)) {
        const r = renewalTime(w, policy, id);
        const at = r.at.getTime();
        expect(at).toBeGreaterThanOrEqual(NOT_BEFORE);
        expect(at).toBeLessThanOrEqual(latest);
        expect(r.latest.getTime()).toBe(latest);
        if (r.baseAt.getTime() + r.jitterMs > latest) {
          clamped++;
          expect(r.rule).toBe('critical-limit');
          expect(at).toBe(latest);
        } else {
          expect(r.rule).not.toBe('critical-limit');
        }
      }
      expect(clamped).toBeGreaterThan(0);
    },
  );

  it('never renews before notBefore, even when the jitter reaches back past it', () => {
    const cases: RenewalPolicy[] = [{ fraction: 0.01, jitterRatio: 0.49 }, { jitter: '100d' }];
    for (const policy of cases) {
      let atIssuance = 0;
      for (const id of ids(1000)) {
        const r = renewalTime(cert90, policy, id);
        expect(r.at.getTime()).toBeGreaterThanOrEqual(NOT_BEFORE);
        if (r.at.getTime() === NOT_BEFORE) atIssuance++;
      }
      // The clamp is exercised, not only trivially true.
      expect(atIssuance).toBeGreaterThan(0);
    }
  });

  it.each([
    ['24-hour', 24 * H],
    ['7-day', 7 * D],
  ])('does not renew a %s certificate at issuance under the default policy', (_label, lifetime) => {
    const w = windowOf(lifetime);
    for (const id of ids(1000)) {
      const r = renewalTime(w, {}, id);
      // 2/3 of the lifetime minus the 1/20 jitter leaves over 60% of the lifetime in use.
      expect(r.at.getTime() - NOT_BEFORE).toBeGreaterThan(0.6 * lifetime);
      expect(r.at.getTime()).toBeLessThanOrEqual(NOT_BEFORE + 0.8 * lifetime);
    }
  });

  it.each([
    ['24-hour', 24 * H],
    ['7-day', 7 * D],
  ])("does not renew a %s certificate at issuance under before: '30d' (the fraction rule applies)", (_label, lifetime) => {
    const w = windowOf(lifetime);
    for (const id of ids(200)) {
      const r = renewalTime(w, { before: '30d' }, id);
      expect(r.rule).toBe('before-exceeds-lifetime');
      expect(r.at.getTime() - NOT_BEFORE).toBeGreaterThan(0.6 * lifetime);
    }
  });

  it('does not let the 7-day critical threshold pull a 24-hour certificate back to issuance', () => {
    const r = renewalTime(windowOf(24 * H), { before: '1h', jitterRatio: 0 }, 'api');
    expect(r.rule).toBe('critical-limit');
    expect(r.at.getTime()).toBe(NOT_BEFORE + 24 * H - 4.8 * H);
  });
});

describe('renewalTime: invalid input', () => {
  it.each([[0], [1], [1.5], [-0.1], [NaN]])('rejects fraction %d with a ConfigError', (fraction) => {
    const e = configError(() => renewalTime(cert90, { fraction }, 'api'));
    expect(e.setting).toBe('fraction');
  });

  it.each([[0.5], [0.9], [-0.01], [NaN]])('rejects jitterRatio %d with a ConfigError', (jitterRatio) => {
    const e = configError(() => renewalTime(cert90, { jitterRatio }, 'api'));
    expect(e.setting).toBe('jitterRatio');
  });

  it('accepts jitterRatio just below 0.5', () => {
    expect(() => renewalTime(cert90, { jitterRatio: 0.49 }, 'api')).not.toThrow();
  });

  it.each([
    ['before', { before: '30 days' }],
    ['critical', { critical: '-7d' }],
    ['jitter', { jitter: 'lots' }],
  ] as const)('names %s when its duration is unreadable', (setting, policy: RenewalPolicy) => {
    const e = configError(() => renewalTime(cert90, policy, 'api'));
    expect(e.setting).toBe(setting);
  });

  it('never schedules a renewal after notAfter, even for an inverted window (notBefore after notAfter)', () => {
    const inverted = { notBefore: new Date(NA90), notAfter: new Date(NOT_BEFORE) };
    let r: ReturnType<typeof renewalTime> | undefined;
    try {
      r = renewalTime(inverted, {}, 'api');
    } catch (e) {
      // Refusing the window is an acceptable answer too.
      expect(e).toBeInstanceOf(ConfigError);
      return;
    }
    expect(r.at.getTime()).toBeLessThanOrEqual(NOT_BEFORE);
  });

  it.each([
    ['notBefore', { notBefore: new Date(NaN), notAfter: new Date(NA90) }],
    ['notAfter', { notBefore: new Date(NOT_BEFORE), notAfter: new Date(NaN) }],
  ])('rejects an unreadable %s with a ConfigError instead of computing a time', (_label, w) => {
    configError(() => renewalTime(w, {}, 'api'));
  });
});

describe('renewalTime: reason', () => {
  it('says which rule applied and the signed jitter in minutes', () => {
    expect(renewalTime(cert90, { before: '30d', jitterRatio: 0 }, 'api').reason).toMatch(/30d before expiry.*\(jitter \+0 min\)/);
    expect(renewalTime(cert90, { jitterRatio: 0 }, 'api').reason).toMatch(/66\.7%/);
    expect(renewalTime(cert90, { before: '1d', jitterRatio: 0 }, 'api').reason).toMatch(/critical threshold/);
  });
});
