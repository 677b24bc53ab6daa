/**
 * The package version.
 *
 * @module
 */
// Inlined by the bundler at build time, so dist/cli.js and dist/cli.cjs carry
// the version they were built with and need no file-system lookup at run time.
// (A lookup relative to `import.meta.url` cannot be written here: tsup's CJS
// build keeps `import.meta` verbatim, which makes dist/cli.cjs a SyntaxError.)
import pkg from '../../package.json' with { type: 'json' };

/**
 * The `version` field of certsteward's package.json.
 *
 * @example
 * ```ts
 * packageVersion() // '0.1.0'
 * ```
 */
export function packageVersion(): string {
  return (pkg as { version?: string }).version ?? 'unknown';
}
