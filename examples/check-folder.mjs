// @ts-check
// The main job of `npm run demo`, for now: make a folder of certificates with
// staggered expiry (signed by a throwaway CA), read them back through the
// public API, and let the `certsteward` CLI inspect and check the folder.
//
//   node examples/check-folder.mjs [folder]     (after `npm run build`)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as x509 from '@peculiar/x509';
import { expiryStatus, formatDuration, parseCertificates, renewalTime, toPem } from 'certsteward';

const DAY = 86_400_000;
const now = new Date();
const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'certsteward-demo-'));
mkdirSync(dir, { recursive: true });
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

const ec = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const subtle = globalThis.crypto.subtle;

const caKeys = await subtle.generateKey(ec, true, ['sign', 'verify']);
const ca = await x509.X509CertificateGenerator.createSelfSigned(
  {
    serialNumber: '01',
    name: 'CN=certsteward demo root,O=certsteward demo',
    notBefore: new Date(now.getTime() - 400 * DAY),
    notAfter: new Date(now.getTime() + 3650 * DAY),
    keys: caKeys,
    signingAlgorithm: ec,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  },
  globalThis.crypto,
);
writeFileSync(join(dir, 'root-ca.pem'), ca.toString('pem') + '\n');

/** Leaf certificates: name, days since issuance, lifetime in days. */
const fleet = [
  ['api.example.test', 10, 90],
  ['www.example.test', 45, 90],
  ['mail.example.test', 70, 90],
  ['vpn.example.test', 85, 90],
  ['legacy.example.test', 400, 365],
  ['next.example.test', -2, 30],
];
let serial = 2;
for (const [name, ageDays, lifetimeDays] of fleet) {
  const keys = await subtle.generateKey(ec, true, ['sign', 'verify']);
  const notBefore = new Date(now.getTime() - Number(ageDays) * DAY);
  const leaf = await x509.X509CertificateGenerator.create(
    {
      serialNumber: (serial++).toString(16).padStart(2, '0'),
      subject: `CN=${name}`,
      issuer: ca.subject,
      notBefore,
      notAfter: new Date(notBefore.getTime() + Number(lifetimeDays) * DAY),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ec,
      extensions: [
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: String(name) }]),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    },
    globalThis.crypto,
  );
  // A full chain per service, as servers are configured.
  writeFileSync(join(dir, `${name}.pem`), leaf.toString('pem') + '\n' + ca.toString('pem') + '\n');
}
// Something that is not a certificate: the check skips it with a note.
const pkcs8 = await subtle.exportKey('pkcs8', (await subtle.generateKey(ec, true, ['sign'])).privateKey);
writeFileSync(join(dir, 'stray.key'), toPem(new Uint8Array(pkcs8), 'PRIVATE KEY'));

console.log(`certsteward demo — ${fleet.length} services and a root CA in ${dir}\n`);
console.log('Through the library (parseCertificates, expiryStatus, renewalTime):');
for (const [name] of fleet) {
  const [leaf] = parseCertificates(readFileSync(join(dir, `${name}.pem`)));
  if (!leaf) continue;
  const status = expiryStatus(leaf, now);
  const renew = renewalTime(leaf, {}, String(name));
  const due = renew.at.getTime() <= now.getTime() ? 'renew now' : `renew in ${formatDuration(renew.at.getTime() - now.getTime())}`;
  console.log(`  ${String(name).padEnd(22)} ${status.status.padEnd(14)} ${due.padEnd(18)} ${renew.reason}`);
}

console.log('\n$ certsteward inspect www.example.test.pem');
const inspect = spawnSync(process.execPath, [cli, 'inspect', join(dir, 'www.example.test.pem')], { encoding: 'utf8' });
process.stdout.write(inspect.stdout + inspect.stderr);

console.log(`\n$ certsteward check ${dir}`);
const check = spawnSync(process.execPath, [cli, 'check', dir], { encoding: 'utf8' });
process.stdout.write(check.stdout + check.stderr);
console.log(`(exit code ${check.status}: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN — the monitoring-plugin convention)`);

console.log(`\n$ certsteward check ${dir} --format nagios`);
const nagios = spawnSync(process.execPath, [cli, 'check', dir, '--format', 'nagios'], { encoding: 'utf8' });
process.stdout.write(nagios.stdout);
if (check.status !== 2 || nagios.status !== 2) {
  console.error('unexpected: this fleet holds expired certificates, so the check must report CRITICAL (2)');
  process.exit(1);
}
