/**
 * The roots a chain verdict may end at: Node's bundled Mozilla store
 * (`tls.rootCertificates`, what `socket.authorized` is judged against by
 * default) plus any the user names.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { isCertstewardError, parseCertificate, parseCertificates } from '../index.js';
import type { CertificateInfo } from '../index.js';
import { InputError } from './cli-errors.js';

/**
 * Node's root certificates, parsed one by one (one the parser cannot read is
 * left out rather than failing every verdict), then those in `extraFile`.
 *
 * @throws {@link InputError} when `extraFile` cannot be read or holds no certificate.
 * @example
 * ```ts
 * verifyChain(bundle, { roots: await loadTrustAnchors('private-root.pem') })
 * ```
 */
export async function loadTrustAnchors(extraFile?: string): Promise<CertificateInfo[]> {
  const roots: CertificateInfo[] = [];
  for (const pem of rootCertificates) {
    try {
      roots.push(parseCertificate(pem));
    } catch (e) {
      if (!isCertstewardError(e, 'certificate-parse')) throw e;
    }
  }
  if (extraFile !== undefined) {
    try {
      roots.push(...parseCertificates(await readFile(extraFile)));
    } catch (e) {
      throw new InputError(`--roots ${extraFile}: ${(e as Error).message}`);
    }
  }
  return roots;
}
