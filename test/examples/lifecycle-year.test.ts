import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');

describe('examples/lifecycle-year.mjs (the demo)', () => {
  it('runs a simulated year on the local CA with no certificate ever expired', () => {
    if (!existsSync(join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
    const r = spawnSync(process.execPath, [join(root, 'examples', 'lifecycle-year.mjs')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/36 certificates on the local CA, one simulated year/);
    expect(r.stdout).toMatch(/Status: \{"ok":36\}/);
    expect(r.stdout).toMatch(/expired events: 0; failures: 0/);
    const renewals = Number(/; (\d+) renewals;/.exec(r.stdout)?.[1]);
    // 12 thirty-day certificates renew ~18 times a year, 24 ninety-day ones ~6 times, plus 36 first issuances.
    expect(renewals).toBeGreaterThan(300);
    expect(renewals).toBeLessThan(450);
  }, 120_000);
});
