/**
 * After a crash, resume() continues the order that was placed instead of
 * placing another. Each test runs a steward in a child process
 * (test/support/acme-crash-worker.mjs, the BUILT package) on a SQLite file
 * shared with this process, against a Pebble started here with real http-01
 * validation, and SIGKILLs it at one point of the order:
 *
 *   submitted   right after the order was placed (record committed at
 *               `submitted` with its orderRef, nothing else done)
 *   present     while a challenge is being presented (the CA not yet told)
 *   finalized   after the order was finalized with the CSR, before the download
 *   downloaded  after the chain was downloaded, before the steward persisted it
 *
 * A fresh child then takes the record over. For each point: the order URL
 * persisted before the crash is the one that ends `valid` at the CA, its
 * certificate is the one activated (with the key generated before the
 * crash), and exactly one newOrder request reached the CA across both
 * processes (counted on the wire in each child).
 *
 * The children are given the account URL the host saved (AcmeAuthority's
 * `accountUrl`), except in the last test, where the fresh process has only
 * the account key and must find the account by it, as a host that never
 * saved the URL does after a restart.
 */
import { execFileSync } from 'node:child_process';
import { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as acmeModule from 'acme-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AcmeClientModule } from '../../../adapters/acme/index.js';
import { KnexStore } from '../../../adapters/knex/index.js';
import { SoftwareKeyStore, createSteward, parseCertificate, systemClock, type CertificateAuthority, type KeyRef, type Steward } from '../../../src/index.js';
import { freshSqlite } from '../../support/databases.js';
import { startPebble, type PebblePeer } from '../../support/pebble.js';
import { WorkerProcess, type Exit } from '../../support/worker-process.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const WORKER = join(root, 'test', 'support', 'acme-crash-worker.mjs');
const LEASE_MS = 3_000;

const acme = ((acmeModule as unknown as { default?: AcmeClientModule }).default ?? acmeModule) as AcmeClientModule;

/** Children run dist/: build it when it is missing (npm test builds it first). */
function ensureDist(): void {
  if (['index.js', 'knex.js', 'acme.js'].every((f) => existsSync(join(root, 'dist', f)))) return;
  execFileSync('npx', ['tsup', '--silent'], { cwd: root, stdio: 'inherit' });
}

type CrashPoint = 'submitted' | 'present' | 'finalized' | 'downloaded';

type WorkerLine =
  | { type: 'ready'; owner: string; pid: number }
  | { type: 'new-order'; url: string }
  | { type: 'presented'; id: string; token: string }
  | { type: 'crash-point'; point: CrashPoint; id?: string; orderRef?: string; orderUrl?: string; status?: string; serialNumber?: string; identifier?: string; token?: string }
  | { type: 'renewed'; id: string; serialNumber: string }
  | { type: 'failed'; id: string; errorKind: string; message: string; phase: string }
  | { type: 'key-created'; id: string; keyId: string }
  | { type: 'error'; where: string; message: string }
  | { type: 'stats' };

interface WorkerConfig {
  sqlite: string;
  directoryUrl: string;
  tlsCaPem: string;
  httpPort: number;
  accountKeyRef: KeyRef;
  accountUrl?: string;
  crashAt: CrashPoint | 'none';
  leaseMs: number;
  label: string;
}

/** One child process and everything it reported. */
class CrashWorker extends WorkerProcess<WorkerLine> {
  readonly #waiters: { match: (l: WorkerLine) => boolean; resolve: (l: WorkerLine) => void }[] = [];

  constructor(config: WorkerConfig, kek: Uint8Array) {
    super(WORKER, { CRASH_KEK: Buffer.from(kek).toString('base64'), CRASH_CONFIG: JSON.stringify(config) });
  }

  protected override onLine(line: WorkerLine): void {
    for (const w of [...this.#waiters]) {
      if (w.match(line)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }

  /** The first line (already seen or to come) matching `match`; fails with what the child said when it exits or times out. */
  waitFor<L extends WorkerLine>(match: (l: WorkerLine) => l is L, what: string, timeoutMs = 30_000): Promise<L> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<L>((resolve, reject) => {
      const fail = (why: string) => reject(new Error(`${what}: ${why}\nlines: ${JSON.stringify(this.lines)}\nstderr: ${this.stderr}`));
      const timer = setTimeout(() => fail(`not seen within ${timeoutMs} ms`), timeoutMs);
      void this.exited.then((x) => fail(`the child exited (${x.code ?? x.signal})`));
      this.#waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l as L);
        },
      });
    });
  }

  of<T extends WorkerLine['type']>(type: T): Extract<WorkerLine, { type: T }>[] {
    return this.lines.filter((l): l is Extract<WorkerLine, { type: T }> => l.type === type);
  }

  async kill(): Promise<Exit> {
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** A clean exit: the worker stops its steward when stdin closes. */
  async stop(): Promise<Exit> {
    this.child.stdin!.end();
    return this.exited;
  }
}

describe('ACME crash and resume across processes (Pebble, SQLite shared by processes)', () => {
  let pebble: PebblePeer;
  let db: ReturnType<typeof freshSqlite>;
  let store: KnexStore;
  let kek: Uint8Array;
  let accountKeyRef: KeyRef;
  let accountKeyPem: string;
  let accountUrl: string;
  let tracker: Steward;
  const workers: CrashWorker[] = [];

  beforeAll(async () => {
    ensureDist();
    pebble = await startPebble();
    db = freshSqlite();
    store = new KnexStore(db.knex);
    await store.migrate();
    kek = SoftwareKeyStore.generateKek();
    // The account key is shared by every process (one ACME account); this process also reads orders with it.
    const keys = new SoftwareKeyStore({ kek, exportable: true });
    const accountKey = await keys.generate({ algorithm: 'ECDSA-P256', label: 'acme-account' });
    accountKeyRef = accountKey.ref;
    accountKeyPem = KeyObject.from(accountKey.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
    // Tracks certificates in the shared store; never started (the children do the work).
    const nobody: CertificateAuthority = {
      describe: () => ({ kind: 'test' }),
      issue: () => Promise.reject(new Error('the test process places no order')),
      resume: () => Promise.reject(new Error('the test process resumes no order')),
    };
    tracker = createSteward({ store, authorities: { pebble: nobody }, keys, clock: systemClock });
    // This process reads orders at the CA directly (acme-client's axios is process-wide; only this test file's process).
    acme.axios.defaults.httpsAgent = pebble.agent;
    // The account exists before any child runs, and the host saved its URL (AcmeAuthority's accountUrl option).
    const client = new acme.Client({ directoryUrl: pebble.directoryUrl, accountKey: accountKeyPem });
    await client.createAccount({ termsOfServiceAgreed: true });
    accountUrl = client.getAccountUrl();
  });

  // One child at a time listens on Pebble's http-01 port: none outlives its test.
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.kill()));
  });

  afterAll(async () => {
    await Promise.all(workers.splice(0).map((w) => w.kill()));
    await db?.drop();
    await pebble?.stop();
  });

  function worker(crashAt: CrashPoint | 'none', label: string, options: { savedAccountUrl: boolean }): CrashWorker {
    const w = new CrashWorker(
      {
        sqlite: db.filename,
        directoryUrl: pebble.directoryUrl,
        tlsCaPem: pebble.tlsCaPem,
        httpPort: pebble.httpPort,
        accountKeyRef,
        ...(options.savedAccountUrl ? { accountUrl } : {}),
        crashAt,
        leaseMs: LEASE_MS,
        label,
      },
      kek,
    );
    workers.push(w);
    return w;
  }

  /** The order as the CA sees it now, read with the shared account. */
  async function orderAtCa(orderUrl: string, accountUrl: string): Promise<{ status: string; leafSerial: string | undefined }> {
    const client = new acme.Client({ directoryUrl: pebble.directoryUrl, accountKey: accountKeyPem, accountUrl });
    const order = await client.getOrder({ url: orderUrl } as Parameters<typeof client.getOrder>[0]);
    if (order.status !== 'valid') return { status: order.status, leafSerial: undefined };
    const chain = await client.getCertificate(order);
    return { status: order.status, leafSerial: parseCertificate(chain).serialNumber };
  }

  /**
   * Tracks a certificate, runs a first process until `point` and SIGKILLs it there, then lets a
   * fresh process finish; checks the order, the count of newOrder requests and the activation.
   */
  async function crashAndResume(point: CrashPoint, label: string, secondSavedAccountUrl: boolean): Promise<void> {
    const t0 = Date.now();
    const id = `crash-${label}`;
    await tracker.track({ id, authority: 'pebble', subjectAltNames: [`${label}.crash.test`] });

    // 1. The first process runs until the crash point, where it blocks; the record is as it left it.
    const first = worker(point, `${label}-first`, { savedAccountUrl: true });
    const crash = await first.waitFor((l): l is Extract<WorkerLine, { type: 'crash-point' }> => l.type === 'crash-point', `${point}: crash point`);
    expect(crash.point).toBe(point);
    const atCrash = (await store.get(id))!;
    expect(atCrash.renewal.phase).toBe('submitted');
    expect(atCrash.current).toBeUndefined();
    const ref = JSON.parse(atCrash.renewal.orderRef!) as { order: string; account: string };
    const keyAtCrash = atCrash.renewal.keyRef!;
    expect(ref.account).toBe(accountUrl);
    expect(first.of('new-order').map((l) => l.url)).toEqual([ref.order]);
    if (point === 'submitted') expect(JSON.parse(crash.orderRef!).order).toBe(ref.order);
    if (point === 'present') expect(crash.identifier).toBe(`${label}.crash.test`);
    if (point === 'finalized') expect(['processing', 'valid']).toContain(crash.status);
    if (point === 'finalized') expect(crash.orderUrl).toBe(ref.order);
    if (point === 'downloaded') expect(JSON.parse(crash.orderRef!).order).toBe(ref.order);
    const killed = await first.kill();
    expect(killed.signal).toBe('SIGKILL');
    expect(first.of('renewed')).toEqual([]);

    // 2. A fresh process takes the record over (after the dead one's lease, when it held one) and finishes it.
    const second = worker('none', `${label}-second`, { savedAccountUrl: secondSavedAccountUrl });
    // A renewal.failed or a new order ends the wait too (neither is expected): the test fails with it at once.
    const outcome = await second.waitFor(
      (l): l is Extract<WorkerLine, { type: 'renewed' | 'failed' | 'new-order' }> =>
        ((l.type === 'renewed' || l.type === 'failed') && l.id === id) || l.type === 'new-order',
      `${point}: the resumed renewal`,
    );
    if (outcome.type === 'new-order') throw new Error(`the fresh process placed another order (${outcome.url}) instead of resuming ${ref.order}`);
    if (outcome.type === 'failed') throw new Error(`the fresh process failed to resume: ${outcome.errorKind}: ${outcome.message} (phase ${outcome.phase})`);
    const renewed = outcome;
    const exit = await second.stop();
    expect(exit.code).toBe(0);

    // The same order, never another: one newOrder across both processes, none by the second.
    const newOrders = [...first.of('new-order'), ...second.of('new-order')].map((l) => l.url);
    expect(newOrders).toEqual([ref.order]);
    expect(second.of('failed')).toEqual([]);
    expect(second.of('error')).toEqual([]);
    expect(second.of('key-created')).toEqual([]);
    // Only an order whose challenge was never answered needs answering again.
    expect(second.of('presented').length).toBe(point === 'submitted' || point === 'present' ? 1 : 0);

    // The order that was persisted before the crash ends valid, and its certificate is the one activated.
    const after = (await store.get(id))!;
    expect(after.renewal.phase).toBe('activated');
    expect(after.current!.serialNumber).toBe(renewed.serialNumber);
    expect(after.current!.keyRef.id).toBe(keyAtCrash.id);
    const atCa = await orderAtCa(ref.order, ref.account);
    expect(atCa.status).toBe('valid');
    expect(atCa.leafSerial).toBe(after.current!.serialNumber);
    if (point === 'downloaded') expect(crash.serialNumber).toBe(after.current!.serialNumber);
    expect(parseCertificate(after.current!.chainPem).subjectAltNames.map((n) => n.value)).toEqual([`${label}.crash.test`]);
    console.log(`[acme-crash-resume] ${label}: order ${ref.order} resumed by a fresh process, serial ${renewed.serialNumber}, ${Date.now() - t0} ms`);
  }

  const points: { point: CrashPoint; proves: string }[] = [
    { point: 'submitted', proves: 'killed right after the order was placed and persisted at submitted' },
    { point: 'present', proves: 'killed while its challenge was being presented' },
    { point: 'finalized', proves: 'killed after finalize, before the download' },
    { point: 'downloaded', proves: 'killed after the download, before the chain was persisted' },
  ];

  for (const { point, proves } of points) {
    it(`${proves}: a fresh process resumes that same order (1 newOrder in total), which ends valid, and activates its certificate`, async () => {
      await crashAndResume(point, point, true);
    });
  }

  it('killed at submitted, restarted without a saved accountUrl: the fresh process finds the same ACME account by its key and resumes the order', async () => {
    await crashAndResume('submitted', 'no-account-url', false);
  });
});
