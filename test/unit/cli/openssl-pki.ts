/**
 * A throwaway PKI made by the `openssl` command line (never by the code under
 * test): roots, intermediates and leaves with exact validity windows, through
 * `openssl ca -startdate/-enddate` (OpenSSL 3.0's `req`/`x509` cannot backdate).
 * Not a test file; imported by the CLI tests.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { opensslOk as openssl, parseOpensslIsoDate } from '../pki/openssl-cli.js';

export const DAY_MS = 86_400_000;

/** Runs openssl and throws with its stderr when it fails (the pki tests' runner). */
export { openssl };

/** A certificate on disk with its key. */
export interface Issued {
  readonly name: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly pem: string;
}

/** What to put in a certificate. */
export interface IssueOptions {
  readonly cn: string;
  /** Signer; omitted for a self-signed certificate. */
  readonly issuer?: Issued;
  readonly ca?: boolean;
  readonly pathlen?: number;
  /** SAN entries in OpenSSL config syntax: `DNS:a.test`, `IP:127.0.0.1`. */
  readonly san?: readonly string[];
  /** Default: now − 1 day. */
  readonly notBefore?: Date;
  /** Default: now + 365 days. */
  readonly notAfter?: Date;
  readonly caIssuersUrl?: string;
  readonly ocspUrl?: string;
  readonly crlUrl?: string;
}

/** `YYYYMMDDHHMMSSZ`, the form `openssl ca -startdate/-enddate` takes. */
export function opensslTime(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

const CA_CONFIG = `[ ca ]
default_ca = CA_default
[ CA_default ]
database = ./index.txt
new_certs_dir = ./newcerts
serial = ./serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[ policy_any ]
commonName = supplied
`;

/**
 * A scratch directory with an `openssl ca` database. Each test file makes
 * its own, so they run in parallel.
 */
export class OpensslPki {
  readonly dir: string;
  private readonly caDir: string;
  private seq = 0;

  constructor(prefix = 'certsteward-cli-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.caDir = join(this.dir, '.ca');
    mkdirSync(join(this.caDir, 'newcerts'), { recursive: true });
    writeFileSync(join(this.caDir, 'index.txt'), '');
    writeFileSync(join(this.caDir, 'serial'), '1000\n');
    writeFileSync(join(this.caDir, 'ca.cnf'), CA_CONFIG);
  }

  /** Issues a certificate; files land in `.ca/` until {@link place} copies them. */
  issue(o: IssueOptions): Issued {
    const id = `c${++this.seq}`;
    const keyPath = join(this.caDir, `${id}.key`);
    const csrPath = join(this.caDir, `${id}.csr`);
    const certPath = join(this.caDir, `${id}.pem`);
    const extPath = join(this.caDir, `${id}.ext`);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${o.cn}`, '-keyout', keyPath, '-out', csrPath]);
    const ext = ['[ext]', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid'];
    if (o.ca) {
      ext.push(`basicConstraints = critical,CA:true${o.pathlen === undefined ? '' : `,pathlen:${o.pathlen}`}`);
      ext.push('keyUsage = critical,keyCertSign,cRLSign');
    } else {
      ext.push('basicConstraints = CA:false', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth,clientAuth');
    }
    if (o.san?.length) ext.push(`subjectAltName = ${o.san.join(',')}`);
    const aia = [o.caIssuersUrl && `caIssuers;URI:${o.caIssuersUrl}`, o.ocspUrl && `OCSP;URI:${o.ocspUrl}`].filter(Boolean);
    if (aia.length) ext.push(`authorityInfoAccess = ${aia.join(',')}`);
    if (o.crlUrl) ext.push(`crlDistributionPoints = URI:${o.crlUrl}`);
    writeFileSync(extPath, ext.join('\n') + '\n');
    const now = Date.now();
    const notBefore = o.notBefore ?? new Date(now - DAY_MS);
    const notAfter = o.notAfter ?? new Date(now + 365 * DAY_MS);
    const signer = o.issuer ? ['-cert', o.issuer.certPath, '-keyfile', o.issuer.keyPath] : ['-selfsign', '-keyfile', keyPath];
    openssl(
      ['ca', '-batch', '-config', 'ca.cnf', '-notext', ...signer, '-in', csrPath, '-out', certPath,
        '-startdate', opensslTime(notBefore), '-enddate', opensslTime(notAfter), '-extfile', extPath, '-extensions', 'ext'],
      this.caDir,
    );
    return { name: o.cn, certPath, keyPath, pem: readFileSync(certPath, 'utf8') };
  }

  /** Deletes the scratch directory. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Writes `content` to `relPath` under {@link dir} (creating folders) and returns its path. */
  place(relPath: string, content: string | Uint8Array): string {
    const path = join(this.dir, relPath);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
    return path;
  }
}

/** A certificate's dates and fingerprint as OpenSSL prints them. */
export function opensslFacts(certPath: string): { notBefore: Date; notAfter: Date; sha256Colon: string; sha1Colon: string } {
  const dates = openssl(['x509', '-in', certPath, '-noout', '-startdate', '-enddate', '-dateopt', 'iso_8601']);
  const pick = (key: string) => {
    const m = new RegExp(`^${key}=(.+)$`, 'm').exec(dates);
    if (!m) throw new Error(`no ${key} in ${dates}`);
    return parseOpensslIsoDate(m[1]!);
  };
  const fp = (alg: string) => openssl(['x509', '-in', certPath, '-noout', '-fingerprint', `-${alg}`]).trim().replace(/^.*Fingerprint=/i, '');
  return { notBefore: pick('notBefore'), notAfter: pick('notAfter'), sha256Colon: fp('sha256'), sha1Colon: fp('sha1') };
}
