/**
 * A standalone pebble-challtestsrv (mock DNS only) whose DNS port the test
 * knows, to read back the TXT records a DnsProvider wrote. `startPebble`
 * keeps its own challtestsrv's DNS port to itself.
 */
import { spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { freePort } from './pebble.js';

export interface MockDns {
  /** challtestsrv's management API (http). */
  readonly managementUrl: string;
  readonly dnsPort: number;
  /** The distinct TXT values of a name, sorted (empty when there are none). */
  txt(name: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startMockDns(): Promise<MockDns> {
  const [mgmtPort, dnsPort] = await Promise.all([freePort(), freePort()]);
  const out: Buffer[] = [];
  const child = spawn(
    'pebble-challtestsrv',
    ['-management', `127.0.0.1:${mgmtPort}`, '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => out.push(b));
  child.on('error', () => undefined);
  const managementUrl = `http://127.0.0.1:${mgmtPort}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pebble-challtestsrv exited:\n${Buffer.concat(out).toString('utf8')}`);
    const ok = await fetch(`${managementUrl}/clear-txt`, { method: 'POST', body: '{"host":"probe.test."}' }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`pebble-challtestsrv not ready:\n${Buffer.concat(out).toString('utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([`127.0.0.1:${dnsPort}`]);
  return {
    managementUrl,
    dnsPort,
    async txt(name) {
      try {
        return [...new Set((await resolver.resolveTxt(name)).map((chunks) => chunks.join('')))].sort();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENODATA' || (e as NodeJS.ErrnoException).code === 'ENOTFOUND') return [];
        throw e;
      }
    },
    stop,
  };
}
