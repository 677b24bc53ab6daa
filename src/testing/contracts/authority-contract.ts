/**
 * The contract every {@link CertificateAuthority} must pass, runnable with any
 * test runner that offers `describe`, `it` and `expect`.
 *
 * @module
 */
import { isCertstewardError } from '../../errors.js';
import type { AuthorityErrorKind } from '../../errors.js';
import { parseCertificates } from '../../pki/certificate.js';
import { verifyChain } from '../../pki/chain.js';
import { buildCsr } from '../../pki/csr.js';
import { keyMatchesCertificate } from '../../pki/key-match.js';
import { toPem } from '../../pki/pem.js';
import type { CertificateAuthority, IssueRequest, IssueResult } from '../../ports/certificate-authority.js';
import type { Clock } from '../../ports/clock.js';
import type { KeyHandle } from '../../ports/key-store.js';
import type { ContractTestApi } from './contract-api.js';



/**
 * What one contract test runs against: a fresh authority and the means to exercise it.
 *
 * @example
 * ```ts
 * const subject: AuthorityContractSubject = {
 *   authority: ca, trustAnchorsPem: ca.rootPem, clock,
 *   makeKey: () => keys.generate({ algorithm: 'ECDSA-P256' }),
 *   forcePending: () => { ca.pendingOrders(2) },
 * }
 * ```
 */
export interface AuthorityContractSubject {
  readonly authority: CertificateAuthority;
  /** Makes a key to request a certificate for. */
  readonly makeKey: () => Promise<KeyHandle>;
  /** The roots (PEM) the issued chains must reach. */
  readonly trustAnchorsPem: string;
  /** The clock the authority uses, to check that leaves are valid now (default: the system time). */
  readonly clock?: Clock;
  /**
   * Makes the authority answer its next orders `pending` (test doubles, a CA
   * with manual approval). Without it the pending test checks only the
   * orders that happen to be pending.
   */
  readonly forcePending?: () => void | Promise<void>;
  /** Two DNS names the authority will certify (default `a.contract.test`, `b.contract.test`): an ACME CA needs names it can validate. */
  readonly dnsNames?: readonly [string, string];
  /** Most `resume` calls before a pending order must be issued (default 20). */
  readonly maxPolls?: number;
}

const KINDS: readonly AuthorityErrorKind[] = [
  'refused',
  'unavailable',
  'rate-limited',
  'invalid-response',
  'unauthorized',
  'revoked',
  'challenge-failed',
];

async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** What an error says about itself, compared as a whole so a failure shows it all. */
function describeError(e: unknown): { authorityError: boolean; kindKnown: boolean; retryable: unknown } {
  const authorityError = isCertstewardError(e, 'authority');
  return {
    authorityError,
    kindKnown: authorityError && KINDS.includes(e.kind),
    retryable: authorityError ? e.retryable : `not an AuthorityError: ${String(e)}`,
  };
}

/**
 * Registers the certificate-authority contract: issued chains carry the
 * requested names and the CSR's key and reach the trust anchors; pending
 * orders resume to a chain; unknown orders fail with a non-retryable
 * `AuthorityError`; unreadable CSRs are refused with an `AuthorityError`;
 * serials are unique; revocation (when offered) succeeds and can be repeated.
 * `make` is called once per test, so each test gets a fresh authority.
 *
 * @example
 * ```ts
 * import { describe, it, expect } from 'vitest'
 * import { describeCertificateAuthority } from 'certsteward/testing'
 *
 * describeCertificateAuthority({ describe, it, expect }, async () => {
 *   const keys = new MemoryKeyStore()
 *   const authority = await LocalAuthority.create({ keys, clock: systemClock })
 *   return { authority, trustAnchorsPem: authority.rootPem, makeKey: () => keys.generate({ algorithm: 'ECDSA-P256' }) }
 * })
 * ```
 */
export function describeCertificateAuthority(t: ContractTestApi, make: () => Promise<AuthorityContractSubject>): void {
  const { describe, it, expect } = t;

  async function request(s: AuthorityContractSubject, id: string): Promise<IssueRequest> {
    const [a, b] = s.dnsNames ?? ['a.contract.test', 'b.contract.test'];
    const key = await s.makeKey();
    const subjectAltNames = [
      { type: 'dns', value: a },
      { type: 'dns', value: b },
    ] as const;
    return { id, key, subjectAltNames, csrPem: await buildCsr({ key, subjectAltNames }) };
  }

  async function finish(s: AuthorityContractSubject, req: IssueRequest, first: IssueResult): Promise<string> {
    let result = first;
    const maxPolls = s.maxPolls ?? 20;
    for (let polls = 0; result.status === 'pending'; polls++) {
      expect(polls < maxPolls).toBe(true);
      if (polls >= maxPolls) throw new Error(`the order was still pending after ${maxPolls} resume calls`);
      expect(typeof result.orderRef === 'string' && result.orderRef.length > 0).toBe(true);
      result = await s.authority.resume(result.orderRef, req);
    }
    return result.chainPem;
  }

  async function issueChain(s: AuthorityContractSubject, req: IssueRequest): Promise<string> {
    return finish(s, req, await s.authority.issue(req));
  }

  describe('CertificateAuthority contract', () => {
    it('issues a leaf for the requested DNS names and the CSR key', async () => {
      const s = await make();
      const req = await request(s, 'contract-names');
      const [leaf] = parseCertificates(await issueChain(s, req));
      const dns = leaf!.subjectAltNames.filter((n) => n.type === 'dns').map((n) => n.value.toLowerCase());
      expect(dns.sort()).toEqual(req.subjectAltNames.map((n) => n.value.toLowerCase()).sort());
      expect(await keyMatchesCertificate(req.key.publicKey, leaf!, { crypto: req.key.crypto })).toBe(true);
      expect(leaf!.isCA).toBe(false);
    });

    it('issues a chain that verifies up to the trust anchors', async () => {
      const s = await make();
      const req = await request(s, 'contract-chain');
      const report = verifyChain(await issueChain(s, req), { roots: s.trustAnchorsPem });
      expect({ trusted: report.trusted, complete: report.complete, problems: report.problems }).toEqual({
        trusted: true,
        complete: true,
        problems: [],
      });
    });

    it('issues a leaf that is valid now', async () => {
      const s = await make();
      const req = await request(s, 'contract-validity');
      const [leaf] = parseCertificates(await issueChain(s, req));
      const now = (s.clock?.now() ?? new Date()).getTime();
      expect({ started: leaf!.notBefore.getTime() <= now, notEnded: now < leaf!.notAfter.getTime() }).toEqual({
        started: true,
        notEnded: true,
      });
    });

    it('gives each certificate its own serial number', async () => {
      const s = await make();
      const req = await request(s, 'contract-serials');
      const [first] = parseCertificates(await issueChain(s, req));
      const [second] = parseCertificates(await issueChain(s, req));
      expect(first!.serialNumber === second!.serialNumber).toBe(false);
    });

    it('resumes a pending order to a chain with a JSON-safe order reference', async () => {
      const s = await make();
      await s.forcePending?.();
      const req = await request(s, 'contract-pending');
      const first = await s.authority.issue(req);
      if (s.forcePending) expect(first.status).toBe('pending');
      if (first.status === 'pending') expect(JSON.parse(JSON.stringify({ ref: first.orderRef })).ref).toBe(first.orderRef);
      const report = verifyChain(await finish(s, req, first), { roots: s.trustAnchorsPem });
      expect(report.trusted).toBe(true);
    });

    it('rejects an order reference it never gave out with a non-retryable AuthorityError', async () => {
      const s = await make();
      const req = await request(s, 'contract-unknown-order');
      for (const garbage of ['', 'not json', '{"order":"00000000-0000-0000-0000-000000000000"}', 'null']) {
        const e = await errorOf(() => s.authority.resume(garbage, req));
        expect(describeError(e)).toEqual({ authorityError: true, kindKnown: true, retryable: false });
      }
    });

    it('refuses a CSR that is not a CSR with an AuthorityError', async () => {
      const s = await make();
      const req = await request(s, 'contract-bad-csr');
      const bad = { ...req, csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' };
      const e = await errorOf(async () => finish(s, bad, await s.authority.issue(bad)));
      expect(describeError(e)).toEqual({ authorityError: true, kindKnown: true, retryable: false });
    });

    it('revokes a certificate it issued, and revoking it again does not fail otherwise than with an AuthorityError', async () => {
      const s = await make();
      if (!s.authority.revoke) return;
      const req = await request(s, 'contract-revoke');
      const [leaf] = parseCertificates(await issueChain(s, req));
      const pem = toPem(leaf!.der);
      await s.authority.revoke(pem, 'superseded');
      const again = await errorOf(() => s.authority.revoke!(pem, 'superseded'));
      expect(again === undefined || isCertstewardError(again, 'authority')).toBe(true);
    });

    it('describes itself with a kind', async () => {
      const s = await make();
      const d = s.authority.describe?.();
      expect(d === undefined || (typeof d.kind === 'string' && d.kind.length > 0)).toBe(true);
    });
  });
}
