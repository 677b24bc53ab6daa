import { describe, expect, it } from 'vitest';
import { retryDelay } from '../../../src/index.js';
import { configError } from '../../support/config-error.js';
import { mulberry32 } from '../../support/seeded-random.js';

const S = 1_000;
const M = 60_000;
const H = 3_600_000;


const almostOne = () => 0.999999;
const zero = () => 0;

/** Counts of `values` in 10 equal buckets over [lo, hi]. */
function histogram(values: number[], lo: number, hi: number): number[] {
  const buckets = new Array<number>(10).fill(0);
  for (const v of values) {
    const b = Math.min(9, Math.floor(((v - lo) / (hi - lo)) * 10));
    buckets[b] = (buckets[b] ?? 0) + 1;
  }
  return buckets;
}


describe('retryDelay: attempt', () => {
  it.each([[0], [1.5], [-1], [NaN], [Infinity]])('rejects attempt %d with a ConfigError naming attempt', (attempt) => {
    const e = configError(() => retryDelay(attempt, {}, { random: zero }));
    expect(e.setting).toBe('attempt');
    expect(e.value).toBe(attempt);
  });

  it('accepts attempt 1', () => {
    expect(retryDelay(1, {}, { random: zero })).toBe(1 * M);
  });
});

describe('retryDelay: ceilings (defaults base 1h, max 32h, min 1m)', () => {
  it.each([
    [1, 1 * H],
    [2, 2 * H],
    [3, 4 * H],
    [4, 8 * H],
    [5, 16 * H],
    [6, 32 * H],
    [7, 32 * H],
    [20, 32 * H],
  ])('after %d failures a draw near 1 gives the ceiling %d ms', (attempt, ceiling) => {
    const d = retryDelay(attempt, {}, { random: almostOne });
    expect(d).toBeLessThanOrEqual(ceiling);
    expect(d).toBeGreaterThanOrEqual(ceiling - ceiling * 2e-6);
  });

  it.each([[1], [2], [6], [20]])('after %d failures a draw of 0 gives exactly min (1 minute)', (attempt) => {
    expect(retryDelay(attempt, {}, { random: zero })).toBe(1 * M);
  });

  it('follows a custom base, max and min', () => {
    const policy = { base: '10m', max: '1h', min: '30s' };
    expect(retryDelay(1, policy, { random: zero })).toBe(30 * S);
    expect(retryDelay(1, policy, { random: almostOne })).toBeCloseTo(10 * M, -2);
    expect(retryDelay(2, policy, { random: almostOne })).toBeCloseTo(20 * M, -2);
    expect(retryDelay(3, policy, { random: almostOne })).toBeCloseTo(40 * M, -2);
    expect(retryDelay(4, policy, { random: almostOne })).toBeCloseTo(60 * M, -2);
    expect(retryDelay(9, policy, { random: almostOne })).toBeLessThanOrEqual(60 * M);
  });

  it('takes durations in milliseconds too', () => {
    expect(retryDelay(2, { base: 1000, max: 10_000, min: 0 }, { random: () => 0.5 })).toBe(1000);
  });

  it('never goes below min even when base is smaller than min', () => {
    expect(retryDelay(1, { base: '1s', min: '1m' }, { random: almostOne })).toBe(1 * M);
    expect(retryDelay(1, { base: '1s', min: '1m' }, { random: zero })).toBe(1 * M);
  });

  it('clamps a random source that strays outside [0, 1]', () => {
    expect(retryDelay(1, {}, { random: () => -3 })).toBe(1 * M);
    expect(retryDelay(1, {}, { random: () => 7 })).toBe(1 * H);
  });

  it.each([[1000], [1e6], [Number.MAX_SAFE_INTEGER]])('does not overflow at attempt %d: stays a finite number ≤ max', (attempt) => {
    const high = retryDelay(attempt, {}, { random: almostOne });
    expect(Number.isFinite(high)).toBe(true);
    expect(high).toBeLessThanOrEqual(32 * H);
    expect(high).toBeGreaterThan(32 * H - 1000);
    const derived = retryDelay(attempt, {}, { id: 'api' });
    expect(Number.isFinite(derived)).toBe(true);
    expect(derived).toBeGreaterThanOrEqual(1 * M);
    expect(derived).toBeLessThanOrEqual(32 * H);
  });

  it('rejects min > max with a ConfigError', () => {
    const e = configError(() => retryDelay(1, { min: '2h', max: '1h' }, { random: zero }));
    expect(e.setting).toBe('retry min');
    expect(e.message).toContain('2h');
    expect(e.message).toContain('1h');
  });

  it('rejects a max below the default min and quotes the default min (1m), not "undefined"', () => {
    const e = configError(() => retryDelay(1, { max: '30s' }, { random: zero }));
    expect(e.setting).toBe('retry min');
    expect(e.message).toContain('30s');
    expect(e.message).toContain('1m');
    expect(e.message).not.toContain('undefined');
  });

  it.each([
    ['retry base', { base: 'soon' }],
    ['retry max', { max: -1 }],
    ['retry min', { min: '1 minute' }],
  ] as const)('names %s when its duration is unreadable', (setting, policy) => {
    expect(configError(() => retryDelay(1, policy, { random: zero })).setting).toBe(setting);
  });
});

describe('retryDelay: full jitter', () => {
  it('spreads draws from a seeded random source evenly over [min, ceiling]', () => {
    const random = mulberry32(20250101);
    const ceiling = 4 * H; // attempt 3
    const values = Array.from({ length: 2000 }, () => retryDelay(3, {}, { random }));
    for (const v of values) {
      expect(v).toBeGreaterThanOrEqual(1 * M);
      expect(v).toBeLessThanOrEqual(ceiling);
    }
    for (const count of histogram(values, 1 * M, ceiling)) {
      expect(count).toBeGreaterThanOrEqual(140);
      expect(count).toBeLessThanOrEqual(260);
    }
    expect(Math.min(...values)).toBeLessThan(1 * M + 0.01 * ceiling);
    expect(Math.max(...values)).toBeGreaterThan(0.99 * ceiling);
  });

  it('without a random source, is deterministic for the same id and attempt', () => {
    expect(retryDelay(3, {}, { id: 'api.example.com' })).toBe(retryDelay(3, {}, { id: 'api.example.com' }));
    expect(retryDelay(1, {}, {})).toBe(retryDelay(1));
  });

  it('without a random source, draws afresh for each attempt of the same id', () => {
    // Compare the position within [min, ceiling], which would be equal if the sample ignored the attempt.
    const position = (attempt: number, ceiling: number) => (retryDelay(attempt, {}, { id: 'api' }) - M) / (ceiling - M);
    const positions = [position(6, 32 * H), position(7, 32 * H), position(8, 32 * H), position(9, 32 * H)];
    expect(new Set(positions).size).toBe(4);
  });

  it('without a random source, spreads different ids evenly over [min, ceiling]', () => {
    const ceiling = 32 * H; // attempt 6
    const values = Array.from({ length: 2000 }, (_, i) => retryDelay(6, {}, { id: `host-${i}` }));
    for (const v of values) {
      expect(v).toBeGreaterThanOrEqual(1 * M);
      expect(v).toBeLessThanOrEqual(ceiling);
    }
    expect(new Set(values).size).toBeGreaterThan(1990);
    for (const count of histogram(values, 1 * M, ceiling)) {
      expect(count).toBeGreaterThanOrEqual(140);
      expect(count).toBeLessThanOrEqual(260);
    }
  });

  it('returns whole milliseconds', () => {
    const random = mulberry32(7);
    for (let i = 0; i < 100; i++) expect(Number.isInteger(retryDelay(4, {}, { random }))).toBe(true);
  });
});

describe('retryDelay: never past expiry', () => {
  const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
  const now = new Date(NOW);
  const expiresIn = (ms: number) => new Date(NOW + ms);

  it('lands no later than notAfter for every id and attempt when expiry is close', () => {
    for (const leftMs of [90 * S, 10 * M, 3 * H, 20 * H]) {
      for (let attempt = 1; attempt <= 10; attempt++) {
        for (let i = 0; i < 50; i++) {
          const d = retryDelay(attempt, {}, { id: `host-${i}`, now, notAfter: expiresIn(leftMs) });
          expect(d).toBeLessThanOrEqual(leftMs);
          expect(d).toBeGreaterThanOrEqual(1 * M);
        }
      }
    }
  });

  it('lands halfway to expiry when the draw would pass notAfter', () => {
    expect(retryDelay(6, {}, { random: almostOne, now, notAfter: expiresIn(3 * H) })).toBe(1.5 * H);
  });

  it('keeps a draw that already lands before notAfter', () => {
    const free = retryDelay(6, {}, { random: () => 0.01 });
    expect(free).toBeLessThan(3 * H);
    expect(retryDelay(6, {}, { random: () => 0.01, now, notAfter: expiresIn(3 * H) })).toBe(free);
  });

  it('lands on notAfter itself when exactly the draw is left', () => {
    const free = retryDelay(1, {}, { random: () => 0.5 });
    expect(retryDelay(1, {}, { random: () => 0.5, now, notAfter: expiresIn(free) })).toBe(free);
  });

  it('waits no less than min while more than min is left', () => {
    // 90 s left: half would be 45 s, below the 1-minute min.
    expect(retryDelay(6, {}, { random: almostOne, now, notAfter: expiresIn(90 * S) })).toBe(1 * M);
  });

  it.each([
    ['30 s', 30 * S],
    ['1 ms', 1],
    ['exactly min', 1 * M],
  ])('waits exactly the time left when only %s (≤ min) is left', (_label, leftMs) => {
    expect(retryDelay(6, {}, { random: almostOne, now, notAfter: expiresIn(leftMs) })).toBe(leftMs);
    expect(retryDelay(1, {}, { random: zero, now, notAfter: expiresIn(leftMs) })).toBe(leftMs);
  });

  it.each([
    ['now == notAfter (left = 0)', 0],
    ['1 ms after expiry', -1],
    ['a day after expiry', -24 * H],
  ])('applies the normal backoff once %s', (_label, leftMs) => {
    for (const attempt of [1, 3, 6]) {
      const free = retryDelay(attempt, {}, { id: 'api' });
      expect(retryDelay(attempt, {}, { id: 'api', now, notAfter: expiresIn(leftMs) })).toBe(free);
    }
  });

  it('ignores notAfter without now, and now without notAfter', () => {
    const free = retryDelay(6, {}, { random: almostOne });
    expect(retryDelay(6, {}, { random: almostOne, notAfter: expiresIn(1 * H) })).toBe(free);
    expect(retryDelay(6, {}, { random: almostOne, now })).toBe(free);
  });
});
