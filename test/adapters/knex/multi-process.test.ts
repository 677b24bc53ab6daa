/**
 * The multi-process proof of KnexStore on PostgreSQL: separate Node processes
 * (test/support/fleet-worker.mjs, running the built package) share one schema
 * and one counting authority (test/support/counting-authority.ts) served by
 * this process.
 *
 * 1. Four processes, 1,000 certificates due at once, one process SIGKILLed
 *    mid-run: every certificate is signed exactly once and activated, the dead
 *    process's leases expire and the others finish its records, and no
 *    ConflictError or error event reaches any process's host code.
 * 2. A claimant frozen (SIGSTOP, a GC pause as the OS sees it) inside the
 *    authority call past its lease: another steward takes the record over and
 *    completes the renewal; when the frozen one resumes, its write is refused
 *    by the revision check (the fencing token), it reports a conflict, and the
 *    record keeps the newer certificate.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KnexStore } from '../../../adapters/knex/index.js';
import { LocalAuthority } from '../../../adapters/local-ca/index.js';
import { SoftwareKeyStore, buildCsr, createSteward, parseCertificate, systemClock } from '../../../src/index.js';
import type { CertificateRecord, Clock, RunSummary } from '../../../src/index.js';
import { CountingAuthority, type AuthorityCall } from '../../support/counting-authority.js';
import { PG_URL, freshPgSchema } from '../../support/databases.js';
import { WorkerProcess } from '../../support/worker-process.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const WORKER = join(root, 'test', 'support', 'fleet-worker.mjs');
const DAY_MS = 86_400_000;

/** Children run dist/: build it when it is missing (npm test builds it first). */
function ensureDist(): void {
  if (['index.js', 'knex.js'].every((f) => existsSync(join(root, 'dist', f)))) return;
  execFileSync('npx', ['tsup', '--silent'], { cwd: root, stdio: 'inherit' });
}

/** The system clock, `ms` in the past: seed certificates whose renewal time has long passed. */
function backdated(ms: number): Clock {
  return { ...systemClock, now: () => new Date(Date.now() - ms) };
}

type WorkerLine =
  | { type: 'ready'; owner: string; pid: number }
  | { type: 'renewed'; id: string; serialNumber: string }
  | { type: 'error'; where: string; message: string; code?: string; name?: string; id?: string }
  | { type: 'summary'; summary: RunSummary }
  | { type: 'stats'; events: Record<string, number>; staleWritesRejected: number };

interface WorkerConfig {
  schema: string;
  authorityUrl: string;
  mode: 'serve' | 'once';
  leaseMs: number;
  concurrency: number;
  pollIntervalMs: number | null;
  label: string;
}

/** One child process of the fleet and everything it reported. */
class FleetProcess extends WorkerProcess<WorkerLine> {
  readonly ready: Promise<{ owner: string; pid: number }>;
  readonly label: string;
  owner = '';
  #onReady!: (v: { owner: string; pid: number }) => void;

  constructor(config: WorkerConfig, kek: Uint8Array) {
    super(WORKER, { CERTSTEWARD_PG_URL: PG_URL, FLEET_KEK: Buffer.from(kek).toString('base64'), FLEET_CONFIG: JSON.stringify(config) });
    this.label = config.label;
    this.ready = new Promise((resolve, reject) => {
      this.#onReady = resolve;
      void this.exited.then((x) => reject(new Error(`${config.label} exited (${x.code ?? x.signal}) before it was ready: ${this.stderr}`)));
    });
    this.ready.catch(() => undefined);
  }

  protected override onLine(line: WorkerLine): void {
    if (line.type === 'ready') {
      this.owner = line.owner;
      this.#onReady(line);
    }
  }

  get errors() {
    return this.lines.filter((l): l is Extract<WorkerLine, { type: 'error' }> => l.type === 'error');
  }

  get renewed() {
    return this.lines.filter((l): l is Extract<WorkerLine, { type: 'renewed' }> => l.type === 'renewed');
  }

  get stats() {
    return this.lines.find((l): l is Extract<WorkerLine, { type: 'stats' }> => l.type === 'stats');
  }

  get summary() {
    return this.lines.find((l): l is Extract<WorkerLine, { type: 'summary' }> => l.type === 'summary')?.summary;
  }

  /** Asks for a clean exit (the worker stops its steward when stdin closes). */
  requestStop(): void {
    this.child.stdin!.end();
  }

  /** Kills it if it still runs (also when stopped: SIGKILL ends a stopped process too). */
  async reap(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Resolves once the process is in state T (stopped), so nothing it does can slip in after SIGSTOP. */
async function untilStopped(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
    await sleep(10);
  }
  throw new Error(`process ${pid} did not stop`);
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Everything both tests share: a fresh schema, the shared KEK, the local CA behind the counting authority. */
async function fleetPeers(retryAfterMs: number) {
  ensureDist();
  const db = await freshPgSchema('multiproc');
  const store = new KnexStore(db.knex, { schema: db.schema });
  await store.migrate();
  const kek = SoftwareKeyStore.generateKek();
  const keys = new SoftwareKeyStore({ kek });
  // The seeding CA lives 20 days in the past; the counting authority is the same CA on the real clock.
  const seedCa = await LocalAuthority.create({ keys, clock: backdated(20 * DAY_MS), name: 'certsteward fleet test' });
  const ca = await LocalAuthority.load(seedCa.toJSON(), { keys, clock: systemClock });
  const counting = new CountingAuthority(ca, { retryAfterMs });
  const url = await counting.listen();
  return { db, store, kek, keys, seedCa, counting, url };
}

/**
 * Tracks `ids` through a steward that is never started, each with a 30-day
 * certificate issued 20 days ago and `renewal: { before: '15d' }`: every one
 * is due now (renewal ≈ 5 days ago), none is expiring yet (the warning, at a
 * quarter of the lifetime, is 2.5 days ahead), and its 30-day replacement is
 * not due again for ~15 days, so a renewal happens once.
 */
async function seed(peers: Awaited<ReturnType<typeof fleetPeers>>, ids: readonly string[]): Promise<Map<string, string>> {
  const tracker = createSteward({ store: peers.store, authorities: { fleet: peers.counting.asAuthority() }, keys: peers.keys, clock: systemClock });
  const seedKey = await peers.keys.generate({ algorithm: 'ECDSA-P256', label: 'seed' });
  const serials = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map(async (id) => {
        const subjectAltNames = [{ type: 'dns' as const, value: `${id}.fleet.test` }];
        const csrPem = await buildCsr({ key: seedKey, subjectAltNames });
        const issued = await peers.seedCa.issue({ id, csrPem, subjectAltNames, key: seedKey, lifetimeMs: 30 * DAY_MS });
        if (issued.status !== 'issued') throw new Error('the local CA left a seed order pending');
        serials.set(id, parseCertificate(issued.chainPem).serialNumber);
        await tracker.track({
          id,
          authority: 'fleet',
          subjectAltNames: [`${id}.fleet.test`],
          lifetime: '30d',
          renewal: { before: '15d' },
          existing: { chainPem: issued.chainPem },
        });
      }),
    );
  }
  return serials;
}

async function allRecords(store: KnexStore): Promise<CertificateRecord[]> {
  return store.list({ limit: 10_000 });
}

describe('KnexStore shared by four processes on PostgreSQL', () => {
  const FLEET = 1_000;
  const PROCESSES = 4;
  const LEASE_MS = 3_000;
  let peers: Awaited<ReturnType<typeof fleetPeers>>;
  const procs: FleetProcess[] = [];

  beforeAll(async () => {
    peers = await fleetPeers(200);
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.reap()));
    await peers?.counting.close();
    await peers?.db.drop();
  });

  it('renews 1,000 certificates due at once exactly once each, and a SIGKILLed process loses nothing: its leases expire and the others finish its records', async () => {
    const t0 = Date.now();
    const ids = Array.from({ length: FLEET }, (_, i) => `fleet-${String(i).padStart(4, '0')}`);
    const seedSerials = await seed(peers, ids);
    const { store, counting } = peers;
    expect(await store.list({ dueBefore: new Date(), limit: 10_000 })).toHaveLength(FLEET);
    const seededMs = Date.now() - t0;

    const t1 = Date.now();
    for (let i = 0; i < PROCESSES; i++) {
      procs.push(
        new FleetProcess(
          { schema: peers.db.schema, authorityUrl: peers.url, mode: 'serve', leaseMs: LEASE_MS, concurrency: 8, pollIntervalMs: 500, label: `p${i}` },
          peers.kek,
        ),
      );
    }
    await withTimeout(Promise.all(procs.map((p) => p.ready)), 30_000, 'the processes to start');

    // Once a quarter of the fleet is signed, pick the process holding the most live leases and hold the
    // authority's answers to it: SIGKILL it while it waits on a certificate the authority has signed and it
    // has not persisted yet (and on whatever else it asked meanwhile), with the answers unsent.
    while (counting.signedTotal < FLEET / 4) {
      if (Date.now() - t1 > 60_000) throw new Error(`only ${counting.signedTotal} signed after 60 s`);
      await sleep(50);
    }
    const leasesByOwner = new Map<string, number>();
    const now = Date.now();
    for (const r of await allRecords(store)) {
      if (r.lease && r.lease.until.getTime() > now) leasesByOwner.set(r.lease.owner, (leasesByOwner.get(r.lease.owner) ?? 0) + 1);
    }
    const victim = [...procs].sort((a, b) => (leasesByOwner.get(b.owner) ?? 0) - (leasesByOwner.get(a.owner) ?? 0))[0]!;
    const held: AuthorityCall[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let certificateHeld!: () => void;
    const aCertificate = new Promise<void>((resolve) => (certificateHeld = resolve));
    counting.beforeAnswer = async (call) => {
      if (call.caller !== victim.label) return;
      held.push(call);
      if (call.kind === 'certificate') certificateHeld();
      await released;
    };
    await withTimeout(aCertificate, 10_000, `${victim.owner} to download a certificate`);
    await sleep(300); // let its other workers block on the authority too
    victim.child.kill('SIGKILL');
    const killed = await victim.exited;
    counting.beforeAnswer = undefined;
    release();
    const signedAtKill = counting.signedTotal;
    const killedAfterMs = Date.now() - t1;
    const orphans = (await allRecords(store)).filter((r) => r.lease?.owner === victim.owner).map((r) => ({ id: r.id, until: r.lease!.until }));
    expect(killed.signal).toBe('SIGKILL');
    // The kill must land mid-work, or it proves nothing.
    expect(orphans.length).toBeGreaterThan(0);
    expect(held.map((c) => c.kind)).toContain('certificate');

    // Every certificate activated (with a new certificate), however long it takes within the budget.
    let records: CertificateRecord[] = [];
    for (;;) {
      records = await allRecords(store);
      const done = records.filter((r) => r.renewal.phase === 'activated' && r.current?.serialNumber !== seedSerials.get(r.id)).length;
      if (done === FLEET) break;
      if (Date.now() - t1 > 100_000) {
        throw new Error(
          `${done}/${FLEET} activated after 100 s (${counting.signedTotal} signed); stderr: ${procs.map((p) => p.stderr.slice(-500)).join(' | ')}`,
        );
      }
      await sleep(500);
    }
    const renewedMs = Date.now() - t1;

    const survivors = procs.filter((p) => p !== victim);
    for (const p of survivors) p.requestStop();
    const exits = await withTimeout(Promise.all(survivors.map((p) => p.exited)), 30_000, 'the survivors to stop');

    // The authority signed exactly one certificate per id, and each record holds it.
    expect(counting.signedTotal).toBe(FLEET);
    expect(counting.signedIds().sort()).toEqual(ids);
    for (const r of records) {
      const signed = counting.signedFor(r.id);
      expect(signed, r.id).toHaveLength(1);
      expect(r.current!.serialNumber, r.id).toBe(signed[0]!.serialNumber);
      expect(r.current!.serialNumber, r.id).not.toBe(seedSerials.get(r.id));
      expect(r.current!.keyRef.store, r.id).toBe('software');
      expect(r.lease, r.id).toBeUndefined();
      expect(r.nextActionAt!.getTime(), r.id).toBeGreaterThan(Date.now() + 10 * DAY_MS);
    }
    // The audit trail agrees: one renewal per id, from the seed certificate to the signed one.
    const audits = await Promise.all(ids.map((id) => store.audit(id)));
    for (const [i, trail] of audits.entries()) {
      const id = ids[i]!;
      const succeeded = trail.filter((e) => e.type === 'renewal.succeeded');
      expect(succeeded, id).toHaveLength(1);
      expect(succeeded[0]!.data).toMatchObject({ serialNumber: counting.signedFor(id)[0]!.serialNumber, previousSerialNumber: seedSerials.get(id) });
      expect(trail.filter((e) => e.type === 'renewal.failed'), id).toEqual([]);
    }
    // The dead process's records were finished by the others, after its leases ran out.
    for (const o of orphans) {
      const done = audits[ids.indexOf(o.id)]!.find((e) => e.type === 'renewal.succeeded')!;
      expect(done.at.getTime(), o.id).toBeGreaterThanOrEqual(o.until.getTime());
    }
    // A certificate it had signed and never received is the one its successor downloaded (same order, no
    // second signature); an order it placed and never persisted was abandoned, never signed.
    for (const c of held) {
      const signedOrders = counting.signedFor(c.id).map((x) => x.orderRef);
      if (c.kind === 'certificate') expect(signedOrders, c.id).toEqual([c.orderRef]);
      else expect(signedOrders, c.id).not.toContain(c.orderRef);
    }

    // Nothing reached any process's host code: no error event, no ConflictError, no failed renewal, no stray rejection.
    for (const p of procs) expect(p.errors, `${p.owner}: ${p.stderr}`).toEqual([]);
    for (const [i, p] of survivors.entries()) {
      expect(exits[i], `${p.owner}: ${p.stderr}`).toEqual({ code: 0, signal: null });
      expect(p.stats, p.owner).toBeDefined();
      expect(p.stats!.events['error'], p.owner).toBe(0);
      expect(p.stats!.events['renewal.failed'], p.owner).toBe(0);
      expect(p.renewed.length, `${p.owner} shared the work`).toBeGreaterThan(0);
    }
    // No two processes believe they renewed the same certificate.
    const reported = procs.flatMap((p) => p.renewed.map((l) => l.id));
    expect(new Set(reported).size).toBe(reported.length);

    const tl = counting.timeline();
    console.info(
      [
        `multi-process fleet: ${FLEET} certificates, ${PROCESSES} processes, lease ${LEASE_MS} ms`,
        `  seeded in ${seededMs} ms; all activated ${renewedMs} ms after the processes started`,
        `  ${victim.owner} SIGKILLed at ${killedAfterMs} ms (${signedAtKill} signed), holding ${orphans.length} leases, all finished by the others`,
        `  killed while waiting on ${held.filter((c) => c.kind === 'certificate').length} signed, unpersisted certificates and ${held.filter((c) => c.kind === 'order').length} unpersisted orders`,
        `  authority timeline (ms after start): orders ${tl.firstOrder - t1}–${tl.lastOrder - t1}, signatures ${tl.firstSigned - t1}–${tl.lastSigned - t1}`,
        `  orders placed ${counting.orderTotal}, certificates signed ${counting.signedTotal} (${counting.orderTotal - counting.signedTotal} orders abandoned unsigned)`,
        `  renewals reported: ${procs.map((p) => `${p.owner}=${p.renewed.length}`).join(', ')}`,
        `  stale writes refused by the revision check (absorbed inside the stewards): ${survivors.map((p) => `${p.owner}=${p.stats!.staleWritesRejected}`).join(', ')}`,
      ].join('\n'),
    );
  }, 180_000);
});

describe('a claimant paused past its lease (SIGSTOP), on PostgreSQL', () => {
  const LEASE_MS = 2_000;
  let peers: Awaited<ReturnType<typeof fleetPeers>>;
  let paused: FleetProcess | undefined;

  beforeAll(async () => {
    peers = await fleetPeers(100);
  });

  afterAll(async () => {
    await paused?.reap();
    await peers?.counting.close();
    await peers?.db.drop();
  });

  it('cannot overwrite the renewal that another steward completed after its lease expired: its write is refused by the fencing token and reported as a conflict', async () => {
    const { store, counting, keys } = peers;
    const id = 'paused';
    const seedSerial = (await seed(peers, [id])).get(id)!;

    // Freeze the claimant the moment its order is placed, before the answer reaches it.
    let frozen: (orderRef: string) => void;
    const frozenAt = new Promise<string>((resolve) => (frozen = resolve));
    counting.beforeAnswer = async (call) => {
      if (call.kind !== 'order' || call.id !== id || !paused) return;
      counting.beforeAnswer = undefined;
      paused.child.kill('SIGSTOP');
      await untilStopped(paused.child.pid!);
      frozen(call.orderRef);
    };
    paused = new FleetProcess(
      { schema: peers.db.schema, authorityUrl: peers.url, mode: 'once', leaseMs: LEASE_MS, concurrency: 1, pollIntervalMs: null, label: 'paused' },
      peers.kek,
    );
    await withTimeout(paused.ready, 30_000, 'the claimant to start');
    const pausedOrder = await withTimeout(frozenAt, 30_000, 'the claimant to place its order');

    const held = (await store.get(id))!;
    expect(held.lease?.owner).toBe(paused.owner);
    expect(held.renewal.phase).toBe('key-ready');
    const claimantKeyId = held.renewal.keyRef!.id;

    // Its lease runs out while it is frozen; another steward (same KEK) takes over and completes the renewal.
    await sleep(held.lease!.until.getTime() - Date.now() + 200);
    const taker = createSteward({
      store,
      authorities: { fleet: counting.asAuthority() },
      keys,
      clock: systemClock,
      owner: 'taker',
      leaseMs: LEASE_MS,
      pollOrderMs: 50,
      pollIntervalMs: null,
    });
    const takerErrors: unknown[] = [];
    taker.on('error', (e) => void takerErrors.push(e));
    taker.on('renewal.failed', (e) => void takerErrors.push(e));
    const takerRuns: RunSummary[] = [];
    for (let i = 0; (await store.get(id))!.renewal.phase !== 'activated'; i++) {
      if (i > 50) throw new Error('the taker did not complete the renewal');
      takerRuns.push(await taker.runOnce());
      await sleep(100);
    }
    const completed = (await store.get(id))!;
    expect(takerErrors).toEqual([]);
    expect(takerRuns.reduce((n, s) => n + s.renewed, 0)).toBe(1);
    expect(takerRuns.reduce((n, s) => n + s.conflicts, 0)).toBe(0);
    expect(counting.signedFor(id)).toHaveLength(1);
    const takersCertificate = counting.signedFor(id)[0]!;
    expect(completed.current!.serialNumber).toBe(takersCertificate.serialNumber);

    // The claimant wakes up with its stale record and writes: the store refuses it.
    paused.child.kill('SIGCONT');
    const exit = await withTimeout(paused.exited, 30_000, 'the claimant to finish');
    expect(exit, paused.stderr).toEqual({ code: 0, signal: null });
    expect(paused.summary).toEqual({ claimed: 1, renewed: 0, failed: 0, alerts: 0, conflicts: 1 });
    expect(paused.errors).toEqual([]);
    expect(paused.stats!.events['error']).toBe(0);
    expect(paused.stats!.staleWritesRejected).toBe(1);

    // The record is exactly what the taker wrote: the taker's certificate (on the claimant's key), no stale order.
    const final = (await store.get(id))!;
    expect(final.revision).toBe(completed.revision);
    expect(final.renewal.phase).toBe('activated');
    expect(final.renewal.orderRef).toBeUndefined();
    expect(final.lease).toBeUndefined();
    expect(final.current!.serialNumber).toBe(takersCertificate.serialNumber);
    expect(final.current!.keyRef.id).toBe(claimantKeyId);
    // The claimant's order was never downloaded, so it was never signed.
    expect(counting.ordersFor(id)).toHaveLength(2);
    expect(counting.ordersFor(id)[0]).toBe(pausedOrder);
    expect(takersCertificate.orderRef).toBe(counting.ordersFor(id)[1]);
    expect(counting.signedFor(id)).toHaveLength(1);

    const trail = await store.audit(id);
    expect(trail.map((e) => e.type)).toEqual(['certificate.tracked', 'renewal.succeeded']);
    expect(trail[1]!.data).toMatchObject({ serialNumber: takersCertificate.serialNumber, previousSerialNumber: seedSerial });
    expect((await store.history(id)).map((c) => c.serialNumber)).toEqual([seedSerial]);
  }, 60_000);
});
