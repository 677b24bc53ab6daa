// @ts-check
// The main job of `npm run demo`: a steward on the built-in local CA tracks a
// few dozen certificates with staggered expiry in a SQLite file (the embedded
// default), then a simulated year runs in seconds. Prints a timeline and the
// final fleet table; exits non-zero if any certificate ever expired or a
// renewal failed unnoticed. Run it again and it picks up where the last run
// left: the same database, CA and keys, the simulated clock a year later.
//
//   node examples/lifecycle-year.mjs [--data <dir>] [--memory]   (after `npm run build`)
//     --data    where the database, the CA and the key-encryption key live (default .demo/)
//     --memory  keep everything in memory instead (nothing is picked up next time)
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { SoftwareKeyStore, createSteward, formatDuration } from 'certsteward';
import { KnexStore } from 'certsteward/knex';
import { LocalAuthority } from 'certsteward/local-ca';
import { ManualClock, MemoryStore } from 'certsteward/testing';

const DAY = 86_400_000;
const { values: args } = parseArgs({ options: { data: { type: 'string', default: '.demo' }, memory: { type: 'boolean', default: false } } });
const dataDir = resolve(args.data ?? '.demo');
const persist = !args.memory;
const files = { db: join(dataDir, 'certsteward.db'), kek: join(dataDir, 'kek.bin'), ca: join(dataDir, 'local-ca.json'), clock: join(dataDir, 'clock.json') };
const resumed = persist && existsSync(files.db) && existsSync(files.kek) && existsSync(files.ca) && existsSync(files.clock);
if (persist) mkdirSync(dataDir, { recursive: true });

// The simulated clock continues where the last run stopped.
const clock = new ManualClock(resumed ? JSON.parse(readFileSync(files.clock, 'utf8')).now : '2026-01-01T00:00:00Z');
const start = clock.now().getTime();
// Private keys are sealed with a key-encryption key the host keeps. A real
// service reads it from its secret manager; the demo keeps it in a 0600 file.
let kek;
if (resumed) kek = new Uint8Array(readFileSync(files.kek));
else {
  kek = SoftwareKeyStore.generateKek();
  if (persist) {
    writeFileSync(files.kek, kek, { mode: 0o600 });
    chmodSync(files.kek, 0o600);
  }
}
const keys = new SoftwareKeyStore({ kek });
const local = resumed
  ? await LocalAuthority.load(JSON.parse(readFileSync(files.ca, 'utf8')), { keys, clock })
  : await LocalAuthority.create({ keys, clock, name: 'certsteward demo' });
if (persist && !resumed) writeFileSync(files.ca, JSON.stringify(local.toJSON(), null, 2));

/** @type {import('knex').Knex | undefined} */
let knex;
let store;
if (persist) {
  knex = knexFactory({
    client: 'better-sqlite3',
    connection: { filename: files.db },
    useNullAsDefault: true,
    pool: {
      // WAL lets other processes read while the steward writes; NORMAL syncs at checkpoints, safe against a crash of the process.
      afterCreate: (/** @type {any} */ conn, /** @type {Function} */ done) => {
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        done(null, conn);
      },
    },
  });
  store = new KnexStore(knex);
  await store.migrate();
} else {
  store = new MemoryStore();
}
const steward = createSteward({ store, authorities: { local }, keys, clock, pollIntervalMs: null });

const timeline = [];
const log = (/** @type {string} */ kind, /** @type {{ id?: string, at: Date }} */ e, detail = '') =>
  timeline.push({ day: Math.floor((e.at.getTime() - start) / DAY), kind, id: e.id ?? '', detail });
steward.on('renewal.succeeded', (e) => log('renewed', e, `serial ${e.serialNumber.slice(0, 8)}… valid to ${e.notAfter.toISOString().slice(0, 10)}`));
steward.on('renewal.failed', (e) => log('FAILED', e, `${e.errorKind}: ${e.message}; retry at ${e.nextAttemptAt.toISOString()}`));
steward.on('certificate.expiring', (e) => log(`expiring (${e.level})`, e, `${e.daysRemaining} days left`));
steward.on('certificate.expired', (e) => log('EXPIRED', e, e.recovery));
steward.on('error', (e) => log('ERROR', { id: e.id, at: e.at }, e.message));

// 36 services with lifetimes of 30 and 90 days; jitter spreads their renewals.
const services = [];
for (let i = 0; i < 36; i++) {
  const lifetimeDays = i % 3 === 0 ? 30 : 90;
  services.push({ id: `svc-${String(i).padStart(2, '0')}.example.test`, lifetimeDays });
}
const where = persist ? files.db : 'memory';
if (resumed) {
  const picked = (await steward.list({ limit: 1000 })).length;
  console.log(`Picked up ${picked} tracked certificates from ${where}; the simulated clock resumes at ${clock.now().toISOString().slice(0, 10)}.\n`);
} else {
  for (const s of services) {
    await steward.track({ id: s.id, authority: 'local', subjectAltNames: [s.id], lifetime: `${s.lifetimeDays}d`, labels: { team: s.lifetimeDays === 30 ? 'edge' : 'core' } });
  }
  console.log(`Tracking ${services.length} new certificates in ${where}.\n`);
}
const t0 = performance.now();
await steward.start();
await clock.advance('365d');
await steward.stop();
if (persist) writeFileSync(files.clock, JSON.stringify({ now: clock.now().toISOString() }));
const elapsed = performance.now() - t0;

const renewals = timeline.filter((t) => t.kind === 'renewed');
console.log(`certsteward demo — ${services.length} certificates on the local CA, one simulated year in ${(elapsed / 1000).toFixed(1)} s (store: ${persist ? 'SQLite' : 'memory'})\n`);
const later = timeline.filter((t) => t.day > 0);
const from = new Date(start).toISOString().slice(0, 10);
console.log(`Timeline from ${from}: day 0, ${timeline.length - later.length} certificates issued or renewed; then the first 12 events, and one line per month:`);
for (const t of later.slice(0, 12)) console.log(`  day ${String(t.day).padStart(3)}  ${t.kind.padEnd(20)} ${t.id.padEnd(22)} ${t.detail}`);
for (let m = 0; m < 12; m++) {
  const inMonth = renewals.filter((t) => t.day >= m * 30.4 && t.day < (m + 1) * 30.4);
  console.log(`  month ${String(m + 1).padStart(2)}: ${'#'.repeat(inMonth.length).padEnd(40)} ${inMonth.length} renewals`);
}

console.log(`\nFleet at the end of the year (${clock.now().toISOString().slice(0, 10)}):`);
console.log(`  ${'ID'.padEnd(24)}${'STATUS'.padEnd(10)}${'RENEWALS'.padStart(9)}  ${'EXPIRES IN'.padEnd(12)}NEXT ACTION`);
let expired = 0;
for (const s of services) {
  const view = await steward.get(s.id);
  const explain = await steward.explain(s.id);
  const count = renewals.filter((t) => t.id === s.id).length;
  if (view?.expiry?.status === 'expired') expired++;
  console.log(
    `  ${s.id.padEnd(24)}${String(view?.expiry?.status).padEnd(10)}${String(count).padStart(9)}  ${formatDuration(view?.expiry?.remainingMs ?? NaN).padEnd(12)}${explain.action} at ${explain.at?.toISOString().slice(0, 16)} (${explain.rule})`,
  );
}
const status = await steward.status();
await knex?.destroy();
console.log(`\nStatus: ${JSON.stringify(status)}; ${renewals.length} renewals; expired events: ${timeline.filter((t) => t.kind === 'EXPIRED').length}; failures: ${timeline.filter((t) => t.kind === 'FAILED').length}`);
if (expired > 0 || timeline.some((t) => t.kind === 'EXPIRED' || t.kind === 'ERROR')) {
  console.error('a certificate expired or the steward reported an error: this must never happen');
  process.exit(1);
}
