import { describe, expect, it } from 'vitest';
import { ConfigError, nextWindowOpening, plannedRenewal } from '../../../src/index.js';

const D = 86_400_000;
const nb = new Date('2026-01-05T00:00:00Z'); // a Monday
const cert90 = { notBefore: nb, notAfter: new Date(nb.getTime() + 90 * D) };

describe('plannedRenewal: one timing policy that explains itself', () => {
  it('without extra rules gives renewalTime and names the rule', () => {
    const p = plannedRenewal(cert90, { jitterRatio: 0 }, 'a');
    expect(p.at.toISOString()).toBe(new Date(nb.getTime() + 60 * D).toISOString());
    expect(p.rule).toBe('fraction');
    expect(p.steps).toHaveLength(1);
  });

  it('moves a renewal into the next allowed window (weekdays 02:00–05:00 Berlin) and says so', () => {
    // Base: day 60 = 2026-03-06 (a Friday) 00:00Z = 01:00 in Berlin (CET): before the window opens.
    const p = plannedRenewal(cert90, { jitterRatio: 0, windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '02:00', end: '05:00', timeZone: 'Europe/Berlin' }] }, 'a');
    expect(p.at.toISOString()).toBe('2026-03-06T01:00:00.000Z'); // 02:00 CET
    expect(p.rule).toBe('renewal-window');
    expect(p.steps.map((s) => s.rule)).toEqual(['fraction', 'renewal-window']);
  });

  it('skips the weekend when the window is on weekdays only', () => {
    // 2026-03-07 is a Saturday.
    const opening = nextWindowOpening([{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '02:00', end: '05:00' }], Date.parse('2026-03-07T10:00:00Z'));
    expect(new Date(opening!).toISOString()).toBe('2026-03-09T02:00:00.000Z');
  });

  it('handles windows that cross midnight', () => {
    const w = [{ days: ['fri' as const], start: '22:00', end: '02:00' }];
    expect(new Date(nextWindowOpening(w, Date.parse('2026-03-07T01:30:00Z'))!).toISOString()).toBe('2026-03-07T01:30:00.000Z');
    expect(new Date(nextWindowOpening(w, Date.parse('2026-03-07T02:00:00Z'))!).toISOString()).toBe('2026-03-13T22:00:00.000Z');
  });

  it('uses a CA-suggested window, landing on a stable point inside it', () => {
    const suggested = { start: new Date(nb.getTime() + 50 * D), end: new Date(nb.getTime() + 52 * D) };
    const a = plannedRenewal(cert90, {}, 'a', suggested);
    const b = plannedRenewal(cert90, {}, 'a', suggested);
    expect(a.rule).toBe('ca-window');
    expect(a.at.getTime()).toBe(b.at.getTime());
    expect(a.at.getTime()).toBeGreaterThanOrEqual(suggested.start.getTime());
    expect(a.at.getTime()).toBeLessThanOrEqual(suggested.end.getTime());
  });

  it('lets the emergency limit beat a CA that keeps saying later', () => {
    const late = { start: new Date(nb.getTime() + 89 * D), end: new Date(nb.getTime() + 95 * D) };
    const p = plannedRenewal(cert90, {}, 'a', late);
    expect(p.rule).toBe('emergency');
    expect(p.at.getTime()).toBe(cert90.notAfter.getTime() - 7 * D);
    expect(p.steps.map((s) => s.rule)).toEqual(['fraction', 'ca-window', 'emergency']);
  });

  it('lets the emergency limit beat renewal windows that open too late', () => {
    const cert = { notBefore: nb, notAfter: new Date(nb.getTime() + 30 * D) };
    const p = plannedRenewal(cert, { before: '6d', critical: '5d', jitterRatio: 0, windows: [{ days: ['sun'], start: '03:00', end: '04:00' }] }, 'x');
    // notAfter − 6d = 2026-01-29 (Thursday); the next Sunday window is after notAfter − 5d.
    expect(p.rule).toBe('emergency');
    expect(p.at.toISOString()).toBe(new Date(cert.notAfter.getTime() - 5 * D).toISOString());
  });

  it('rejects bad windows with a ConfigError naming the value', () => {
    expect(() => plannedRenewal(cert90, { windows: [{ start: '25:00', end: '05:00' }] })).toThrow(ConfigError);
    expect(() => plannedRenewal(cert90, { windows: [{ start: '02:00', end: '05:00', timeZone: 'Mars/Olympus' }] })).toThrow(/Mars\/Olympus/);
    expect(() => plannedRenewal(cert90, { windows: [{ days: ['funday' as never], start: '02:00', end: '05:00' }] })).toThrow(/funday/);
  });
});
