/**
 * The test-runner surface every contract suite takes: `{ describe, it,
 * expect }` from Vitest or Jest as they are (plus `beforeEach` where you have
 * it); for `node:test` or mocha, thin wrappers.
 *
 * @module
 */

/**
 * The assertions the suites use: `toBe` (`Object.is`), `toEqual` (deep
 * equality that compares Dates by time and treats a property set to
 * `undefined` like a missing one, as Vitest's and Jest's do) and `toHaveLength`.
 *
 * @example
 * ```ts
 * const assertion: ContractAssertion = expect(1) // Vitest's or Jest's expect fits
 * ```
 */
export interface ContractAssertion {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toHaveLength(length: number): void;
}

/**
 * The runner functions the suites use.
 *
 * @example Vitest
 * ```ts
 * import { beforeEach, describe, expect, it } from 'vitest'
 * describeCertificateStore({ describe, it, expect, beforeEach }, () => new MyStore())
 * ```
 * @example node:test
 * ```ts
 * import { describe, it } from 'node:test'
 * import assert from 'node:assert'
 * const runner: ContractTestApi = {
 *   describe: (name, fn) => void describe(name, fn),
 *   it: (name, fn, timeoutMs) => void it(name, { timeout: timeoutMs }, fn),
 *   expect: (actual) => ({
 *     toBe: (expected) => assert.strictEqual(actual, expected),
 *     toEqual: (expected) => assert.deepStrictEqual(actual, expected),
 *     toHaveLength: (n) => assert.strictEqual((actual as { length: number }).length, n),
 *   }),
 * }
 * ```
 */
export interface ContractTestApi {
  describe(name: string, fn: () => void): unknown;
  /** `timeoutMs` is passed as the third argument, where Vitest and Jest take a time-out. */
  it(name: string, fn: () => Promise<void>, timeoutMs?: number): unknown;
  expect(actual: unknown): ContractAssertion;
  /** When given, suites that need a fresh subject per test make it here. */
  beforeEach?(fn: () => Promise<void>): unknown;
}
