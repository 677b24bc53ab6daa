/**
 * `certsteward inspect`: every certificate of a file or of a server's chain
 * as a card, then the verdict on the chain.
 *
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import { expiryStatus, isCertstewardError, parseCertificate, verifyChain } from '../index.js';
import type { CertificateInfo } from '../index.js';
import { parseArgs, type OptionSpec } from './args.js';
import type { CliIo } from './cli-io.js';
import { InputError, UsageError } from './cli-errors.js';
import { readCommonOptions } from './common-options.js';
import { parseHostPort } from './host-port.js';
import { inspectDocument, type InspectFindings, type InspectSource } from './inspect-document.js';
import { toJsonText } from './json-text.js';
import { createProgress } from './progress.js';
import { fetchServedChain } from './remote.js';
import { readCertificateBytes, type CertificateReading } from './read-certificates.js';
import { renderCard } from './render-card.js';
import { renderChain } from './render-chain.js';
import { loadTrustAnchors } from './trust-anchors.js';

/** Options of `inspect`. */
export const INSPECT_OPTIONS: readonly OptionSpec[] = [
  { name: 'json', takesValue: false },
  { name: 'roots', takesValue: true },
  { name: 'warn', takesValue: true },
  { name: 'crit', takesValue: true },
  { name: 'timeout', takesValue: true },
  { name: 'help', takesValue: false, short: 'h' },
];

async function readTarget(
  target: string,
  timeoutMs: number,
  io: CliIo,
): Promise<{ source: InspectSource; readings: readonly CertificateReading[] }> {
  let info;
  try {
    info = await stat(target);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const endpoint = code === 'ENOENT' ? parseHostPort(target) : undefined;
    if (!endpoint) throw new InputError(`${target}: ${code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    const progress = createProgress(io);
    progress.update(`connecting to ${endpoint.label}…`);
    try {
      const served = await fetchServedChain(endpoint, { timeoutMs });
      const readings = served.ders.map((der, index): CertificateReading => {
        try {
          return { index, cert: parseCertificate(der) };
        } catch (err) {
          if (!isCertstewardError(err, 'certificate-parse')) throw err;
          return { index, error: err.message };
        }
      });
      return { source: { kind: 'host', served }, readings };
    } finally {
      progress.clear();
    }
  }
  if (info.isDirectory()) throw new InputError(`${target} is a directory: inspect reads one file; use 'certsteward check ${target}'`);
  if (!info.isFile()) throw new InputError(`${target}: not a regular file`);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(target);
  } catch (e) {
    throw new InputError(`${target}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  const reading = readCertificateBytes(bytes);
  if (reading.kind !== 'certificates') throw new InputError(`${target}: ${reading.reason}`);
  return { source: { kind: 'file', path: target }, readings: reading.items };
}

function renderTls(source: InspectSource): string {
  if (source.kind !== 'host') return '';
  const s = source.served;
  const row = (label: string, value: string) => `  ${label.padEnd(20)}${value}\n`;
  let out = `TLS ${s.endpoint.label}${s.endpoint.servername ? ` (SNI ${s.endpoint.servername})` : ''}\n`;
  out += row('Protocol', [s.protocol, s.cipher].filter(Boolean).join(', ') || 'unknown');
  out += row('Node trust store', s.authorized ? 'accepted (chain and host name verified)' : `rejected: ${s.authorizationError ?? 'unknown reason'}`);
  return out;
}

/**
 * Runs `certsteward inspect` with the arguments after the command name.
 * Returns 0 when every certificate was shown, 3 when one could not be read.
 *
 * @throws {@link UsageError}, `ConfigError` or {@link InputError} (the caller prints them and exits 3).
 * @example
 * ```ts
 * await runInspect(['example.com', '--json'], io)
 * ```
 */
export async function runInspect(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, INSPECT_OPTIONS);
  const common = readCommonOptions(args);
  if (args.positionals.length !== 1) {
    throw new UsageError(`inspect takes one file or host:port, got ${args.positionals.length}`);
  }
  const target = args.positionals[0]!;
  const rootsFile = args.options.get('roots');
  const roots = await loadTrustAnchors(typeof rootsFile === 'string' ? rootsFile : undefined);
  const { source, readings } = await readTarget(target, common.timeoutMs, io);
  const now = io.now ?? new Date();
  const thresholds = { warning: common.warningMs, critical: common.criticalMs };
  const items = readings.map((r) =>
    'cert' in r ? { index: r.index, cert: r.cert, expiry: expiryStatus(r.cert, now, thresholds) } : { index: r.index, error: r.error },
  );
  const certs: CertificateInfo[] = items.flatMap((i) => (i.cert ? [i.cert] : []));
  const chain = certs.length > 0 ? verifyChain(certs, { roots }) : undefined;
  const findings: InspectFindings = { source, now, items, chain };
  if (args.options.get('json') === true) {
    io.stdout.write(toJsonText(inspectDocument(findings)));
  } else {
    const parts: string[] = [];
    for (const it of items) {
      if (it.cert && it.expiry) parts.push(renderCard(it.cert, it.index, items.length, it.expiry));
      else parts.push(`Certificate #${it.index}: unreadable: ${it.error ?? 'unknown error'}\n`);
    }
    if (chain) parts.push(renderChain(chain, certs));
    const tls = renderTls(source);
    if (tls) parts.push(tls);
    io.stdout.write(parts.join('\n'));
  }
  return items.some((i) => i.error !== undefined) ? 3 : 0;
}
