import { describe, expect, it } from 'vitest';
import { ConfigError, createSteward, type CertificateAuthority, type CertificateStore, type IssueRequest } from '../../../src/index.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { MemoryStore } from '../../../src/testing/memory-store.js';
import { TestAuthority } from '../../../src/testing/test-authority.js';

/** Holds `issue()` for the ids in `held` until `release(id)`. */
function gatedAuthority(inner: CertificateAuthority) {
  const gates = new Map<string, () => void>();
  const waiting = new Map<string, Promise<void>>();
  let atGate = 0;
  const hold = (id: string) => waiting.set(id, new Promise<void>((r) => gates.set(id, r)));
  const authority: CertificateAuthority = {
    issue: async (req: IssueRequest, o) => {
      const gate = waiting.get(req.id);
      if (gate) {
        atGate++;
        await gate;
        atGate--;
      }
      return inner.issue(req, o);
    },
    resume: (ref, req, o) => inner.resume(ref, req, o),
  };
  return { authority, hold, release: (id: string) => gates.get(id)?.(), waiting: () => atGate };
}

/** Records every claim's limit; `failClaim(n)` makes the n-th claim (counted from 1) fail. */
function countingStore(inner: MemoryStore) {
  const limits: number[] = [];
  let failAt = 0;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'claimDue') {
        return async (...a: Parameters<CertificateStore['claimDue']>) => {
          limits.push(a[3]);
          if (limits.length === failAt) throw new Error('database went away');
          return target.claimDue(...a);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: store as CertificateStore, limits, failClaim: (n: number) => void (failAt = n) };
}

async function world(concurrency: number, extra: { batchSize?: number } = {}) {
  const clock = new ManualClock('2026-01-01T00:00:00Z');
  const keys = new MemoryKeyStore();
  const ca = await TestAuthority.create({ keys, clock });
  const gated = gatedAuthority(ca);
  const counted = countingStore(new MemoryStore());
  const steward = createSteward({ store: counted.store, keys, clock, authorities: { test: gated.authority }, concurrency, pollIntervalMs: null, ...extra });
  const renewed: string[] = [];
  steward.on('renewal.succeeded', (e) => void renewed.push(e.id));
  const errors: unknown[] = [];
  steward.on('error', (e) => void errors.push(e.error));
  return { ca, gated, counted, steward, renewed, errors };
}

const until = async (cond: () => boolean, what: string) => {
  // Real time: key generation and signing run on libuv's thread pool.
  for (const deadline = Date.now() + 10_000; !cond() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 2));
  if (!cond()) throw new Error(`never happened: ${what}`);
};

describe('Steward lanes', () => {
  it('refuses a concurrency or batchSize that is not a whole number ≥ 1 (it would silently work on nothing)', async () => {
    const base = { store: new MemoryStore(), keys: new MemoryKeyStore(), authorities: {} };
    for (const bad of [{ concurrency: 0 }, { concurrency: Number.NaN }, { concurrency: 1.5 }, { batchSize: 0 }, { batchSize: -3 }]) {
      expect(() => createSteward({ ...base, ...bad }), JSON.stringify(bad)).toThrow(ConfigError);
    }
    expect(() => createSteward({ ...base, concurrency: 1, batchSize: 1 })).not.toThrow();
  });

  it('goes on with the rest of the fleet while one renewal is stuck at its CA', async () => {
    const w = await world(2);
    for (let i = 0; i < 6; i++) await w.steward.track({ id: `c${i}`, authority: 'test', subjectAltNames: [`c${i}.example.test`] });
    w.gated.hold('c0');
    const run = w.steward.runOnce();
    // With batches of two, c1 would wait for c0; with lanes, the free lane works through all the others.
    await until(() => w.renewed.length === 5, 'five renewals beside the stuck one');
    expect(w.renewed).not.toContain('c0');
    w.gated.release('c0');
    const summary = await run;
    expect(new Set(w.renewed)).toEqual(new Set(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']));
    expect(summary.claimed).toBe(6);
    expect(summary.renewed).toBe(6);
    expect(w.errors).toEqual([]);
  });

  it('never claims more than the lanes that are free, so no lease waits in a queue', async () => {
    const w = await world(3);
    for (let i = 0; i < 20; i++) await w.steward.track({ id: `c${i}`, authority: 'test', subjectAltNames: [`c${i}.example.test`] });
    w.gated.hold('c0');
    w.gated.hold('c1');
    const run = w.steward.runOnce();
    await until(() => w.renewed.length === 18, 'the others renewed by the one free lane');
    // Two lanes are held: every claim since has asked for one record.
    const afterHeld = w.counted.limits.slice(1);
    expect(afterHeld.length).toBeGreaterThanOrEqual(18);
    expect(afterHeld.every((n) => n === 1)).toBe(true);
    w.gated.release('c0');
    w.gated.release('c1');
    await run;
    expect(w.counted.limits[0]).toBe(3);
    expect(Math.max(...w.counted.limits)).toBe(3);
    expect(w.renewed).toHaveLength(20);
  });

  it('reports a failed claim once the lanes have finished their records, and the next run picks up the rest', async () => {
    const w = await world(2);
    for (let i = 0; i < 6; i++) await w.steward.track({ id: `c${i}`, authority: 'test', subjectAltNames: [`c${i}.example.test`] });
    w.gated.hold('c0');
    // Claims: c0 and c1; then c2 for the lane c1 freed; the third fails while c0 is still at its CA.
    w.counted.failClaim(3);
    const run = w.steward.runOnce();
    run.catch(() => undefined);
    await until(() => w.counted.limits.length === 3, 'the failing claim');
    expect(w.renewed.sort()).toEqual(['c1', 'c2']);
    w.gated.release('c0');
    await expect(run).rejects.toThrow('database went away');
    // The held record was finished, not abandoned, before the failure was reported.
    expect(w.renewed).toContain('c0');
    await w.steward.runOnce();
    expect(w.renewed).toHaveLength(6);
  });

  it('stop() lets the lanes finish their records and claims nothing more; the rest is due at the next start', async () => {
    const w = await world(2);
    for (let i = 0; i < 6; i++) await w.steward.track({ id: `c${i}`, authority: 'test', subjectAltNames: [`c${i}.example.test`] });
    w.gated.hold('c0');
    w.gated.hold('c1');
    void w.steward.start();
    await until(() => w.counted.limits.length === 1 && w.gated.waiting() === 2, 'both lanes at the CA');
    const stopped = w.steward.stop();
    w.gated.release('c0');
    w.gated.release('c1');
    await stopped;
    expect(w.renewed.sort()).toEqual(['c0', 'c1']);
    expect(w.counted.limits).toHaveLength(1);
    await w.steward.runOnce();
    expect(w.renewed).toHaveLength(6);
    expect(w.errors).toEqual([]);
  });

  it('with batchSize below concurrency, works on no more records at once than batchSize', async () => {
    const w = await world(4, { batchSize: 1 });
    for (let i = 0; i < 3; i++) await w.steward.track({ id: `c${i}`, authority: 'test', subjectAltNames: [`c${i}.example.test`] });
    w.gated.hold('c0');
    const run = w.steward.runOnce();
    await until(() => w.gated.waiting() === 1, 'c0 at the CA');
    await new Promise((r) => setTimeout(r, 100));
    expect(w.renewed).toEqual([]);
    expect(w.counted.limits).toEqual([1]);
    w.gated.release('c0');
    await run;
    expect(w.renewed).toEqual(['c0', 'c1', 'c2']);
    expect(Math.max(...w.counted.limits)).toBe(1);
  });
});
