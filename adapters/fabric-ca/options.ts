/**
 * Options of the Fabric CA authority and the shapes of the Fabric CA REST
 * requests and answers it exposes.
 *
 * @module
 */
import type { IssueRequest } from '../../src/ports/certificate-authority.js';
import type { KeyHandle } from '../../src/ports/key-store.js';
import type { FabricTokenFormat } from './fabric-ca-token.js';

/**
 * An enrolled identity: its enrollment certificate and the key it was made
 * for (the key signs the tokens, through its own WebCrypto provider).
 *
 * @example
 * ```ts
 * const admin: FabricIdentity = { certificatePem: adminCertPem, key: await keys.load(adminKeyRef) }
 * ```
 */
export interface FabricIdentity {
  readonly certificatePem: string;
  readonly key: KeyHandle;
}

/**
 * The registrar: an identity with `hf.Registrar.Roles` (and `hf.Revoker` to
 * revoke) that resets secrets when a certificate must be recovered, registers
 * identities on request and revokes. Give it either as an enrolled identity
 * (certificate + key, e.g. itself a certificate the steward keeps renewed) or
 * as an enrollment ID and secret, in which case the authority enrolls it on
 * first use with a key generated in process memory (one enrollment per
 * process start: give the registrar an unlimited `max_enrollments`).
 *
 * @example
 * ```ts
 * const registrar: FabricRegistrar = { enrollmentId: 'admin', enrollmentSecret: process.env.CA_ADMIN_SECRET! }
 * const enrolled: FabricRegistrar = { enrollmentId: 'admin', identity: { certificatePem, key } }
 * ```
 */
export type FabricRegistrar =
  | { readonly enrollmentId: string; readonly identity: FabricIdentity }
  | { readonly enrollmentId: string; readonly enrollmentSecret: string };

/**
 * An attribute to put in the certificate (`attr_reqs`): the identity must
 * have it; `optional: false` makes the enrollment fail when it does not.
 *
 * @example
 * ```ts
 * const role: FabricAttributeRequest = { name: 'app.role', optional: false }
 * ```
 */
export interface FabricAttributeRequest {
  readonly name: string;
  readonly optional?: boolean;
}

/**
 * Options of {@link FabricCaAuthority}.
 *
 * @example
 * ```ts
 * const fabric = new FabricCaAuthority({
 *   url: 'https://ca.org1.example.com:7054', caName: 'ca-org1',
 *   tls: { ca: readFileSync('tls-ca.pem', 'utf8') },
 *   registrar: { enrollmentId: 'admin', enrollmentSecret: process.env.CA_ADMIN_SECRET! },
 * })
 * ```
 */
export interface FabricCaAuthorityOptions {
  /** The Fabric CA, `https://host:7054` (a path prefix, e.g. behind a proxy, is kept). */
  readonly url: string;
  /** The CA to use on a server that hosts several (`caname`); default: the server's default CA. */
  readonly caName?: string;
  /** TLS of the connection to the CA. */
  readonly tls?: {
    /** Trust anchors (PEM) for the CA server's TLS certificate, instead of Node's bundled roots. */
    readonly ca?: string | readonly string[];
  };
  /**
   * The registrar, for recovery (a certificate that expired or was lost is
   * re-issued by resetting the identity's secret and enrolling again; never
   * by registering a new identity), `register()`, `revoke()` and identity
   * lookups. Without it, only a still-valid certificate can be renewed.
   */
  readonly registrar?: FabricRegistrar;
  /**
   * The key of the certificate being replaced, when the steward does not
   * supply it (`IssueRequest.currentKey`) — for certificates adopted from
   * elsewhere whose key lives outside the steward's key store. Re-enrollment
   * signs its token with this key.
   */
  readonly currentKey?: (request: IssueRequest) => Promise<KeyHandle | undefined>;
  /**
   * The enrollment ID of a request. Default: the common name of the
   * certificate being replaced, else the request's `commonName`, else the
   * CSR's common name, else the request `id`. The CSR's common name must equal
   * it (Fabric checks): when it differs, the CSR is rebuilt with the same key
   * and names and this common name.
   */
  readonly enrollmentId?: (request: IssueRequest) => string;
  /**
   * The secret of an identity's first enrollment when no registrar is
   * configured (a one-time secret handed out by the CA administrator).
   */
  readonly enrollmentSecret?: (enrollmentId: string) => string | undefined | Promise<string | undefined>;
  /** Attributes to request in every certificate (`attr_reqs`); default: the identity's default (`ecert`) attributes. */
  readonly attributeRequests?: readonly FabricAttributeRequest[];
  /** Signing profile when the request names none (`IssueRequest.profile` wins); e.g. `tls`. */
  readonly profile?: string;
  /** Token payload format (default `'v1.4'`; `'v1.3'` for servers older than 1.4). */
  readonly tokenFormat?: FabricTokenFormat;
  /**
   * The server runs with `ca.reenrollignorecertexpiry: true`, so an expired
   * certificate may still re-enroll (default false: an expired certificate
   * goes through the registrar).
   */
  readonly reenrollIgnoresCertExpiry?: boolean;
  /** A certificate this close to its end is treated as expired (the token must still verify when it arrives); default 60 s. */
  readonly expiryMarginMs?: number;
  /** The time source for expiry decisions (default: the system time). */
  readonly clock?: { now(): Date };
  /** Timeout of one HTTP request (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** API path prefix (default `/api/v1`). */
  readonly apiPrefix?: string;
  /** Random bytes for reset secrets and the in-memory registrar key id (default Node's `getRandomValues`). */
  readonly randomBytes?: (length: number) => Uint8Array;
}

/**
 * What `cainfo` says.
 *
 * @example
 * ```ts
 * const { caName, caChainPem, version } = await fabric.caInfo()
 * ```
 */
export interface FabricCaInfo {
  readonly caName: string;
  /** The CA's chain (PEM): its certificate and the certificates above it. */
  readonly caChainPem: string;
  readonly version: string | undefined;
}

/**
 * An enrollment's result.
 *
 * @example
 * ```ts
 * const { certificatePem, chainPem } = await fabric.enroll({ enrollmentId: 'peer1', secret, csrPem })
 * ```
 */
export interface FabricEnrollment {
  /** The new enrollment certificate, PEM. */
  readonly certificatePem: string;
  /** The CA chain the server returned (`ServerInfo.CAChain`), PEM. */
  readonly caChainPem: string;
  /** Certificate then CA chain: what `issue()` returns. */
  readonly chainPem: string;
}

/**
 * What an enrollment asks for (`POST /enroll`, HTTP Basic).
 *
 * @example
 * ```ts
 * await fabric.enroll({ enrollmentId: 'peer1', secret, csrPem, attributeRequests: [{ name: 'app.role' }], profile: 'tls' })
 * ```
 */
export interface FabricEnrollRequest {
  readonly enrollmentId: string;
  readonly secret: string;
  /** PKCS#10, PEM; its subject CN must equal `enrollmentId`. */
  readonly csrPem: string;
  /** SANs for the certificate (cfssl `hosts`); default: those of the CSR. */
  readonly hosts?: readonly string[];
  readonly profile?: string;
  readonly label?: string;
  readonly attributeRequests?: readonly FabricAttributeRequest[];
}

/**
 * What a re-enrollment asks for (`POST /reenroll`, token of the current certificate).
 *
 * @example
 * ```ts
 * await fabric.reenroll({ identity: { certificatePem: current, key: currentKey }, csrPem: newCsr })
 * ```
 */
export interface FabricReenrollRequest {
  /** The current certificate and its key: they sign the token. */
  readonly identity: FabricIdentity;
  /** PKCS#10, PEM, with the new key (or the same one); its subject CN must equal the enrollment ID. */
  readonly csrPem: string;
  readonly hosts?: readonly string[];
  readonly profile?: string;
  readonly label?: string;
  readonly attributeRequests?: readonly FabricAttributeRequest[];
}

/**
 * An attribute of an identity.
 *
 * @example
 * ```ts
 * const attr: FabricAttribute = { name: 'app.role', value: 'writer', ecert: true }
 * ```
 */
export interface FabricAttribute {
  readonly name: string;
  readonly value: string;
  /** Put in enrollment certificates by default. */
  readonly ecert?: boolean;
}

/**
 * A registration (`POST /register`, by the registrar).
 *
 * @example
 * ```ts
 * const { secret } = await fabric.register({ id: 'peer1', type: 'peer', affiliation: 'org1.department1' })
 * ```
 */
export interface FabricRegistrationRequest {
  readonly id: string;
  /** `client`, `peer`, `orderer`, `admin`, … (default `client`). */
  readonly type?: string;
  /** The secret; the CA generates one when omitted. */
  readonly secret?: string;
  /** Enrollments allowed with the secret (-1 unlimited, default: the CA's setting). */
  readonly maxEnrollments?: number;
  /** Default: the registrar's affiliation. */
  readonly affiliation?: string;
  readonly attributes?: readonly FabricAttribute[];
}

/**
 * An identity as the CA describes it (`GET /identities/{id}`).
 *
 * @example
 * ```ts
 * const peer = await fabric.getIdentity('peer1') // { id: 'peer1', type: 'peer', affiliation: 'org1', maxEnrollments: -1, attributes: [...] }
 * ```
 */
export interface FabricIdentityInfo {
  readonly id: string;
  readonly type: string;
  readonly affiliation: string;
  readonly maxEnrollments: number;
  readonly attributes: readonly FabricAttribute[];
  readonly caName: string;
}

/**
 * Changes to an identity (`PUT /identities/{id}`); omitted fields are kept.
 *
 * @example
 * ```ts
 * await fabric.modifyIdentity('peer1', { secret: newSecret })
 * ```
 */
export interface FabricIdentityChanges {
  readonly secret?: string;
  readonly type?: string;
  readonly affiliation?: string;
  readonly maxEnrollments?: number;
  /** Added or updated by name; an empty value removes the attribute. */
  readonly attributes?: readonly FabricAttribute[];
}

/**
 * What `revokeCertificate` did.
 *
 * @example
 * ```ts
 * const { revoked, crlPem } = await fabric.revokeCertificate(pem, 'keyCompromise', { generateCrl: true })
 * ```
 */
export interface FabricRevocation {
  /** Serial and AKI (lowercase hex) of every certificate revoked. */
  readonly revoked: readonly { readonly serial: string; readonly aki: string }[];
  /** The CA's CRL after the revocation (PEM), when asked for and the CA returned one. */
  readonly crlPem: string | undefined;
  /** The certificate was revoked before this call. */
  readonly alreadyRevoked: boolean;
}
