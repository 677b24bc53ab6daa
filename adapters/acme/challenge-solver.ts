/**
 * Challenge solvers: how an ACME server is shown control of a name. A solver
 * handles one or more challenge types; the authority picks, per
 * authorization, the first solver that handles a type the server offers
 * (wildcard names: `dns-01` only).
 *
 * @module
 */

/** One challenge to answer. */
export interface Challenge {
  readonly type: 'http-01' | 'dns-01' | string;
  /** The identifier being validated (`example.com`; for a wildcard order `example.com` with `wildcard: true`). */
  readonly identifier: string;
  readonly wildcard: boolean;
  /** The challenge token (the file name for http-01). */
  readonly token: string;
  /**
   * What to serve: for `http-01` the key authorization (`token.thumbprint`),
   * for `dns-01` the TXT record value (base64url SHA-256 of it).
   */
  readonly keyAuthorization: string;
}

/**
 * Answers challenges of the types it lists. `cleanup` is called after
 * `present` once the CA has decided, also when validation failed or
 * `present` itself failed. While the CA may still be reading the answer (a
 * call that gave up waiting or was cancelled) the authority keeps it up and
 * calls `cleanup` later: when a later call on the order finds the CA decided,
 * at `close()`, or at its first call 10 minutes on.
 *
 * @example
 * ```ts
 * const solver: ChallengeSolver = {
 *   types: ['dns-01'],
 *   present: (c) => dns.setTxt(`_acme-challenge.${c.identifier}`, c.keyAuthorization),
 *   cleanup: (c) => dns.removeTxt(`_acme-challenge.${c.identifier}`, c.keyAuthorization),
 * }
 * ```
 */
export interface ChallengeSolver {
  readonly types: readonly string[];
  present(challenge: Challenge): Promise<void>;
  cleanup(challenge: Challenge): Promise<void>;
  /**
   * Optional: calls `onRead` each time the CA is seen reading the answer to
   * `challenge` (http-01: a GET of the token answered), until the returned
   * function is called. The authority then looks at the challenge a moment
   * later instead of waiting out its blind polling schedule. A solver that
   * cannot tell (dns-01: the CA asks the DNS, not us) leaves it out.
   */
  watch?(challenge: Challenge, onRead: () => void): () => void;
}
