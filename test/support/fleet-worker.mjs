/**
 * One process of the fleet in test/adapters/knex/multi-process.test.ts: a
 * steward on the shared PostgreSQL schema (KnexStore), a SoftwareKeyStore with
 * the shared KEK, the system clock, and the test's counting authority over
 * HTTP. It runs the BUILT package (dist/), as a host would.
 *
 * Configuration (environment):
 *   CERTSTEWARD_PG_URL   the database
 *   FLEET_KEK            the shared key-encryption key, base64
 *   FLEET_CONFIG         JSON: { schema, authorityUrl, mode: 'serve' | 'once',
 *                        leaseMs, concurrency, pollIntervalMs, label }
 *
 * Modes: `serve` runs start() until stdin closes or SIGTERM arrives, then
 * stop()s; `once` runs one runOnce() and reports its RunSummary.
 *
 * Reports are JSON lines on stdout:
 *   { type: 'ready', owner, pid }
 *   { type: 'renewed', id, serialNumber }          every renewal.succeeded
 *   { type: 'error', where, message, code? }       anything that reached host code
 *   { type: 'summary', summary }                   once mode: the RunSummary
 *   { type: 'stats', events, staleWritesRejected } at a clean exit
 */
import { errorOf, importDist, report } from './child-harness.mjs';

const config = JSON.parse(process.env.FLEET_CONFIG ?? '{}');

const { AuthorityError, SoftwareKeyStore, createSteward, isCertstewardError, systemClock } = await importDist('index.js');
const { KnexStore } = await importDist('knex.js');
const { default: knexFactory } = await import('knex');

/** The client side of the counting authority's two-step protocol. */
class HttpOrderAuthority {
  #base;
  constructor(base) {
    this.#base = base;
  }

  async #post(path, body, signal) {
    let res;
    try {
      res = await fetch(`${this.#base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-fleet-process': String(config.label) },
        body: JSON.stringify(body ?? {}),
        signal,
      });
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw new AuthorityError('unavailable', `counting authority unreachable: ${e.message}`, { retryable: true, cause: e });
    }
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      throw new AuthorityError(res.status < 500 ? 'refused' : 'unavailable', `counting authority answered ${res.status}: ${json.error}`, {
        retryable: res.status >= 500,
      });
    }
    return json;
  }

  async issue(request, options = {}) {
    const { id, csrPem, subjectAltNames, commonName, lifetimeMs } = request;
    const placed = await this.#post('/orders', { id, csrPem, subjectAltNames, commonName, lifetimeMs }, options.signal);
    return { status: 'pending', orderRef: placed.orderRef, retryAfterMs: placed.retryAfterMs };
  }

  async resume(orderRef, _request, options = {}) {
    const got = await this.#post(`/orders/${encodeURIComponent(orderRef)}/certificate`, {}, options.signal);
    return { status: 'issued', chainPem: got.chainPem };
  }

  describe() {
    return { kind: 'test', endpoint: this.#base };
  }
}

const knex = knexFactory({
  client: 'pg',
  connection: process.env.CERTSTEWARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  pool: { min: 0, max: 4 },
});
const store = new KnexStore(knex, { schema: config.schema });

// Counts the stale writes the store turned down: the fencing at work, absorbed inside the steward.
let staleWritesRejected = 0;
const fencedStore = new Proxy(store, {
  get(target, prop) {
    const value = Reflect.get(target, prop, target);
    if (prop === 'update') {
      return async (...args) => {
        try {
          return await target.update(...args);
        } catch (e) {
          if (isCertstewardError(e, 'conflict')) staleWritesRejected++;
          throw e;
        }
      };
    }
    return typeof value === 'function' ? value.bind(target) : value;
  },
});

const keys = new SoftwareKeyStore({ kek: new Uint8Array(Buffer.from(process.env.FLEET_KEK ?? '', 'base64')) });
const steward = createSteward({
  store: fencedStore,
  authorities: { fleet: new HttpOrderAuthority(config.authorityUrl) },
  keys,
  clock: systemClock,
  owner: `${config.label}:${process.pid}`,
  leaseMs: config.leaseMs,
  concurrency: config.concurrency,
  pollIntervalMs: config.pollIntervalMs,
  pollOrderMs: 200,
  stopGraceMs: 5_000,
});

const EVENTS = [
  'certificate.tracked',
  'certificate.untracked',
  'certificate.expiring',
  'certificate.expired',
  'certificate.revoked',
  'renewal.overdue',
  'renewal.started',
  'renewal.succeeded',
  'renewal.failed',
  'key.created',
  'key.activated',
  'key.retiring',
  'key.retired',
  'key.destroyed',
  'error',
];
const events = Object.fromEntries(EVENTS.map((e) => [e, 0]));
for (const name of EVENTS) steward.on(name, () => void events[name]++);
steward.on('renewal.succeeded', (e) => report({ type: 'renewed', id: e.id, serialNumber: e.serialNumber }));
steward.on('renewal.failed', (e) => report({ type: 'error', where: 'renewal.failed', message: `${e.id}: ${e.errorKind}: ${e.message}` }));
steward.on('error', (e) => report({ ...errorOf('error event', e.error ?? e.message), message: e.message, id: e.id }));

let finishing;
function finish(code) {
  finishing ??= (async () => {
    try {
      await steward.stop();
    } catch (e) {
      report(errorOf('stop', e));
      code = 1;
    }
    await knex.destroy().catch(() => undefined);
    report({ type: 'stats', events, staleWritesRejected });
    // stdout is a pipe, written synchronously on Linux: nothing is lost by exiting now.
    process.exit(code);
  })();
  return finishing;
}

report({ type: 'ready', owner: steward.owner, pid: process.pid });

if (config.mode === 'once') {
  try {
    const summary = await steward.runOnce();
    report({ type: 'summary', summary });
    await finish(0);
  } catch (e) {
    report(errorOf('runOnce', e));
    await finish(1);
  }
} else {
  process.on('SIGTERM', () => void finish(0));
  process.stdin.on('end', () => void finish(0));
  process.stdin.resume();
  try {
    await steward.start();
  } catch (e) {
    report(errorOf('start', e));
    await finish(1);
  }
}
