import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tableLine } from './capture-io.js';
import { DAY_MS, OpensslPki, openssl, type Issued } from './openssl-pki.js';

let pki: OpensslPki;
let now: Date;
const dirs: Record<string, string> = {};
const files: Record<string, string> = {};
let root: Issued;
let ok: Issued;

beforeAll(() => {
  pki = new OpensslPki('certsteward-check-');
  now = new Date();
  const t = now.getTime();
  root = pki.issue({ cn: 'Check Root', ca: true, notAfter: new Date(t + 3650 * DAY_MS) });
  ok = pki.issue({ cn: 'ok.test', issuer: root, notAfter: new Date(t + 365.5 * DAY_MS) });
  const warning = pki.issue({ cn: 'warning.test', issuer: root, notAfter: new Date(t + 20.5 * DAY_MS) });
  const critical = pki.issue({ cn: 'critical.test', issuer: root, notAfter: new Date(t + 3.5 * DAY_MS) });
  const expired = pki.issue({ cn: 'expired.test', issuer: root, notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') });
  const future = pki.issue({ cn: 'future.test', issuer: root, notBefore: new Date(t + 10 * DAY_MS), notAfter: new Date(t + 400 * DAY_MS) });

  for (const [name, c] of Object.entries({ ok, warning, critical, expired })) files[`mixed/${name}`] = pki.place(`mixed/${name}.pem`, c.pem);
  dirs.mixed = join(pki.dir, 'mixed');

  files['okonly/ok'] = pki.place('okonly/ok.pem', ok.pem);
  // Things that are not certificates, next to one that is.
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=csr.test',
    '-keyout', join(pki.dir, 'okonly', 'server.key'), '-out', join(pki.dir, 'okonly', 'server.csr')]);
  pki.place('okonly/README.txt', 'certificates live here\n');
  pki.place('okonly/serial', '01\n'); // starts with "0" = 0x30, the DER SEQUENCE tag
  pki.place('okonly/logo.png', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  pki.place('okonly/index.txt.old', '');
  dirs.okonly = join(pki.dir, 'okonly');

  files['warnonly/ok'] = pki.place('warnonly/ok.pem', ok.pem);
  files['warnonly/warning'] = pki.place('warnonly/warning.pem', warning.pem);
  dirs.warnonly = join(pki.dir, 'warnonly');

  const lines = ok.pem.trimEnd().split('\n');
  files['corrupt/cut'] = pki.place('corrupt/cut.pem', lines.slice(0, Math.floor(lines.length / 2)).join('\n') + '\n');
  files['corrupt/ok'] = pki.place('corrupt/ok.pem', ok.pem);
  files['corrupt/zero'] = pki.place('corrupt/zero.crt', ''); // a deploy that truncated the certificate
  dirs.corrupt = join(pki.dir, 'corrupt');

  files.bundle = pki.place('bundle/fullchain.pem', ok.pem + root.pem);
  files.future = pki.place('future/future.pem', future.pem);
  files.expired = pki.place('expired-only/expired.pem', expired.pem);
  files.key = join(pki.dir, 'okonly', 'server.key');

  // Symbolic links: to a file, to the parent folder (a loop), and to nowhere.
  const links = join(pki.dir, 'links');
  mkdirSync(join(links, 'sub'), { recursive: true });
  files['links/real'] = pki.place('links/real.pem', ok.pem);
  symlinkSync(join(pki.dir, 'warnonly', 'warning.pem'), join(links, 'sub', 'to-warning.pem'));
  symlinkSync(links, join(links, 'sub', 'loop'));
  symlinkSync(join(links, 'real.pem'), join(links, 'alias.pem'));
  symlinkSync(join(pki.dir, 'does-not-exist.pem'), join(links, 'dangling.pem'));
  dirs.links = links;

  pki.place('nothing/notes.txt', 'no certificates here\n');
  dirs.nothing = join(pki.dir, 'nothing');
});

afterAll(() => pki?.remove());

describe('certsteward check: statuses and exit codes', () => {
  it('exits 2 for a folder with ok, warning, critical and expired certificates, and gives each line its own status', async () => {
    const r = await cli(['check', dirs.mixed!], { now });
    expect(r.code).toBe(2);
    expect(tableLine(r.stdout, files['mixed/ok']!)?.status).toBe('OK');
    expect(tableLine(r.stdout, files['mixed/warning']!)?.status).toBe('WARNING');
    expect(tableLine(r.stdout, files['mixed/critical']!)?.status).toBe('CRITICAL');
    expect(tableLine(r.stdout, files['mixed/expired']!)?.status).toBe('EXPIRED');
    expect(r.stdout).toContain('4 certificates: 1 ok, 1 warning, 1 critical, 1 expired, 0 unknown');
  });

  it('shows days left, the notAfter time from OpenSSL, and the subject CN in aligned columns', async () => {
    const r = await cli(['check', dirs.mixed!], { now });
    const line = tableLine(r.stdout, files['mixed/warning']!)!;
    expect(Number(line.days)).toBe(20); // 20.5 days left: 20 whole days
    const enddate = openssl(['x509', '-in', files['mixed/warning']!, '-noout', '-enddate', '-dateopt', 'iso_8601']).trim();
    expect(line.line).toContain(enddate.replace('notAfter=', '').replace(' ', 'T'));
    expect(line.line).toContain('CN=warning.test');
    const table = r.stdout.split('\n').filter((l) => l.includes(pki.dir));
    const pathColumn = new Set(table.map((l) => l.indexOf(pki.dir)));
    expect(pathColumn.size).toBe(1);
    expect(tableLine(r.stdout, files['mixed/expired']!)?.days).toMatch(/^-\d+$/);
  });

  it('exits 0 when every certificate is valid beyond the warning threshold', async () => {
    const r = await cli(['check', files['okonly/ok']!], { now });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1 certificate: 1 ok, 0 warning, 0 critical, 0 expired, 0 unknown');
  });

  it('exits 1 when the worst certificate is within the warning threshold', async () => {
    const r = await cli(['check', dirs.warnonly!], { now });
    expect(r.code).toBe(1);
    expect(tableLine(r.stdout, files['warnonly/warning']!)?.status).toBe('WARNING');
  });

  it('counts a not-yet-valid certificate as CRITICAL (exit 2)', async () => {
    const r = await cli(['check', files.future!], { now });
    expect(r.code).toBe(2);
    expect(tableLine(r.stdout, files.future!)?.status).toBe('NOT-YET-VALID');
    expect(r.stdout).toContain('1 not yet valid');
  });

  it('moves statuses with --warn and --crit', async () => {
    const r = await cli(['check', dirs.mixed!, '--warn', '400d', '--crit', '1d'], { now });
    expect(tableLine(r.stdout, files['mixed/ok']!)?.status).toBe('WARNING');
    expect(tableLine(r.stdout, files['mixed/critical']!)?.status).toBe('WARNING');
    expect(r.code).toBe(2); // the expired one stays CRITICAL
  });
});

describe('certsteward check: what is read and what is skipped', () => {
  it('skips a private key, a CSR, text, binary data and an empty file with a note on stderr, without changing the exit code', async () => {
    const r = await cli(['check', dirs.okonly!], { now });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1 certificate: 1 ok');
    for (const name of ['server.key', 'server.csr', 'README.txt', 'serial', 'logo.png', 'index.txt.old']) {
      expect(r.stderr).toMatch(new RegExp(`skipped [^\\n]*${name.replace('.', '\\.')}: `));
    }
    expect(r.stderr).toMatch(/server\.key: .*private key/);
    expect(r.stderr).toMatch(/server\.csr: .*(certificate signing request|CSR)/);
    expect(r.stdout).not.toContain('UNKNOWN');
  });

  it('reports a truncated PEM certificate as an UNKNOWN line and exits 3 when nothing is worse', async () => {
    const r = await cli(['check', dirs.corrupt!], { now });
    expect(r.code).toBe(3);
    const line = tableLine(r.stdout, files['corrupt/cut']!);
    expect(line?.status).toBe('UNKNOWN');
    expect(line?.line).toMatch(/cut\.pem: .*(cut|truncated|END)/i);
    expect(tableLine(r.stdout, files['corrupt/ok']!)?.status).toBe('OK');
    expect(r.stdout).toContain('3 certificates: 1 ok, 0 warning, 0 critical, 0 expired, 2 unknown');
  });

  it('reports an empty file named like a certificate (.crt) as UNKNOWN, not as a skipped file', async () => {
    const r = await cli(['check', dirs.corrupt!], { now });
    expect(tableLine(r.stdout, files['corrupt/zero']!)?.line).toMatch(/^UNKNOWN .*zero\.crt: the file is empty$/);
    expect(r.stderr).not.toContain('zero.crt');
  });

  it('lets CRITICAL win over UNKNOWN, and WARNING over UNKNOWN (Nagios order)', async () => {
    expect((await cli(['check', dirs.corrupt!, files.expired!], { now })).code).toBe(2);
    expect((await cli(['check', dirs.corrupt!, files['warnonly/warning']!], { now })).code).toBe(1);
  });

  it('labels every certificate of a bundle as file#index', async () => {
    const r = await cli(['check', files.bundle!], { now });
    expect(r.code).toBe(0);
    expect(tableLine(r.stdout, `${files.bundle}#0`)?.line).toContain('CN=ok.test');
    expect(tableLine(r.stdout, `${files.bundle}#1`)?.line).toContain('CN=Check Root');
  });

  it('reads a symlink to a file, lists a file behind two names once, and ends a symlink loop', async () => {
    const r = await cli(['check', dirs.links!], { now });
    expect(r.code).toBe(1);
    const rows = r.stdout.split('\n').filter((l) => /^(OK|WARNING|CRITICAL|EXPIRED|UNKNOWN)\s/.test(l));
    expect(rows).toHaveLength(2);
    expect(r.stdout).toMatch(/WARNING .*sub\/to-warning\.pem/);
    expect(tableLine(r.stdout, files['links/real']!)?.status).toBe('OK'); // the file, not alias.pem that points to it
    expect(r.stderr).toMatch(/dangling\.pem: dangling symbolic link/);
  });

  it('lists a certificate found in several files of one folder once, from its own file rather than the bundle', async () => {
    const both = join(pki.dir, 'dupes');
    pki.place('dupes/a-fullchain.pem', ok.pem + root.pem);
    pki.place('dupes/b-leaf.pem', ok.pem);
    const r = await cli(['check', both], { now });
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('OK'));
    expect(rows).toHaveLength(2);
    expect(tableLine(r.stdout, join(both, 'b-leaf.pem'))?.line).toContain('CN=ok.test');
    expect(tableLine(r.stdout, `${join(both, 'a-fullchain.pem')}#1`)?.line).toContain('CN=Check Root');
    expect(r.stderr).toContain('1 certificate(s) found again');
  });

  it('treats a file named on the command line that holds no certificate as UNKNOWN', async () => {
    const r = await cli(['check', files.key!], { now });
    expect(r.code).toBe(3);
    expect(tableLine(r.stdout, files.key!)?.status).toBe('UNKNOWN');
  });

  it('exits 3 when no certificate is found at all', async () => {
    const r = await cli(['check', dirs.nothing!], { now });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no certificate found');
    expect(r.stdout).toContain('0 certificates');
  });

  it('exits 3 for a path that does not exist', async () => {
    const missing = join(pki.dir, 'no', 'such.pem');
    expect(existsSync(missing)).toBe(false);
    const r = await cli(['check', missing], { now });
    expect(r.code).toBe(3);
    expect(tableLine(r.stdout, missing)?.line).toContain('no such file or directory');
  });
});

describe('certsteward check: arguments', () => {
  it('exits 3 with the ConfigError message for "--warn 3 days"', async () => {
    const r = await cli(['check', dirs.mixed!, '--warn', '3', 'days'], { now });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('invalid warning threshold "3"');
    expect(r.stdout).toBe('');
  });

  it('exits 3 when --crit is longer than --warn', async () => {
    const r = await cli(['check', dirs.mixed!, '--warn', '7d', '--crit', '30d'], { now });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/critical threshold .* must not be longer than the warning threshold/);
  });

  it('exits 3 with usage for an unknown --format, an unknown option, or no target', async () => {
    for (const argv of [['check', dirs.mixed!, '--format', 'xml'], ['check', dirs.mixed!, '--colour'], ['check']]) {
      const r = await cli(argv, { now });
      expect(r.code, argv.join(' ')).toBe(3);
      expect(r.stderr).toContain('Usage: certsteward check');
    }
  });

  it('accepts --name=value as well as --name value', async () => {
    const r = await cli(['check', `--warn=400d`, `--crit=1d`, files['okonly/ok']!], { now });
    expect(r.code).toBe(1);
  });
});

describe('certsteward check: output formats', () => {
  it('--format nagios prints one plugin line: status word, message, and performance data after "|"', async () => {
    const r = await cli(['check', dirs.mixed!, '--format', 'nagios'], { now });
    expect(r.code).toBe(2);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^CERTSTEWARD CRITICAL - 4 certificates, 1 expired, 1 critical, 1 warning: CN=expired\.test expired \d+d ago \(.*expired\.pem\); CN=critical\.test expires in 3d \(.*\); CN=warning\.test expires in 20d \(.*\) \| ok=1 warning=1 critical=2 unknown=0$/);
  });

  it('--format nagios says OK with the soonest expiry when all is well', async () => {
    const r = await cli(['check', files.bundle!, '--format', 'nagios'], { now });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^CERTSTEWARD OK - 2 certificates, soonest expiry in 365d \(CN=ok\.test\) \| ok=2 warning=0 critical=0 unknown=0\n$/);
  });

  it('--format nagios prints an UNKNOWN plugin line on stdout for a bad threshold', async () => {
    const r = await cli(['check', dirs.mixed!, '--format', 'nagios', '--warn', 'soon'], { now });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^CERTSTEWARD UNKNOWN - invalid warning threshold "soon"/);
  });

  it('--format json is one document with every entry, ISO dates, and the summary', async () => {
    const r = await cli(['check', dirs.mixed!, dirs.corrupt!, '--format', 'json'], { now });
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as {
      state: string;
      exitCode: number;
      summary: Record<string, number>;
      entries: { label: string; status: string; notAfter: string | null; daysRemaining: number | null; error: string | null }[];
    };
    expect(doc.state).toBe('CRITICAL');
    expect(doc.exitCode).toBe(2);
    expect(doc.summary).toMatchObject({ total: 7, ok: 2, warning: 1, critical: 1, expired: 1, unknown: 2 });
    const byLabel = new Map(doc.entries.map((e) => [e.label, e]));
    expect(byLabel.get(files['mixed/expired']!)).toMatchObject({ status: 'expired', notAfter: '2020-02-01T00:00:00.000Z' });
    expect(byLabel.get(files['corrupt/cut']!)).toMatchObject({ status: 'unknown', notAfter: null, daysRemaining: null });
    expect(byLabel.get(files['corrupt/cut']!)?.error).toBeTruthy();
  });

  it('keeps stdout free of progress and notes (they go to stderr)', async () => {
    const r = await cli(['check', dirs.okonly!, '--format', 'json'], { now });
    expect(() => JSON.parse(r.stdout)).not.toThrow();
    expect(r.stdout).not.toContain('\r');
    expect(readFileSync(files['okonly/ok']!, 'utf8')).toContain('BEGIN CERTIFICATE');
  });
});
