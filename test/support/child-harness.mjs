// What the test child processes (fleet-worker.mjs, acme-crash-worker.mjs)
// share: one JSON line per report on stdout, every error that reaches host
// code reported (an uncaught exception also ends the child with 70), and the
// built package imported from dist/, waiting out a rebuild in progress.
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');

/** Writes one report line for the parent. */
export const report = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

/** An error as a report line. */
export const errorOf = (where, e) => ({
  type: 'error',
  where,
  message: e instanceof Error ? e.message : String(e),
  ...(e && typeof e === 'object' && 'code' in e ? { code: e.code } : {}),
  ...(e && typeof e === 'object' && e.name ? { name: e.name } : {}),
});

process.on('unhandledRejection', (e) => report(errorOf('unhandledRejection', e)));
process.on('uncaughtException', (e) => {
  report(errorOf('uncaughtException', e));
  process.exit(70);
});

/** Imports a dist entry, waiting out a rebuild in progress (tsup cleans dist/ first). */
export async function importDist(entry) {
  const url = pathToFileURL(join(root, 'dist', entry)).href;
  for (let attempt = 0; ; attempt++) {
    try {
      return await import(attempt === 0 ? url : `${url}?attempt=${attempt}`);
    } catch (e) {
      if (attempt >= 40 || (e?.code !== 'ERR_MODULE_NOT_FOUND' && !(e instanceof SyntaxError))) throw e;
      await sleep(500);
    }
  }
}
