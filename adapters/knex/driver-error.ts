/**
 * What of a database error may be shown. Knex prefixes a failed query's
 * message with its SQL *with the bound values filled in* (and changes the
 * driver's error object in place), so passing the message or the error on
 * would put record bodies — or, in a host's table, a private key being
 * written — into logs. Only the driver's own message and its code are kept.
 *
 * @module
 * @internal
 */

/** A message and a clean `cause` for a foreign database error. */
export function driverFailure(e: unknown): { message: string; cause: Error } {
  const raw = e instanceof Error ? e.message : String(e);
  const at = raw.lastIndexOf(' - ');
  const own = (at >= 0 ? raw.slice(at + 3) : raw).slice(0, 500);
  const code = (e as { code?: unknown } | undefined)?.code;
  const message = typeof code === 'string' && !own.includes(code) ? `${own} (${code})` : own;
  const cause = new Error(message);
  cause.name = e instanceof Error ? e.name : 'Error';
  if (typeof code === 'string') (cause as Error & { code?: string }).code = code;
  return { message, cause };
}
