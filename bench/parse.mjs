// bench/parse: certificates per second for certsteward's parsers against
// Node's OpenSSL binding and the pure-JS parsers on npm, on real certificates.
// Prints a table and the ratios the project's goals are stated in.
//
//   npm run bench:parse            (builds first)
//   node bench/parse.mjs [seconds per case, default 2]
import { X509Certificate } from 'node:crypto';
import { parseCertificate, readValidity, toPem } from '../dist/index.js';
import { loadCorpus } from './corpus.mjs';

const seconds = Number(process.argv[2] ?? 2);
const x509lib = await import('@peculiar/x509');
const pkijs = await import('pkijs');

// Each case reads the fields a fleet inventory needs.
const cases = {
  node: (d) => {
    const c = new X509Certificate(d);
    return [c.subject, c.issuer, c.serialNumber, c.validFrom, c.validTo, c.fingerprint256, c.fingerprint,
      c.subjectAltName, c.infoAccess, c.ca, c.keyUsage, c.publicKey.asymmetricKeyType];
  },
  peculiar: (d) => {
    const c = new x509lib.X509Certificate(d);
    return [c.subject, c.issuer, c.serialNumber, c.notBefore, c.notAfter, c.extensions.length, c.publicKey.algorithm];
  },
  pkijs: (d) => {
    const c = pkijs.Certificate.fromBER(d);
    return [c.subject.typesAndValues.length, c.issuer.typesAndValues.length, c.notBefore.value, c.notAfter.value,
      c.serialNumber.valueBlock, (c.extensions ?? []).length, c.subjectPublicKeyInfo.algorithm.algorithmId];
  },
  full: (d) => {
    const c = parseCertificate(d);
    return [c.subject.dn, c.notAfter, c.fingerprints.sha256];
  },
  validity: (d) => readValidity(d).notAfter,
};

// Only certificates every parser here reads, so each case does the same work.
const ders = loadCorpus().filter((d) => {
  try {
    for (const fn of Object.values(cases)) fn(d);
    return true;
  } catch {
    return false;
  }
});
const pems = ders.map((d) => toPem(d));

function measure(name, fn, inputs = ders) {
  for (let i = 0; i < Math.min(inputs.length, 300); i++) fn(inputs[i]);
  let n = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() - start < budget) {
    for (let i = 0; i < inputs.length; i++) sink += fn(inputs[i]) === undefined ? 0 : 1;
    n += inputs.length;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  if (sink !== n) throw new Error(`${name}: a parse returned undefined`);
  const rate = n / elapsed;
  console.log(`${name.padEnd(52)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} certs/s`);
  return rate;
}

console.log(`corpus: ${ders.length} unique certificates every parser here reads (zlint test data + CA bundle)`);
console.log(`Node ${process.version}, ${seconds}s per case\n`);

const nodeRate = measure('node:crypto X509Certificate (fields read)', cases.node);
const peculiarRate = measure('@peculiar/x509 X509Certificate (fields read)', cases.peculiar);
const pkijsRate = measure('pkijs Certificate.fromBER (fields read)', cases.pkijs);
const fullRate = measure('certsteward parseCertificate (DER, all fields)', cases.full);
const validityRate = measure('certsteward readValidity (DER)', cases.validity);
const pemValidityRate = measure('certsteward readValidity (PEM text)', cases.validity, pems);

const r = (a, b) => `${(a / b).toFixed(1)}x`;
console.log('\nratios');
console.log(`readValidity / X509Certificate        ${r(validityRate, nodeRate)}   (goal ≥ 100x)`);
console.log(`parseCertificate / X509Certificate    ${r(fullRate, nodeRate)}   (goal ≥ 1x)`);
console.log(`parseCertificate / @peculiar/x509     ${r(fullRate, peculiarRate)}`);
console.log(`parseCertificate / pkijs              ${r(fullRate, pkijsRate)}`);
console.log(`readValidity(PEM) / X509Certificate   ${r(pemValidityRate, nodeRate)}`);
console.log(`a 1,000,000-certificate scan with readValidity takes ${(1e6 / validityRate).toFixed(2)} s`);
