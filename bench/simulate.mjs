// bench/simulate: a fleet on the in-memory adapters and the test CA, run over
// simulated years on a ManualClock. Every certificate is real X.509, issued
// from a real CSR signed by a real key. Prints the figures; with --json, one
// JSON summary line last (the simulation test reads it).
//
//   npm run build && node bench/simulate.mjs [--certs 10000] [--years 2] [--outage-days 0] [--json]
//
// The fleet mixes lifetimes of 7, 30, 90 and 365 days in equal parts, and is
// onboarded over its first week (a real fleet is never issued in one second).
import { createSteward } from '../dist/index.js';
import { ManualClock, MemoryKeyStore, MemoryStore, TestAuthority } from '../dist/testing.js';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const CERTS = opt('certs', 10_000);
const YEARS = opt('years', 2);
const OUTAGE_DAYS = opt('outage-days', 0);
const JSON_OUT = args.includes('--json');
const DAY = 86_400_000;
const LIFETIMES = [7, 30, 90, 365];

const clock = new ManualClock('2026-01-01T00:00:00Z');
const t0 = clock.now().getTime();
const keys = new MemoryKeyStore();
const ca = await TestAuthority.create({ keys, clock, maxLeafLifetimeMs: 400 * DAY });
const store = new MemoryStore();
const steward = createSteward({ store, authorities: { test: ca }, keys, clock, pollIntervalMs: null, concurrency: 8, batchSize: 500 });

const lifetimeOf = new Map();
const current = new Map(); // id → { notBefore, notAfter }
const renewalsPerDay = new Map();
const outsideWindow = [];
let renewals = 0;
let initial = 0;
let failedEvents = 0;
let maxAttempt = 0;
const expired = [];
const errors = [];

steward.on('renewal.succeeded', (e) => {
  const prev = current.get(e.id);
  current.set(e.id, { notBefore: e.notBefore.getTime(), notAfter: e.notAfter.getTime() });
  if (!prev) {
    initial++;
    return;
  }
  renewals++;
  const day = Math.floor((e.at.getTime() - t0) / DAY);
  renewalsPerDay.set(day, (renewalsPerDay.get(day) ?? 0) + 1);
  // The window: from the earliest jittered fraction point to the critical limit.
  const life = prev.notAfter - prev.notBefore;
  const earliest = prev.notBefore + life * (2 / 3 - 1 / 20);
  const latest = prev.notAfter - Math.min(7 * DAY, life / 5);
  const at = e.at.getTime();
  if (at < earliest - 1000 || (at > latest + 1000 && failedEvents === 0)) outsideWindow.push({ id: e.id, at: e.at.toISOString() });
  if (at > prev.notAfter) expired.push({ id: e.id, at: e.at.toISOString() });
});
steward.on('renewal.failed', (e) => {
  failedEvents++;
  maxAttempt = Math.max(maxAttempt, e.attempt);
});
steward.on('certificate.expired', (e) => expired.push({ id: e.id, at: e.at.toISOString() }));
steward.on('error', (e) => errors.push(e.message));

const started = performance.now();
await steward.start();
// Onboard the fleet over the first week.
for (let i = 0; i < CERTS; i++) {
  const lifetime = LIFETIMES[i % LIFETIMES.length];
  const id = `svc-${i}`;
  lifetimeOf.set(id, lifetime);
  const at = t0 + Math.floor((i / CERTS) * 7 * DAY);
  if (at > clock.now().getTime()) await clock.advanceTo(new Date(at));
  await steward.track({ id, authority: 'test', subjectAltNames: [`${id}.example.test`], lifetime: `${lifetime}d` });
}
if (OUTAGE_DAYS > 0) {
  // A CA outage that does not say when it ends, in the busiest stretch of renewals.
  clock.setTimer(new Date(t0 + 30 * DAY), () => void ca.failNext(1e9));
  clock.setTimer(new Date(t0 + (30 + OUTAGE_DAYS) * DAY), () => void ca.failNext(0));
}
await clock.advanceTo(new Date(t0 + YEARS * 365 * DAY));
await steward.stop();
const seconds = (performance.now() - started) / 1000;

// Renewals per day, after onboarding (the first renewal of a 7-day certificate comes on day 4).
const days = [];
for (let d = 8; d < YEARS * 365; d++) days.push(renewalsPerDay.get(d) ?? 0);
const average = days.reduce((a, b) => a + b, 0) / days.length;
const peak = Math.max(...days);
const status = await steward.status();
const summary = {
  certificates: CERTS,
  years: YEARS,
  seconds: Number(seconds.toFixed(2)),
  initialIssuances: initial,
  renewals,
  renewalsPerSecond: Math.round((renewals + initial) / seconds),
  renewalsPerDayAverage: Number(average.toFixed(1)),
  renewalsPerDayPeak: peak,
  peakToAverage: Number((peak / average).toFixed(2)),
  failedEvents,
  maxAttempt,
  expired: new Set(expired.map((x) => x.id)).size,
  expiredByLifetimeDays: Object.fromEntries(
    LIFETIMES.map((l) => [l, new Set(expired.filter((x) => lifetimeOf.get(x.id) === l).map((x) => x.id)).size]),
  ),
  outsideWindow: outsideWindow.length,
  errors: errors.length,
  status,
};
console.log(`fleet of ${CERTS} certificates (7/30/90/365 days), ${YEARS} simulated years${OUTAGE_DAYS ? `, a ${OUTAGE_DAYS}-day CA outage` : ''}`);
console.log(`  wall time                 ${summary.seconds} s (${summary.renewalsPerSecond} issuances/s, real CSRs and certificates)`);
console.log(`  first issuances           ${initial}`);
console.log(`  renewals                  ${renewals}`);
console.log(`  renewals per day          average ${summary.renewalsPerDayAverage}, peak ${peak} (${summary.peakToAverage}x the average)`);
console.log(`  failed attempts reported  ${failedEvents} (longest streak ${maxAttempt})`);
console.log(`  renewals outside window   ${outsideWindow.length}`);
console.log(`  expired                   ${summary.expired} certificates (by lifetime in days: ${JSON.stringify(summary.expiredByLifetimeDays)})`);
console.log(`  errors                    ${errors.length}`);
console.log(`  final status              ${JSON.stringify(status)}`);
if (JSON_OUT) console.log(JSON.stringify(summary));
