/**
 * The per-call transport that keeps AcmeAuthority's TLS trust, retries and
 * error causes to its own requests: Retry-After parsing, the interceptors
 * (on a stand-in axios, so each effect is seen alone) and the recording agent.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NoncePool, RecordingAgent, callContexts, retryAfterMs, type CallContext } from '../../../adapters/acme/acme-transport.js';
import { freePort } from '../../support/pebble.js';

/** A self-signed certificate for localhost, made once with openssl. */
const tls = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'certsteward-transport-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'pipe' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();

type RequestHook = (config: Record<string, unknown>) => unknown;
type ResponseHook = (response: { status: number; headers: Record<string, unknown>; data: unknown; config?: { method?: unknown } }) => unknown;

/** Just enough of an axios instance to capture the interceptors callContexts installs. */
function fakeAxios() {
  const requestHooks: RequestHook[] = [];
  const responseHooks: { ok: ResponseHook; error?: (e: unknown) => unknown }[] = [];
  return {
    requestHooks,
    responseHooks,
    defaults: {} as { adapter?: unknown },
    interceptors: {
      request: { use: (ok: RequestHook) => requestHooks.push(ok) },
      response: { use: (ok: ResponseHook, error?: (e: unknown) => unknown) => responseHooks.push({ ok, ...(error ? { error } : {}) }) },
    },
  };
}

function installed(): { axios: ReturnType<typeof fakeAxios>; als: AsyncLocalStorage<CallContext>; onRequest: RequestHook; onResponse: ResponseHook } {
  const axios = fakeAxios();
  const als = callContexts(axios);
  return { axios, als, onRequest: axios.requestHooks[0]!, onResponse: axios.responseHooks[0]!.ok };
}

describe('retryAfterMs', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');

  it('reads delay-seconds (string or number, surrounding space allowed) as milliseconds', () => {
    expect([retryAfterMs('120', now), retryAfterMs(' 7 ', now), retryAfterMs(0, now), retryAfterMs(3, now)]).toEqual([120_000, 7_000, 0, 3_000]);
  });

  it('reads an HTTP date as the time left until it, and a past date as 0', () => {
    expect(retryAfterMs('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Mon, 31 Dec 2029 23:00:00 GMT', now)).toBe(0);
  });

  it('is undefined for a missing or unreadable value', () => {
    expect([retryAfterMs(undefined, now), retryAfterMs(null, now), retryAfterMs('soon', now), retryAfterMs('', now), retryAfterMs(['5'], now)]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe('callContexts', () => {
  it('installs its two interceptors once per axios instance and hands out the same context store', () => {
    const axios = fakeAxios();
    const first = callContexts(axios);
    const second = callContexts(axios);
    expect(second).toBe(first);
    expect({ request: axios.requestHooks.length, response: axios.responseHooks.length }).toEqual({ request: 1, response: 1 });
    expect(callContexts(fakeAxios())).not.toBe(first);
  });

  it('outside a call, a request config passes through untouched, also while a call that made requests is running', async () => {
    const { als, onRequest } = installed();
    const agent = new RecordingAgent({}, () => als);
    let release!: () => void;
    const call = als.run({ agent, timeoutMs: 5 }, async () => {
      onRequest({ url: 'https://ca.test/inside' });
      await new Promise<void>((r) => (release = r));
    });
    try {
      const config = { url: 'https://ca.test/dir', retryAttempt: 2 };
      expect(onRequest(config)).toBe(config);
      expect(config).toEqual({ url: 'https://ca.test/dir', retryAttempt: 2 });
    } finally {
      release();
      await call;
      agent.destroy();
    }
  });

  it('inside a call, a request gets the call\'s agent and timeout and is past any acme-client retry limit', () => {
    const { als, onRequest } = installed();
    const agent = new RecordingAgent({}, () => als);
    try {
      const config: Record<string, unknown> = { url: 'https://ca.test/dir' };
      als.run({ agent, timeoutMs: 1_234 }, () => onRequest(config));
      expect(config).toEqual({ url: 'https://ca.test/dir', httpsAgent: agent, timeout: 1_234, retryAttempt: Number.MAX_SAFE_INTEGER });
    } finally {
      agent.destroy();
    }
  });

  it('inside a call, a problem response is remembered with its status, type, detail, subproblems and Retry-After', () => {
    const { als, onResponse } = installed();
    const ctx: CallContext = { agent: undefined };
    const response = {
      status: 429,
      headers: { 'retry-after': '42' },
      data: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many', subproblems: [{ detail: 'x' }] },
    };
    expect(als.run(ctx, () => onResponse(response))).toBe(response);
    expect(ctx.lastProblem).toEqual({ status: 429, type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many', retryAfterMs: 42_000, subproblems: [{ detail: 'x' }] });
    expect(ctx.lastRetryAfterMs).toBeUndefined();
  });

  it('inside a call, a success with Retry-After (order polling) is remembered apart from problems', () => {
    const { als, onResponse } = installed();
    const ctx: CallContext = { agent: undefined };
    als.run(ctx, () => onResponse({ status: 200, headers: { 'retry-after': '3' }, data: { status: 'processing' } }));
    expect({ lastRetryAfterMs: ctx.lastRetryAfterMs, lastProblem: ctx.lastProblem }).toEqual({ lastRetryAfterMs: 3_000, lastProblem: undefined });
  });

  it('a problem without an ACME body is still remembered, with empty type and detail', () => {
    const { als, onResponse } = installed();
    const ctx: CallContext = { agent: undefined };
    als.run(ctx, () => onResponse({ status: 503, headers: {}, data: '<html>down</html>' }));
    expect(ctx.lastProblem).toEqual({ status: 503, type: '', detail: '' });
  });

  it('a response outside any call is passed on and not recorded into a call running at the same time', async () => {
    const { als, onResponse } = installed();
    const running: CallContext = { agent: undefined };
    let release!: () => void;
    const call = als.run(running, async () => {
      onResponse({ status: 200, headers: {}, data: {} });
      await new Promise<void>((r) => (release = r));
    });
    const response = { status: 500, headers: { 'retry-after': '9' }, data: { type: 'x', detail: 'y' } };
    expect(onResponse(response)).toBe(response);
    release();
    await call;
    expect(running).toEqual({ agent: undefined });
  });
});

describe('RecordingAgent', () => {
  async function refusedThrough(agent: RecordingAgent, port: number): Promise<NodeJS.ErrnoException> {
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent }, () => resolve(new Error('unexpected response')));
      req.on('error', (e) => resolve(e));
      req.end();
    });
  }

  it('keeps the network error of a connection opened inside a call in that call\'s context', async () => {
    const port = await freePort();
    let als: AsyncLocalStorage<CallContext> | undefined;
    const agent = new RecordingAgent({}, () => als);
    als = callContexts(fakeAxios());
    try {
      const ctx: CallContext = { agent };
      const e = await als.run(ctx, () => refusedThrough(agent, port));
      expect(e.code).toBe('ECONNREFUSED');
      expect((ctx.transportError as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNREFUSED');
    } finally {
      agent.destroy();
    }
  });

  it('records nothing for a connection opened outside any call, also while a call that failed to connect is running', async () => {
    const port = await freePort();
    const als = callContexts(fakeAxios());
    const agent = new RecordingAgent({}, () => als);
    try {
      const running: CallContext = { agent };
      let release!: () => void;
      let inside: unknown;
      let failedInside!: () => void;
      const insideFailed = new Promise<void>((r) => (failedInside = r));
      const call = als.run(running, async () => {
        await refusedThrough(agent, port);
        inside = running.transportError;
        failedInside();
        await new Promise<void>((r) => (release = r));
      });
      await insideFailed;
      expect(inside).toBeInstanceOf(Error);
      expect((await refusedThrough(agent, port)).code).toBe('ECONNREFUSED');
      release();
      await call;
      expect(running.transportError).toBe(inside);
    } finally {
      agent.destroy();
    }
  });
});

describe('RecordingAgent on a reused keep-alive socket', () => {
  it('reports a connection dropped mid-request to the call that made the request, not to the call that opened the socket', async () => {
    let served = 0;
    const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      served++;
      // The second request on the connection: the connection drops before any answer.
      if (served === 2) req.socket.destroy();
      else res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const als = callContexts(fakeAxios());
    const agent = new RecordingAgent({ keepAlive: true, maxSockets: 1, ca: tls.cert }, () => als);
    const get = () =>
      new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', agent, servername: 'localhost' }, (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.statusCode)));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const opener: CallContext = { agent };
      const user: CallContext = { agent };
      expect(await als.run(opener, get)).toBe('200');
      const e = await als.run(user, get).then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(Error);
      expect(served).toBe(2); // the same (reused) connection carried both
      expect(user.transportError).toBe(e);
      expect(opener.transportError).toBeUndefined();
    } finally {
      agent.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('NoncePool', () => {
  it('hands out each nonce once, newest first', () => {
    const pool = new NoncePool();
    for (const n of ['a', 'b', 'c']) pool.put(n);
    expect([pool.take(), pool.take(), pool.take(), pool.take()]).toEqual(['c', 'b', 'a', undefined]);
    expect(pool.size).toBe(0);
  });

  it('keeps at most its capacity, dropping the oldest', () => {
    const pool = new NoncePool({ capacity: 2 });
    for (const n of ['a', 'b', 'c']) pool.put(n);
    expect([pool.take(), pool.take(), pool.take()]).toEqual(['c', 'b', undefined]);
    const none = new NoncePool({ capacity: 0 });
    none.put('a');
    expect(none.take()).toBeUndefined();
  });

  it('gives no nonce older than maxAgeMs, and drops the stale ones', () => {
    let now = 1_000;
    const pool = new NoncePool({ maxAgeMs: 100, now: () => now });
    pool.put('old');
    now += 50;
    pool.put('newer');
    now += 60; // 'old' is 110 ms old, 'newer' 60 ms
    expect(pool.take()).toBe('newer');
    expect(pool.take()).toBeUndefined();
    expect(pool.size).toBe(0);
    pool.put('fresh');
    now += 101;
    expect(pool.take()).toBeUndefined();
  });
});

describe('nonces inside a call', () => {
  const ok = (nonce: string, method = 'post', data: unknown = { status: 'valid' }, status = 200) => ({
    status,
    headers: { 'replay-nonce': nonce },
    data,
    config: { method },
  });

  it('keeps the nonce of every answer except a HEAD newNonce, and answers the next HEAD of newNonce from it without a request', async () => {
    const { als, onRequest, onResponse } = installed();
    const ctx: CallContext = { agent: undefined, nonces: new NoncePool() };
    als.run(ctx, () => {
      onResponse({ status: 200, headers: {}, data: { newNonce: 'https://ca.test/new-nonce', newOrder: 'https://ca.test/new-order' }, config: { method: 'get' } });
      onResponse(ok('from-head', 'head', ''));
      onResponse(ok('from-post'));
    });
    expect(ctx.nonces!.size).toBe(1);
    expect(ctx.nonces!.url).toBe('https://ca.test/new-nonce');
    // A HEAD of anything else (a solver checking its own answer) goes out as it is.
    const elsewhere: Record<string, unknown> = { url: 'http://name.test/.well-known/acme-challenge/t', method: 'head' };
    als.run(ctx, () => onRequest(elsewhere));
    expect(elsewhere['adapter']).toBeUndefined();
    expect(ctx.nonces!.size).toBe(1);
    const head: Record<string, unknown> = { url: 'https://ca.test/new-nonce', method: 'head' };
    als.run(ctx, () => onRequest(head));
    expect(typeof head['adapter']).toBe('function');
    const answer = (await (head['adapter'] as () => Promise<{ status: number; headers: Record<string, string> }>)()) as {
      status: number;
      headers: Record<string, string>;
    };
    expect(answer.status).toBe(200);
    expect(answer.headers['replay-nonce']).toBe('from-post');
    // Used up: the next HEAD goes to the server.
    const next: Record<string, unknown> = { url: 'https://ca.test/new-nonce', method: 'head' };
    als.run(ctx, () => onRequest(next));
    expect(next['adapter']).toBeUndefined();
  });

  it('never keeps the nonce of a badNonce answer: acme-client retries with that one itself', () => {
    const { als, onResponse } = installed();
    const ctx: CallContext = { agent: undefined, nonces: new NoncePool() };
    als.run(ctx, () => onResponse(ok('retry-with-me', 'post', { type: 'urn:ietf:params:acme:error:badNonce', detail: 'stale' }, 400)));
    expect(ctx.nonces!.size).toBe(0);
    als.run(ctx, () => onResponse(ok('other-problem', 'post', { type: 'urn:ietf:params:acme:error:malformed', detail: 'x' }, 400)));
    expect(ctx.nonces!.take()).toBe('other-problem');
  });

  it('a signed request (POST) is never answered from the pool, and nothing is kept outside a call', () => {
    const { als, onRequest, onResponse } = installed();
    const ctx: CallContext = { agent: undefined, nonces: new NoncePool() };
    ctx.nonces!.url = 'https://ca.test/order';
    ctx.nonces!.put('n1');
    const post: Record<string, unknown> = { url: 'https://ca.test/order', method: 'post' };
    als.run(ctx, () => onRequest(post));
    expect(post['adapter']).toBeUndefined();
    // Before the directory was read, no HEAD is answered from the pool either.
    const early: CallContext = { agent: undefined, nonces: new NoncePool() };
    early.nonces!.put('n0');
    const head: Record<string, unknown> = { url: 'https://ca.test/new-nonce', method: 'head' };
    als.run(early, () => onRequest(head));
    expect(head['adapter']).toBeUndefined();
    onResponse(ok('outside'));
    expect([ctx.nonces!.take(), ctx.nonces!.take()]).toEqual(['n1', undefined]);
  });
});
