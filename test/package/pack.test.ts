/**
 * The package as users get it: `npm pack`, install the tarball into a scratch
 * project, import it as ESM and CJS, type-check against its .d.ts, run its bin,
 * and let publint and attw judge the package.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
let work: string;
let tarball: string;
let project: string;

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const PEM_FIXTURE = () => {
  const dir = join(work, 'fixture');
  mkdirSync(dir, { recursive: true });
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '10',
    '-subj', '/CN=packed.example.test', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'),
  ], { stdio: 'ignore' });
  return join(dir, 'c.pem');
};

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js'))) run(bin('tsup'), ['--silent'], root);
  work = mkdtempSync(join(tmpdir(), 'certsteward-pack-'));
  const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], root)) as Array<{ filename: string }>;
  tarball = join(work, out[0]!.filename);
  project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }));
  run('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], project);
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships dist, README and package.json, and no sources or tests', () => {
    const files = run('tar', ['-tzf', tarball], work).split('\n').filter(Boolean);
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.cjs');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/dist/index.d.cts');
    expect(files).toContain('package/README.md');
    expect(files.some((f) => f.startsWith('package/src/') || f.startsWith('package/test/'))).toBe(false);
  });

  it('imports as ESM and parses a certificate', () => {
    const pem = PEM_FIXTURE();
    const out = run(process.execPath, ['--input-type=module', '-e', `
      import { parseCertificate, expiryStatus } from 'certsteward';
      import { readFileSync } from 'node:fs';
      const c = parseCertificate(readFileSync(${JSON.stringify(pem)}));
      console.log(c.subject.dn, expiryStatus(c, new Date()).status);
    `], project);
    expect(out.trim()).toBe('CN=packed.example.test warning');
  });

  it('requires as CJS and parses a certificate', () => {
    const pem = PEM_FIXTURE();
    const out = run(process.execPath, ['-e', `
      const { parseCertificate } = require('certsteward');
      console.log(parseCertificate(require('node:fs').readFileSync(${JSON.stringify(pem)})).subject.dn);
    `], project);
    expect(out.trim()).toBe('CN=packed.example.test');
  });

  it('recognises an error thrown by the ESM copy from the CJS copy (error identity is shared)', () => {
    const out = run(process.execPath, ['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      const esm = await import('certsteward');
      const cjs = createRequire(import.meta.url)('certsteward');
      let err;
      try { esm.parseCertificate('') } catch (e) { err = e }
      console.log(esm.isCertstewardError(err, 'certificate-parse'), cjs.isCertstewardError(err, 'certificate-parse'),
        cjs.isCertstewardError(err, 'config'), cjs.isCertstewardError(new Error('x')), err.reason);
    `], project);
    expect(out.trim()).toBe('true true false false empty');
  });

  it('imports every subpath entry as ESM and as CJS', () => {
    const out = run(process.execPath, ['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const names = [];
      for (const entry of ['certsteward', 'certsteward/testing', 'certsteward/local-ca', 'certsteward/knex', 'certsteward/acme', 'certsteward/fabric-ca']) {
        const esm = await import(entry);
        const cjs = require(entry);
        names.push(entry + ':' + Object.keys(esm).length + ':' + (Object.keys(esm).sort().join() === Object.keys(cjs).sort().join()));
      }
      const testing = await import('certsteward/testing');
      const local = await import('certsteward/local-ca');
      // knex is the host's (an optional peer, not installed here): the entry loads without it.
      const knexEntry = await import('certsteward/knex');
      // So do the ACME entry (acme-client is imported when an authority is created) and the Fabric CA entry.
      const acmeEntry = await import('certsteward/acme');
      const fabricEntry = await import('certsteward/fabric-ca');
      console.log(names.join(' '), typeof testing.ManualClock, typeof testing.describeCertificateStore, typeof local.LocalAuthority,
        typeof knexEntry.KnexStore, typeof knexEntry.importTable, typeof acmeEntry.AcmeAuthority, typeof fabricEntry.FabricCaAuthority);
    `], project);
    expect(out.trim()).toMatch(
      /^certsteward:\d+:true certsteward\/testing:\d+:true certsteward\/local-ca:\d+:true certsteward\/knex:\d+:true certsteward\/acme:\d+:true certsteward\/fabric-ca:\d+:true( function){7}$/,
    );
  });

  it('shares error classes between entries of one format (splitting), and error identity across formats', () => {
    const out = run(process.execPath, ['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      const root = await import('certsteward');
      const testing = await import('certsteward/testing');
      const cjsRoot = createRequire(import.meta.url)('certsteward');
      let err;
      try { new testing.ManualClock('not a date') } catch (e) { err = e }
      console.log(err instanceof root.ConfigError, root.isCertstewardError(err, 'config'), cjsRoot.isCertstewardError(err, 'config'));
    `], project);
    expect(out.trim()).toBe('true true true');
  });

  it('resolves its types from ESM (.mts) and CJS (.cts) consumers under NodeNext', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false,
          typeRoots: [join(root, 'node_modules', '@types')], types: ['node'],
        },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    const body = (imp: string) => `${imp}
const info: CertificateInfo = parseCertificate('');
const days: number = expiryStatus(info, new Date()).daysRemaining;
const at: Date = renewalTime(info, { before: '30d' }, 'id').at;
// @ts-expect-error a renewal policy has no such option: proves the types are real, not any
renewalTime(info, { renewBefore: '30d' });
export { days, at };
`;
    writeFileSync(join(project, 'esm.mts'), body(`import { parseCertificate, expiryStatus, renewalTime, type CertificateInfo } from 'certsteward';`));
    writeFileSync(join(project, 'cjs.cts'), body(`import { parseCertificate, expiryStatus, renewalTime, type CertificateInfo } from 'certsteward';`));
    const r = spawnSync(bin('tsc'), ['-p', project], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('installs a working certsteward bin', () => {
    const r = spawnSync(join(project, 'node_modules', '.bin', 'certsteward'), ['--version'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toContain(pkg.version);
  });

  it('passes publint', () => {
    const r = spawnSync(bin('publint'), ['--strict', join(project, 'node_modules', 'certsteward')], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  // node10 resolution (no `exports` support) is out of scope: engines.node is >= 20.
  it('passes are-the-types-wrong for node16 ESM and CJS and bundlers', () => {
    const r = spawnSync(bin('attw'), [tarball, '--profile', 'node16', '--format', 'ascii', '--no-emoji', '--no-color'], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
