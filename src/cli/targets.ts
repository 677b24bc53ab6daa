/**
 * Command-line targets: files, directories (searched recursively) and TLS
 * endpoints, expanded into the list of things to read.
 *
 * @module
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseHostPort, type HostPort } from './host-port.js';

/** One thing to read certificates from. */
export type Source =
  /** A regular file; `viaDirectory` when it was found by searching a directory argument. */
  | { readonly kind: 'file'; readonly path: string; readonly viaDirectory: boolean }
  | { readonly kind: 'host'; readonly endpoint: HostPort }
  /** A path that cannot be read (missing, unreadable directory, not a regular file). */
  | { readonly kind: 'missing'; readonly path: string; readonly reason: string };

/** One command-line argument, expanded. */
export interface ExpandedTarget {
  readonly argument: string;
  readonly sources: readonly Source[];
  /** Things passed over on the way, for the notes on stderr (dangling symlinks, special files). */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[];
}

/** Files bigger than this are not certificate files; they are skipped unread. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

function errnoText(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ELOOP') return 'too many levels of symbolic links';
  return e instanceof Error ? e.message : String(e);
}

/**
 * Expands one argument: an existing path is a file or a directory; anything
 * else that reads as `host[:port]` is a TLS endpoint; the rest is a missing path.
 *
 * Directories are searched recursively in name order, following symbolic
 * links to files and directories. Each directory and each file is visited
 * once per argument, by real path, so symlink loops end and a file behind
 * several names is read once: under its own name if the directory holds it,
 * else under a link that is not an OpenSSL hash link, so
 * `/etc/ssl/certs/ISRG_Root_X1.pem` is listed rather than `/etc/ssl/certs/4042bcee.0`.
 *
 * @param onProgress - called with the number of files found so far.
 * @example
 * ```ts
 * const { sources } = await expandTarget('/etc/ssl/certs')
 * ```
 */
export async function expandTarget(argument: string, onProgress?: (filesFound: number) => void): Promise<ExpandedTarget> {
  const skipped: { path: string; reason: string }[] = [];
  let info;
  try {
    info = await stat(argument);
  } catch (e) {
    const endpoint = parseHostPort(argument);
    if (endpoint && (e as { code?: string }).code === 'ENOENT') {
      return { argument, sources: [{ kind: 'host', endpoint }], skipped };
    }
    return { argument, sources: [{ kind: 'missing', path: argument, reason: errnoText(e) }], skipped };
  }
  if (info.isFile()) return { argument, sources: [{ kind: 'file', path: argument, viaDirectory: false }], skipped };
  if (!info.isDirectory()) {
    return { argument, sources: [{ kind: 'missing', path: argument, reason: 'not a regular file or directory' }], skipped };
  }
  const sources: Source[] = [];
  const files: { path: string; real: string; link: boolean }[] = [];
  const seenDirs = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      const real = await realpath(dir);
      if (seenDirs.has(real)) return;
      seenDirs.add(real);
      names = (await readdir(dir)).sort();
    } catch (e) {
      sources.push({ kind: 'missing', path: dir, reason: `cannot read directory: ${errnoText(e)}` });
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      let s;
      let real: string;
      let link: boolean;
      try {
        link = (await lstat(path)).isSymbolicLink();
        s = await stat(path);
        real = await realpath(path);
      } catch (e) {
        const why = errnoText(e);
        skipped.push({ path, reason: why === 'no such file or directory' ? 'dangling symbolic link' : why });
        continue;
      }
      if (s.isDirectory()) {
        await walk(path);
      } else if (s.isFile()) {
        if (s.size > MAX_FILE_BYTES) {
          skipped.push({ path, reason: `larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB, not a certificate file` });
          continue;
        }
        files.push({ path, real, link });
        onProgress?.(files.length);
      } else {
        skipped.push({ path, reason: 'not a regular file' });
      }
    }
  };
  await walk(argument);
  for (const path of pickNames(files)) sources.push({ kind: 'file', path, viaDirectory: true });
  return { argument, sources, skipped };
}

/** OpenSSL's `c_rehash` links (`5ad8a5d6.0`): an index by subject hash, not a name people know the file by. */
export function isHashLinkName(name: string): boolean {
  return /^[0-9a-f]{8}\.r?\d+$/i.test(name);
}

/**
 * One path per real file, in walk order: of the names that lead to the same
 * file, the file itself, else a symbolic link that is not a hash link, else
 * the first name.
 */
function pickNames(files: readonly { path: string; real: string; link: boolean }[]): string[] {
  const rank = (f: { path: string; link: boolean }) => (!f.link ? 0 : isHashLinkName(basename(f.path)) ? 2 : 1);
  const chosen = new Map<string, { path: string; order: number; rank: number }>();
  files.forEach((f, order) => {
    const current = chosen.get(f.real);
    const r = rank(f);
    if (!current || r < current.rank) chosen.set(f.real, { path: f.path, order, rank: r });
  });
  return [...chosen.values()].sort((a, b) => a.order - b.order).map((c) => c.path);
}
