/** Driving an ACME order through AcmeAuthority in the tests, as the steward's loop would without its waiting. */
import type { CertificateAuthority, IssueRequest, IssueResult } from '../../src/ports/certificate-authority.js';

/** Resumes the order until it is issued (at most 10 resume calls); returns the chain. */
export async function finishOrder(a: CertificateAuthority, req: IssueRequest, first: IssueResult): Promise<string> {
  let result = first;
  for (let polls = 0; result.status === 'pending'; polls++) {
    if (polls >= 10) throw new Error('still pending after 10 resume calls');
    result = await a.resume(result.orderRef, req);
  }
  return result.chainPem;
}
