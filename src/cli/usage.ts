/**
 * The help text of each command.
 *
 * @module
 */

/** Commands with their own help page. */
export type CommandName = 'inspect' | 'check' | 'migrate';

const MAIN = `Usage: certsteward <command> [options]

Commands:
  inspect <file | host[:port]>      Show every certificate of a file or of a server's chain,
                                    and whether the chain is complete and in order
  check <file | dir | host[:port]>...
                                    One line per certificate with its expiry status;
                                    exit code for monitoring (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)
  migrate --db <url>                Create or update the Knex store's tables (PostgreSQL, SQLite)
  help [command]                    Show this help, or a command's

Options:
  -h, --help                        Show help
  --version                         Print the version

Run 'certsteward help <command>' for a command's options.
`;

const INSPECT = `Usage: certsteward inspect <file | host[:port]> [options]

Shows a card per certificate (names, validity, key, extensions, fingerprints,
warnings), then the verdict on the chain: its order leaf -> root, each
signature, a missing intermediate (with the URL to fetch it from), a bundle
out of order. For a server, also whether Node's default trust store accepts it.

Targets:
  file.pem                          PEM bundle, DER, or concatenated DER
  example.com[:port]                TLS server, port 443 by default; also [::1]:8443

Options:
  --json                            One JSON document instead of text
  --roots <file>                    Extra trust anchors for the chain verdict (PEM)
  --warn <duration>                 Warning threshold for the status (default 30d)
  --crit <duration>                 Critical threshold for the status (default 7d)
  --timeout <duration>              TLS connect timeout (default 10s)
  -h, --help                        Show this help

Exit: 0 shown, 3 input unreadable, host unreachable, or bad arguments.
`;

const CHECK = `Usage: certsteward check <file | dir | host[:port]>... [options]

One line per certificate: status, days left, notAfter, subject, where.
Every certificate of a bundle is checked (labelled file#index). Directories
are searched recursively, following symbolic links once; files without a
certificate (keys, CSRs, text) are skipped with a note on stderr.

Options:
  --warn <duration>                 Warning when at most this much validity remains (default 30d)
  --crit <duration>                 Critical when at most this much remains (default 7d)
  --format human|json|nagios        Output format (default human)
  --timeout <duration>              TLS connect timeout per host (default 10s)
  -h, --help                        Show this help

Durations: 30d, 12h, 90m, 2w, 1d12h.

Exit codes (monitoring-plugin convention), worst certificate wins
(CRITICAL > WARNING > UNKNOWN > OK):
  0 OK        every certificate is valid beyond the warning threshold
  1 WARNING   one expires within --warn
  2 CRITICAL  one expires within --crit, has expired, or is not yet valid
  3 UNKNOWN   an input is unreadable or unreachable, nothing was found,
              or the arguments are wrong
`;

const MIGRATE = `Usage: certsteward migrate --db <url> [options]

Creates or updates the tables of the Knex store (certsteward/knex). Safe to
run again and from several hosts at once: applied migrations are recorded in
<prefix>migrations and skipped; concurrent runs wait for each other. Needs
the knex package and the database's driver (pg or better-sqlite3) installed.

Databases:
  postgres://user:password@host:5432/db    PostgreSQL (driver: pg)
  sqlite:./certs.db                         SQLite file (driver: better-sqlite3)

Options:
  --db <url>                        The database (default: $CERTSTEWARD_DB)
  --prefix <prefix>                 Table name prefix (default certsteward_)
  --schema <schema>                 PostgreSQL schema for the tables (created if missing)
  --rollback                        Undo every certsteward migration: DROPS the tables and their data
  -h, --help                        Show this help

Exit: 0 done, 3 bad arguments or the database cannot be reached.
`;

/**
 * The help text for `command`, or the overview.
 *
 * @example
 * ```ts
 * io.stdout.write(usage('check'))
 * ```
 */
export function usage(command?: CommandName): string {
  if (command === 'inspect') return INSPECT;
  if (command === 'check') return CHECK;
  if (command === 'migrate') return MIGRATE;
  return MAIN;
}
