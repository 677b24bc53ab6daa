/**
 * Pebble (the ACME test server from Let's Encrypt) and pebble-challtestsrv
 * (its mock DNS and challenge responder), started by the tests themselves on
 * free loopback ports, one set per call. Every identifier resolves to
 * 127.0.0.1 through challtestsrv, so http-01 validation reaches our own
 * listener on `httpPort` and dns-01 reads the TXT records set through
 * challtestsrv's management API. A peer that does not start fails the test
 * with its log.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';

export interface PebbleOptions {
  /** Extra environment for pebble: PEBBLE_WFE_NONCEREJECT, PEBBLE_VA_SLEEPTIME, PEBBLE_CHAIN_LENGTH, … */
  readonly env?: Readonly<Record<string, string>>;
  /** Leaf validity in seconds (pebble's certificateValidityPeriod; default its 5 years). */
  readonly certificateValidityPeriod?: number;
  /** Skip validation entirely (PEBBLE_VA_ALWAYS_VALID). Default false: real validation. */
  readonly alwaysValid?: boolean;
  /** External account binding keys (kid → base64url HMAC key): makes EAB required. */
  readonly eabKeys?: Readonly<Record<string, string>>;
}

export interface PebblePeer {
  readonly directoryUrl: string;
  /** Trust anchor (PEM) for pebble's HTTPS listeners (ACME and management). */
  readonly tlsCaPem: string;
  /** An https.Agent trusting `tlsCaPem`. */
  readonly agent: Agent;
  readonly managementUrl: string;
  /** challtestsrv's management API (http). */
  readonly challtestsrvUrl: string;
  /** The port pebble connects to for http-01 (on 127.0.0.1). */
  readonly httpPort: number;
  /** The issuing root of this pebble run (it changes on every start). */
  root(index?: number): Promise<string>;
  /** Revocation status of a certificate by its serial (hex). */
  certStatus(serialHex: string): Promise<{ Status: string; Reason?: number }>;
  /** POSTs to challtestsrv's management API. */
  challtestsrv(path: string, body: unknown): Promise<void>;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function tlsMaterial(dir: string): void {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-subj', '/CN=pebble test TLS CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'csr.pem', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', 'csr.pem', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'cert.pem', '-extfile', 'ext.cnf']);
}

function spawnPeer(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, log: string): ChildProcess {
  const out: Buffer[] = [];
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => out.push(b));
  child.on('exit', () => writeFileSync(log, Buffer.concat(out)));
  (child as ChildProcess & { logText: () => string }).logText = () => Buffer.concat(out).toString('utf8');
  child.on('error', () => undefined);
  void name;
  return child;
}

async function waitFor(name: string, child: ChildProcess, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited before it was ready:\n${(child as ChildProcess & { logText: () => string }).logText()}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${name} not ready within ${timeoutMs} ms:\n${(child as ChildProcess & { logText: () => string }).logText()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function httpsGet(url: string, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts challtestsrv and pebble. Fails naming the peer when the binaries are
 * missing (npm test installs the Debian package) or a process dies.
 */
export async function startPebble(options: PebbleOptions = {}): Promise<PebblePeer> {
  for (const bin of ['pebble', 'pebble-challtestsrv']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'pipe' });
    } catch {
      throw new Error(`the ACME test peer ${bin} is not installed: run npm test (it installs the Debian package pebble) or apt-get install pebble`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'certsteward-pebble-'));
  tlsMaterial(dir);
  const [acmePort, mgmtPort, ctsPort, dnsPort, httpPort, tlsPort] = (await Promise.all(Array.from({ length: 6 }, () => freePort()))) as [number, number, number, number, number, number];
  const cts = spawnPeer(
    'pebble-challtestsrv',
    'pebble-challtestsrv',
    ['-management', `127.0.0.1:${ctsPort}`, '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
      '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    process.env,
    join(dir, 'challtestsrv.log'),
  );
  const challtestsrvUrl = `http://127.0.0.1:${ctsPort}`;
  const challtestsrv = async (path: string, body: unknown): Promise<void> => {
    const res = await fetch(`${challtestsrvUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`challtestsrv ${path}: HTTP ${res.status} ${await res.text()}`);
  };
  const processes: ChildProcess[] = [cts];
  const stop = async (): Promise<void> => {
    for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await Promise.all(processes.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('pebble-challtestsrv', cts, async () => (await fetch(`${challtestsrvUrl}/clear-txt`, { method: 'POST', body: '{"host":"probe.test."}' })).ok);
    const config = {
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: options.eabKeys !== undefined,
        ...(options.eabKeys ? { externalAccountMACKeys: options.eabKeys } : {}),
        ...(options.certificateValidityPeriod ? { certificateValidityPeriod: options.certificateValidityPeriod } : {}),
      },
    };
    writeFileSync(join(dir, 'pebble.json'), JSON.stringify(config));
    const env = {
      ...process.env,
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      PEBBLE_AUTHZREUSE: '0',
      ...(options.alwaysValid ? { PEBBLE_VA_ALWAYS_VALID: '1' } : {}),
      ...options.env,
    };
    const pebble = spawnPeer('pebble', 'pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], env, join(dir, 'pebble.log'));
    processes.push(pebble);
    const tlsCaPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const agent = new Agent({ ca: tlsCaPem, keepAlive: false });
    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    await waitFor('pebble', pebble, async () => (await httpsGet(directoryUrl, agent)).status === 200);
    const managementUrl = `https://127.0.0.1:${mgmtPort}`;
    return {
      directoryUrl,
      tlsCaPem,
      agent,
      managementUrl,
      challtestsrvUrl,
      httpPort,
      async root(index = 0) {
        const r = await httpsGet(`${managementUrl}/roots/${index}`, agent);
        if (r.status !== 200) throw new Error(`pebble /roots/${index}: HTTP ${r.status}`);
        return r.body;
      },
      async certStatus(serialHex: string) {
        const r = await httpsGet(`${managementUrl}/cert-status-by-serial/${serialHex.toLowerCase().replace(/^0+/, '')}`, agent);
        if (r.status !== 200) throw new Error(`pebble cert-status-by-serial: HTTP ${r.status} ${r.body}`);
        return JSON.parse(r.body) as { Status: string; Reason?: number };
      },
      challtestsrv,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
