/**
 * `certsteward check`: the expiry status of every certificate in files,
 * directories and served chains, as a monitoring plugin reports it.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { expiryStatus, isCertstewardError, parseCertificate } from '../index.js';
import type { CertificateInfo } from '../index.js';
import { optionValue, parseArgs, type OptionSpec, type ParsedArgs } from './args.js';
import { overallState, summarize, type CheckEntry, type CheckResult } from './check-result.js';
import { UsageError } from './cli-errors.js';
import type { CliIo } from './cli-io.js';
import { readCommonOptions } from './common-options.js';
import { mapConcurrent } from './map-concurrent.js';
import { EXIT_CODE, pluginState } from './plugin-state.js';
import { createProgress, type Progress } from './progress.js';
import { readCertificateBytes } from './read-certificates.js';
import { fetchServedChain } from './remote.js';
import { renderCheckJson } from './render-check-json.js';
import { renderCheckNagios } from './render-check-nagios.js';
import { renderCheckTable } from './render-check-table.js';
import { expandTarget, type Source } from './targets.js';

/** Options of `check`. */
export const CHECK_OPTIONS: readonly OptionSpec[] = [
  { name: 'warn', takesValue: true },
  { name: 'crit', takesValue: true },
  { name: 'format', takesValue: true },
  { name: 'timeout', takesValue: true },
  { name: 'help', takesValue: false, short: 'h' },
];

/** Output formats of `check`. */
export type CheckFormat = 'human' | 'json' | 'nagios';

/** What {@link collectCheck} needs besides the targets. */
export interface CollectOptions {
  readonly now: Date;
  readonly warningMs: number;
  readonly criticalMs: number;
  readonly timeoutMs: number;
  readonly progress?: Progress;
  /** Files or hosts read at once (default 16). */
  readonly concurrency?: number;
}

/** Names that promise a certificate: such a file with no certificate in it is a failure, not a skip. */
const CERTIFICATE_FILE = /\.(pem|crt|cer|der)$/i;

/** A certificate (or a failure) read from one source, before labelling. */
type Found = { cert: CertificateInfo; index: number } | { error: string; index: number | undefined };

interface SourceOutcome {
  readonly source: string;
  readonly viaDirectory: boolean;
  readonly found: readonly Found[];
  /** Set when a file found in a directory holds no certificate: it is skipped. */
  readonly skipReason?: string;
}

async function readSource(source: Source, timeoutMs: number): Promise<SourceOutcome> {
  if (source.kind === 'missing') {
    return { source: source.path, viaDirectory: false, found: [{ error: source.reason, index: undefined }] };
  }
  if (source.kind === 'host') {
    const label = source.endpoint.label;
    try {
      const served = await fetchServedChain(source.endpoint, { timeoutMs });
      const found: Found[] = served.ders.map((der, index) => {
        try {
          return { cert: parseCertificate(der), index };
        } catch (e) {
          if (!isCertstewardError(e, 'certificate-parse')) throw e;
          return { error: `certificate ${index} of the served chain: ${e.message}`, index };
        }
      });
      return { source: label, viaDirectory: false, found };
    } catch (e) {
      // The line is labelled with the endpoint already; keep the message after it.
      const message = (e as Error).message.replace(`${label}: `, '');
      return { source: label, viaDirectory: false, found: [{ error: message, index: undefined }] };
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(source.path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (e as Error).message;
    return { source: source.path, viaDirectory: source.viaDirectory, found: [{ error: `cannot read: ${why}`, index: undefined }] };
  }
  const reading = readCertificateBytes(bytes);
  if (reading.kind === 'certificates') {
    return { source: source.path, viaDirectory: source.viaDirectory, found: reading.items };
  }
  // A key or CSR in a certificate folder is normal; an empty or garbled
  // `server.crt` is a certificate that a failed deploy destroyed.
  if (reading.kind === 'no-certificate' && source.viaDirectory && (reading.holds === 'object' || !CERTIFICATE_FILE.test(source.path))) {
    return { source: source.path, viaDirectory: true, found: [], skipReason: reading.reason };
  }
  // A file named on the command line that holds no certificate is a failed check, not a skip.
  return { source: source.path, viaDirectory: source.viaDirectory, found: [{ error: reading.reason, index: undefined }] };
}

/**
 * Expands `targets`, reads every certificate, and judges each at `options.now`.
 * Never throws for a bad input: it becomes an `unknown` entry.
 *
 * Under one directory argument a certificate found in several files (the
 * `/etc/ssl/certs/ca-certificates.crt` bundle repeats every root) is listed
 * once: from a file of its own rather than from a bundle, else at its first
 * place in name order. Files named on the command line list every certificate.
 *
 * @example
 * ```ts
 * const result = await collectCheck(['/etc/ssl/certs'], { now: new Date(), warningMs: 30 * DAY_MS, criticalMs: 7 * DAY_MS, timeoutMs: 10_000 })
 * console.log(result.state, result.summary)
 * ```
 */
export async function collectCheck(targets: readonly string[], options: CollectOptions): Promise<CheckResult> {
  const progress = options.progress;
  const expanded = [];
  for (const t of targets) {
    expanded.push(await expandTarget(t, (n) => progress?.update(`searching ${t}: ${n} files`)));
  }
  const jobs = expanded.flatMap((t, argIndex) => t.sources.map((source) => ({ argIndex, source })));
  let done = 0;
  let certificates = 0;
  const outcomes = await mapConcurrent(
    jobs,
    async (job) => {
      const outcome = await readSource(job.source, options.timeoutMs);
      done++;
      certificates += outcome.found.length;
      progress?.update(`read ${done}/${jobs.length} files and hosts: ${certificates} certificates`);
      return outcome;
    },
    options.concurrency ?? 16,
  );
  const thresholds = { warning: options.warningMs, critical: options.criticalMs };
  const entries: CheckEntry[] = [];
  const skipped = expanded.flatMap((t) => t.skipped);
  // Under a directory argument, a certificate found in several files is listed
  // once: from a file of its own rather than from a bundle, else where first seen.
  const keep = new Map<string, { at: string; rank: number }>();
  const keyOf = (argIndex: number, sha256: string) => `${argIndex} ${sha256}`;
  outcomes.forEach((outcome, i) => {
    if (!outcome.viaDirectory) return;
    const rank = outcome.found.length > 1 ? 1 : 0;
    for (const f of outcome.found) {
      if (!('cert' in f)) continue;
      const key = keyOf(jobs[i]!.argIndex, f.cert.fingerprints.sha256);
      const best = keep.get(key);
      if (!best || rank < best.rank) keep.set(key, { at: `${i}#${f.index}`, rank });
    }
  });
  let duplicates = 0;
  outcomes.forEach((outcome, i) => {
    if (outcome.skipReason !== undefined) skipped.push({ path: outcome.source, reason: outcome.skipReason });
    const many = outcome.found.length > 1;
    for (const f of outcome.found) {
      const index = many ? f.index : undefined;
      const label = index === undefined ? outcome.source : `${outcome.source}#${index}`;
      if ('error' in f) {
        entries.push({ label, source: outcome.source, index, status: 'unknown', state: 'UNKNOWN', cert: undefined, expiry: undefined, error: f.error });
        continue;
      }
      if (outcome.viaDirectory && keep.get(keyOf(jobs[i]!.argIndex, f.cert.fingerprints.sha256))?.at !== `${i}#${f.index}`) {
        duplicates++;
        continue;
      }
      const expiry = expiryStatus(f.cert, options.now, thresholds);
      entries.push({
        label,
        source: outcome.source,
        index,
        status: expiry.status,
        state: pluginState(expiry.status),
        cert: f.cert,
        expiry,
        error: undefined,
      });
    }
  });
  progress?.clear();
  return {
    now: options.now,
    thresholds: { warningMs: options.warningMs, criticalMs: options.criticalMs },
    entries,
    skipped,
    duplicates,
    summary: summarize(entries),
    state: overallState(entries),
  };
}

function checkFormat(args: ParsedArgs): CheckFormat {
  const f = optionValue(args, 'format', 'human');
  if (f === 'human' || f === 'json' || f === 'nagios') return f;
  throw new UsageError(`invalid --format ${JSON.stringify(f)}: use human, json or nagios`);
}

/**
 * Runs `certsteward check` with the arguments after the command name and
 * returns the exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 *
 * @throws {@link UsageError} or `ConfigError` for bad arguments (the caller prints them and exits 3).
 * @example
 * ```ts
 * const code = await runCheck(['/etc/ssl/certs', '--format', 'nagios'], io)
 * ```
 */
export async function runCheck(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, CHECK_OPTIONS);
  const format = checkFormat(args);
  let common;
  try {
    common = readCommonOptions(args);
    if (args.positionals.length === 0) throw new UsageError('check needs at least one file, directory or host:port');
  } catch (e) {
    // A monitoring system reads only stdout: give it a plugin line too.
    if (format === 'nagios') io.stdout.write(`CERTSTEWARD UNKNOWN - ${(e as Error).message.replace(/\|/g, '/')}\n`);
    throw e;
  }
  const progress = createProgress(io);
  const result = await collectCheck(args.positionals, {
    now: io.now ?? new Date(),
    warningMs: common.warningMs,
    criticalMs: common.criticalMs,
    timeoutMs: common.timeoutMs,
    progress,
  });
  for (const s of result.skipped) io.stderr.write(`certsteward: skipped ${s.path}: ${s.reason}\n`);
  if (result.duplicates > 0) {
    io.stderr.write(`certsteward: ${result.duplicates} certificate(s) found again under the same directory (same SHA-256) are listed once\n`);
  }
  if (result.entries.length === 0) io.stderr.write(`certsteward: no certificate found in ${args.positionals.join(', ')}\n`);
  const render = format === 'json' ? renderCheckJson : format === 'nagios' ? renderCheckNagios : renderCheckTable;
  io.stdout.write(render(result, args.positionals));
  return EXIT_CODE[result.state];
}
