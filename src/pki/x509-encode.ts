/**
 * Encoders for the X.509 pieces certsteward builds: names, subject
 * alternative names, algorithm identifiers and extensions.
 *
 * @module
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import type { KeyAlgorithm } from '../ports/key-store.js';
import { NULL_DER, asciiString, bitString, boolean, octetString, oid, sequence, setOf, tlv, utf8String } from './der-writer.js';

/** A name to certify. */
export interface SanInput {
  readonly type: 'dns' | 'ip' | 'email' | 'uri';
  readonly value: string;
}

/** A Name with at most a common name (UTF8String); an empty SEQUENCE without one. */
export function encodeName(commonName?: string): Uint8Array {
  if (!commonName) return sequence();
  return sequence(setOf(sequence(oid('2.5.4.3'), utf8String(commonName))));
}

function ipBytes(value: string): Uint8Array {
  const v = isIP(value);
  if (v === 4) return Uint8Array.from(value.split('.').map(Number));
  if (v !== 6) throw new ConfigError('subjectAltNames', value, `${JSON.stringify(value)} is not an IPv4 or IPv6 address`);
  let text = value;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail.push(...v4[1]!.split('.').map(Number));
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').filter((g) => g.length > 0).map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const r = groups(rest);
  const all = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tail.length) out.set(tail, 12);
  return out;
}

/** One GeneralName. */
export function encodeGeneralName(n: SanInput): Uint8Array {
  switch (n.type) {
    case 'dns':
      return asciiString(0x82, n.value);
    case 'email':
      return asciiString(0x81, n.value);
    case 'uri':
      return asciiString(0x86, n.value);
    case 'ip':
      return tlv(0x87, ipBytes(n.value));
    default:
      throw new ConfigError('subjectAltNames', n, `unsupported name type ${JSON.stringify((n as { type: unknown }).type)}`);
  }
}

/** GeneralNames (the value of a subjectAltName extension). */
export function encodeGeneralNames(names: readonly SanInput[]): Uint8Array {
  return sequence(...names.map(encodeGeneralName));
}

/** The signature AlgorithmIdentifier for a key algorithm (RSA with SHA-256, ECDSA with its curve's hash). */
export function signatureAlgorithm(algorithm: KeyAlgorithm): Uint8Array {
  switch (algorithm) {
    case 'ECDSA-P256':
      return sequence(oid('1.2.840.10045.4.3.2'));
    case 'ECDSA-P384':
      return sequence(oid('1.2.840.10045.4.3.3'));
    case 'Ed25519':
      return sequence(oid('1.3.101.112'));
    case 'RSA-2048':
    case 'RSA-3072':
    case 'RSA-4096':
      return sequence(oid('1.2.840.113549.1.1.11'), NULL_DER);
    default:
      throw new ConfigError('algorithm', algorithm, `unsupported key algorithm ${JSON.stringify(algorithm)}`);
  }
}

/** One Extension. */
export function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** The extensions of an end-entity certificate: not a CA, signing (and RSA key transport), TLS server and client. */
export function endEntityExtensions(options: {
  readonly names: readonly SanInput[];
  readonly rsa: boolean;
  readonly subjectKeyId: Uint8Array;
  readonly authorityKeyId?: Uint8Array;
  /** RFC 5280 §4.2.1.6: with an empty subject, the SAN extension is critical. */
  readonly emptySubject: boolean;
}): Uint8Array[] {
  const exts = [
    extension('2.5.29.19', true, sequence()),
    // digitalSignature (bit 0), plus keyEncipherment (bit 2) for RSA.
    extension('2.5.29.15', true, options.rsa ? bitString(Uint8Array.of(0xa0), 5) : bitString(Uint8Array.of(0x80), 7)),
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))),
    extension('2.5.29.14', false, octetString(options.subjectKeyId)),
  ];
  if (options.authorityKeyId) exts.push(extension('2.5.29.35', false, sequence(tlv(0x80, options.authorityKeyId))));
  if (options.names.length > 0) exts.push(extension('2.5.29.17', options.emptySubject, encodeGeneralNames(options.names)));
  return exts;
}
