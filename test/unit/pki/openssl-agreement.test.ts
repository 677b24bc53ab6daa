/**
 * certsteward reads the same dates, serial number and fingerprint as
 * `openssl x509` on every certificate nobody in this project wrote: the zlint
 * test corpus (built to break one rule each) and the machine's CA bundle.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateParseError,
  parseCertificate,
  parseCertificates,
  readValidity,
  type CertificateInfo,
} from '../../../src/index.js';
import { CA_BUNDLE, splitPem, zlintCertificateFiles } from './corpus.js';
import { mapPool, openssl, opensslHex, parseOpensslIsoDate, type OpensslRun } from './openssl-cli.js';

/** Files OpenSSL 3.0 refuses to load ("No supported data to decode"). */
const KNOWN_OPENSSL_UNREADABLE = ['subCertLocalityNameDoesNotNeedToAppear.pem'];

const SUMMARY_ARGS = [
  'x509', '-noout', '-startdate', '-enddate', '-serial', '-fingerprint', '-sha256', '-dateopt', 'iso_8601',
  '-subject', '-issuer', '-nameopt', 'RFC2253',
];

/** What `openssl x509 -noout -startdate -enddate -serial -fingerprint -sha256` printed. */
interface OpensslSummary {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Lowercase hex of the magnitude, `-` prefix when negative. */
  readonly serial: string;
  /** Lowercase hex without colons. */
  readonly sha256: string;
}

function field(stdout: string, re: RegExp, what: string): string {
  const m = re.exec(stdout);
  if (!m?.[1]) throw new Error(`openssl printed no ${what}:\n${stdout}`);
  return m[1];
}

function readSummary(run: OpensslRun): OpensslSummary {
  const out = run.stdout;
  return {
    notBefore: parseOpensslIsoDate(field(out, /^notBefore=(.*)$/m, 'notBefore')),
    notAfter: parseOpensslIsoDate(field(out, /^notAfter=(.*)$/m, 'notAfter')),
    serial: field(out, /^serial=(-?[0-9A-Fa-f]+)$/m, 'serial').toLowerCase(),
    sha256: opensslHex(field(out, /^sha256 Fingerprint=([0-9A-Fa-f:]+)$/im, 'SHA-256 fingerprint')),
  };
}

/** Every way `ours` differs from what OpenSSL printed, as readable lines. */
function disagreements(where: string, ours: CertificateInfo, theirs: OpensslSummary): string[] {
  const out: string[] = [];
  const date = (name: string, a: Date, b: Date): void => {
    if (a.getTime() !== b.getTime()) out.push(`${where}: ${name} ours=${iso(a)} openssl=${iso(b)}`);
  };
  date('notBefore', ours.notBefore, theirs.notBefore);
  date('notAfter', ours.notAfter, theirs.notAfter);
  if (ours.serialNumber !== theirs.serial) out.push(`${where}: serial ours=${ours.serialNumber} openssl=${theirs.serial}`);
  if (ours.fingerprints.sha256 !== theirs.sha256) {
    out.push(`${where}: sha256 ours=${ours.fingerprints.sha256} openssl=${theirs.sha256}`);
  }
  return out;
}

/** Splits an RFC 4514 string at unescaped separators `sep`. */
function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1]!;
      i++;
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

/**
 * Whether our RFC 4514 string names the same thing as OpenSSL's RFC 2253
 * output. Only presentation freedoms are allowed: attribute type names are
 * case-insensitive (RFC 4512: `STREET` = `street`), the attributes of one
 * multi-valued RDN are a SET (their order is not significant), and an
 * attribute we have no short name for may appear as its dotted OID.
 */
function sameName(ours: string, theirs: string): boolean {
  if (ours === theirs) return true;
  const parse = (dn: string): { type: string; value: string }[][] =>
    dn === ''
      ? []
      : splitUnescaped(dn, ',').map((rdn) =>
          splitUnescaped(rdn, '+')
            .map((ava) => {
              const eq = ava.indexOf('=');
              return { type: ava.slice(0, eq).toLowerCase(), value: ava.slice(eq + 1) };
            })
            .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)),
        );
  const a = parse(ours);
  const b = parse(theirs);
  return (
    a.length === b.length &&
    a.every(
      (rdn, i) =>
        rdn.length === b[i]!.length &&
        rdn.every((ava, j) => {
          const other = b[i]![j]!;
          return ava.value === other.value && (ava.type === other.type || /^\d+(\.\d+)+$/.test(ava.type));
        }),
    )
  );
}

/** OpenSSL's RFC 2253 output escapes every non-ASCII byte as \XX: such names are not compared. */
function asciiOnly(ours: string, theirs: string): boolean {
  return !/[^\x20-\x7e]/.test(ours) && !/\\[0-9A-F]{2}/.test(theirs);
}

function iso(d: Date): string {
  return Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString();
}

/** Checks that readValidity agrees with the full parser on one certificate; returns the differences. */
function validityDifferences(where: string, info: CertificateInfo): string[] {
  const v = readValidity(info.der);
  const out: string[] = [];
  if (v.notBefore.getTime() !== info.notBefore.getTime()) out.push(`${where}: notBefore ${iso(v.notBefore)} vs ${iso(info.notBefore)}`);
  if (v.notAfter.getTime() !== info.notAfter.getTime()) out.push(`${where}: notAfter ${iso(v.notAfter)} vs ${iso(info.notAfter)}`);
  if (v.noWellDefinedExpiration !== info.noWellDefinedExpiration) out.push(`${where}: noWellDefinedExpiration differs`);
  const flagged = info.warnings.some((w) => /^not(Before|After)\b/.test(w));
  if (v.standard === flagged) out.push(`${where}: readValidity.standard=${v.standard} but time warnings=${flagged}`);
  return out;
}

describe('the zlint corpus', () => {
  const files = zlintCertificateFiles();
  const runs = new Map<string, OpensslRun>();

  beforeAll(async () => {
    const results = await mapPool(files, (f) => openssl([...SUMMARY_ARGS, '-in', f.path]));
    files.forEach((f, i) => runs.set(f.name, results[i]!));
  });

  it('holds over a thousand certificate files, so the comparison covers something', () => {
    expect(files.length).toBeGreaterThan(1000);
  });

  it('is unreadable to OpenSSL for exactly the known files, so a broken harness shows', () => {
    const unreadable = files.filter((f) => runs.get(f.name)!.status !== 0).map((f) => f.name);
    expect(unreadable).toEqual(KNOWN_OPENSSL_UNREADABLE);
  });

  it('gives the notBefore, notAfter, serial and SHA-256 fingerprint OpenSSL prints, on every file OpenSSL reads', () => {
    const problems: string[] = [];
    let compared = 0;
    for (const f of files) {
      const run = runs.get(f.name)!;
      if (run.status !== 0) continue;
      let ours: CertificateInfo;
      try {
        ours = parseCertificate(f.text);
      } catch (e) {
        problems.push(`${f.name}: OpenSSL reads it, we throw ${describeError(e)}`);
        continue;
      }
      problems.push(...disagreements(f.name, ours, readSummary(run)));
      compared++;
    }
    expect(problems).toEqual([]);
    expect(compared).toBe(files.length - KNOWN_OPENSSL_UNREADABLE.length);
  });

  it('reads a file OpenSSL cannot load as a certificate or a CertificateParseError, never a crash', () => {
    for (const name of KNOWN_OPENSSL_UNREADABLE) {
      const f = files.find((x) => x.name === name)!;
      expect(f, name).toBeDefined();
      let outcome: string;
      try {
        parseCertificate(f.text);
        outcome = 'parsed';
      } catch (e) {
        outcome = e instanceof CertificateParseError ? 'CertificateParseError' : describeError(e);
      }
      expect(['parsed', 'CertificateParseError']).toContain(outcome);
    }
  });

  it('gives the subject and issuer OpenSSL prints with -nameopt RFC2253, for every ASCII name', () => {
    const problems: string[] = [];
    let compared = 0;
    for (const f of files) {
      const run = runs.get(f.name)!;
      if (run.status !== 0) continue;
      const info = parseCertificate(f.text);
      for (const [which, ours] of [['subject', info.subject.dn], ['issuer', info.issuer.dn]] as const) {
        const theirs = new RegExp(`^${which}=(.*)$`, 'm').exec(run.stdout)?.[1];
        if (theirs === undefined) throw new Error(`openssl printed no ${which} for ${f.name}`);
        if (!asciiOnly(ours, theirs)) continue;
        compared++;
        if (!sameName(ours, theirs)) problems.push(`${f.name}: ${which} ours=${JSON.stringify(ours)} openssl=${JSON.stringify(theirs)}`);
      }
    }
    expect(compared).toBeGreaterThan(1500);
    expect({ disagreements: problems.length, first: problems.slice(0, 10) }).toEqual({ disagreements: 0, first: [] });
  });

  it('gives the same dates through readValidity as through the full parser, for every certificate in every file', () => {
    const problems: string[] = [];
    let certificates = 0;
    for (const f of files) {
      let infos: CertificateInfo[];
      try {
        infos = parseCertificates(f.text);
      } catch (e) {
        if (runs.get(f.name)!.status !== 0 && e instanceof CertificateParseError) continue;
        problems.push(`${f.name}: parseCertificates threw ${describeError(e)}`);
        continue;
      }
      infos.forEach((info, i) => problems.push(...validityDifferences(`${f.name}#${i}`, info)));
      certificates += infos.length;
    }
    expect(problems).toEqual([]);
    expect(certificates).toBeGreaterThanOrEqual(files.length - KNOWN_OPENSSL_UNREADABLE.length);
  });
});

describe('the machine CA bundle', () => {
  const text = readFileSync(CA_BUNDLE, 'utf8');
  const blocks = splitPem(text);
  let runs: OpensslRun[] = [];

  beforeAll(async () => {
    runs = await mapPool(blocks, (b) => openssl(SUMMARY_ARGS, b));
  });

  it('holds more than 100 certificates, all of which parseCertificates returns in order', () => {
    const infos = parseCertificates(text);
    expect(blocks.length).toBeGreaterThan(100);
    expect(infos.length).toBe(blocks.length);
  });

  it('agrees with OpenSSL on every root: dates, serial and SHA-256 fingerprint', () => {
    const infos = parseCertificates(text);
    const problems: string[] = [];
    blocks.forEach((_, i) => {
      const run = runs[i]!;
      if (run.status !== 0) {
        problems.push(`bundle #${i}: openssl failed: ${run.stderr.split('\n')[0]}`);
        return;
      }
      problems.push(...disagreements(`bundle #${i} (${infos[i]?.subject.dn})`, infos[i]!, readSummary(run)));
    });
    expect(problems).toEqual([]);
  });

  it('gives the same dates through readValidity as through the full parser for every root', () => {
    const problems = parseCertificates(text).flatMap((info, i) => validityDifferences(`bundle #${i}`, info));
    expect(problems).toEqual([]);
  });
});

function describeError(e: unknown): string {
  if (e instanceof CertificateParseError) return `CertificateParseError(${e.reason}): ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

