/**
 * The steward and Fabric CA together: a key-compromise revocation is replaced
 * although the revoked certificate can no longer authenticate a re-enrollment
 * (the replacement goes through the registrar).
 */
import { expect, it } from 'vitest';
import { FabricCaAuthority } from '../../../adapters/fabric-ca/index.js';
import { createSteward } from '../../../src/steward/steward.js';
import { systemClock } from '../../../src/steward/system-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { MemoryStore } from '../../../src/testing/memory-store.js';
import { startFabricCaServer } from '../../support/fabric-ca-server.js';

it('replaces a certificate revoked for key compromise through the registrar, since the revoked one cannot re-enroll', async () => {
  const s = await startFabricCaServer();
  const fabric = new FabricCaAuthority({ url: s.url, caName: s.caName, tls: { ca: s.tlsCaPem }, registrar: { enrollmentId: 'admin', enrollmentSecret: 'adminpw' } });
  await fabric.register({ id: 'peer1', type: 'peer', affiliation: 'org1' });
  const steward = createSteward({ store: new MemoryStore(), keys: new MemoryKeyStore(), clock: systemClock, authorities: { fabric }, pollIntervalMs: null });
  const failed: string[] = [];
  steward.on('renewal.failed', (e) => void failed.push(e.errorKind));
  await steward.track({ id: 'peer1', authority: 'fabric', commonName: 'peer1', subjectAltNames: ['peer1.example.com'] });
  await steward.runOnce();
  const first = (await steward.get('peer1'))!.certificate!.serialNumber;
  await steward.revoke('peer1', 'keyCompromise');
  const view = (await steward.get('peer1'))!;
  await steward.stop();
  await s.stop();
  expect(view.certificate!.serialNumber).not.toBe(first);
  expect(failed).toEqual([]);
  expect(s.issued().find((c) => c.serial === first.replace(/^0+/, ''))?.revoked).toBe(true);
});

it('recovers through the registrar when the current certificate\'s key is gone, instead of failing until it expires', async () => {
  const s = await startFabricCaServer();
  try {
    const fabric = new FabricCaAuthority({ url: s.url, caName: s.caName, tls: { ca: s.tlsCaPem }, registrar: { enrollmentId: 'admin', enrollmentSecret: 'adminpw' } });
    await fabric.register({ id: 'peer2', type: 'peer', affiliation: 'org1' });
    const keys = new MemoryKeyStore();
    const store = new MemoryStore();
    const steward = createSteward({ store, keys, clock: systemClock, authorities: { fabric }, pollIntervalMs: null });
    const failed: string[] = [];
    steward.on('renewal.failed', (e) => void failed.push(`${e.errorKind}: ${e.message}`));
    await steward.track({ id: 'peer2', authority: 'fabric', commonName: 'peer2', subjectAltNames: ['peer2.example.com'] });
    await steward.runOnce();
    const first = (await store.get('peer2'))!.current!;
    await keys.destroy(first.keyRef);
    const from = s.requests.length;
    await steward.renewNow('peer2');
    await steward.stop();
    expect(failed).toEqual([]);
    expect((await store.get('peer2'))!.current!.serialNumber).not.toBe(first.serialNumber);
    const calls = s.requests.slice(from).filter((r) => !r.path.includes('/cainfo')).map((r) => `${r.method} ${r.path.split('?')[0]} ${r.status}`);
    expect(calls).toEqual(['GET /api/v1/identities/peer2 200', 'PUT /api/v1/identities/peer2 200', 'POST /api/v1/enroll 201']);
  } finally {
    await s.stop();
  }
});
