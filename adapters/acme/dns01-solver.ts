/**
 * `dns-01`: a TXT record `_acme-challenge.<name>` holding the digest of the
 * key authorization; the only challenge type for wildcard names. DNS hosting
 * differs everywhere, so the solver takes a small provider.
 *
 * @module
 */
import type { Challenge, ChallengeSolver } from './challenge-solver.js';

/**
 * Sets and removes TXT records. `name` is a fully qualified name without
 * the trailing dot (`_acme-challenge.example.com`). Several values may be
 * set on one name at once (a name and its wildcard share a record name):
 * `removeTxt` removes only the value given.
 *
 * @example
 * ```ts
 * const provider: DnsProvider = {
 *   setTxt: (name, value) => myDnsApi.addRecord({ type: 'TXT', name, value, ttl: 60 }),
 *   removeTxt: (name, value) => myDnsApi.deleteRecord({ type: 'TXT', name, value }),
 * }
 * ```
 */
export interface DnsProvider {
  setTxt(name: string, value: string): Promise<void>;
  removeTxt(name: string, value: string): Promise<void>;
}

/** Options of {@link Dns01Solver}. */
export interface Dns01SolverOptions {
  /** Waits this long after setting a record, for DNS propagation (default 0). */
  readonly propagationDelayMs?: number;
}

/**
 * Answers `dns-01` challenges through a {@link DnsProvider}.
 *
 * @example
 * ```ts
 * const dns01 = new Dns01Solver(provider, { propagationDelayMs: 30_000 })
 * ```
 */
export class Dns01Solver implements ChallengeSolver {
  readonly types = ['dns-01'] as const;
  readonly #provider: DnsProvider;
  readonly #delayMs: number;

  constructor(provider: DnsProvider, options: Dns01SolverOptions = {}) {
    this.#provider = provider;
    this.#delayMs = options.propagationDelayMs ?? 0;
  }

  async present(challenge: Challenge): Promise<void> {
    await this.#provider.setTxt(recordName(challenge.identifier), challenge.keyAuthorization);
    if (this.#delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#delayMs));
  }

  async cleanup(challenge: Challenge): Promise<void> {
    await this.#provider.removeTxt(recordName(challenge.identifier), challenge.keyAuthorization);
  }
}

/** The TXT record name for an identifier (`*.example.com` and `example.com` share one). */
export function recordName(identifier: string): string {
  return `_acme-challenge.${identifier.replace(/^\*\./, '').replace(/\.$/, '')}`;
}

/**
 * A {@link DnsProvider} for pebble-challtestsrv's management API (the mock
 * DNS server that comes with Pebble), used by the tests and as the example
 * of a provider. challtestsrv can only clear a name's TXT values as a whole,
 * so this provider counts the values per name and clears the name when the
 * last one is removed.
 *
 * @example
 * ```ts
 * const dns01 = new Dns01Solver(new ChallTestSrvDnsProvider('http://127.0.0.1:8055'))
 * ```
 */
export class ChallTestSrvDnsProvider implements DnsProvider {
  readonly #url: string;
  readonly #values = new Map<string, string[]>();

  constructor(managementUrl: string) {
    this.#url = managementUrl.replace(/\/$/, '');
  }

  async setTxt(name: string, value: string): Promise<void> {
    const values = this.#values.get(name) ?? [];
    values.push(value);
    this.#values.set(name, values);
    await this.#post('/set-txt', { host: `${name}.`, value });
  }

  async removeTxt(name: string, value: string): Promise<void> {
    const values = [...(this.#values.get(name) ?? [])];
    const at = values.indexOf(value);
    if (at >= 0) values.splice(at, 1);
    if (values.length > 0) {
      // challtestsrv can only clear a name whole; clearing and re-adding would leave a moment with no
      // record while the other value's validation runs. A leftover value harms no validation.
      this.#values.set(name, values);
      return;
    }
    this.#values.delete(name);
    await this.#post('/clear-txt', { host: `${name}.` });
    for (const v of new Set(this.#values.get(name) ?? [])) await this.#post('/set-txt', { host: `${name}.`, value: v }); // set while clearing
  }

  async #post(path: string, body: unknown): Promise<void> {
    const res = await fetch(`${this.#url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`challtestsrv ${path}: HTTP ${res.status} ${await res.text()}`);
  }
}
