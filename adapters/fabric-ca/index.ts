/**
 * `certsteward/fabric-ca`: the certificate-authority port on a Hyperledger
 * Fabric CA (1.4+), over its REST API with no Fabric SDK at run time:
 * re-enrollment with a token of the current certificate, recovery through a
 * registrar (secret reset + enrollment, never a new registration),
 * registration, revocation, identity lookups, and Fabric wallet identities.
 *
 * @example
 * ```ts
 * import { FabricCaAuthority } from 'certsteward/fabric-ca'
 * const fabric = new FabricCaAuthority({
 *   url: 'https://ca.org1.example.com:7054', caName: 'ca-org1', tls: { ca: tlsRootPem },
 *   registrar: { enrollmentId: 'admin', enrollmentSecret: process.env.CA_ADMIN_SECRET! },
 * })
 * ```
 *
 * @packageDocumentation
 */
export { FabricCaAuthority } from './fabric-ca-authority.js';
export { fabricAuthToken, fabricTokenPayload, lowSDerSignature } from './fabric-ca-token.js';
export type { FabricTokenFormat, FabricTokenInput } from './fabric-ca-token.js';
export { FABRIC_CA_ERROR_CODES, fabricCaCode } from './fabric-ca-errors.js';
export type { FabricCaCodeMapping, FabricCaProblem, FabricCallContext } from './fabric-ca-errors.js';
export { exportWalletIdentity, importWalletIdentity } from './fabric-wallet.js';
export type { FabricWalletIdentity, ImportedWalletIdentity, ImportingKeyStore } from './fabric-wallet.js';
export type {
  FabricAttribute,
  FabricAttributeRequest,
  FabricCaAuthorityOptions,
  FabricCaInfo,
  FabricEnrollRequest,
  FabricEnrollment,
  FabricIdentity,
  FabricIdentityChanges,
  FabricIdentityInfo,
  FabricReenrollRequest,
  FabricRegistrar,
  FabricRegistrationRequest,
  FabricRevocation,
} from './options.js';
