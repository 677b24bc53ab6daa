import { describe, expect, it } from 'vitest';
import {
  AuthorityError,
  ConfigError,
  ConflictError,
  NotFoundError,
  createSteward,
  parseCertificate,
  type StewardEventName,
  type StewardEvents,
  type StewardOptions,
} from '../../../src/index.js';
import { LocalAuthority } from '../../../adapters/local-ca/index.js';
import { buildCsr } from '../../../src/pki/csr.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { MemoryStore } from '../../../src/testing/memory-store.js';
import { TestAuthority } from '../../../src/testing/test-authority.js';

const D = 86_400_000;

async function world(lifetimeDays = 90) {
  const clock = new ManualClock('2026-01-01T00:00:00Z');
  const keys = new MemoryKeyStore();
  const ca = await TestAuthority.create({ keys, clock, defaultLeafLifetimeMs: lifetimeDays * D });
  const store = new MemoryStore();
  const events: Array<{ name: StewardEventName; p: Record<string, unknown> }> = [];
  const make = (extra: Partial<StewardOptions> = {}) => {
    const s = createSteward({ store, authorities: { test: ca }, keys, clock, pollIntervalMs: null, ...extra });
    for (const name of [
      'certificate.tracked', 'certificate.expiring', 'certificate.expired', 'certificate.revoked', 'renewal.started',
      'renewal.succeeded', 'renewal.failed', 'renewal.overdue', 'key.created', 'key.activated', 'key.retiring',
      'key.retired', 'key.destroyed', 'error',
    ] as const) {
      s.on(name, (p: StewardEvents[typeof name]) => void events.push({ name, p: p as unknown as Record<string, unknown> }));
    }
    return s;
  };
  const count = (name: StewardEventName) => events.filter((e) => e.name === name).length;
  return { clock, keys, ca, store, make, events, count };
}

describe('Steward operations', () => {
  it('never announces the same expiry threshold twice, also not after a restart', async () => {
    const w = await world(90);
    const a = w.make();
    await a.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'] });
    await a.start();
    w.ca.refuse('api');
    await w.clock.advance('85d'); // past warning (22.5 d left) and critical (7 d left)
    expect(w.count('certificate.expiring')).toBe(2);
    await a.stop();
    const b = w.make(); // a restarted process on the same store
    await b.start();
    await w.clock.advance('1d');
    expect(w.count('certificate.expiring')).toBe(2);
    await w.clock.advance('10d'); // past notAfter
    expect(w.count('certificate.expired')).toBe(1);
    await w.clock.advance('30d');
    expect(w.count('certificate.expired')).toBe(1);
    const expired = w.events.find((e) => e.name === 'certificate.expired')!.p;
    expect(String(expired.recovery)).toMatch(/renew/);
    // A refused certificate is still retried, with backoff, and each failure is reported.
    expect(w.count('renewal.failed')).toBeGreaterThan(3);
    expect(w.count('renewal.overdue')).toBe(1);
    await b.stop();
  });

  it('resumes a pending order after a restart instead of placing a second one', async () => {
    const w = await world();
    const a = w.make({ pollOrderMs: 60_000 });
    w.ca.pendingOrders(3);
    await a.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'] });
    await a.runOnce();
    const rec = await w.store.get('api');
    expect(rec?.renewal.phase).toBe('submitted');
    expect(rec?.renewal.orderRef).toBeTruthy();
    // The process dies here. A new one takes over after the lease.
    const b = w.make({ pollOrderMs: 60_000 });
    await b.start();
    await w.clock.advance('10m');
    const issueCalls = w.ca.requests.filter((r) => r.op === 'issue').length;
    expect(issueCalls).toBe(1);
    expect((await b.get('api'))?.certificate).toBeDefined();
    expect(w.ca.issued).toBe(1);
    await b.stop();
  });

  it('lets two stewards share one store without renewing anything twice', async () => {
    const w = await world(30);
    const a = w.make({ owner: 'a', concurrency: 3 });
    const b = w.make({ owner: 'b', concurrency: 3 });
    for (let i = 0; i < 40; i++) await a.track({ id: `c${i}`, authority: 'test', subjectAltNames: [`c${i}.example.test`] });
    await Promise.all([a.runOnce(), b.runOnce()]);
    expect(w.ca.issued).toBe(40);
    await Promise.all([a.start(), b.start()]);
    await w.clock.advance('25d');
    // Each certificate renewed exactly once in 25 days (30-day lifetime, renewal at 2/3 ± 1/20).
    expect(w.ca.issued).toBe(80);
    expect(w.count('error')).toBe(0);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('renews with the same key under rotate: never, and with a new key under rotate: always', async () => {
    const w = await world(30);
    const s = w.make();
    await s.track({ id: 'same', authority: 'test', subjectAltNames: ['same.example.test'], key: { rotate: 'never' } });
    await s.track({ id: 'new', authority: 'test', subjectAltNames: ['new.example.test'], key: { rotate: 'always', algorithm: 'ECDSA-P384' } });
    await s.start();
    const before = { same: (await s.get('same'))!, fresh: (await s.get('new'))! };
    await w.clock.advance('25d');
    const after = { same: (await s.get('same'))!, fresh: (await s.get('new'))! };
    expect(after.same.certificate!.serialNumber).not.toBe(before.same.certificate!.serialNumber);
    expect(after.same.certificate!.keyId).toBe(before.same.certificate!.keyId);
    expect(after.fresh.certificate!.keyId).not.toBe(before.fresh.certificate!.keyId);
    expect(parseCertificate(after.fresh.certificate!.chainPem).publicKey.curve).toBe('P-384');
    await s.stop();
  });

  it('defers orders beyond the per-authority rate limit instead of flooding the CA', async () => {
    const w = await world();
    const s = w.make({ rateLimits: { test: { burst: 5, perHour: 10 } } });
    for (let i = 0; i < 20; i++) await s.track({ id: `c${i}`, authority: 'test', subjectAltNames: [`c${i}.example.test`] });
    await s.start();
    expect(w.ca.issued).toBe(5);
    await w.clock.advance('30m');
    expect(w.ca.issued).toBe(10);
    await w.clock.advance('1h');
    expect(w.ca.issued).toBe(20);
    await s.stop();
  });

  it('counts orders in the shared issuance ledger: two stewards together never exceed a published limit, and defer instead of failing', async () => {
    const w = await world();
    const deferred: StewardEvents['renewal.deferred'][] = [];
    const limits = { test: [{ name: 'orders-per-day', per: 'authority' as const, max: 3, window: '1d' }] };
    const a = w.make({ issuanceLimits: limits, concurrency: 1 });
    const b = w.make({ issuanceLimits: limits, concurrency: 1 });
    for (const s of [a, b]) s.on('renewal.deferred', (e) => void deferred.push(e));
    for (let i = 0; i < 5; i++) await a.track({ id: `c${i}`, authority: 'test', subjectAltNames: [`c${i}.example.test`] });
    await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
    expect(w.ca.issued).toBe(3);
    expect(deferred.length).toBeGreaterThanOrEqual(2);
    expect(new Set(deferred.map((e) => e.limit))).toEqual(new Set(['orders-per-day']));
    // Room again exactly one day after the first order.
    for (const e of deferred) expect(e.retryAt.getTime()).toBe(w.clock.now().getTime() + D);
    expect(w.count('renewal.failed')).toBe(0);
    const waiting = (await a.list()).filter((c) => !c.certificate);
    expect(waiting).toHaveLength(2);
    expect((await w.store.audit(waiting[0]!.id)).map((e) => e.type)).toContain('renewal.deferred');
    await a.start();
    await w.clock.advance('1d');
    expect(w.ca.issued).toBe(5);
    expect((await a.list()).every((c) => c.certificate)).toBe(true);
    await a.stop();
  });

  it('defers the sixth order for the same names within a week (duplicate-certificate limit) and places it when the first leaves the window', async () => {
    const w = await world();
    const s = w.make({ issuanceLimits: { test: [{ name: 'duplicate-certificate', per: 'names', max: 5, window: '7d' }] } });
    await s.track({ id: 'api', authority: 'test', subjectAltNames: ['API.example.test', 'www.example.test'] });
    // Another record for the same names (other order, other case) shares the count.
    await s.track({ id: 'api-copy', authority: 'test', subjectAltNames: ['www.example.test', 'api.example.test'] });
    await s.track({ id: 'other', authority: 'test', subjectAltNames: ['other.example.test'] });
    await s.runOnce();
    const start = w.clock.now().getTime();
    for (let i = 0; i < 3; i++) await s.renewNow('api');
    expect(w.ca.issued).toBe(6); // api ×4, api-copy, other
    const deferred: StewardEvents['renewal.deferred'][] = [];
    s.on('renewal.deferred', (e) => void deferred.push(e));
    await s.renewNow('api-copy');
    expect(w.ca.issued).toBe(6);
    expect(deferred.map((e) => [e.id, e.limit, e.retryAt.getTime()])).toEqual([['api-copy', 'duplicate-certificate', start + 7 * D]]);
    await s.renewNow('other'); // other names: not limited
    expect(w.ca.issued).toBe(7);
    await s.start();
    await w.clock.advance('7d');
    expect(w.ca.issued).toBe(8);
    await s.stop();
  });

  it('never lets a full issuance limit outlast the emergency point: the renewal is deferred to it at the latest, then placed', async () => {
    const w = await world(10);
    const s = w.make({ issuanceLimits: { test: [{ name: 'orders-per-month', per: 'authority', max: 1, window: '30d' }] } });
    const deferred: StewardEvents['renewal.deferred'][] = [];
    s.on('renewal.deferred', (e) => void deferred.push(e));
    await s.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'], renewal: { fraction: 0.5, jitterRatio: 0 } });
    await s.start();
    const first = (await s.get('api'))!.certificate!;
    await w.clock.advance('12d');
    await s.stop();
    const plan = 8 * D; // latest = notAfter − min(7 d, lifetime / 5) = day 8 of a 10-day certificate
    // Deferred at its renewal time (day 5) and again when an expiry alert woke it: both times to day 8, not day 30.
    expect(deferred.length).toBeGreaterThanOrEqual(1);
    expect(new Set(deferred.map((e) => e.retryAt.getTime() - first.notBefore.getTime()))).toEqual(new Set([plan]));
    const now = (await s.get('api'))!.certificate!;
    expect(now.serialNumber).not.toBe(first.serialNumber);
    expect(now.notBefore.getTime() - first.notBefore.getTime()).toBeLessThanOrEqual(plan + 60_000);
    expect(w.count('certificate.expired')).toBe(0);
  });

  it('refuses issuance limits it cannot keep: an unknown authority, a store without a ledger, a malformed limit', async () => {
    const w = await world();
    const ok = { name: 'orders', per: 'authority' as const, max: 1, window: '1h' };
    expect(() => w.make({ issuanceLimits: { nope: [ok] } })).toThrow(/not one of the steward's authorities/);
    const { reserveIssuance: _dropped, ...withoutLedger } = Object.fromEntries(
      Object.getOwnPropertyNames(MemoryStore.prototype).map((k) => [k, (w.store as unknown as Record<string, unknown>)[k]]),
    );
    const bare = { ...withoutLedger } as unknown as MemoryStore;
    expect(() => w.make({ store: bare, issuanceLimits: { test: [ok] } })).toThrow(/issuance ledger/);
    expect(() => w.make({ issuanceLimits: { test: [{ ...ok, max: 0 }] } })).toThrow(/max must be an integer/);
    expect(() => w.make({ issuanceLimits: { test: [{ ...ok, window: 'soon' }] } })).toThrow(ConfigError);
    expect(() => w.make({ issuanceLimits: { test: [ok, ok] } })).toThrow(/given twice/);
  });

  it('summary() counts the fleet at fixed thresholds in the store, and the same by paging when the store cannot count', async () => {
    const w = await world(90);
    const s = w.make({ thresholds: { warning: '30d', critical: '7d' } });
    for (let i = 0; i < 6; i++) await s.track({ id: `c${i}`, authority: 'test', subjectAltNames: [`c${i}.example.test`], lifetime: `${10 + 20 * i}d` });
    await s.track({ id: 'never', authority: 'test', subjectAltNames: ['never.example.test'] });
    w.ca.refuse('never');
    await s.runOnce();
    // Not started: nothing renews, so time moves the certificates through the thresholds.
    await w.clock.advance('25d');
    const views = await s.list({ limit: 100 });
    const expected = { ok: 0, warning: 0, critical: 0, expired: 0, none: 0 };
    for (const v of views) {
      if (!v.certificate) expected.none++;
      else {
        const left = v.certificate.notAfter.getTime() - w.clock.now().getTime();
        expected[left < 0 ? 'expired' : left <= 7 * D ? 'critical' : left <= 30 * D ? 'warning' : 'ok']++;
      }
    }
    expect(Object.values(expected).filter((n) => n > 0).length).toBeGreaterThanOrEqual(4);
    expect(await s.summary()).toEqual(expected);
    const counted: string[] = [];
    const noCount = new Proxy(w.store, {
      get(target, p) {
        if (p === 'countExpiring') return undefined;
        const v = Reflect.get(target, p, target) as unknown;
        if (p === 'list') counted.push('list');
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    expect(await w.make({ store: noCount, thresholds: { warning: '30d', critical: '7d' } }).summary()).toEqual(expected);
    expect(counted.length).toBeGreaterThan(0);
  });

  it('hands authorities the current certificate\'s key on demand (Fabric re-enrollment signs with it), and nothing for a first issuance', async () => {
    const w = await world();
    const seen: Array<string | undefined | null> = [];
    const authority = {
      issue: async (req: Parameters<typeof w.ca.issue>[0], opts?: Parameters<typeof w.ca.issue>[1]) => {
        seen.push(req.currentKey ? ((await req.currentKey())?.ref.id ?? undefined) : null);
        return w.ca.issue(req, opts);
      },
      resume: w.ca.resume.bind(w.ca),
    };
    const s = w.make({ authorities: { test: authority } });
    await s.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'] });
    await s.runOnce();
    const first = (await w.store.get('api'))!.current!.keyRef.id;
    await s.renewNow('api');
    expect(seen).toEqual([null, first]);
  });

  it('continues an order the authority says to resume at once in the same claim, after persisting it', async () => {
    const w = await world();
    const phasesAtResume: string[] = [];
    const authority = {
      issue: async () => ({ status: 'pending' as const, orderRef: 'order-1', retryAfterMs: 0 }),
      resume: async (ref: string, req: Parameters<typeof w.ca.issue>[0]) => {
        const stored = (await w.store.get(req.id))!;
        phasesAtResume.push(`${stored.renewal.phase}:${stored.renewal.orderRef}:${ref}`);
        return w.ca.issue(req);
      },
    };
    const s = w.make({ authorities: { test: authority } });
    await s.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'] });
    const run = await s.runOnce();
    expect(run.renewed).toBe(1);
    expect(phasesAtResume).toEqual(['submitted:order-1:order-1']);
    expect((await w.store.get('api'))!.lease).toBeUndefined();
  });

  it('warns a certificate adopted inside its warning threshold at once, not at its renewal days later', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    const keys = new MemoryKeyStore();
    const ca = await LocalAuthority.create({ keys, clock });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const r = await ca.issue({ id: 'a', key, commonName: 'a', subjectAltNames: [], csrPem: await buildCsr({ key, commonName: 'a', subjectAltNames: [] }), lifetimeMs: 365 * 86_400_000 });
    if (r.status !== 'issued') throw new Error();
    await clock.advance('345d'); // 20 days left
    const steward = createSteward({ store: new MemoryStore(), keys, clock, authorities: { ca }, pollIntervalMs: null, timing: { before: '10d', jitter: '0s' } });
    const warned: Date[] = [];
    steward.on('certificate.expiring', (e) => void warned.push(e.at));
    await steward.track({ id: 'a', authority: 'ca', commonName: 'a', existing: { chainPem: r.chainPem } });
    const adoptedAt = clock.now();
    await steward.start();
    await clock.advance('1h');
    await steward.stop();
    expect(warned).toEqual([adoptedAt]);
  });

  it('explains the next action and the rule behind it', async () => {
    const w = await world();
    const s = w.make();
    await s.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'], renewal: { before: '30d', jitterRatio: 0 } });
    expect((await s.explain('api')).action).toBe('issue');
    await s.runOnce();
    const e = await s.explain('api');
    expect(e.action).toBe('renew');
    expect(e.rule).toBe('before');
    expect(e.at!.getTime()).toBe((await s.get('api'))!.certificate!.notAfter.getTime() - 30 * D);
    expect(e.reason).toMatch(/30d before expiry/);
    await expect(s.explain('nope')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('renewNow renews at once; a dry run issues through the authority and stores nothing', async () => {
    const w = await world();
    const s = w.make();
    await s.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'] });
    await s.runOnce();
    const first = (await s.get('api'))!.certificate!.serialNumber;
    const dry = await s.renewNow('api', { dryRun: true });
    expect(dry.subjectAltNames).toEqual(['dns:api.example.test']);
    expect(dry.serialNumber).not.toBe(first);
    expect((await s.get('api'))!.certificate!.serialNumber).toBe(first);
    const now = await s.renewNow('api');
    expect(now.certificate!.serialNumber).not.toBe(first);
    expect(await w.store.history('api')).toHaveLength(1);
  });

  it('revokes after replacing by default, at once for key compromise, and never renews a revoked certificate', async () => {
    const w = await world();
    const s = w.make();
    for (const id of ['a', 'b', 'c']) await s.track({ id, authority: 'test', subjectAltNames: [`${id}.example.test`], key: { rotate: 'never' } });
    await s.runOnce();
    const serial = async (id: string) => (await s.get(id))!.certificate!.serialNumber;
    const a0 = await serial('a');
    await s.revoke('a', 'superseded');
    expect(await serial('a')).not.toBe(a0);
    expect(w.ca.isRevoked(a0)).toBe(true);
    const b0 = await s.get('b');
    await s.revoke('b', 'keyCompromise');
    const b1 = await s.get('b');
    expect(w.ca.isRevoked(b0!.certificate!.serialNumber)).toBe(true);
    expect(b1!.certificate!.keyId).not.toBe(b0!.certificate!.keyId); // a new key despite rotate: never
    await s.revoke('c', 'cessationOfOperation', { replace: false });
    expect((await s.get('c'))!.status).toBe('revoked');
    await s.start();
    await w.clock.advance('200d');
    expect(w.ca.requests.filter((r) => r.id === 'c' && r.op !== 'revoke').length).toBe(1);
    await expect(s.renewNow('c')).rejects.toThrow(/revoked/);
    expect(w.count('certificate.revoked')).toBe(3);
    await s.stop();
  });

  it('keeps working when a listener throws, and reports it on the error event', async () => {
    const w = await world();
    const s = w.make();
    s.on('renewal.succeeded', () => {
      throw new Error('listener bug');
    });
    await s.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'] });
    await s.runOnce();
    expect((await s.get('api'))!.certificate).toBeDefined();
    const err = w.events.find((e) => e.name === 'error');
    expect(String(err?.p.message)).toMatch(/listener bug/);
  });

  it('never puts private key material in event payloads', async () => {
    const w = await world(30);
    const s = w.make();
    await s.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'] });
    await s.start();
    await w.clock.advance('60d');
    await s.stop();
    const text = JSON.stringify(w.events);
    expect(text).not.toMatch(/PRIVATE KEY/);
    for (const e of w.events) for (const v of Object.values(e.p)) expect(v instanceof CryptoKey).toBe(false);
  });

  it('rejects a duplicate id and an unknown authority with typed errors', async () => {
    const w = await world();
    const s = w.make();
    await s.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'] });
    await expect(s.track({ id: 'api', authority: 'test', subjectAltNames: ['x.example.test'] })).rejects.toBeInstanceOf(ConflictError);
    await expect(s.track({ id: 'x', authority: 'nope', subjectAltNames: ['x.example.test'] })).rejects.toThrow(/no authority named "nope"/);
  });

  it('stop() leaves no timer behind on the system clock', async () => {
    const w = await world();
    const s = createSteward({ store: w.store, authorities: { test: w.ca }, keys: w.keys });
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await s.start();
    await s.stop();
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(after).toBeLessThanOrEqual(before);
  });
});

describe('Steward robustness', () => {
  it('fires a once() listener once', async () => {
    const w = await world();
    const s = w.make();
    let n = 0;
    s.once('certificate.tracked', () => void n++);
    for (const id of ['a', 'b', 'c']) await s.track({ id, authority: 'test', subjectAltNames: [`${id}.example.test`] });
    expect(n).toBe(1);
  });

  it('places a new order when the CA gives up on the pending one, instead of polling it forever', async () => {
    const w = await world();
    const dead = new Set<string>();
    let issues = 0;
    const flaky = {
      issue: async (r: Parameters<TestAuthority['issue']>[0], o?: { signal?: AbortSignal }) => {
        issues++;
        const res = await w.ca.issue(r, o);
        if (res.status === 'pending' && issues === 1) dead.add(res.orderRef);
        return res;
      },
      resume: async (ref: string, r: Parameters<TestAuthority['issue']>[0], o?: { signal?: AbortSignal }) => {
        if (dead.has(ref)) throw new AuthorityError('challenge-failed', 'the order is invalid', { retryable: false });
        return w.ca.resume(ref, r, o);
      },
    };
    w.ca.pendingOrders(1);
    const s = createSteward({ store: w.store, authorities: { test: flaky }, keys: w.keys, clock: w.clock, pollIntervalMs: null });
    await s.track({ id: 'a', authority: 'test', subjectAltNames: ['a.example.test'] });
    await s.start();
    await w.clock.advance('2h');
    expect(issues).toBe(2);
    expect((await s.get('a'))!.certificate).toBeDefined();
    await s.stop();
  });

  it('never lets a CA Retry-After push the next attempt past expiry, and still announces expiry on time', async () => {
    const w = await world(30);
    const s = w.make();
    await s.track({ id: 'a', authority: 'test', subjectAltNames: ['a.example.test'] });
    await s.start();
    w.ca.failNext(1_000, 'rate-limited', 55 * D);
    await w.clock.advance('40d');
    const failed = w.events.filter((e) => e.name === 'renewal.failed').map((e) => e.p as unknown as StewardEvents['renewal.failed']);
    const notAfter = (await s.get('a'))!.certificate!.notAfter.getTime();
    expect(failed.length).toBeGreaterThan(1);
    for (const f of failed) if (f.at.getTime() < notAfter) expect(f.nextAttemptAt.getTime()).toBeLessThanOrEqual(notAfter);
    const expiring = w.events.filter((e) => e.name === 'certificate.expiring').map((e) => e.p as unknown as StewardEvents['certificate.expiring']);
    expect(expiring.map((e) => e.level)).toEqual(['warning', 'critical']);
    // Each alert fires when its threshold is crossed (7.5 and 3 days before expiry for a 30-day certificate).
    expect(notAfter - expiring[0]!.at.getTime()).toBe(7.5 * D);
    expect(notAfter - expiring[1]!.at.getTime()).toBe(3 * D);
    const expired = w.events.find((e) => e.name === 'certificate.expired')!.p as unknown as StewardEvents['certificate.expired'];
    expect(expired.at.getTime()).toBe(notAfter + 1);
    await s.stop();
  });

  it('stop() aborts a hung CA call after its grace period, and the steward runs again afterwards', async () => {
    const w = await world();
    const hung = {
      issue: (_r: unknown, o?: { signal?: AbortSignal }) =>
        new Promise<never>((_res, rej) => o?.signal?.addEventListener('abort', () => rej(o.signal!.reason))),
      resume: () => Promise.reject(new Error('unused')),
    };
    const s = createSteward({ store: w.store, authorities: { test: hung, real: w.ca }, keys: w.keys, clock: w.clock, pollIntervalMs: null, stopGraceMs: 200 });
    await s.track({ id: 'a', authority: 'test', subjectAltNames: ['a.example.test'] });
    void s.start();
    await new Promise((r) => setTimeout(r, 100));
    const t = Date.now();
    await s.stop();
    expect(Date.now() - t).toBeLessThan(5_000);
    // The aborted step is not a failure, and the record is handed back due now.
    expect((await s.get('a'))!.renewal.failures).toBe(0);
    await s.untrack('a'); // its CA still hangs
    await s.track({ id: 'b', authority: 'real', subjectAltNames: ['b.example.test'] });
    await s.runOnce();
    expect((await s.get('b'))!.certificate).toBeDefined();
  });

  it('untrack destroys the keys the record held', async () => {
    const w = await world(30);
    const s = w.make();
    const before = w.keys.size;
    await s.track({ id: 'a', authority: 'test', subjectAltNames: ['a.example.test'] });
    await s.start();
    await w.clock.advance('25d');
    expect(w.keys.size).toBeGreaterThan(before);
    await s.untrack('a');
    expect(w.keys.size).toBe(before);
    await s.stop();
  });

  it('refuses host changes to a record another process is working on, with a typed error', async () => {
    const w = await world();
    const s = w.make();
    await s.track({ id: 'a', authority: 'test', subjectAltNames: ['a.example.test'] });
    await s.runOnce();
    // Another process claims it (simulated by a claim with a long lease).
    await w.clock.advance('70d');
    const [claimed] = await w.store.claimDue(w.clock.now(), 'other-process', 600_000, 1);
    expect(claimed?.id).toBe('a');
    await expect(s.untrack('a')).rejects.toBeInstanceOf(ConflictError);
    await expect(s.revoke('a', 'cessationOfOperation', { replace: false })).rejects.toThrow(/being worked on by other-process/);
  });
});

describe('CA-suggested renewal windows (renewalInfo)', () => {
  async function withWindow(window: (notBefore: number) => { start: number; end: number } | Error) {
    const w = await world(90);
    let asked = 0;
    const ca = Object.assign(Object.create(w.ca) as TestAuthority, {
      issue: w.ca.issue.bind(w.ca),
      resume: w.ca.resume.bind(w.ca),
      renewalInfo: async (pem: string) => {
        asked++;
        const win = window(parseCertificate(pem).notBefore.getTime());
        if (win instanceof Error) throw win;
        return { start: new Date(win.start), end: new Date(win.end) };
      },
    });
    const s = createSteward({ store: w.store, authorities: { test: ca }, keys: w.keys, clock: w.clock, pollIntervalMs: null });
    const renewedAt: number[] = [];
    s.on('renewal.succeeded', (e) => void renewedAt.push(e.at.getTime()));
    const errors: string[] = [];
    s.on('error', (e) => void errors.push(e.message));
    await s.track({ id: 'a', authority: 'test', subjectAltNames: ['a.example.test'] });
    await s.start();
    return { ...w, s, renewedAt, errors, asked: () => asked };
  }

  it('renews inside the window the CA suggests, and explains it', async () => {
    const t = await withWindow((nb) => ({ start: nb + 30 * D, end: nb + 31 * D }));
    const first = (await t.s.get('a'))!.certificate!;
    await t.clock.advance('1m'); // the steward asks about a new certificate at once
    const e = await t.s.explain('a');
    expect(e.action).toBe('ask-ca'); // it checks the window again before the renewal is due
    expect(e.plan?.rule).toBe('ca-window');
    await t.clock.advance('35d');
    const nb = first.notBefore.getTime();
    expect(t.renewedAt[1]! - nb).toBeGreaterThanOrEqual(30 * D);
    expect(t.renewedAt[1]! - nb).toBeLessThanOrEqual(31 * D);
    expect(t.asked()).toBeGreaterThanOrEqual(2); // the first certificate, then the new one
    await t.s.stop();
  });

  it('lets the emergency limit beat a CA that keeps saying later', async () => {
    const t = await withWindow((nb) => ({ start: nb + 200 * D, end: nb + 210 * D }));
    const first = (await t.s.get('a'))!.certificate!;
    await t.clock.advance('89d');
    expect(t.renewedAt[1]).toBe(first.notAfter.getTime() - 7 * D);
    await t.s.stop();
  });

  it('falls back to its own policy when the CA cannot answer, and says so on the error event', async () => {
    const t = await withWindow(() => new Error('ARI endpoint down'));
    const first = (await t.s.get('a'))!.certificate!;
    await t.clock.advance('70d');
    const lifetime = first.notAfter.getTime() - first.notBefore.getTime();
    const at = t.renewedAt[1]! - first.notBefore.getTime();
    expect(at).toBeGreaterThanOrEqual(lifetime * (2 / 3 - 1 / 20));
    expect(at).toBeLessThanOrEqual(lifetime * (2 / 3 + 1 / 20));
    expect(t.errors.some((m) => /ARI endpoint down/.test(m))).toBe(true);
    await t.s.stop();
  });
});

describe('Steward races with other processes', () => {
  it('refuses to revoke when the certificate was replaced between reading and writing, never revoking the new one', async () => {
    const w = await world(90);
    let hold: Promise<void> | undefined;
    // The host's store answers its first read late: another process renews in between.
    const slow = new Proxy(w.store, {
      get(target, prop) {
        if (prop === 'get') {
          return async (id: string) => {
            const v = await target.get(id);
            if (hold) {
              const h = hold;
              hold = undefined;
              await h;
            }
            return v;
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const host = createSteward({ store: slow, authorities: { test: w.ca }, keys: w.keys, clock: w.clock, pollIntervalMs: null, owner: 'host' });
    const other = createSteward({ store: w.store, authorities: { test: w.ca }, keys: w.keys, clock: w.clock, pollIntervalMs: null, owner: 'other' });
    await host.track({ id: 'a', authority: 'test', subjectAltNames: ['a.example.test'] });
    await host.runOnce();
    const s1 = (await host.get('a'))!.certificate!.serialNumber;
    let go!: () => void;
    hold = new Promise<void>((r) => (go = r));
    const revoking = host.revoke('a', 'superseded');
    await new Promise((r) => setImmediate(r));
    await other.renewNow('a');
    const s2 = (await w.store.get('a'))!.current!.serialNumber;
    go();
    await expect(revoking).rejects.toThrow(/changed meanwhile/);
    expect(w.ca.isRevoked(s2)).toBe(false);
    expect(w.ca.isRevoked(s1)).toBe(false); // nothing was revoked on a guess; the host asks again knowing S2
  });

  it('keeps a pending revocation when the renewal is restarted, and revokes the named certificate once it is replaced', async () => {
    const w = await world(90);
    const s = w.make();
    await s.track({ id: 'a', authority: 'test', subjectAltNames: ['a.example.test'] });
    await s.runOnce();
    const s1 = (await s.get('a'))!.certificate!.serialNumber;
    // A replace-before-revoke of S1 is pending when the host asks for a manual renewal.
    const rec = (await w.store.get('a'))!;
    await w.store.update({ ...rec, renewal: { ...rec.renewal, revokeAfter: { serialNumber: s1, reason: 'superseded' } } }, w.clock.now());
    await s.renewNow('a');
    expect(w.ca.isRevoked(s1)).toBe(true);
  });
});
