/**
 * How AcmeAuthority talks to the CA while an order goes through, against a
 * real Pebble behind the test proxy (test/support/ari-proxy.ts), which logs
 * every request on the wire:
 *
 * - nonces come from the CA's earlier answers: no `HEAD newNonce` round
 *   trip per signed request, no nonce used twice;
 * - challenge polling: a solver that sees the CA read its answer
 *   (`ChallengeSolver.watch`, Http01Solver) brings the next look forward;
 *   without it the blind schedule (50 ms doubling to 2 s) runs; a CA's
 *   Retry-After beats both; `challengeTimeoutMs` ends the wait with the
 *   order and the answer kept; cancellation ends it at once.
 *
 * The CA's read is made slow on purpose by the test's own http-01 server,
 * which holds its first answer to each token for a set time, so the
 * validation takes as long as the test says.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AcmeAuthority } from '../../../adapters/acme/acme-authority.js';
import type { Challenge, ChallengeSolver } from '../../../adapters/acme/challenge-solver.js';
import { Http01Solver } from '../../../adapters/acme/http01-solver.js';
import { AuthorityError, buildCsr, type IssueRequest } from '../../../src/index.js';
import { MemoryKeyStore } from '../../../src/testing/index.js';
import { isChallengePath, startAriProxy, type AriProxy, type WireRequest } from '../../support/ari-proxy.js';
import { startPebble, type PebblePeer } from '../../support/pebble.js';
import { finishOrder } from '../../support/acme-orders.js';

let pebble: PebblePeer;
let proxy: AriProxy;
let server: Server;
const keys = new MemoryKeyStore();
const opened: AcmeAuthority[] = [];
const inner = new Http01Solver();
/** How long the http-01 server holds its first answer to each token. */
let firstReadDelayMs = 0;
/** performance.now() when the first answer to each token left. */
const answered = new Map<string, number>();
const timers = new Set<NodeJS.Timeout>();

/** The solver the authority sees: with or without `watch`. */
const watching: ChallengeSolver = inner;
const blind: ChallengeSolver = {
  types: inner.types,
  present: (c: Challenge) => inner.present(c),
  cleanup: (c: Challenge) => inner.cleanup(c),
};
/** `watching`, counting present and cleanup calls. */
const calls = { present: 0, cleanup: 0 };
const counting: ChallengeSolver = {
  types: inner.types,
  present: (c: Challenge) => (calls.present++, inner.present(c)),
  cleanup: (c: Challenge) => (calls.cleanup++, inner.cleanup(c)),
  watch: (c: Challenge, onRead: () => void) => inner.watch(c, onRead),
};

beforeAll(async () => {
  pebble = await startPebble();
  proxy = await startAriProxy(pebble);
  const seen = new Set<string>();
  server = createServer((req, res) => {
    const token = (req.url ?? '').split('/').pop() ?? '';
    const first = !seen.has(token);
    seen.add(token);
    const answer = () => {
      if (first) res.once('finish', () => answered.set(token, performance.now()));
      if (!inner.handler(req, res)) res.writeHead(404).end();
    };
    if (first && firstReadDelayMs > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        answer();
      }, firstReadDelayMs);
      timers.add(t);
    } else {
      answer();
    }
  });
  await new Promise<void>((resolve) => server.listen(pebble.httpPort, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const t of timers) clearTimeout(t);
  await Promise.all(opened.map((a) => a.close()));
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await proxy?.close();
  await pebble?.stop();
});

beforeEach(() => {
  proxy.reset();
  firstReadDelayMs = 0;
});

async function authority(options: { solver?: ChallengeSolver; challengeTimeoutMs?: number } = {}): Promise<AcmeAuthority> {
  const a = await AcmeAuthority.create({
    directoryUrl: proxy.directoryUrl,
    ca: proxy.tlsCaPem,
    accountKey: await keys.generate({ algorithm: 'ECDSA-P256', label: 'acme-account' }),
    termsOfServiceAgreed: true,
    solvers: [options.solver ?? watching],
    pollIntervalMs: 25,
    ...(options.challengeTimeoutMs !== undefined ? { challengeTimeoutMs: options.challengeTimeoutMs } : {}),
  });
  opened.push(a);
  return a;
}

async function requestFor(name: string): Promise<IssueRequest> {
  const key = await keys.generate({ algorithm: 'ECDSA-P256' });
  const subjectAltNames = [{ type: 'dns' as const, value: name }];
  return { id: name, key, subjectAltNames, csrPem: await buildCsr({ key, subjectAltNames }) };
}


/** The challenge requests on the wire: the first answers the challenge, the others are looks at it. */
function challengeRequests(): WireRequest[] {
  return proxy.wire.filter((w) => w.method === 'POST' && isChallengePath(w.path));
}

const onlyAnswer = (): number => {
  expect(answered.size).toBe(1);
  return [...answered.values()][0]!;
};

describe('nonces', () => {
  it('takes each nonce from an earlier answer of the CA: one HEAD newNonce for three orders, none used twice', async () => {
    const a = await authority();
    for (const name of ['nonce-1.poll.test', 'nonce-2.poll.test', 'nonce-3.poll.test']) {
      const req = await requestFor(name);
      await finishOrder(a, req, await a.issue(req));
    }
    const heads = proxy.wire.filter((w) => w.method === 'HEAD' && w.path === proxy.resources['newNonce']);
    const signed = proxy.wire.filter((w) => w.method === 'POST');
    // Account lookup and creation, then per order: newOrder, order, authorization, challenge ×2+, order, finalize, certificate.
    expect(signed.length).toBeGreaterThanOrEqual(2 + 3 * 7);
    expect(heads.length).toBe(1);
    expect(proxy.wire.filter((w) => w.problem === 'badNonce')).toEqual([]);
    // An order just placed is not fetched again before its authorizations, nor after them before finalizing.
    const newOrders = signed.flatMap((w, i) => (w.path === proxy.resources['newOrder'] ? [signed[i + 1]!.path] : []));
    expect(newOrders).toHaveLength(3);
    for (const next of newOrders) expect(next).toMatch(/^\/authZ\//);
    const beforeFinalize = signed.flatMap((w, i) => (w.path.startsWith('/finalize-order/') ? [signed[i - 1]!.path] : []));
    expect(beforeFinalize).toHaveLength(3);
    for (const previous of beforeFinalize) expect(previous).toMatch(/^\/chalZ\//);
  });

  it('a CA that answers orderNotReady to that finalization gets asked for the order, then finalized', async () => {
    const a = await authority();
    const req = await requestFor('not-ready.poll.test');
    proxy.refuseNextFinalize = true;
    expect(await finishOrder(a, req, await a.issue(req))).toMatch(/BEGIN CERTIFICATE/);
    const finalizations = proxy.wire.filter((w) => w.path.startsWith('/finalize-order/'));
    expect(finalizations.map((w) => w.status)).toEqual([403, 200]);
    const between = proxy.wire.slice(proxy.wire.indexOf(finalizations[0]!) + 1, proxy.wire.indexOf(finalizations[1]!));
    expect(between.some((w) => w.path.startsWith('/my-order/'))).toBe(true);
    expect(proxy.newOrders).toHaveLength(1);
  });
});

describe('challenge polling', () => {
  beforeEach(() => answered.clear());

  /** One order whose validation the CA can finish only 2 s after it first reads the answer: the looks at the challenge, and when that answer left. */
  async function slowValidation(solver: ChallengeSolver, name: string): Promise<{ looks: WireRequest[]; answeredAt: number }> {
    firstReadDelayMs = 2_000;
    const a = await authority({ solver });
    const req = await requestFor(name);
    await finishOrder(a, req, await a.issue(req));
    return { looks: challengeRequests().slice(1), answeredAt: onlyAnswer() };
  }

  it('looks again just after the CA has read the answer, when the solver can tell', async () => {
    const { looks, answeredAt } = await slowValidation(watching, 'watched.poll.test');
    // The blind schedule would look at about 1.55 s and 3.15 s after answering the challenge: 1.1 s after the read.
    expect(looks.at(-1)!.at - answeredAt).toBeLessThan(400);
  });

  it('without watch, keeps its blind schedule (the control for the test above)', async () => {
    const { looks, answeredAt } = await slowValidation(blind, 'blind.poll.test');
    expect(looks.at(-1)!.at - answeredAt).toBeGreaterThan(700);
    // 50 ms doubling: about six looks in 3 s (a schedule that did not back off would make dozens).
    expect(looks.length).toBeGreaterThanOrEqual(4);
    expect(looks.length).toBeLessThanOrEqual(8);
  });

  it("waits out the CA's Retry-After, also when the solver sees the read earlier", async () => {
    firstReadDelayMs = 300;
    proxy.challengeRetryAfter = 1;
    const a = await authority({ solver: watching });
    const req = await requestFor('retry-after.poll.test');
    await finishOrder(a, req, await a.issue(req));
    // The answer to the challenge and each look carry Retry-After: 1.
    const requests = challengeRequests();
    expect(requests.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < requests.length; i++) expect(requests[i]!.at - requests[i - 1]!.at).toBeGreaterThanOrEqual(990);
    expect(requests.at(-1)!.at - onlyAnswer()).toBeGreaterThan(500);
  });

  it('gives up after challengeTimeoutMs as unavailable, keeping the order and the answer, and the next resume finishes that order', async () => {
    firstReadDelayMs = 1_500;
    calls.present = calls.cleanup = 0;
    const a = await authority({ challengeTimeoutMs: 300, solver: counting });
    const req = await requestFor('slow.poll.test');
    const placed = await a.issue(req);
    expect(placed.status).toBe('pending');
    if (placed.status !== 'pending') return;
    const started = performance.now();
    const err = await a.resume(placed.orderRef, req).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorityError);
    expect((err as AuthorityError).kind).toBe('unavailable');
    expect((err as AuthorityError).retryable).toBe(true);
    expect((err as Error).message).toMatch(/still validating after 300 ms/);
    expect(performance.now() - started).toBeLessThan(1_400);
    // The CA is still reading: the answer is still served.
    expect(inner.pending).toBe(1);
    // A second attempt while the CA is still at it takes the same answer up again: not presented or
    // announced twice (the CA reads it once).
    const again = await a.resume(placed.orderRef, req).then(() => undefined, (e: unknown) => e);
    expect((again as AuthorityError).kind).toBe('unavailable');
    expect(calls).toEqual({ present: 1, cleanup: 0 });
    expect(challengeRequests().filter((r) => !r.asGet)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1_600));
    const chain = await finishOrder(a, req, placed);
    expect(chain).toMatch(/BEGIN CERTIFICATE/);
    expect(proxy.newOrders).toHaveLength(1);
    expect(inner.pending).toBe(0);
    expect(calls).toEqual({ present: 1, cleanup: 1 });
  });

  it('stops waiting at once when the call is cancelled, leaving the answer up for the next attempt', async () => {
    firstReadDelayMs = 6_000;
    const a = await authority();
    const req = await requestFor('cancelled.poll.test');
    const placed = await a.issue(req);
    if (placed.status !== 'pending') throw new Error('expected a pending order');
    const ac = new AbortController();
    const reason = new Error('host shutting down');
    let abortedAt = 0;
    // Past 1.55 s the blind schedule sleeps until 3.15 s.
    const timer = setTimeout(() => {
      abortedAt = performance.now();
      ac.abort(reason);
    }, 1_700);
    const err = await a.resume(placed.orderRef, req, { signal: ac.signal }).then(() => undefined, (e: unknown) => e);
    const endedAt = performance.now();
    clearTimeout(timer);
    expect(err).toBe(reason);
    expect(abortedAt).toBeGreaterThan(0);
    expect(endedAt - abortedAt).toBeLessThan(500);
    // The CA may still be reading: the answer stays up for the next attempt, until close() takes it down.
    expect(inner.pending).toBe(1);
    await a.close();
    expect(inner.pending).toBe(0);
  });
});

describe('cancellation', () => {
  it('a cancelled call gives up a request in flight at once, not after requestTimeoutMs', async () => {
    const a = await authority();
    const req = await requestFor('stalled.poll.test');
    const placed = await a.issue(req);
    if (placed.status !== 'pending') throw new Error('expected a pending order');
    proxy.stallNextFinalize = true;
    const ac = new AbortController();
    const reason = new Error('host shutting down');
    let abortedAt = 0;
    const watcher = setInterval(() => {
      if (!abortedAt && proxy.wire.some((w) => w.path.startsWith('/finalize-order/') && w.status === 0)) {
        abortedAt = performance.now();
        ac.abort(reason);
      }
    }, 5);
    try {
      const err = await a.resume(placed.orderRef, req, { signal: ac.signal }).then(() => undefined, (e: unknown) => e);
      expect(err).toBe(reason);
      expect(abortedAt).toBeGreaterThan(0);
      expect(performance.now() - abortedAt).toBeLessThan(500);
    } finally {
      clearInterval(watcher);
    }
    // The order goes on at the next attempt (the finalization is sent again).
    expect(await finishOrder(a, req, placed)).toMatch(/BEGIN CERTIFICATE/);
    expect(proxy.newOrders).toHaveLength(1);
  });
});

describe('answers kept across calls', () => {
  beforeEach(() => {
    answered.clear();
    calls.present = calls.cleanup = 0;
  });

  it('an announcement whose answer was lost keeps the answer up, and the next call announces it again, presenting it once', async () => {
    firstReadDelayMs = 800;
    const a = await authority({ solver: counting });
    const req = await requestFor('lost-announcement.poll.test');
    const placed = await a.issue(req);
    if (placed.status !== 'pending') throw new Error('expected a pending order');
    proxy.dropNextAnnouncement = true;
    const err = await a.resume(placed.orderRef, req).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorityError);
    expect({ kind: (err as AuthorityError).kind, retryable: (err as AuthorityError).retryable }).toEqual({ kind: 'unavailable', retryable: true });
    // The CA got the announcement and may be reading: the answer stays up.
    expect(calls).toEqual({ present: 1, cleanup: 0 });
    expect(inner.pending).toBe(1);
    expect(await finishOrder(a, req, placed)).toMatch(/BEGIN CERTIFICATE/);
    expect(calls).toEqual({ present: 1, cleanup: 1 });
    expect(challengeRequests().filter((r) => !r.asGet)).toHaveLength(2);
    expect(proxy.newOrders).toHaveLength(1);
  });

  it('a solver that cannot present fails the call as retryable, names the solver, and still cleans up', async () => {
    let failures = 1;
    const flaky: ChallengeSolver = {
      types: inner.types,
      present: async (c: Challenge) => {
        calls.present++;
        if (failures-- > 0) throw new Error('DNS API throttled');
        await inner.present(c);
      },
      cleanup: (c: Challenge) => (calls.cleanup++, inner.cleanup(c)),
    };
    const a = await authority({ solver: flaky });
    const req = await requestFor('flaky-solver.poll.test');
    const placed = await a.issue(req);
    if (placed.status !== 'pending') throw new Error('expected a pending order');
    const err = await a.resume(placed.orderRef, req).then(() => undefined, (e: unknown) => e);
    expect({ kind: (err as AuthorityError).kind, retryable: (err as AuthorityError).retryable }).toEqual({ kind: 'unavailable', retryable: true });
    expect((err as Error).message).toMatch(/solver could not present the answer: DNS API throttled/);
    expect(calls).toEqual({ present: 1, cleanup: 1 });
    // Same order, next attempt.
    expect(await finishOrder(a, req, placed)).toMatch(/BEGIN CERTIFICATE/);
    expect(proxy.newOrders).toHaveLength(1);
  });

  it('close() takes down what was kept, and an authority closed mid-call keeps nothing', async () => {
    firstReadDelayMs = 1_000;
    const a = await authority({ solver: counting, challengeTimeoutMs: 200 });
    const req = await requestFor('closed.poll.test');
    const placed = await a.issue(req);
    if (placed.status !== 'pending') throw new Error('expected a pending order');
    await a.resume(placed.orderRef, req).catch(() => undefined);
    expect(inner.pending).toBe(1);
    await a.close();
    expect(inner.pending).toBe(0);
    expect(calls).toEqual({ present: 1, cleanup: 1 });
  });
});

describe('Http01Solver.watch', () => {
  it('calls back after each answered GET of the watched token, not for HEAD, unknown tokens or after unwatch', async () => {
    const solver = new Http01Solver();
    const port = await solver.listen(0, '127.0.0.1');
    try {
      const c: Challenge = { type: 'http-01', identifier: 'w.test', wildcard: false, token: 'tok', keyAuthorization: 'tok.thumb' };
      const other: Challenge = { ...c, token: 'other', keyAuthorization: 'other.thumb' };
      await solver.present(c);
      await solver.present(other);
      const reads: string[] = [];
      const unwatch = solver.watch(c, () => void reads.push('a'));
      const unwatchB = solver.watch(c, () => void reads.push('b'));
      const get = async (token: string, method = 'GET') => {
        const res = await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/${token}`, { method });
        return { status: res.status, body: await res.text() };
      };
      expect(await get('tok')).toEqual({ status: 200, body: 'tok.thumb' });
      expect(reads.sort()).toEqual(['a', 'b']);
      await get('tok', 'HEAD');
      await get('other');
      await get('missing');
      expect(reads).toHaveLength(2);
      unwatch();
      await get('tok');
      expect(reads.sort()).toEqual(['a', 'b', 'b']);
      unwatchB();
      await get('tok');
      expect(reads).toHaveLength(3);
    } finally {
      await solver.close();
    }
  });
});
