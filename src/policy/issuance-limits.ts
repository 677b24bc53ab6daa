/**
 * Authorities' published rate limits as data, and the ledger buckets one
 * order counts against. The steward asks the store's shared issuance ledger
 * before it places an order, so a fleet of processes defers new orders before
 * it breaks a limit instead of learning about it from the CA's refusal (and,
 * with some CAs, a lock-out that outlasts the certificates).
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import type { CertificateSpec, IssuanceBucket } from '../ports/certificate-store.js';
import { parseDuration, type Duration } from './duration.js';

/**
 * One published limit of an authority.
 *
 * @example
 * ```ts
 * const duplicates: IssuanceLimit = { name: 'duplicate-certificate', per: 'names', max: 5, window: '7d' }
 * ```
 */
export interface IssuanceLimit {
  /** A stable name, shown in `renewal.deferred` events (`duplicate-certificate`). */
  readonly name: string;
  /**
   * What is counted together: `authority` — every order placed with this
   * authority (and so its account); `names` — orders for exactly the same
   * set of names (case-insensitive, order-free), Let's Encrypt's
   * duplicate-certificate limit.
   */
  readonly per: 'authority' | 'names';
  /** Orders allowed in any `window`. */
  readonly max: number;
  readonly window: Duration;
}

/**
 * Let's Encrypt's limits that a renewing fleet can hit, as published on
 * letsencrypt.org/docs/rate-limits: 300 new orders per account per 3 hours,
 * and 5 certificates for the same set of names per 7 days. The limit of 50
 * certificates per registered domain per 7 days needs the public suffix list
 * to know what a registered domain is; add it with your own `per: 'authority'`
 * limit on an authority used for one domain, or ask the CA for an exemption.
 *
 * @example
 * ```ts
 * createSteward({ store, keys, authorities: { le: acme }, issuanceLimits: { le: LETS_ENCRYPT_LIMITS } })
 * ```
 */
export const LETS_ENCRYPT_LIMITS: readonly IssuanceLimit[] = Object.freeze([
  Object.freeze({ name: 'new-orders-per-account', per: 'authority', max: 300, window: '3h' }),
  Object.freeze({ name: 'duplicate-certificate', per: 'names', max: 5, window: '7d' }),
]);

/** A checked limit with its window in milliseconds. */
export interface ResolvedIssuanceLimit {
  readonly name: string;
  readonly per: 'authority' | 'names';
  readonly max: number;
  readonly windowMs: number;
}

/**
 * Checks the limits of one authority.
 *
 * @throws {@link ConfigError} naming the limit that is wrong.
 * @example
 * ```ts
 * const limits = resolveIssuanceLimits('le', LETS_ENCRYPT_LIMITS)
 * ```
 */
export function resolveIssuanceLimits(authority: string, limits: readonly IssuanceLimit[]): ResolvedIssuanceLimit[] {
  const seen = new Set<string>();
  return limits.map((l) => {
    const where = `issuanceLimits.${authority}`;
    if (typeof l.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(l.name)) {
      throw new ConfigError(where, l, `${where}: every limit needs a name of letters, digits, ".", "_" or "-", got ${JSON.stringify(l.name)}`);
    }
    if (seen.has(l.name)) throw new ConfigError(where, l, `${where}: the limit "${l.name}" is given twice`);
    seen.add(l.name);
    if (l.per !== 'authority' && l.per !== 'names') {
      throw new ConfigError(where, l, `${where}.${l.name}: per must be "authority" or "names", got ${JSON.stringify(l.per)}`);
    }
    if (!Number.isInteger(l.max) || l.max < 1) throw new ConfigError(where, l, `${where}.${l.name}: max must be an integer ≥ 1, got ${String(l.max)}`);
    const windowMs = parseDuration(l.window, `${where}.${l.name}.window`);
    if (!(windowMs > 0)) throw new ConfigError(where, l, `${where}.${l.name}: window must be longer than 0`);
    return { name: l.name, per: l.per, max: l.max, windowMs };
  });
}

/**
 * The ledger buckets an order for `spec` counts against. Keys start with the
 * authority's name, so two authorities (two accounts) never share a count.
 *
 * @example
 * ```ts
 * issuanceBuckets('le', resolveIssuanceLimits('le', LETS_ENCRYPT_LIMITS), spec)
 * // [{ key: 'le|new-orders-per-account', … }, { key: 'le|duplicate-certificate|dns:a.example,dns:b.example', … }]
 * ```
 */
export function issuanceBuckets(authority: string, limits: readonly ResolvedIssuanceLimit[], spec: CertificateSpec): IssuanceBucket[] {
  return limits.map((l) => {
    let key = `${authority}|${l.name}`;
    if (l.per === 'names') {
      const names = new Set(spec.subjectAltNames.map((n) => `${n.type}:${n.value.toLowerCase()}`));
      if (spec.commonName) names.add(`cn:${spec.commonName.toLowerCase()}`);
      key += `|${[...names].sort().join(',')}`;
    }
    return { key, max: l.max, windowMs: l.windowMs };
  });
}
