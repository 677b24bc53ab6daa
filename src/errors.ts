/**
 * Every public error class of certsteward.
 *
 * All errors extend {@link CertstewardError}, carry a stable `code` and keep the
 * underlying error as `cause`. Use {@link isCertstewardError} rather than
 * `instanceof` when two copies of the library may be loaded (ESM and CJS, or two
 * versions in one dependency tree): it checks a global brand, not the class.
 *
 * @module
 */

const BRAND = Symbol.for('certsteward.error');

/** Stable error codes. New codes may be added in minor releases. */
export type CertstewardErrorCode =
  | 'certificate-parse'
  | 'config'
  | 'key-mismatch'
  | 'key'
  | 'chain'
  | 'conflict'
  | 'not-found'
  | 'store-unavailable'
  | 'authority'
  | 'key-store'
  | 'adapter-dependency'
  | 'stopped';

/**
 * Base class of every error thrown by certsteward.
 *
 * @example
 * ```ts
 * try { parseCertificate(input) } catch (e) {
 *   if (isCertstewardError(e, 'certificate-parse')) console.error(e.reason, e.message)
 * }
 * ```
 */
export class CertstewardError extends Error {
  /** Stable machine-readable code; see {@link CertstewardErrorCode}. */
  readonly code: CertstewardErrorCode;
  declare readonly [BRAND]: true;

  constructor(code: CertstewardErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true, enumerable: false });
  }
}

/**
 * True when `e` is a certsteward error (optionally with the given `code`),
 * whichever copy of the library created it.
 *
 * @example
 * ```ts
 * if (isCertstewardError(err, 'config')) showUsage(err.message)
 * ```
 */
export function isCertstewardError<C extends CertstewardErrorCode = CertstewardErrorCode>(
  e: unknown,
  code?: C,
): e is ErrorByCode[C] {
  if (typeof e !== 'object' || e === null) return false;
  if ((e as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (e as { code?: unknown }).code === code;
}

/** The error class that carries each code. */
export interface ErrorByCode {
  'certificate-parse': CertificateParseError;
  config: ConfigError;
  'key-mismatch': KeyMismatchError;
  key: KeyError;
  chain: CertstewardError;
  conflict: ConflictError;
  'not-found': NotFoundError;
  'store-unavailable': StoreUnavailableError;
  authority: AuthorityError;
  'key-store': KeyStoreError;
  'adapter-dependency': AdapterDependencyError;
  stopped: CertstewardError;
}

/** Why a certificate could not be read. */
export type CertificateParseReason =
  /** The input holds nothing (or only white space). */
  | 'empty'
  /** A PEM block's body is not valid base64. */
  | 'bad-base64'
  /** The input is well-formed but is something else: see `found`. */
  | 'not-a-certificate'
  /** The input ends before the structure it announces (a cut PEM block or DER). */
  | 'truncated'
  /** The DER does not follow the X.509 certificate structure. */
  | 'malformed-der'
  /** A validity time is impossible or not an X.509 time. */
  | 'bad-time';

/** What a non-certificate input turned out to be. */
export type FoundObject =
  | 'certificate-request'
  | 'private-key'
  | 'encrypted-private-key'
  | 'public-key'
  | 'crl'
  | 'pkcs7'
  | 'pkcs12'
  | 'text'
  | 'unknown';

/**
 * Input could not be read as an X.509 certificate. `reason` says why;
 * for `not-a-certificate`, `found` says what the input is instead. The message
 * never contains the input's bytes (it may be a private key).
 *
 * @example
 * ```ts
 * try { parseCertificate(fs.readFileSync('key.pem')) } catch (e) {
 *   if (e instanceof CertificateParseError && e.found === 'private-key') ...
 * }
 * ```
 */
export class CertificateParseError extends CertstewardError {
  readonly reason: CertificateParseReason;
  readonly found: FoundObject | undefined;
  /** Byte offset in the DER where the problem was seen, when known. */
  readonly offset: number | undefined;

  constructor(
    reason: CertificateParseReason,
    message: string,
    options?: { cause?: unknown; found?: FoundObject; offset?: number },
  ) {
    super('certificate-parse', message, options);
    this.reason = reason;
    this.found = options?.found;
    this.offset = options?.offset;
  }
}

/**
 * A configuration value is invalid (a bad duration, an out-of-range ratio).
 * `setting` names the option and `value` echoes what was given.
 *
 * @example
 * ```ts
 * parseDuration('30 days') // throws ConfigError: invalid duration "30 days" ...
 * ```
 */
export class ConfigError extends CertstewardError {
  readonly setting: string;
  readonly value: unknown;
  constructor(setting: string, value: unknown, message: string, options?: { cause?: unknown }) {
    super('config', message, options);
    this.setting = setting;
    this.value = value;
  }
}

/**
 * A private key does not belong to the certificate it was paired with.
 *
 * @example
 * ```ts
 * await assertKeyMatchesCertificate(keyPem, certPem) // throws KeyMismatchError
 * ```
 */
export class KeyMismatchError extends CertstewardError {
  /** SHA-256 fingerprint (hex) of the certificate that was checked. */
  readonly certificateSha256: string;
  constructor(certificateSha256: string, message: string, options?: { cause?: unknown }) {
    super('key-mismatch', message, options);
    this.certificateSha256 = certificateSha256;
  }
}

/**
 * A key could not be read or used (unsupported type, not a private key).
 * The message never contains key material.
 */
export class KeyError extends CertstewardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('key', message, options);
  }
}

/**
 * A write named a revision that is no longer current (someone else wrote
 * first), or created an id that exists. Reload and decide again.
 *
 * @example
 * ```ts
 * try { await store.update(rec, now) } catch (e) { if (isCertstewardError(e, 'conflict')) retry() }
 * ```
 */
export class ConflictError extends CertstewardError {
  readonly id: string;
  readonly expectedRevision: number | undefined;
  readonly actualRevision: number | undefined;
  constructor(id: string, expectedRevision: number | undefined, actualRevision: number | undefined, message?: string) {
    super(
      'conflict',
      message ??
        (expectedRevision === undefined
          ? `certificate "${id}" already exists`
          : `certificate "${id}" changed: expected revision ${expectedRevision}, found ${actualRevision ?? 'none (deleted)'}`),
    );
    this.id = id;
    this.expectedRevision = expectedRevision;
    this.actualRevision = actualRevision;
  }
}

/** No tracked certificate has this id. */
export class NotFoundError extends CertstewardError {
  readonly id: string;
  constructor(id: string, message?: string) {
    super('not-found', message ?? `no tracked certificate has the id "${id}"`);
    this.id = id;
  }
}

/** The storage backend could not be reached or failed; the foreign error is `cause`. */
export class StoreUnavailableError extends CertstewardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store-unavailable', message, options);
  }
}

/** Kinds of authority failure the backoff understands. */
export type AuthorityErrorKind =
  | 'refused'
  | 'unavailable'
  | 'rate-limited'
  | 'invalid-response'
  | 'unauthorized'
  | 'revoked'
  | 'challenge-failed';

/**
 * A certificate authority failed or said no. `retryable` says whether backing
 * off and trying again can help; `retryAfterMs` carries the CA's own advice.
 *
 * @example
 * ```ts
 * throw new AuthorityError('rate-limited', 'too many certificates for example.com', { retryable: true, retryAfterMs: 3_600_000 })
 * ```
 */
export class AuthorityError extends CertstewardError {
  readonly kind: AuthorityErrorKind;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(
    kind: AuthorityErrorKind,
    message: string,
    options: { retryable: boolean; retryAfterMs?: number; cause?: unknown },
  ) {
    super('authority', message, options);
    this.kind = kind;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Why a key store call failed. */
export type KeyStoreErrorReason = 'not-found' | 'wrong-kek' | 'unsupported' | 'unavailable' | 'corrupt';

/** A key store could not generate, load or destroy a key. Never carries key material. */
export class KeyStoreError extends CertstewardError {
  readonly reason: KeyStoreErrorReason;
  constructor(reason: KeyStoreErrorReason, message: string, options?: { cause?: unknown }) {
    super('key-store', message, options);
    this.reason = reason;
  }
}

/** An adapter needs a package that is not installed. */
export class AdapterDependencyError extends CertstewardError {
  readonly packageName: string;
  constructor(packageName: string, adapter: string, options?: { cause?: unknown }) {
    super(
      'adapter-dependency',
      `the ${adapter} adapter needs the package "${packageName}": install it (npm install ${packageName}) or pass it in the adapter's options`,
      options,
    );
    this.packageName = packageName;
  }
}
