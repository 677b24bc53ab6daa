/**
 * A database named on the command line (`--db`), as a Knex configuration.
 *
 * @module
 */
import { UsageError } from './cli-errors.js';

/** What Knex needs to connect, and a printable name without the password. */
export interface DatabaseTarget {
  readonly config: { client: string; connection: unknown; useNullAsDefault?: boolean; pool?: { min: number; max: number } };
  readonly label: string;
}

/**
 * Reads `postgres://…` / `postgresql://…` (PostgreSQL through `pg`) and
 * `sqlite:<file>`, `file:<file>` or a path ending in `.db`, `.sqlite`,
 * `.sqlite3` (SQLite through `better-sqlite3`).
 *
 * @throws {@link UsageError} for anything else.
 * @example
 * ```ts
 * databaseTarget('sqlite:./certs.db').config // { client: 'better-sqlite3', connection: { filename: './certs.db' }, … }
 * ```
 */
export function databaseTarget(url: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    let label: string;
    try {
      const u = new URL(url);
      if (u.password) u.password = '***';
      if (u.searchParams.has('password')) u.searchParams.set('password', '***');
      label = u.toString();
    } catch {
      // Never echo it: a URL that does not parse may still hold a password.
      throw new UsageError('--db: the PostgreSQL URL does not parse (percent-encode special characters in the user and password)');
    }
    return { config: { client: 'pg', connection: url, pool: { min: 0, max: 1 } }, label };
  }
  const file = /^(sqlite|file):(\/\/)?(.+)$/i.exec(url)?.[3] ?? (/\.(db|sqlite3?)$/i.test(url) ? url : undefined);
  if (file !== undefined) {
    return { config: { client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true }, label: `sqlite:${file}` };
  }
  throw new UsageError(`--db: ${JSON.stringify(url)} names no supported database: use postgres://user@host/db or sqlite:<file>`);
}
