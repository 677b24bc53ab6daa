/**
 * TLS hot reload: keep a `node:tls` / `node:https` server on the current
 * certificate without a restart.
 *
 * @module
 */
import { KeyObject } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import { KeyStoreError } from '../errors.js';
import type { Steward } from './steward.js';

/** Anything with `setSecureContext` (`tls.Server`, `https.Server`). */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

/** Options of {@link bindTlsServer}. */
export interface BindTlsOptions {
  /** Extra secure-context options (ciphers, minVersion …) merged into every context. */
  readonly context?: SecureContextOptions;
  /** Called after each swap (for logs and tests). */
  readonly onSwap?: (info: { id: string; serialNumber: string; notAfter: Date }) => void;
}

/**
 * Loads the current certificate of `id` into `server`, and swaps in each
 * renewed one as it is activated (`setSecureContext`: connections in flight
 * keep their context, new ones get the new certificate, none is refused).
 * Returns the function that unbinds.
 *
 * The private key is handed to OpenSSL in memory only; it never reaches
 * storage or logs. Keys that live in an HSM cannot be handed over this way
 * ({@link KeyStoreError} `unsupported`).
 *
 * @example
 * ```ts
 * const server = https.createServer({}, app)
 * const unbind = await bindTlsServer(server, steward, 'api')
 * server.listen(443)
 * ```
 */
export async function bindTlsServer(
  server: SecureContextTarget,
  steward: Steward,
  id: string,
  options: BindTlsOptions = {},
): Promise<() => void> {
  let generation = 0;
  const load = async () => {
    const mine = ++generation;
    const material = await steward.tlsMaterial(id);
    let key: string;
    try {
      key = KeyObject.from(material.key.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
    } catch (e) {
      throw new KeyStoreError(
        'unsupported',
        `the key of "${id}" cannot be handed to node:tls (it lives in ${material.key.ref.store}); terminate TLS where the HSM is reachable`,
        { cause: e },
      );
    }
    // A slower, older load must not overwrite a newer one.
    if (mine !== generation) return;
    server.setSecureContext({ ...options.context, cert: material.chainPem, key });
    options.onSwap?.({ id, serialNumber: material.serialNumber, notAfter: material.notAfter });
  };
  await load();
  return steward.on('renewal.succeeded', async (e) => {
    if (e.id === id) await load();
  });
}
