/**
 * Does this private key belong to this certificate?
 *
 * @module
 */
import {
  KeyObject,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  verify as verifySignature,
  webcrypto,
} from 'node:crypto';
import { KeyError, KeyMismatchError } from '../errors.js';
import { locateFields, parseCertificate, type CertificateInfo, type CertificateInput } from './certificate.js';

/**
 * A key: PEM text or DER (PKCS#8, SEC1, PKCS#1 or SPKI), a `KeyObject`, a
 * WebCrypto `CryptoKey` (also one from an HSM-backed provider) or a
 * `CryptoKeyPair`.
 */
export type KeyInput = string | Uint8Array | KeyObject | CryptoKey | CryptoKeyPair;

/** Options of {@link keyMatchesCertificate}. */
export interface KeyMatchOptions {
  /**
   * The WebCrypto provider that owns a non-exportable `CryptoKey` (for
   * example node-webcrypto-p11 for an HSM key). Default: Node's `crypto`.
   */
  readonly crypto?: Crypto;
}

function spkiOf(cert: CertificateInfo): Uint8Array {
  const f = locateFields(cert.der);
  return cert.der.subarray(f.spki.start, f.spki.end);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isCryptoKey(k: unknown): k is CryptoKey {
  return typeof k === 'object' && k !== null && 'algorithm' in k && 'type' in k && 'usages' in k;
}

function isKeyPair(k: unknown): k is CryptoKeyPair {
  return typeof k === 'object' && k !== null && 'publicKey' in k && 'privateKey' in k;
}

function keyObjectFrom(key: string | Uint8Array): KeyObject {
  const attempts: Array<() => KeyObject> = [];
  if (typeof key === 'string' || key[0] !== 0x30) {
    const text = typeof key === 'string' ? key : Buffer.from(key).toString('latin1');
    attempts.push(() => createPrivateKey(text), () => createPublicKey(text));
  } else {
    const der = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
      attempts.push(() => createPrivateKey({ key: der, format: 'der', type }));
    }
    attempts.push(() => createPublicKey({ key: der, format: 'der', type: 'spki' }));
  }
  let first: unknown;
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch (e) {
      first ??= e;
    }
  }
  // Node's messages name the format problem, never the key bytes.
  throw new KeyError(`could not read the key: ${(first as Error).message}`, { cause: first });
}

function spkiFromKeyObject(k: KeyObject): Uint8Array {
  const pub = k.type === 'private' ? createPublicKey(k) : k;
  if (pub.type !== 'public') throw new KeyError(`a ${k.type} key has no public key to compare with a certificate`);
  return new Uint8Array(pub.export({ type: 'spki', format: 'der' }));
}

/** Proves possession of a non-exportable private key by signing a random challenge. */
async function signsForCertificate(key: CryptoKey, spki: Uint8Array, provider: Crypto): Promise<boolean> {
  const alg = key.algorithm as { name: string; hash?: { name: string }; namedCurve?: string };
  const hashName = alg.hash?.name ?? (alg.namedCurve === 'P-384' ? 'SHA-384' : alg.namedCurve === 'P-521' ? 'SHA-512' : 'SHA-256');
  const nodeHash = hashName.replace('-', '').toLowerCase();
  const data = new Uint8Array(randomBytes(32));
  const pub = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  let params: AlgorithmIdentifier | EcdsaParams | RsaPssParams;
  switch (alg.name) {
    case 'ECDSA':
      params = { name: 'ECDSA', hash: hashName };
      break;
    case 'RSASSA-PKCS1-v1_5':
      params = { name: alg.name };
      break;
    case 'RSA-PSS':
      params = { name: 'RSA-PSS', saltLength: 32 };
      break;
    case 'Ed25519':
      params = { name: 'Ed25519' };
      break;
    default:
      throw new KeyError(`cannot test a ${alg.name} key against a certificate: it is not a signing key`);
  }
  let sig: ArrayBuffer;
  try {
    sig = await provider.subtle.sign(params, key, data);
  } catch (e) {
    throw new KeyError(`the key could not sign a challenge: ${(e as Error).message}`, { cause: e });
  }
  const s = Buffer.from(sig);
  try {
    if (alg.name === 'ECDSA') return verifySignature(nodeHash, data, { key: pub, dsaEncoding: 'ieee-p1363' }, s);
    if (alg.name === 'RSA-PSS') return verifySignature(nodeHash, data, { key: pub, padding: 6, saltLength: 32 }, s);
    if (alg.name === 'Ed25519') return verifySignature(null, data, pub, s);
    return verifySignature(nodeHash, data, pub, s);
  } catch {
    // The certificate's key is of another type than the private key.
    return false;
  }
}

/**
 * True when `key` (a private key, or a public key) is the key pair of `cert`'s
 * subject public key. Exportable keys are compared by their public key; a
 * non-exportable `CryptoKey` (an HSM key) proves possession by signing a random
 * challenge that is verified against the certificate.
 *
 * @throws {@link KeyError} when the key cannot be read (the message never holds key material).
 * @throws {@link CertificateParseError} when the certificate cannot be read.
 * @example
 * ```ts
 * if (!(await keyMatchesCertificate(readFileSync('key.pem', 'utf8'), readFileSync('cert.pem')))) {
 *   throw new Error('key.pem does not belong to cert.pem')
 * }
 * ```
 */
export async function keyMatchesCertificate(
  key: KeyInput,
  cert: CertificateInput | CertificateInfo,
  options: KeyMatchOptions = {},
): Promise<boolean> {
  const info = typeof cert === 'string' || cert instanceof Uint8Array ? parseCertificate(cert) : cert;
  const spki = spkiOf(info);
  if (isKeyPair(key)) return keyMatchesCertificate(key.publicKey, info, options);
  if (key instanceof KeyObject) return equalBytes(spkiFromKeyObject(key), spki);
  if (isCryptoKey(key)) {
    const provider = options.crypto ?? (webcrypto as unknown as Crypto);
    if (key.type === 'public') {
      return equalBytes(new Uint8Array(await provider.subtle.exportKey('spki', key)), spki);
    }
    if (key.type === 'private' && !options.crypto) {
      try {
        return equalBytes(spkiFromKeyObject(KeyObject.from(key)), spki);
      } catch {
        // Not one of Node's own keys: fall through to proof of possession.
      }
    }
    return signsForCertificate(key, spki, provider);
  }
  if (typeof key === 'string' || key instanceof Uint8Array) return equalBytes(spkiFromKeyObject(keyObjectFrom(key)), spki);
  throw new KeyError(`unsupported key input: ${key === null ? 'null' : typeof key}`);
}

/**
 * Like {@link keyMatchesCertificate}, but throws {@link KeyMismatchError} when
 * the key does not belong to the certificate.
 *
 * @example
 * ```ts
 * await assertKeyMatchesCertificate(keyPem, certPem) // before installing a renewed pair
 * ```
 */
export async function assertKeyMatchesCertificate(
  key: KeyInput,
  cert: CertificateInput | CertificateInfo,
  options?: KeyMatchOptions,
): Promise<void> {
  const info = typeof cert === 'string' || cert instanceof Uint8Array ? parseCertificate(cert) : cert;
  if (!(await keyMatchesCertificate(key, info, options))) {
    throw new KeyMismatchError(
      info.fingerprints.sha256,
      `the private key does not belong to the certificate "${info.subject.dn}" (serial ${info.serialNumber}): pair the certificate with the key its CSR was made from`,
    );
  }
}
