import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './capture-io.js';
import { DAY_MS, OpensslPki, openssl, opensslFacts, type Issued } from './openssl-pki.js';

let pki: OpensslPki;
let now: Date;
let root: Issued;
let inter: Issued;
let leaf: Issued;
const paths: Record<string, string> = {};

beforeAll(() => {
  pki = new OpensslPki('certsteward-inspect-');
  now = new Date();
  root = pki.issue({ cn: 'Inspect Root', ca: true, notAfter: new Date(now.getTime() + 3650 * DAY_MS) });
  inter = pki.issue({ cn: 'Inspect Intermediate', ca: true, pathlen: 0, issuer: root, caIssuersUrl: 'http://pki.test/root.crt' });
  leaf = pki.issue({
    cn: 'www.inspect.test',
    issuer: inter,
    san: ['DNS:www.inspect.test', 'DNS:inspect.test', 'IP:192.0.2.7'],
    notAfter: new Date(now.getTime() + 90.5 * DAY_MS), // half a day off whole days, so the time left reads 90d 11h
    caIssuersUrl: 'http://pki.test/intermediate.crt',
    ocspUrl: 'http://ocsp.pki.test',
    crlUrl: 'http://crl.pki.test/intermediate.crl',
  });
  paths.leaf = pki.place('leaf.pem', leaf.pem);
  paths.chain = pki.place('fullchain.pem', leaf.pem + inter.pem);
  paths.reversed = pki.place('reversed.pem', inter.pem + leaf.pem);
  paths.root = pki.place('root.pem', root.pem);
  paths.der = join(pki.dir, 'leaf.der');
  openssl(['x509', '-in', paths.leaf, '-outform', 'DER', '-out', paths.der]);
  const lines = inter.pem.trimEnd().split('\n');
  paths.cut = pki.place('cut-chain.pem', leaf.pem + lines.slice(0, 5).join('\n') + '\n');
  paths.key = leaf.keyPath;
});

afterAll(() => pki?.remove());

describe('certsteward inspect <file>', () => {
  it('shows the SANs and the SHA-256 and SHA-1 fingerprints exactly as `openssl x509 -fingerprint` prints them', async () => {
    const r = await cli(['inspect', paths.leaf!], { now });
    expect(r.code).toBe(0);
    const facts = opensslFacts(paths.leaf!);
    expect(r.stdout).toMatch(new RegExp(`SHA-256 +${facts.sha256Colon}\\n`));
    expect(r.stdout).toMatch(new RegExp(`SHA-1 +${facts.sha1Colon}\\n`));
    expect(r.stdout).toContain('DNS:www.inspect.test, DNS:inspect.test, IP Address:192.0.2.7');
  });

  it('shows subject, issuer, serial, validity with time left and status, key, signature, CA, usages, key ids and URLs', async () => {
    const r = await cli(['inspect', paths.leaf!], { now });
    const facts = opensslFacts(paths.leaf!);
    const serial = openssl(['x509', '-in', paths.leaf!, '-noout', '-serial']).trim().replace('serial=', '');
    const ski = openssl(['x509', '-in', paths.leaf!, '-noout', '-ext', 'subjectKeyIdentifier']).split('\n')[1]!.trim();
    const card = r.stdout;
    expect(card).toMatch(/Subject +CN=www\.inspect\.test\n/);
    expect(card).toMatch(/Issuer +CN=Inspect Intermediate\n/);
    expect(card.replace(/:/g, '')).toContain(serial);
    expect(card).toContain(`Not after           ${facts.notAfter.toISOString().replace('.000Z', 'Z')} (90d 11h left)`);
    expect(card).toMatch(/Status +ok: valid until/);
    expect(card).toMatch(/Key +EC P-256 \(256 bits\)/);
    expect(card).toMatch(/Signature +ecdsa-with-SHA256/);
    expect(card).toMatch(/CA +no\n/);
    expect(card).toMatch(/Key usage +digitalSignature\n/);
    expect(card).toMatch(/Extended key usage +serverAuth, clientAuth\n/);
    expect(card).toContain(`Subject key id      ${ski}`);
    expect(card).toMatch(/OCSP +http:\/\/ocsp\.pki\.test\n/);
    expect(card).toMatch(/CA issuers +http:\/\/pki\.test\/intermediate\.crt\n/);
    expect(card).toMatch(/CRL +http:\/\/crl\.pki\.test\/intermediate\.crl\n/);
    expect(card).toMatch(/Self-signed +no\n/);
  });

  it('reads a DER file as well as PEM', async () => {
    const r = await cli(['inspect', paths.der!], { now });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(opensslFacts(paths.leaf!).sha256Colon);
  });

  it('reports a missing intermediate together with the AIA caIssuers URL to fetch it from', async () => {
    const r = await cli(['inspect', paths.leaf!], { now });
    expect(r.stdout).toMatch(/Verdict +incomplete: missing intermediate "CN=Inspect Intermediate" \(fetch it from http:\/\/pki\.test\/intermediate\.crt\)/);
  });

  it('shows each card in file order, then the path leaf → root with each signature', async () => {
    const r = await cli(['inspect', paths.chain!], { now });
    expect(r.stdout.indexOf('Certificate #0 of 2 (end entity)')).toBeLessThan(r.stdout.indexOf('Certificate #1 of 2 (CA)'));
    expect(r.stdout).toMatch(/Path +#0 CN=www\.inspect\.test\n +#1 CN=Inspect Intermediate\n/);
    expect(r.stdout).toMatch(/Signatures +#0 CN=www\.inspect\.test by CN=Inspect Intermediate: valid\n/);
    expect(r.stdout).toMatch(/Order +leaf → root\n/);
    // The intermediate's issuer (the root) is neither sent nor trusted.
    expect(r.stdout).toMatch(/Verdict +incomplete: the chain ends at "CN=Inspect Intermediate", whose issuer "CN=Inspect Root" is neither in the input nor a trusted root \(fetch it from http:\/\/pki\.test\/root\.crt\)/);
  });

  it('reports an out-of-order bundle and the order it should have', async () => {
    const r = await cli(['inspect', paths.reversed!], { now });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Path +#1 CN=www\.inspect\.test\n +#0 CN=Inspect Intermediate\n/);
    expect(r.stdout).toMatch(/Order +out of order: the input lists #0, #1; leaf → root is #1, #0\n/);
  });

  it('calls the chain complete and trusted when --roots holds its root', async () => {
    const r = await cli(['inspect', paths.chain!, '--roots', paths.root!], { now });
    expect(r.stdout).toMatch(/Verdict +complete, ends at a trusted root\n/);
    expect(r.stdout).toMatch(/Path +#0 .*\n +#1 .*\n +\(trust anchor\) CN=Inspect Root\n/);
  });

  it('says a self-signed certificate is a complete chain whose root is not trusted', async () => {
    const r = await cli(['inspect', paths.root!], { now });
    expect(r.stdout).toMatch(/Certificate #0 \(self-signed\)/);
    expect(r.stdout).toMatch(/CA +yes\n/);
    expect(r.stdout).toMatch(/Verdict +complete, but the root "CN=Inspect Root" is not trusted/);
  });

  it('--json prints one JSON document with ISO dates, base64 DER, colon fingerprints, expiry and the chain verdict', async () => {
    const r = await cli(['inspect', paths.chain!, '--json'], { now });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      source: { kind: string; path: string };
      certificates: { index: number; notAfter: string; der: string; subjectAltNames: unknown[]; fingerprintsColon: { sha256: string }; expiry: { status: string } }[];
      chain: { verdict: string; outOfOrder: boolean; path: { index: number | null; subject: string }[]; missingIssuer: { caIssuerUrls: string[] } | null };
    };
    expect(doc.source).toEqual({ kind: 'file', path: paths.chain });
    expect(doc.certificates).toHaveLength(2);
    const facts = opensslFacts(paths.leaf!);
    expect(doc.certificates[0]!.notAfter).toBe(facts.notAfter.toISOString());
    expect(doc.certificates[0]!.fingerprintsColon.sha256).toBe(facts.sha256Colon);
    expect(doc.certificates[0]!.expiry.status).toBe('ok');
    expect(doc.certificates[0]!.subjectAltNames).toContainEqual({ type: 'ip', value: '192.0.2.7' });
    const derFromOpenssl = openssl(['x509', '-in', paths.leaf!, '-outform', 'PEM']).replace(/-----[^-]+-----|\s/g, '');
    expect(doc.certificates[0]!.der).toBe(derFromOpenssl);
    expect(doc.chain.path.map((p) => p.index)).toEqual([0, 1]);
    expect(doc.chain.outOfOrder).toBe(false);
    expect(doc.chain.missingIssuer?.caIssuerUrls).toEqual(['http://pki.test/root.crt']);
    expect(doc.chain.verdict).toMatch(/^incomplete/);
  });

  it('shows the readable certificates of a bundle with a cut certificate, and exits 3', async () => {
    const r = await cli(['inspect', paths.cut!], { now });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('Certificate #0 of 2 (end entity)');
    expect(r.stdout).toMatch(/Certificate #1: unreadable: .*(cut|END)/);
  });

  it('exits 3 with the reason for a file that holds a private key', async () => {
    const r = await cli(['inspect', paths.key!], { now });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/private key, not a certificate/);
    expect(r.stdout).toBe('');
  });

  it('exits 3 for a directory (pointing to check) and for a missing file', async () => {
    const dir = await cli(['inspect', pki.dir], { now });
    expect(dir.code).toBe(3);
    expect(dir.stderr).toContain(`certsteward check ${pki.dir}`);
    const missing = await cli(['inspect', join(pki.dir, 'missing.pem')], { now });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no such file or directory');
  });

  it('exits 3 with usage when given no target or two', async () => {
    for (const argv of [['inspect'], ['inspect', paths.leaf!, paths.chain!]]) {
      const r = await cli(argv, { now });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('Usage: certsteward inspect');
    }
  });
});
