/**
 * The whole steward lifecycle against a real ACME server: track → first
 * issuance → warning → scheduled renewal → hot reload of a live node:https
 * server, with Pebble issuing 10-minute certificates and the steward on a
 * ManualClock.
 *
 * Pebble stamps real wall-clock validity (notBefore = its own now) while the
 * steward judges certificates by the ManualClock. The test keeps the two
 * consistent: the clock follows real time (a fixed offset ahead of it), and
 * the one jump — to the warning threshold of the first certificate — is the
 * only offset introduced. After the jump the ManualClock is ahead of real
 * time, so the second certificate (stamped with real time) looks older than
 * it is: on the ManualClock it has
 *   warning − (its real age now) + (the first certificate's real age at the jump)
 * left, i.e. at least `warning` while it is younger than the first one was at
 * the jump. The test therefore lets the first certificate age in real
 * time before jumping (8 s) and finishes well within that: the renewed certificate
 * is then "ok" on the ManualClock, not immediately expiring or due again.
 * Real TLS clients verify the served chains against Pebble's root with real
 * time.
 */
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeAuthority, Http01Solver } from '../../../adapters/acme/index.js';
import { bindTlsServer, createSteward, type Steward, type StewardEvents } from '../../../src/index.js';
import { ManualClock, MemoryKeyStore, MemoryStore } from '../../../src/testing/index.js';
import { startPebble, type PebblePeer } from '../../support/pebble.js';

const ID = 'life';
const NAME = 'life.acme.test';
const VALIDITY_S = 600;
/** Warning and critical thresholds (the warning is below a quarter of the lifetime, so it is not scaled down). */
const WARNING_MS = 120_000;
/** Renew 117 s before expiry: 3 s of the certificate's life after the warning (120 s before expiry). */
const RENEW_BEFORE_MS = 117_000;

const normalSerial = (s: string) => s.toLowerCase().replace(/^0+/, '');

/** One real TLS connection: the serial the server presents, verified against `ca` with real time. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: NAME, ca, timeout: 5_000 }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(normalSerial(serial));
    });
    socket.on('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

/**
 * Moves the ManualClock along with real time, `offsetMs` ahead of it, until
 * `done()` holds: timers (the steward's steps, order polls) fire as their
 * simulated time comes, while Pebble works in real time.
 */
async function followRealTime(clock: ManualClock, offsetMs: number, done: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    const target = Date.now() + offsetMs;
    if (target > clock.now().getTime()) await clock.advanceTo(new Date(target));
    if (!done()) await sleep(50);
  }
}

describe('ACME lifecycle on a ManualClock (Pebble, 10-minute certificates)', () => {
  let pebble: PebblePeer;
  let http01: Http01Solver;
  let authority: AcmeAuthority;
  let steward: Steward | undefined;
  let server: Server | undefined;
  let unbind: (() => void) | undefined;

  beforeAll(async () => {
    pebble = await startPebble({ certificateValidityPeriod: VALIDITY_S });
    http01 = new Http01Solver();
    await http01.listen(pebble.httpPort, '127.0.0.1');
  });

  afterAll(async () => {
    unbind?.();
    await steward?.stop();
    authority?.close();
    if (server) await new Promise<void>((r) => server!.close(() => r()));
    await http01?.close();
    await pebble?.stop();
  });

  it('tracks, issues, warns at the threshold, renews on schedule and hot-swaps the served certificate with no refused connection', async () => {
    const t0 = Date.now();
    const clock = new ManualClock(new Date(t0));
    const keys = new MemoryKeyStore();
    const accountKey = await keys.generate({ algorithm: 'ECDSA-P256', label: 'acme-account' });
    authority = await AcmeAuthority.create({
      directoryUrl: pebble.directoryUrl,
      accountKey,
      termsOfServiceAgreed: true,
      solvers: [http01],
      ca: pebble.tlsCaPem,
      pollIntervalMs: 250,
    });
    steward = createSteward({
      store: new MemoryStore(),
      authorities: { pebble: authority },
      keys,
      clock,
      thresholds: { warning: '2m', critical: '1m' },
      pollIntervalMs: null,
      pollOrderMs: 250,
      retry: { min: '1s', base: '2s', max: '5s' },
    });
    const events: { [E in keyof StewardEvents]?: StewardEvents[E][] } = {};
    const record = <E extends keyof StewardEvents>(name: E) =>
      steward!.on(name, (e) => void ((events[name] ??= []) as StewardEvents[E][]).push(e));
    for (const name of ['certificate.expiring', 'certificate.expired', 'renewal.started', 'renewal.succeeded', 'renewal.failed', 'renewal.overdue', 'error'] as const) {
      record(name);
    }
    const succeeded = () => events['renewal.succeeded'] ?? [];

    // 1. Track: the first certificate is issued by Pebble (real http-01 validation).
    await steward.start();
    await steward.track({
      id: ID,
      authority: 'pebble',
      subjectAltNames: [NAME],
      renewal: { before: `${RENEW_BEFORE_MS / 1000}s`, critical: '30s', jitterRatio: 0 },
    });
    await followRealTime(clock, 0, () => succeeded().length >= 1 || (events['renewal.failed']?.length ?? 0) > 0, 'the first issuance');
    expect(events['renewal.failed'] ?? []).toEqual([]);
    const first = succeeded()[0]!;
    expect(first.previousSerialNumber).toBeUndefined();
    const lifetimeMs = first.notAfter.getTime() - first.notBefore.getTime();
    expect(lifetimeMs).toBeGreaterThan((VALIDITY_S - 5) * 1000);
    expect(lifetimeMs).toBeLessThanOrEqual(VALIDITY_S * 1000);
    expect(first.chainPem).toContain('BEGIN CERTIFICATE');

    // 2. A real HTTPS server, bound to the steward: serves the first certificate, verified against Pebble's root.
    const root = await pebble.root();
    const swaps: string[] = [];
    server = createHttpsServer({}, (_req, res) => res.end('ok'));
    unbind = await bindTlsServer(server, steward, ID, { onSwap: (s) => swaps.push(normalSerial(s.serialNumber)) });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    expect(await servedSerial(port, root)).toBe(normalSerial(first.serialNumber));

    // 3. Jump to the warning threshold of the first certificate: certificate.expiring, no renewal yet.
    // First let it age in real time (see the header): the renewed certificate must be younger at the end.
    const AGE_BEFORE_JUMP_MS = 8_000;
    await sleep(Math.max(0, first.notBefore.getTime() + AGE_BEFORE_JUMP_MS - Date.now()));
    const warningMs = Math.min(WARNING_MS, lifetimeMs / 4);
    const warningAt = first.notAfter.getTime() - warningMs;
    const renewAt = first.notAfter.getTime() - RENEW_BEFORE_MS;
    expect(renewAt).toBeGreaterThan(warningAt);
    expect((await steward.explain(ID)).plan?.at.getTime()).toBe(renewAt);
    await clock.advanceTo(new Date(warningAt));
    expect(events['certificate.expiring']).toHaveLength(1);
    expect(events['certificate.expiring']![0]).toMatchObject({ id: ID, level: 'warning', serialNumber: first.serialNumber });
    expect((await steward.get(ID))!.expiry!.status).toBe('warning');
    expect(events['renewal.started']!.map((e) => e.cause)).toEqual(['initial']);
    expect(await servedSerial(port, root)).toBe(normalSerial(first.serialNumber));

    // 4. Follow real time from there while clients keep connecting: the scheduled renewal runs, the server swaps.
    const seen: string[] = [];
    const refused: unknown[] = [];
    let probing = true;
    const clients = (async () => {
      while (probing) {
        try {
          seen.push(await servedSerial(port, root));
        } catch (e) {
          refused.push(e);
        }
        await sleep(20);
      }
    })();
    const offset = clock.now().getTime() - Date.now();
    await followRealTime(
      clock,
      offset,
      () => (succeeded().length >= 2 && swaps.length >= 2) || (events['renewal.failed']?.length ?? 0) > 0,
      'the scheduled renewal and the swap',
    );
    await sleep(200); // a few more connections on the new certificate
    probing = false;
    await clients;

    expect(events['renewal.failed'] ?? []).toEqual([]);
    const second = succeeded()[1]!;
    expect(events['renewal.started']!.map((e) => e.cause)).toEqual(['initial', 'scheduled']);
    expect(events['renewal.started']![1]!.rule).toBe('before');
    expect(events['renewal.started']![1]!.at.getTime()).toBe(renewAt);
    expect(second.previousSerialNumber).toBe(first.serialNumber);
    expect(second.serialNumber).not.toBe(first.serialNumber);
    expect(second.keyRotated).toBe(true);
    expect(swaps).toEqual([normalSerial(first.serialNumber), normalSerial(second.serialNumber)]);

    // Clients: every connection succeeded and verified; the old serial, then the new one, never back.
    expect(refused).toEqual([]);
    expect(seen.length).toBeGreaterThan(10);
    const firstNew = seen.indexOf(normalSerial(second.serialNumber));
    expect(seen[0]).toBe(normalSerial(first.serialNumber));
    expect(firstNew).toBeGreaterThan(0);
    expect(seen.slice(0, firstNew).every((s) => s === normalSerial(first.serialNumber))).toBe(true);
    expect(seen.slice(firstNew).every((s) => s === normalSerial(second.serialNumber))).toBe(true);
    expect(await servedSerial(port, root)).toBe(normalSerial(second.serialNumber));

    // The simulated and real clocks stayed consistent: the new certificate is "ok" on the ManualClock,
    // nothing more was announced, and its own renewal is planned later (no renewal loop).
    const view = (await steward.get(ID))!;
    expect(view.certificate!.serialNumber).toBe(second.serialNumber);
    expect(view.renewal.phase).toBe('activated');
    expect(view.expiry!.status).toBe('ok');
    // One more second of following real time announces nothing new either.
    const settled = Date.now() + 1_000;
    await followRealTime(clock, offset, () => Date.now() >= settled, 'one more second');
    expect(events['certificate.expiring']).toHaveLength(1);
    expect(succeeded()).toHaveLength(2);
    expect(events['certificate.expired'] ?? []).toEqual([]);
    expect(events['renewal.overdue'] ?? []).toEqual([]);
    expect(events['error'] ?? []).toEqual([]);
    expect((await steward.explain(ID)).plan!.at.getTime()).toBeGreaterThan(clock.now().getTime());
    console.log(
      `[acme-lifecycle] issued ${first.serialNumber}, warned at ${new Date(warningAt).toISOString()}, renewed to ${second.serialNumber}; ` +
        `${seen.length} TLS connections, swap after ${firstNew}; ManualClock ${Math.round(offset / 1000)} s ahead of real time; ${Date.now() - t0} ms`,
    );
  });
});
