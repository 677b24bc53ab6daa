/**
 * TLS hot reload: keep a `node:tls` / `node:https` server on the current
 * certificate without a restart.
 *
 * @module
 */
import { KeyObject } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import { KeyStoreError } from '../errors.js';
import type { TimerHandle } from '../ports/clock.js';
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
  /**
   * How often to re-read the current certificate, for renewals done by another
   * process sharing the store (default one hour). Renewals in this process swap at once.
   */
  readonly refreshMs?: number;
}

/**
 * Loads the current certificate of `id` into `server`, and swaps in each
 * renewed one as it is activated (in this process at once; by another process
 * sharing the store within `refreshMs`) (`setSecureContext`: connections in flight
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
  let serving: string | undefined;
  const load = async () => {
    const mine = ++generation;
    const material = await steward.tlsMaterial(id);
    // A slower, older load must not overwrite a newer one; an unchanged certificate needs no swap.
    if (mine !== generation || material.serialNumber === serving) return;
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
    server.setSecureContext({ ...options.context, cert: material.chainPem, key });
    serving = material.serialNumber;
    options.onSwap?.({ id, serialNumber: material.serialNumber, notAfter: material.notAfter });
  };
  // Subscribe first, so a renewal that lands during the first load is not missed.
  const off = steward.on('renewal.succeeded', async (e) => {
    if (e.id === id) await load();
  });
  try {
    await load();
  } catch (e) {
    off();
    throw e;
  }
  // Another process sharing the store may renew it: look again now and then.
  const refreshMs = options.refreshMs ?? 3_600_000;
  let timer: TimerHandle | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = steward.clock.setTimer(new Date(steward.clock.now().getTime() + refreshMs), async () => {
      try {
        await load();
      } catch {
        // A passing store or key store failure: the next refresh tries again.
      }
      schedule();
    });
  };
  schedule();
  return () => {
    stopped = true;
    timer?.cancel();
    off();
  };
}
