/**
 * Every example is run as users would run it: `node examples/<file>` against
 * the built package.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');

describe('examples/check-folder.mjs (the demo)', () => {
  it('creates a fleet with staggered expiry and reports each status, exiting 0', () => {
    if (!existsSync(join(root, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
    const dir = mkdtempSync(join(tmpdir(), 'certsteward-example-'));
    try {
      const r = spawnSync(process.execPath, [join(root, 'examples', 'check-folder.mjs'), dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const files = readdirSync(dir);
      expect(files).toContain('root-ca.pem');
      expect(files).toContain('stray.key');
      // The library's view and the CLI's view of the same fleet.
      expect(r.stdout).toMatch(/api\.example\.test\s+ok/);
      expect(r.stdout).toMatch(/mail\.example\.test\s+warning/);
      expect(r.stdout).toMatch(/vpn\.example\.test\s+critical/);
      expect(r.stdout).toMatch(/legacy\.example\.test\s+expired/);
      expect(r.stdout).toMatch(/next\.example\.test\s+not-yet-valid/);
      expect(r.stdout).toMatch(/^EXPIRED .*CN=legacy\.example\.test/m);
      expect(r.stdout).toMatch(/^CERTSTEWARD CRITICAL - 7 certificates/m);
      expect(r.stdout + r.stderr).toMatch(/skipped .*stray\.key: .*private key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
