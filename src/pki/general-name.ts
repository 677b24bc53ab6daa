/**
 * GeneralName (RFC 5280 §4.2.1.6): the names in SANs, AIA and CRL
 * distribution points.
 *
 * @module
 */
import { children, toHex, type Tlv } from './der.js';
import { decodeName } from './name.js';
import { decodeOid } from './oid.js';

/** The kinds of GeneralName. */
export type GeneralNameType = 'otherName' | 'email' | 'dns' | 'x400' | 'dirName' | 'edi' | 'uri' | 'ip' | 'rid';

/** A decoded GeneralName. */
export interface GeneralName {
  readonly type: GeneralNameType;
  /**
   * Text form: the name itself for `dns`, `email`, `uri`; dotted or RFC 5952
   * form for `ip`; the RFC 4514 string for `dirName`; the type OID for
   * `otherName`; hex of the content otherwise.
   */
  readonly value: string;
}

const TYPES: readonly GeneralNameType[] = ['otherName', 'email', 'dns', 'x400', 'dirName', 'edi', 'uri', 'ip', 'rid'];
const latin1 = new TextDecoder('latin1');

/** Formats an IP address (4 or 16 octets); other lengths as hex. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) return toHex(bytes);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run (length ≥ 2) of zero groups, the first on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Decodes one GeneralName element. */
export function decodeGeneralName(buf: Uint8Array, t: Tlv): GeneralName {
  const n = t.tag & 0x1f;
  const type = (t.tag & 0xc0) === 0x80 ? TYPES[n] : undefined;
  const content = buf.subarray(t.contentStart, t.end);
  switch (type) {
    case 'email':
    case 'dns':
    case 'uri':
      return { type, value: latin1.decode(content) };
    case 'ip':
      return { type, value: formatIp(content) };
    case 'dirName': {
      const inner = children(buf, t)[0];
      return { type, value: inner ? decodeName(buf, inner).dn : '' };
    }
    case 'otherName': {
      const first = children(buf, t)[0];
      return { type, value: first && first.tag === 0x06 ? decodeOid(buf, first) : toHex(content) };
    }
    case 'rid':
      return { type, value: decodeOid(buf, t) };
    case 'x400':
    case 'edi':
      return { type, value: toHex(content) };
    default:
      return { type: 'otherName', value: toHex(buf, t.start, t.end) };
  }
}

/** Decodes a SEQUENCE OF GeneralName. */
export function decodeGeneralNames(buf: Uint8Array, seq: Tlv): GeneralName[] {
  return children(buf, seq).map((c) => decodeGeneralName(buf, c));
}
