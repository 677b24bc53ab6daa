/**
 * The certificate extensions a fleet needs, decoded from DER. A malformed
 * extension never makes the certificate unreadable: it is listed with
 * `malformed: true` and a warning, as OpenSSL prints `<unable to parse>`.
 *
 * @module
 */
import { CertificateParseError, isCertstewardError } from '../errors.js';
import { Tag, booleanValue, children, expect, readTlv, signedSmallInteger, toHex, type Tlv } from './der.js';
import { decodeGeneralNames, type GeneralName } from './general-name.js';
import { AIA_CA_ISSUERS, AIA_OCSP, EXTENDED_KEY_USAGES, Ext, decodeOid } from './oid.js';

/** Key usage bits (RFC 5280 §4.2.1.3), by name. */
export type KeyUsage =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

const KEY_USAGE_BITS: readonly KeyUsage[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

const latin1 = new TextDecoder('latin1');

/** One extension as present in the certificate. */
export interface ExtensionInfo {
  readonly oid: string;
  readonly critical: boolean;
  /** True when certsteward decodes this extension but its content is malformed. */
  readonly malformed?: boolean;
}

/** What the decoded extensions contribute to `CertificateInfo`. */
export interface DecodedExtensions {
  extensions: ExtensionInfo[];
  subjectAltNames: GeneralName[];
  isCA: boolean;
  pathLength: number | undefined;
  keyUsage: KeyUsage[] | undefined;
  extendedKeyUsage: string[] | undefined;
  subjectKeyIdentifier: string | undefined;
  authorityKeyIdentifier: string | undefined;
  ocspUrls: string[];
  caIssuerUrls: string[];
  crlUrls: string[];
  warnings: string[];
}

/** Decodes the `[3] EXPLICIT Extensions` element (or nothing). */
export function decodeExtensions(buf: Uint8Array, explicit: Tlv | undefined): DecodedExtensions {
  const out: DecodedExtensions = {
    extensions: [],
    subjectAltNames: [],
    isCA: false,
    pathLength: undefined,
    keyUsage: undefined,
    extendedKeyUsage: undefined,
    subjectKeyIdentifier: undefined,
    authorityKeyIdentifier: undefined,
    ocspUrls: [],
    caIssuerUrls: [],
    crlUrls: [],
    warnings: [],
  };
  if (!explicit) return out;
  const seq = expect(buf, explicit.contentStart, explicit.end, Tag.SEQUENCE, 'Extensions');
  for (const ext of children(buf, seq)) {
    if (ext.tag !== Tag.SEQUENCE) continue;
    const oidTlv = expect(buf, ext.contentStart, ext.end, Tag.OID, 'extension id');
    const oid = decodeOid(buf, oidTlv);
    let next = readTlv(buf, oidTlv.end, ext.end);
    let critical = false;
    if (next.tag === Tag.BOOLEAN) {
      critical = booleanValue(buf, next);
      next = readTlv(buf, next.end, ext.end);
    }
    if (next.tag !== Tag.OCTET_STRING) {
      out.extensions.push({ oid, critical, malformed: true });
      out.warnings.push(`extension ${oid}: value is not an OCTET STRING`);
      continue;
    }
    try {
      decodeOne(buf, oid, next, out);
      out.extensions.push({ oid, critical });
    } catch (e) {
      if (!isCertstewardError(e, 'certificate-parse')) throw e;
      out.extensions.push({ oid, critical, malformed: true });
      out.warnings.push(`extension ${oid}: ${e.message}`);
    }
  }
  return out;
}

function inner(buf: Uint8Array, octets: Tlv, tag: number, what: string): Tlv {
  const t = expect(buf, octets.contentStart, octets.end, tag, what);
  if (t.end !== octets.end) {
    throw new CertificateParseError('malformed-der', `${octets.end - t.end} unexpected bytes after ${what}`, {
      offset: t.end,
    });
  }
  return t;
}

function decodeOne(buf: Uint8Array, oid: string, octets: Tlv, out: DecodedExtensions): void {
  switch (oid) {
    case Ext.SUBJECT_ALT_NAME:
      out.subjectAltNames = decodeGeneralNames(buf, inner(buf, octets, Tag.SEQUENCE, 'GeneralNames'));
      return;
    case Ext.BASIC_CONSTRAINTS: {
      const seq = inner(buf, octets, Tag.SEQUENCE, 'BasicConstraints');
      let isCA = false;
      let pathLength: number | undefined;
      for (const c of children(buf, seq)) {
        if (c.tag === Tag.BOOLEAN) isCA = booleanValue(buf, c);
        else if (c.tag === Tag.INTEGER) pathLength = signedSmallInteger(buf, c);
      }
      out.isCA = isCA;
      out.pathLength = pathLength;
      return;
    }
    case Ext.KEY_USAGE: {
      const bits = inner(buf, octets, Tag.BIT_STRING, 'KeyUsage');
      const usages: KeyUsage[] = [];
      for (let i = bits.contentStart + 1, bit = 0; i < bits.end; i++) {
        for (let m = 0x80; m > 0; m >>= 1, bit++) {
          if (buf[i]! & m && bit < KEY_USAGE_BITS.length) usages.push(KEY_USAGE_BITS[bit]!);
        }
      }
      out.keyUsage = usages;
      return;
    }
    case Ext.EXT_KEY_USAGE: {
      const seq = inner(buf, octets, Tag.SEQUENCE, 'ExtKeyUsageSyntax');
      out.extendedKeyUsage = children(buf, seq).map((c) => {
        const o = decodeOid(buf, c);
        return EXTENDED_KEY_USAGES[o] ?? o;
      });
      return;
    }
    case Ext.SUBJECT_KEY_ID: {
      const ki = inner(buf, octets, Tag.OCTET_STRING, 'SubjectKeyIdentifier');
      out.subjectKeyIdentifier = toHex(buf, ki.contentStart, ki.end);
      return;
    }
    case Ext.AUTHORITY_KEY_ID: {
      const seq = inner(buf, octets, Tag.SEQUENCE, 'AuthorityKeyIdentifier');
      for (const c of children(buf, seq)) {
        if (c.tag === 0x80) out.authorityKeyIdentifier = toHex(buf, c.contentStart, c.end);
      }
      return;
    }
    case Ext.AUTHORITY_INFO_ACCESS: {
      const seq = inner(buf, octets, Tag.SEQUENCE, 'AuthorityInfoAccessSyntax');
      for (const ad of children(buf, seq)) {
        const m = expect(buf, ad.contentStart, ad.end, Tag.OID, 'accessMethod');
        const method = decodeOid(buf, m);
        const loc = readTlv(buf, m.end, ad.end);
        if (loc.tag !== 0x86) continue; // only URIs are fetchable
        const url = latin1.decode(buf.subarray(loc.contentStart, loc.end));
        if (method === AIA_OCSP) out.ocspUrls.push(url);
        else if (method === AIA_CA_ISSUERS) out.caIssuerUrls.push(url);
      }
      return;
    }
    case Ext.CRL_DISTRIBUTION_POINTS: {
      const seq = inner(buf, octets, Tag.SEQUENCE, 'CRLDistributionPoints');
      for (const dp of children(buf, seq)) {
        for (const field of children(buf, dp)) {
          if (field.tag !== 0xa0) continue; // distributionPoint
          for (const dpn of children(buf, field)) {
            if (dpn.tag !== 0xa0) continue; // fullName
            for (const gn of decodeGeneralNames(buf, dpn)) if (gn.type === 'uri') out.crlUrls.push(gn.value);
          }
        }
      }
      return;
    }
    default:
      return;
  }
}
