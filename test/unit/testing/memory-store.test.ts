import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, StoreUnavailableError, isCertstewardError } from '../../../src/errors.js';
import type { CertificateRecord, CertificateStore, IssuedCertificate } from '../../../src/ports/certificate-store.js';
import { describeCertificateStore } from '../../../src/testing/contracts/store-contract.js';
import { MemoryStore } from '../../../src/testing/memory-store.js';

describeCertificateStore({ describe, it, expect, beforeEach }, () => new MemoryStore(), { name: 'MemoryStore contract (with beforeEach)' });
describeCertificateStore({ describe, it, expect }, () => new MemoryStore(), { name: 'MemoryStore contract (make per test)' });
describeCertificateStore({ describe, it, expect }, () => reordering(new MemoryStore()), {
  name: 'MemoryStore contract (calls delayed and reordered, as a database would)',
});

/**
 * Delays each call by 0–3 event-loop turns (seeded, so runs repeat) before it
 * reaches the store: calls sent together then land in a different order, as
 * on a real database. Checks that the contract assumes nothing about order.
 */
function reordering(store: CertificateStore, seed = 7): CertificateStore {
  let state = seed;
  const turns = () => {
    state = (state * 1_103_515_245 + 12_345) & 0x7fffffff;
    return state % 4;
  };
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        for (let n = turns(); n > 0; n--) await new Promise((resolve) => setImmediate(resolve));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const NOW = new Date('2026-03-01T12:00:00.000Z');
const at = (ms: number) => new Date(NOW.getTime() + ms);
const MINUTE = 60_000;
const DAY = 86_400_000;

function record(id: string, nextActionAt: Date | null = null): Omit<CertificateRecord, 'revision' | 'createdAt' | 'updatedAt' | 'lease'> {
  return {
    id,
    status: 'active',
    spec: { authority: 'local', subjectAltNames: [], key: { algorithm: 'ECDSA-P256', rotate: 'always' } },
    labels: {},
    renewal: { phase: 'idle', failures: 0 },
    nextActionAt,
    announced: [],
  };
}

function cert(serialNumber: string): IssuedCertificate {
  return {
    chainPem: 'pem',
    serialNumber,
    fingerprintSha256: serialNumber,
    notBefore: at(-DAY),
    notAfter: at(DAY),
    keyRef: { store: 'memory', id: serialNumber, algorithm: 'ECDSA-P256', spkiSha256: '00' },
    issuedAt: at(-DAY),
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('MemoryStore', () => {
  describe('history limit', () => {
    it('keeps the newest 10 archived certificates by default', async () => {
      const store = new MemoryStore();
      let r = await store.create(record('h'), NOW);
      for (let i = 0; i < 12; i++) r = await store.update(r, at(i), { archive: cert(`c${i}`) });
      const serials = (await store.history('h')).map((c) => c.serialNumber);
      expect(serials).toEqual(['c11', 'c10', 'c9', 'c8', 'c7', 'c6', 'c5', 'c4', 'c3', 'c2']);
    });

    it('trims history to historyLimit, newest first', async () => {
      const store = new MemoryStore({ historyLimit: 2 });
      let r = await store.create(record('h'), NOW, { archive: cert('c0') });
      for (let i = 1; i < 4; i++) r = await store.update(r, at(i), { archive: cert(`c${i}`) });
      expect((await store.history('h')).map((c) => c.serialNumber)).toEqual(['c3', 'c2']);
    });

    it('keeps no history with historyLimit 0 and all of it with Infinity', async () => {
      const none = new MemoryStore({ historyLimit: 0 });
      await none.create(record('h'), NOW, { archive: cert('c0') });
      expect(await none.history('h')).toEqual([]);

      const all = new MemoryStore({ historyLimit: Infinity });
      let r = await all.create(record('h'), NOW);
      for (let i = 0; i < 25; i++) r = await all.update(r, at(i), { archive: cert(`c${i}`) });
      expect(await all.history('h')).toHaveLength(25);
    });

    it('rejects a historyLimit that is negative or fractional', () => {
      expect(() => new MemoryStore({ historyLimit: -1 })).toThrow(ConfigError);
      expect(() => new MemoryStore({ historyLimit: 1.5 })).toThrow(ConfigError);
    });
  });

  describe('failNext', () => {
    it('makes the next n calls reject with StoreUnavailableError, then lets calls through', async () => {
      const store = new MemoryStore();
      store.failNext(2);
      expect(store.pendingFailures).toBe(2);
      const first = await rejection(store.get('x'));
      expect(first).toBeInstanceOf(StoreUnavailableError);
      expect(isCertstewardError(first, 'store-unavailable')).toBe(true);
      expect(await rejection(store.create(record('x'), NOW))).toBeInstanceOf(StoreUnavailableError);
      expect(store.pendingFailures).toBe(0);
      expect(await store.get('x')).toBeUndefined(); // the failed create wrote nothing
      expect((await store.create(record('x'), NOW)).revision).toBe(1);
    });

    it('rejects with the given error', async () => {
      const store = new MemoryStore();
      const boom = new Error('connection reset');
      store.failNext(1, boom);
      expect(await rejection(store.list())).toBe(boom);
      expect(await store.list()).toEqual([]);
    });

    it('counts only the methods named', async () => {
      const store = new MemoryStore();
      await store.create(record('x', at(-MINUTE)), NOW);
      store.failNext(1, { methods: ['claimDue'] });
      expect(await store.get('x')).toBeDefined();
      expect(await store.nextDueAt()).toEqual(at(-MINUTE));
      expect(await rejection(store.claimDue(NOW, 'a', MINUTE, 10))).toBeInstanceOf(StoreUnavailableError);
      expect((await store.get('x'))?.lease).toBeUndefined();
      expect(await store.claimDue(NOW, 'a', MINUTE, 10)).toHaveLength(1);
    });

    it('with afterWrite commits the write and still rejects, like a reply lost after commit', async () => {
      const store = new MemoryStore();
      const v1 = await store.create(record('x', at(-MINUTE)), NOW);
      store.failNext(1, { methods: ['update'], afterWrite: true });
      expect(await rejection(store.update({ ...v1, labels: { step: 'done' } }, NOW))).toBeInstanceOf(StoreUnavailableError);
      const stored = await store.get('x');
      expect(stored?.revision).toBe(2);
      expect(stored?.labels).toEqual({ step: 'done' });
    });

    it('queues faults in order', async () => {
      const store = new MemoryStore();
      const a = new Error('a');
      const b = new Error('b');
      store.failNext(1, a);
      store.failNext(1, b);
      expect(await rejection(store.get('x'))).toBe(a);
      expect(await rejection(store.get('x'))).toBe(b);
      expect(await store.get('x')).toBeUndefined();
    });

    it('rejects a negative or fractional count', () => {
      const store = new MemoryStore();
      expect(() => store.failNext(-1)).toThrow(ConfigError);
      expect(() => store.failNext(0.5)).toThrow(ConfigError);
      store.failNext(0);
      expect(store.pendingFailures).toBe(0);
    });
  });

  describe('failWith', () => {
    it('fails the calls the hook chooses, after failNext faults are spent', async () => {
      const seen: string[] = [];
      const store = new MemoryStore({
        failWith: (call) => {
          seen.push(`${call.method}:${call.id ?? ''}`);
          return call.method === 'update' && call.id === 'x' ? new StoreUnavailableError('x is on a broken shard') : undefined;
        },
      });
      const v1 = await store.create(record('x'), NOW);
      await store.create(record('y'), NOW);
      expect(await rejection(store.update(v1, NOW))).toBeInstanceOf(StoreUnavailableError);
      store.failNext(1);
      expect(await rejection(store.get('y'))).toBeInstanceOf(StoreUnavailableError);
      expect((await store.get('x'))?.revision).toBe(1);
      expect(seen).toEqual(['create:x', 'create:y', 'update:x', 'get:x']);
    });
  });

  describe('stored form', () => {
    it('keeps only the fields of CertificateRecord, as a SQL store would', async () => {
      const store = new MemoryStore();
      await store.create({ ...record('x'), extra: 'dropped' } as ReturnType<typeof record>, NOW);
      expect(Object.keys((await store.get('x')) ?? {}).sort()).toEqual(
        ['announced', 'createdAt', 'id', 'labels', 'nextActionAt', 'renewal', 'revision', 'spec', 'status', 'updatedAt'],
      );
    });
  });

  describe('argument checks', () => {
    it('rejects leaseMs that is not positive, a limit that is not a count, an empty owner and invalid times', async () => {
      const store = new MemoryStore();
      await store.create(record('x', at(-MINUTE)), NOW);
      for (const p of [
        store.claimDue(NOW, 'a', 0, 10),
        store.claimDue(NOW, 'a', Number.NaN, 10),
        store.claimDue(NOW, 'a', MINUTE, -1),
        store.claimDue(NOW, 'a', MINUTE, 1.5),
        store.claimDue(NOW, '', MINUTE, 10),
        store.claimDue(new Date(Number.NaN), 'a', MINUTE, 10),
        store.list({ limit: -1 }),
        store.create(record('y', new Date('not a date')), NOW),
        store.create(record(''), NOW),
        store.countExpiring(new Date(Number.NaN), { warningMs: DAY, criticalMs: DAY }),
      ]) {
        expect(await rejection(p)).toBeInstanceOf(ConfigError);
      }
      expect((await store.get('x'))?.lease).toBeUndefined();
    });
  });

  describe('at simulation scale', () => {
    it('schedules and claims among 10,000 records at about 0.1 ms per scan', async () => {
      const store = new MemoryStore();
      const n = 10_000;
      for (let i = 0; i < n; i++) {
        await store.create(record(`c-${String(i).padStart(5, '0')}`, at(((i * 7919) % n) * MINUTE)), NOW);
      }
      expect(store.size).toBe(n);
      const started = performance.now();
      let claimed = 0;
      for (let tick = 0; tick < 200; tick++) {
        const next = await store.nextDueAt();
        if (next === undefined) break;
        const batch = await store.claimDue(next, 'sim', MINUTE, 25);
        for (const r of batch) await store.update({ ...r, lease: undefined, nextActionAt: null }, next);
        claimed += batch.length;
      }
      const elapsedMs = performance.now() - started;
      expect(claimed).toBe(200);
      expect(await store.list({ after: 'c-09990' })).toHaveLength(9);
      // 400 O(n) scans of 10k records take ~0.1 s; the bound catches an accidental
      // O(n log n) sort per call or records left in V8's slow dictionary mode (~2.5 s).
      expect(elapsedMs).toBeLessThan(1_500);
    });
  });
});

describe('MemoryStore schedule index', () => {
  it('forgets the schedule of a deleted record when the id is created again (revisions restart at 1)', async () => {
    const store = new MemoryStore();
    await store.create(record('a', at(MINUTE)), NOW);
    await store.delete('a', 1);
    await store.create(record('a', at(DAY)), NOW);
    expect(await store.nextDueAt()).toEqual(at(DAY));
    expect(await store.claimDue(at(2 * MINUTE), 'p', MINUTE, 10)).toEqual([]);
    expect((await store.claimDue(at(DAY), 'p', MINUTE, 10)).map((r) => r.id)).toEqual(['a']);
  });

  it('hands a record out once after delete + re-create with the same schedule', async () => {
    const store = new MemoryStore();
    await store.create(record('a', at(DAY)), NOW);
    await store.delete('a', 1);
    await store.create(record('a', at(DAY)), NOW); // revision 1 again, the same nextActionAt
    expect((await store.claimDue(at(2 * DAY), 'p', MINUTE, 10)).map((r) => `${r.id}@${r.revision}`)).toEqual(['a@2']);
    expect(await store.claimDue(at(2 * DAY), 'q', MINUTE, 10)).toEqual([]);
  });

  it('agrees with a full scan over thousands of random writes, claims and deletes', async () => {
    const store = new MemoryStore();
    let seed = 42;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff);
    const ids = Array.from({ length: 200 }, (_, i) => `r${String(i).padStart(3, '0')}`);
    let t = NOW.getTime();
    for (let step = 0; step < 3_000; step++) {
      t += Math.floor(rand() * MINUTE);
      const now = new Date(t);
      const id = ids[Math.floor(rand() * ids.length)]!;
      const existing = await store.get(id);
      const op = rand();
      if (!existing) await store.create(record(id, rand() < 0.9 ? new Date(t + Math.floor(rand() * 30 * MINUTE)) : null), now);
      else if (op < 0.5) await store.update({ ...existing, nextActionAt: new Date(t + Math.floor(rand() * 30 * MINUTE)), lease: undefined }, now);
      else if (op < 0.6) await store.delete(id, existing.revision);
      else await store.claimDue(now, `p${step % 3}`, Math.floor(rand() * 10 * MINUTE) + 1, Math.floor(rand() * 4));
      // The reference: a scan of every record, as the port defines nextDueAt.
      let expected = Infinity;
      for (const r of await store.list({ limit: 1_000 })) {
        if (r.status !== 'active' || r.nextActionAt === null) continue;
        expected = Math.min(expected, Math.max(r.nextActionAt.getTime(), r.lease?.until.getTime() ?? -Infinity));
      }
      expect((await store.nextDueAt())?.getTime() ?? Infinity).toBe(expected);
    }
  });
});
