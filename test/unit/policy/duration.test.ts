import { describe, expect, it } from 'vitest';
import { ConfigError, DAY_MS, formatDuration, isCertstewardError, parseDuration } from '../../../src/index.js';

// Expected values are written out by hand from the unit table, never computed by the code under test.
const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
const W = 7 * D;

/** The error `fn` throws, or a failure if it returns. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw, but the call returned');
}

describe('DAY_MS', () => {
  it('is 24 hours in milliseconds', () => {
    expect(DAY_MS).toBe(86_400_000);
  });
});

describe('parseDuration', () => {
  it.each([
    ['30d', 30 * D],
    ['12h', 12 * H],
    ['90m', 90 * M],
    ['45s', 45 * S],
    ['2w', 2 * W],
    ['500ms', 500],
    ['1d12h', D + 12 * H],
    ['1.5h', 90 * M],
    ['1w2d3h4m5s6ms', W + 2 * D + 3 * H + 4 * M + 5 * S + 6],
    ['0s', 0],
    ['  30d  ', 30 * D],
  ])('reads the text %j as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('reads 1.5h as exactly 5,400,000 ms (fractional amounts are allowed)', () => {
    expect(parseDuration('1.5h')).toBe(5_400_000);
  });

  it.each([0, 1, 5000, 1.5, 30 * D])('passes the number %d through as milliseconds', (ms) => {
    expect(parseDuration(ms)).toBe(ms);
  });

  it('gives the same result for "1d12h" as for the sum of its parts', () => {
    expect(parseDuration('1d12h')).toBe(parseDuration('1d') + parseDuration('12h'));
  });

  describe('rejects invalid values with a ConfigError naming the setting and quoting the value', () => {
    it.each([
      ['30 days', '"30 days"'],
      ['', '""'],
      ['   ', '"   "'],
      ['-1d', '"-1d"'],
      ['d', '"d"'],
      ['10x', '"10x"'],
      ['10', '"10"'],
      ['1d 12h', '"1d 12h"'],
      ['30D', '"30D"'],
      ['.5h', '".5h"'],
    ])('rejects the text %j', (value, quoted) => {
      const e = thrown(() => parseDuration(value, 'renew before'));
      expect(e).toBeInstanceOf(ConfigError);
      expect(isCertstewardError(e, 'config')).toBe(true);
      const err = e as ConfigError;
      expect(err.setting).toBe('renew before');
      expect(err.value).toBe(value);
      expect(err.message).toContain(quoted);
      expect(err.message).toContain('renew before');
    });

    it.each([
      [NaN, 'NaN'],
      [-5, '-5'],
      [Infinity, 'Infinity'],
      [-Infinity, '-Infinity'],
    ])('rejects the number %d', (value, quoted) => {
      const e = thrown(() => parseDuration(value, 'retry max'));
      expect(e).toBeInstanceOf(ConfigError);
      const err = e as ConfigError;
      expect(err.setting).toBe('retry max');
      expect(err.value).toBe(value);
      expect(err.message).toContain(quoted);
    });

    it('rejects null and says it got null, not "object"', () => {
      const e = thrown(() => parseDuration(null as unknown as string, 'warning threshold'));
      expect(e).toBeInstanceOf(ConfigError);
      const err = e as ConfigError;
      expect(err.setting).toBe('warning threshold');
      expect(err.value).toBeNull();
      expect(err.message).toContain('warning threshold');
      expect(err.message).toContain('null');
    });

    it('rejects a plain object and says what type it got', () => {
      const value = {};
      const e = thrown(() => parseDuration(value as unknown as string, 'jitter'));
      expect(e).toBeInstanceOf(ConfigError);
      const err = e as ConfigError;
      expect(err.setting).toBe('jitter');
      expect(err.value).toBe(value);
      expect(err.message).toContain('jitter');
      expect(err.message).toContain('object');
    });

    it.each([[undefined], [true], [['30d']]])('rejects the non-duration %j', (value) => {
      const e = thrown(() => parseDuration(value as unknown as string, 'base'));
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).setting).toBe('base');
    });
  });

  it('names the setting "duration" when no name is passed', () => {
    const e = thrown(() => parseDuration('soon'));
    expect((e as ConfigError).setting).toBe('duration');
    expect((e as ConfigError).message).toContain('"soon"');
  });

  it('never returns a non-finite value from text (a number too large is rejected like Infinity)', () => {
    // The number Infinity is rejected; the same amount written as text must not slip through.
    const huge = `${'9'.repeat(400)}d`;
    const e = thrown(() => parseDuration(huge, 'retry max'));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).setting).toBe('retry max');
  });

  it('gives the same answer on repeated and interleaved calls (no state leaks between parses)', () => {
    expect(() => parseDuration('1d x')).toThrow(ConfigError);
    expect(parseDuration('1d12h')).toBe(D + 12 * H);
    expect(parseDuration('12h')).toBe(12 * H);
    expect(parseDuration('1d12h')).toBe(D + 12 * H);
  });
});

describe('formatDuration', () => {
  it.each([
    [90 * M, '1h 30m'],
    [29 * D + 3 * H, '29d 3h'],
    [45 * S, '45s'],
    [-(90 * M), '-1h 30m'],
    [-(2 * D), '-2d'],
    [4 * H + 12 * M, '4h 12m'],
    [500, '500ms'],
    [0, '0ms'],
    [D + 5 * M, '1d'],
    [H + 30 * S, '1h'],
    [5 * M + 7 * S, '5m 7s'],
  ])('formats %d ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([[Infinity], [NaN]])('formats the non-finite %d as its plain name', (ms) => {
    expect(formatDuration(ms)).toBe(String(ms));
  });
});
