import { describe, expect, it } from 'vitest';
import { AuthorityError, ConfigError } from '../../../src/errors.js';
import { parseCertificate } from '../../../src/pki/certificate.js';
import { verifyChain } from '../../../src/pki/chain.js';
import { buildCsr } from '../../../src/pki/csr.js';
import type { IssueRequest, IssueResult } from '../../../src/ports/certificate-authority.js';
import type { KeyStore } from '../../../src/ports/key-store.js';
import { describeCertificateAuthority } from '../../../src/testing/contracts/authority-contract.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { TestAuthority } from '../../../src/testing/test-authority.js';


const START = '2030-01-01T00:00:00Z';

async function setup(): Promise<{ keys: MemoryKeyStore; clock: ManualClock; ca: TestAuthority }> {
  const keys = new MemoryKeyStore();
  const clock = new ManualClock(START);
  return { keys, clock, ca: await TestAuthority.create({ keys, clock }) };
}

async function requestFor(keys: KeyStore, id = 'api'): Promise<IssueRequest> {
  const key = await keys.generate({ algorithm: 'ECDSA-P256' });
  const subjectAltNames = [{ type: 'dns', value: `${id}.test` }] as const;
  return { id, key, subjectAltNames, csrPem: await buildCsr({ key, subjectAltNames }) };
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

function orderRefOf(r: IssueResult): string {
  if (r.status !== 'pending') throw new Error(`expected pending, got ${r.status}`);
  return r.orderRef;
}

describe('TestAuthority: contract', () => {
  describeCertificateAuthority({ describe, it, expect }, async () => {
    const { keys, clock, ca } = await setup();
    return {
      authority: ca,
      clock,
      trustAnchorsPem: ca.rootPem,
      makeKey: () => keys.generate({ algorithm: 'ECDSA-P256' }),
      forcePending: () => void ca.pendingOrders(2),
    };
  });
});

describe('TestAuthority: behaving', () => {
  it('issues real chains from its local CA and counts them', async () => {
    const { keys, ca } = await setup();
    const r = await ca.issue(await requestFor(keys));
    expect(r.status).toBe('issued');
    expect(verifyChain(r.status === 'issued' ? r.chainPem : '', { roots: ca.rootPem }).trusted).toBe(true);
    expect(ca.chainPem).toBe(ca.local.chainPem);
    expect({ calls: ca.calls, issued: ca.issued, failures: ca.failures }).toEqual({ calls: 1, issued: 1, failures: 0 });
    expect(ca.describe()).toEqual({ kind: 'test' });
  });

  it('logs every call with its id, time and outcome', async () => {
    const { keys, clock, ca } = await setup();
    await ca.issue(await requestFor(keys, 'one'));
    await clock.advance('1h');
    ca.failNext(1, 'rate-limited');
    await errorOf(ca.issue(await requestFor(keys, 'two')));
    expect(ca.requests).toEqual([
      { op: 'issue', id: 'one', at: new Date(START), outcome: 'issued' },
      { op: 'issue', id: 'two', at: new Date('2030-01-01T01:00:00Z'), outcome: 'failed', errorKind: 'rate-limited' },
    ]);
  });
});

describe('TestAuthority: misbehaving', () => {
  it('failNext(n, kind, retryAfterMs) fails the next n calls with that error, then issues', async () => {
    const { keys, ca } = await setup();
    const req = await requestFor(keys);
    ca.failNext(2, 'rate-limited', 3_600_000);
    for (let i = 0; i < 2; i++) {
      const e = await errorOf(ca.issue(req));
      expect(e).toBeInstanceOf(AuthorityError);
      expect(e).toMatchObject({ kind: 'rate-limited', retryable: true, retryAfterMs: 3_600_000 });
    }
    expect((await ca.issue(req)).status).toBe('issued');
    expect({ calls: ca.calls, issued: ca.issued, failures: ca.failures }).toEqual({ calls: 3, issued: 1, failures: 2 });
  });

  it('failNext defaults to a retryable unavailable error; refused, unauthorized and revoked are not retryable', async () => {
    const { keys, ca } = await setup();
    const req = await requestFor(keys);
    ca.failNext(1);
    expect(await errorOf(ca.issue(req))).toMatchObject({ kind: 'unavailable', retryable: true, retryAfterMs: undefined });
    for (const kind of ['refused', 'unauthorized', 'revoked'] as const) {
      ca.failNext(1, kind);
      expect(await errorOf(ca.issue(req))).toMatchObject({ kind, retryable: false });
    }
    for (const kind of ['invalid-response', 'challenge-failed'] as const) {
      ca.failNext(1, kind);
      expect(await errorOf(ca.issue(req))).toMatchObject({ kind, retryable: true });
    }
    expect(() => ca.failNext(-1)).toThrow(ConfigError);
  });

  it('failUntil(date) fails every call while the clock is before the date, advising the time left', async () => {
    const { keys, clock, ca } = await setup();
    const req = await requestFor(keys);
    ca.failUntil(new Date('2030-01-01T06:00:00Z'));
    expect(await errorOf(ca.issue(req))).toMatchObject({ kind: 'unavailable', retryable: true, retryAfterMs: 6 * 3_600_000 });
    await clock.advance('5h');
    expect(await errorOf(ca.issue(req))).toMatchObject({ retryAfterMs: 3_600_000 });
    await clock.advance('1h');
    expect((await ca.issue(req)).status).toBe('issued');
    expect(ca.failures).toBe(2);
  });

  it('refuse(id) refuses that id permanently and not retryably until allow(id); other ids are served', async () => {
    const { keys, clock, ca } = await setup();
    const api = await requestFor(keys, 'api');
    const web = await requestFor(keys, 'web');
    ca.refuse('api');
    for (let i = 0; i < 3; i++) {
      expect(await errorOf(ca.issue(api))).toMatchObject({ kind: 'refused', retryable: false });
      await clock.advance('30d');
    }
    expect((await ca.issue(web)).status).toBe('issued');
    ca.allow('api');
    expect((await ca.issue(api)).status).toBe('issued');
  });

  it('stall(ms) answers only after ms on the clock', async () => {
    const { keys, clock, ca } = await setup();
    const req = await requestFor(keys);
    ca.stall(30_000);
    let settled = false;
    const p = ca.issue(req).then((r) => {
      settled = true;
      return r;
    });
    await clock.advance('29s');
    expect(settled).toBe(false);
    await clock.advance('1s');
    expect((await p).status).toBe('issued');
    expect(settled).toBe(true);
    ca.stall(0);
    expect((await ca.issue(req)).status).toBe('issued');
  });

  it('stall(ms) honours the AbortSignal: the call rejects with its reason and leaves no timer behind', async () => {
    const { keys, clock, ca } = await setup();
    ca.stall(60_000);
    const controller = new AbortController();
    const p = errorOf(ca.issue(await requestFor(keys), { signal: controller.signal }));
    await clock.advance('10s');
    const reason = new Error('deadline');
    controller.abort(reason);
    expect(await p).toBe(reason);
    expect(clock.pendingTimers).toBe(0);
    expect(ca.requests.at(-1)?.outcome).toBe('aborted');
    expect({ failures: ca.failures, issued: ca.issued }).toEqual({ failures: 0, issued: 0 });
  });

  it('pendingOrders(n) leaves orders pending for n resumes, then issues; a finished order answers the same chain', async () => {
    const { keys, ca } = await setup();
    const req = await requestFor(keys);
    ca.pendingOrders(2, 5_000);
    const first = await ca.issue(req);
    expect(first).toMatchObject({ status: 'pending', retryAfterMs: 5_000 });
    let ref = orderRefOf(first);
    expect(typeof JSON.parse(ref)).toBe('object');
    ref = orderRefOf(await ca.resume(ref, req));
    ref = orderRefOf(await ca.resume(ref, req));
    const done = await ca.resume(ref, req);
    expect(done.status).toBe('issued');
    expect(await ca.resume(ref, req)).toEqual(done);
    expect(ca.issued).toBe(2);
    expect(ca.requests.map((c) => c.outcome)).toEqual(['pending', 'pending', 'pending', 'issued', 'issued']);
  });

  it('counts polls of a reused first order reference too', async () => {
    const { keys, ca } = await setup();
    const req = await requestFor(keys);
    ca.pendingOrders(1);
    const ref = orderRefOf(await ca.issue(req));
    expect((await ca.resume(ref, req)).status).toBe('pending');
    expect((await ca.resume(ref, req)).status).toBe('issued');
  });

  it('resumes, in a new TestAuthority over the same CA state, an order a previous instance left pending', async () => {
    const { keys, clock, ca } = await setup();
    const req = await requestFor(keys);
    ca.pendingOrders(1);
    const ref = orderRefOf(await ca.issue(req));
    const latest = orderRefOf(await ca.resume(ref, req));
    const persisted = JSON.stringify({ state: ca, ref: latest });

    // "Restart": only JSON survives.
    const saved = JSON.parse(persisted) as { state: ReturnType<TestAuthority['toJSON']>; ref: string };
    const restarted = await TestAuthority.load(saved.state, { keys, clock });
    const r = await restarted.resume(saved.ref, req);
    expect(r.status).toBe('issued');
    const report = verifyChain(r.status === 'issued' ? r.chainPem : '', { roots: ca.rootPem });
    expect(report.trusted).toBe(true);
    // Also from the very first reference: the order finishes after its polls.
    const again = new TestAuthority(restarted.local, { clock });
    expect((await again.resume(ref, req)).status).toBe('pending');
    expect((await again.resume(ref, req)).status).toBe('issued');
  });

  it('refuses, not retryably, an order reference it did not make or one made for another id', async () => {
    const { keys, ca } = await setup();
    const api = await requestFor(keys, 'api');
    const web = await requestFor(keys, 'web');
    ca.pendingOrders(1);
    const ref = orderRefOf(await ca.issue(api));
    expect(await errorOf(ca.resume(ref, web))).toMatchObject({ kind: 'refused', retryable: false });
    for (const garbage of ['', '{', '[]', '{"certsteward":"test-order","v":1}', JSON.stringify({ ...JSON.parse(ref), pending: -1 })]) {
      expect(await errorOf(ca.resume(garbage, api))).toMatchObject({ kind: 'refused', retryable: false });
    }
  });

  it('applies failures to resume calls too', async () => {
    const { keys, ca } = await setup();
    const req = await requestFor(keys);
    ca.pendingOrders(1);
    const ref = orderRefOf(await ca.issue(req));
    ca.failNext(1, 'unavailable');
    expect(await errorOf(ca.resume(ref, req))).toMatchObject({ kind: 'unavailable' });
    expect((await ca.resume(ref, req)).status).toBe('pending');
  });

  it('reset() forgets misbehaviours, counters and the log', async () => {
    const { keys, clock, ca } = await setup();
    const req = await requestFor(keys);
    ca.failNext(5).failUntil(new Date('2031-01-01T00:00:00Z')).refuse('api').stall(1_000).pendingOrders(3);
    const p = errorOf(ca.issue(req));
    await clock.advance('1s');
    await p;
    ca.reset();
    expect((await ca.issue(req)).status).toBe('issued');
    expect({ calls: ca.calls, issued: ca.issued, failures: ca.failures, log: ca.requests.length }).toEqual({
      calls: 1,
      issued: 1,
      failures: 0,
      log: 1,
    });
  });
});

describe('TestAuthority: revocation', () => {
  it('revokes through the local CA and logs it', async () => {
    const { keys, ca } = await setup();
    const r = await ca.issue(await requestFor(keys));
    const pem = r.status === 'issued' ? r.chainPem : '';
    await ca.revoke(pem, 'keyCompromise');
    const serial = parseCertificate(pem).serialNumber;
    expect(ca.isRevoked(serial)).toBe(true);
    expect(ca.local.isRevoked(serial)).toBe(true);
    expect(ca.toJSON().revoked.map((x) => x.serial)).toEqual([serial]);
    expect(await errorOf(ca.revoke(ca.rootPem, 'superseded'))).toMatchObject({ kind: 'refused' });
    expect(ca.requests.filter((c) => c.op === 'revoke').map((c) => c.outcome)).toEqual(['revoked', 'failed']);
  });
});
