/**
 * Fabric CA error answers as typed {@link AuthorityError}s.
 *
 * A Fabric CA answers with cfssl's envelope, `{"success":false,"errors":[{"code":N,"message":"…"}]}`.
 * The codes come from `lib/caerrors/servererror.go`. Since 1.1 the server
 * hides why an authentication failed: wrong secret, enrollment limit
 * reached, revoked identity, revoked or unknown certificate and an expired
 * token certificate all reach the client as HTTP 401 code 20 "Authentication
 * failure" (the specific code stays in the server log). What code 20 means
 * therefore depends on the call: {@link FabricCallContext} says which.
 *
 * @module
 */
import { AuthorityError, type AuthorityErrorKind } from '../../src/errors.js';

/**
 * Who authenticated the failed call, which decides what code 20 means.
 *
 * - `'enroll'`: HTTP Basic with an enrollment secret (wrong or reset secret,
 *   enrollment limit reached, revoked identity).
 * - `'reenroll'`: a token made with the still-valid certificate being renewed:
 *   the CA refuses a certificate it issued and that has not expired only when
 *   it or its identity was revoked (or its database forgot it), so code 20
 *   becomes `revoked`.
 * - `'reenroll-expired'`: a token made with a certificate that has expired, for
 *   a server configured with `ca.reenrollignorecertexpiry`.
 * - `'registrar'`: a token of the registrar (register, revoke, identities).
 * - `'public'`: no authentication (`cainfo`).
 *
 * @example
 * ```ts
 * const context: FabricCallContext = 'reenroll'
 * ```
 */
export type FabricCallContext = 'enroll' | 'reenroll' | 'reenroll-expired' | 'registrar' | 'public';

/**
 * The Fabric CA's answer to a failed call, kept as the `cause` of the
 * {@link AuthorityError} the adapter throws.
 *
 * @example
 * ```ts
 * if (isCertstewardError(e, 'authority')) console.log((e.cause as FabricCaProblem).errors) // [{ code: 20, message: 'Authentication failure' }]
 * ```
 */
export interface FabricCaProblem extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The envelope's `errors` (empty when the body was not a cfssl envelope). */
  readonly errors: readonly { readonly code: number; readonly message: string }[];
  /** `METHOD /path` of the call. */
  readonly endpoint: string;
}

/** How one Fabric CA error code is mapped. */
export interface FabricCaCodeMapping {
  /** The constant's name in `lib/caerrors/servererror.go`. */
  readonly name: string;
  readonly kind: AuthorityErrorKind;
  readonly retryable: boolean;
}

const m = (name: string, kind: AuthorityErrorKind, retryable = false): FabricCaCodeMapping => ({ name, kind, retryable });

/**
 * The Fabric CA error codes the adapter maps, by code. Codes not listed are
 * mapped by HTTP status (5xx `unavailable`, 429 `rate-limited`, 401/403
 * `unauthorized`, other 4xx `refused`). Code 20 is mapped per call: see
 * {@link fabricCaError}.
 *
 * @example
 * ```ts
 * FABRIC_CA_ERROR_CODES[63] // { name: 'ErrDBGet', kind: 'refused', retryable: false }: the identity is not registered
 * ```
 */
export const FABRIC_CA_ERROR_CODES: Readonly<Record<number, FabricCaCodeMapping>> = Object.freeze({
  2: m('ErrNoAuthHdr', 'unauthorized'),
  6: m('ErrBadReqToken', 'unauthorized'),
  7: m('ErrNotRevoker', 'unauthorized'),
  8: m('ErrRevCertNotFound', 'refused'),
  9: m('ErrCertWrongOwner', 'refused'),
  10: m('ErrRevokeIDNotFound', 'refused'),
  18: m('ErrSendingResponse', 'unavailable', true),
  19: m('ErrCANotFound', 'refused'),
  20: m('ErrAuthenticationFailure', 'unauthorized'),
  21: m('ErrNoUserPass', 'unauthorized'),
  22: m('ErrEnrollDisabled', 'refused'),
  // 23–30 are local codes that servers before 1.1 also sent to the client.
  23: m('ErrInvalidUser', 'refused'),
  24: m('ErrInvalidPass', 'unauthorized'),
  25: m('ErrInvalidToken', 'unauthorized'),
  26: m('ErrUntrustedCertificate', 'unauthorized'),
  27: m('ErrCertExpired', 'unauthorized'),
  28: m('ErrCertRevoked', 'revoked'),
  29: m('ErrCertRevokeCheckFailure', 'unavailable', true),
  30: m('ErrCertNotFound', 'unauthorized'),
  31: m('ErrBadCSR', 'refused'),
  42: m('ErrRegAttrAuth', 'unauthorized'),
  43: m('ErrMissingRegAttr', 'unauthorized'),
  44: m('ErrCallerNotAffiliated', 'unauthorized'),
  50: m('ErrHTTPRequest', 'unavailable', true),
  51: m('ErrConnectingDB', 'unavailable', true),
  54: m('ErrRegistrarInvalidType', 'unauthorized'),
  55: m('ErrRegistrarNotAffiliated', 'unauthorized'),
  59: m('ErrMissingRole', 'unauthorized'),
  63: m('ErrDBGet', 'refused'),
  66: m('ErrCertAlreadyRevoked', 'refused'),
  70: m('ErrRevokedID', 'revoked'),
  71: m('ErrAuthorizationFailure', 'unauthorized'),
  73: m('ErrPasswordAttempts', 'unauthorized'),
  77: m('ErrCNInvalidEnroll', 'refused'),
});

/** Extra words for the codes whose fix is not obvious from the server's message. */
const HINTS: Readonly<Record<number, string>> = {
  19: 'the caName option names no CA of this server',
  63: 'the identity is not registered at this CA (certsteward never registers identities while renewing: register it with FabricCaAuthority.register())',
  73: 'the identity is locked after too many wrong secrets: a registrar must reset its secret',
  77: 'the CSR subject common name must equal the enrollment ID',
};

/**
 * The first Fabric CA code of an answer (0 when none, or when `cause` is not
 * a Fabric CA answer but, say, a network error).
 *
 * @example
 * ```ts
 * if (isCertstewardError(e, 'authority') && fabricCaCode(e.cause) === 63) console.log('not registered')
 * ```
 */
export function fabricCaCode(cause: unknown): number {
  const errors = (cause as Partial<FabricCaProblem> | undefined)?.errors;
  return Array.isArray(errors) ? (errors[0]?.code ?? 0) : 0;
}

function byStatus(status: number): { kind: AuthorityErrorKind; retryable: boolean } {
  if (status === 429) return { kind: 'rate-limited', retryable: true };
  if (status >= 500) return { kind: 'unavailable', retryable: true };
  if (status === 401 || status === 403) return { kind: 'unauthorized', retryable: false };
  return { kind: 'refused', retryable: false };
}

/**
 * Maps a Fabric CA error answer to an {@link AuthorityError} whose message
 * names the call, the server's codes and messages, and the fix where one is
 * known; the answer is its `cause`.
 *
 * @example
 * ```ts
 * throw fabricCaError(problem, 'reenroll', 'reenroll of "peer1"')
 * ```
 */
export function fabricCaError(problem: FabricCaProblem, context: FabricCallContext, what: string): AuthorityError {
  const code = fabricCaCode(problem);
  const said = problem.errors.length
    ? problem.errors.map((e) => `code ${e.code}: ${e.message}`).join('; ')
    : `HTTP ${problem.status}`;
  // A server error or a rate limit is transient whatever Fabric code rides along (code 30 comes back with a 500
  // when the CA's own database fails): the code table only reads 4xx answers.
  const transient = problem.status >= 500 || problem.status === 429;
  let mapping: { kind: AuthorityErrorKind; retryable: boolean } = transient ? byStatus(problem.status) : (FABRIC_CA_ERROR_CODES[code] ?? byStatus(problem.status));
  let hint = HINTS[code];
  if (code === 20 && !transient) {
    if (context === 'reenroll') {
      mapping = { kind: 'revoked', retryable: false };
      hint =
        'the CA refused the current certificate although it has not expired: Fabric answers this for a revoked certificate or identity ' +
        '(it hides which), so it is not renewed; if it was not revoked (the CA database was reset), renew it through the registrar ' +
        '(expire or drop the current certificate)';
    } else if (context === 'enroll') {
      hint =
        'the enrollment secret was refused: wrong or already reset secret, the identity reached its max_enrollments, or it was revoked ' +
        '(Fabric hides which)';
    } else if (context === 'reenroll-expired') {
      hint = 'the CA does not re-enroll an expired certificate (ca.reenrollignorecertexpiry is off)';
    } else if (context === 'registrar') {
      hint = 'the registrar identity was refused: its certificate is revoked, expired or not issued by this CA, or its key does not match';
    }
  }
  const text = `Fabric CA ${problem.endpoint} (${what}) failed: ${said}${hint ? ` — ${hint}` : ''}`;
  return new AuthorityError(mapping.kind, text, { retryable: mapping.retryable, cause: problem });
}

/** Builds the {@link FabricCaProblem} of an answer. */
export function fabricCaProblem(
  status: number,
  errors: readonly { readonly code: number; readonly message: string }[],
  endpoint: string,
): FabricCaProblem {
  const said = errors.length ? errors.map((e) => `code ${e.code}: ${e.message}`).join('; ') : `HTTP ${status}`;
  return Object.assign(new Error(`${endpoint}: ${said}`), { status, errors, endpoint });
}
