/**
 * certsteward: keeps certificates and keys from ever expiring by surprise.
 *
 * The root entry holds the framework-agnostic core. Adapters live in their own
 * subpath entries (`certsteward/knex`, `certsteward/acme`, …) so that their
 * dependencies load only when used.
 *
 * @packageDocumentation
 */
export {
  CertstewardError,
  CertificateParseError,
  ConfigError,
  KeyError,
  KeyMismatchError,
  isCertstewardError,
} from './errors.js';
export type { CertstewardErrorCode, CertificateParseReason, ErrorByCode, FoundObject } from './errors.js';

export { parseCertificate, parseCertificates } from './pki/certificate.js';
export type { CertificateInfo, CertificateInput, PublicKeyInfo } from './pki/certificate.js';
export type { DistinguishedName, NameAttribute } from './pki/name.js';
export type { GeneralName, GeneralNameType } from './pki/general-name.js';
export type { ExtensionInfo, KeyUsage } from './pki/extensions.js';
export { readValidity } from './pki/validity.js';
export type { Validity } from './pki/validity.js';
export { readPemBlocks, toPem } from './pki/pem.js';
export type { PemBlock } from './pki/pem.js';

export { parseDuration, formatDuration, DAY_MS } from './policy/duration.js';
export type { Duration } from './policy/duration.js';
export { expiryStatus, resolveThresholds } from './policy/expiry.js';
export type { ExpiryStatus, ExpiryThresholds, ExpiryReport, ValidityWindow } from './policy/expiry.js';
export { renewalTime } from './policy/renewal-time.js';
export type { RenewalPolicy, RenewalRule, RenewalTime } from './policy/renewal-time.js';
export { retryDelay } from './policy/retry-delay.js';
export type { RetryPolicy, RetryContext } from './policy/retry-delay.js';
export { stableUniform } from './policy/jitter.js';

export { verifyChain } from './pki/chain.js';
export type { ChainReport, ChainLink, LinkSignature, MissingIssuer, VerifyChainOptions } from './pki/chain.js';
export { keyMatchesCertificate, assertKeyMatchesCertificate } from './pki/key-match.js';
export type { KeyInput, KeyMatchOptions } from './pki/key-match.js';
