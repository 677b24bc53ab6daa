/**
 * `dns-01`: a TXT record `_acme-challenge.<name>` holding the digest of the
 * key authorization; the only challenge type for wildcard names. DNS hosting
 * differs everywhere, so the solver takes a small provider.
 *
 * @module
 */
import { Resolver } from 'node:dns/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../../src/errors.js';
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
  /**
   * Before the CA is told to look, asks these DNS servers for the record
   * until every one of them serves the value: the zone's authoritative
   * servers, say (`host` or `host:port`, IP addresses). Instead of guessing a
   * delay, the CA is told as soon as the record is there, and a record that
   * never shows up fails `present` (a retryable failure; the order is kept)
   * instead of the CA's validation.
   */
  readonly checkPropagation?: {
    readonly servers: readonly string[];
    /** How long to wait for every server to serve the value (default 120 s). */
    readonly timeoutMs?: number;
    /** Time between two rounds of queries (default 1 s). */
    readonly intervalMs?: number;
  };
}

interface PropagationCheck {
  readonly servers: readonly { readonly name: string; readonly resolver: Resolver }[];
  readonly timeoutMs: number;
  readonly intervalMs: number;
}

/**
 * Answers `dns-01` challenges through a {@link DnsProvider}.
 *
 * @example
 * ```ts
 * // Tell the CA as soon as the zone's name servers serve the record:
 * const dns01 = new Dns01Solver(provider, { checkPropagation: { servers: ['198.51.100.53', '203.0.113.53'] } })
 * ```
 */
export class Dns01Solver implements ChallengeSolver {
  readonly types = ['dns-01'] as const;
  readonly #provider: DnsProvider;
  readonly #delayMs: number;
  readonly #check: PropagationCheck | undefined;

  /** @throws {@link ConfigError} for a server that is not an IP address (with an optional port). */
  constructor(provider: DnsProvider, options: Dns01SolverOptions = {}) {
    this.#provider = provider;
    this.#delayMs = options.propagationDelayMs ?? 0;
    const check = options.checkPropagation;
    if (check) {
      if (check.servers.length === 0) throw new ConfigError('checkPropagation.servers', check.servers, 'Dns01Solver: checkPropagation needs at least one DNS server');
      const servers = check.servers.map((name) => {
        const resolver = new Resolver({ timeout: 2_000, tries: 1 });
        try {
          resolver.setServers([name]);
        } catch (e) {
          throw new ConfigError('checkPropagation.servers', name, `Dns01Solver: ${JSON.stringify(name)} is not a DNS server address (an IP address, with an optional port)`, { cause: e });
        }
        return { name, resolver };
      });
      this.#check = { servers, timeoutMs: check.timeoutMs ?? 120_000, intervalMs: check.intervalMs ?? 1_000 };
    }
  }

  async present(challenge: Challenge): Promise<void> {
    const name = recordName(challenge.identifier);
    await this.#provider.setTxt(name, challenge.keyAuthorization);
    if (this.#check) await this.#served(name, challenge.keyAuthorization, this.#check);
    if (this.#delayMs > 0) await sleep(this.#delayMs);
  }

  /** Resolves once every server serves `value` on `name`; throws after the timeout, naming the servers that do not. */
  async #served(name: string, value: string, check: PropagationCheck): Promise<void> {
    const deadline = Date.now() + check.timeoutMs;
    let pending = check.servers;
    const last = new Map<string, string>();
    for (;;) {
      const seen = await Promise.all(
        pending.map(async ({ name: server, resolver }) => {
          try {
            const values = (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
            if (!values.includes(value)) last.set(server, `answers ${values.length} other value${values.length === 1 ? '' : 's'}`);
            return values.includes(value);
          } catch (e) {
            last.set(server, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
            return false;
          }
        }),
      );
      pending = pending.filter((_, i) => !seen[i]);
      if (pending.length === 0) return;
      if (Date.now() + check.intervalMs > deadline) {
        const where = pending.map((p) => `${p.name} (${last.get(p.name) ?? 'no answer'})`).join(', ');
        throw new Error(`the TXT record ${name} is not served by ${where} after ${check.timeoutMs} ms`);
      }
      await sleep(check.intervalMs);
    }
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
