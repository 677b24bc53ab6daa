/**
 * AcmeAuthority against a real Pebble (real http-01 and dns-01 validation
 * through pebble-challtestsrv): the authority contract, wildcard and
 * multi-name orders, renewal, revocation, crash-resume, typed errors, and
 * that acme-client's process-wide axios is left alone.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  AcmeAuthority,
  ChallTestSrvDnsProvider,
  Dns01Solver,
  Http01Solver,
  recordName,
  type AcmeAuthorityOptions,
  type AcmeClientModule,
  type Challenge,
  type ChallengeSolver,
} from '../../../adapters/acme/index.js';
import { RecordingAgent } from '../../../adapters/acme/acme-transport.js';
import { AuthorityError, isCertstewardError } from '../../../src/errors.js';
import { buildCsr, SoftwareKeyStore } from '../../../src/index.js';
import type { IssueRequest } from '../../../src/ports/certificate-authority.js';
import type { KeyHandle } from '../../../src/ports/key-store.js';
import { describeCertificateAuthority } from '../../../src/testing/contracts/authority-contract.js';
import { MemoryKeyStore } from '../../../src/testing/memory-key-store.js';
import { startMockDns, type MockDns } from '../../support/challtestsrv.js';
import { freePort, startPebble, type PebblePeer } from '../../support/pebble.js';
import { finishOrder } from '../../support/acme-orders.js';

type AcmeSettings = { retryMaxAttempts: number; retryDefaultDelay: number };
const acmeSettings = (): AcmeSettings => (acme.axios.defaults as unknown as { acmeSettings: AcmeSettings }).acmeSettings;

let peer: PebblePeer;
let root: string;
let http01: Http01Solver;
let dns01: Dns01Solver;
const keys = new MemoryKeyStore();
const opened: AcmeAuthority[] = [];
let dummyRequest: IssueRequest;
let requestFor404: IssueRequest;

/** Retry settings and agent of acme-client's shared axios, as they were before any AcmeAuthority existed. */
const axiosBefore = { httpsAgent: acme.axios.defaults.httpsAgent as unknown, ...acmeSettings() };

beforeAll(async () => {
  peer = await startPebble();
  root = await peer.root();
  http01 = new Http01Solver();
  await http01.listen(peer.httpPort, '127.0.0.1');
  dns01 = new Dns01Solver(new ChallTestSrvDnsProvider(peer.challtestsrvUrl));
  dummyRequest = await requestFor(['dummy.test']);
  requestFor404 = await requestFor(['nobody-home.test']);
});

afterAll(async () => {
  for (const a of opened) a.close();
  await http01?.close();
  await peer?.stop();
});

/** An authority on the main Pebble with http-01; its own new account unless `accountKey` is given. */
async function authority(options: Partial<AcmeAuthorityOptions> = {}): Promise<AcmeAuthority> {
  const a = await AcmeAuthority.create({
    directoryUrl: peer.directoryUrl,
    ca: peer.tlsCaPem,
    accountKey: options.accountKey ?? (await keys.generate({ algorithm: 'ECDSA-P256' })),
    termsOfServiceAgreed: true,
    solvers: [http01],
    ...options,
  });
  opened.push(a);
  return a;
}

async function requestFor(names: readonly string[], key?: KeyHandle): Promise<IssueRequest> {
  const k = key ?? (await keys.generate({ algorithm: 'ECDSA-P256' }));
  const subjectAltNames = names.map((value) => ({ type: 'dns' as const, value }));
  return { id: names[0] ?? 'none', key: k, subjectAltNames, csrPem: await buildCsr({ key: k, subjectAltNames }) };
}


async function issueChain(a: AcmeAuthority, req: IssueRequest): Promise<string> {
  return finishOrder(a, req, await a.issue(req));
}

function certsOf(chainPem: string): X509Certificate[] {
  return (chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
}

/** Each certificate signed by the next, the last by `rootPem` (checked with node:crypto); returns the leaf. */
function verifiedLeaf(chainPem: string, rootPem: string): X509Certificate {
  const chain = certsOf(chainPem);
  const anchor = new X509Certificate(rootPem);
  expect(chain.length).toBeGreaterThanOrEqual(2);
  const links = [...chain, anchor].slice(0, -1).map((cert, i) => {
    const issuer = i + 1 < chain.length ? chain[i + 1]! : anchor;
    return { subject: cert.subject, issued: cert.checkIssued(issuer), signed: cert.verify(issuer.publicKey) };
  });
  expect(links.every((l) => l.issued && l.signed), JSON.stringify(links)).toBe(true);
  expect(anchor.verify(anchor.publicKey)).toBe(true);
  return chain[0]!;
}

function dnsNamesOf(leaf: X509Certificate): string[] {
  return (leaf.subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith('DNS:'))
    .map((n) => n.slice(4))
    .sort();
}

async function spkiOf(key: KeyHandle): Promise<string> {
  return Buffer.from(await key.crypto.subtle.exportKey('spki', key.publicKey)).toString('base64');
}

function leafSpki(leaf: X509Certificate): string {
  return leaf.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure, got none');
}

function asAuthorityError(e: unknown): AuthorityError {
  if (!isCertstewardError(e, 'authority')) throw new Error(`not an AuthorityError: ${String(e)}`, { cause: e });
  return e;
}

/** A solver that counts what it is asked to do and forwards it (optionally altered) to another solver. */
class CountingSolver implements ChallengeSolver {
  readonly presented: Challenge[] = [];
  readonly cleaned: Challenge[] = [];
  readonly types: readonly string[];
  constructor(
    readonly inner: ChallengeSolver,
    readonly alter: (c: Challenge) => Challenge = (c) => c,
  ) {
    this.types = inner.types;
  }
  async present(c: Challenge): Promise<void> {
    this.presented.push(c);
    await this.inner.present(this.alter(c));
  }
  async cleanup(c: Challenge): Promise<void> {
    this.cleaned.push(c);
    await this.inner.cleanup(this.alter(c));
  }
}

/** acme-client with a Client that records the calls an authority makes. */
function countingAcme(): { module: AcmeClientModule; calls: { method: string; url?: string; replaces?: unknown }[] } {
  const calls: { method: string; url?: string; replaces?: unknown }[] = [];
  class CountingClient extends acme.Client {
    override async createAccount(...args: Parameters<acme.Client['createAccount']>) {
      calls.push({ method: 'createAccount' });
      return super.createAccount(...args);
    }
    override async createOrder(...args: Parameters<acme.Client['createOrder']>) {
      calls.push({ method: 'createOrder', replaces: (args[0] as { replaces?: unknown }).replaces });
      return super.createOrder(...args);
    }
    override async getOrder(...args: Parameters<acme.Client['getOrder']>) {
      calls.push({ method: 'getOrder', url: args[0].url });
      return super.getOrder(...args);
    }
    override async finalizeOrder(...args: Parameters<acme.Client['finalizeOrder']>) {
      calls.push({ method: 'finalizeOrder', url: args[0].url });
      return super.finalizeOrder(...args);
    }
  }
  return { module: { ...acme, Client: CountingClient } as AcmeClientModule, calls };
}

describe('AcmeAuthority on Pebble: the CertificateAuthority contract', () => {
  describeCertificateAuthority({ describe, it, expect }, async () => ({
    authority: await authority(),
    trustAnchorsPem: root,
    makeKey: () => keys.generate({ algorithm: 'ECDSA-P256' }),
    dnsNames: ['a.contract.test', 'b.contract.test'],
  }));
});

describe('AcmeAuthority on Pebble: issuance with real validation', () => {
  it('issue() only places the order: pending with a JSON order reference, no challenge presented yet', async () => {
    const solver = new CountingSolver(http01);
    const a = await authority({ solvers: [solver] });
    const first = await a.issue(await requestFor(['pending.http.test']));
    expect(first.status).toBe('pending');
    if (first.status !== 'pending') return;
    const ref = JSON.parse(first.orderRef) as { order: string; account: string };
    expect(ref.order).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/my-order\//);
    expect(ref.account).toBe(a.accountUrl);
    expect(solver.presented).toEqual([]);
  });

  it('http-01: a two-name order is validated over HTTP and the chain verifies to the Pebble root with the CSR key', async () => {
    const solver = new CountingSolver(http01);
    const a = await authority({ solvers: [solver] });
    const names = ['www.http.test', 'api.http.test'];
    const req = await requestFor(names);
    const leaf = verifiedLeaf(await issueChain(a, req), root);
    expect(dnsNamesOf(leaf)).toEqual([...names].sort());
    expect(leafSpki(leaf)).toBe(await spkiOf(req.key));
    expect(solver.presented.map((c) => [c.type, c.identifier]).sort()).toEqual(names.map((n) => ['http-01', n]).sort());
    expect(solver.cleaned.length).toBe(2);
    expect(http01.pending).toBe(0);
  });

  it('dns-01: a wildcard and its apex in one order share one TXT name and both validate', async () => {
    const solver = new CountingSolver(dns01);
    const a = await authority({ solvers: [solver] });
    const req = await requestFor(['x.test', '*.x.test']);
    const leaf = verifiedLeaf(await issueChain(a, req), root);
    expect(dnsNamesOf(leaf)).toEqual(['*.x.test', 'x.test']);
    expect(leafSpki(leaf)).toBe(await spkiOf(req.key));
    expect(solver.presented.map((c) => `${c.wildcard ? '*.' : ''}${c.identifier}`).sort()).toEqual(['*.x.test', 'x.test']);
    expect(new Set(solver.presented.map((c) => recordName(c.identifier)))).toEqual(new Set(['_acme-challenge.x.test']));
    expect(solver.cleaned.length).toBe(2);
  });

  it('dns-01: a multi-SAN order for an RSA key from the SoftwareKeyStore with a SoftwareKeyStore account issues a leaf for exactly those names and that key', async () => {
    const software = new SoftwareKeyStore({ kek: randomBytes(32) });
    const key = await software.generate({ algorithm: 'RSA-2048' });
    const names = ['one.multi.test', 'two.multi.test', 'three.multi.test', '*.multi.test'];
    // The account key too comes from the SoftwareKeyStore (non-exportable, sign-only).
    const a = await authority({ solvers: [dns01], accountKey: await software.generate({ algorithm: 'ECDSA-P384' }) });
    const req = await requestFor(names, key);
    const leaf = verifiedLeaf(await issueChain(a, req), root);
    expect(dnsNamesOf(leaf)).toEqual([...names].sort());
    expect(leafSpki(leaf)).toBe(await spkiOf(key));
  });

  it('dns-01 with checkPropagation against the DNS Pebble validates with: a wildcard order issues', async () => {
    const checked = new Dns01Solver(new ChallTestSrvDnsProvider(peer.challtestsrvUrl), { checkPropagation: { servers: [`127.0.0.1:${peer.dnsPort}`], intervalMs: 50 } });
    const a = await authority({ solvers: [checked] });
    const leaf = verifiedLeaf(await issueChain(a, await requestFor(['*.checked.test'])), root);
    expect(dnsNamesOf(leaf)).toEqual(['*.checked.test']);
  });

  it('picks, per authorization, the first solver that can answer: http-01 for the plain name, dns-01 for the wildcard', async () => {
    const http = new CountingSolver(http01);
    const dns = new CountingSolver(dns01);
    const a = await authority({ solvers: [http, dns] });
    const leaf = verifiedLeaf(await issueChain(a, await requestFor(['mixed.test', '*.mixed.test'])), root);
    expect(dnsNamesOf(leaf)).toEqual(['*.mixed.test', 'mixed.test']);
    expect(http.presented.map((c) => [c.type, c.identifier, c.wildcard])).toEqual([['http-01', 'mixed.test', false]]);
    expect(dns.presented.map((c) => [c.type, c.identifier, c.wildcard])).toEqual([['dns-01', 'mixed.test', true]]);
  });

  it('renews: a second order for the same names with `replaces` = the first chain issues a new certificate (new serial, same names, new key)', async () => {
    const counted = countingAcme();
    const a = await authority({ acme: counted.module });
    const names = ['renew.test', 'www.renew.test'];
    const firstChain = await issueChain(a, await requestFor(names));
    const first = verifiedLeaf(firstChain, root);
    const renewal = await requestFor(names);
    const second = verifiedLeaf(await issueChain(a, { ...renewal, replaces: firstChain }), root);
    expect(second.serialNumber).not.toBe(first.serialNumber);
    expect(dnsNamesOf(second)).toEqual(dnsNamesOf(first));
    expect(leafSpki(second)).toBe(await spkiOf(renewal.key));
    // Pebble 2.4.0's directory has no renewalInfo: two plain orders, no ARI `replaces` field sent.
    expect(counted.calls.filter((c) => c.method === 'createOrder')).toEqual([
      { method: 'createOrder', replaces: undefined },
      { method: 'createOrder', replaces: undefined },
    ]);
  });

  it('renewalInfo() is undefined when the directory offers no ARI (Pebble 2.4.0)', async () => {
    const a = await authority();
    const leaf = verifiedLeaf(await issueChain(a, await requestFor(['ari.test'])), root);
    expect(await a.renewalInfo(leaf.toString())).toBeUndefined();
  });

  it('revokes with keyCompromise (reason 1 at the CA), and revoking again succeeds silently', async () => {
    const a = await authority();
    const chain = await issueChain(a, await requestFor(['revoke.test']));
    const leaf = verifiedLeaf(chain, root);
    expect((await peer.certStatus(leaf.serialNumber)).Status).toBe('Valid');
    await a.revoke(chain, 'keyCompromise');
    const status = await peer.certStatus(leaf.serialNumber);
    expect({ Status: status.Status, Reason: status.Reason }).toEqual({ Status: 'Revoked', Reason: 1 });
    await expect(a.revoke(chain, 'keyCompromise')).resolves.toBeUndefined();
  });
});

describe('AcmeAuthority on Pebble: crash-resume', () => {
  it('a restarted authority (same account key, no saved accountUrl) finds its existing account', async () => {
    const accountKey = await keys.generate({ algorithm: 'ECDSA-P256' });
    const before = await authority({ accountKey });
    await before.issue(await requestFor(['account-lookup.test']));
    const after = await authority({ accountKey });
    const first = await after.issue(await requestFor(['account-lookup.test']));
    expect(after.accountUrl).toBe(before.accountUrl);
    expect(first.status).toBe('pending');
  });

  it('a new instance with the same account key resumes the order placed before the "crash", placing no other order', async () => {
    const accountKey = await keys.generate({ algorithm: 'ECDSA-P256' });
    const before = await authority({ accountKey });
    const req = await requestFor(['resume.test', 'www.resume.test']);
    const first = await before.issue(req);
    if (first.status !== 'pending') throw new Error('expected a pending order');
    const orderUrl = (JSON.parse(first.orderRef) as { order: string }).order;
    before.close();

    // The restart: a new AcmeAuthority (and acme-client Client) sharing nothing with the first but the account key.
    const counted = countingAcme();
    const after = await authority({ acme: counted.module, accountKey });
    const chain = await finishOrder(after, req, await after.resume(first.orderRef, req));
    const leaf = verifiedLeaf(chain, root);
    expect(dnsNamesOf(leaf)).toEqual(['resume.test', 'www.resume.test']);
    expect(leafSpki(leaf)).toBe(await spkiOf(req.key));
    expect(counted.calls.filter((c) => c.method === 'createOrder')).toEqual([]);
    expect(counted.calls.filter((c) => c.method === 'finalizeOrder').map((c) => c.url)).toEqual([orderUrl]);
    expect(new Set(counted.calls.filter((c) => c.method === 'getOrder').map((c) => c.url))).toEqual(new Set([orderUrl]));
  });

  it('an instance given the saved accountUrl resumes without looking the account up', async () => {
    const accountKey = await keys.generate({ algorithm: 'ECDSA-P256' });
    const before = await authority({ accountKey });
    const req = await requestFor(['resume-url.test']);
    const first = await before.issue(req);
    if (first.status !== 'pending') throw new Error('expected a pending order');
    const counted = countingAcme();
    const after = await authority({ acme: counted.module, accountKey, accountUrl: before.accountUrl! });
    verifiedLeaf(await finishOrder(after, req, first), root);
    expect(counted.calls.filter((c) => c.method === 'createAccount' || c.method === 'createOrder')).toEqual([]);
  });

  it('resuming an order of another ACME account is refused as non-retryable (a new order is needed)', async () => {
    const owner = await authority();
    const req = await requestFor(['other-account.test']);
    const first = await owner.issue(req);
    if (first.status !== 'pending') throw new Error('expected a pending order');
    const stranger = await authority();
    const e = asAuthorityError(await errorOf(() => stranger.resume(first.orderRef, req)));
    expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'refused', retryable: false });
    expect(e.message).toContain('another ACME account');
  });
});

describe('AcmeAuthority: typed errors', () => {
  it('an unreachable directory fails fast as retryable `unavailable` with ECONNREFUSED as the cause', async () => {
    const port = await freePort();
    const a = await authority({ directoryUrl: `https://127.0.0.1:${port}/dir` });
    const started = Date.now();
    const e = asAuthorityError(await errorOf(() => a.issue(dummyRequest)));
    const elapsed = Date.now() - started;
    expect({ kind: e.kind, retryable: e.retryable, code: (e.cause as NodeJS.ErrnoException | undefined)?.code }).toEqual({
      kind: 'unavailable',
      retryable: true,
      code: 'ECONNREFUSED',
    });
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('an unreachable plain-HTTP directory also fails as `unavailable` with ECONNREFUSED as the cause', async () => {
    const port = await freePort();
    const a = await authority({ directoryUrl: `http://127.0.0.1:${port}/dir` });
    const e = asAuthorityError(await errorOf(() => a.issue(dummyRequest)));
    expect({ kind: e.kind, retryable: e.retryable, code: (e.cause as NodeJS.ErrnoException | undefined)?.code }).toEqual({
      kind: 'unavailable',
      retryable: true,
      code: 'ECONNREFUSED',
    });
    expect(e.message).toContain(`ECONNREFUSED`);
  });

  it('a server that takes the request but never answers fails as `unavailable` after requestTimeoutMs, saying so, with no request config in the cause', async () => {
    const silent = createHttpServer(() => undefined); // accepts, reads, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const a = await authority({ directoryUrl: `http://127.0.0.1:${(silent.address() as { port: number }).port}/dir`, requestTimeoutMs: 300 });
      const started = Date.now();
      const e = asAuthorityError(await errorOf(() => a.issue(dummyRequest)));
      expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'unavailable', retryable: true });
      expect(e.message).toMatch(/did not answer within 300 ms/);
      expect(e.cause).toBeInstanceOf(Error);
      expect(Object.keys(e.cause as object)).not.toContain('config');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });

  it('a Pebble whose TLS CA is not trusted fails as `unavailable` with the certificate error as the cause', async () => {
    const a = await authority({ ca: undefined });
    const started = Date.now();
    const e = asAuthorityError(await errorOf(() => a.issue(dummyRequest)));
    const cause = e.cause as NodeJS.ErrnoException | undefined;
    expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'unavailable', retryable: true });
    expect(cause?.code).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|CERT/);
    expect(e.message).toContain(cause!.message);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  describe('on a Pebble that requires external account binding', () => {
    let eab: PebblePeer;
    const eabHttp01 = new Http01Solver();
    const hmacKey = randomBytes(64).toString('base64url');
    beforeAll(async () => {
      eab = await startPebble({ eabKeys: { 'kid-1': hmacKey } });
      await eabHttp01.listen(eab.httpPort, '127.0.0.1');
    });
    afterAll(async () => {
      await eabHttp01.close();
      await eab?.stop();
    });
    const eabAuthority = (options: Partial<AcmeAuthorityOptions> = {}) =>
      authority({ directoryUrl: eab.directoryUrl, ca: eab.tlsCaPem, solvers: [eabHttp01], ...options });

    it('without EAB the account is refused as non-retryable `unauthorized` (externalAccountRequired)', async () => {
      const e = asAuthorityError(await errorOf(async () => (await eabAuthority()).issue(dummyRequest)));
      expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'unauthorized', retryable: false });
      expect(e.message).toMatch(/externalAccountBinding|externalAccountRequired/);
    });

    it('with a wrong EAB HMAC key the account is refused as non-retryable `unauthorized`', async () => {
      const a = await eabAuthority({ externalAccountBinding: { kid: 'kid-1', hmacKey: randomBytes(64).toString('base64url') } });
      const e = asAuthorityError(await errorOf(() => a.issue(dummyRequest)));
      expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'unauthorized', retryable: false });
    });

    it('a restarted authority with the same key and EAB finds its existing account', async () => {
      const accountKey = await keys.generate({ algorithm: 'ECDSA-P256' });
      const before = await eabAuthority({ accountKey, externalAccountBinding: { kid: 'kid-1', hmacKey } });
      await before.issue(dummyRequest);
      const after = await eabAuthority({ accountKey, externalAccountBinding: { kid: 'kid-1', hmacKey } });
      expect((await after.issue(dummyRequest)).status).toBe('pending');
      expect(after.accountUrl).toBe(before.accountUrl);
    });

    it('with the right EAB the account is created and a certificate issued', async () => {
      const a = await eabAuthority({ externalAccountBinding: { kid: 'kid-1', hmacKey } });
      const leaf = verifiedLeaf(await issueChain(a, await requestFor(['eab.test'])), await eab.root());
      expect(dnsNamesOf(leaf)).toEqual(['eab.test']);
    });
  });

  it('a wrong http-01 key authorization fails as `challenge-failed` with Pebble\'s problem detail, and cleanup ran', async () => {
    const solver = new CountingSolver(http01, (c) => ({ ...c, keyAuthorization: `${c.keyAuthorization}-wrong` }));
    const a = await authority({ solvers: [solver] });
    const req = await requestFor(['wrong-key.test']);
    const e = asAuthorityError(await errorOf(() => issueChain(a, req)));
    expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'challenge-failed', retryable: false });
    expect(e.message).toContain('wrong-key.test');
    expect(e.message).toMatch(/key authorization file from the server did not match/);
    expect({ presented: solver.presented.length, cleaned: solver.cleaned.length, serving: http01.pending }).toEqual({ presented: 1, cleaned: 1, serving: 0 });
  });

  it('an http-01 challenge nobody answers (404) fails as `challenge-failed` with Pebble\'s detail, and cleanup ran', async () => {
    const silent: ChallengeSolver = { types: ['http-01'], present: async () => undefined, cleanup: async () => undefined };
    const solver = new CountingSolver(silent);
    const a = await authority({ solvers: [solver] });
    const e = asAuthorityError(await errorOf(() => issueChain(a, requestFor404)));
    expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'challenge-failed', retryable: false });
    expect(e.message).toMatch(/404/);
    expect({ presented: solver.presented.length, cleaned: solver.cleaned.length }).toEqual({ presented: 1, cleaned: 1 });
  });

  it('a dns-01 challenge without its TXT record fails as `challenge-failed` naming the record, and cleanup ran', async () => {
    const solver = new CountingSolver({ types: ['dns-01'], present: async () => undefined, cleanup: async () => undefined });
    const a = await authority({ solvers: [solver] });
    const e = asAuthorityError(await errorOf(async () => issueChain(a, await requestFor(['no-txt.test']))));
    expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'challenge-failed', retryable: false });
    expect(e.message).toMatch(/_acme-challenge\.no-txt\.test|TXT/);
    expect({ presented: solver.presented.length, cleaned: solver.cleaned.length }).toEqual({ presented: 1, cleaned: 1 });
  });

  it('a wildcard name with only an http-01 solver fails as `challenge-failed` saying dns-01 is needed, presenting nothing for it', async () => {
    const solver = new CountingSolver(http01);
    const a = await authority({ solvers: [solver] });
    const e = asAuthorityError(await errorOf(async () => issueChain(a, await requestFor(['*.wild-http.test']))));
    expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'challenge-failed', retryable: false });
    expect(e.message).toContain('*.wild-http.test');
    expect(e.message).toMatch(/wildcard names? needs? dns-01/i);
    expect(solver.presented).toEqual([]);
  });

  it('when one authorization fails at once, resume() settles only after the other authorizations were cleaned up', async () => {
    const solver = new CountingSolver(http01);
    const a = await authority({ solvers: [solver] });
    const e = asAuthorityError(await errorOf(async () => issueChain(a, await requestFor(['race.test', '*.race.test']))));
    expect(e.kind).toBe('challenge-failed');
    expect({ presented: solver.presented.length, cleaned: solver.cleaned.length }).toEqual({ presented: 1, cleaned: 1 });
  });

  it('an email SAN is refused (non-retryable) before anything is sent to the CA', async () => {
    const counted = countingAcme();
    const a = await authority({ acme: counted.module });
    const key = await keys.generate({ algorithm: 'ECDSA-P256' });
    const subjectAltNames = [
      { type: 'dns' as const, value: 'mail.test' },
      { type: 'email' as const, value: 'ops@mail.test' },
    ];
    const req: IssueRequest = { id: 'email', key, subjectAltNames, csrPem: await buildCsr({ key, subjectAltNames }) };
    const e = asAuthorityError(await errorOf(() => a.issue(req)));
    expect({ kind: e.kind, retryable: e.retryable }).toEqual({ kind: 'refused', retryable: false });
    expect(e.message).toContain('ops@mail.test');
    expect(counted.calls).toEqual([]);
  });

  it('a CA that rate-limits answers `rate-limited` with its Retry-After, and a 503 `unavailable`, without acme-client retrying', async () => {
    let newAccountPosts = 0;
    let answer: { status: number; type: string; retryAfter?: string } = { status: 429, type: 'rateLimited', retryAfter: '7' };
    const fake = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      const base = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
      req.resume();
      if (req.url === '/dir') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ newNonce: `${base}/nonce`, newAccount: `${base}/account`, newOrder: `${base}/order`, revokeCert: `${base}/revoke`, keyChange: `${base}/key` }));
      } else if (req.url === '/nonce') {
        res.writeHead(200, { 'replay-nonce': randomBytes(8).toString('base64url'), 'cache-control': 'no-store' }).end();
      } else if (req.url === '/account') {
        newAccountPosts++;
        res
          .writeHead(answer.status, {
            'content-type': 'application/problem+json',
            'replay-nonce': randomBytes(8).toString('base64url'),
            ...(answer.retryAfter ? { 'retry-after': answer.retryAfter } : {}),
          })
          .end(JSON.stringify({ type: `urn:ietf:params:acme:error:${answer.type}`, detail: `fake CA says ${answer.type}`, status: answer.status }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
    try {
      const directoryUrl = `http://127.0.0.1:${(fake.address() as { port: number }).port}/dir`;
      const limited = asAuthorityError(await errorOf(async () => (await authority({ directoryUrl })).issue(dummyRequest)));
      expect({ kind: limited.kind, retryable: limited.retryable, retryAfterMs: limited.retryAfterMs }).toEqual({ kind: 'rate-limited', retryable: true, retryAfterMs: 7_000 });
      expect(limited.message).toContain('fake CA says rateLimited');
      expect(newAccountPosts).toBe(1);

      answer = { status: 503, type: 'serverInternal' };
      const down = asAuthorityError(await errorOf(async () => (await authority({ directoryUrl })).issue(dummyRequest)));
      expect({ kind: down.kind, retryable: down.retryable }).toEqual({ kind: 'unavailable', retryable: true });
      expect(newAccountPosts).toBe(2);
    } finally {
      fake.closeAllConnections();
      await new Promise((r) => fake.close(r));
    }
  });
});

describe('AcmeAuthority: acme-client\'s shared axios is left alone', () => {
  let resetter: TcpServer;
  let connections = 0;
  beforeAll(async () => {
    // Accepts and drops every connection: a network error acme-client would retry.
    resetter = createTcpServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => resetter.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    await new Promise((r) => resetter.close(r));
  });

  it('after all the above, the shared defaults are unchanged (no agent, 5 retry attempts)', () => {
    expect(opened.length).toBeGreaterThan(10);
    expect(acme.axios.defaults.httpsAgent).toBeUndefined();
    expect(acme.axios.defaults.httpsAgent).toBe(axiosBefore.httpsAgent);
    expect(acmeSettings().retryMaxAttempts).toBe(5);
    expect(acmeSettings()).toMatchObject({ retryMaxAttempts: axiosBefore.retryMaxAttempts, retryDefaultDelay: axiosBefore.retryDefaultDelay });
  });

  it('a plain acme-client Client, even called while an authority call runs, keeps its own retries and never gets our agent', async () => {
    const port = (resetter.address() as { port: number }).port;
    const url = `https://127.0.0.1:${port}/dir`;
    const ours = await authority({ directoryUrl: url });
    const spy = vi.spyOn(RecordingAgent.prototype, 'createConnection');
    // Connections our agents open to this server (other authorities of this file may still talk to Pebble).
    const viaOurAgent = () => spy.mock.calls.filter((c) => Number((c[0] as { port?: unknown }).port) === port).length;
    const saved = { ...acmeSettings() };
    try {
      // Lowered for this test only: one retry after 10 ms instead of five over 75 s.
      Object.assign(acmeSettings(), { retryMaxAttempts: 1, retryDefaultDelay: 0.01 });

      connections = 0;
      const outsider = new acme.Client({ directoryUrl: url, accountKey: await acme.crypto.createPrivateEcdsaKey() });
      const outsideError = await errorOf(() => outsider.getTermsOfServiceUrl());
      expect(isCertstewardError(outsideError)).toBe(false);
      expect({ connections, viaOurAgent: viaOurAgent() }).toEqual({ connections: 2, viaOurAgent: 0 });

      connections = 0;
      const oursError = asAuthorityError(await errorOf(() => ours.issue(dummyRequest)));
      expect({ kind: oursError.kind, connections, viaOurAgent: viaOurAgent() }).toEqual({ kind: 'unavailable', connections: 1, viaOurAgent: 1 });

      connections = 0;
      spy.mockClear();
      const [concurrentOutside, concurrentOurs] = await Promise.all([errorOf(() => outsider.getTermsOfServiceUrl()), errorOf(() => ours.issue(dummyRequest))]);
      expect(isCertstewardError(concurrentOutside)).toBe(false);
      expect(asAuthorityError(concurrentOurs).kind).toBe('unavailable');
      expect({ connections, viaOurAgent: viaOurAgent() }).toEqual({ connections: 3, viaOurAgent: 1 });
    } finally {
      Object.assign(acmeSettings(), saved);
      spy.mockRestore();
    }
    expect(acmeSettings().retryMaxAttempts).toBe(5);
    expect(acme.axios.defaults.httpsAgent).toBeUndefined();
  });
});

describe('Http01Solver', () => {
  const challenge = (token: string, keyAuthorization = `${token}.thumbprint`): Challenge => ({ type: 'http-01', identifier: 'h.test', wildcard: false, token, keyAuthorization });

  /** A host server that mounts the handler and answers 418 for what the handler leaves alone. */
  async function hosted(solver: Http01Solver): Promise<{ url: string; close: () => Promise<void> }> {
    const server = createHttpServer((req, res) => {
      if (!solver.handler(req, res)) res.writeHead(418).end('host');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise((r) => server.close(() => r())) };
  }

  it('the handler returns false and writes nothing for paths outside /.well-known/acme-challenge/', async () => {
    const solver = new Http01Solver();
    await solver.present(challenge('tok'));
    const host = await hosted(solver);
    try {
      for (const path of ['/', '/index.html', '/.well-known/acme-challenge', '/.well-known/other/tok', '/x/.well-known/acme-challenge/tok']) {
        const res = await fetch(`${host.url}${path}`);
        expect({ path, status: res.status, body: await res.text() }).toEqual({ path, status: 418, body: 'host' });
      }
    } finally {
      await host.close();
    }
  });

  it('serves a presented token (GET with the key authorization, HEAD without a body, query ignored), 404 once cleaned up', async () => {
    const solver = new Http01Solver();
    const c = challenge('tok-1');
    await solver.present(c);
    expect(solver.pending).toBe(1);
    const host = await hosted(solver);
    try {
      const get = await fetch(`${host.url}/.well-known/acme-challenge/tok-1?probe=1`);
      expect({ status: get.status, body: await get.text() }).toEqual({ status: 200, body: 'tok-1.thumbprint' });
      const head = await fetch(`${host.url}/.well-known/acme-challenge/tok-1`, { method: 'HEAD' });
      expect({ status: head.status, body: await head.text() }).toEqual({ status: 200, body: '' });
      await solver.cleanup(c);
      expect(solver.pending).toBe(0);
      expect((await fetch(`${host.url}/.well-known/acme-challenge/tok-1`)).status).toBe(404);
    } finally {
      await host.close();
    }
  });

  it('answers 404 for an unknown token and 405 (Allow: GET, HEAD) for a POST, without dropping the token', async () => {
    const solver = new Http01Solver();
    await solver.present(challenge('known'));
    const host = await hosted(solver);
    try {
      expect((await fetch(`${host.url}/.well-known/acme-challenge/unknown`)).status).toBe(404);
      const post = await fetch(`${host.url}/.well-known/acme-challenge/known`, { method: 'POST', body: 'x' });
      expect({ status: post.status, allow: post.headers.get('allow') }).toEqual({ status: 405, allow: 'GET, HEAD' });
      expect(await (await fetch(`${host.url}/.well-known/acme-challenge/known`)).text()).toBe('known.thumbprint');
    } finally {
      await host.close();
    }
  });

  it('listen() serves challenges standalone (404 elsewhere), refuses a second listen, and can listen again after a port conflict', async () => {
    const blocker = createTcpServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const busy = (blocker.address() as { port: number }).port;
    const solver = new Http01Solver();
    try {
      await expect(solver.listen(busy, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
      const port = await solver.listen(0, '127.0.0.1');
      await expect(solver.listen(0, '127.0.0.1')).rejects.toThrow(/already listening/);
      await solver.present(challenge('solo'));
      expect(await (await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/solo`)).text()).toBe('solo.thumbprint');
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    } finally {
      await solver.close();
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('Dns01Solver and ChallTestSrvDnsProvider', () => {
  let mock: MockDns;
  beforeAll(async () => {
    mock = await startMockDns();
  });
  afterAll(async () => {
    await mock?.stop();
  });

  it('recordName() gives a name and its wildcard the same _acme-challenge record', () => {
    expect([recordName('x.test'), recordName('*.x.test'), recordName('x.test.')]).toEqual(['_acme-challenge.x.test', '_acme-challenge.x.test', '_acme-challenge.x.test']);
  });

  it('Dns01Solver sets and removes the TXT value on the record name, and waits propagationDelayMs after setting', async () => {
    const calls: string[] = [];
    const provider = {
      setTxt: async (name: string, value: string) => void calls.push(`set ${name} ${value}`),
      removeTxt: async (name: string, value: string) => void calls.push(`remove ${name} ${value}`),
    };
    const solver = new Dns01Solver(provider, { propagationDelayMs: 150 });
    const c: Challenge = { type: 'dns-01', identifier: 'd.test', wildcard: true, token: 't', keyAuthorization: 'digest' };
    const started = Date.now();
    await solver.present(c);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await solver.cleanup(c);
    expect(calls).toEqual(['set _acme-challenge.d.test digest', 'remove _acme-challenge.d.test digest']);
  });

  it('with checkPropagation, present returns only once the DNS server serves the value (a provider whose record shows up later)', async () => {
    const real = new ChallTestSrvDnsProvider(mock.managementUrl);
    const lagging = {
      setTxt: (name: string, value: string) => {
        setTimeout(() => void real.setTxt(name, value), 400);
        return Promise.resolve();
      },
      removeTxt: (name: string, value: string) => real.removeTxt(name, value),
    };
    const solver = new Dns01Solver(lagging, { checkPropagation: { servers: [`127.0.0.1:${mock.dnsPort}`], intervalMs: 50, timeoutMs: 5_000 } });
    const c: Challenge = { type: 'dns-01', identifier: 'lag.test', wildcard: false, token: 't', keyAuthorization: 'lag-value' };
    const started = Date.now();
    await solver.present(c);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(await mock.txt('_acme-challenge.lag.test')).toContain('lag-value');
    await solver.cleanup(c);
    expect(await mock.txt('_acme-challenge.lag.test')).toEqual([]);
  });

  it('with checkPropagation, a record that never shows up fails present after timeoutMs, naming the server and what it answered', async () => {
    const solver = new Dns01Solver({ setTxt: async () => undefined, removeTxt: async () => undefined }, {
      checkPropagation: { servers: [`127.0.0.1:${mock.dnsPort}`], intervalMs: 50, timeoutMs: 300 },
    });
    const c: Challenge = { type: 'dns-01', identifier: 'never.test', wildcard: false, token: 't', keyAuthorization: 'never-value' };
    const started = Date.now();
    const e = await solver.present(c).then(() => undefined, (err: unknown) => err as Error);
    expect(e?.message).toMatch(new RegExp(`_acme-challenge\\.never\\.test is not served by 127\\.0\\.0\\.1:${mock.dnsPort} \\([A-Z]+\\) after 300 ms`));
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('checkPropagation refuses a server that is not an address, and an empty list', () => {
    const provider = { setTxt: async () => undefined, removeTxt: async () => undefined };
    expect(() => new Dns01Solver(provider, { checkPropagation: { servers: ['ns1.example.com'] } })).toThrow(/not a DNS server address/);
    expect(() => new Dns01Solver(provider, { checkPropagation: { servers: [] } })).toThrow(/at least one DNS server/);
  });

  it('ChallTestSrvDnsProvider serves both values of a name and its wildcard, still serves the other once one is removed, and none after both', async () => {
    const provider = new ChallTestSrvDnsProvider(mock.managementUrl);
    const name = '_acme-challenge.both.test';
    await provider.setTxt(name, 'apex-value');
    await provider.setTxt(name, 'wildcard-value');
    expect(await mock.txt(name)).toEqual(['apex-value', 'wildcard-value']);
    await provider.removeTxt(name, 'apex-value');
    expect(await mock.txt(name)).toContain('wildcard-value');
    await provider.removeTxt(name, 'wildcard-value');
    expect(await mock.txt(name)).toEqual([]);
  });

  /**
   * A gate in front of challtestsrv's management API: `before` runs before a call is passed on (and may
   * hold it), `after` once challtestsrv answered it.
   */
  async function gate(hooks: { before?: (path: string) => Promise<void>; after?: (path: string) => void }): Promise<{ url: string; close: () => Promise<void> }> {
    const server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const path = req.url ?? '';
        await hooks.before?.(path);
        const r = await fetch(`${mock.managementUrl}${path}`, { method: 'POST', body: Buffer.concat(chunks) });
        const text = await r.text();
        hooks.after?.(path);
        res.writeHead(r.status).end(text);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return {
      url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
      close: async () => {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      },
    };
  }

  it('ChallTestSrvDnsProvider never leaves a name without a value still wanted while it removes another', async () => {
    // The DNS answer is read before each management call goes through: every moment a CA validating
    // the other authorization could look.
    const name = '_acme-challenge.window.test';
    const seen: string[][] = [];
    let watching = false;
    const g = await gate({ before: async () => void (watching && seen.push(await mock.txt(name))) });
    try {
      const provider = new ChallTestSrvDnsProvider(g.url);
      await provider.setTxt(name, 'apex-value');
      await provider.setTxt(name, 'wildcard-value');
      watching = true;
      await provider.removeTxt(name, 'apex-value');
      seen.push(await mock.txt(name));
      expect(seen.filter((values) => !values.includes('wildcard-value')), JSON.stringify(seen)).toEqual([]);
    } finally {
      await g.close();
    }
  });

  it('ChallTestSrvDnsProvider keeps a value set while the last other value of the name is being cleared', async () => {
    // The worst order for the provider: the new value's set-txt reaches challtestsrv before the removal's clear-txt.
    const name = '_acme-challenge.race.test';
    let armed = false;
    let setPassed!: () => void;
    const setDone = new Promise<void>((r) => (setPassed = r));
    const g = await gate({
      before: (path) => (armed && path === '/clear-txt' ? setDone : Promise.resolve()),
      after: (path) => void (armed && path === '/set-txt' && setPassed()),
    });
    try {
      const provider = new ChallTestSrvDnsProvider(g.url);
      await provider.setTxt(name, 'old');
      armed = true;
      await Promise.all([provider.removeTxt(name, 'old'), provider.setTxt(name, 'new')]);
      expect(await mock.txt(name)).toEqual(['new']);
      // Still known as wanted: it survives another value's set and removal, and goes with its own removal.
      await provider.setTxt(name, 'other');
      await provider.removeTxt(name, 'other');
      expect(await mock.txt(name)).toContain('new');
      await provider.removeTxt(name, 'new');
      expect(await mock.txt(name)).toEqual([]);
    } finally {
      await g.close();
    }
  });
});
