/**
 * One declarative timing policy that explains itself: the renewal time from
 * {@link renewalTime} (fixed lead or fraction of lifetime, deterministic
 * jitter), moved into a CA-suggested window when the authority offers one, and
 * into the host's allowed renewal windows (say weekdays 02:00–05:00 in a time
 * zone), with the critical limit near expiry beating every other rule.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import type { ValidityWindow } from './expiry.js';
import { stableUniform } from './jitter.js';
import { renewalTime, type RenewalPolicy, type RenewalRule } from './renewal-time.js';

/** Days of the week, as in allowed windows. */
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** A recurring window in which renewals may start. */
export interface RenewalWindow {
  /** Days the window opens on (default: every day). */
  readonly days?: readonly Weekday[];
  /** Opening time, `HH:MM`, local to `timeZone`. */
  readonly start: string;
  /** Closing time, `HH:MM` (exclusive); earlier than `start` means it closes the next day. */
  readonly end: string;
  /** IANA time zone (default `UTC`). */
  readonly timeZone?: string;
}

/** The timing policy of a tracked certificate. */
export interface TimingPolicy extends RenewalPolicy {
  /** Renewals start only inside one of these windows (the critical limit excepted). */
  readonly windows?: readonly RenewalWindow[];
}

/** A window the CA suggested (ACME ARI). */
export interface SuggestedWindow {
  readonly start: Date;
  readonly end: Date;
}

/** Every rule that can decide a renewal time. */
export type TimingRule = RenewalRule | 'ca-window' | 'renewal-window' | 'emergency';

/** The result of {@link plannedRenewal}. */
export interface PlannedRenewal {
  readonly at: Date;
  readonly rule: TimingRule;
  /** Every rule that moved the time, in order, with its reason. */
  readonly steps: readonly { readonly rule: TimingRule; readonly at: Date; readonly reason: string }[];
  /** The latest time the critical limit allows. */
  readonly latest: Date;
  readonly reason: string;
}

const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const MINUTE = 60_000;

function parseClock(v: string, what: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(v);
  if (!m) throw new ConfigError(what, v, `invalid renewal window ${what} ${JSON.stringify(v)}: use HH:MM (24-hour)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

interface CompiledWindow {
  readonly days: ReadonlySet<Weekday>;
  readonly start: number;
  readonly end: number;
  readonly format: Intl.DateTimeFormat;
}

function compile(w: RenewalWindow): CompiledWindow {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: w.timeZone ?? 'UTC',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  } catch (e) {
    throw new ConfigError('timeZone', w.timeZone, `unknown time zone ${JSON.stringify(w.timeZone)} in a renewal window`, { cause: e });
  }
  for (const d of w.days ?? []) {
    if (!WEEKDAYS.includes(d)) throw new ConfigError('days', d, `invalid weekday ${JSON.stringify(d)}: use mon … sun`);
  }
  return { days: new Set(w.days ?? WEEKDAYS), start: parseClock(w.start, 'start'), end: parseClock(w.end, 'end'), format };
}

/** Whether the instant `t` lies inside the window. */
function inside(w: CompiledWindow, t: number): boolean {
  const parts = w.format.formatToParts(new Date(t));
  const wd = parts.find((p) => p.type === 'weekday')!.value.slice(0, 3).toLowerCase() as Weekday;
  const minutes = Number(parts.find((p) => p.type === 'hour')!.value) * 60 + Number(parts.find((p) => p.type === 'minute')!.value);
  if (w.start <= w.end) return w.days.has(wd) && minutes >= w.start && minutes < w.end;
  // Overnight: opens on a listed day at `start`, closes the next day at `end`.
  const prev = WEEKDAYS[(WEEKDAYS.indexOf(wd) + 6) % 7]!;
  return (w.days.has(wd) && minutes >= w.start) || (w.days.has(prev) && minutes < w.end);
}

/**
 * The first instant ≥ `t` inside any window, to the minute, searching 8 days
 * ahead (windows recur weekly); undefined when no window ever opens.
 */
export function nextWindowOpening(windows: readonly RenewalWindow[], t: number): number | undefined {
  const compiled = windows.map(compile);
  const ok = (x: number) => compiled.some((w) => inside(w, x));
  if (ok(t)) return t;
  // Coarse 15-minute steps, then back to the exact minute.
  const start = Math.ceil(t / MINUTE) * MINUTE;
  for (let x = start; x <= t + 8 * 86_400_000; x += 15 * MINUTE) {
    if (ok(x)) {
      let y = Math.max(start, x - 15 * MINUTE);
      while (!ok(y)) y += MINUTE;
      return y;
    }
  }
  return undefined;
}

/**
 * Plans a certificate's renewal. Rules apply in order, and each one that moves
 * the time is recorded in `steps`:
 * 1. the base rule ({@link renewalTime}): `before`, `fraction`, jitter;
 * 2. a CA-suggested window replaces it with a deterministic point inside that
 *    window (the same id lands on the same point);
 * 3. allowed renewal windows move it forward to the next opening;
 * 4. the emergency rule: never later than the critical limit
 *    (notAfter − min(critical, lifetime/5)); it beats the CA and the windows.
 *
 * @throws {@link ConfigError} for an invalid policy.
 * @example
 * ```ts
 * plannedRenewal(info, { before: '30d', windows: [{ days: ['mon','tue','wed','thu','fri'], start: '02:00', end: '05:00', timeZone: 'Europe/Berlin' }] }, 'api')
 * ```
 */
export function plannedRenewal(
  cert: ValidityWindow,
  policy: TimingPolicy = {},
  id = '',
  suggested?: SuggestedWindow,
): PlannedRenewal {
  const base = renewalTime(cert, policy, id);
  const latest = base.latest.getTime();
  const steps: { rule: TimingRule; at: Date; reason: string }[] = [{ rule: base.rule, at: base.at, reason: base.reason }];
  let at = base.at.getTime();
  let rule: TimingRule = base.rule;
  if (suggested && suggested.end.getTime() >= suggested.start.getTime()) {
    const s = suggested.start.getTime();
    const span = suggested.end.getTime() - s;
    at = s + Math.floor(stableUniform(`ari:${id}:${s}`) * span);
    rule = 'ca-window';
    steps.push({
      rule,
      at: new Date(at),
      reason: `the CA suggests renewing between ${suggested.start.toISOString()} and ${suggested.end.toISOString()}`,
    });
  }
  if (policy.windows && policy.windows.length > 0) {
    const opening = nextWindowOpening(policy.windows, at);
    if (opening === undefined) {
      throw new ConfigError('windows', policy.windows, 'the renewal windows never open: check their days and times');
    }
    if (opening !== at) {
      at = opening;
      rule = 'renewal-window';
      steps.push({ rule, at: new Date(at), reason: 'moved to the next allowed renewal window' });
    }
  }
  if (at > latest) {
    at = latest;
    rule = 'emergency';
    steps.push({
      rule,
      at: new Date(at),
      reason: 'the critical limit before expiry beats every other rule',
    });
  }
  const last = steps[steps.length - 1]!;
  return { at: new Date(at), rule, steps, latest: base.latest, reason: last.reason };
}
