/**
 * Chaos against a real ACME server: Pebble rejects half of all good nonces
 * (PEBBLE_WFE_NONCEREJECT=50) and sleeps before each validation
 * (PEBBLE_VA_NOSLEEP off, PEBBLE_VA_SLEEPTIME=2: measured here, that adds
 * about 1–2 s to every validation; SLEEPTIME=1 made no measurable difference
 * from NOSLEEP). One steward (concurrency 8, retries after 1–5 s) issues 50
 * certificates through AcmeAuthority with real http-01 validation.
 *
 * acme-client retries a badNonce answer 5 times (6 tries), so a request
 * fails only when all 6 are rejected (1/64 at 50 %); across the ~10 signed
 * requests of each of 50 orders that happens a few times per run, or not at
 * all. Such a failure must reach the host as a `renewal.failed` event and be
 * retried by the steward's backoff until the certificate is issued. The test
 * prints what it observed: badNonce answers seen on the wire (absorbed by
 * acme-client or not), renewal.failed events by errorKind and phase, and
 * retries per certificate.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import * as acmeModule from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeAuthority, Http01Solver, type AcmeClientModule } from '../../../adapters/acme/index.js';
import { createSteward, parseCertificate, systemClock, type Steward, type StewardEvents } from '../../../src/index.js';
import { MemoryKeyStore, MemoryStore } from '../../../src/testing/index.js';
import { startPebble, type PebblePeer } from '../../support/pebble.js';

const COUNT = 50;
const ids = Array.from({ length: COUNT }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);
const nameOf = (id: string) => `${id}.chaos.test`;

const acme = ((acmeModule as unknown as { default?: AcmeClientModule }).default ?? acmeModule) as AcmeClientModule;

/** Counts the badNonce answers Pebble sends this process (a test-side interceptor; acme-client retries them itself). */
function countBadNonces(): { readonly count: number } {
  const counter = { count: 0 };
  (acme.axios as unknown as { interceptors: { response: { use(ok: (r: { status: number; data?: { type?: unknown } }) => unknown): number } } }).interceptors.response.use(
    (r) => {
      if (r.status === 400 && r.data?.type === 'urn:ietf:params:acme:error:badNonce') counter.count++;
      return r;
    },
  );
  return counter;
}

describe('ACME chaos: Pebble rejecting 50 % of nonces, with validation delays', () => {
  let pebble: PebblePeer;
  let http01: Http01Solver;
  let authority: AcmeAuthority | undefined;
  let steward: Steward | undefined;

  beforeAll(async () => {
    pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '50', PEBBLE_VA_NOSLEEP: '0', PEBBLE_VA_SLEEPTIME: '2' } });
    http01 = new Http01Solver();
    await http01.listen(pebble.httpPort, '127.0.0.1');
  });

  afterAll(async () => {
    await steward?.stop();
    authority?.close();
    await http01?.close();
    await pebble?.stop();
  });

  it('all 50 certificates are issued; every renewal.failed (a nonce rejected six times in a row) is reported and followed by a success of the same certificate', async () => {
    const t0 = Date.now();
    const badNonces = countBadNonces();
    const keys = new MemoryKeyStore();
    const accountKey = await keys.generate({ algorithm: 'ECDSA-P256', label: 'acme-account' });
    authority = await AcmeAuthority.create({
      directoryUrl: pebble.directoryUrl,
      accountKey,
      termsOfServiceAgreed: true,
      solvers: [http01],
      ca: pebble.tlsCaPem,
      acme,
      pollIntervalMs: 500,
    });
    const s = createSteward({
      store: new MemoryStore(),
      authorities: { pebble: authority },
      keys,
      clock: systemClock,
      concurrency: 8,
      pollIntervalMs: null,
      pollOrderMs: 500,
      retry: { min: '1s', base: '1s', max: '5s' },
      stopGraceMs: 5_000,
    });
    steward = s;
    type Ev = { type: 'failed'; e: StewardEvents['renewal.failed'] } | { type: 'succeeded'; e: StewardEvents['renewal.succeeded'] };
    const timeline: Ev[] = [];
    const errors: StewardEvents['error'][] = [];
    s.on('renewal.failed', (e) => void timeline.push({ type: 'failed', e }));
    s.on('renewal.succeeded', (e) => void timeline.push({ type: 'succeeded', e }));
    s.on('error', (e) => void errors.push(e));
    const done = new Set<string>();
    s.on('renewal.succeeded', (e) => void done.add(e.id));

    await s.start();
    for (const id of ids) await s.track({ id, authority: 'pebble', subjectAltNames: [nameOf(id)] });
    const deadline = Date.now() + 75_000;
    while (done.size < COUNT && Date.now() < deadline) await sleep(100);
    await s.stop();
    const elapsed = Date.now() - t0;

    const failures = timeline.filter((x): x is Extract<Ev, { type: 'failed' }> => x.type === 'failed').map((x) => x.e);
    const successes = timeline.filter((x): x is Extract<Ev, { type: 'succeeded' }> => x.type === 'succeeded').map((x) => x.e);
    const byKind: Record<string, number> = {};
    for (const f of failures) byKind[f.errorKind] = (byKind[f.errorKind] ?? 0) + 1;
    const byPhase: Record<string, number> = {};
    for (const f of failures) byPhase[f.phase] = (byPhase[f.phase] ?? 0) + 1;
    const retried = new Set(failures.map((f) => f.id));
    console.log(
      `[acme-chaos] ${successes.length}/${COUNT} issued in ${elapsed} ms; badNonce answers on the wire: ${badNonces.count}; ` +
        `renewal.failed: ${failures.length} ${JSON.stringify(byKind)} by phase ${JSON.stringify(byPhase)}; ` +
        `certificates retried: ${retried.size}, most attempts for one: ${Math.max(0, ...failures.map((f) => f.attempt)) + 1}; error events: ${errors.length}`,
    );
    for (const e of errors) console.log(`[acme-chaos] error event: ${e.id}: ${e.message}`);
    console.log(`[acme-chaos] successes at (s): ${successes.map((x) => ((x.at.getTime() - t0) / 1000).toFixed(1)).join(' ')}`);
    for (const f of failures) console.log(`[acme-chaos]   ${f.id} attempt ${f.attempt} (${f.phase}): ${f.errorKind} retryable=${f.retryable}: ${f.message}`);

    // All 50 end with a certificate, each issued once, for its own name.
    const missing = ids.filter((id) => !done.has(id));
    expect(missing, `not issued within the deadline: ${missing.join(', ')}`).toEqual([]);
    expect(successes).toHaveLength(COUNT);
    const views = await s.list();
    expect(views).toHaveLength(COUNT);
    for (const v of views) {
      expect(v.certificate, v.id).toBeDefined();
      expect(v.renewal.phase).toBe('activated');
      expect(parseCertificate(v.certificate!.chainPem).subjectAltNames.map((n) => n.value)).toEqual([nameOf(v.id)]);
    }
    // The chaos was real: Pebble rejected nonces, and acme-client retried them (most invisibly).
    expect(badNonces.count).toBeGreaterThan(50);

    // Every failure was reported, was caused by the injected chaos (a nonce rejected six times in a row),
    // and was followed by a success of the same certificate.
    for (const f of failures) {
      expect(f.message, `${f.id}: ${f.message}`).toMatch(/nonce/i);
      const after = successes.find((x) => x.id === f.id && x.at.getTime() >= f.at.getTime());
      expect(after, `${f.id} failed at ${f.at.toISOString()} and never succeeded after`).toBeDefined();
      expect(f.nextAttemptAt.getTime()).toBeLessThanOrEqual(after!.at.getTime());
    }
    // The count of failures per certificate matches the attempts reported (1, 2, … with no gap).
    for (const id of retried) {
      expect(failures.filter((f) => f.id === id).map((f) => f.attempt)).toEqual(
        Array.from({ length: failures.filter((f) => f.id === id).length }, (_, i) => i + 1),
      );
    }
    expect(errors.map((e) => e.message)).toEqual([]);
  }, 100_000);
});
