/**
 * Certificate chains: order a bundle leaf → root, check every signature link,
 * and say what is missing.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { parseCertificates, type CertificateInfo, type CertificateInput } from './certificate.js';

/** How a signature link checked out. */
export type LinkSignature = 'valid' | 'invalid' | 'unverifiable';

/** One step of the path: `certificates[index]` is signed by `certificates[index + 1]` (or by itself at a root). */
export interface ChainLink {
  readonly index: number;
  readonly subject: string;
  readonly issuer: string;
  readonly signature: LinkSignature;
  /** True when this step is the self-signature of a root. */
  readonly selfSigned: boolean;
}

/** The issuer that the bundle (and the given roots) lack. */
export interface MissingIssuer {
  /** RFC 4514 name of the missing issuer. */
  readonly issuer: string;
  readonly authorityKeyIdentifier: string | undefined;
  /** Where the issuer's certificate can be fetched (AIA caIssuers), if the child says. */
  readonly caIssuerUrls: readonly string[];
}

/** The result of {@link verifyChain}. */
export interface ChainReport {
  /** The path found, leaf first. */
  readonly certificates: readonly CertificateInfo[];
  /** One entry per signature checked along the path. */
  readonly links: readonly ChainLink[];
  /** The path ends at a self-signed root (from the bundle or `roots`) and every link verified. */
  readonly complete: boolean;
  /** The path reaches one of the given `roots`. */
  readonly trusted: boolean;
  /** Set when the path stops at a certificate whose issuer is nowhere to be found. */
  readonly missingIssuer: MissingIssuer | undefined;
  /** Bundle certificates that are not on the path (extra or duplicate). */
  readonly unused: readonly CertificateInfo[];
  /** The bundle's own order differs from leaf → root. */
  readonly outOfOrder: boolean;
  /** Problems in words, for people. */
  readonly problems: readonly string[];
}

/** Options of {@link verifyChain}. */
export interface VerifyChainOptions {
  /** Trust anchors that may complete the path (they need not be in the bundle). */
  readonly roots?: readonly CertificateInfo[] | CertificateInput;
  /** Longest path to follow (default 16). */
  readonly maxLength?: number;
}

function toInfos(input: readonly CertificateInfo[] | CertificateInput | undefined): CertificateInfo[] {
  if (input === undefined) return [];
  if (typeof input === 'string' || input instanceof Uint8Array) return parseCertificates(input);
  return [...input];
}

function checkSignature(child: CertificateInfo, parent: CertificateInfo): LinkSignature {
  try {
    const c = new X509Certificate(child.der);
    const p = new X509Certificate(parent.der);
    return c.verify(p.publicKey) ? 'valid' : 'invalid';
  } catch {
    return 'unverifiable';
  }
}

function canIssue(child: CertificateInfo, parent: CertificateInfo): boolean {
  if (child.issuer.dn !== parent.subject.dn) return false;
  const aki = child.authorityKeyIdentifier;
  const ski = parent.subjectKeyIdentifier;
  return aki === undefined || ski === undefined || aki === ski;
}

/**
 * Orders a bundle leaf → root and verifies each signature (with OpenSSL
 * through `node:crypto`). The leaf is the first certificate that issues no
 * other certificate in the bundle.
 *
 * @example
 * ```ts
 * const report = verifyChain(readFileSync('fullchain.pem'))
 * if (report.missingIssuer) console.error('missing intermediate:', report.missingIssuer.issuer)
 * ```
 */
export function verifyChain(
  input: readonly CertificateInfo[] | CertificateInput,
  options: VerifyChainOptions = {},
): ChainReport {
  const bundle = toInfos(input);
  const roots = toInfos(options.roots);
  const maxLength = options.maxLength ?? 16;
  const problems: string[] = [];
  const byFp = new Map<string, CertificateInfo>();
  for (const c of bundle) if (!byFp.has(c.fingerprints.sha256)) byFp.set(c.fingerprints.sha256, c);
  const unique = [...byFp.values()];
  const leaf =
    unique.find((c) => !unique.some((o) => o !== c && !o.selfSigned && canIssue(o, c))) ?? unique[0];
  const path: CertificateInfo[] = [];
  const links: ChainLink[] = [];
  let missingIssuer: MissingIssuer | undefined;
  let complete = false;
  let trusted = false;
  const rootFps = new Set(roots.map((r) => r.fingerprints.sha256));
  const used = new Set<string>();
  let current = leaf;
  while (current && path.length < maxLength) {
    path.push(current);
    used.add(current.fingerprints.sha256);
    if (rootFps.has(current.fingerprints.sha256)) trusted = true;
    if (current.selfSigned) {
      const sig = checkSignature(current, current);
      links.push({ index: path.length - 1, subject: current.subject.dn, issuer: current.issuer.dn, signature: sig, selfSigned: true });
      complete = sig === 'valid';
      if (sig !== 'valid') problems.push(`the self-signature of root "${current.subject.dn}" is ${sig}`);
      break;
    }
    const child: CertificateInfo = current;
    const candidates = [...unique, ...roots].filter((p) => !used.has(p.fingerprints.sha256) && canIssue(child, p));
    let next: CertificateInfo | undefined;
    let sig: LinkSignature = 'invalid';
    for (const cand of candidates) {
      sig = checkSignature(child, cand);
      if (sig === 'valid') {
        next = cand;
        break;
      }
    }
    if (!next && candidates.length > 0) {
      next = candidates[0];
      sig = checkSignature(child, next!);
    }
    if (!next) {
      missingIssuer = {
        issuer: child.issuer.dn,
        authorityKeyIdentifier: child.authorityKeyIdentifier,
        caIssuerUrls: child.caIssuerUrls,
      };
      problems.push(
        `the issuer "${child.issuer.dn}" of "${child.subject.dn}" is missing` +
          (child.caIssuerUrls.length ? ` (it can be fetched from ${child.caIssuerUrls.join(', ')})` : ''),
      );
      break;
    }
    links.push({ index: path.length - 1, subject: child.subject.dn, issuer: child.issuer.dn, signature: sig, selfSigned: false });
    if (sig !== 'valid') problems.push(`the signature on "${child.subject.dn}" by "${next.subject.dn}" is ${sig}`);
    if (rootFps.has(next.fingerprints.sha256)) {
      // A trust anchor ends the path whether or not it is self-signed.
      path.push(next);
      used.add(next.fingerprints.sha256);
      trusted = true;
      complete = links.every((l) => l.signature === 'valid');
      break;
    }
    current = next;
  }
  if (path.length >= maxLength && !complete && !missingIssuer) problems.push(`the path is longer than ${maxLength} certificates`);
  if (complete && links.some((l) => l.signature !== 'valid')) complete = false;
  const unused = unique.filter((c) => !used.has(c.fingerprints.sha256));
  if (bundle.length !== unique.length) problems.push(`the bundle holds ${bundle.length - unique.length} duplicate certificate(s)`);
  if (unused.length) problems.push(`${unused.length} certificate(s) in the bundle are not on the path`);
  const bundlePath = unique.filter((c) => used.has(c.fingerprints.sha256)).map((c) => c.fingerprints.sha256);
  const pathOrder = path.filter((c) => bundlePath.includes(c.fingerprints.sha256)).map((c) => c.fingerprints.sha256);
  const outOfOrder = bundlePath.join() !== pathOrder.join();
  if (outOfOrder) problems.push('the bundle is not in leaf → root order');
  return { certificates: path, links, complete, trusted, missingIssuer, unused, outOfOrder, problems };
}
