/**
 * Hostile bytes: real certificates (zlint corpus and the CA bundle), mutated
 * by a seeded PRNG, must only ever produce a certificate or a
 * CertificateParseError, and readValidity must read the same dates as
 * parseCertificate whenever the latter succeeds. Every input is derived from
 * MASTER_SEED and its index alone, so a failure can be replayed from the
 * seed printed with it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CertificateParseError, parseCertificate, parseCertificates, readValidity } from '../../../src/index.js';
import { CA_BUNDLE, pemToDer, splitPem, zlintFiles } from './corpus.js';
import { mulberry32 } from '../../support/seeded-random.js';

const MASTER_SEED = 0x5eedc0de;


/** The seed of input number `i` of a stream: reproducible without replaying the others. */
function inputSeed(stream: number, i: number): number {
  return (Math.imul(MASTER_SEED ^ stream, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)) >>> 0;
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  byte(): number {
    return this.int(256);
  }
}

// ---- seed certificates -------------------------------------------------------

/** zlint files chosen for variety: odd times, negative serial, unique IDs, DSA, EC, PSS, IPv6, AIA, a 33 KB name. */
const ZLINT_SEEDS = [
  'generalizedNoFraction.pem',
  'generalizedNotZulu.pem',
  'generalizedNoSeconds.pem',
  'utcNoSeconds.pem',
  'utcNotZulu.pem',
  'SANCaseNotMatchingCN.pem',
  'serialNumberNegative.pem',
  'issuerUID.pem',
  'uniqueIdVersion1.pem',
  'dsaCert.pem',
  'ecdsaP384.pem',
  'rsassapssWithSHA256.pem',
  'SANIPv6Address.pem',
  'aiaWithValidNames.pem',
  'givenNameOver32768.pem',
];

interface Seed {
  readonly name: string;
  readonly der: Uint8Array;
}

function seeds(): Seed[] {
  const byName = new Map(zlintFiles().map((f) => [f.name, f]));
  const out: Seed[] = ZLINT_SEEDS.map((name) => {
    const f = byName.get(name);
    if (!f) throw new Error(`corpus file ${name} is missing`);
    return { name, der: pemToDer(splitPem(f.text)[0]!) };
  });
  const bundle = splitPem(readFileSync(CA_BUNDLE, 'utf8'));
  for (const i of [0, 29, 58, 87, bundle.length - 1]) out.push({ name: `ca-bundle#${i}`, der: pemToDer(bundle[i]!) });
  return out;
}

// ---- DER mutations -----------------------------------------------------------

/** Where a length field sits: `pos` is its first octet, `octets` how many it spans. */
interface LengthField {
  readonly pos: number;
  readonly octets: number;
  readonly len: number;
}

/** The length fields of every element reachable in `der[start, end)`, including DER wrapped in BIT and OCTET STRINGs. */
function lengthFields(der: Uint8Array, start: number, end: number, out: LengthField[] = [], depth = 0): LengthField[] {
  let p = start;
  while (p < end && depth < 20) {
    const tag = der[p]!;
    let q = p + 1;
    if ((tag & 0x1f) === 0x1f) {
      while (q < end && der[q]! & 0x80) q++;
      q++;
    }
    if (q >= end) return out;
    const first = der[q]!;
    let len = first;
    let octets = 1;
    if (first & 0x80) {
      const n = first & 0x7f;
      if (n === 0 || n > 4 || q + 1 + n > end) return out;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[q + 1 + i]!;
      octets = 1 + n;
    }
    const cs = q + octets;
    const ce = cs + len;
    if (ce > end) return out;
    out.push({ pos: q, octets, len });
    if (tag & 0x20) lengthFields(der, cs, ce, out, depth + 1);
    else if (tag === 0x04 && der[cs] === 0x30) lengthFields(der, cs, ce, out, depth + 1);
    else if (tag === 0x03 && der[cs] === 0x00 && der[cs + 1] === 0x30) lengthFields(der, cs + 1, ce, out, depth + 1);
    p = ce;
  }
  return out;
}

function splice(der: Uint8Array, at: number, remove: number, insert: readonly number[]): Uint8Array {
  const out = new Uint8Array(der.length - remove + insert.length);
  out.set(der.subarray(0, at), 0);
  out.set(insert, at);
  out.set(der.subarray(at + remove), at + insert.length);
  return out;
}

function longForm(n: number): number[] {
  const o: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) o.unshift(v & 0xff);
  if (o.length === 0) o.push(0);
  return [0x80 | o.length, ...o];
}

/** A length encoding that lies about `len`. */
function lyingLength(rng: Rng, len: number): number[] {
  switch (rng.int(14)) {
    case 0:
      return len + 1 < 0x80 ? [len + 1] : longForm(len + 1);
    case 1:
      return len > 0 ? (len - 1 < 0x80 ? [len - 1] : longForm(len - 1)) : [0];
    case 2:
      return [0];
    case 3:
      return [rng.int(0x80)];
    case 4:
      return [0x80]; // indefinite
    case 5:
      return [0x81, rng.byte()];
    case 6:
      return longForm(Math.max(0, len + rng.range(-300, 300)));
    case 7:
      return [0x84, 0xff, 0xff, 0xff, 0xff];
    case 8:
      return [0x84, 0x7f, 0xff, 0xff, 0xff];
    case 9:
      return [0x84, rng.byte(), rng.byte(), rng.byte(), rng.byte()];
    case 10:
      return [0x85, 0x01, 0x00, 0x00, 0x00, 0x00];
    case 11:
      return [0xff];
    case 12:
      return [0x84, 0, 0, (len >> 8) & 0xff, len & 0xff]; // non-minimal but true
    default:
      return [0x83, 0xff, 0xff, 0xff];
  }
}

type DerMutation = 'bit-flip' | 'overwrite' | 'length-lie' | 'tag-swap' | 'insert' | 'delete' | 'truncate-random';
const DER_MUTATIONS: readonly DerMutation[] = ['bit-flip', 'overwrite', 'length-lie', 'tag-swap', 'insert', 'delete', 'truncate-random'];

function mutateDer(rng: Rng, der: Uint8Array, fields: readonly LengthField[]): { kind: DerMutation; bytes: Uint8Array } {
  let kind = rng.pick(DER_MUTATIONS);
  if (der.length === 0) return { kind: 'insert', bytes: Uint8Array.from([rng.byte()]) };
  if (fields.length === 0 && (kind === 'length-lie' || kind === 'tag-swap')) kind = 'overwrite';
  switch (kind) {
    case 'bit-flip': {
      const out = der.slice();
      for (let n = rng.range(1, 8); n > 0; n--) {
        const i = rng.int(out.length);
        out[i] = out[i]! ^ (1 << rng.int(8));
      }
      return { kind, bytes: out };
    }
    case 'overwrite': {
      const out = der.slice();
      for (let n = rng.range(1, 8); n > 0; n--) out[rng.int(out.length)] = rng.byte();
      return { kind, bytes: out };
    }
    case 'length-lie': {
      const f = rng.pick(fields);
      return { kind, bytes: splice(der, f.pos, f.octets, lyingLength(rng, f.len)) };
    }
    case 'tag-swap': {
      const f = rng.pick(fields);
      const out = der.slice();
      const tags = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, 0x17, 0x18, 0x1f, 0x30, 0x31, 0x80, 0x82, 0x86, 0x87, 0xa0, 0xa3, 0xbf];
      out[f.pos - 1] = rng.int(2) === 0 ? rng.pick(tags) : rng.byte();
      return { kind, bytes: out };
    }
    case 'insert': {
      const extra = Array.from({ length: rng.range(1, 4) }, () => rng.byte());
      return { kind, bytes: splice(der, rng.int(der.length + 1), 0, extra) };
    }
    case 'delete': {
      const at = rng.int(der.length);
      return { kind, bytes: splice(der, at, Math.min(rng.range(1, 4), der.length - at), []) };
    }
    case 'truncate-random':
      return { kind, bytes: der.slice(0, rng.int(der.length)) };
  }
}

/** Two or three mutations in a row, each on the result of the previous one. */
function mutateStacked(rng: Rng, der: Uint8Array, fields: readonly LengthField[]): { kind: string; bytes: Uint8Array } {
  let bytes = der;
  const kinds: string[] = [];
  for (let n = rng.range(2, 3); n > 0; n--) {
    const m = mutateDer(rng, bytes, bytes === der ? fields : lengthFields(bytes, 0, bytes.length));
    kinds.push(m.kind);
    bytes = m.bytes;
  }
  return { kind: kinds.join('+'), bytes };
}

// ---- the oracle --------------------------------------------------------------

interface Failure {
  readonly where: string;
  readonly problem: string;
  readonly input: string;
}

interface Tally {
  parseCertificate: number;
  readValidity: number;
  parsed: number;
  failure: Failure | undefined;
}

function outcome<T>(fn: () => T): { value: T } | { error: unknown } {
  try {
    return { value: fn() };
  } catch (error) {
    return { error };
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
}

/**
 * Runs parseCertificate, readValidity (and, when `bundle`, parseCertificates)
 * on `input`; records the first breach of the rules in `tally`.
 */
function check(tally: Tally, where: string, input: Uint8Array | string, bundle: boolean): void {
  const fail = (problem: string): void => {
    tally.failure ??= {
      where,
      problem,
      input: typeof input === 'string' ? JSON.stringify(input) : Buffer.from(input).toString('hex'),
    };
  };
  const full = outcome(() => parseCertificate(input));
  tally.parseCertificate++;
  const fast = outcome(() => readValidity(input));
  tally.readValidity++;
  if ('error' in full && !(full.error instanceof CertificateParseError)) fail(`parseCertificate threw ${errorText(full.error)}`);
  if ('error' in fast && !(fast.error instanceof CertificateParseError)) fail(`readValidity threw ${errorText(fast.error)}`);
  if ('value' in full) {
    tally.parsed++;
    if (!('value' in fast)) {
      fail(`parseCertificate succeeded but readValidity threw ${errorText(fast.error)}`);
    } else if (
      fast.value.notBefore.getTime() !== full.value.notBefore.getTime() ||
      fast.value.notAfter.getTime() !== full.value.notAfter.getTime()
    ) {
      fail(`dates differ: parseCertificate ${full.value.notBefore.getTime()}..${full.value.notAfter.getTime()}, readValidity ${fast.value.notBefore.getTime()}..${fast.value.notAfter.getTime()}`);
    }
  }
  if (bundle) {
    const all = outcome(() => parseCertificates(input));
    if ('error' in all && !(all.error instanceof CertificateParseError)) fail(`parseCertificates threw ${errorText(all.error)}`);
  }
}

function report(f: Failure | undefined): string {
  return f ? `first failure at ${f.where} (MASTER_SEED 0x${MASTER_SEED.toString(16)}): ${f.problem}\ninput: ${f.input}` : 'none';
}

const newTally = (): Tally => ({ parseCertificate: 0, readValidity: 0, parsed: 0, failure: undefined });

// ---- the tests ---------------------------------------------------------------

const RANDOM_MUTATIONS_PER_SEED = 6_000;

describe('fuzzing DER', () => {
  const corpus = seeds();

  it('starts from 20 certificates that all parse unmutated', () => {
    expect(corpus).toHaveLength(20);
    for (const s of corpus) expect(() => parseCertificate(s.der), s.name).not.toThrow();
  });

  it('survives truncation at every offset of every seed certificate with only CertificateParseError', () => {
    const tally = newTally();
    for (const s of corpus) {
      for (let n = 0; n < s.der.length; n++) check(tally, `${s.name} cut to ${n} bytes`, s.der.subarray(0, n), false);
    }
    expect(tally.failure, report(tally.failure)).toBeUndefined();
    // A cut certificate never parses: the outer SEQUENCE announces the full length.
    expect(tally.parsed).toBe(0);
    expect(tally.parseCertificate).toBe(corpus.reduce((a, s) => a + s.der.length, 0));
  });

  it('survives 120,000 random bit flips, overwrites, length lies, tag swaps, insertions, deletions and stacks of them', () => {
    const started = performance.now();
    const tally = newTally();
    const byKind = new Map<DerMutation, number>();
    let stackedCount = 0;
    corpus.forEach((s, k) => {
      const fields = lengthFields(s.der, 0, s.der.length);
      expect(fields.length, s.name).toBeGreaterThan(20);
      for (let i = 0; i < RANDOM_MUTATIONS_PER_SEED; i++) {
        const seed = inputSeed(k, i);
        const rng = new Rng(seed);
        // One input in eight gets stacked mutations; the rest one mutation each.
        const stacked = rng.int(8) === 0;
        const { kind, bytes } = stacked ? mutateStacked(rng, s.der, fields) : mutateDer(rng, s.der, fields);
        if (stacked) stackedCount++;
        else byKind.set(kind as DerMutation, (byKind.get(kind as DerMutation) ?? 0) + 1);
        check(tally, `${s.name} mutation ${i} (${kind}, input seed 0x${seed.toString(16)})`, bytes, i % 4 === 0);
      }
    });
    const ms = performance.now() - started;
    console.log(
      `DER fuzz: ${tally.parseCertificate} inputs, ${tally.parsed} still parsed, ${Math.round(ms)} ms; ` +
        [...byKind].map(([k, n]) => `${k}=${n}`).join(' ') + ` stacked=${stackedCount}`,
    );
    expect(tally.failure, report(tally.failure)).toBeUndefined();
    expect(tally.parseCertificate).toBe(corpus.length * RANDOM_MUTATIONS_PER_SEED);
    expect(tally.readValidity).toBe(corpus.length * RANDOM_MUTATIONS_PER_SEED);
    for (const kind of DER_MUTATIONS) expect(byKind.get(kind) ?? 0, kind).toBeGreaterThan(10_000);
    expect(stackedCount).toBeGreaterThan(10_000);
    // Some mutations land in signatures or string values and still parse: the oracle compared dates on those.
    expect(tally.parsed).toBeGreaterThan(1_000);
  });

  it('replays an input from its seed alone (the failure report is enough to reproduce)', () => {
    const s = corpus[3]!;
    const fields = lengthFields(s.der, 0, s.der.length);
    const a = mutateStacked(new Rng(inputSeed(3, 1234)), s.der, fields);
    const b = mutateStacked(new Rng(inputSeed(3, 1234)), s.der, fields);
    expect(a.kind).toBe(b.kind);
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
  });
});

// ---- PEM mutations -----------------------------------------------------------

/** PEM written here with Node's base64, independently of the code under test. */
function pemOf(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

const NOISE = 'Aa0+/=!-:. \t\r\n\u0000\u00e9\u20ac#*_,;"';
type PemMutation = 'insert-char' | 'drop-line' | 'cut-line' | 'cut-text' | 'break-dashes' | 'duplicate-line' | 'relabel' | 'wrap-text';
const PEM_MUTATIONS: readonly PemMutation[] = ['insert-char', 'drop-line', 'cut-line', 'cut-text', 'break-dashes', 'duplicate-line', 'relabel', 'wrap-text'];

function mutatePem(rng: Rng, pem: string): { kind: PemMutation; text: string } {
  const kind = rng.pick(PEM_MUTATIONS);
  const lines = pem.split('\n');
  const bodyLine = (): number => rng.range(1, lines.length - 3); // lines[0] BEGIN, [n-2] END, [n-1] ''
  switch (kind) {
    case 'insert-char': {
      let text = pem;
      const from = pem.indexOf('\n') + 1;
      const to = pem.indexOf('-----END');
      for (let n = rng.range(1, 3); n > 0; n--) {
        const at = rng.range(from, to);
        text = text.slice(0, at) + rng.pick(Array.from(NOISE)) + text.slice(at);
      }
      return { kind, text };
    }
    case 'drop-line':
      lines.splice(bodyLine(), 1);
      return { kind, text: lines.join('\n') };
    case 'cut-line': {
      const i = bodyLine();
      lines[i] = lines[i]!.slice(0, rng.int(lines[i]!.length));
      return { kind, text: lines.join('\n') };
    }
    case 'cut-text':
      return { kind, text: pem.slice(0, rng.int(pem.length)) };
    case 'break-dashes': {
      const i = rng.int(2) === 0 ? 0 : lines.length - 2;
      const l = lines[i]!;
      const at = rng.int(l.length);
      lines[i] = l.slice(0, at) + (rng.int(2) === 0 ? '' : rng.pick(Array.from(NOISE))) + l.slice(at + 1);
      return { kind, text: lines.join('\n') };
    }
    case 'duplicate-line': {
      const i = rng.int(lines.length);
      lines.splice(i, 0, lines[i]!);
      return { kind, text: lines.join('\n') };
    }
    case 'relabel': {
      const label = rng.pick(['PRIVATE KEY', 'X509 CRL', 'CERTIFICATE REQUEST', 'TRUSTED CERTIFICATE', 'PUBLIC KEY', 'PKCS7', 'WHATEVER', '']);
      return { kind, text: pem.replace(/CERTIFICATE-----/g, `${label}-----`) };
    }
    case 'wrap-text': {
      const junk = (): string => Array.from({ length: rng.int(40) }, () => rng.pick(Array.from(NOISE + 'BEGIN-END'))).join('');
      return { kind, text: junk() + pem + junk() };
    }
  }
}

const PEM_MUTATIONS_PER_SEED = 1_500;

describe('fuzzing PEM text', () => {
  const corpus = seeds();

  it('survives 30,000 mutated PEM texts (inserted characters, cut and dropped lines, broken armour)', () => {
    const started = performance.now();
    const tally = newTally();
    const byKind = new Map<PemMutation, number>();
    corpus.forEach((s, k) => {
      const pem = pemOf(s.der);
      for (let i = 0; i < PEM_MUTATIONS_PER_SEED; i++) {
        const seed = inputSeed(1000 + k, i);
        const { kind, text } = mutatePem(new Rng(seed), pem);
        byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
        const where = `${s.name} PEM mutation ${i} (${kind}, input seed 0x${seed.toString(16)})`;
        check(tally, where, text, true);
        if (i % 5 === 0) check(tally, `${where} as bytes`, new TextEncoder().encode(text), false);
      }
    });
    console.log(`PEM fuzz: ${tally.parseCertificate} inputs, ${tally.parsed} still parsed, ${Math.round(performance.now() - started)} ms`);
    expect(tally.failure, report(tally.failure)).toBeUndefined();
    expect(tally.parseCertificate).toBe(corpus.length * PEM_MUTATIONS_PER_SEED * 1.2);
    for (const kind of PEM_MUTATIONS) expect(byKind.get(kind) ?? 0, kind).toBeGreaterThan(2_000);
  });
});
