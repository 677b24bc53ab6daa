/**
 * `certsteward/acme`: the certificate-authority port on ACME (Let's Encrypt,
 * ZeroSSL, Google, step-ca, Pebble), through acme-client (an optional peer
 * dependency), with http-01 and dns-01 solvers and ACME Renewal Information.
 *
 * @example
 * ```ts
 * import { AcmeAuthority, Http01Solver } from 'certsteward/acme'
 * const http01 = new Http01Solver()
 * await http01.listen(80)
 * const le = await AcmeAuthority.create({ directoryUrl, accountKey, termsOfServiceAgreed: true, solvers: [http01] })
 * ```
 *
 * @packageDocumentation
 */
export { AcmeAuthority, certId } from './acme-authority.js';
export type { AcmeAuthorityOptions, AcmeClientModule } from './options.js';
export type { Challenge, ChallengeSolver } from './challenge-solver.js';
export { Http01Solver } from './http01-solver.js';
export { ChallTestSrvDnsProvider, Dns01Solver, recordName } from './dns01-solver.js';
export type { Dns01SolverOptions, DnsProvider } from './dns01-solver.js';
