import { expect } from 'vitest';
import { ConfigError, isCertstewardError } from '../../src/index.js';

/** Runs `fn`, asserts it threw a ConfigError (also by code), and returns the error. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect(isCertstewardError(e, 'config')).toBe(true);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, but the call returned');
}
