/**
 * A minimal DER writer: the encoders certsteward needs to build CSRs and
 * certificates on the hot path without an ASN.1 object model.
 *
 * @module
 */
import { ConfigError } from '../errors.js';

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One element: identifier octet, definite length, content. */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const len = content.length;
  let header: number[];
  if (len < 0x80) header = [tag, len];
  else if (len < 0x100) header = [tag, 0x81, len];
  else if (len < 0x10000) header = [tag, 0x82, len >> 8, len & 0xff];
  else if (len < 0x1000000) header = [tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
  else header = [tag, 0x84, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff];
  const out = new Uint8Array(header.length + len);
  out.set(header, 0);
  out.set(content, header.length);
  return out;
}

/** SEQUENCE of the parts. */
export function sequence(...parts: Uint8Array[]): Uint8Array {
  return tlv(0x30, concat(parts));
}

/** SET of the parts (DER orders SET OF elements by their encoding). */
export function setOf(...parts: Uint8Array[]): Uint8Array {
  const sorted = [...parts].sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  });
  return tlv(0x31, concat(sorted));
}

/** Context-specific constructed `[n]` (EXPLICIT tagging). */
export function explicit(n: number, content: Uint8Array): Uint8Array {
  return tlv(0xa0 | n, content);
}

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) {
    throw new ConfigError('oid', dotted, `invalid object identifier ${JSON.stringify(dotted)}`);
  }
  const bytes: number[] = [];
  const push = (v: number) => {
    const chunk: number[] = [v & 0x7f];
    for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(0x06, Uint8Array.from(bytes));
}

/** INTEGER from an unsigned big-endian magnitude (a sign octet is added when needed). */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  let s = 0;
  while (s < magnitude.length - 1 && magnitude[s] === 0) s++;
  const body = magnitude.subarray(s);
  return tlv(0x02, body.length > 0 && body[0]! & 0x80 ? concat([Uint8Array.of(0), body]) : body.length ? body : Uint8Array.of(0));
}

/** INTEGER from a small non-negative number. */
export function smallInteger(n: number): Uint8Array {
  const bytes: number[] = [];
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  return unsignedInteger(Uint8Array.from(bytes));
}

/** BIT STRING with `unusedBits` unused bits in the last octet. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  return tlv(0x03, concat([Uint8Array.of(unusedBits), bytes]));
}

/** OCTET STRING. */
export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(0x04, bytes);
}

/** BOOLEAN (DER: TRUE is 0xff). */
export function boolean(v: boolean): Uint8Array {
  return Uint8Array.of(0x01, 0x01, v ? 0xff : 0x00);
}

/** NULL. */
export const NULL_DER: Uint8Array = Uint8Array.of(0x05, 0x00);

/** UTF8String. */
export function utf8String(s: string): Uint8Array {
  return tlv(0x0c, new TextEncoder().encode(s));
}

/** An ASCII string under `tag` (IA5String 0x16, or an implicit context tag). */
export function asciiString(tag: number, s: string): Uint8Array {
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) throw new ConfigError('name', s, `${JSON.stringify(s)} is not ASCII (IDNs must be given in their xn-- form)`);
    bytes[i] = c;
  }
  return tlv(tag, bytes);
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * A validity time as RFC 5280 requires: UTCTime for 1950–2049, GeneralizedTime
 * otherwise; whole seconds, `Z`.
 */
export function x509Time(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return asciiString(0x17, `${two(y % 100)}${rest}`);
  return asciiString(0x18, `${String(y).padStart(4, '0')}${rest}`);
}
