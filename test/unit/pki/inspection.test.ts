/**
 * The fields a fleet inspects (names, SANs, key, signature algorithm, basic
 * constraints, key usages, key identifiers, OCSP/CA issuer/CRL URLs), checked
 * against what `openssl x509 -text` prints for the same certificate. Samples:
 * zlint corpus certificates chosen for variety, and certificates generated
 * here by the openssl CLI for what the corpus lacks (Ed25519, RSA-PSS, an
 * IPv6 SAN next to every other SAN kind, a root and the leaf it signed).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate, type CertificateInfo } from '../../../src/index.js';
import { zlintFiles } from './corpus.js';
import { mapPool, openssl, opensslOk } from './openssl-cli.js';
import {
  CURVE_WORDS,
  EKU_WORDS,
  KEY_ALGORITHM_WORDS,
  KEY_USAGE_WORDS,
  colonHex,
  normaliseIp,
  readOpensslText,
  sanEntry,
  type PrintedCertificate,
} from './openssl-text.js';

/** zlint certificates and what each was chosen for. */
const CORPUS_SAMPLES: Readonly<Record<string, string>> = {
  'mpSubCAEKUAllowed.pem': 'RSA sub-CA: CA:TRUE pathlen:0, SKI/AKI, caIssuers, CRL DP, EKU',
  'eccP384.pem': 'EC P-384 leaf: DNS and IPv4 SANs, OCSP + caIssuers, two CRL DPs, ecdsa-with-SHA384',
  'SANRFC822Beginning.pem': 'email SAN before DNS SANs; a STREET attribute',
  'SANURIHostFQDN.pem': 'URI SAN after a DNS SAN',
  'SANIPv6Address.pem': 'IPv6 SAN, EC P-256',
  'aiaWithValidNames.pem': 'OCSP and caIssuers, empty subject and issuer',
  'akidNoKeyIdentifier.pem': 'AKI with issuer and serial but no keyIdentifier',
  'ecdsaP384.pem': 'EC P-521 key (despite the name), RSA signature, SKI/AKI, key usage',
};

const OID_OF_EXTENSION: Readonly<Record<string, string>> = {
  'X509v3 Subject Alternative Name': '2.5.29.17',
  'X509v3 Key Usage': '2.5.29.15',
  'X509v3 Extended Key Usage': '2.5.29.37',
  'X509v3 Basic Constraints': '2.5.29.19',
  'X509v3 Subject Key Identifier': '2.5.29.14',
  'X509v3 Authority Key Identifier': '2.5.29.35',
  'Authority Information Access': '1.3.6.1.5.5.7.1.1',
  'X509v3 CRL Distribution Points': '2.5.29.31',
  'X509v3 Certificate Policies': '2.5.29.32',
};

interface Sample {
  readonly name: string;
  readonly pem: string;
  info: CertificateInfo;
  printed: PrintedCertificate;
  subject: string;
  issuer: string;
}

let dir = '';
const samples: Sample[] = [];
const sample = (name: string): Sample => {
  const s = samples.find((x) => x.name === name);
  if (!s) throw new Error(`no sample ${name}`);
  return s;
};

/** Generates the certificates the corpus lacks. */
function generate(): Record<string, string> {
  dir = mkdtempSync(join(tmpdir(), 'certsteward-inspection-'));
  const run = (...args: string[]): string => opensslOk(args, dir);
  run(
    'req', '-x509', '-newkey', 'ed25519', '-nodes', '-keyout', 'root.key', '-subj', '/C=DE/O=Certsteward Test/CN=Test Root',
    '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:1', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', 'root.pem',
  );
  run(
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', 'leaf.key',
    '-subj', '/C=US/O=Example\\, Inc./OU=R\\+D/CN=leaf.example', '-out', 'leaf.csr',
  );
  writeFileSync(
    join(dir, 'leaf.ext'),
    [
      'subjectAltName=DNS:leaf.example,DNS:*.leaf.example,IP:192.0.2.7,IP:2001:db8::1,IP:2001:db8:0:0:1:0:0:1,IP:::1,email:ops@leaf.example,URI:https://leaf.example/id',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyAgreement',
      'extendedKeyUsage=serverAuth,clientAuth,codeSigning,emailProtection,timeStamping,OCSPSigning',
      'authorityInfoAccess=OCSP;URI:http://ocsp.example/,caIssuers;URI:http://ca.example/root.crt',
      'crlDistributionPoints=URI:http://crl.example/root.crl,URI:ldap://crl.example/cn=root',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'),
  );
  run(
    'x509', '-req', '-in', 'leaf.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-days', '90', '-set_serial', '0x00f123456789abcdef01',
    '-extfile', 'leaf.ext', '-out', 'leaf.pem',
  );
  run(
    'req', '-x509', '-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048', '-nodes', '-keyout', 'pss.key', '-subj', '/CN=pss.example',
    '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:3', '-out', 'pss.pem',
  );
  run(
    'req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-keyout', 'rsa.key', '-subj', '/DC=example/DC=com/CN=#hash; semi "quoted" <a> ',
    '-days', '30', '-sha512', '-addext', 'keyUsage=digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment', '-out', 'rsa.pem',
  );
  const read = (n: string): string => readFileSync(join(dir, n), 'utf8');
  return { 'generated root (Ed25519)': read('root.pem'), 'generated leaf (P-384)': read('leaf.pem'), 'generated RSA-PSS': read('pss.pem'), 'generated RSA-3072 with escapes': read('rsa.pem') };
}

beforeAll(async () => {
  const byName = new Map(zlintFiles().map((f) => [f.name, f.text]));
  const inputs: [string, string][] = Object.keys(CORPUS_SAMPLES).map((n) => [n, byName.get(n) ?? '']);
  inputs.push(['DNSFQDN.pem', byName.get('DNSFQDN.pem') ?? '']);
  inputs.push(...Object.entries(generate()));
  const runs = await mapPool(inputs, ([, pem]) =>
    openssl(['x509', '-noout', '-text', '-subject', '-issuer', '-nameopt', 'RFC2253'], pem),
  );
  inputs.forEach(([name, pem], i) => {
    const run = runs[i]!;
    if (run.status !== 0) throw new Error(`openssl could not read ${name}: ${run.stderr}`);
    samples.push({
      name,
      pem,
      info: parseCertificate(pem),
      printed: readOpensslText(run.stdout),
      subject: /^subject=(.*)$/m.exec(run.stdout)?.[1] ?? '(none printed)',
      issuer: /^issuer=(.*)$/m.exec(run.stdout)?.[1] ?? '(none printed)',
    });
  });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The samples compared field by field (DNSFQDN.pem has its own test). */
const compared = (): Sample[] => samples.filter((s) => s.name !== 'DNSFQDN.pem');

/** Attribute type names are case-insensitive (RFC 4512 §1.4): `STREET` and OpenSSL's `street` are one type. */
function foldTypes(dn: string): string {
  return dn.replace(/(^|(?<!\\),|\+)([A-Za-z][A-Za-z0-9-]*)=/g, (_, sep: string, type: string) => `${sep}${type.toLowerCase()}=`);
}

/** A list of lines of OpenSSL's text for one extension, split on ", ". */
function items(s: Sample, extension: string): string[] | undefined {
  const e = s.printed.extensions.get(extension);
  return e ? e.lines.join(', ').split(', ').filter((x) => x.length > 0) : undefined;
}

describe('inspection fields agree with `openssl x509 -text`', () => {
  it('covers RSA, RSA-PSS, EC P-256/P-384/P-521, Ed25519 and every SAN kind, as OpenSSL sees the samples', () => {
    const keys = new Set(compared().map((s) => `${s.printed.keyAlgorithm}${s.printed.curve ? ' ' + s.printed.curve : ''}`));
    expect([...keys].sort()).toEqual(
      expect.arrayContaining(['ED25519', 'id-ecPublicKey P-256', 'id-ecPublicKey P-384', 'id-ecPublicKey P-521', 'rsaEncryption', 'rsassaPss']),
    );
    const sanKinds = new Set(compared().flatMap((s) => (items(s, 'X509v3 Subject Alternative Name') ?? []).map((x) => x.split(':')[0])));
    expect([...sanKinds]).toEqual(expect.arrayContaining(['DNS', 'IP Address', 'email', 'URI']));
    const printedIps = compared().flatMap((s) => (items(s, 'X509v3 Subject Alternative Name') ?? []).filter((x) => x.startsWith('IP Address:')));
    expect(printedIps.some((x) => x.includes(':', 'IP Address:'.length))).toBe(true); // an IPv6 address
  });

  it('reads subject and issuer as the RFC 4514 strings OpenSSL prints with -nameopt RFC2253', () => {
    const problems: string[] = [];
    for (const s of compared()) {
      if (foldTypes(s.info.subject.dn) !== foldTypes(s.subject)) problems.push(`${s.name}: subject ours=${s.info.subject.dn} openssl=${s.subject}`);
      if (foldTypes(s.info.issuer.dn) !== foldTypes(s.issuer)) problems.push(`${s.name}: issuer ours=${s.info.issuer.dn} openssl=${s.issuer}`);
    }
    expect(problems).toEqual([]);
  });

  it('escapes "," "+" ";" "<" ">" quotes, a leading "#" and a trailing space as OpenSSL does', () => {
    const s = sample('generated RSA-3072 with escapes');
    expect(s.subject).toContain('\\#hash\\; semi \\"quoted\\" \\<a\\>\\ ');
    expect(s.info.subject.dn).toBe(s.subject);
    const leaf = sample('generated leaf (P-384)');
    expect(leaf.subject).toContain('O=Example\\, Inc.');
    expect(leaf.subject).toContain('OU=R\\+D');
    expect(leaf.info.subject.dn).toBe(leaf.subject);
  });

  it('lists the DNS, IP, email and URI subject alternative names OpenSSL prints, in order', () => {
    const problems: string[] = [];
    for (const s of compared()) {
      const printed = (items(s, 'X509v3 Subject Alternative Name') ?? []).map(sanEntry);
      if (printed.some((x) => x === undefined)) throw new Error(`${s.name}: a SAN kind this test does not compare`);
      const ours = s.info.subjectAltNames.map((g) => ({ type: g.type, value: g.value }));
      if (JSON.stringify(ours) !== JSON.stringify(printed)) problems.push(`${s.name}: ours=${JSON.stringify(ours)} openssl=${JSON.stringify(printed)}`);
    }
    expect(problems).toEqual([]);
  });

  it('writes IPv6 SANs in RFC 5952 form (lower case, longest zero run compressed)', () => {
    const ips = sample('generated leaf (P-384)').info.subjectAltNames.filter((g) => g.type === 'ip').map((g) => g.value);
    expect(ips).toEqual(['192.0.2.7', '2001:db8::1', '2001:db8::1:0:0:1', '::1']);
    expect(ips.map(normaliseIp)).toEqual(ips);
    expect(sample('SANIPv6Address.pem').info.subjectAltNames).toEqual([{ type: 'ip', value: '2001:db8::2:1' }]);
  });

  it('names the key algorithm, its size and its curve as OpenSSL does', () => {
    const problems: string[] = [];
    for (const s of compared()) {
      const k = s.info.publicKey;
      const alg = KEY_ALGORITHM_WORDS[s.printed.keyAlgorithm ?? ''] ?? s.printed.keyAlgorithm;
      if (k.algorithm !== alg) problems.push(`${s.name}: algorithm ours=${k.algorithm} openssl=${s.printed.keyAlgorithm}`);
      if (s.printed.keyBits !== undefined && k.bits !== s.printed.keyBits) problems.push(`${s.name}: bits ours=${k.bits} openssl=${s.printed.keyBits}`);
      const curve = s.printed.curve === undefined ? undefined : (CURVE_WORDS[s.printed.curve] ?? s.printed.curve);
      if (k.curve !== curve) problems.push(`${s.name}: curve ours=${k.curve} openssl=${s.printed.curve}`);
    }
    expect(problems).toEqual([]);
    expect(sample('generated root (Ed25519)').info.publicKey).toMatchObject({ algorithm: 'Ed25519', bits: 256, curve: undefined });
  });

  it('names the signature algorithm with OpenSSL\'s name for it', () => {
    const problems = compared()
      .filter((s) => s.info.signatureAlgorithm.name !== s.printed.signatureAlgorithm)
      .map((s) => `${s.name}: ours=${s.info.signatureAlgorithm.name} openssl=${s.printed.signatureAlgorithm}`);
    expect(problems).toEqual([]);
  });

  it('reads basicConstraints cA and pathLenConstraint as OpenSSL prints them', () => {
    const problems: string[] = [];
    for (const s of compared()) {
      const bc = items(s, 'X509v3 Basic Constraints') ?? [];
      const isCA = bc.includes('CA:TRUE');
      const path = bc.find((x) => x.startsWith('pathlen:'));
      const pathLength = path === undefined ? undefined : Number(path.slice('pathlen:'.length));
      if (s.info.isCA !== isCA || s.info.pathLength !== pathLength) {
        problems.push(`${s.name}: ours=${s.info.isCA}/${s.info.pathLength} openssl=${bc.join(', ')}`);
      }
    }
    expect(problems).toEqual([]);
    expect(sample('mpSubCAEKUAllowed.pem').info).toMatchObject({ isCA: true, pathLength: 0 });
    expect(sample('generated RSA-PSS').info).toMatchObject({ isCA: true, pathLength: 3 });
  });

  it('reads key usage and extended key usage as OpenSSL prints them', () => {
    const problems: string[] = [];
    for (const s of compared()) {
      const ku = items(s, 'X509v3 Key Usage')?.map((w) => KEY_USAGE_WORDS[w] ?? `unknown word ${w}`);
      if (JSON.stringify(s.info.keyUsage) !== JSON.stringify(ku)) problems.push(`${s.name}: keyUsage ours=${JSON.stringify(s.info.keyUsage)} openssl=${JSON.stringify(ku)}`);
      const eku = items(s, 'X509v3 Extended Key Usage')?.map((w) => EKU_WORDS[w] ?? w);
      if (JSON.stringify(s.info.extendedKeyUsage) !== JSON.stringify(eku)) problems.push(`${s.name}: EKU ours=${JSON.stringify(s.info.extendedKeyUsage)} openssl=${JSON.stringify(eku)}`);
    }
    expect(problems).toEqual([]);
  });

  it('reads the subject and authority key identifiers OpenSSL prints (colon hex)', () => {
    const problems: string[] = [];
    for (const s of compared()) {
      const ski = s.printed.extensions.get('X509v3 Subject Key Identifier')?.lines[0];
      if (s.info.subjectKeyIdentifier !== (ski === undefined ? undefined : colonHex(ski))) problems.push(`${s.name}: SKI ours=${s.info.subjectKeyIdentifier} openssl=${ski}`);
      // OpenSSL 3.0 prints the keyIdentifier as bare hex (older versions: "keyid:…"); DirName/serial lines are the other fields.
      const aki = s.printed.extensions.get('X509v3 Authority Key Identifier')?.lines.find((l) => /^(keyid:)?[0-9A-F]{2}(:[0-9A-F]{2})*$/.test(l));
      const akiHex = aki === undefined ? undefined : colonHex(aki.replace(/^keyid:/, ''));
      if (s.info.authorityKeyIdentifier !== akiHex) problems.push(`${s.name}: AKI ours=${s.info.authorityKeyIdentifier} openssl=${aki}`);
    }
    expect(problems).toEqual([]);
    expect(sample('akidNoKeyIdentifier.pem').info.authorityKeyIdentifier).toBeUndefined();
  });

  it('reads the OCSP, CA issuer and CRL distribution point URLs OpenSSL prints', () => {
    const problems: string[] = [];
    for (const s of compared()) {
      const aia = s.printed.extensions.get('Authority Information Access')?.lines ?? [];
      const ocsp = aia.filter((l) => l.startsWith('OCSP - URI:')).map((l) => l.slice('OCSP - URI:'.length));
      const ca = aia.filter((l) => l.startsWith('CA Issuers - URI:')).map((l) => l.slice('CA Issuers - URI:'.length));
      const crl = (s.printed.extensions.get('X509v3 CRL Distribution Points')?.lines ?? []).filter((l) => l.startsWith('URI:')).map((l) => l.slice(4));
      const ours = { ocsp: s.info.ocspUrls, ca: s.info.caIssuerUrls, crl: s.info.crlUrls };
      if (JSON.stringify(ours) !== JSON.stringify({ ocsp, ca, crl })) problems.push(`${s.name}: ours=${JSON.stringify(ours)} openssl=${JSON.stringify({ ocsp, ca, crl })}`);
    }
    expect(problems).toEqual([]);
    expect(sample('eccP384.pem').info.crlUrls).toHaveLength(2);
  });

  it('reads each extension\'s criticality as OpenSSL prints it', () => {
    const problems: string[] = [];
    for (const s of compared()) {
      for (const [name, printed] of s.printed.extensions) {
        const oid = OID_OF_EXTENSION[name];
        if (oid === undefined) continue;
        const ours = s.info.extensions.find((e) => e.oid === oid);
        if (ours?.critical !== printed.critical) problems.push(`${s.name}: ${name} ours=${ours?.critical} openssl=${printed.critical}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('self-signed or not', () => {
  it('calls the generated root self-signed and the leaf it signed not self-signed (OpenSSL verifies the pair)', () => {
    const verified = opensslOk(['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'leaf.pem')]);
    expect(verified).toContain(': OK');
    expect(sample('generated root (Ed25519)').info.selfSigned).toBe(true);
    expect(sample('generated leaf (P-384)').info.selfSigned).toBe(false);
    expect(sample('generated leaf (P-384)').info.authorityKeyIdentifier).toBe(sample('generated root (Ed25519)').info.subjectKeyIdentifier);
  });
});

describe('names with an empty RDN', () => {
  it('leaves an empty RDN (a SET with no attribute) out of the RFC 4514 string, as OpenSSL does', () => {
    const s = sample('DNSFQDN.pem');
    expect(s.info.subject.dn.startsWith(',') || s.info.subject.dn.includes(',,') || s.info.subject.dn.endsWith(',')).toBe(false);
    expect(foldTypes(s.info.subject.dn)).toBe(foldTypes(s.subject));
    expect(s.info.issuer.dn).toBe(s.issuer);
  });
});

describe('a CA certificate whose pathLenConstraint is negative', () => {
  it('is still read as cA TRUE, as OpenSSL prints it for caMaxPathNegative.pem', async () => {
    const text = zlintFiles().find((f) => f.name === 'caMaxPathNegative.pem')?.text ?? '';
    const run = await openssl(['x509', '-noout', '-text'], text);
    const bc = readOpensslText(run.stdout).extensions.get('X509v3 Basic Constraints');
    expect(bc?.lines.join(', ')).toMatch(/^CA:TRUE, pathlen:-\d+$/);
    expect(parseCertificate(text).isCA).toBe(true);
  });
});
