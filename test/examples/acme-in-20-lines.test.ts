/**
 * examples/acme-in-20-lines.mjs, run as users run it (`node examples/…`
 * against the built package), pointed at a Pebble of its own through the
 * environment variables its header documents. A Pebble that cannot start
 * fails the test (it is never skipped).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startPebble, type PebblePeer } from '../support/pebble.js';
import { runNode, type NodeRun } from '../support/run-node.js';

const root = resolve(__dirname, '..', '..');
const example = join(root, 'examples', 'acme-in-20-lines.mjs');
let peer: PebblePeer | undefined;
let dir: string | undefined;
let startError: unknown;

// A failed start is kept and thrown by each test, so every test fails (a
// throwing beforeAll would only mark them skipped).
beforeAll(async () => {
  try {
    peer = await startPebble();
  } catch (e) {
    startError = e;
  }
  dir = mkdtempSync(join(tmpdir(), 'certsteward-acme-example-'));
}, 60_000);

function pebble(): { peer: PebblePeer; caFile: string } {
  if (startError !== undefined) throw startError;
  if (!peer || !dir) throw new Error('pebble did not start');
  const caFile = join(dir, 'pebble-tls-ca.pem');
  writeFileSync(caFile, peer.tlsCaPem);
  return { peer, caFile };
}

afterAll(async () => {
  await peer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string>): Promise<NodeRun> {
  return runNode(example, args, { cwd: root, env: { ...process.env, ...env } });
}

describe('examples/acme-in-20-lines.mjs (ACME in 20 lines)', () => {
  it('gets a certificate from Pebble over real http-01, prints renewal.succeeded and exits 0', async () => {
    if (!existsSync(join(root, 'dist', 'acme.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
    const { peer, caFile } = pebble();
    const name = 'www.acme-example.test';
    const r = await run([name], { ACME_DIRECTORY_URL: peer.directoryUrl, ACME_CA_FILE: caFile, HTTP01_PORT: String(peer.httpPort) });
    expect(r.status, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
    const m = /^renewal\.succeeded www\.acme-example\.test: serial ([0-9a-f]+), names ([^,]+), valid until (\S+)$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(m![2]).toBe(name);
    // Pebble's default leaf lifetime is 5 years.
    expect(new Date(m![3]!).getTime()).toBeGreaterThan(Date.now() + 365 * 86_400_000);
    // The serial printed is a certificate this Pebble issued, and it is valid.
    expect((await peer.certStatus(m![1]!)).Status).toBe('Valid');
  }, 60_000);

  it('exits non-zero with the CA’s reason when the http-01 answer cannot be reached', async () => {
    const { peer, caFile } = pebble();
    // The responder listens elsewhere than the port Pebble connects to.
    const r = await run(['unreachable.acme-example.test'], { ACME_DIRECTORY_URL: peer.directoryUrl, ACME_CA_FILE: caFile, HTTP01_PORT: String(await freePort()) });
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toMatch(/renewal\.succeeded/);
    expect(r.stderr).toMatch(/unreachable\.acme-example\.test: authority-challenge-failed: .*connection refused/);
  }, 60_000);
});
