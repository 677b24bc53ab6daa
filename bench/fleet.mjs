// bench/fleet: the Knex store on PostgreSQL under a fleet of a million
// tracked certificates. Seeds the fleet server-side (rows in exactly the
// store's format, each with a real ~1.3 KB certificate chain), then measures
// at each fleet size:
//   (a) steward.runOnce() with nothing due               goal < 5 ms
//   (b) store.claimDue() of 1,000 due among the fleet    goal < 100 ms
//   (c) steward.summary() over the whole fleet           goal < 2 s, computed in the database (store.countExpiring)
//   (d) the steward process's memory after (a)-(c)       goal: flat in the fleet size
// and prints the figures beside the goals. Exits non-zero only on errors
// (a wrong claim count, a seeded record that does not round-trip, …).
//
//   npm run build && node --expose-gc bench/fleet.mjs [--rows 1000000] [--sizes 10000,100000,1000000] [--json] [--explain]
//
// PostgreSQL: CERTSTEWARD_PG_URL (default postgres://postgres@127.0.0.1:5432/test).
// Each run works in its own schema (cs_bench_<pid>), dropped at the end, also
// on failure or Ctrl-C. --explain prints EXPLAIN (ANALYZE, BUFFERS) of the
// store's queries at the largest size. steward.status() reads every record
// through Node (list() pages), so it is timed only at sizes up to --status-max
// (default 10000), for reference.
import { createHash } from 'node:crypto';
import { deepStrictEqual } from 'node:assert/strict';
import knexFactory from 'knex';
import pg from 'pg';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const ROWS = Number(opt('rows', 1_000_000));
const SIZES = (opt('sizes', undefined)?.split(',').map(Number) ?? [10_000, 100_000, ROWS].filter((s) => s <= ROWS))
  .filter((s, i, all) => all.indexOf(s) === i)
  .sort((a, b) => a - b);
const JSON_OUT = args.includes('--json');
const EXPLAIN = args.includes('--explain');
const STATUS_MAX = Number(opt('status-max', 10_000));
const RUN_REPEATS = Number(opt('run-repeats', 200));
const CLAIM_REPEATS = Number(opt('claim-repeats', 20));
const SUMMARY_REPEATS = Number(opt('summary-repeats', 5));
const CLAIM = 1000;
const PG_URL = process.env.CERTSTEWARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `cs_bench_${process.pid}`;
const APP = `certsteward-bench-fleet-${process.pid}`;
const DAY = 86_400_000;
const GOALS = { runOnceMs: 5, claimMs: 100, summaryMs: 2000, flatHeapMB: 5 };

if (!SIZES.length || SIZES.some((s) => !Number.isInteger(s) || s < CLAIM)) {
  console.error(`fleet sizes must be integers ≥ ${CLAIM}, got ${SIZES.join(',')}`);
  process.exit(2);
}
const log = (...a) => {
  if (!JSON_OUT) console.log(...a);
};
const progress = (...a) => {
  if (!JSON_OUT) process.stderr.write(`${a.join(' ')}\n`);
};

// The built package (npm run bench:* builds it first), as the other benches import it.
const { KnexStore } = await import('../dist/knex.js');
const { createSteward, parseCertificates } = await import('../dist/index.js');
const { ManualClock, MemoryKeyStore, MemoryStore, TestAuthority } = await import('../dist/testing.js');
await import('../dist/local-ca.js'); // TestAuthority issues through it: fail early if it is missing

/* ------------------------------------------------------------ statistics */

const median = (xs) => quantile(xs, 0.5);
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}
const round = (x, d = 2) => Number(x.toFixed(d));
async function timed(fn) {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}
function memory() {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { heapUsedMB: round(m.heapUsed / 2 ** 20, 1), rssMB: round(m.rss / 2 ** 20, 1) };
}

/* ---------------------------------------------------------------- set-up */

const NOW = Math.floor(Date.now() / 1000) * 1000;
const clock = new ManualClock(new Date(NOW));
const keys = new MemoryKeyStore();
const ca = await TestAuthority.create({ keys, clock });

// One real certificate chain (leaf + intermediate, issued from a real CSR),
// reused as every record's chain text.
async function realChain() {
  const store = new MemoryStore();
  const s = createSteward({ store, authorities: { test: ca }, keys, clock, pollIntervalMs: null });
  await s.track({ id: 'template', authority: 'test', subjectAltNames: ['svc-template.example.test'] });
  const r = await s.runOnce();
  const rec = await store.get('template');
  if (r.renewed !== 1 || !rec?.current) throw new Error('the test authority did not issue the template certificate');
  return rec.current.chainPem;
}
const CHAIN = await realChain();

const knex = knexFactory({ client: 'pg', connection: { connectionString: PG_URL, application_name: APP }, pool: { min: 1, max: 4 } });
// Rows each query hands to Node, to show which measurements pull the fleet and which do not.
let rowsToNode = 0;
knex.on('query-response', (response) => {
  // An array of rows, a raw result's rows, or the one row of .first() (an UPDATE's count is no row).
  rowsToNode += Array.isArray(response) ? response.length : Array.isArray(response?.rows) ? response.rows.length : typeof response === 'object' && response ? 1 : 0;
});
// The SQL the store sent last, for --explain.
let lastQuery;
knex.on('query', (q) => (lastQuery = { sql: q.sql, bindings: q.bindings ?? [] }));

let schemaCreated = false;
let stopping = false; // a signal came: the work in flight fails on purpose
async function dropSchema() {
  if (!schemaCreated) return;
  const c = new pg.Client({ connectionString: PG_URL, application_name: `${APP}-cleanup` });
  await c.connect();
  try {
    // A seeding INSERT may still run on a pooled connection: cancel it, or the DROP waits for it.
    await c.query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [APP]);
    await c.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    schemaCreated = false;
  } finally {
    await c.end();
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    stopping = true;
    progress(`\n${signal}: dropping schema ${SCHEMA}`);
    dropSchema().then(
      () => process.exit(130),
      (e) => {
        console.error(`could not drop schema ${SCHEMA}: ${e.message}`);
        process.exit(130);
      },
    );
  });
}

/* --------------------------------------------------------- the fleet rows */

// Per-row values, computed the same way in SQL (seeding) and here
// (verification): float8 arithmetic in the same order on both sides.
const H32 = 4294967296n;
const unit = (i, mul) => Number((BigInt(i) * mul) % H32) / 4294967296;
const md5 = (s) => createHash('md5').update(s).digest('hex');
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const uuidOf = (h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
const TEAMS = 40;
const ENVS = ['prod', 'staging', 'dev'];
const REGIONS = ['eu-west-1', 'us-east-1', 'ap-south-1', 'us-west-2'];
const LIFETIME = 398 * DAY;

/** 0: issued and valid (98.5%), 1: expired, renewal failing (1%), 2: never issued, first issuance failing (0.5%). */
const kindOf = (i) => (i % 200 === 0 ? 2 : i % 100 === 1 ? 1 : 0);

function valuesOf(i) {
  const kind = kindOf(i);
  const u1 = unit(i, 2654435761n);
  const u2 = unit(i, 2246822519n);
  // notAfter 1–365 days ahead (kind 0) or up to 3 days past (kind 1).
  const notAfter = kind === 0 ? NOW + DAY + Math.floor(u1 * 31449600000) : kind === 1 ? NOW - 3600000 - Math.floor(u1 * 259200000) : null;
  // Next action in the future: before expiry for valid certificates, the next retry within 6 h for failing ones.
  const next = kind === 0 ? NOW + 300000 + Math.floor(u2 * 0.9 * (notAfter - NOW - 300000)) : NOW + 300000 + Math.floor(u2 * 21600000);
  const notBefore = notAfter === null ? null : notAfter - LIFETIME;
  const created = (kind === 2 ? NOW - 3 * DAY : NOW - 420 * DAY) + (i % 1000) * 60000;
  return {
    i,
    kind,
    name: `svc-${i}`,
    serial: md5(`serial${i}`),
    fp: sha256(`fp${i}`),
    keyId: uuidOf(md5(`key${i}`)),
    spki: sha256(`spki${i}`),
    keyId2: uuidOf(md5(`key2${i}`)),
    spki2: sha256(`spki2${i}`),
    notBefore,
    notAfter,
    issuedAt: notBefore === null ? null : notBefore + 60000,
    startedAt: notBefore === null ? created : notBefore + 30000,
    next,
    created,
    updated: NOW - (i % 1440) * 60000,
    labels: { team: `team-${i % TEAMS}`, env: ENVS[i % 3], region: REGIONS[i % 4] },
  };
}

// The same values as SQL expressions over `i` (bigint) and the columns of the lateral subqueries.
const SQL_VALUES = `
  FROM generate_series(?::bigint, ?::bigint) AS i,
  LATERAL (SELECT CASE WHEN i % 200 = 0 THEN 2 WHEN i % 100 = 1 THEN 1 ELSE 0 END AS kind,
                  ((i * 2654435761) % 4294967296)::float8 / 4294967296 AS u1,
                  ((i * 2246822519) % 4294967296)::float8 / 4294967296 AS u2) a,
  LATERAL (SELECT CASE a.kind WHEN 0 THEN ${NOW}::bigint + ${DAY} + floor(a.u1 * 31449600000::float8)::bigint
                              WHEN 1 THEN ${NOW}::bigint - 3600000 - floor(a.u1 * 259200000::float8)::bigint END AS na) b,
  LATERAL (SELECT CASE a.kind WHEN 0 THEN ${NOW}::bigint + 300000 + floor(a.u2 * 0.9::float8 * (b.na - ${NOW}::bigint - 300000)::float8)::bigint
                              ELSE ${NOW}::bigint + 300000 + floor(a.u2 * 21600000::float8)::bigint END AS nxt,
                  b.na - ${LIFETIME}::bigint AS nb,
                  CASE a.kind WHEN 2 THEN ${NOW - 3 * DAY}::bigint ELSE ${NOW - 420 * DAY}::bigint END + (i % 1000) * 60000 AS created) c`;

// Placeholders in the template records, and what replaces them per row.
const S = {
  name: 'Zq9NAMEq9Z',
  serial: 'Zq9SERIALq9Z',
  fp: 'Zq9FPq9Z',
  keyId: 'Zq9KEYq9Z',
  spki: 'Zq9SPKIq9Z',
  keyId2: 'Zq9KEYTWOq9Z',
  spki2: 'Zq9SPKITWOq9Z',
  notBefore: 7000000000001,
  notAfter: 7000000000002,
  issuedAt: 7000000000003,
  startedAt: 7000000000004,
  next: 7000000000005,
};
const SQL_OF = {
  [S.name]: `('svc-' || i)`,
  [S.serial]: `md5('serial' || i)`,
  [S.fp]: `encode(sha256(convert_to('fp' || i, 'UTF8')), 'hex')`,
  [S.keyId]: `md5('key' || i)::uuid::text`,
  [S.spki]: `encode(sha256(convert_to('spki' || i, 'UTF8')), 'hex')`,
  [S.keyId2]: `md5('key2' || i)::uuid::text`,
  [S.spki2]: `encode(sha256(convert_to('spki2' || i, 'UTF8')), 'hex')`,
  [S.notBefore]: `c.nb::text`,
  [S.notAfter]: `b.na::text`,
  [S.issuedAt]: `(c.nb + 60000)::text`,
  [S.startedAt]: `(CASE a.kind WHEN 2 THEN c.created ELSE c.nb + 30000 END)::text`,
  [S.next]: `c.nxt::text`,
};

/** The record of row `v` (the same function makes the templates, with placeholders, and the expected records). */
function recordOf(v) {
  const d = (ms) => new Date(ms);
  const keyRef = { store: 'memory', id: v.keyId, algorithm: 'ECDSA-P256', spkiSha256: v.spki };
  const current =
    v.kind === 2
      ? undefined
      : {
          chainPem: CHAIN,
          serialNumber: v.serial,
          fingerprintSha256: v.fp,
          notBefore: d(v.notBefore),
          notAfter: d(v.notAfter),
          keyRef,
          issuedAt: d(v.issuedAt),
        };
  const failure = (kind, message, failures) => ({
    failures,
    lastError: { kind, message, retryable: true, at: d(NOW - 600000) },
    nextAttemptAt: d(v.next),
  });
  const renewal =
    v.kind === 0
      ? { phase: 'activated', cause: 'scheduled', failures: 0, startedAt: d(v.startedAt) }
      : v.kind === 1
        ? {
            phase: 'failed',
            cause: 'scheduled',
            startedAt: d(v.startedAt),
            keyRef: { store: 'memory', id: v.keyId2, algorithm: 'ECDSA-P256', spkiSha256: v.spki2 },
            resumePhase: 'key-ready',
            ...failure('authority-unavailable', 'the authority did not answer: connect ECONNREFUSED 10.0.0.12:443', 5),
          }
        : {
            phase: 'failed',
            cause: 'initial',
            startedAt: d(v.startedAt),
            resumePhase: 'scheduled',
            ...failure('rate-limited', 'too many certificates already issued for this name', 2),
          };
  return {
    id: v.name,
    status: 'active',
    spec: {
      authority: 'test',
      subjectAltNames: [{ type: 'dns', value: `${v.name}.example.test` }],
      key: { algorithm: 'ECDSA-P256', rotate: 'always' },
    },
    labels: v.labels,
    ...(current ? { current } : {}),
    renewal,
    nextActionAt: d(v.next),
    announced: v.kind === 1 ? [`${v.fp}:warning`, `${v.fp}:critical`, `${v.fp}:expired`] : [],
  };
}

/** The body text the store writes for a template record, as a SQL expression over the row values. */
async function bodyExpression(store, kind) {
  const rec = recordOf({ ...S, kind, labels: {} });
  await store.create(rec, new Date(NOW));
  const { body } = await knex(store.tables.qualified.certificates).select('body').where({ id: rec.id }).first();
  await store.delete(rec.id, 1);
  const re = new RegExp(Object.keys(SQL_OF).join('|'), 'g');
  const sql = [];
  const bindings = [];
  let at = 0;
  for (const m of body.matchAll(re)) {
    sql.push('?::text', SQL_OF[m[0]]);
    bindings.push(body.slice(at, m.index));
    at = m.index + m[0].length;
  }
  sql.push('?::text');
  bindings.push(body.slice(at));
  return { sql: `(${sql.join(' || ')})`, bindings, bytes: body.length };
}

async function seed(store, bodies, from, to) {
  const [ok, expired, pending] = bodies;
  await knex.raw(
    `INSERT INTO ?? (id, revision, status, next_action_at, due_at, lease_owner, lease_until, not_after, labels, body, created_at, updated_at)
     SELECT 'svc-' || i, 1, 'active', c.nxt, c.nxt, NULL, NULL, b.na,
            jsonb_build_object('team', 'team-' || (i % ${TEAMS}), 'env', (ARRAY['${ENVS.join("','")}'])[(i % 3)::int + 1],
                               'region', (ARRAY['${REGIONS.join("','")}'])[(i % 4)::int + 1]),
            CASE a.kind WHEN 0 THEN ${ok.sql} WHEN 1 THEN ${expired.sql} ELSE ${pending.sql} END,
            c.created, ${NOW}::bigint - (i % 1440) * 60000
     ${SQL_VALUES}`,
    [store.tables.qualified.certificates, ...ok.bindings, ...expired.bindings, ...pending.bindings, from, to],
  );
}

/** Seeded records read back through the store equal the records they stand for, and their chains parse. */
async function verify(store, steward, from, to) {
  const ids = new Set([from, from + 1, Math.floor((from + to) / 2), to]);
  // A few records of each failing kind too: i ≡ 0 (mod 200) never issued, i ≡ 1 (mod 100) expired.
  for (const [m, r] of [
    [200, 0],
    [100, 1],
  ]) {
    const step = Math.max(m, Math.floor((to - from) / 4 / m) * m);
    for (let i = from + ((((r - from) % m) + m) % m), n = 0; i <= to && n < 4; i += step, n++) ids.add(i);
  }
  const kinds = new Set();
  for (const i of ids) {
    const v = valuesOf(i);
    kinds.add(v.kind);
    const got = await store.get(v.name);
    const want = { ...recordOf(v), revision: 1, createdAt: new Date(v.created), updatedAt: new Date(v.updated) };
    try {
      deepStrictEqual(got, want);
    } catch (e) {
      throw new Error(`seeded record ${v.name} does not round-trip through KnexStore.get():\n${e.message}`);
    }
    if (got.current && parseCertificates(got.current.chainPem).length !== 2) throw new Error(`${v.name}: the chain does not parse`);
    await steward.explain(v.name); // the steward plans on it as on any record
  }
  return kinds;
}

/* ----------------------------------------------------------- measurements */

async function measureRunOnce(steward) {
  for (let k = 0; k < 10; k++) await steward.runOnce();
  const times = [];
  const rows = rowsToNode;
  for (let k = 0; k < RUN_REPEATS; k++) {
    const { ms, value } = await timed(() => steward.runOnce());
    if (value.claimed !== 0) throw new Error(`runOnce claimed ${value.claimed} records; nothing should be due`);
    times.push(ms);
  }
  return { medianMs: round(median(times), 3), p95Ms: round(quantile(times, 0.95), 3), rowsToNode: (rowsToNode - rows) / RUN_REPEATS };
}

function dueIds(size) {
  return Array.from({ length: CLAIM }, (_, k) => `svc-${Math.round(((k + 1) * size) / CLAIM)}`);
}

async function arm(store, ids) {
  const n = await knex(store.tables.qualified.certificates)
    .whereIn('id', ids)
    .update({ next_action_at: NOW - 1, due_at: NOW - 1, lease_owner: null, lease_until: null });
  if (n !== ids.length) throw new Error(`armed ${n} rows, wanted ${ids.length}`);
}

async function disarm(store, ids) {
  // Back to a future next action, no lease: nothing due again.
  await knex.raw(
    `UPDATE ?? SET next_action_at = ${NOW + DAY}::bigint, due_at = ${NOW + DAY}::bigint, lease_owner = NULL, lease_until = NULL WHERE id = ANY(?)`,
    [store.tables.qualified.certificates, ids],
  );
}

async function measureClaim(store, size) {
  const ids = dueIds(size);
  const wanted = new Set(ids);
  const times = [];
  const rows = rowsToNode;
  for (let k = 0; k <= CLAIM_REPEATS; k++) {
    await arm(store, ids);
    const { ms, value } = await timed(() => store.claimDue(new Date(NOW), 'bench', 60_000, CLAIM));
    if (value.length !== CLAIM || !value.every((r) => wanted.has(r.id) && r.lease?.owner === 'bench')) {
      throw new Error(`claimDue returned ${value.length} records (wanted the ${CLAIM} due ones)`);
    }
    if (k > 0) times.push(ms); // the first is a warm-up
  }
  const left = await store.claimDue(new Date(NOW), 'bench', 60_000, CLAIM);
  if (left.length !== 0) throw new Error(`a second claimDue returned ${left.length} leased records`);
  return { ids, medianMs: round(median(times), 2), p95Ms: round(quantile(times, 0.95), 2), rowsToNode: (rowsToNode - rows) / (CLAIM_REPEATS + 1) }; // per claim of 1,000 (the last, empty one hands none)
}

const THRESHOLDS = { warningMs: 30 * DAY, criticalMs: 7 * DAY };

async function measureSummary(steward, size) {
  const times = [];
  let counts;
  const rows = rowsToNode;
  for (let k = 0; k < SUMMARY_REPEATS; k++) {
    // steward.summary(): the store's countExpiring at the steward's thresholds (30 d / 7 d), one aggregate in the database.
    const { ms, value } = await timed(() => steward.summary());
    times.push(ms);
    counts = value;
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total !== size) throw new Error(`countExpiring counts add up to ${total}, the fleet holds ${size}: ${JSON.stringify(counts)}`);
  for (const [k, n] of Object.entries(counts)) if (n === 0) throw new Error(`countExpiring found no "${k}" record; the seed covers every status`);
  return { medianMs: round(median(times), 1), firstMs: round(times[0], 1), counts, rowsToNode: (rowsToNode - rows) / SUMMARY_REPEATS };
}

async function measureNextDue(store) {
  const times = [];
  for (let k = 0; k < 50; k++) times.push((await timed(() => store.nextDueAt())).ms);
  return { medianMs: round(median(times), 3) };
}

/** EXPLAIN (ANALYZE, BUFFERS) of the SQL the store sends, on a connection of its own. */
async function explain(store, size) {
  const c = new pg.Client({ connectionString: PG_URL, application_name: `${APP}-explain` });
  await c.connect();
  const plans = {};
  const capture = async (name, q, { write = false } = {}) => {
    if (write) await c.query('BEGIN');
    try {
      const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, q.bindings);
      plans[name] = { sql: q.sql.replace(/\s+/g, ' '), plan: r.rows.map((row) => row['QUERY PLAN']).join('\n') };
    } finally {
      if (write) await c.query('ROLLBACK');
    }
  };
  /** The SQL the store sends for `call` (which runs once for real). */
  const sqlOf = async (call) => {
    await call();
    return lastQuery;
  };
  try {
    await capture('nextDueAt', await sqlOf(() => store.nextDueAt()));
    // What runOnce sends with nothing due (limit = the steward's claim size, 4 by default).
    await capture('claimDue, nothing due (runOnce)', await sqlOf(() => store.claimDue(new Date(NOW), 'bench', 60_000, 4)), { write: true });
    const ids = dueIds(size);
    await arm(store, ids);
    const claimSql = await sqlOf(() => store.claimDue(new Date(NOW), 'bench', 60_000, CLAIM));
    await arm(store, ids);
    // Planned and run with the rows due; the EXPLAIN's transaction is rolled back.
    await capture(`claimDue, ${CLAIM} due`, claimSql, { write: true });
    await disarm(store, ids);
    await capture('countExpiring', await sqlOf(() => store.countExpiring(new Date(NOW), THRESHOLDS)));
  } finally {
    await c.end();
  }
  return plans;
}

/* ------------------------------------------------------------------ main */

const results = [];
let plans;
let exitCode = 0;
try {
  await knex.raw('CREATE SCHEMA ??', [SCHEMA]);
  schemaCreated = true;
  const store = new KnexStore(knex, { schema: SCHEMA });
  await store.migrate();
  const table = store.tables.qualified.certificates;
  const steward = createSteward({ store, authorities: { test: ca }, keys, clock, pollIntervalMs: null });
  const bodies = [await bodyExpression(store, 0), await bodyExpression(store, 1), await bodyExpression(store, 2)];
  const baseline = memory();
  log(`fleet bench: KnexStore on PostgreSQL ${(await knex.raw('SHOW server_version')).rows[0].server_version}, schema ${SCHEMA}, Node ${process.version}`);
  log('  records: 98.5% issued (notAfter 1–365 days ahead), 1% expired with renewal failing, 0.5% never issued, nothing due;');
  log(`  chain ${CHAIN.length} B (real leaf + intermediate from the test CA), body ${bodies[0].bytes} B; now = ${new Date(NOW).toISOString()}`);
  if (!globalThis.gc) log('  (run with node --expose-gc for memory figures after a full collection)');

  let seeded = 0;
  for (const size of SIZES) {
    // Seed up to `size` server-side (generate_series), in statements of at most 100,000 rows.
    const { ms } = await timed(async () => {
      for (let from = seeded + 1; from <= size; from += 100_000) {
        const to = Math.min(size, from + 99_999);
        await seed(store, bodies, from, to);
        progress(`  seeded ${to.toLocaleString('en-US')} rows`);
      }
    });
    // Index-only scans need the visibility map; the planner needs statistics.
    const vacuum = await timed(() => knex.raw('VACUUM ANALYZE ??', [table]));
    const kinds = await verify(store, steward, seeded + 1, size);
    if (kinds.size !== 3) throw new Error(`verification saw record kinds ${[...kinds]}; wanted all three`);
    const { rows: sz } = await knex.raw(`SELECT pg_total_relation_size(?::regclass) AS total, (SELECT count(*) FROM ??) AS n`, [table, table]);
    if (Number(sz[0].n) !== size) throw new Error(`the table holds ${sz[0].n} rows after seeding ${size}`);
    const seedRate = Math.round((size - seeded) / (ms / 1000));
    progress(
      `  ${size.toLocaleString('en-US')} rows: seeded ${(size - seeded).toLocaleString('en-US')} in ${(ms / 1000).toFixed(1)} s ` +
        `(${seedRate.toLocaleString('en-US')} rows/s), VACUUM ANALYZE ${(vacuum.ms / 1000).toFixed(1)} s, ` +
        `table + indexes ${round(sz[0].total / 2 ** 20, 0)} MB; ${kinds.size} kinds of seeded records verified through store.get()`,
    );
    seeded = size;

    const runOnce = await measureRunOnce(steward);
    const nextDueAt = await measureNextDue(store);
    const claim = await measureClaim(store, size);
    await disarm(store, claim.ids);
    const summary = await measureSummary(steward, size);
    const mem = memory();
    let status;
    if (size <= STATUS_MAX) {
      const rows = rowsToNode;
      const { ms: statusMs, value } = await timed(() => steward.status());
      status = { ms: round(statusMs, 1), rowsToNode: rowsToNode - rows, counts: value };
    }
    results.push({
      size,
      seedSeconds: round(ms / 1000, 1),
      seedRowsPerSecond: seedRate,
      vacuumSeconds: round(vacuum.ms / 1000, 1),
      tableMB: round(sz[0].total / 2 ** 20, 0),
      runOnce,
      nextDueAt,
      claim: { medianMs: claim.medianMs, p95Ms: claim.p95Ms, rowsToNode: claim.rowsToNode },
      summary,
      memory: mem,
      ...(status ? { status } : {}),
    });
    progress(
      `  ${size.toLocaleString('en-US')}: runOnce ${runOnce.medianMs} ms, claim ${claim.medianMs} ms, summary ${summary.medianMs} ms, ` +
        `heap ${mem.heapUsedMB} MB, rss ${mem.rssMB} MB`,
    );
    if (EXPLAIN && size === SIZES[SIZES.length - 1]) plans = await explain(store, size);
  }

  const first = results[0];
  const last = results[results.length - 1];
  const heapGrowth = round(last.memory.heapUsedMB - first.memory.heapUsedMB, 1);
  const rssGrowth = round(last.memory.rssMB - first.memory.rssMB, 1);
  const goals = {
    runOnce: { goalMs: GOALS.runOnceMs, medianMs: last.runOnce.medianMs, met: last.runOnce.medianMs < GOALS.runOnceMs },
    claim: { goalMs: GOALS.claimMs, medianMs: last.claim.medianMs, met: last.claim.medianMs < GOALS.claimMs },
    summary: {
      goalMs: GOALS.summaryMs,
      medianMs: last.summary.medianMs,
      rowsToNode: last.summary.rowsToNode,
      met: last.summary.medianMs < GOALS.summaryMs && last.summary.rowsToNode <= 1,
    },
    memory: {
      goal: `heapUsed grows < ${GOALS.flatHeapMB} MB from ${first.size} to ${last.size} records`,
      heapGrowthMB: heapGrowth,
      rssGrowthMB: rssGrowth,
      met: heapGrowth < GOALS.flatHeapMB,
    },
  };
  const statusNote =
    'steward.status() judges every record as get() does (thresholds scaled to short lifetimes), so it pages them all through Node; steward.summary() is the fleet-scale count; ' +
    `timed only at fleet sizes ≤ ${STATUS_MAX.toLocaleString('en-US')}`;

  if (JSON_OUT) {
    console.log(
      JSON.stringify({
        pg: PG_URL.replace(/\/\/[^@/]*@/, '//…@'),
        node: process.version,
        now: new Date(NOW).toISOString(),
        chainBytes: CHAIN.length,
        bodyBytes: bodies[0].bytes,
        baselineMemory: baseline,
        sizes: results,
        goals,
        statusNote,
        ...(plans ? { explain: plans } : {}),
      }),
    );
  } else {
    const mark = (met) => (met ? 'met' : 'NOT met');
    log('');
    log('fleet size   runOnce ms (p95)   claim 1,000 ms (p95)   summary ms   heapUsed MB   rss MB   seed s');
    for (const r of results) {
      log(
        `${r.size.toLocaleString('en-US').padStart(10)}   ${`${r.runOnce.medianMs} (${r.runOnce.p95Ms})`.padEnd(17)}  ` +
          `${`${r.claim.medianMs} (${r.claim.p95Ms})`.padEnd(21)}  ${String(r.summary.medianMs).padStart(10)}   ` +
          `${String(r.memory.heapUsedMB).padStart(11)}   ${String(r.memory.rssMB).padStart(6)}   ${String(r.seedSeconds).padStart(6)}`,
      );
    }
    log(`  (before seeding: heapUsed ${baseline.heapUsedMB} MB, rss ${baseline.rssMB} MB; medians, p95 in parentheses)`);
    log('');
    log(`at ${last.size.toLocaleString('en-US')} records (table + indexes ${last.tableMB} MB):`);
    log(`  (a) runOnce, nothing due        ${last.runOnce.medianMs} ms median, ${last.runOnce.p95Ms} ms p95 (${RUN_REPEATS} runs)   goal < ${GOALS.runOnceMs} ms: ${mark(goals.runOnce.met)}`);
    log(`      nextDueAt (wake-up read)     ${last.nextDueAt.medianMs} ms median`);
    log(`  (b) claimDue of ${CLAIM.toLocaleString('en-US')} due        ${last.claim.medianMs} ms median, ${last.claim.p95Ms} ms p95 (${CLAIM_REPEATS} claims)   goal < ${GOALS.claimMs} ms: ${mark(goals.claim.met)}`);
    log(
      `  (c) steward.summary(), fleet    ${last.summary.medianMs} ms median (first ${last.summary.firstMs} ms), ${last.summary.rowsToNode} row to Node   ` +
        `goal < ${GOALS.summaryMs} ms in the database: ${mark(goals.summary.met)}`,
    );
    log(`      counts ${JSON.stringify(last.summary.counts)}, total ${last.size.toLocaleString('en-US')}`);
    log(
      `  (d) memory ${first.size.toLocaleString('en-US')} → ${last.size.toLocaleString('en-US')} records: heapUsed ${heapGrowth >= 0 ? '+' : ''}${heapGrowth} MB, ` +
        `rss ${rssGrowth >= 0 ? '+' : ''}${rssGrowth} MB   goal flat (heapUsed < +${GOALS.flatHeapMB} MB): ${mark(goals.memory.met)}`,
    );
    for (const r of results.filter((x) => x.status)) {
      log(`  steward.status() at ${r.size.toLocaleString('en-US')}: ${r.status.ms} ms, ${r.status.rowsToNode.toLocaleString('en-US')} rows to Node, ${JSON.stringify(r.status.counts)}`);
    }
    log(`  note: ${statusNote}`);
    for (const [name, p] of Object.entries(plans ?? {})) {
      log(`\nEXPLAIN (ANALYZE, BUFFERS) ${name}\n  ${p.sql}\n${p.plan.replace(/^/gm, '    ')}`);
    }
  }
} catch (e) {
  if (!stopping) console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  exitCode = 1;
} finally {
  try {
    await knex.destroy();
    await dropSchema();
  } catch (e) {
    console.error(`could not drop schema ${SCHEMA}: ${e.message}`);
    exitCode = 1;
  }
}
process.exit(stopping ? 130 : exitCode);
