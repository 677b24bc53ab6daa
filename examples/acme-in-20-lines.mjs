// ACME in 20 lines: a steward wired to an ACME CA (Let's Encrypt staging by
// default) that answers http-01 itself, tracks one certificate, prints the
// renewal.succeeded event and exits (non-zero, with the CA's reason, if the
// attempt fails).
//
//   node examples/acme-in-20-lines.mjs www.example.com     (after `npm run build`)
//
// The CA fetches http://<name>/.well-known/acme-challenge/<token>: with a real
// CA, run it on the machine <name> points at, with port 80 free.
// Environment (the tests point it at Pebble):
//   ACME_DIRECTORY_URL  the CA's directory (default: Let's Encrypt staging,
//                       https://acme-staging-v02.api.letsencrypt.org/directory)
//   ACME_CA_FILE        a PEM file of extra trust anchors for the CA's HTTPS
//                       (a private ACME server, Pebble; default: none)
//   HTTP01_PORT         the port the http-01 responder listens on (default 80)
// Store and keys live in memory here: a real host uses KnexStore and
// SoftwareKeyStore, so the account key and the certificate survive restarts.
import { readFileSync } from 'node:fs';
import { createSteward, parseCertificates } from 'certsteward';
import { AcmeAuthority, Http01Solver } from 'certsteward/acme';
import { MemoryKeyStore, MemoryStore } from 'certsteward/testing';

const { ACME_DIRECTORY_URL, ACME_CA_FILE, HTTP01_PORT } = process.env;
const name = process.argv[2] ?? 'www.example.com';
const keys = new MemoryKeyStore();
const http01 = new Http01Solver();
await http01.listen(Number(HTTP01_PORT ?? 80));
const acme = await AcmeAuthority.create({
  directoryUrl: ACME_DIRECTORY_URL ?? 'https://acme-staging-v02.api.letsencrypt.org/directory',
  accountKey: await keys.generate({ algorithm: 'ECDSA-P256' }),
  termsOfServiceAgreed: true,
  solvers: [http01],
  ...(ACME_CA_FILE ? { ca: readFileSync(ACME_CA_FILE, 'utf8') } : {}),
});
const steward = createSteward({ store: new MemoryStore(), keys, authorities: { acme } });
const done = new Promise((resolve, reject) => {
  steward.once('renewal.succeeded', resolve);
  steward.once('renewal.failed', (e) => reject(new Error(`${e.id}: ${e.errorKind}: ${e.message}`)));
});
await steward.track({ id: name, authority: 'acme', subjectAltNames: [name] });
await steward.start();
const e = await done.finally(async () => { await steward.stop(); await acme.close(); await http01.close(); });
const names = parseCertificates(e.chainPem)[0].subjectAltNames.map((n) => n.value);
console.log(`renewal.succeeded ${e.id}: serial ${e.serialNumber}, names ${names.join(', ')}, valid until ${e.notAfter.toISOString()}`);
