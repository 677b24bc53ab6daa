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
  AdapterDependencyError,
  AuthorityError,
  CertstewardError,
  CertificateParseError,
  ConfigError,
  ConflictError,
  KeyError,
  KeyMismatchError,
  KeyStoreError,
  NotFoundError,
  StoreUnavailableError,
  isCertstewardError,
} from './errors.js';
export type {
  AuthorityErrorKind,
  CertstewardErrorCode,
  CertificateParseReason,
  ErrorByCode,
  FoundObject,
  KeyStoreErrorReason,
} from './errors.js';

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
export { expiryBucket, expiryStatus, resolveThresholds } from './policy/expiry.js';
export type { ExpiryStatus, ExpiryThresholds, ExpiryReport, ValidityWindow } from './policy/expiry.js';
export { renewalTime } from './policy/renewal-time.js';
export type { RenewalPolicy, RenewalRule, RenewalTime } from './policy/renewal-time.js';
export { capBeforeExpiry, retryDelay } from './policy/retry-delay.js';
export type { RetryPolicy, RetryContext } from './policy/retry-delay.js';
export { stableUniform } from './policy/jitter.js';
export { LETS_ENCRYPT_LIMITS, issuanceBuckets, resolveIssuanceLimits } from './policy/issuance-limits.js';
export type { IssuanceLimit, ResolvedIssuanceLimit } from './policy/issuance-limits.js';

export { verifyChain } from './pki/chain.js';
export type { ChainReport, ChainLink, LinkSignature, MissingIssuer, VerifyChainOptions } from './pki/chain.js';
export { keyMatchesCertificate, assertKeyMatchesCertificate } from './pki/key-match.js';
export type { KeyInput, KeyMatchOptions } from './pki/key-match.js';

export { plannedRenewal, nextWindowOpening } from './policy/timing.js';
export type { PlannedRenewal, RenewalWindow, SuggestedWindow, TimingPolicy, TimingRule, Weekday } from './policy/timing.js';

export { buildCsr, readCsr } from './pki/csr.js';
export type { BuildCsrOptions, CsrInfo, SubjectAltName } from './pki/csr.js';

export type { Clock, TimerHandle } from './ports/clock.js';
export type { KeyAlgorithm, KeyHandle, KeyImport, KeyRef, KeySpec, KeyStore } from './ports/key-store.js';
export type {
  AuthorityDescription,
  CertificateAuthority,
  IssueRequest,
  IssueResult,
  RenewalInfo,
  RevocationReason,
} from './ports/certificate-authority.js';
export type {
  AuditEvent,
  CaWindow,
  CertificateRecord,
  CertificateSpec,
  CertificateStore,
  IssuedCertificate,
  ExpiryCounts,
  IssuanceBucket,
  IssuanceDecision,
  IssuanceReservation,
  ListFilter,
  NewCertificateRecord,
  RenewalCause,
  RenewalPhase,
  RenewalState,
  StepError,
  StoreCallOptions,
  UpdateExtras,
} from './ports/certificate-store.js';

export { transition, inProgress, ALLOWED, IDLE, InvalidTransitionError } from './lifecycle/renewal-machine.js';
export type { RenewalEvent } from './lifecycle/renewal-machine.js';

export { createSteward, Steward } from './steward/steward.js';
export type {
  CertificateView,
  DryRunResult,
  Explanation,
  NameInput,
  RunSummary,
  StewardHooks,
  StewardOptions,
  TrackInput,
} from './steward/steward.js';
export type { StewardEventBase, StewardEventName, StewardEvents } from './steward/events.js';
export type { Listener } from './steward/emitter.js';
export type { RateLimit } from './steward/token-bucket.js';
export { systemClock } from './steward/system-clock.js';
export { SoftwareKeyStore } from './keys/software-key-store.js';
export type { SoftwareKeyStoreOptions } from './keys/software-key-store.js';
export type { KekInput, KekKey } from './keys/kek.js';
export { bindTlsServer } from './steward/bind-tls-server.js';
export type { BindTlsOptions, SecureContextTarget } from './steward/bind-tls-server.js';
