/**
 * Distinguished names: the attribute list in encoded order and the RFC 4514
 * string form (most specific RDN first, as LDAP and `openssl -nameopt RFC2253`
 * print it).
 *
 * @module
 */
import { Tag, children, expect, toHex, type Tlv } from './der.js';
import { ATTRIBUTE_NAMES, decodeOid } from './oid.js';

/** One attribute of a distinguished name. */
export interface NameAttribute {
  /** Short name (`CN`, `O`, `emailAddress` …) or the dotted OID when it has none. */
  readonly type: string;
  /** The attribute's OID in dotted form. */
  readonly oid: string;
  /** The value as text; values of non-string types are `#` + hex of their DER (RFC 4514 §2.4). */
  readonly value: string;
  /** Index of the RDN this attribute belongs to (multi-valued RDNs share one). */
  readonly rdn: number;
}

/** A decoded distinguished name. */
export interface DistinguishedName {
  /** RFC 4514 string, e.g. `CN=example.com,O=Example,C=US`. */
  readonly dn: string;
  /** Attributes in encoded order (least specific first). */
  readonly attributes: readonly NameAttribute[];
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');
const utf16be = new TextDecoder('utf-16be');

/**
 * Decodes a directory string value, or returns undefined for types that are
 * not character strings.
 */
export function decodeString(buf: Uint8Array, t: Tlv): string | undefined {
  const bytes = buf.subarray(t.contentStart, t.end);
  switch (t.tag) {
    case Tag.UTF8_STRING:
      return utf8.decode(bytes);
    case Tag.PRINTABLE_STRING:
    case Tag.IA5_STRING:
    case Tag.NUMERIC_STRING:
    case Tag.VISIBLE_STRING:
    case Tag.TELETEX_STRING:
      return latin1.decode(bytes);
    case Tag.BMP_STRING:
      return utf16be.decode(bytes);
    case Tag.UNIVERSAL_STRING: {
      let s = '';
      for (let i = 0; i + 3 < bytes.length; i += 4) {
        const cp = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
        s += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
      }
      return s;
    }
    default:
      return undefined;
  }
}

/** Escapes an attribute value for an RFC 4514 string. */
export function escapeDnValue(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    const code = v.charCodeAt(i);
    if (c === ',' || c === '+' || c === '"' || c === '\\' || c === '<' || c === '>' || c === ';') {
      out += '\\' + c;
    } else if ((i === 0 && (c === ' ' || c === '#')) || (i === v.length - 1 && c === ' ')) {
      out += '\\' + c;
    } else if (code < 0x20 || code === 0x7f) {
      out += '\\' + code.toString(16).padStart(2, '0');
    } else {
      out += c;
    }
  }
  return out;
}

/** Decodes a `Name` (SEQUENCE OF RelativeDistinguishedName). */
export function decodeName(buf: Uint8Array, name: Tlv): DistinguishedName {
  const attributes: NameAttribute[] = [];
  const rdns: string[] = [];
  let rdnIndex = 0;
  for (const rdn of children(buf, name)) {
    if (rdn.tag !== Tag.SET) continue;
    const parts: string[] = [];
    for (const atv of children(buf, rdn)) {
      if (atv.tag !== Tag.SEQUENCE) continue;
      const oidTlv = expect(buf, atv.contentStart, atv.end, Tag.OID, 'attribute type');
      const oid = decodeOid(buf, oidTlv);
      let value = '';
      let text = true;
      if (oidTlv.end < atv.end) {
        const v = expect(buf, oidTlv.end, atv.end, buf[oidTlv.end]!, 'attribute value');
        const decoded = decodeString(buf, v);
        text = decoded !== undefined;
        value = decoded ?? '#' + toHex(buf, v.start, v.end);
      }
      const type = ATTRIBUTE_NAMES[oid] ?? oid;
      attributes.push({ type, oid, value, rdn: rdnIndex });
      parts.push(`${type}=${text ? escapeDnValue(value) : value}`);
    }
    // An empty RDN (SET {}) contributes nothing to the string form, as in OpenSSL.
    if (parts.length > 0) rdns.push(parts.join('+'));
    rdnIndex++;
  }
  return { dn: rdns.reverse().join(','), attributes };
}
