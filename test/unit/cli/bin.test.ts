import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, OpensslPki } from './openssl-pki.js';

const root = resolve(__dirname, '..', '..', '..');
const bin = join(root, 'dist', 'cli.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    newest = Math.max(newest, s.isDirectory() ? newestMtime(p) : s.mtimeMs);
  }
  return newest;
}

let pki: OpensslPki;

beforeAll(() => {
  // Build when dist/cli.js is missing or older than the sources it comes from.
  if (!existsSync(bin) || statSync(bin).mtimeMs < newestMtime(join(root, 'src'))) {
    const r = spawnSync(join(root, 'node_modules', '.bin', 'tsup'), ['--silent'], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsup failed: ${r.stdout}${r.stderr}`);
  }
  pki = new OpensslPki('certsteward-bin-');
  const t = Date.now();
  const ca = pki.issue({ cn: 'Bin Root', ca: true, notAfter: new Date(t + 3650 * DAY_MS) });
  pki.place('fine/ca.pem', ca.pem);
  pki.place('fine/ok.pem', pki.issue({ cn: 'ok.bin.test', issuer: ca }).pem);
  pki.place('mixed/ok.pem', pki.issue({ cn: 'ok.bin.test', issuer: ca }).pem);
  pki.place('mixed/old.pem', pki.issue({ cn: 'old.bin.test', issuer: ca, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') }).pem);
}, 120_000);

afterAll(() => pki?.remove());

function run(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('the built bin (node dist/cli.js)', () => {
  it('starts with a shebang, as the package.json bin entry needs', () => {
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('exits 0 for a folder of valid certificates and 2 for one holding an expired certificate', () => {
    const fine = run(['check', join(pki.dir, 'fine')]);
    expect(fine.status, fine.stderr).toBe(0);
    expect(fine.stdout).toContain('2 certificates: 2 ok');
    const mixed = run(['check', join(pki.dir, 'mixed'), '--format', 'nagios']);
    expect(mixed.status, mixed.stderr).toBe(2);
    expect(mixed.stdout).toMatch(/^CERTSTEWARD CRITICAL - 2 certificates, 1 expired: CN=old\.bin\.test expired/);
  });

  it('prints the version from package.json and exits 3 on an unknown command', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const v = run(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(`certsteward ${pkg.version}`);
    const bad = run(['frobnicate']);
    expect(bad.status).toBe(3);
    expect(bad.stderr).toContain('Usage: certsteward');
  });

  it('draws no progress when stderr is not a terminal', () => {
    const r = run(['check', join(pki.dir, 'fine')]);
    expect(r.stderr).not.toContain('\r');
  });
});
