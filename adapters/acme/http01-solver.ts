/**
 * `http-01`: the server fetches `http://<name>/.well-known/acme-challenge/<token>`
 * and expects the key authorization. Mount `handler` in the host's own HTTP
 * server on port 80, or `listen()` a standalone one.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Challenge, ChallengeSolver } from './challenge-solver.js';

const PREFIX = '/.well-known/acme-challenge/';

/**
 * Serves `http-01` key authorizations from memory.
 *
 * @example
 * ```ts
 * const http01 = new Http01Solver()
 * // in your own server:  if (http01.handler(req, res)) return
 * // or standalone:       await http01.listen(80)
 * const acme = await AcmeAuthority.create({ …, solvers: [http01] })
 * ```
 */
export class Http01Solver implements ChallengeSolver {
  readonly types = ['http-01'] as const;
  readonly #tokens = new Map<string, string>();
  readonly #watchers = new Map<string, Set<() => void>>();
  #server: Server | undefined;

  async present(challenge: Challenge): Promise<void> {
    this.#tokens.set(challenge.token, challenge.keyAuthorization);
  }

  async cleanup(challenge: Challenge): Promise<void> {
    this.#tokens.delete(challenge.token);
  }

  watch(challenge: Challenge, onRead: () => void): () => void {
    let set = this.#watchers.get(challenge.token);
    if (!set) this.#watchers.set(challenge.token, (set = new Set()));
    // Each watch is its own entry, so one function passed twice is removed once per watch.
    const entry = (): void => onRead();
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.#watchers.get(challenge.token) === set) this.#watchers.delete(challenge.token);
    };
  }

  /** Tokens being served now (for tests and diagnostics). */
  get pending(): number {
    return this.#tokens.size;
  }

  /**
   * Answers a challenge request and returns true; returns false (and writes
   * nothing) for any other request, so the host's server can go on.
   */
  readonly handler = (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (!path.startsWith(PREFIX)) return false;
    const token = path.slice(PREFIX.length);
    const answer = this.#tokens.get(token);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (answer === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('unknown challenge token\n');
    } else {
      // Once the answer has left: the CA is deciding now.
      if (req.method === 'GET' && this.#watchers.has(token)) res.once('finish', () => this.#notify(token));
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(req.method === 'HEAD' ? undefined : answer);
    }
    return true;
  };

  #notify(token: string): void {
    for (const onRead of [...(this.#watchers.get(token) ?? [])]) {
      try {
        onRead();
      } catch {
        // A watcher's failure is its own; serving goes on.
      }
    }
  }

  /** Starts a standalone server answering challenges (404 for anything else); resolves to its port. */
  async listen(port = 80, host?: string): Promise<number> {
    if (this.#server) throw new Error('Http01Solver: already listening');
    const server = createServer((req, res) => {
      if (!this.handler(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.#server = server;
    return (server.address() as { port: number }).port;
  }

  /** Stops the standalone server. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
