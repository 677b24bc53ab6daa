/**
 * Certificate fields as people read them: OpenSSL-style colon hex, short
 * subject names, second-precision ISO times, and terminal-safe text.
 *
 * @module
 */
import { DAY_MS, formatDuration } from '../index.js';
import type { CertificateInfo, DistinguishedName, GeneralName } from '../index.js';

/**
 * Lowercase hex (as the library gives fingerprints and key ids) in OpenSSL's
 * form: uppercase byte pairs joined by colons.
 *
 * @example
 * ```ts
 * colonHex('0a1bff') // '0A:1B:FF'
 * ```
 */
export function colonHex(hex: string): string {
  const negative = hex.startsWith('-');
  let digits = negative ? hex.slice(1) : hex;
  if (digits.length % 2) digits = '0' + digits;
  const pairs = digits.toUpperCase().match(/../g) ?? [];
  return (negative ? '-' : '') + pairs.join(':');
}

/**
 * Replaces control characters (a certificate's names are attacker-chosen
 * bytes) with `\xNN`, so that output cannot move the cursor or forge lines.
 */
export function safeText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `CN=<common name>` when the name has one (the last CN, as OpenSSL picks), else the RFC 4514 DN. */
export function shortName(name: DistinguishedName): string {
  const cns = name.attributes.filter((a) => a.type === 'CN');
  const cn = cns[cns.length - 1];
  return safeText(cn ? `CN=${cn.value}` : name.dn || '(empty name)');
}

/** An instant as ISO 8601 to the second, `2030-01-01T00:00:00Z`; `-` for an invalid date. */
export function isoSeconds(d: Date): string {
  return Number.isNaN(d.getTime()) ? '-' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A SAN as OpenSSL prints it: `DNS:example.com`, `IP Address:127.0.0.1`, `email:…`, `URI:…`. */
export function generalNameText(n: GeneralName): string {
  const prefix: Record<GeneralName['type'], string> = {
    dns: 'DNS',
    ip: 'IP Address',
    email: 'email',
    uri: 'URI',
    dirName: 'DirName',
    otherName: 'othername',
    rid: 'Registered ID',
    x400: 'X400Name',
    edi: 'EdiPartyName',
  };
  return safeText(`${prefix[n.type]}:${n.value}`);
}

/** `EC P-256 (256 bits)`, `RSA 2048 bits`, `Ed25519`. */
export function keyText(cert: CertificateInfo): string {
  const k = cert.publicKey;
  if (k.curve) return `${k.algorithm} ${k.curve}${k.bits ? ` (${k.bits} bits)` : ''}`;
  return k.bits ? `${k.algorithm} ${k.bits} bits` : k.algorithm;
}

/** Whole days (`120d`) from one day up, else `formatDuration` (`5h 12m`); for time left or time since. */
export function daysText(ms: number): string {
  const abs = Math.abs(ms);
  return abs >= DAY_MS ? `${Math.floor(abs / DAY_MS)}d` : formatDuration(abs);
}
