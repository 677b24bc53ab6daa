/**
 * A minimal, bounds-checked DER reader: just enough of X.690 to walk
 * certificates without allocating a tree. Every read checks its bounds, so
 * hostile input ends in a {@link CertificateParseError}, never a RangeError or
 * an endless loop.
 *
 * @module
 */
import { CertificateParseError } from '../errors.js';

/** Universal tags used by X.509. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
} as const;

/** One tag-length-value header. `tag` is the identifier octet (low-tag form). */
export interface Tlv {
  /** Identifier octet; for high-tag-number forms, the first octet (…11111). */
  readonly tag: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the last content octet. */
  readonly end: number;
}

/**
 * Reads the TLV header at `pos`; its content must end by `limit`.
 * A length that runs past the whole buffer is `truncated`; one that runs past
 * its parent (but not the buffer) or uses the indefinite form is `malformed-der`.
 */
export function readTlv(buf: Uint8Array, pos: number, limit: number): Tlv {
  const total = buf.length;
  if (pos >= limit) {
    throw new CertificateParseError(
      limit >= total ? 'truncated' : 'malformed-der',
      `expected a DER element at offset ${pos}, found the end of its container`,
      { offset: pos },
    );
  }
  const tag = buf[pos]!;
  let p = pos + 1;
  if ((tag & 0x1f) === 0x1f) {
    // High-tag-number form: base-128 continuation octets.
    let n = 0;
    for (;;) {
      if (p >= limit) throw cut(p, limit, total, 'tag');
      const b = buf[p++]!;
      if (++n > 4) throw new CertificateParseError('malformed-der', `tag at offset ${pos} is too long`, { offset: pos });
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= limit) throw cut(p, limit, total, 'length');
  let len = buf[p++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) {
      throw new CertificateParseError('malformed-der', `indefinite length at offset ${pos} is not allowed in DER`, {
        offset: pos,
      });
    }
    if (n > 4) {
      throw new CertificateParseError('malformed-der', `length of ${n} octets at offset ${pos} is not plausible`, {
        offset: pos,
      });
    }
    if (p + n > limit) throw cut(p + n, limit, total, 'length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  const end = p + len;
  if (end > limit) {
    if (end > total && limit === total) {
      throw new CertificateParseError(
        'truncated',
        `element at offset ${pos} declares ${len} bytes but the input ends ${end - total} bytes short`,
        { offset: pos },
      );
    }
    throw new CertificateParseError(
      'malformed-der',
      `element at offset ${pos} declares ${len} bytes, past the end of its container`,
      { offset: pos },
    );
  }
  return { tag, start: pos, contentStart: p, end };
}

function cut(p: number, limit: number, total: number, what: string): CertificateParseError {
  return new CertificateParseError(
    p > total || limit === total ? 'truncated' : 'malformed-der',
    `the ${what} of the element ending at offset ${p} runs past the end of its container`,
    { offset: p },
  );
}

/** Reads a TLV and checks its identifier octet. */
export function expect(buf: Uint8Array, pos: number, limit: number, tag: number, what: string): Tlv {
  const t = readTlv(buf, pos, limit);
  if (t.tag !== tag) {
    throw new CertificateParseError(
      'malformed-der',
      `expected ${what} (tag 0x${hex2(tag)}) at offset ${pos}, found tag 0x${hex2(t.tag)}`,
      { offset: pos },
    );
  }
  return t;
}

/** The children of a constructed element, in order. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.contentStart;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex2(n: number): string {
  return HEX[n & 0xff]!;
}

/** Lowercase hex of `buf[start, end)`. */
export function toHex(buf: Uint8Array, start = 0, end = buf.length): string {
  let s = '';
  for (let i = start; i < end; i++) s += HEX[buf[i]!]!;
  return s;
}

/**
 * The INTEGER's value as lowercase hex of its magnitude, as OpenSSL prints
 * serial numbers: the sign-padding octet is dropped, negative values get a
 * leading `-`.
 */
export function integerHex(buf: Uint8Array, t: Tlv): string {
  const { contentStart: s, end: e } = t;
  if (e <= s) throw new CertificateParseError('malformed-der', `empty INTEGER at offset ${t.start}`, { offset: t.start });
  if ((buf[s]! & 0x80) === 0) {
    const from = buf[s] === 0 && e - s > 1 ? s + 1 : s;
    return toHex(buf, from, e);
  }
  // Negative: two's complement magnitude.
  const mag = new Uint8Array(e - s);
  let carry = 1;
  for (let i = e - s - 1; i >= 0; i--) {
    const v = (~buf[s + i]! & 0xff) + carry;
    mag[i] = v & 0xff;
    carry = v >> 8;
  }
  let from = 0;
  while (from < mag.length - 1 && mag[from] === 0) from++;
  return '-' + toHex(mag, from);
}

/** Bit length of an unsigned big-endian INTEGER (RSA modulus, DSA prime). */
export function integerBits(buf: Uint8Array, t: Tlv): number {
  let s = t.contentStart;
  while (s < t.end && buf[s] === 0) s++;
  if (s === t.end) return 0;
  return (t.end - s - 1) * 8 + (32 - Math.clz32(buf[s]!));
}

/** A small non-negative INTEGER (path length, version). */
export function smallInteger(buf: Uint8Array, t: Tlv): number {
  const len = t.end - t.contentStart;
  if (len < 1 || len > 6 || (buf[t.contentStart]! & 0x80) !== 0) {
    throw new CertificateParseError('malformed-der', `INTEGER at offset ${t.start} is not a small non-negative number`, {
      offset: t.start,
    });
  }
  let v = 0;
  for (let i = t.contentStart; i < t.end; i++) v = v * 256 + buf[i]!;
  return v;
}

/** A small INTEGER that may be negative (OpenSSL prints `pathlen:-5` as it is). */
export function signedSmallInteger(buf: Uint8Array, t: Tlv): number {
  const len = t.end - t.contentStart;
  if (len < 1 || len > 6) {
    throw new CertificateParseError('malformed-der', `INTEGER at offset ${t.start} is not a small number`, { offset: t.start });
  }
  let v = buf[t.contentStart]! & 0x80 ? -1 : 0;
  for (let i = t.contentStart; i < t.end; i++) v = v * 256 + buf[i]!;
  return v;
}

/** BOOLEAN value (any non-zero octet is true, as BER readers accept). */
export function booleanValue(buf: Uint8Array, t: Tlv): boolean {
  if (t.end - t.contentStart !== 1) {
    throw new CertificateParseError('malformed-der', `BOOLEAN at offset ${t.start} must be one octet`, { offset: t.start });
  }
  return buf[t.contentStart] !== 0;
}
