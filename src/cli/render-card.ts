/**
 * A certificate as a readable card: one labelled line per field.
 *
 * @module
 */
import { formatDuration } from '../index.js';
import type { CertificateInfo, ExpiryReport } from '../index.js';
import { colonHex, generalNameText, isoSeconds, keyText, safeText } from './field-text.js';

const LABEL_WIDTH = 20;

function row(label: string, value: string): string {
  return `  ${label.padEnd(LABEL_WIDTH)}${value}\n`;
}

/** Several values under one label, one per line. */
function rows(label: string, values: readonly string[]): string {
  return values.map((v, i) => row(i === 0 ? label : '', v)).join('');
}

/** Joins items with commas into lines of about 72 characters (a wildcard certificate may carry hundreds of SANs). */
function wrap(items: readonly string[]): string[] {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    if (line && line.length + item.length + 2 > 72) {
      lines.push(line + ',');
      line = item;
    } else {
      line = line ? `${line}, ${item}` : item;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function remainingText(expiry: ExpiryReport): string {
  if (expiry.noWellDefinedExpiration) return 'no well-defined expiration';
  if (!Number.isFinite(expiry.remainingMs)) return 'unknown';
  return expiry.remainingMs < 0
    ? `expired ${formatDuration(-expiry.remainingMs)} ago`
    : `${formatDuration(expiry.remainingMs)} left`;
}

/**
 * The card of certificate `index` of `total`: subject, issuer, serial, SANs,
 * validity with time left and status, key, signature, CA constraints, key
 * usages, key identifiers, AIA and CRL URLs, self-signed, SHA-256 and SHA-1
 * fingerprints in OpenSSL's colon form, and the parser's warnings.
 *
 * @example
 * ```ts
 * io.stdout.write(renderCard(cert, 0, 2, expiryStatus(cert, now)))
 * ```
 */
export function renderCard(cert: CertificateInfo, index: number, total: number, expiry: ExpiryReport): string {
  const role = cert.selfSigned ? 'self-signed' : cert.isCA ? 'CA' : 'end entity';
  let out = `Certificate #${index}${total > 1 ? ` of ${total}` : ''} (${role})\n`;
  out += row('Subject', safeText(cert.subject.dn || '(empty)'));
  out += row('Issuer', safeText(cert.issuer.dn || '(empty)'));
  out += row('Serial', colonHex(cert.serialNumber));
  out += row('Version', String(cert.version));
  out += cert.subjectAltNames.length
    ? rows('SANs', wrap(cert.subjectAltNames.map(generalNameText)))
    : row('SANs', 'none');
  out += row('Not before', isoSeconds(cert.notBefore));
  out += row('Not after', `${isoSeconds(cert.notAfter)} (${remainingText(expiry)})`);
  out += row('Status', `${expiry.status}: ${expiry.reason}`);
  out += row('Key', keyText(cert));
  out += row('Signature', cert.signatureAlgorithm.name);
  out += row('CA', cert.isCA ? `yes${cert.pathLength === undefined ? '' : `, path length ${cert.pathLength}`}` : 'no');
  if (cert.keyUsage) out += row('Key usage', cert.keyUsage.join(', ') || '(empty)');
  if (cert.extendedKeyUsage) out += row('Extended key usage', cert.extendedKeyUsage.join(', ') || '(empty)');
  if (cert.subjectKeyIdentifier) out += row('Subject key id', colonHex(cert.subjectKeyIdentifier));
  if (cert.authorityKeyIdentifier) out += row('Authority key id', colonHex(cert.authorityKeyIdentifier));
  out += rows('OCSP', cert.ocspUrls.map(safeText));
  out += rows('CA issuers', cert.caIssuerUrls.map(safeText));
  out += rows('CRL', cert.crlUrls.map(safeText));
  out += row('Self-signed', cert.selfSigned ? 'yes' : 'no');
  out += row('SHA-256', colonHex(cert.fingerprints.sha256));
  out += row('SHA-1', colonHex(cert.fingerprints.sha1));
  out += rows('Warnings', cert.warnings.map(safeText));
  return out;
}
