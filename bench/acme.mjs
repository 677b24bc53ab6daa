// bench/acme: real ACME issuance against one Pebble (real http-01 validation,
// names resolved by pebble-challtestsrv, PEBBLE_VA_NOSLEEP=1,
// PEBBLE_AUTHZREUSE=0 so every order validates its name). In one run:
//   (i)   bare acme-client, N certificates one after another: new P-256 key
//         and CSR, createOrder → authorizations → http-01 answered by a plain
//         node:http server → completeChallenge → waitForValidStatus →
//         finalizeOrder → getCertificate
//   (ii)  the steward, concurrency 1: MemoryStore + MemoryKeyStore +
//         AcmeAuthority + Http01Solver, N tracked certificates, timed from
//         start() until all N have had renewal.succeeded
//   (iii) the same with concurrency 4
// and prints seconds per certificate for each, beside the goals:
//   steward overhead per certificate, (ii) over (i)      goal < 10 %
//   speed-up with concurrency, (iii) over (i)           goal ≥ 3x
// Exits non-zero only on errors (a failed order, a wrong certificate, a
// timeout), not on a missed goal.
//
//   npm run build && node bench/acme.mjs [--n 50] [--rounds 3] [--json]
//
// With several rounds the three phases run in turn, round after round, and
// each figure is the median of its rounds (all rounds are printed too).
//
// The steward also shows its scaling alone, (iii) over (ii). What separates
// (ii) from (i) is the adapter's own work, on by default: nonces taken from
// the CA's answers instead of a HEAD newNonce per request, and a challenge
// look brought forward when Http01Solver sees the CA read its answer.
//
// Every phase uses the same names scheme (<phase>-<i>.bench.test) with its own
// names, a new ACME account (its registration is inside the timing, once per
// phase) and ECDSA P-256 account and certificate keys. The bare run is what a
// careful acme-client user writes: Pebble's TLS CA on acme-client's
// process-global axios (`acme.axios.defaults.httpsAgent`, restored afterwards),
// a keep-alive agent, and the adapter's blind polling schedule (50 ms
// doubling to 2 s; acme-client's default starts at 5 s, which would only
// measure the sleep). The steward runs on its defaults.
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import { Agent } from 'node:https';
import acme from 'acme-client';
import { startPebble } from '../test/support/pebble-peer.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const N = Number(opt('n', 50));
const ROUNDS = Number(opt('rounds', 3));
const JSON_OUT = args.includes('--json');
const GOALS = { overheadPct: 10, speedup: 3 };
const BACKOFF = { backoffAttempts: 35, backoffMin: 50, backoffMax: 2_000 };
// Per phase: generous, so only a hang ends a phase (a failure ends it at once).
const PHASE_TIMEOUT_MS = Math.max(120_000, N * 5_000);

for (const [name, v] of [['n', N], ['rounds', ROUNDS]]) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer, got ${opt(name, '')}`);
    process.exit(2);
  }
}
const log = (...a) => {
  if (!JSON_OUT) console.log(...a);
};
const progress = (...a) => {
  if (!JSON_OUT) process.stderr.write(`${a.join(' ')}\n`);
};

// The built package (npm run bench:* builds it first), as the other benches import it.
const { createSteward } = await import('../dist/index.js');
const { MemoryKeyStore, MemoryStore } = await import('../dist/testing.js');
const { AcmeAuthority, Http01Solver } = await import('../dist/acme.js');

const round = (x, d = 3) => Number(x.toFixed(d));
const names = (phase) => Array.from({ length: N }, (_, i) => `${phase}-${i}.bench.test`);

/** The leaf of a chain must certify exactly `name`. */
function checkLeaf(chainPem, name) {
  const leaf = new X509Certificate(chainPem);
  if (leaf.subjectAltName !== `DNS:${name}`) throw new Error(`the certificate for ${name} names ${leaf.subjectAltName}`);
  return leaf.serialNumber;
}

/* ------------------------------------------------------------- (i) bare */

async function bare(peer, phase) {
  const list = names(phase);
  const tokens = new Map();
  const server = createServer((req, res) => {
    const m = /^\/\.well-known\/acme-challenge\/([^/?]+)/.exec(req.url ?? '');
    const answer = m && tokens.get(m[1]);
    if (answer) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(answer);
    else res.writeHead(404).end();
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(peer.httpPort, '127.0.0.1', resolve);
  });
  const previousAgent = acme.axios.defaults.httpsAgent;
  const agent = new Agent({ ca: peer.tlsCaPem, keepAlive: true });
  acme.axios.defaults.httpsAgent = agent;
  const latencies = [];
  try {
    const started = performance.now();
    const client = new acme.Client({ directoryUrl: peer.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey(), ...BACKOFF });
    await client.createAccount({ termsOfServiceAgreed: true });
    for (const name of list) {
      const t = performance.now();
      const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, await acme.crypto.createPrivateEcdsaKey());
      let order = await client.createOrder({ identifiers: [{ type: 'dns', value: name }] });
      for (const authz of await client.getAuthorizations(order)) {
        const challenge = authz.challenges.find((c) => c.type === 'http-01');
        tokens.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
        try {
          await client.completeChallenge(challenge);
          await client.waitForValidStatus(challenge);
        } finally {
          tokens.delete(challenge.token);
        }
      }
      order = await client.finalizeOrder(order, csr);
      checkLeaf(await client.getCertificate(order), name);
      latencies.push(performance.now() - t);
    }
    const seconds = (performance.now() - started) / 1000;
    return { seconds, secondsPerCertificate: seconds / N, medianLatencySeconds: median(latencies) / 1000 };
  } finally {
    acme.axios.defaults.httpsAgent = previousAgent;
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

/* --------------------------------------------------------- (ii), (iii) */

async function steward(peer, phase, concurrency) {
  const list = names(phase);
  const keys = new MemoryKeyStore();
  const store = new MemoryStore();
  const http01 = new Http01Solver();
  await http01.listen(peer.httpPort, '127.0.0.1');
  const accountKey = await keys.generate({ algorithm: 'ECDSA-P256', label: 'acme-account' });
  const authority = await AcmeAuthority.create({
    directoryUrl: peer.directoryUrl,
    accountKey,
    termsOfServiceAgreed: true,
    solvers: [http01],
    ca: peer.tlsCaPem,
  });
  const s = createSteward({ store, keys, authorities: { pebble: authority }, concurrency, pollIntervalMs: null });
  for (const name of list) await s.track({ id: name, authority: 'pebble', subjectAltNames: [name] });
  const issued = new Set();
  let pendingPolls = 0;
  let fail;
  const failed = new Promise((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  s.on('renewal.succeeded', (e) => {
    try {
      checkLeaf(e.chainPem, e.id);
    } catch (err) {
      fail(err);
    }
    issued.add(e.id);
    if (issued.size === N) finish();
  });
  s.on('renewal.failed', (e) => fail(new Error(`${phase}: ${e.id} failed (${e.errorKind}): ${e.message}`)));
  s.on('error', (e) => fail(new Error(`${phase}: ${e.message}`)));
  const resume = authority.resume.bind(authority);
  // Counted only: how often an order was still processing (the steward polls it later).
  authority.resume = async (...a) => {
    const r = await resume(...a);
    if (r.status === 'pending') pendingPolls++;
    return r;
  };
  let timer;
  const started = performance.now();
  try {
    await s.start();
    await Promise.race([
      done,
      failed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${phase}: only ${issued.size} of ${N} certificates after ${PHASE_TIMEOUT_MS / 1000} s`)), PHASE_TIMEOUT_MS);
      }),
    ]);
    const seconds = (performance.now() - started) / 1000;
    return { seconds, secondsPerCertificate: seconds / N, ordersStillProcessing: pendingPolls };
  } finally {
    clearTimeout(timer);
    await s.stop();
    await authority.close();
    await http01.close();
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = (s.length - 1) / 2;
  return (s[Math.floor(mid)] + s[Math.ceil(mid)]) / 2;
}

/* ------------------------------------------------------------------ run */

const runStarted = performance.now();
let peer;
let exitCode = 0;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    void (peer?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}
try {
  const t = performance.now();
  peer = await startPebble();
  const pebbleSeconds = (performance.now() - t) / 1000;
  progress(`pebble ready in ${pebbleSeconds.toFixed(2)} s; ${N} certificates per phase`);
  // Rounds interleave the three phases, so a slow moment of the machine falls on all of them alike;
  // each figure is the median over the rounds.
  const runs = { b: [], s1: [], s4: [] };
  for (let r = 1; r <= ROUNDS; r++) {
    const tag = ROUNDS > 1 ? ` (round ${r} of ${ROUNDS})` : '';
    progress(`(i) bare acme-client, sequential${tag} …`);
    runs.b.push(await bare(peer, `bare${r}`));
    progress(`    ${runs.b.at(-1).seconds.toFixed(2)} s`);
    progress(`(ii) steward, concurrency 1${tag} …`);
    runs.s1.push(await steward(peer, `st1r${r}`, 1));
    progress(`    ${runs.s1.at(-1).seconds.toFixed(2)} s`);
    progress(`(iii) steward, concurrency 4${tag} …`);
    runs.s4.push(await steward(peer, `st4r${r}`, 4));
    progress(`    ${runs.s4.at(-1).seconds.toFixed(2)} s`);
  }
  const middle = (list) => [...list].sort((x, y) => x.secondsPerCertificate - y.secondsPerCertificate)[Math.floor((list.length - 1) / 2)];
  const b = middle(runs.b);
  const s1 = middle(runs.s1);
  const s4 = middle(runs.s4);
  const perRound = (list) => list.map((x) => round(x.secondsPerCertificate));
  const overheadPct = ((s1.secondsPerCertificate - b.secondsPerCertificate) / b.secondsPerCertificate) * 100;
  const speedup = b.secondsPerCertificate / s4.secondsPerCertificate;
  const totalSeconds = (performance.now() - runStarted) / 1000;
  const summary = {
    certificates: N,
    rounds: ROUNDS,
    perRound: { bare: perRound(runs.b), steward1: perRound(runs.s1), steward4: perRound(runs.s4) },
    bare: { seconds: round(b.seconds, 2), secondsPerCertificate: round(b.secondsPerCertificate), medianLatencySeconds: round(b.medianLatencySeconds) },
    steward1: { seconds: round(s1.seconds, 2), secondsPerCertificate: round(s1.secondsPerCertificate), ordersStillProcessing: s1.ordersStillProcessing },
    steward4: { seconds: round(s4.seconds, 2), secondsPerCertificate: round(s4.secondsPerCertificate), ordersStillProcessing: s4.ordersStillProcessing },
    overheadPct: round(overheadPct, 1),
    speedup: round(speedup, 2),
    scaling: round(s1.secondsPerCertificate / s4.secondsPerCertificate, 2),
    goals: GOALS,
    overheadMet: overheadPct < GOALS.overheadPct,
    speedupMet: speedup >= GOALS.speedup,
    pebbleStartSeconds: round(pebbleSeconds, 2),
    totalSeconds: round(totalSeconds, 2),
  };
  const mark = (ok) => (ok ? 'met' : 'MISSED');
  log(`ACME issuance against Pebble (real http-01), ${N} certificates per mode, median of ${ROUNDS} round${ROUNDS > 1 ? 's' : ''}`);
  log(`  (i)   bare acme-client, sequential   ${summary.bare.secondsPerCertificate.toFixed(3)} s/certificate (${summary.bare.seconds} s; median order ${summary.bare.medianLatencySeconds.toFixed(3)} s)`);
  log(`  (ii)  steward, concurrency 1         ${summary.steward1.secondsPerCertificate.toFixed(3)} s/certificate (${summary.steward1.seconds} s; ${s1.ordersStillProcessing} polls of a processing order)`);
  log(`  (iii) steward, concurrency 4         ${summary.steward4.secondsPerCertificate.toFixed(3)} s/certificate (${summary.steward4.seconds} s; ${s4.ordersStillProcessing} polls of a processing order)`);
  log(`  steward overhead, (ii) over (i)      ${summary.overheadPct >= 0 ? '+' : ''}${summary.overheadPct} %   goal < ${GOALS.overheadPct} %   ${mark(summary.overheadMet)}`);
  log(`  speed-up, (iii) over (i)             ${summary.speedup}x    goal ≥ ${GOALS.speedup}x     ${mark(summary.speedupMet)}`);
  log(`  scaling, (iii) over (ii)             ${summary.scaling}x`);
  if (ROUNDS > 1) log(`  per round (s/certificate)            bare ${summary.perRound.bare.join(' ')}; c1 ${summary.perRound.steward1.join(' ')}; c4 ${summary.perRound.steward4.join(' ')}`);
  log(`  total run time                       ${summary.totalSeconds} s (pebble start ${summary.pebbleStartSeconds} s)`);
  if (JSON_OUT) console.log(JSON.stringify(summary));
} catch (e) {
  exitCode = 1;
  console.error(`bench/acme failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  if (peer) console.error(`pebble log (last lines):\n${peer.log().split('\n').slice(-30).join('\n')}`);
} finally {
  await peer?.stop();
}
process.exit(exitCode);
