/**
 * `certsteward/local-ca`: the built-in local certificate authority, for
 * internal services, development and tests.
 *
 * @example
 * ```ts
 * import { LocalAuthority } from 'certsteward/local-ca'
 * const ca = await LocalAuthority.create({ keys, clock: systemClock })
 * ```
 *
 * @packageDocumentation
 */
export { LocalAuthority, emergencySelfSigned } from './local-authority.js';
export type {
  EmergencySelfSignedOptions,
  LocalAuthorityCaState,
  LocalAuthorityLeafPolicy,
  LocalAuthorityLoadOptions,
  LocalAuthorityOptions,
  LocalAuthorityRevocation,
  LocalAuthorityState,
  LocalCrlOptions,
} from './options.js';
