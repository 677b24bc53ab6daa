/**
 * One process of test/adapters/acme/acme-crash-resume.test.ts: a steward on
 * the shared SQLite file (KnexStore), a SoftwareKeyStore with the shared KEK,
 * the system clock, and AcmeAuthority against the test's Pebble, answering
 * http-01 on Pebble's httpPort (only one process can listen there at a time).
 * It runs the BUILT package (dist/), as a host would.
 *
 * It can stop itself at one crash point, report it and block there, for the
 * parent to SIGKILL it:
 *   submitted   the record was just written at `submitted` with the orderRef
 *               (right after the order was placed)
 *   present     a challenge is being presented (before the CA is told to validate)
 *   finalized   the order was finalized with the CSR (before the download)
 *   downloaded  resume() returned the chain, before the steward persisted it
 *   none        runs until stdin closes
 *
 * Configuration (environment):
 *   CRASH_KEK      the shared key-encryption key, base64
 *   CRASH_CONFIG   JSON: { sqlite, directoryUrl, tlsCaPem, httpPort, accountKeyRef, accountUrl?, crashAt, leaseMs, label }
 *                  (accountUrl: the account URL the host saved; without it the account is looked up by its key)
 *
 * Reports are JSON lines on stdout:
 *   { type: 'ready', owner, pid }
 *   { type: 'new-order', url }                  every newOrder request the CA answered (HTTP 201)
 *   { type: 'presented', id, token }            every challenge presented
 *   { type: 'crash-point', point, … }           then blocks forever
 *   { type: 'renewed', id, serialNumber }       every renewal.succeeded
 *   { type: 'failed', id, errorKind, message }  every renewal.failed
 *   { type: 'key-created', id, keyId }          every key.created
 *   { type: 'error', where, message }           anything else that reached host code
 *   { type: 'stats' }                           at a clean exit
 */
import { request as httpsRequest } from 'node:https';
import { errorOf, importDist, report } from './child-harness.mjs';

const config = JSON.parse(process.env.CRASH_CONFIG ?? '{}');

const { SoftwareKeyStore, createSteward, parseCertificate, systemClock } = await importDist('index.js');
const { KnexStore } = await importDist('knex.js');
const { AcmeAuthority, Http01Solver } = await importDist('acme.js');
const { default: knexFactory } = await import('knex');
const acmeModule = await import('acme-client');
const acme = acmeModule.default ?? acmeModule;

/** Blocks forever at a crash point, after telling the parent (which then SIGKILLs this process). */
async function crashHere(point, details) {
  report({ type: 'crash-point', point, ...details });
  await new Promise(() => undefined);
}

// The directory, for the newOrder URL: every order the CA creates is counted on the wire.
const directory = await new Promise((resolve, reject) => {
  const req = httpsRequest(config.directoryUrl, { ca: config.tlsCaPem }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
  });
  req.on('error', reject);
  req.end();
});
acme.axios.interceptors.response.use((r) => {
  if (r.config?.url === directory.newOrder && r.status === 201) report({ type: 'new-order', url: r.headers.location });
  return r;
});

// acme-client with a hook after finalize (crash point `finalized`).
class CrashClient extends acme.Client {
  async finalizeOrder(order, csr) {
    const finalized = await super.finalizeOrder(order, csr);
    if (config.crashAt === 'finalized') await crashHere('finalized', { orderUrl: order.url, status: finalized.status });
    return finalized;
  }
}

const knex = knexFactory({
  client: 'better-sqlite3',
  connection: { filename: config.sqlite, options: { timeout: 10_000 } },
  useNullAsDefault: true,
  pool: {
    afterCreate(conn, done) {
      conn.pragma('journal_mode = WAL');
      done(null, conn);
    },
  },
});
const store = new KnexStore(knex);
let submittedSeen = false;
const hookedStore = new Proxy(store, {
  get(target, prop) {
    const value = Reflect.get(target, prop, target);
    if (prop === 'update') {
      return async (...args) => {
        const written = await target.update(...args);
        // Crash point `submitted`: the order is placed and its reference committed, nothing more.
        if (config.crashAt === 'submitted' && !submittedSeen && written.renewal.phase === 'submitted') {
          submittedSeen = true;
          await crashHere('submitted', { id: written.id, orderRef: written.renewal.orderRef });
        }
        return written;
      };
    }
    return typeof value === 'function' ? value.bind(target) : value;
  },
});

const keys = new SoftwareKeyStore({ kek: new Uint8Array(Buffer.from(process.env.CRASH_KEK ?? '', 'base64')) });
const accountKey = await keys.load(config.accountKeyRef);

const http01 = new Http01Solver();
await http01.listen(config.httpPort, '127.0.0.1');
const solver = {
  types: ['http-01'],
  async present(challenge) {
    await http01.present(challenge);
    report({ type: 'presented', id: challenge.identifier, token: challenge.token });
    if (config.crashAt === 'present') await crashHere('present', { identifier: challenge.identifier, token: challenge.token });
  },
  cleanup: (challenge) => http01.cleanup(challenge),
};

const acmeAuthority = await AcmeAuthority.create({
  directoryUrl: config.directoryUrl,
  accountKey,
  ...(config.accountUrl ? { accountUrl: config.accountUrl } : {}),
  termsOfServiceAgreed: true,
  solvers: [solver],
  ca: config.tlsCaPem,
  acme: { ...acme, Client: CrashClient },
  pollIntervalMs: 200,
});
// The authority the steward sees: the real one, with the crash point `downloaded` after resume().
const authority = {
  describe: () => acmeAuthority.describe(),
  issue: (request, options) => acmeAuthority.issue(request, options),
  async resume(orderRef, request, options) {
    const result = await acmeAuthority.resume(orderRef, request, options);
    if (config.crashAt === 'downloaded' && result.status === 'issued') {
      await crashHere('downloaded', { id: request.id, orderRef, serialNumber: parseCertificate(result.chainPem).serialNumber });
    }
    return result;
  },
  revoke: (pem, reason, options) => acmeAuthority.revoke(pem, reason, options),
  renewalInfo: (pem, options) => acmeAuthority.renewalInfo(pem, options),
};

const steward = createSteward({
  store: hookedStore,
  authorities: { pebble: authority },
  keys,
  clock: systemClock,
  owner: `${config.label}:${process.pid}`,
  leaseMs: config.leaseMs,
  concurrency: 1,
  pollIntervalMs: 500,
  pollOrderMs: 200,
  retry: { min: '1s', base: '1s', max: '2s' },
  stopGraceMs: 3_000,
});
steward.on('renewal.succeeded', (e) => report({ type: 'renewed', id: e.id, serialNumber: e.serialNumber }));
steward.on('renewal.failed', (e) => report({ type: 'failed', id: e.id, errorKind: e.errorKind, message: e.message, phase: e.phase }));
steward.on('key.created', (e) => report({ type: 'key-created', id: e.id, keyId: e.keyId }));
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
    await acmeAuthority.close();
    await http01.close();
    await knex.destroy().catch(() => undefined);
    report({ type: 'stats' });
    process.exit(code);
  })();
  return finishing;
}

report({ type: 'ready', owner: steward.owner, pid: process.pid });
process.on('SIGTERM', () => void finish(0));
process.stdin.on('end', () => void finish(0));
process.stdin.resume();
try {
  await steward.start();
} catch (e) {
  report(errorOf('start', e));
  await finish(1);
}
