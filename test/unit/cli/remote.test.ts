import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cli } from './capture-io.js';
import { DAY_MS, OpensslPki, opensslFacts, type Issued } from './openssl-pki.js';

let pki: OpensslPki;
let now: Date;
let root: Issued;
let inter: Issued;
let leaf: Issued;
let rootPath: string;
let server: Server;
let port: number;
let expiredServer: Server;
let expiredPort: number;
let silent: NetServer;
let silentPort: number;
const silentSockets: Socket[] = [];

async function listen(s: Server | NetServer, host = '127.0.0.1'): Promise<number> {
  s.listen(0, host);
  await once(s, 'listening');
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  pki = new OpensslPki('certsteward-remote-');
  now = new Date();
  root = pki.issue({ cn: 'Remote Root', ca: true, notAfter: new Date(now.getTime() + 3650 * DAY_MS) });
  inter = pki.issue({ cn: 'Remote Intermediate', ca: true, pathlen: 0, issuer: root });
  leaf = pki.issue({ cn: 'localhost', issuer: inter, san: ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'], notAfter: new Date(now.getTime() + 60.5 * DAY_MS) });
  const expired = pki.issue({ cn: 'expired.localhost', issuer: inter, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') });
  rootPath = pki.place('root.pem', root.pem);
  const key = readFileSync(leaf.keyPath);
  server = createServer({ key, cert: leaf.pem + inter.pem }, (socket: TLSSocket) => socket.end());
  port = await listen(server);
  const expiredKey = readFileSync(expired.keyPath);
  expiredServer = createServer({ key: expiredKey, cert: expired.pem + inter.pem }, (socket: TLSSocket) => socket.end());
  expiredPort = await listen(expiredServer);
  // Accepts TCP and never says a word: a TLS handshake that never finishes.
  silent = createTcpServer((s) => silentSockets.push(s));
  silentPort = await listen(silent);
});

afterAll(() => {
  pki?.remove();
  server?.close();
  expiredServer?.close();
  for (const s of silentSockets) s.destroy();
  silent?.close();
});

describe('certsteward inspect host:port', () => {
  it('shows the served leaf and intermediate in order, the chain verdict, and that Node\'s trust store rejects the private root', async () => {
    const r = await cli(['inspect', `127.0.0.1:${port}`], { now });
    expect(r.code).toBe(0);
    const leafAt = r.stdout.indexOf('Certificate #0 of 2 (end entity)\n  Subject             CN=localhost\n');
    const interAt = r.stdout.indexOf('Certificate #1 of 2 (CA)\n  Subject             CN=Remote Intermediate\n');
    expect(leafAt).toBeGreaterThanOrEqual(0);
    expect(interAt).toBeGreaterThan(leafAt);
    expect(r.stdout).toContain(opensslFacts(leaf.certPath).sha256Colon);
    expect(r.stdout).toContain(opensslFacts(inter.certPath).sha256Colon);
    expect(r.stdout).toMatch(/Signatures +#0 CN=localhost by CN=Remote Intermediate: valid\n/);
    expect(r.stdout).toMatch(/Order +leaf → root\n/);
    expect(r.stdout).toMatch(/Verdict +incomplete: the chain ends at "CN=Remote Intermediate", whose issuer "CN=Remote Root" is neither in the input nor a trusted root/);
    expect(r.stdout).toMatch(new RegExp(`TLS 127\\.0\\.0\\.1:${port}\\n`));
    expect(r.stdout).toMatch(/Node trust store +rejected: UNABLE_TO_GET_ISSUER_CERT_LOCALLY\n/);
  });

  it('calls the served chain complete and trusted with --roots, while still reporting Node\'s own verdict', async () => {
    const r = await cli(['inspect', `127.0.0.1:${port}`, '--roots', rootPath], { now });
    expect(r.stdout).toMatch(/Verdict +complete, ends at a trusted root\n/);
    expect(r.stdout).toMatch(/Node trust store +rejected: /);
  });

  it('sends the host name as SNI, and no SNI for an IP address', async () => {
    const seen: (string | false | null)[] = [];
    const sni = createServer({ key: readFileSync(leaf.keyPath), cert: leaf.pem + inter.pem }, (s: TLSSocket) => s.end());
    sni.on('secureConnection', (s: TLSSocket) => seen.push(s.servername));
    const sniPort = await listen(sni);
    try {
      await cli(['inspect', `localhost:${sniPort}`], { now });
      await vi.waitFor(() => expect(seen).toHaveLength(1)); // the server's side of the handshake ends after ours
      await cli(['inspect', `127.0.0.1:${sniPort}`], { now });
      await vi.waitFor(() => expect(seen).toHaveLength(2));
      expect(seen).toEqual(['localhost', false]);
    } finally {
      sni.close();
    }
  });

  it('--json carries the served certificates and the TLS facts', async () => {
    const r = await cli(['inspect', `127.0.0.1:${port}`, '--json'], { now });
    const doc = JSON.parse(r.stdout) as {
      source: { kind: string; host: string; port: number; servername: string | null; tls: { authorized: boolean; authorizationError: string | null; protocol: string } };
      certificates: { index: number; subject: { dn: string }; notAfter: string }[];
    };
    expect(doc.source).toMatchObject({ kind: 'host', host: '127.0.0.1', port, servername: null });
    expect(doc.source.tls).toMatchObject({ authorized: false, authorizationError: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
    expect(doc.source.tls.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(doc.certificates.map((c) => c.subject.dn)).toEqual(['CN=localhost', 'CN=Remote Intermediate']);
    expect(doc.certificates[0]!.notAfter).toBe(opensslFacts(leaf.certPath).notAfter.toISOString());
  });

  it('reads [::1]:port on an IPv6 loopback', async () => {
    const v6 = createServer({ key: readFileSync(leaf.keyPath), cert: leaf.pem + inter.pem }, (s) => s.end());
    // This machine kind has an IPv6 loopback; without one the test fails rather than skip.
    const v6Port = await listen(v6, '::1');
    try {
      const r = await cli(['inspect', `[::1]:${v6Port}`], { now });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`TLS [::1]:${v6Port}\n`);
      expect(r.stdout).toContain('IP Address:::1');
    } finally {
      v6.close();
    }
  });

  it('exits 3 with a clear message when the connection is refused', async () => {
    const closed = createTcpServer();
    const closedPort = await listen(closed);
    closed.close();
    await once(closed, 'close');
    const r = await cli(['inspect', `127.0.0.1:${closedPort}`], { now });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${closedPort}: connection failed: .*ECONNREFUSED`));
  });

  it('gives up after --timeout on a server that never finishes the handshake', async () => {
    const started = Date.now();
    const r = await cli(['inspect', `127.0.0.1:${silentPort}`, '--timeout', '300ms'], { now });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('timed out: no TLS handshake within 300ms');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('certsteward check host:port', () => {
  it('lists every served certificate as host:port#index and exits 0 when all are fine', async () => {
    const r = await cli(['check', `127.0.0.1:${port}`], { now });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^OK +60 .* CN=localhost +127\\.0\\.0\\.1:${port}#0$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^OK .* CN=Remote Intermediate +127\\.0\\.0\\.1:${port}#1$`, 'm'));
  });

  it('exits 2 for a server that presents an expired certificate', async () => {
    const r = await cli(['check', `127.0.0.1:${expiredPort}`, '--format', 'nagios'], { now });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^CERTSTEWARD CRITICAL - 2 certificates, 1 expired: CN=expired\.localhost expired \d+d ago/);
  });

  it('reports an unreachable host as UNKNOWN (exit 3) and a timeout per host, without hiding the others', async () => {
    const r = await cli(['check', `127.0.0.1:${port}`, `127.0.0.1:${silentPort}`, '--timeout', '300ms'], { now });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(new RegExp(`^UNKNOWN .*127\\.0\\.0\\.1:${silentPort}: timed out`, 'm'));
    expect(r.stdout).toContain('3 certificates: 2 ok, 0 warning, 0 critical, 0 expired, 1 unknown');
  });
});
