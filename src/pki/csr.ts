/**
 * PKCS#10 certificate signing requests: building one with a key handle (also
 * an HSM key that never leaves its device), and reading one back as plain data
 * with its self-signature checked.
 *
 * Both directions use certsteward's own DER code: building encodes the request
 * directly and signs it through the key handle (synchronously for Node's own
 * keys, through the provider for HSM keys), about 40x faster than an ASN.1
 * object model on the renewal hot path; reading checks the self-signature with
 * `node:crypto`.
 *
 * @module
 */
import { createPublicKey, verify as verifySignature, constants, type KeyObject } from 'node:crypto';
import { CertificateParseError, ConfigError, KeyError } from '../errors.js';
import type { KeyHandle } from '../ports/key-store.js';
import { isDerInput } from './certificate.js';
import { bitString, explicit, oid, sequence, setOf, smallInteger } from './der-writer.js';
import { signWith, spkiOf, verifyWithNodeKey } from './key-signer.js';
import { encodeGeneralNames, encodeName, extension, signatureAlgorithm } from './x509-encode.js';
import { Tag, children, expect, readTlv, type Tlv } from './der.js';
import { decodeGeneralNames, type GeneralName } from './general-name.js';
import { decodeName, type DistinguishedName } from './name.js';
import { KEY_ALGORITHMS, SIGNATURE_ALGORITHMS, decodeOid } from './oid.js';
import { classifyDer, labelKind, readPemBlocks, toPem } from './pem.js';

/**
 * A subject alternative name certsteward asks for.
 *
 * @example
 * ```ts
 * const names: SubjectAltName[] = [{ type: 'dns', value: 'api.example.com' }, { type: 'ip', value: '10.0.0.7' }]
 * ```
 */
export interface SubjectAltName {
  readonly type: 'dns' | 'ip' | 'email' | 'uri';
  readonly value: string;
}

/**
 * Options of {@link buildCsr}.
 *
 * @example
 * ```ts
 * const options: BuildCsrOptions = { key, subjectAltNames: [{ type: 'dns', value: 'api.example.com' }] }
 * ```
 */
export interface BuildCsrOptions {
  /** The key pair the certificate is for; the CSR is signed with its private key, through `key.crypto`. */
  readonly key: KeyHandle;
  /** Subject common name. Omit it for a CSR whose names are all in the SAN extension (the modern form). */
  readonly commonName?: string;
  /** Names to certify; at least one name (here or `commonName`) is required. */
  readonly subjectAltNames: readonly SubjectAltName[];
}

/**
 * A CSR, read by {@link readCsr}.
 *
 * @example
 * ```ts
 * const { commonName, subjectAltNames, signatureValid } = readCsr(csrPem)
 * ```
 */
export interface CsrInfo {
  /** The first subject CN, if any. */
  readonly commonName: string | undefined;
  readonly subject: DistinguishedName;
  /** Names from the extensionRequest's subjectAltName extension, in encoded order (IPs in RFC 5952 form). */
  readonly subjectAltNames: readonly GeneralName[];
  /** The requested key's SubjectPublicKeyInfo, DER. */
  readonly publicKeySpkiDer: Uint8Array;
  /** `RSA`, `EC`, `Ed25519`, … or the dotted OID. */
  readonly publicKeyAlgorithm: string;
  /** `ecdsa-with-SHA256`, `sha256WithRSAEncryption`, `ED25519`, … or the dotted OID. */
  readonly signatureAlgorithm: string;
  /**
   * The self-signature verifies with the CSR's own public key (proof of
   * possession). False also when the signature algorithm is not one
   * certsteward can check (`signatureAlgorithm` says which).
   */
  readonly signatureValid: boolean;
  /** The CSR's DER. */
  readonly der: Uint8Array;
}

// The key algorithm → signature algorithm mapping lives beside the signer.
export { signingAlgorithmFor, type SigningAlgorithm } from './key-signer.js';

const SAN_TYPES: ReadonlySet<string> = new Set(['dns', 'ip', 'email', 'uri']);

/** Checks names before they reach an encoder whose errors say little. */
function checkNames(commonName: string | undefined, names: readonly SubjectAltName[]): void {
  if (!Array.isArray(names)) {
    throw new ConfigError('subjectAltNames', names, 'subjectAltNames must be an array of { type, value }');
  }
  if (names.length === 0 && !commonName) {
    throw new ConfigError('subjectAltNames', names, 'a CSR needs at least one name: give subjectAltNames or a commonName');
  }
  for (const n of names) {
    if (!n || !SAN_TYPES.has(n.type) || typeof n.value !== 'string' || n.value.length === 0) {
      throw new ConfigError(
        'subjectAltNames',
        n,
        `invalid subject alternative name ${JSON.stringify(n)}: expected { type: 'dns' | 'ip' | 'email' | 'uri', value: non-empty string }`,
      );
    }
  }
}

/**
 * Builds a PKCS#10 CSR (PEM) for `key`, signed with its private key through
 * the key's own WebCrypto provider, so an HSM key signs without being
 * exported. The names go into a subjectAltName extension request.
 *
 * @throws {@link ConfigError} for missing or malformed names.
 * @throws {@link KeyError} when the key cannot sign, or its private key is
 *   not the pair of its public key (the CSR is checked before it is returned).
 * @example
 * ```ts
 * const key = await keys.generate({ algorithm: 'ECDSA-P256' })
 * const csrPem = await buildCsr({ key, commonName: 'api.example.com',
 *   subjectAltNames: [{ type: 'dns', value: 'api.example.com' }, { type: 'ip', value: '10.0.0.7' }] })
 * ```
 */
export async function buildCsr(options: BuildCsrOptions): Promise<string> {
  const { key, commonName, subjectAltNames } = options;
  checkNames(commonName, subjectAltNames);
  const algorithm = signatureAlgorithm(key.algorithm);
  let extensions: Uint8Array[];
  try {
    // RFC 5280 §4.2.1.6: with an empty subject, the SAN extension is critical.
    extensions = subjectAltNames.length > 0 ? [extension(OID_SUBJECT_ALT_NAME, !commonName, encodeGeneralNames(subjectAltNames))] : [];
  } catch (e) {
    throw new ConfigError('subjectAltNames', subjectAltNames, `cannot encode the subject alternative names: ${(e as Error).message}`, {
      cause: e,
    });
  }
  let spki: Uint8Array;
  try {
    spki = await spkiOf(key);
  } catch (e) {
    throw new KeyError(`the public key of "${key.ref.id}" cannot be exported: ${(e as Error).message}`, { cause: e });
  }
  const attributes = extensions.length
    ? explicit(0, sequence(oid(OID_EXTENSION_REQUEST), setOf(sequence(...extensions))))
    : explicit(0, new Uint8Array(0));
  const info = sequence(smallInteger(0), encodeName(commonName), spki, attributes);
  const signature = await signWith(key, info);
  const pem = toPem(sequence(info, algorithm, bitString(signature)), 'CERTIFICATE REQUEST');
  // A handle whose private key is not the pair of its public key (a mixed-up
  // HSM object) signs a CSR no CA accepts: say so here, not at the CA.
  if (!(verifyWithNodeKey(key, info, signature) ?? readCsr(pem).signatureValid)) {
    throw new KeyError(
      `the private key of "${key.ref.id}" does not belong to its public key: the CSR it signed does not verify`,
    );
  }
  return pem;
}

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_COMMON_NAME = '2.5.4.3';
const OID_RSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';

/** Node hash names by signature algorithm OID (`null`: the algorithm hashes internally). */
const SIGNATURE_HASHES: Readonly<Record<string, string | null>> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
  '1.3.101.113': null,
};

const HASH_OIDS: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
};

function csrDer(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') {
    if (input.length === 0) throw new CertificateParseError('empty', 'the CSR input is empty');
    if (isDerInput(input)) return input;
    // The bytes of a PEM file.
    return csrDer(Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1'));
  }
  if (input.trim() === '') throw new CertificateParseError('empty', 'the CSR input is empty');
  const blocks = readPemBlocks(input);
  const block = blocks.find((b) => labelKind(b.label) === 'certificate-request');
  if (block) return block.der;
  const first = blocks[0];
  if (!first) {
    throw new CertificateParseError('malformed-der', 'the CSR input holds no PEM block: expected "-----BEGIN CERTIFICATE REQUEST-----"', {
      found: 'text',
    });
  }
  const kind = labelKind(first.label);
  throw new CertificateParseError(
    'malformed-der',
    `the CSR input holds a "${first.label}" PEM block, not a "CERTIFICATE REQUEST"`,
    kind === 'certificate' ? {} : { found: kind },
  );
}

/** Decodes the SAN extension inside the CSR's extensionRequest attribute, if any. */
function requestedNames(der: Uint8Array, attributes: Tlv | undefined): GeneralName[] {
  if (!attributes) return [];
  for (const attr of children(der, attributes)) {
    if (attr.tag !== Tag.SEQUENCE) continue;
    const type = expect(der, attr.contentStart, attr.end, Tag.OID, 'attribute type');
    if (decodeOid(der, type) !== OID_EXTENSION_REQUEST) continue;
    const values = expect(der, type.end, attr.end, Tag.SET, 'attribute values');
    for (const exts of children(der, values)) {
      if (exts.tag !== Tag.SEQUENCE) continue;
      for (const ext of children(der, exts)) {
        const [oid, a, b] = children(der, ext);
        if (!oid || oid.tag !== Tag.OID || decodeOid(der, oid) !== OID_SUBJECT_ALT_NAME) continue;
        const value = a?.tag === Tag.OCTET_STRING ? a : b;
        if (!value || value.tag !== Tag.OCTET_STRING) {
          throw new CertificateParseError('malformed-der', 'the CSR subjectAltName extension has no value', { offset: ext.start });
        }
        const seq = expect(der, value.contentStart, value.end, Tag.SEQUENCE, 'GeneralNames');
        return decodeGeneralNames(der, seq);
      }
    }
  }
  return [];
}

/** RSA-PSS parameters: hash (default SHA-1) and salt length (default 20). */
function pssParams(der: Uint8Array, params: Tlv | undefined): { hash: string; saltLength: number } | undefined {
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let saltLength = 20;
  if (params && params.tag === Tag.SEQUENCE) {
    for (const f of children(der, params)) {
      const inner = children(der, f)[0];
      if (f.tag === 0xa0 && inner) {
        const h = HASH_OIDS[decodeOid(der, expect(der, inner.contentStart, inner.end, Tag.OID, 'hash'))];
        if (!h) return undefined;
        hash = h;
      } else if (f.tag === 0xa1 && inner) {
        const [mgf, mgfParams] = children(der, inner);
        if (!mgf || decodeOid(der, mgf) !== OID_MGF1 || !mgfParams) return undefined;
        const h = HASH_OIDS[decodeOid(der, expect(der, mgfParams.contentStart, mgfParams.end, Tag.OID, 'MGF1 hash'))];
        if (!h) return undefined;
        mgfHash = h;
      } else if (f.tag === 0xa2 && inner && inner.tag === Tag.INTEGER) {
        saltLength = 0;
        for (let i = inner.contentStart; i < inner.end; i++) saltLength = saltLength * 256 + der[i]!;
      }
    }
  }
  // Node's verify uses the signature hash for MGF1 too; other combinations cannot be checked.
  return mgfHash === hash ? { hash, saltLength } : undefined;
}

function checkSignature(der: Uint8Array, info: Tlv, algorithm: Tlv, signature: Tlv, spki: KeyObject): boolean {
  const [oidTlv, params] = children(der, algorithm);
  if (!oidTlv || oidTlv.tag !== Tag.OID) return false;
  const oid = decodeOid(der, oidTlv);
  if (der[signature.contentStart] !== 0) return false; // unused bits in a signature BIT STRING
  const tbs = der.subarray(info.start, info.end);
  const sig = der.subarray(signature.contentStart + 1, signature.end);
  try {
    if (oid === OID_RSA_PSS) {
      const p = pssParams(der, params);
      if (!p) return false;
      return verifySignature(p.hash, tbs, { key: spki, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength }, sig);
    }
    const hash = SIGNATURE_HASHES[oid];
    if (hash === undefined) return false;
    return verifySignature(hash, tbs, spki, sig);
  } catch {
    // A signature algorithm that does not fit the key, or a malformed signature value.
    return false;
  }
}

/**
 * Reads a PKCS#10 CSR (PEM or DER) and checks its self-signature, which proves
 * that the requester holds the private key. A CA calls it before it signs.
 *
 * @throws {@link CertificateParseError} when the input is not a readable CSR
 *   (`empty`, `bad-base64`, `truncated`, `malformed-der`; `found` says what a
 *   PEM block of another kind holds).
 * @example
 * ```ts
 * const csr = readCsr(request.csrPem)
 * if (!csr.signatureValid) throw new Error('the CSR is not signed by its own key')
 * console.log(csr.commonName, csr.subjectAltNames) // 'api.example.com', [{ type: 'dns', value: 'api.example.com' }]
 * ```
 */
export function readCsr(input: string | Uint8Array): CsrInfo {
  const der = csrDer(input);
  const top = expect(der, 0, der.length, Tag.SEQUENCE, 'CertificationRequest');
  const [info, algorithm, signature, ...rest] = children(der, top);
  if (!info || info.tag !== Tag.SEQUENCE || algorithm?.tag !== Tag.SEQUENCE || signature?.tag !== Tag.BIT_STRING || rest.length) {
    const found = classifyDer(der);
    throw new CertificateParseError(
      'malformed-der',
      'the input is not a PKCS#10 certification request (expected SEQUENCE { info, signatureAlgorithm, signature })',
      found === 'certificate-request' || found === 'unknown' ? {} : { found },
    );
  }
  const [version, subjectTlv, spkiTlv, attributes] = children(der, info);
  if (version?.tag !== Tag.INTEGER || subjectTlv?.tag !== Tag.SEQUENCE || spkiTlv?.tag !== Tag.SEQUENCE) {
    throw new CertificateParseError('malformed-der', 'the CSR info is not { version, subject, subjectPublicKeyInfo, attributes }', {
      offset: info.start,
    });
  }
  if (attributes && attributes.tag !== 0xa0) {
    throw new CertificateParseError('malformed-der', `the CSR attributes must be tagged [0], found tag 0x${attributes.tag.toString(16)}`, {
      offset: attributes.start,
    });
  }
  const subject = decodeName(der, subjectTlv);
  const publicKeySpkiDer = der.slice(spkiTlv.start, spkiTlv.end);
  const keyAlg = children(der, readTlv(der, spkiTlv.contentStart, spkiTlv.end))[0];
  const keyOid = keyAlg && keyAlg.tag === Tag.OID ? decodeOid(der, keyAlg) : '';
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(publicKeySpkiDer), format: 'der', type: 'spki' });
  } catch (e) {
    throw new CertificateParseError('malformed-der', `the CSR public key cannot be read: ${(e as Error).message}`, {
      cause: e,
      offset: spkiTlv.start,
    });
  }
  const sigOidTlv = children(der, algorithm)[0];
  const sigOid = sigOidTlv && sigOidTlv.tag === Tag.OID ? decodeOid(der, sigOidTlv) : '';
  return {
    commonName: subject.attributes.find((a) => a.oid === OID_COMMON_NAME)?.value,
    subject,
    subjectAltNames: requestedNames(der, attributes),
    publicKeySpkiDer,
    publicKeyAlgorithm: KEY_ALGORITHMS[keyOid] ?? keyOid,
    signatureAlgorithm: SIGNATURE_ALGORITHMS[sigOid] ?? sigOid,
    signatureValid: checkSignature(der, info, algorithm, signature, key),
    der: der.slice(),
  };
}
