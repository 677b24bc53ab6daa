/**
 * RFC 5280 CRLReason codes (§5.3.1), by the names the steward uses: what a
 * CRL entry carries and what ACME's revokeCert takes.
 *
 * @module
 */
import type { RevocationReason } from '../ports/certificate-authority.js';

/** The CRLReason code of each revocation reason (7 is unused by RFC 5280). */
export const CRL_REASON_CODES: Readonly<Record<RevocationReason, number>> = Object.freeze({
  unspecified: 0,
  keyCompromise: 1,
  caCompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
});
