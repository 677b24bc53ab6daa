/**
 * `inspect --json`: the certificates, their expiry, the chain verdict and,
 * for a server, the TLS facts, as one plain document.
 *
 * @module
 */
import type { CertificateInfo, ChainReport, ExpiryReport } from '../index.js';
import { colonHex } from './field-text.js';
import { chainVerdict } from './render-chain.js';
import type { ServedChain } from './remote.js';

/** Where the inspected certificates came from. */
export type InspectSource = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'host'; readonly served: ServedChain };

/** Everything `inspect` found, before it is rendered. */
export interface InspectFindings {
  readonly source: InspectSource;
  readonly now: Date;
  /** Input order; `cert` undefined with `error` for a certificate that could not be read. */
  readonly items: readonly { readonly index: number; readonly cert?: CertificateInfo; readonly expiry?: ExpiryReport; readonly error?: string }[];
  readonly chain: ChainReport | undefined;
}

/**
 * The plain-data form of `findings` (serialize it with `toJsonText`: the DER
 * stays a `Uint8Array` here and becomes base64 there).
 *
 * @example
 * ```ts
 * io.stdout.write(toJsonText(inspectDocument(findings)))
 * ```
 */
export function inspectDocument(findings: InspectFindings): Record<string, unknown> {
  const indexOf = (c: CertificateInfo) => {
    const i = findings.items.find((it) => it.cert?.fingerprints.sha256 === c.fingerprints.sha256);
    return i ? i.index : null;
  };
  const brief = (c: CertificateInfo) => ({ index: indexOf(c), subject: c.subject.dn, sha256: c.fingerprints.sha256 });
  const s = findings.source;
  return {
    source:
      s.kind === 'file'
        ? { kind: 'file', path: s.path }
        : {
            kind: 'host',
            host: s.served.endpoint.host,
            port: s.served.endpoint.port,
            servername: s.served.endpoint.servername ?? null,
            tls: {
              protocol: s.served.protocol ?? null,
              cipher: s.served.cipher ?? null,
              authorized: s.served.authorized,
              authorizationError: s.served.authorizationError ?? null,
            },
          },
    now: findings.now,
    certificates: findings.items.flatMap((it) =>
      it.cert
        ? [
            {
              index: it.index,
              ...it.cert,
              fingerprintsColon: { sha256: colonHex(it.cert.fingerprints.sha256), sha1: colonHex(it.cert.fingerprints.sha1) },
              expiry: it.expiry,
            },
          ]
        : [],
    ),
    errors: findings.items.flatMap((it) => (it.error === undefined ? [] : [{ index: it.index, error: it.error }])),
    chain: findings.chain
      ? {
          verdict: chainVerdict(findings.chain),
          complete: findings.chain.complete,
          trusted: findings.chain.trusted,
          outOfOrder: findings.chain.outOfOrder,
          path: findings.chain.certificates.map(brief),
          links: findings.chain.links,
          missingIssuer: findings.chain.missingIssuer ?? null,
          unused: findings.chain.unused.map(brief),
          problems: findings.chain.problems,
        }
      : null,
  };
}
