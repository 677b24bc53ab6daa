import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const data = mkdtempSync(join(tmpdir(), 'certsteward-demo-'));
afterAll(() => rmSync(data, { recursive: true, force: true }));

function demo(...args: string[]) {
  if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  const r = spawnSync(process.execPath, [join(root, 'examples', 'lifecycle-year.mjs'), ...args], { encoding: 'utf8', cwd: root });
  expect(r.status, r.stderr).toBe(0);
  const renewals = Number(/; (\d+) renewals;/.exec(r.stdout)?.[1]);
  return { out: r.stdout, renewals };
}

describe('examples/lifecycle-year.mjs (the demo)', () => {
  it('runs a simulated year on the local CA in a SQLite file with no certificate ever expired', () => {
    const { out, renewals } = demo('--data', data);
    expect(out).toMatch(/Tracking 36 new certificates in .*certsteward\.db/);
    expect(out).toMatch(/36 certificates on the local CA, one simulated year in [\d.]+ s \(store: SQLite\)/);
    expect(out).toMatch(/Status: \{"ok":36\}/);
    expect(out).toMatch(/expired events: 0; failures: 0/);
    // 12 thirty-day certificates renew ~18 times a year, 24 ninety-day ones ~6 times, plus 36 first issuances.
    expect(renewals).toBeGreaterThan(300);
    expect(renewals).toBeLessThan(450);
    expect(existsSync(join(data, 'certsteward.db'))).toBe(true);
  }, 120_000);

  it('a second run picks up the fleet, CA and keys the first left, a simulated year later', () => {
    const { out, renewals } = demo('--data', data);
    expect(out).toMatch(/Picked up 36 tracked certificates from .*certsteward\.db; the simulated clock resumes at 2027-01-01/);
    expect(out).not.toMatch(/Tracking 36 new/);
    expect(out).toMatch(/Fleet at the end of the year \(2028-01-01\)/);
    expect(out).toMatch(/Status: \{"ok":36\}/);
    expect(out).toMatch(/expired events: 0; failures: 0/);
    // Renewals only this time (no first issuances).
    expect(renewals).toBeGreaterThan(264);
    expect(renewals).toBeLessThan(414);
  }, 120_000);

  it('--memory keeps nothing', () => {
    const { out } = demo('--memory');
    expect(out).toMatch(/Tracking 36 new certificates in memory/);
    expect(out).toMatch(/\(store: memory\)/);
  }, 120_000);
});
