/**
 * `certsteward migrate`: creates or updates the Knex store's tables, or
 * undoes them, without writing a line of code.
 *
 * @module
 */
import type { Knex } from 'knex';
import { KnexStore } from '../../adapters/knex/index.js';
import { AdapterDependencyError, isCertstewardError } from '../errors.js';
import { parseArgs, type OptionSpec } from './args.js';
import type { CliIo } from './cli-io.js';
import { InputError, UsageError } from './cli-errors.js';
import { databaseTarget } from './database-url.js';

/** Options of `migrate`. */
export const MIGRATE_OPTIONS: readonly OptionSpec[] = [
  { name: 'db', takesValue: true },
  { name: 'prefix', takesValue: true },
  { name: 'schema', takesValue: true },
  { name: 'rollback', takesValue: false },
  { name: 'help', takesValue: false, short: 'h' },
];

type KnexFactory = (config: Knex.Config) => Knex;

/** Loads the host's knex (an optional peer dependency). */
async function loadKnex(): Promise<KnexFactory> {
  try {
    const mod = (await import('knex')) as unknown as { default?: KnexFactory; knex?: KnexFactory };
    const factory = mod.knex ?? mod.default;
    if (typeof factory !== 'function') throw new Error('the knex module exports no factory');
    return factory;
  } catch (e) {
    throw new InputError(new AdapterDependencyError('knex', 'migrate command', { cause: e }).message, { cause: e });
  }
}

/**
 * Runs `certsteward migrate --db <url> [--prefix p] [--schema s] [--rollback]`.
 * Exit 0 when the tables are as asked; 3 on bad arguments or a database that
 * cannot be reached (the message names it).
 */
export async function runMigrate(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, MIGRATE_OPTIONS);
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const db = args.options.get('db') ?? process.env['CERTSTEWARD_DB'];
  if (typeof db !== 'string' || db === '') throw new UsageError('--db <url> is required (or set CERTSTEWARD_DB)');
  const target = databaseTarget(db);
  const prefix = args.options.get('prefix');
  const schema = args.options.get('schema');
  const knex = (await loadKnex())(target.config as Knex.Config);
  try {
    const store = new KnexStore(knex, {
      ...(typeof prefix === 'string' ? { tablePrefix: prefix } : {}),
      ...(typeof schema === 'string' ? { schema } : {}),
    });
    const rollback = args.options.get('rollback') === true;
    let names: string[];
    try {
      names = rollback ? await store.rollback() : await store.migrate();
    } catch (e) {
      if (isCertstewardError(e, 'store-unavailable')) throw new InputError(`${target.label}: ${e.message}`, { cause: e });
      throw e;
    }
    const verb = rollback ? 'rolled back' : 'applied';
    if (names.length === 0) io.stdout.write(`${target.label}: ${rollback ? 'nothing to roll back' : 'up to date'}\n`);
    for (const name of names) io.stdout.write(`${target.label}: ${verb} ${name}\n`);
    return 0;
  } finally {
    await knex.destroy();
  }
}
