/**
 * Runs the `openssl` command line: the outside authority the parser tests
 * compare against. Not a test file; imported by the tests in this folder.
 */
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** What one `openssl` run printed and how it ended. */
export interface OpensslRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `openssl args…` with `input` on stdin. Rejects only when openssl cannot be started. */
export function openssl(args: readonly string[], input?: string | Uint8Array): Promise<OpensslRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        status: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {}); // openssl may exit before reading all of stdin
    child.stdin.end(input);
  });
}

/** Runs `openssl args…` synchronously and throws with its stderr when it fails (fixture generation). */
export function opensslOk(args: readonly string[], cwd?: string): string {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Maps `items` through `fn` with at most `limit` calls in flight, keeping order. */
export async function mapPool<T, R>(
  items: readonly T[],
  fn: (item: T, index: number) => Promise<R>,
  limit = Math.max(2, availableParallelism() * 2),
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * A date OpenSSL printed with `-dateopt iso_8601`: `YYYY-MM-DD HH:MM:SS[.fff]Z`,
 * the year space-padded to four characters (`   1-01-01 …`). The fraction is
 * dropped, as OpenSSL's own time comparisons (ASN1_TIME_to_tm) drop it.
 */
export function parseOpensslIsoDate(text: string): Date {
  const m = /^\s*(\d+)-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.\d+)?Z$/.exec(text);
  if (!m) throw new Error(`not an OpenSSL ISO 8601 date: ${JSON.stringify(text)}`);
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), 0);
  return d;
}

/** `AB:CD:…` (OpenSSL's fingerprint and key-id form) to `abcd…`. */
export function opensslHex(colonHex: string): string {
  return colonHex.trim().replace(/:/g, '').toLowerCase();
}
