/**
 * Deterministic jitter: the same key always yields the same sample, and
 * different keys spread uniformly. The core never calls `Math.random()`.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/**
 * A uniform sample in [0, 1) derived from `key` (SHA-256, 48 bits).
 *
 * @example
 * ```ts
 * stableUniform('api.example.com') === stableUniform('api.example.com') // true
 * ```
 */
export function stableUniform(key: string): number {
  const h = createHash('sha256').update(key).digest();
  return h.readUIntBE(0, 6) / 2 ** 48;
}
