/**
 * Certificates nobody in this project wrote: the zlint test data in
 * `../shared/corpus` and the machine's CA bundle. Not a test file.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The zlint test data directory (`<repo>/../shared/corpus/zlint-testdata`). */
export const ZLINT_DIR = fileURLToPath(new URL('../../../../shared/corpus/zlint-testdata/', import.meta.url));

/** The system CA bundle (Debian/Ubuntu layout). */
export const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** One zlint `.pem` file. */
export interface CorpusFile {
  readonly name: string;
  readonly path: string;
  readonly text: string;
}

let cache: CorpusFile[] | undefined;

/** Every zlint `.pem` file, sorted by name. */
export function zlintFiles(): CorpusFile[] {
  cache ??= readdirSync(ZLINT_DIR)
    .filter((n) => n.endsWith('.pem'))
    .sort()
    .map((name) => {
      const path = join(ZLINT_DIR, name);
      return { name, path, text: readFileSync(path, 'latin1') };
    });
  return cache;
}

/** The zlint files holding at least one certificate PEM block. */
export function zlintCertificateFiles(): CorpusFile[] {
  return zlintFiles().filter((f) => f.text.includes('-----BEGIN CERTIFICATE-----'));
}

/** The zlint files holding a CRL PEM block. */
export function zlintCrlFiles(): CorpusFile[] {
  return zlintFiles().filter((f) => f.text.includes('-----BEGIN X509 CRL-----'));
}

/**
 * The PEM blocks of `text` with the given label, split with a plain regular
 * expression (independently of the code under test), each with its END line.
 */
export function splitPem(text: string, label = 'CERTIFICATE'): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----\\r?\\n[\\s\\S]*?-----END ${label}-----`, 'g');
  return Array.from(text.matchAll(re), (m) => m[0] + '\n');
}

/** The DER of a PEM block, decoded with Node's base64 (independently of the code under test). */
export function pemToDer(block: string): Uint8Array {
  const body = block.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return new Uint8Array(Buffer.from(body, 'base64'));
}
