import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProgress } from '../../../src/cli/progress.js';
import { runCli } from '../../../src/cli/run-cli.js';
import { cli } from './capture-io.js';
import { OpensslPki } from './openssl-pki.js';

let pki: OpensslPki;
let dir: string;

beforeAll(() => {
  pki = new OpensslPki('certsteward-progress-');
  const ca = pki.issue({ cn: 'Progress Root', ca: true });
  for (let i = 0; i < 30; i++) pki.place(`many/${String(i).padStart(2, '0')}.pem`, ca.pem + '\n');
  dir = join(pki.dir, 'many');
});

afterAll(() => pki?.remove());

describe('progress on stderr', () => {
  it('repaints one line with \\r and erase-line at most every 100 ms of the injected clock, then erases it', () => {
    let t = 0;
    let err = '';
    const p = createProgress({ stdout: { write: () => {} }, stderr: { write: (s: string) => (err += s) }, isTTY: true, monotonicMs: () => t });
    for (let i = 0; i < 50; i++) {
      p.update(`step ${i}`);
      t += 20; // 50 Hz of updates
    }
    p.clear();
    const paints = err.split('\r\u001b[2K').filter(Boolean);
    expect(paints).toEqual(['step 0', 'step 5', 'step 10', 'step 15', 'step 20', 'step 25', 'step 30', 'step 35', 'step 40', 'step 45']);
    expect(err.endsWith('\r\u001b[2K')).toBe(true);
    expect(err).not.toContain('\n');
  });

  it('shows scan progress while checking a folder on a terminal, and leaves stdout clean', async () => {
    let t = 0;
    const r = await cli(['check', dir], { isTTY: true, monotonicMs: () => (t += 150) });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\r\u001b\[2K(searching|read) /);
    expect(r.stderr).toMatch(/read \d+\/30 files and hosts: \d+ certificates/);
    expect(r.stdout).not.toContain('\r');
    expect(r.stdout).not.toContain('\u001b');
  });

  it('never writes progress when stderr is not a terminal', async () => {
    let t = 0;
    const r = await cli(['check', dir], { isTTY: false, monotonicMs: () => (t += 150) });
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr).not.toContain('\u001b');
  });

  it('erases the progress line before the table reaches the terminal', async () => {
    const log: string[] = [];
    let t = 0;
    await runCli(['check', dir], {
      stdout: { write: (s: string) => log.push(`out:${s}`) },
      stderr: { write: (s: string) => log.push(`err:${s}`) },
      isTTY: true,
      monotonicMs: () => (t += 150),
    });
    const firstOut = log.findIndex((l) => l.startsWith('out:'));
    expect(firstOut).toBeGreaterThan(0);
    expect(log.slice(0, firstOut).filter((l) => l.startsWith('err:\r')).pop()).toBe('err:\r\u001b[2K');
  });
});
