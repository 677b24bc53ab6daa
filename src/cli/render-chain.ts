/**
 * The verdict of `verifyChain` in words: path, signatures, what is missing,
 * and whether the input was in order.
 *
 * @module
 */
import type { CertificateInfo, ChainReport } from '../index.js';
import { colonHex, safeText, shortName } from './field-text.js';

const LABEL_WIDTH = 20;

function rows(label: string, values: readonly string[]): string {
  return values.map((v, i) => `  ${(i === 0 ? label : '').padEnd(LABEL_WIDTH)}${v}\n`).join('');
}

/** `#i` for a certificate of the input, `(trust anchor)` for one that came from the roots. */
export function positionLabel(cert: CertificateInfo, input: readonly CertificateInfo[]): string {
  const i = input.findIndex((c) => c.fingerprints.sha256 === cert.fingerprints.sha256);
  return i >= 0 ? `#${i}` : '(trust anchor)';
}

/**
 * One sentence on the chain: complete and trusted, complete but untrusted,
 * broken (a signature does not verify), or incomplete with what is missing.
 * A leaf whose issuer is absent lacks an intermediate; a CA whose issuer is
 * absent lacks a root that is neither in the input nor trusted.
 *
 * @example
 * ```ts
 * chainVerdict(verifyChain(pem)) // 'incomplete: missing intermediate "CN=R3,O=Let\'s Encrypt,C=US" (fetch it from http://r3.i.lencr.org/)'
 * ```
 */
export function chainVerdict(report: ChainReport): string {
  const bad = report.links.find((l) => l.signature !== 'valid');
  if (bad) {
    return `broken: the signature on "${safeText(bad.subject)}" ${bad.selfSigned ? '(self-signed)' : `by "${safeText(bad.issuer)}"`} is ${bad.signature}`;
  }
  const missing = report.missingIssuer;
  if (missing) {
    const last = report.certificates[report.certificates.length - 1];
    const fetch = missing.caIssuerUrls.length ? ` (fetch it from ${missing.caIssuerUrls.map(safeText).join(', ')})` : '';
    if (last && !last.isCA) return `incomplete: missing intermediate "${safeText(missing.issuer)}"${fetch}`;
    return `incomplete: the chain ends at "${last ? safeText(last.subject.dn) : '?'}", whose issuer "${safeText(missing.issuer)}" is neither in the input nor a trusted root${fetch}`;
  }
  const top = report.certificates[report.certificates.length - 1];
  if (report.complete && report.trusted) return 'complete, ends at a trusted root';
  if (report.complete) {
    return `complete, but the root "${top ? safeText(top.subject.dn) : '?'}" is not trusted (not in Node's root store or --roots)`;
  }
  return `incomplete: ${report.problems[0] ?? 'the path could not be built'}`;
}

/**
 * The chain section of `inspect`: the path leaf → root with input positions,
 * each signature, the verdict, the input order, certificates off the path,
 * and the problems `verifyChain` found.
 *
 * @param input - the certificates in the order the file or server gave them.
 */
export function renderChain(report: ChainReport, input: readonly CertificateInfo[]): string {
  let out = 'Chain\n';
  out += rows(
    'Path',
    report.certificates.map((c) => `${positionLabel(c, input)} ${shortName(c.subject)}`),
  );
  out += rows(
    'Signatures',
    report.links.map((l) => {
      const who = `${positionLabel(report.certificates[l.index]!, input)} ${safeText(l.subject)}`;
      return l.selfSigned ? `${who} self-signed: ${l.signature}` : `${who} by ${safeText(l.issuer)}: ${l.signature}`;
    }),
  );
  out += rows('Verdict', [chainVerdict(report)]);
  if (report.missingIssuer) {
    const m = report.missingIssuer;
    const lines = [`issuer "${safeText(m.issuer)}"`];
    if (m.authorityKeyIdentifier) lines.push(`authority key id ${colonHex(m.authorityKeyIdentifier)}`);
    for (const url of m.caIssuerUrls) lines.push(`fetch from ${safeText(url)}`);
    out += rows('Missing', lines);
  }
  if (report.outOfOrder) {
    const onPath = report.certificates.map((c) => positionLabel(c, input)).filter((p) => p.startsWith('#'));
    const given = [...onPath].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
    out += rows('Order', [`out of order: the input lists ${given.join(', ')}; leaf → root is ${onPath.join(', ')}`]);
  } else {
    out += rows('Order', ['leaf → root']);
  }
  if (report.unused.length) {
    out += rows('Not on the path', report.unused.map((c) => `${positionLabel(c, input)} ${shortName(c.subject)}`));
  }
  if (report.problems.length) out += rows('Problems', report.problems.map(safeText));
  return out;
}
