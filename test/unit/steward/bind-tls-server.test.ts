import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bindTlsServer, createSteward } from '../../../src/index.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { MemoryStore } from '../../../src/testing/memory-store.js';
import { TestAuthority } from '../../../src/testing/test-authority.js';

function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // Simulated time runs ahead of the real clock, so validity is not checked here; the serial is.
    void ca;
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'tls.example.test', rejectUnauthorized: false }, () => {
      const serial = socket.getPeerCertificate().serialNumber.toLowerCase();
      socket.end();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('bindTlsServer', () => {
  it('serves the renewed certificate after activation, refusing no connection in between', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    const keys = new MemoryKeyStore();
    const ca = await TestAuthority.create({ keys, clock, defaultLeafLifetimeMs: 30 * 86_400_000 });
    const steward = createSteward({ store: new MemoryStore(), authorities: { test: ca }, keys, clock, pollIntervalMs: null });
    await steward.track({ id: 'web', authority: 'test', subjectAltNames: ['tls.example.test'] });
    await steward.start();
    const server = tls.createServer({}, (s) => s.end());
    const swaps: string[] = [];
    const unbind = await bindTlsServer(server, steward, 'web', { onSwap: (i) => swaps.push(i.serialNumber) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(async () => {
      unbind();
      await steward.stop();
      await new Promise<void>((r) => server.close(() => r()));
    });
    const port = (server.address() as AddressInfo).port;
    const first = (await steward.get('web'))!.certificate!.serialNumber;
    expect(await servedSerial(port, ca.rootPem)).toBe(first);

    // Clients keep connecting while the renewal happens.
    let stop = false;
    const seen: string[] = [];
    const errors: unknown[] = [];
    const clients = (async () => {
      while (!stop) {
        try {
          seen.push(await servedSerial(port, ca.rootPem));
        } catch (e) {
          errors.push(e);
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    await clock.advance('25d');
    await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await clients;

    const second = (await steward.get('web'))!.certificate!.serialNumber;
    expect(second).not.toBe(first);
    expect(errors).toEqual([]);
    expect(seen[0]).toBe(first);
    expect(seen[seen.length - 1]).toBe(second);
    expect(await servedSerial(port, ca.rootPem)).toBe(second);
    expect(swaps).toEqual([first, second]);
  });

  it('picks up a renewal made by another process sharing the store, within refreshMs', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    const keys = new MemoryKeyStore();
    const ca = await TestAuthority.create({ keys, clock, defaultLeafLifetimeMs: 30 * 86_400_000 });
    const store = new MemoryStore();
    const worker = createSteward({ store, authorities: { test: ca }, keys, clock, pollIntervalMs: null, owner: 'worker' });
    const web = createSteward({ store, authorities: { test: ca }, keys, clock, pollIntervalMs: null, owner: 'web' });
    await worker.track({ id: 'web', authority: 'test', subjectAltNames: ['tls.example.test'] });
    await worker.start(); // only the worker renews; the web process only serves
    const swaps: string[] = [];
    const target = { setSecureContext: () => undefined };
    const unbind = await bindTlsServer(target, web, 'web', { refreshMs: 3_600_000, onSwap: (i) => swaps.push(i.serialNumber) });
    const first = (await web.get('web'))!.certificate!.serialNumber;
    await clock.advance('25d');
    const second = (await web.get('web'))!.certificate!.serialNumber;
    expect(second).not.toBe(first);
    expect(swaps).toEqual([first, second]);
    unbind();
    await worker.stop();
    expect(clock.pendingTimers).toBe(0);
  });
});
