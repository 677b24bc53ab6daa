// Pebble (Let's Encrypt's ACME test server) and pebble-challtestsrv (its mock
// DNS) started on free loopback ports, one set per call: the one recipe for
// the tests (through test/support/pebble.ts, with its types in
// pebble-peer.d.mts) and the benches, so it is plain JS that Node runs as it
// is. A TLS CA and server certificate made with openssl,
// every identifier resolving to 127.0.0.1 through challtestsrv, real http-01
// and dns-01 validation, PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0 and
// PEBBLE_AUTHZREUSE=0 (every order validates its names).
//
//   import { startPebble } from '../test/support/pebble-peer.mjs'
//   const peer = await startPebble()   // { directoryUrl, tlsCaPem, agent, httpPort, challtestsrvUrl, root(), certStatus(), stop() }
//
// Fails (never skips) naming the peer when a binary is missing or a process
// dies, with that process's log.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tlsMaterial(dir) {
  const run = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-subj', '/CN=pebble test TLS CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'csr.pem', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', 'csr.pem', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'cert.pem', '-extfile', 'ext.cnf']);
}

function spawnPeer(cmd, args, env, log) {
  const out = [];
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => out.push(b));
  child.on('exit', () => {
    try {
      writeFileSync(log, Buffer.concat(out));
    } catch {
      /* the directory is gone already */
    }
  });
  child.on('error', () => undefined);
  child.logText = () => Buffer.concat(out).toString('utf8');
  return child;
}

async function waitFor(name, child, probe, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before it was ready:\n${child.logText()}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${name} not ready within ${timeoutMs} ms:\n${child.logText()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function httpsGet(url, agent) {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Starts challtestsrv and pebble (options and result: pebble-peer.d.mts). */
export async function startPebble(options = {}) {
  for (const bin of ['pebble', 'pebble-challtestsrv']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'pipe' });
    } catch {
      throw new Error(`the ACME test peer ${bin} is not installed: run npm test (it installs the Debian package pebble) or apt-get install pebble`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'certsteward-pebble-'));
  tlsMaterial(dir);
  const [acmePort, mgmtPort, ctsPort, dnsPort, httpPort, tlsPort] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const cts = spawnPeer(
    'pebble-challtestsrv',
    ['-management', `127.0.0.1:${ctsPort}`, '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
      '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    process.env,
    join(dir, 'challtestsrv.log'),
  );
  const challtestsrvUrl = `http://127.0.0.1:${ctsPort}`;
  const challtestsrv = async (path, body) => {
    const res = await fetch(`${challtestsrvUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`challtestsrv ${path}: HTTP ${res.status} ${await res.text()}`);
  };
  const processes = [cts];
  const stop = async () => {
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
    const pebble = spawnPeer('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], env, join(dir, 'pebble.log'));
    processes.push(pebble);
    const tlsCaPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const agent = new Agent({ ca: tlsCaPem, keepAlive: false });
    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    await waitFor('pebble', pebble, async () => (await httpsGet(directoryUrl, agent)).status === 200);
    const managementUrl = `https://127.0.0.1:${mgmtPort}`;
    return {
      directoryUrl,
      tlsCaPem,
      /** The file holding tlsCaPem (removed by stop()). */
      tlsCaFile: join(dir, 'ca.pem'),
      agent,
      managementUrl,
      challtestsrvUrl,
      dnsPort,
      httpPort,
      /** The pebble process's output so far. */
      log: () => pebble.logText(),
      async root(index = 0) {
        const r = await httpsGet(`${managementUrl}/roots/${index}`, agent);
        if (r.status !== 200) throw new Error(`pebble /roots/${index}: HTTP ${r.status}`);
        return r.body;
      },
      async certStatus(serialHex) {
        const r = await httpsGet(`${managementUrl}/cert-status-by-serial/${serialHex.toLowerCase().replace(/^0+/, '')}`, agent);
        if (r.status !== 200) throw new Error(`pebble cert-status-by-serial: HTTP ${r.status} ${r.body}`);
        return JSON.parse(r.body);
      },
      challtestsrv,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
