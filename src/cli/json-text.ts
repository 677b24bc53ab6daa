/**
 * JSON that never throws on what certificates carry: `Uint8Array` becomes
 * base64, `bigint` a decimal string, an invalid `Date` `null`.
 *
 * @module
 */

function replacer(this: unknown, key: string, value: unknown): unknown {
  // Dates have already become strings (Date.prototype.toJSON) — or null when invalid.
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  return value;
}

/**
 * `JSON.stringify` with two-space indent and a trailing newline, safe for
 * certificate data.
 *
 * @example
 * ```ts
 * toJsonText({ der: new Uint8Array([1, 2]), at: new Date(0) }) // '{\n  "der": "AQI=",\n  "at": "1970-01-01T00:00:00.000Z"\n}\n'
 * ```
 */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, replacer, 2) + '\n';
}
