// Loads the real certificates the benchmarks run on: the zlint test corpus and
// the machine's CA bundle, as unique DER certificates that OpenSSL can read.
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const CORPUS = join(here, '..', '..', 'shared', 'corpus', 'zlint-testdata');
const BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

function pemBlocks(text) {
  const out = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let m; (m = re.exec(text)); ) out.push(new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64')));
  return out;
}

export function loadCorpus() {
  const ders = [];
  if (existsSync(CORPUS)) {
    for (const f of readdirSync(CORPUS)) if (f.endsWith('.pem')) ders.push(...pemBlocks(readFileSync(join(CORPUS, f), 'latin1')));
  }
  if (existsSync(BUNDLE)) ders.push(...pemBlocks(readFileSync(BUNDLE, 'latin1')));
  const seen = new Set();
  const unique = [];
  for (const d of ders) {
    const h = createHash('sha256').update(d).digest('hex');
    if (seen.has(h)) continue;
    seen.add(h);
    try {
      void new X509Certificate(d).publicKey;
      unique.push(d);
    } catch {
      // OpenSSL cannot read it: not comparable.
    }
  }
  return unique;
}
