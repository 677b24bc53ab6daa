/**
 * The certificate authority a fleet of processes shares in the multi-process
 * tests: an ACME-like order book in the test process, backed by the real local
 * CA, that counts every certificate it signs, per certificate id.
 *
 * Two steps, as ACME has them, so that "signed exactly once" can hold even
 * when a process is killed at any instant:
 * - `POST /orders` places an order and signs nothing (a process that dies
 *   before it persists the order leaves an unsigned order behind);
 * - `POST /orders/<ref>/certificate` signs on the first call for that order
 *   and answers every later call with the same chain (the next owner of a
 *   record persisted at `submitted` resumes the order and downloads the
 *   certificate the dead process already had signed).
 *
 * Child processes reach it over HTTP (`test/support/fleet-worker.mjs` holds
 * the client); the test process itself uses {@link CountingAuthority.asAuthority}.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalAuthority } from '../../adapters/local-ca/index.js';
import { AuthorityError } from '../../src/errors.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import type { CertificateAuthority, IssueRequest, IssueResult } from '../../src/ports/certificate-authority.js';
import type { KeyHandle } from '../../src/ports/key-store.js';

/** What crosses the wire when an order is placed: the request without its key handle. */
export interface OrderRequest {
  readonly id: string;
  readonly csrPem: string;
  readonly subjectAltNames: IssueRequest['subjectAltNames'];
  readonly commonName?: string;
  readonly lifetimeMs?: number;
}

/** One certificate the authority signed. */
export interface SignedCertificate {
  readonly orderRef: string;
  readonly serialNumber: string;
  readonly chainPem: string;
  readonly at: Date;
}

/** A call the test may hold before it is answered (to freeze the caller at a chosen instant). */
export interface AuthorityCall {
  readonly kind: 'order' | 'certificate';
  readonly id: string;
  readonly orderRef: string;
  /** The calling process's label (header `x-fleet-process`), when it gives one. */
  readonly caller: string | undefined;
}

interface Order {
  readonly ref: string;
  readonly request: OrderRequest;
  readonly placedAt: number;
  signing?: Promise<SignedCertificate>;
}

export class CountingAuthority {
  readonly #ca: LocalAuthority;
  readonly #retryAfterMs: number;
  readonly #orders = new Map<string, Order>();
  readonly #ordersById = new Map<string, string[]>();
  readonly #signed = new Map<string, SignedCertificate[]>();
  #signedTotal = 0;
  #server: Server | undefined;
  /** Awaited before an HTTP answer goes out. */
  beforeAnswer: ((call: AuthorityCall) => void | Promise<void>) | undefined;

  constructor(ca: LocalAuthority, options: { retryAfterMs: number }) {
    this.#ca = ca;
    this.#retryAfterMs = options.retryAfterMs;
  }

  /** Places an order; nothing is signed yet. */
  order(request: OrderRequest): { orderRef: string; retryAfterMs: number } {
    const ref = randomUUID();
    this.#orders.set(ref, { ref, request, placedAt: Date.now() });
    this.#ordersById.set(request.id, [...(this.#ordersById.get(request.id) ?? []), ref]);
    return { orderRef: ref, retryAfterMs: this.#retryAfterMs };
  }

  /** The order's certificate: signed on the first call, the same one on every later call. */
  certificate(orderRef: string): Promise<SignedCertificate> {
    const order = this.#orders.get(orderRef);
    if (!order) return Promise.reject(new AuthorityError('refused', `no order ${orderRef}`, { retryable: false }));
    order.signing ??= this.#sign(order).catch((e: unknown) => {
      order.signing = undefined; // a failed signature signed nothing: the next download tries again
      throw e;
    });
    return order.signing;
  }

  async #sign(order: Order): Promise<SignedCertificate> {
    const r = order.request;
    // The local CA certifies the CSR's public key; the requester's key handle never crosses the wire.
    const result = await this.#ca.issue({ ...r, key: undefined as unknown as KeyHandle });
    if (result.status !== 'issued') throw new Error('the local CA left an order pending');
    const signed: SignedCertificate = {
      orderRef: order.ref,
      serialNumber: parseCertificate(result.chainPem).serialNumber,
      chainPem: result.chainPem,
      at: new Date(),
    };
    this.#signed.set(r.id, [...(this.#signed.get(r.id) ?? []), signed]);
    this.#signedTotal++;
    return signed;
  }

  /** Certificates signed for `id`, in order. */
  signedFor(id: string): readonly SignedCertificate[] {
    return this.#signed.get(id) ?? [];
  }

  /** Orders placed for `id`, in order. */
  ordersFor(id: string): readonly string[] {
    return this.#ordersById.get(id) ?? [];
  }

  get signedTotal(): number {
    return this.#signedTotal;
  }

  get orderTotal(): number {
    return this.#orders.size;
  }

  /** When the first and the last order were placed and the first and the last certificate signed (epoch ms). */
  timeline(): { firstOrder: number; lastOrder: number; firstSigned: number; lastSigned: number } {
    const placed = [...this.#orders.values()].map((o) => o.placedAt);
    const signed = [...this.#signed.values()].flat().map((c) => c.at.getTime());
    return { firstOrder: Math.min(...placed), lastOrder: Math.max(...placed), firstSigned: Math.min(...signed), lastSigned: Math.max(...signed) };
  }

  /** Ids with at least one signed certificate. */
  signedIds(): string[] {
    return [...this.#signed.keys()];
  }

  /** The same order book as a {@link CertificateAuthority}, for stewards in the test process. */
  asAuthority(): CertificateAuthority {
    return {
      issue: async (request: IssueRequest, options?: { signal?: AbortSignal }): Promise<IssueResult> => {
        options?.signal?.throwIfAborted();
        const { orderRef, retryAfterMs } = this.order(toOrderRequest(request));
        return { status: 'pending', orderRef, retryAfterMs };
      },
      resume: async (orderRef: string, _request: IssueRequest, options?: { signal?: AbortSignal }): Promise<IssueResult> => {
        options?.signal?.throwIfAborted();
        return { status: 'issued', chainPem: (await this.certificate(orderRef)).chainPem };
      },
      describe: () => ({ kind: 'test', endpoint: 'counting-authority (in process)' }),
    };
  }

  /** Serves the order book on 127.0.0.1; resolves with the base URL. */
  async listen(): Promise<string> {
    const server = createServer((req, res) => void this.#handle(req, res));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const header = req.headers['x-fleet-process'];
      const caller = typeof header === 'string' ? header : undefined;
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.method === 'POST' && url.pathname === '/orders') {
        const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OrderRequest;
        const placed = this.order(request);
        await this.beforeAnswer?.({ kind: 'order', id: request.id, orderRef: placed.orderRef, caller });
        return answer(201, placed);
      }
      const m = /^\/orders\/([^/]+)\/certificate$/.exec(url.pathname);
      if (req.method === 'POST' && m) {
        const orderRef = decodeURIComponent(m[1]!);
        const order = this.#orders.get(orderRef);
        if (!order) return answer(404, { error: `no order ${orderRef}` });
        const signed = await this.certificate(orderRef);
        await this.beforeAnswer?.({ kind: 'certificate', id: order.request.id, orderRef, caller });
        return answer(200, { chainPem: signed.chainPem });
      }
      return answer(404, { error: `no route ${req.method} ${url.pathname}` });
    } catch (e) {
      const refused = e instanceof AuthorityError && !e.retryable;
      return answer(refused ? 400 : 500, { error: e instanceof Error ? e.message : String(e) });
    }
  }
}

function toOrderRequest(r: IssueRequest): OrderRequest {
  return {
    id: r.id,
    csrPem: r.csrPem,
    subjectAltNames: r.subjectAltNames,
    ...(r.commonName !== undefined ? { commonName: r.commonName } : {}),
    ...(r.lifetimeMs !== undefined ? { lifetimeMs: r.lifetimeMs } : {}),
  };
}
