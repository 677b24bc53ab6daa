/**
 * A local ACME Renewal Information (RFC 9773) responder for the tests:
 * Pebble 2.4 has no ARI, so this HTTPS reverse proxy stands in front of a
 * Pebble started with `startPebble` and
 *
 * - forwards every ACME request to Pebble with the client's own Host header,
 *   so Pebble writes the proxy's origin into every URL it hands out
 *   (directory, Location, Link, order and authorization bodies) and checks
 *   the JWS `url` against it: the client talks only to the proxy;
 * - adds `renewalInfo: <proxy>/renewal-info` to the directory (unless
 *   `advertise` is turned off);
 * - answers `GET /renewal-info/<certID>` from `respond` (by default: for a
 *   certificate this CA issued, the middle third of its lifetime; 404 for
 *   any other certID), counting each request with the time of `now()`;
 * - records the `replaces` field of every newOrder (decoded from the JWS
 *   payload), and can refuse `replaces` for chosen certIDs with 409
 *   `alreadyReplaced`, as RFC 9773 §5 lets a CA do;
 * - logs every request it passes on (`wire`: method, path, status, ACME
 *   problem type, arrival time), and can add a Retry-After to the answers
 *   of challenge requests (`challengeRetryAfter`), which Pebble never sends.
 *
 * Certificates "this CA issued" are the ones downloaded through the proxy.
 * The certID is computed here independently of the adapter (a small DER
 * walk): {@link ariCertId}.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PebblePeer } from './pebble.js';

/** A certificate downloaded through the proxy (issued by the Pebble behind it). */
export interface KnownCertificate {
  readonly certId: string;
  readonly pem: string;
  readonly serialHex: string;
  readonly names: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** What `GET /renewal-info/<certID>` answers. */
export type AriReply =
  | {
      readonly start: Date;
      readonly end: Date;
      /** Retry-After header: seconds (number) or the raw header text (an HTTP date). */
      readonly retryAfter?: number | string;
      readonly explanationURL?: string;
    }
  | { readonly status: number; readonly body?: string; readonly retryAfter?: number | string };

/** One ARI request the proxy served. */
export interface AriRequest {
  readonly certId: string;
  /** `now()` when it arrived (the test's ManualClock, when set). */
  readonly at: Date;
  readonly status: number;
}

/** One newOrder the proxy saw. */
export interface NewOrderSeen {
  readonly identifiers: readonly { type: string; value: string }[];
  readonly replaces: string | undefined;
  /** The status returned to the client. */
  status: number;
}

/** One request the proxy passed to Pebble, with Pebble's answer. */
export interface WireRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The ACME problem type of an error answer, without the `urn:ietf:params:acme:error:` prefix. */
  readonly problem?: string;
  /** performance.now() when the request arrived. */
  readonly at: number;
  /** For a POST: whether it is a POST-as-GET (empty JWS payload), not an action. */
  readonly asGet?: boolean;
}

export interface AriProxy {
  /** The proxy's directory URL (give it to AcmeAuthority). */
  readonly directoryUrl: string;
  readonly origin: string;
  /** The renewalInfo base URL the directory advertises. */
  readonly renewalInfoUrl: string;
  /** Trust anchor (PEM) of the proxy's TLS certificate: AcmeAuthority's `ca`. */
  readonly tlsCaPem: string;
  /** Whether the directory advertises renewalInfo (default true). */
  advertise: boolean;
  /**
   * How to answer a certID: `cert` is the certificate when this CA issued it.
   * Undefined: 404. Reset with `reset()`.
   */
  respond: (certId: string, cert: KnownCertificate | undefined) => AriReply | undefined;
  /** certIDs whose `replaces` newOrder is refused with 409 alreadyReplaced. */
  readonly refuseReplaces: Set<string>;
  /** The time stamped on ARI requests. */
  now: () => Date;
  /** Certificates issued through the proxy, in order. */
  readonly issued: KnownCertificate[];
  readonly ariRequests: AriRequest[];
  readonly newOrders: NewOrderSeen[];
  /** ARI requests for one certID. */
  requestsFor(certId: string): AriRequest[];
  /** Every request passed on to Pebble (not ARI), in arrival order. */
  readonly wire: WireRequest[];
  /** Retry-After (seconds) added to every answer to a challenge request; undefined: none (Pebble's own). */
  challengeRetryAfter: number | undefined;
  /** The next announcement of a challenge (a POST with a payload) reaches Pebble, but its answer is lost: the connection drops. */
  dropNextAnnouncement: boolean;
  /** The next finalization is answered 403 orderNotReady without reaching Pebble (a CA lagging behind its authorizations). */
  refuseNextFinalize: boolean;
  /** The next finalization is never answered (nor passed on): the connection stays open until the client gives up. */
  stallNextFinalize: boolean;
  /** The paths of the directory's resources (`newNonce`, `newOrder`, …). */
  readonly resources: Readonly<Record<string, string>>;
  /** Back to the defaults: advertise, default `respond`, real time, nothing refused, no challenge Retry-After, logs cleared. */
  reset(): void;
  close(): Promise<void>;
}

/** The default answer: the middle third of the lifetime of a certificate this CA issued, Retry-After 6 h. */
export function defaultReply(_certId: string, cert: KnownCertificate | undefined): AriReply | undefined {
  if (!cert) return undefined;
  const nb = cert.notBefore.getTime();
  const life = cert.notAfter.getTime() - nb;
  return { start: new Date(nb + life / 3), end: new Date(nb + (2 * life) / 3), retryAfter: 21_600 };
}

/* ----------------------------------------------------- independent certID */

interface Tlv {
  readonly tag: number;
  readonly contentStart: number;
  readonly end: number;
}

function tlv(buf: Uint8Array, at: number): Tlv {
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
    header = 2 + n;
  }
  return { tag, contentStart: at + header, end: at + header + len };
}

function children(buf: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.contentStart; p < t.end; ) {
    const c = tlv(buf, p);
    out.push(c);
    p = c.end;
  }
  return out;
}

const AKI_OID = Buffer.from([0x55, 0x1d, 0x23]); // 2.5.29.35

/** The serial's DER content bytes and the AKI keyIdentifier, read straight from the certificate's DER. */
export function ariParts(pem: string): { serial: Buffer; aki: Buffer | undefined } {
  const der = new Uint8Array(new X509Certificate(pem).raw);
  const tbs = children(der, tlv(der, 0))[0]!;
  const fields = children(der, tbs);
  const serialTlv = fields[fields[0]!.tag === 0xa0 ? 1 : 0]!;
  if (serialTlv.tag !== 0x02) throw new Error('ariParts: no serial INTEGER');
  const serial = Buffer.from(der.subarray(serialTlv.contentStart, serialTlv.end));
  let aki: Buffer | undefined;
  const exts = fields.find((f) => f.tag === 0xa3);
  if (exts) {
    for (const ext of children(der, children(der, exts)[0]!)) {
      const parts = children(der, ext);
      const oid = parts[0]!;
      if (!Buffer.from(der.subarray(oid.contentStart, oid.end)).equals(AKI_OID)) continue;
      const value = parts[parts.length - 1]!; // OCTET STRING (after an optional critical BOOLEAN)
      const seq = tlv(der, value.contentStart);
      const keyId = children(der, seq).find((c) => c.tag === 0x80);
      if (keyId) aki = Buffer.from(der.subarray(keyId.contentStart, keyId.end));
    }
  }
  return { serial, aki };
}

/** RFC 9773 §4.1 certID, computed without the library: base64url(AKI keyIdentifier) "." base64url(serial DER content). */
export function ariCertId(pem: string): string {
  const { serial, aki } = ariParts(pem);
  if (!aki) throw new Error('ariCertId: the certificate has no AKI keyIdentifier');
  return `${aki.toString('base64url')}.${serial.toString('base64url')}`;
}

function known(pem: string): KnownCertificate {
  const x = new X509Certificate(pem);
  return {
    certId: ariCertId(pem),
    pem,
    serialHex: x.serialNumber.toLowerCase(),
    names: (x.subjectAltName ?? '').split(', ').filter(Boolean).map((n) => n.replace(/^DNS:/, '')),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
  };
}

/* ------------------------------------------------------------------ TLS */

function tlsMaterial(dir: string): void {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-subj', '/CN=ari proxy test TLS CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'csr.pem', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', 'csr.pem', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'cert.pem', '-extfile', 'ext.cnf']);
}

/* ---------------------------------------------------------------- proxy */

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade']);

function problem(status: number, type: string, detail: string): { status: number; headers: Record<string, string>; body: Buffer } {
  return {
    status,
    headers: { 'content-type': 'application/problem+json' },
    body: Buffer.from(JSON.stringify({ type: `urn:ietf:params:acme:error:${type}`, detail, status })),
  };
}

/** What `handle` returns for a request whose answer is to be lost. */
const DROP = { status: 0, headers: {}, body: Buffer.alloc(0) };

/** Pebble's challenge URLs: `/chalZ/<id>`. */
export function isChallengePath(path: string): boolean {
  return path.startsWith('/chalZ/');
}

/** Starts the proxy in front of `pebble` on a free loopback port. */
export async function startAriProxy(pebble: PebblePeer): Promise<AriProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'certsteward-ari-proxy-'));
  tlsMaterial(dir);
  const upstream = new URL(pebble.directoryUrl);
  const upstreamDirectory = JSON.parse(
    await new Promise<string>((resolve, reject) => {
      const req = request(pebble.directoryUrl, { agent: pebble.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      });
      req.on('error', reject);
      req.end();
    }),
  ) as Record<string, unknown>;
  const newOrderPath = new URL(String(upstreamDirectory['newOrder'])).pathname;

  let origin = '';
  const issued: KnownCertificate[] = [];
  const byId = new Map<string, KnownCertificate>();
  const ariRequests: AriRequest[] = [];
  const newOrders: NewOrderSeen[] = [];
  const refuseReplaces = new Set<string>();
  const wire: WireRequest[] = [];
  const resources: Record<string, string> = {};
  for (const [k, v] of Object.entries(upstreamDirectory)) if (typeof v === 'string' && v.startsWith(upstream.origin)) resources[k] = new URL(v).pathname;

  const forward = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      if (body.length > 0) out['content-length'] = String(body.length);
      const req = request(
        { host: upstream.hostname, port: upstream.port, method, path, headers: out, agent: pebble.agent, servername: 'localhost' },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const rewrite = (text: string) => text.split(upstream.origin).join(origin);

  const proxy: AriProxy = {
    get directoryUrl() {
      return `${origin}${upstream.pathname}`;
    },
    get origin() {
      return origin;
    },
    get renewalInfoUrl() {
      return `${origin}/renewal-info`;
    },
    tlsCaPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    advertise: true,
    respond: defaultReply,
    refuseReplaces,
    now: () => new Date(),
    issued,
    ariRequests,
    newOrders,
    requestsFor: (certId) => ariRequests.filter((r) => r.certId === certId),
    wire,
    challengeRetryAfter: undefined,
    dropNextAnnouncement: false,
    refuseNextFinalize: false,
    stallNextFinalize: false,
    resources,
    reset() {
      proxy.stallNextFinalize = false;
      proxy.refuseNextFinalize = false;
      proxy.challengeRetryAfter = undefined;
      proxy.dropNextAnnouncement = false;
      wire.length = 0;
      proxy.advertise = true;
      proxy.respond = defaultReply;
      proxy.now = () => new Date();
      refuseReplaces.clear();
      ariRequests.length = 0;
      newOrders.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        rmSync(dir, { recursive: true, force: true });
      }),
  };

  const renewalInfo = (certId: string) => {
    const reply = proxy.respond(certId, byId.get(certId));
    let res: { status: number; headers: Record<string, string>; body: Buffer };
    if (!reply) {
      res = problem(404, 'malformed', `no certificate with the certID ${certId}`);
    } else if ('status' in reply) {
      res = { status: reply.status, headers: { 'content-type': 'application/json' }, body: Buffer.from(reply.body ?? '') };
      if (reply.retryAfter !== undefined) res.headers['retry-after'] = String(reply.retryAfter);
    } else {
      const doc = {
        suggestedWindow: { start: reply.start.toISOString(), end: reply.end.toISOString() },
        ...(reply.explanationURL ? { explanationURL: reply.explanationURL } : {}),
      };
      res = { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(doc)) };
      if (reply.retryAfter !== undefined) res.headers['retry-after'] = String(reply.retryAfter);
    }
    ariRequests.push({ certId, at: proxy.now(), status: res.status });
    return res;
  };

  const handle = async (method: string, url: string, headers: IncomingHttpHeaders, body: Buffer) => {
    const path = url.split('?')[0]!;
    if (path.startsWith('/renewal-info/') && method === 'GET') return renewalInfo(decodeURIComponent(path.slice('/renewal-info/'.length)));
    if (path === '/renewal-info' || path.startsWith('/renewal-info/')) return problem(405, 'malformed', 'renewalInfo takes GET only');

    let order: NewOrderSeen | undefined;
    if (method === 'POST' && path === newOrderPath) {
      const jws = JSON.parse(body.toString('utf8')) as { payload: string };
      const payload = JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as { identifiers: { type: string; value: string }[]; replaces?: string };
      order = { identifiers: payload.identifiers, replaces: payload.replaces, status: 0 };
      newOrders.push(order);
      if (payload.replaces !== undefined && refuseReplaces.has(payload.replaces)) {
        const res = problem(409, 'alreadyReplaced', `the certificate ${payload.replaces} has already been replaced`);
        order.status = res.status;
        return res;
      }
    }
    const at = performance.now();
    if (proxy.stallNextFinalize && method === 'POST' && path.startsWith('/finalize-order/')) {
      proxy.stallNextFinalize = false;
      wire.push({ method, path, status: 0, at, asGet: false });
      return new Promise<never>(() => undefined);
    }
    if (proxy.refuseNextFinalize && method === 'POST' && path.startsWith('/finalize-order/')) {
      proxy.refuseNextFinalize = false;
      const refused = problem(403, 'orderNotReady', 'the order is not ready yet');
      wire.push({ method, path, status: refused.status, at, problem: 'orderNotReady', asGet: false });
      return refused;
    }
    const res = await forward(method, url, headers, body);
    if (order) order.status = res.status;
    const isProblem = String(res.headers['content-type'] ?? '').startsWith('application/problem+json');
    const problemType = isProblem ? (JSON.parse(res.body.toString('utf8')) as { type?: string }).type?.replace('urn:ietf:params:acme:error:', '') : undefined;
    let asGet: boolean | undefined;
    if (method === 'POST') {
      try {
        asGet = (JSON.parse(body.toString('utf8')) as { payload?: string }).payload === '';
      } catch {
        asGet = undefined;
      }
    }
    wire.push({ method, path, status: res.status, at, ...(problemType ? { problem: problemType } : {}), ...(asGet !== undefined ? { asGet } : {}) });
    if (proxy.challengeRetryAfter !== undefined && method === 'POST' && isChallengePath(path)) res.headers['retry-after'] = String(proxy.challengeRetryAfter);
    if (proxy.dropNextAnnouncement && method === 'POST' && isChallengePath(path) && asGet === false) {
      proxy.dropNextAnnouncement = false;
      return DROP;
    }
    const type = String(res.headers['content-type'] ?? '');
    let out = res.body;
    if (res.status === 200 && type.startsWith('application/pem-certificate-chain')) {
      const leaf = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(out.toString('utf8'))?.[0];
      if (leaf) {
        const k = known(`${leaf}\n`);
        if (!byId.has(k.certId)) {
          byId.set(k.certId, k);
          issued.push(k);
        }
      }
    } else if (type.includes('json')) {
      let text = rewrite(out.toString('utf8'));
      if (method === 'GET' && path === upstream.pathname && res.status === 200 && proxy.advertise) {
        const doc = JSON.parse(text) as Record<string, unknown>;
        doc['renewalInfo'] = proxy.renewalInfoUrl;
        text = JSON.stringify(doc);
      }
      out = Buffer.from(text);
    }
    const headersOut: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headersOut[k] = Array.isArray(v) ? v.map(rewrite) : rewrite(v);
    }
    return { status: res.status, headers: headersOut, body: out };
  };

  const server: Server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks)).then(
        (r) => {
          if (r === DROP) return void req.socket.destroy();
          res.writeHead(r.status, { ...r.headers, 'content-length': String(r.body.length) });
          res.end(req.method === 'HEAD' ? undefined : r.body);
        },
        (e: unknown) => {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`ari proxy: ${(e as Error).message}`);
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  origin = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return proxy;
}
