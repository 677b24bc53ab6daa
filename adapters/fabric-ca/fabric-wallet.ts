/**
 * Fabric wallet identities (fabric-network 2.x `X509Identity`):
 * `{ credentials: { certificate, privateKey }, mspId, type: 'X.509', version: 1 }`,
 * in and out of certsteward.
 *
 * A wallet holds the private key **in clear** (PEM PKCS#8): that is the
 * format, not a choice of this module. Importing moves the key into a
 * {@link KeyStore} (sealed or in an HSM) so the wallet file can be deleted;
 * exporting writes a clear key again, for a Fabric gateway that reads
 * wallets, and works only with an exportable key.
 *
 * @module
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { ConfigError, KeyError, KeyMismatchError, KeyStoreError } from '../../src/errors.js';
import type { KeyAlgorithm, KeyHandle, KeyRef, KeyStore } from '../../src/ports/key-store.js';
import { parseCertificate, parseCertificates, type CertificateInfo } from '../../src/pki/certificate.js';
import { spkiOf } from '../../src/pki/key-signer.js';
import { toPem } from '../../src/pki/pem.js';

/**
 * A Fabric wallet identity, as fabric-network 2.x writes `<label>.id` files.
 *
 * @example
 * ```ts
 * const identity: FabricWalletIdentity = JSON.parse(readFileSync('wallet/appUser.id', 'utf8'))
 * ```
 */
export interface FabricWalletIdentity {
  readonly credentials: {
    /** The enrollment certificate, PEM. */
    readonly certificate: string;
    /** The private key in clear, PEM (PKCS#8). */
    readonly privateKey: string;
  };
  readonly mspId: string;
  readonly type: 'X.509';
  readonly version: 1;
}

/** A key store that can take in an existing private key (the optional `KeyStore.import` power). */
export type ImportingKeyStore = KeyStore & Required<Pick<KeyStore, 'import'>>;

/**
 * What {@link importWalletIdentity} returns: what the steward tracks (chain
 * and key reference) and the loaded key.
 *
 * @example
 * ```ts
 * const { chainPem, keyRef, mspId } = await importWalletIdentity(json, keys)
 * ```
 */
export interface ImportedWalletIdentity {
  /** The wallet's certificate (and any certificates after it), PEM. */
  readonly chainPem: string;
  /** The key's reference in the key store: persist this, never the wallet. */
  readonly keyRef: KeyRef;
  /** The imported key, ready to sign (e.g. a re-enrollment token). */
  readonly key: KeyHandle;
  readonly mspId: string;
}

function badWallet(message: string, cause?: unknown): ConfigError {
  return new ConfigError('wallet', '(wallet identity)', `not a Fabric X.509 wallet identity: ${message}`, cause === undefined ? undefined : { cause });
}

function keyAlgorithmOf(key: KeyObject): KeyAlgorithm {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    if (details.namedCurve === 'prime256v1' || details.namedCurve === 'P-256') return 'ECDSA-P256';
    if (details.namedCurve === 'secp384r1' || details.namedCurve === 'P-384') return 'ECDSA-P384';
    throw new KeyError(`the wallet key is on curve ${details.namedCurve ?? 'unknown'}; certsteward keeps ECDSA P-256 and P-384 keys`);
  }
  if (type === 'rsa') {
    const bits = details.modulusLength;
    if (bits === 2048 || bits === 3072 || bits === 4096) return `RSA-${bits}`;
    throw new KeyError(`the wallet key is RSA-${bits ?? '?'}; certsteward keeps RSA 2048, 3072 and 4096 keys`);
  }
  if (type === 'ed25519') return 'Ed25519';
  throw new KeyError(`the wallet key is of type ${type ?? 'unknown'}, which certsteward does not keep`);
}

function readIdentity(json: string | FabricWalletIdentity): FabricWalletIdentity {
  let value: unknown = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw badWallet(`the text is not JSON (${(e as Error).message})`, e);
    }
  }
  const w = value as Omit<Partial<FabricWalletIdentity>, 'type' | 'version'> & { type?: unknown; version?: unknown };
  if (typeof w !== 'object' || w === null) throw badWallet(`expected an object, got ${value === null ? 'null' : typeof value}`);
  if (w.type === 'HSM-X.509') {
    throw badWallet('an HSM-X.509 identity keeps its key in the HSM: load that key through your PKCS#11 key store and track the certificate with it');
  }
  if (w.type !== 'X.509') throw badWallet(`type is ${JSON.stringify(w.type)}, expected "X.509"`);
  if (w.version !== 1) throw badWallet(`version ${JSON.stringify(w.version)} is not supported (this reads version 1)`);
  if (typeof w.mspId !== 'string' || !w.mspId) throw badWallet('mspId is missing');
  const c = w.credentials;
  if (!c || typeof c.certificate !== 'string' || typeof c.privateKey !== 'string') throw badWallet('credentials.certificate and credentials.privateKey must be PEM strings');
  return w as FabricWalletIdentity;
}

/**
 * Imports a Fabric wallet identity: checks that the key belongs to the
 * certificate, then hands the private key to `keys` (which must offer
 * `import`, see {@link ImportingKeyStore}) and returns the chain and key
 * reference to track. The clear key is not kept anywhere by certsteward:
 * delete the wallet file once the import succeeded.
 *
 * @throws {@link ConfigError} when the JSON is not an X.509 wallet identity (version 1).
 * @throws {@link KeyMismatchError} when the private key is not the certificate's.
 * @throws {@link KeyError} for a key type certsteward does not keep.
 * @throws {@link KeyStoreError} `'unsupported'` when `keys` cannot import keys.
 * @example
 * ```ts
 * const { chainPem, keyRef } = await importWalletIdentity(readFileSync('wallet/peer1.id', 'utf8'), keys)
 * await steward.track({ id: 'peer1', authority: 'fabric', commonName: 'peer1', existing: { chainPem, keyRef } })
 * ```
 */
export async function importWalletIdentity(
  json: string | FabricWalletIdentity,
  keys: KeyStore,
  options?: { label?: string; signal?: AbortSignal },
): Promise<ImportedWalletIdentity> {
  const identity = readIdentity(json);
  let certs: CertificateInfo[];
  try {
    certs = parseCertificates(identity.credentials.certificate);
  } catch (e) {
    throw badWallet(`credentials.certificate is not a certificate: ${(e as Error).message}`, e);
  }
  const leaf = certs[0]!;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(identity.credentials.privateKey);
  } catch (e) {
    throw badWallet(`credentials.privateKey is not a readable private key: ${(e as Error).message}`, e);
  }
  const algorithm = keyAlgorithmOf(privateKey);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  if (createHash('sha256').update(spki).digest('hex') !== leaf.publicKey.sha256) {
    throw new KeyMismatchError(leaf.fingerprints.sha256, `the wallet's private key does not belong to its certificate (${leaf.subject.dn})`);
  }
  const importer = (keys as Partial<ImportingKeyStore>).import;
  if (typeof importer !== 'function') {
    throw new KeyStoreError(
      'unsupported',
      `the ${keys.kind} key store cannot import keys (it has no import method): importing a wallet needs a key store that can take in an existing private key`,
    );
  }
  const pkcs8 = new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }));
  try {
    const label = options?.label ?? (leaf.subject.attributes.find((a) => a.type === 'CN')?.value || undefined);
    const key = await importer.call(keys, { pkcs8, algorithm, ...(label ? { label } : {}) }, options?.signal ? { signal: options.signal } : undefined);
    return { chainPem: certs.map((c) => toPem(c.der)).join(''), keyRef: key.ref, key, mspId: identity.mspId };
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * Writes a Fabric wallet identity for a certificate and its key, for a
 * Fabric gateway (fabric-network) that reads wallets. **The private key is
 * written in clear**, as Fabric X.509 wallets hold it: keep the result where
 * you would keep a private key file. Needs an exportable key (a software key
 * store created with `exportable: true`); HSM keys cannot be exported: use an
 * HSM-X.509 wallet provider there instead.
 *
 * @throws {@link KeyError} when the key cannot be exported or does not belong to the certificate.
 * @example
 * ```ts
 * const identity = await exportWalletIdentity({ chainPem: record.current.chainPem, key: await keys.load(record.current.keyRef), mspId: 'Org1MSP' })
 * writeFileSync('wallet/peer1.id', JSON.stringify(identity), { mode: 0o600 })
 * ```
 */
export async function exportWalletIdentity(input: { chainPem: string; key: KeyHandle; mspId: string }): Promise<FabricWalletIdentity> {
  const { key, mspId } = input;
  if (typeof mspId !== 'string' || !mspId) throw new ConfigError('mspId', mspId, 'mspId must name the organisation MSP, e.g. "Org1MSP"');
  let leaf: CertificateInfo;
  try {
    leaf = parseCertificate(input.chainPem);
  } catch (e) {
    throw new ConfigError('chainPem', '(certificate)', `chainPem is not a certificate: ${(e as Error).message}`, { cause: e });
  }
  const spki = createHash('sha256').update(await spkiOf(key)).digest('hex');
  if (spki !== leaf.publicKey.sha256) {
    throw new KeyError(`the key "${key.ref.id}" does not belong to the certificate ${leaf.subject.dn}`, {
      cause: new KeyMismatchError(leaf.fingerprints.sha256, 'wrong key for certificate'),
    });
  }
  if (!key.exportable) {
    throw new KeyError(
      `the key "${key.ref.id}" is not exportable (an HSM key, or a key store without exportable: true), and a Fabric X.509 wallet holds the private key in clear`,
    );
  }
  let pkcs8: Uint8Array;
  try {
    pkcs8 = new Uint8Array(await key.crypto.subtle.exportKey('pkcs8', key.privateKey));
  } catch (e) {
    throw new KeyError(`the private key "${key.ref.id}" cannot be exported: ${(e as Error).message}`, { cause: e });
  }
  try {
    return {
      credentials: { certificate: toPem(leaf.der), privateKey: toPem(pkcs8, 'PRIVATE KEY') },
      mspId,
      type: 'X.509',
      version: 1,
    };
  } finally {
    pkcs8.fill(0);
  }
}
