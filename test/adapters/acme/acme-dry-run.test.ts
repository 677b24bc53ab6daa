/**
 * Dry runs go to the CA's staging directory: a full order there (account,
 * challenge, finalize, download), nothing stored, nothing ordered from
 * production.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeAuthority, Http01Solver } from '../../../adapters/acme/index.js';
import { createSteward } from '../../../src/index.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { MemoryStore } from '../../../src/testing/memory-store.js';
import { startPebble, type PebblePeer } from '../../support/pebble.js';

describe('AcmeAuthority dry runs', () => {
  let production: PebblePeer;
  let staging: PebblePeer;
  const solvers: Http01Solver[] = [];
  beforeAll(async () => {
    [production, staging] = await Promise.all([startPebble(), startPebble()]);
  });
  afterAll(async () => {
    await Promise.all(solvers.map((s) => s.close()));
    await Promise.all([production?.stop(), staging?.stop()]);
  });

  it('renewNow(id, { dryRun: true }) orders from the staging directory and stores nothing', async () => {
    // One solver per CA: each Pebble validates http-01 on its own port.
    const prodHttp = new Http01Solver();
    const stagingHttp = new Http01Solver();
    solvers.push(prodHttp, stagingHttp);
    await prodHttp.listen(production.httpPort, '127.0.0.1');
    await stagingHttp.listen(staging.httpPort, '127.0.0.1');
    const keys = new MemoryKeyStore();
    const accountKey = await keys.generate({ algorithm: 'ECDSA-P256' });
    const acme = await AcmeAuthority.create({
      directoryUrl: production.directoryUrl,
      accountKey,
      termsOfServiceAgreed: true,
      ca: [production.tlsCaPem, staging.tlsCaPem],
      solvers: [prodHttp],
      staging: { directoryUrl: staging.directoryUrl, solvers: [stagingHttp] },
    });
    const clock = new ManualClock(new Date());
    const store = new MemoryStore();
    const steward = createSteward({ store, keys, clock, authorities: { acme }, pollIntervalMs: null, pollOrderMs: 1 });
    await steward.track({ id: 'api', authority: 'acme', subjectAltNames: ['api.dry-run.test'] });
    const failures: string[] = [];
    steward.on('renewal.failed', (e) => void failures.push(e.message));
    // The order is pending while Pebble processes it: poll as the steward's loop would, a second apart.
    for (let i = 0; i < 20 && !(await steward.get('api'))?.certificate; i++) {
      await steward.runOnce();
      await clock.advance('1s');
    }
    expect(failures).toEqual([]);
    const before = (await store.get('api'))!;
    expect(before.current).toBeDefined();
    expect((await production.certStatus(before.current!.serialNumber)).Status).toBe('Valid');

    // The dry run polls the pending order on the steward's clock: keep the manual clock moving meanwhile.
    let settled = false;
    const running = steward.renewNow('api', { dryRun: true }).finally(() => void (settled = true));
    while (!settled) {
      await new Promise((r) => setTimeout(r, 20));
      await clock.advance('1s');
    }
    const dry = await running;
    expect(dry.subjectAltNames).toEqual(['dns:api.dry-run.test']);
    expect(dry.serialNumber).not.toBe(before.current!.serialNumber);
    // Issued by staging, unknown to production.
    expect((await staging.certStatus(dry.serialNumber)).Status).toBe('Valid');
    await expect(production.certStatus(dry.serialNumber)).rejects.toThrow(/HTTP 404/);
    // Nothing stored: the record is exactly as before.
    expect(await store.get('api')).toEqual(before);
    expect(stagingHttp.pending + prodHttp.pending).toBe(0);
    acme.close();
  }, 60_000);

  it('without a staging option a dry run uses the authority itself', async () => {
    const keys = new MemoryKeyStore();
    const acme = await AcmeAuthority.create({
      directoryUrl: production.directoryUrl,
      accountKey: await keys.generate({ algorithm: 'ECDSA-P256' }),
      ca: production.tlsCaPem,
      solvers: [new Http01Solver()],
    });
    expect(await acme.staging()).toBe(acme);
    acme.close();
  });
});
