/**
 * Validity times, byte by byte: certificates are built by hand here so each
 * test controls the exact encoding of notBefore and notAfter. Expected dates
 * come from Date.UTC and the rules of RFC 5280 §4.1.2.5 / X.680; the last
 * test also asks `openssl x509` about every case.
 */
import { describe, expect, it } from 'vitest';
import { CertificateParseError, parseCertificate, readValidity } from '../../../src/index.js';
import { openssl, parseOpensslIsoDate, mapPool } from './openssl-cli.js';

// ---- a tiny DER encoder -----------------------------------------------------

function bytes(...parts: (Uint8Array | number[])[]): Uint8Array {
  return new Uint8Array(parts.flatMap((p) => Array.from(p)));
}

function lengthOctets(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

function tlv(tag: number, ...content: (Uint8Array | number[])[]): Uint8Array {
  const body = bytes(...content);
  return bytes([tag], lengthOctets(body.length), body);
}

const seq = (...c: Uint8Array[]): Uint8Array => tlv(0x30, ...c);
const set = (...c: Uint8Array[]): Uint8Array => tlv(0x31, ...c);
const ascii = (s: string): number[] => Array.from(s, (ch) => ch.charCodeAt(0));

function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  const push = (v: number): void => {
    const groups = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) groups.unshift((x & 0x7f) | 0x80);
    out.push(...groups);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(0x06, out);
}

/** A validity time element: tag and the characters of its content. */
interface Time {
  readonly tag: number;
  readonly text: string;
}
const utc = (text: string): Time => ({ tag: 0x17, text });
const gen = (text: string): Time => ({ tag: 0x18, text });

const P256_GENERATOR =
  '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296' +
  '4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5';

/** A minimal v3 certificate (EC P-256 key, ecdsa-with-SHA256, no extensions) with the given validity. */
function certificate(notBefore: Time, notAfter: Time): Uint8Array {
  const name = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, ascii('time rules')))));
  const sigAlg = seq(oid('1.2.840.10045.4.3.2'));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, [2])),
    tlv(0x02, [0x01, 0x23]),
    sigAlg,
    name,
    seq(tlv(notBefore.tag, ascii(notBefore.text)), tlv(notAfter.tag, ascii(notAfter.text))),
    name,
    seq(seq(oid('1.2.840.10045.2.1'), oid('1.2.840.10045.3.1.7')), tlv(0x03, [0], Buffer.from(P256_GENERATOR, 'hex'))),
  );
  return seq(tbs, sigAlg, tlv(0x03, [0], seq(tlv(0x02, [1]), tlv(0x02, [1]))));
}

const ORDINARY_BEFORE = utc('250101000000Z');
const ORDINARY_AFTER = utc('260101000000Z');

// ---- reading through both entry points ---------------------------------------

type Outcome =
  | { ok: true; notBefore: Date; notAfter: Date; standard: boolean; noWellDefinedExpiration: boolean; warnings: readonly string[] }
  | { ok: false; reason: string };

function attempt<T>(fn: () => T): { value: T } | { reason: string } {
  try {
    return { value: fn() };
  } catch (e) {
    if (e instanceof CertificateParseError) return { reason: e.reason };
    throw e;
  }
}

/**
 * Reads `der` with parseCertificate and readValidity, asserts that both agree
 * (same dates, or the same error reason), and returns the outcome.
 */
function readBoth(der: Uint8Array): Outcome {
  const full = attempt(() => parseCertificate(der));
  const fast = attempt(() => readValidity(der));
  if ('value' in full) {
    expect(fast, 'readValidity fails where parseCertificate succeeds').toHaveProperty('value');
    if (!('value' in fast)) throw new Error('unreachable');
    expect(fast.value.notBefore.getTime()).toBe(full.value.notBefore.getTime());
    expect(fast.value.notAfter.getTime()).toBe(full.value.notAfter.getTime());
    expect(fast.value.noWellDefinedExpiration).toBe(full.value.noWellDefinedExpiration);
    return {
      ok: true,
      notBefore: full.value.notBefore,
      notAfter: full.value.notAfter,
      standard: fast.value.standard,
      noWellDefinedExpiration: full.value.noWellDefinedExpiration,
      warnings: full.value.warnings,
    };
  }
  expect(fast, 'readValidity succeeds where parseCertificate fails').toEqual({ reason: full.reason });
  return { ok: false, reason: full.reason };
}

function readOk(der: Uint8Array): Extract<Outcome, { ok: true }> {
  const o = readBoth(der);
  if (!o.ok) throw new Error(`expected the certificate to be readable, got ${o.reason}`);
  return o;
}

/** The notAfter read from a certificate whose notAfter is `t` (notBefore ordinary). */
const notAfterOf = (t: Time): Date => readOk(certificate(ORDINARY_BEFORE, t)).notAfter;
/** The notBefore read from a certificate whose notBefore is `t` (notAfter ordinary). */
const notBeforeOf = (t: Time): Date => readOk(certificate(t, ORDINARY_AFTER)).notBefore;

const rfc5280Warning = (which: 'notBefore' | 'notAfter'): RegExp => new RegExp(`^${which}\\b.*RFC 5280`);

describe('UTCTime two-digit years (RFC 5280 §4.1.2.5.1)', () => {
  it('reads 49 as 2049, the last year of the 20xx window', () => {
    expect(notAfterOf(utc('491231235959Z'))).toEqual(new Date(Date.UTC(2049, 11, 31, 23, 59, 59)));
  });
  it('reads 50 as 1950, the first year of the 19xx window', () => {
    expect(notBeforeOf(utc('500101000000Z'))).toEqual(new Date(Date.UTC(1950, 0, 1)));
  });
  it('reads 99 as 1999', () => {
    expect(notBeforeOf(utc('990615123456Z'))).toEqual(new Date(Date.UTC(1999, 5, 15, 12, 34, 56)));
  });
  it('reads 00 as 2000', () => {
    expect(notBeforeOf(utc('000101000000Z'))).toEqual(new Date(Date.UTC(2000, 0, 1)));
  });
  it('treats a well-formed UTCTime pair as standard, with no warnings', () => {
    const o = readOk(certificate(ORDINARY_BEFORE, ORDINARY_AFTER));
    expect(o.standard).toBe(true);
    expect(o.warnings).toEqual([]);
  });
});

describe('GeneralizedTime', () => {
  it('reads 20500101000000Z as a standard time', () => {
    const o = readOk(certificate(ORDINARY_BEFORE, gen('20500101000000Z')));
    expect(o.notAfter).toEqual(new Date(Date.UTC(2050, 0, 1)));
    expect(o.standard).toBe(true);
    expect(o.warnings).toEqual([]);
  });

  it('reads a GeneralizedTime notBefore before 2050 but flags it as against RFC 5280', () => {
    const o = readOk(certificate(gen('20250101000000Z'), ORDINARY_AFTER));
    expect(o.notBefore).toEqual(new Date(Date.UTC(2025, 0, 1)));
    expect(o.standard).toBe(false);
    expect(o.warnings.some((w) => rfc5280Warning('notBefore').test(w))).toBe(true);
    expect(o.warnings.some((w) => rfc5280Warning('notAfter').test(w))).toBe(false);
  });

  it('reads a GeneralizedTime notAfter before 2050 but flags it as against RFC 5280', () => {
    const o = readOk(certificate(ORDINARY_BEFORE, gen('20491231235959Z')));
    expect(o.notAfter).toEqual(new Date(Date.UTC(2049, 11, 31, 23, 59, 59)));
    expect(o.standard).toBe(false);
    expect(o.warnings.some((w) => rfc5280Warning('notAfter').test(w))).toBe(true);
    expect(o.warnings.some((w) => rfc5280Warning('notBefore').test(w))).toBe(false);
  });

  it('marks 99991231235959Z as "no well-defined expiration" and keeps the date itself', () => {
    const o = readOk(certificate(ORDINARY_BEFORE, gen('99991231235959Z')));
    expect(o.noWellDefinedExpiration).toBe(true);
    expect(o.notAfter).toEqual(new Date(Date.UTC(9999, 11, 31, 23, 59, 59)));
    expect(o.standard).toBe(true);
  });

  it('does not mark an ordinary far-future notAfter as "no well-defined expiration"', () => {
    expect(readOk(certificate(ORDINARY_BEFORE, gen('99991231235958Z'))).noWellDefinedExpiration).toBe(false);
    expect(readOk(certificate(ORDINARY_BEFORE, ORDINARY_AFTER)).noWellDefinedExpiration).toBe(false);
  });

  it('reads year 0001 as year 1, not 1901', () => {
    const d = notBeforeOf(gen('00010101000000Z'));
    expect(d.getUTCFullYear()).toBe(1);
    const expected = new Date(0);
    expected.setUTCFullYear(1, 0, 1);
    expect(d.getTime()).toBe(expected.getTime());
  });

  it('drops the fraction of a fractional GeneralizedTime and flags it', () => {
    const o = readOk(certificate(gen('20550101100000.999Z'), gen('20560101100000.5Z')));
    expect(o.notBefore).toEqual(new Date(Date.UTC(2055, 0, 1, 10, 0, 0)));
    expect(o.notAfter).toEqual(new Date(Date.UTC(2056, 0, 1, 10, 0, 0)));
    expect(o.standard).toBe(false);
    expect(o.warnings.some((w) => rfc5280Warning('notBefore').test(w))).toBe(true);
  });
});

describe('encodings RFC 5280 forbids but OpenSSL reads', () => {
  it('reads a UTCTime without seconds as second 0 and flags it', () => {
    const o = readOk(certificate(utc('2501011234Z'), ORDINARY_AFTER));
    expect(o.notBefore).toEqual(new Date(Date.UTC(2025, 0, 1, 12, 34, 0)));
    expect(o.standard).toBe(false);
    expect(o.warnings.some((w) => rfc5280Warning('notBefore').test(w))).toBe(true);
  });

  it('reads a GeneralizedTime without seconds as second 0', () => {
    expect(notAfterOf(gen('205501011234Z'))).toEqual(new Date(Date.UTC(2055, 0, 1, 12, 34, 0)));
  });

  it('applies a +0100 offset: 10:00+0100 is 09:00Z, and flags it', () => {
    const o = readOk(certificate(utc('250101100000+0100'), ORDINARY_AFTER));
    expect(o.notBefore).toEqual(new Date(Date.UTC(2025, 0, 1, 9, 0, 0)));
    expect(o.standard).toBe(false);
    expect(o.warnings.some((w) => rfc5280Warning('notBefore').test(w))).toBe(true);
  });

  it('applies a -0500 offset: 10:00-0500 is 15:00Z', () => {
    const o = readOk(certificate(ORDINARY_BEFORE, utc('260101100000-0500')));
    expect(o.notAfter).toEqual(new Date(Date.UTC(2026, 0, 1, 15, 0, 0)));
    expect(o.warnings.some((w) => rfc5280Warning('notAfter').test(w))).toBe(true);
  });

  it('carries an offset across midnight and the year boundary', () => {
    expect(notAfterOf(utc('261231233000-0130'))).toEqual(new Date(Date.UTC(2027, 0, 1, 1, 0, 0)));
    expect(notBeforeOf(utc('250101003000+0100'))).toEqual(new Date(Date.UTC(2024, 11, 31, 23, 30, 0)));
  });

  it('applies an offset to a GeneralizedTime with neither seconds nor Z', () => {
    expect(notAfterOf(gen('205506151000+0230'))).toEqual(new Date(Date.UTC(2055, 5, 15, 7, 30, 0)));
  });
});

describe('leap years', () => {
  it('accepts 29 February 2048 (UTCTime 48) and 2000 (a 400-year leap year)', () => {
    expect(notBeforeOf(utc('480229000000Z'))).toEqual(new Date(Date.UTC(2048, 1, 29)));
    expect(notBeforeOf(utc('000229000000Z'))).toEqual(new Date(Date.UTC(2000, 1, 29)));
    expect(notAfterOf(gen('20000229000000Z'))).toEqual(new Date(Date.UTC(2000, 1, 29)));
  });

  it('rejects 29 February 2049 as bad-time instead of rolling over to 1 March', () => {
    expect(readBoth(certificate(ORDINARY_BEFORE, utc('490229000000Z')))).toEqual({ ok: false, reason: 'bad-time' });
  });

  it('rejects 29 February 2100 (a century that is not a leap year) as bad-time', () => {
    expect(readBoth(certificate(ORDINARY_BEFORE, gen('21000229000000Z')))).toEqual({ ok: false, reason: 'bad-time' });
  });
});

/** Times that name no instant (or are not X.509 times at all). */
const IMPOSSIBLE: readonly (readonly [string, Time])[] = [
  ['second 60 (X.509 has no leap seconds)', utc('251231235960Z')],
  ['month 13', utc('251301000000Z')],
  ['month 00', utc('250001000000Z')],
  ['day 32', utc('250132000000Z')],
  ['day 00', utc('250100000000Z')],
  ['31 April', utc('250431000000Z')],
  ['hour 24', utc('250101240000Z')],
  ['minute 60', utc('250101006000Z')],
  ['no zone (missing Z)', utc('250101000000')],
  ['GeneralizedTime without Z', gen('20550101000000')],
  ['offset hour 13', utc('250101000000+1300')],
  ['offset minute 60', utc('250101000000+0160')],
  ['an offset of three digits', utc('250101000000+010')],
  ['a letter inside the digits', utc('2501a1000000Z')],
  ['a space inside the digits', utc('2501 1000000Z')],
  ['characters after the Z', utc('250101000000Zjunk')],
  ['a lower-case z', utc('250101000000z')],
  ['an empty time', utc('')],
  ['a decimal point without digits', gen('20550101000000.Z')],
  ['a decimal fraction in UTCTime', utc('250101000000.5Z')],
  ['a sign inside the year', utc('-50101000000Z')],
];

describe('impossible times are bad-time, never a rolled-over date', () => {
  for (const [what, time] of IMPOSSIBLE) {
    it(`rejects ${what} in notAfter as bad-time`, () => {
      expect(readBoth(certificate(ORDINARY_BEFORE, time))).toEqual({ ok: false, reason: 'bad-time' });
    });
    it(`rejects ${what} in notBefore as bad-time`, () => {
      expect(readBoth(certificate(time, ORDINARY_AFTER))).toEqual({ ok: false, reason: 'bad-time' });
    });
  }

  it('rejects a PrintableString where the validity needs a time as bad-time', () => {
    expect(readBoth(certificate({ tag: 0x13, text: '250101000000Z' }, ORDINARY_AFTER))).toEqual({
      ok: false,
      reason: 'bad-time',
    });
  });

  it('rejects an OCTET STRING where notAfter should be as bad-time', () => {
    expect(readBoth(certificate(ORDINARY_BEFORE, { tag: 0x04, text: '20550101000000Z' }))).toEqual({
      ok: false,
      reason: 'bad-time',
    });
  });
});

/** Every readable case above, with its expected instant, for the cross-check with OpenSSL. */
const READABLE: readonly (readonly [Time, Date])[] = [
  [utc('491231235959Z'), new Date(Date.UTC(2049, 11, 31, 23, 59, 59))],
  [utc('500101000000Z'), new Date(Date.UTC(1950, 0, 1))],
  [utc('000101000000Z'), new Date(Date.UTC(2000, 0, 1))],
  [gen('20500101000000Z'), new Date(Date.UTC(2050, 0, 1))],
  [gen('20250101000000Z'), new Date(Date.UTC(2025, 0, 1))],
  [gen('99991231235959Z'), new Date(Date.UTC(9999, 11, 31, 23, 59, 59))],
  [gen('20550101100000.999Z'), new Date(Date.UTC(2055, 0, 1, 10, 0, 0))],
  [utc('2501011234Z'), new Date(Date.UTC(2025, 0, 1, 12, 34, 0))],
  [utc('250101100000+0100'), new Date(Date.UTC(2025, 0, 1, 9, 0, 0))],
  [utc('260101100000-0500'), new Date(Date.UTC(2026, 0, 1, 15, 0, 0))],
  [utc('480229000000Z'), new Date(Date.UTC(2048, 1, 29))],
  [gen('20000229000000Z'), new Date(Date.UTC(2000, 1, 29))],
  [gen('205501011234Z'), new Date(Date.UTC(2055, 0, 1, 12, 34, 0))],
  [utc('261231233000-0130'), new Date(Date.UTC(2027, 0, 1, 1, 0, 0))],
  [gen('205506151000+0230'), new Date(Date.UTC(2055, 5, 15, 7, 30, 0))],
  [gen('00010101000000Z'), yearOne()],
];

function yearOne(): Date {
  const d = new Date(0);
  d.setUTCFullYear(1, 0, 1);
  return d;
}

describe('agreement with OpenSSL on the hand-built times', () => {
  it('reads every readable case at the instant OpenSSL prints, and OpenSSL finds no date in the impossible ones', async () => {
    const cases: { label: string; time: Time; expected: Date | undefined }[] = [
      ...READABLE.map(([time, expected]) => ({ label: time.text, time, expected })),
      ...IMPOSSIBLE.filter(([, t]) => t.text !== '').map(([what, time]) => ({ label: what, time, expected: undefined })),
    ];
    const runs = await mapPool(cases, (c) =>
      openssl(['x509', '-inform', 'DER', '-noout', '-enddate', '-dateopt', 'iso_8601'], certificate(ORDINARY_BEFORE, c.time)),
    );
    const problems: string[] = [];
    cases.forEach((c, i) => {
      const run = runs[i]!;
      const m = /^notAfter=(.*)$/m.exec(run.stdout);
      let theirs: Date | undefined;
      if (run.status === 0 && m?.[1] !== undefined && !/Bad time value/i.test(m[1])) theirs = parseOpensslIsoDate(m[1]);
      if (c.expected === undefined) {
        // OpenSSL loads the certificate (the harness works) and prints "Bad time value".
        if (run.status !== 0 || m?.[1] === undefined) problems.push(`${c.label}: OpenSSL did not load it: ${run.stderr}`);
        else if (theirs !== undefined) problems.push(`${c.label}: OpenSSL reads ${theirs.toISOString()}, we reject it`);
      } else if (theirs?.getTime() !== c.expected.getTime()) {
        problems.push(`${c.label}: OpenSSL says ${theirs?.toISOString() ?? run.stdout + run.stderr}, expected ${c.expected.toISOString()}`);
      }
    });
    expect(problems).toEqual([]);
  });
});
