/**
 * A key store only accepts references it made itself.
 *
 * @module
 */
import { KeyStoreError } from '../errors.js';
import type { KeyRef } from '../ports/key-store.js';

/**
 * Throws unless `ref` is an object made by a key store of `kind`: `corrupt` for
 * something that is not a reference, `unsupported` for another store's key (so
 * an HSM key handed to the wrong store is never reported as destroyed).
 */
export function assertOwnKeyRef(ref: KeyRef, kind: string): void {
  if (typeof ref !== 'object' || ref === null) {
    throw new KeyStoreError('corrupt', `a key ref must be an object, got ${ref === null ? 'null' : typeof ref}`);
  }
  if (ref.store !== kind) {
    throw new KeyStoreError(
      'unsupported',
      `key ${JSON.stringify(ref.id)} belongs to a "${String(ref.store)}" key store, not to this "${kind}" one`,
    );
  }
}
