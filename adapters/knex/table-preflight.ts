/**
 * The check both table tools (`importTable`, `syncTable`) run before they
 * touch a host's table: the database answers, the table and every named
 * column can be read, and the `where` restriction applies — so a misspelt
 * name fails at start-up with a {@link ConfigError}, not months later.
 *
 * @module
 * @internal
 */
import type { Knex } from 'knex';
import { ConfigError, StoreUnavailableError } from '../../src/errors.js';
import { driverFailure } from './driver-error.js';

/** What to check. */
export interface TablePreflight {
  /** The tool's name, for messages (`importTable`). */
  readonly tool: string;
  readonly table: string;
  /** Column names by option role (`id`, `certificate`, …); undefined roles are skipped. */
  readonly columns: Readonly<Record<string, string | undefined>>;
  /** The restricted query (the table with the host's `where`), when there is one, and the option value for messages. */
  readonly where?: { readonly value: unknown; readonly query: () => Knex.QueryBuilder };
}

/** Runs the checks; `LIMIT 0` reads nothing but makes the database resolve every name, as the real queries will. */
export async function preflightTable(knex: Knex, check: TablePreflight): Promise<void> {
  const { tool, table } = check;
  try {
    await knex.raw('select 1');
  } catch (e) {
    const { message, cause } = driverFailure(e);
    throw new StoreUnavailableError(`${tool}: connecting to the database of "${table}" failed: ${message}`, { cause });
  }
  const probe = async (setting: string, value: unknown, query: Knex.QueryBuilder, fix: string): Promise<void> => {
    try {
      await query.limit(0);
    } catch (e) {
      const { message, cause } = driverFailure(e);
      throw new ConfigError(setting, value, `${tool}: ${fix} (${message})`, { cause });
    }
  };
  await probe(
    'table',
    table,
    knex(table).select('*'),
    `the table "${table}" cannot be read: check the name (qualify it as "schema.table" when it is not on the search path) and the grants`,
  );
  for (const [role, name] of Object.entries(check.columns)) {
    if (name === undefined) continue;
    await probe(`columns.${role}`, name, knex(table).select(name), `"${table}" has no column "${name}": check columns.${role}`);
  }
  if (check.where) {
    await probe('where', check.where.value, check.where.query(), `the where option cannot be applied to "${table}": check its column names`);
  }
}
