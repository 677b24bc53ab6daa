/**
 * X.509 validity times (RFC 5280 §4.1.2.5), decoded straight from the DER
 * bytes.
 *
 * What is accepted is exactly what OpenSSL accepts when it reads a
 * certificate, so certsteward and `openssl x509` agree on every date:
 * UTCTime `YYMMDDHHMM[SS](Z|±hhmm)` with years 50–99 as 19xx and 00–49 as
 * 20xx; GeneralizedTime `YYYYMMDDHHMM[SS][.f…](Z|±hhmm)`. Anything RFC 5280
 * does not allow (no seconds, an offset, fractional seconds, GeneralizedTime
 * before 2050) is read the same way and flagged `standard: false`. Impossible
 * dates (29 February in a common year, hour 24, second 60, month 13) and a
 * missing zone are a `bad-time` {@link CertificateParseError}, never a date
 * rolled over into the next month.
 *
 * @module
 */
import { CertificateParseError } from '../errors.js';
import { Tag } from './der.js';

const MS_PER_DAY = 86_400_000;
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** A decoded validity time. */
export interface DecodedTime {
  /** Milliseconds since the epoch (UTC), fractions of a second dropped as OpenSSL does. */
  readonly ms: number;
  /** False when the encoding is one RFC 5280 forbids but OpenSSL reads. */
  readonly standard: boolean;
}

/** GeneralizedTime 99991231235959Z: "no well-defined expiration date" (RFC 5280). */
export const NO_WELL_DEFINED_EXPIRATION_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

function isLeap(y: number): boolean {
  return y % 400 === 0 || (y % 100 !== 0 && y % 4 === 0);
}

/** Days from 1970-01-01 to the civil date (proleptic Gregorian, any year). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function bad(start: number, why: string): CertificateParseError {
  return new CertificateParseError('bad-time', `validity time at offset ${start}: ${why}`, { offset: start });
}

/**
 * Decodes the UTCTime or GeneralizedTime whose content is `buf[s, e)`.
 * @throws {@link CertificateParseError} `bad-time`.
 */
export function decodeTime(buf: Uint8Array, tag: number, s: number, e: number): DecodedTime {
  const utc = tag === Tag.UTC_TIME;
  if (!utc && tag !== Tag.GENERALIZED_TIME) throw bad(s, `tag 0x${tag.toString(16)} is not UTCTime or GeneralizedTime`);
  const len = e - s;
  if (len < (utc ? 11 : 13)) throw bad(s, `${len} characters is too short for ${utc ? 'UTCTime' : 'GeneralizedTime'}`);
  let p = s;
  const two = (what: string, lo: number, hi: number): number => {
    const a = buf[p]! - 48;
    const b = buf[p + 1]! - 48;
    if (p + 1 >= e || a < 0 || a > 9 || b < 0 || b > 9) throw bad(s, `expected two digits for the ${what}`);
    p += 2;
    if (p >= e) throw bad(s, 'no time zone');
    const v = a * 10 + b;
    if (v < lo || v > hi) throw bad(s, `${what} ${v} is out of range`);
    return v;
  };
  let year: number;
  if (utc) {
    const yy = two('year', 0, 99);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else {
    year = two('century', 0, 99) * 100;
    year += two('year', 0, 99);
  }
  const month = two('month', 1, 12);
  const maxDay = month === 2 && isLeap(year) ? 29 : MONTH_DAYS[month - 1]!;
  const day = two('day', 1, 31);
  if (day > maxDay) throw bad(s, `day ${day} does not exist in month ${month} of ${year}`);
  const hour = two('hour', 0, 23);
  const minute = two('minute', 0, 59);
  let standard = true;
  let second = 0;
  const c = buf[p]!;
  if (c === 0x5a /* Z */ || c === 0x2b /* + */ || c === 0x2d /* - */) {
    standard = false; // seconds omitted
  } else {
    second = two('second', 0, 59);
  }
  if (!utc && buf[p] === 0x2e /* . */) {
    standard = false;
    p++;
    const digits = p;
    while (p < e && buf[p]! >= 48 && buf[p]! <= 57) p++;
    if (p === digits) throw bad(s, 'a decimal point without digits');
    if (p >= e) throw bad(s, 'no time zone');
  }
  let offsetMinutes = 0;
  const z = buf[p]!;
  if (z === 0x5a) {
    p++;
  } else if (z === 0x2b || z === 0x2d) {
    standard = false;
    p++;
    if (p + 4 !== e) throw bad(s, 'a time zone offset must be ±hhmm');
    const sign = z === 0x2d ? -1 : 1;
    const hh = digitsAt(buf, p, s);
    const mm = digitsAt(buf, p + 2, s);
    if (hh > 12 || mm > 59) throw bad(s, `time zone offset ${hh}:${mm} is out of range`);
    offsetMinutes = sign * (hh * 60 + mm);
    p += 4;
  } else {
    throw bad(s, 'no time zone (it must end in Z)');
  }
  if (p !== e) throw bad(s, 'unexpected characters after the time zone');
  if (!utc && year < 2050) standard = false;
  const ms =
    daysFromCivil(year, month, day) * MS_PER_DAY +
    ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000;
  return { ms, standard };
}

function digitsAt(buf: Uint8Array, p: number, s: number): number {
  const a = buf[p]! - 48;
  const b = buf[p + 1]! - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9) throw bad(s, 'time zone offset is not digits');
  return a * 10 + b;
}
