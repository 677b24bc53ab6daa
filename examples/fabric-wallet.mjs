// @ts-check
// A host service adopting its Hyperledger Fabric wallet table and letting the
// steward keep it renewed: the wallet rows are adopted once (importTable),
// re-enrollment at the Fabric CA renews them before they expire (an expired
// one is recovered through the registrar), and every renewal is written back
// to its row — certificate, expiry and private key in one UPDATE (syncTable),
// so the applications reading the wallet always find a matching pair.
//
//   node examples/fabric-wallet.mjs           a service: runs until SIGINT/SIGTERM
//   node examples/fabric-wallet.mjs --once    one pass (cron): renews what is due, then exits
//   (after `npm run build`)
//
// The wallet table (Fabric's X.509 identities, one row per label):
//   label text primary key, certificate text (PEM), private_key text (PKCS#8 PEM),
//   type text ('X.509'), certificate_expires_at timestamptz, certificate_notified_at timestamptz,
//   revoked boolean (rows marked revoked are never renewed), revoked_at, revocation_reason
// Environment:
//   DATABASE_URL           PostgreSQL holding the wallet (and the steward's own tables)
//   WALLET_TABLE           the wallet table (default "wallet"; "schema.table" allowed)
//   CERTSTEWARD_SCHEMA     PostgreSQL schema of the steward's tables (default: the search path)
//   FABRIC_CA_URL          the Fabric CA, https://ca.org1.example.com:7054
//   FABRIC_CA_NAME         its CA name (default: the server's default CA)
//   FABRIC_CA_TLS_CA_FILE  PEM trust anchor of the CA's TLS certificate
//   FABRIC_CA_REGISTRAR    "id:secret" of a registrar (recovers expired certificates; never registers)
//   CERTSTEWARD_KEK        base64 of 32 bytes: seals the keys the steward generates (keep it in a secret manager)
// Exits non-zero when a renewal failed or a row could not be adopted.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import knexFactory from 'knex';
import { SoftwareKeyStore, createSteward } from 'certsteward';
import { FabricCaAuthority } from 'certsteward/fabric-ca';
import { KnexStore, importTable, syncTable } from 'certsteward/knex';

const { values: args } = parseArgs({ options: { once: { type: 'boolean', default: false } } });
const env = (name) => process.env[name] || (() => { throw new Error(`${name} is not set (see the header of ${process.argv[1]})`); })();
const table = process.env.WALLET_TABLE || 'wallet';
const [registrarId, ...secret] = env('FABRIC_CA_REGISTRAR').split(':');
const DAY = 86_400_000;
const day = (d) => d.toISOString().slice(0, 10);

const knex = knexFactory({ client: 'pg', connection: env('DATABASE_URL'), pool: { min: 0, max: 4 } });
const store = new KnexStore(knex, process.env.CERTSTEWARD_SCHEMA ? { schema: process.env.CERTSTEWARD_SCHEMA } : {});
await store.migrate();
// exportable: the renewed keys are written to the wallet, which keeps its keys as PKCS#8 PEM.
const keys = new SoftwareKeyStore({ kek: Buffer.from(env('CERTSTEWARD_KEK'), 'base64'), exportable: true });

/** An adopted certificate's key is in its wallet row until the first renewal (then the steward holds it). */
async function walletKey(label) {
  const row = await knex(table).where({ label, type: 'X.509' }).first('private_key');
  if (!row?.private_key) return undefined;
  const key = createPrivateKey(row.private_key);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const algorithm = curve === 'prime256v1' ? 'ECDSA-P256' : curve === 'secp384r1' ? 'ECDSA-P384' : undefined;
  if (!algorithm) return undefined; // Fabric tokens are ECDSA: the registrar recovers the identity instead
  return keys.import({ pkcs8: new Uint8Array(key.export({ type: 'pkcs8', format: 'der' })), algorithm, label });
}

const fabric = new FabricCaAuthority({
  url: env('FABRIC_CA_URL'),
  ...(process.env.FABRIC_CA_NAME ? { caName: process.env.FABRIC_CA_NAME } : {}),
  tls: { ca: readFileSync(env('FABRIC_CA_TLS_CA_FILE'), 'utf8') },
  registrar: { enrollmentId: registrarId, enrollmentSecret: secret.join(':') },
  currentKey: (request) => walletKey(request.id),
});
const steward = createSteward({ store, keys, authorities: { fabric } });

let failures = 0;
steward.on('certificate.expiring', (e) => console.log(`expiring ${e.id}: ${e.level}, ${e.daysRemaining} days left (until ${day(e.notAfter)})`));
steward.on('certificate.expired', (e) => console.log(`expired ${e.id} on ${day(e.notAfter)}: ${e.recovery}`));
steward.on('renewal.succeeded', (e) => console.log(`renewed ${e.id}: serial ${e.serialNumber}, valid until ${e.notAfter.toISOString()}`));
steward.on('renewal.failed', (e) => {
  failures++;
  console.error(`renewal of ${e.id} failed (attempt ${e.attempt}): ${e.errorKind}: ${e.message}`);
});
steward.on('error', (e) => console.error(`steward: ${e.message}`));

const columns = { id: 'label', certificate: 'certificate', expiresAt: 'certificate_expires_at' };
const report = await importTable(knex, steward, {
  table,
  columns: { ...columns, revoked: 'revoked' },
  where: { type: 'X.509' },
  authority: 'fabric',
  labels: () => ({ source: 'wallet' }),
});
console.log(`adopted ${report.tracked} of ${report.scanned} wallet rows`);
for (const p of report.problems) console.log(`  ${p.outcome} ${p.id ?? '(no id)'}: ${p.reason}`);

const sync = await syncTable(knex, steward, {
  table,
  columns: { ...columns, notifiedAt: 'certificate_notified_at' },
  where: { type: 'X.509' },
  // The new key, in the same UPDATE as its certificate.
  renewalValues: async (e) => {
    const { key } = await steward.tlsMaterial(e.id);
    const pkcs8 = Buffer.from(await key.crypto.subtle.exportKey('pkcs8', key.privateKey)).toString('base64');
    return { private_key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n` };
  },
  onWrite: (w) => w.event === 'renewal.succeeded' && console.log(`wallet row ${w.id} updated: new certificate and key (${w.updated} row)`),
  onError: (f) => {
    failures++;
    console.error(f.message);
  },
});

const fleet = async () => {
  for (const c of await steward.list()) {
    const left = c.certificate ? Math.floor((c.certificate.notAfter.getTime() - Date.now()) / DAY) : NaN;
    const next = await steward.explain(c.id);
    const when = !next.at ? '' : next.at.getTime() <= Date.now() ? 'now' : day(next.at);
    console.log(`  ${c.id.padEnd(14)} until ${c.certificate ? day(c.certificate.notAfter) : '-'} (${left} days)  next: ${next.action} ${when}`);
  }
};
console.log('wallet:');
await fleet();

const shutdown = async () => {
  await steward.stop();
  await sync(); // the writes already started finish
  await knex.destroy();
};
if (args.once) {
  const run = await steward.runOnce();
  await sync.flush();
  console.log(`one pass: ${run.renewed} renewed, ${run.failed} failed`);
  await fleet();
  await shutdown();
  process.exitCode = failures > 0 || report.failed > 0 ? 1 : 0;
} else {
  await steward.start();
  console.log('keeping the wallet renewed (Ctrl-C stops)');
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void shutdown());
}
