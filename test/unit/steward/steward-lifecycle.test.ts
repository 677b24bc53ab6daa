import { describe, expect, it } from 'vitest';
import { createSteward, parseCertificate, type StewardEvents } from '../../../src/index.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { MemoryStore } from '../../../src/testing/memory-store.js';
import { TestAuthority } from '../../../src/testing/test-authority.js';

async function setup() {
  const clock = new ManualClock('2026-01-01T00:00:00Z');
  const keys = new MemoryKeyStore();
  const ca = await TestAuthority.create({ keys, clock, defaultLeafLifetimeMs: 90 * 86_400_000 });
  const store = new MemoryStore();
  const steward = createSteward({ store, authorities: { test: ca }, keys, clock, pollIntervalMs: null });
  const events: Array<{ name: string; payload: unknown }> = [];
  for (const name of [
    'certificate.tracked', 'certificate.expiring', 'certificate.expired', 'renewal.started', 'renewal.succeeded',
    'renewal.failed', 'renewal.overdue', 'key.created', 'key.activated', 'error',
  ] as const) {
    steward.on(name, (p: StewardEvents[typeof name]) => void events.push({ name, payload: p }));
  }
  return { clock, keys, ca, store, steward, events };
}

describe('the steward on memory adapters', () => {
  it('issues the first certificate on start and renews it at two thirds of its lifetime', async () => {
    const { clock, ca, steward, events } = await setup();
    await steward.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'] });
    await steward.start();
    const first = await steward.get('api');
    expect(first?.certificate).toBeDefined();
    expect(parseCertificate(first!.certificate!.chainPem).subjectAltNames).toEqual([{ type: 'dns', value: 'api.example.test' }]);
    expect(ca.issued).toBe(1);
    await clock.advance('70d');
    const second = await steward.get('api');
    expect(ca.issued).toBe(2);
    expect(second!.certificate!.serialNumber).not.toBe(first!.certificate!.serialNumber);
    const renewedAt = events.filter((e) => e.name === 'renewal.succeeded').map((e) => (e.payload as { at: Date }).at.getTime());
    const start = Date.parse('2026-01-01T00:00:00Z');
    // 2/3 of 90 days is day 60, with ±4.5 days of jitter.
    expect((renewedAt[1]! - start) / 86_400_000).toBeGreaterThan(55);
    expect((renewedAt[1]! - start) / 86_400_000).toBeLessThan(65);
    expect(events.some((e) => e.name === 'certificate.expiring')).toBe(false);
    expect(events.filter((e) => e.name === 'error')).toEqual([]);
    await steward.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('reports every failed attempt with backoff and recovers when the CA comes back', async () => {
    const { clock, ca, steward, events } = await setup();
    await steward.track({ id: 'api', authority: 'test', subjectAltNames: ['api.example.test'] });
    await steward.start();
    ca.failNext(5, 'unavailable');
    await clock.advance('75d');
    const failed = events.filter((e) => e.name === 'renewal.failed').map((e) => e.payload as StewardEvents['renewal.failed']);
    expect(failed.map((f) => f.attempt)).toEqual([1, 2, 3, 4, 5]);
    for (const f of failed) {
      expect(f.errorKind).toBe('authority-unavailable');
      // Backoff: at least a minute, at most 1 h · 2^(attempt−1).
      const delay = f.nextAttemptAt.getTime() - f.at.getTime();
      expect(delay).toBeGreaterThanOrEqual(60_000);
      expect(delay).toBeLessThanOrEqual(3_600_000 * 2 ** (f.attempt - 1));
    }
    // Each retry happens when the previous failure said it would.
    for (let i = 1; i < failed.length; i++) expect(failed[i]!.at.getTime()).toBe(failed[i - 1]!.nextAttemptAt.getTime());
    expect(events.filter((e) => e.name === 'renewal.overdue')).toHaveLength(1);
    expect((await steward.get('api'))!.renewal.phase).toBe('activated');
    expect(ca.issued).toBe(2);
    await steward.stop();
  });

  it('rides out a three-day CA outage: retries with backoff, reports every failure, recovers, none expires', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    const keys = new MemoryKeyStore();
    const ca = await TestAuthority.create({ keys, clock, defaultLeafLifetimeMs: 30 * 86_400_000 });
    const steward = createSteward({ store: new MemoryStore(), authorities: { test: ca }, keys, clock, pollIntervalMs: null });
    const failed: StewardEvents['renewal.failed'][] = [];
    const expired: unknown[] = [];
    steward.on('renewal.failed', (e) => void failed.push(e));
    steward.on('certificate.expired', (e) => void expired.push(e));
    for (let i = 0; i < 60; i++) await steward.track({ id: `c${i}`, authority: 'test', subjectAltNames: [`c${i}.example.test`] });
    await steward.start();
    const day = 86_400_000;
    const t0 = clock.now().getTime();
    // Renewals fall around day 20 (± 1.5): the CA is down from day 18 to day 21, without saying until when.
    clock.setTimer(new Date(t0 + 18 * day), () => void ca.failNext(1_000_000));
    clock.setTimer(new Date(t0 + 21 * day), () => void ca.failNext(0));
    await clock.advance('40d');
    const view = await steward.list();
    expect(view.every((v) => v.renewal.phase === 'activated')).toBe(true);
    expect(expired).toEqual([]);
    expect(failed.length).toBeGreaterThan(60);
    const outageEnd = t0 + 21 * day;
    for (const f of failed) {
      expect(f.at.getTime()).toBeGreaterThanOrEqual(t0 + 18 * day);
      expect(f.at.getTime()).toBeLessThan(outageEnd);
      const delay = f.nextAttemptAt.getTime() - f.at.getTime();
      expect(delay).toBeLessThanOrEqual(3_600_000 * 2 ** (f.attempt - 1));
    }
    // Everything that failed was renewed within the largest backoff step after the outage ended.
    const lastAttempt = Math.max(...failed.map((f) => f.attempt));
    expect(lastAttempt).toBeGreaterThan(3);
    const renewedAfter = (await steward.list()).map((v) => v.certificate!.notBefore.getTime());
    for (const t of renewedAfter) expect(t).toBeLessThan(outageEnd + 3_600_000 * 2 ** lastAttempt);
    await steward.stop();
  });
});
