/**
 * Proof by simulation: a mixed fleet over two simulated years on the memory
 * adapters and the test CA (real keys, CSRs and certificates), run through
 * `bench/simulate.mjs` against the built package. The figures it prints are
 * also what the closing notes report; the full 10,000-certificate run is
 * `npm run bench:simulate`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');

interface Summary {
  certificates: number;
  renewals: number;
  initialIssuances: number;
  peakToAverage: number;
  failedEvents: number;
  maxAttempt: number;
  expired: number;
  expiredByLifetimeDays: Record<string, number>;
  outsideWindow: number;
  errors: number;
  status: Record<string, number>;
  seconds: number;
}

function simulate(...args: string[]): Summary {
  if (!existsSync(join(root, 'dist', 'testing.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  const r = spawnSync(process.execPath, [join(root, 'bench', 'simulate.mjs'), ...args, '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`simulate exited ${r.status}: ${r.stderr}`);
  process.stdout.write(r.stdout);
  const last = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(last) as Summary;
}

describe('a simulated fleet', () => {
  it('keeps 200 certificates (7/30/90/365 days) valid for two years: renewals inside their windows, spread by jitter', () => {
    const s = simulate('--certs', '200', '--years', '2');
    expect(s.initialIssuances).toBe(200);
    // 50 each of 7, 30, 90 and 365 days over 730 days: about 50·(156 + 36 + 12 + 3) renewals.
    expect(s.renewals).toBeGreaterThan(9_500);
    expect(s.renewals).toBeLessThan(11_000);
    expect(s.expired).toBe(0);
    expect(s.outsideWindow).toBe(0);
    expect(s.errors).toBe(0);
    expect(s.failedEvents).toBe(0);
    expect(s.peakToAverage).toBeLessThanOrEqual(2);
    expect(s.status).toEqual({ ok: 200 });
  }, 120_000);

  it('rides out a three-day CA outage: every failure reported, backoff, full recovery; only certificates shorter-lived than the outage lapse', () => {
    const s = simulate('--certs', '120', '--years', '1', '--outage-days', '3');
    expect(s.failedEvents).toBeGreaterThan(30);
    expect(s.maxAttempt).toBeGreaterThan(3);
    expect(s.errors).toBe(0);
    // A 7-day certificate is renewed with 2.3 days left: a 3-day outage can outlast it. Nothing longer-lived lapses.
    expect(s.expiredByLifetimeDays['30']).toBe(0);
    expect(s.expiredByLifetimeDays['90']).toBe(0);
    expect(s.expiredByLifetimeDays['365']).toBe(0);
    // And everything is valid again at the end.
    expect(s.status).toEqual({ ok: 120 });
  }, 120_000);
});
