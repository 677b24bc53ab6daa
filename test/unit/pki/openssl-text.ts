/**
 * Reads the fields of `openssl x509 -noout -text` output, so tests can
 * compare certsteward with OpenSSL's own decoding. Not a test file.
 */

/** One extension as OpenSSL printed it. */
export interface PrintedExtension {
  readonly critical: boolean;
  /** The value lines, trimmed. */
  readonly lines: readonly string[];
}

/** The fields read from OpenSSL's text form. */
export interface PrintedCertificate {
  /** The outer signatureAlgorithm (printed at indentation 4, after the extensions). */
  readonly signatureAlgorithm: string | undefined;
  /** The TBSCertificate's signature field (printed at indentation 8). */
  readonly tbsSignatureAlgorithm: string | undefined;
  readonly keyAlgorithm: string | undefined;
  readonly keyBits: number | undefined;
  /** `NIST CURVE:` name, else the `ASN1 OID:` short name. */
  readonly curve: string | undefined;
  /** Extensions by OpenSSL's printed name (`X509v3 Subject Alternative Name`, `Authority Information Access` …). */
  readonly extensions: ReadonlyMap<string, PrintedExtension>;
}

export function readOpensslText(text: string): PrintedCertificate {
  const sig = /^ {4}Signature Algorithm: (.+)$/m.exec(text)?.[1];
  const tbsSig = /^ {8}Signature Algorithm: (.+)$/m.exec(text)?.[1];
  const keyAlg = /^ {12}Public Key Algorithm: (.+)$/m.exec(text)?.[1];
  const bits = /^ {16}(?:RSA |DSA |RSA-PSS )?Public-Key: \((\d+) bit\)$/m.exec(text)?.[1];
  const curve = /^ {16}NIST CURVE: (.+)$/m.exec(text)?.[1] ?? /^ {16}ASN1 OID: (.+)$/m.exec(text)?.[1];
  const extensions = new Map<string, PrintedExtension>();
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^ {8}X509v3 extensions:$/.test(l));
  if (start >= 0) {
    let current: { name: string; critical: boolean; lines: string[] } | undefined;
    for (const line of lines.slice(start + 1)) {
      if (!line.startsWith('            ')) break; // back to the Signature Algorithm at indentation 4
      const header = /^ {12}(\S.*?):( critical)?\s*$/.exec(line);
      if (header && !line.startsWith('                ')) {
        current = { name: header[1]!, critical: header[2] !== undefined, lines: [] };
        extensions.set(current.name, current);
      } else if (current) {
        current.lines.push(line.trim());
      }
    }
  }
  return {
    signatureAlgorithm: sig?.trim(),
    tbsSignatureAlgorithm: tbsSig?.trim(),
    keyAlgorithm: keyAlg?.trim(),
    keyBits: bits === undefined ? undefined : Number(bits),
    curve: curve?.trim(),
    extensions,
  };
}

/** OpenSSL's key usage words to RFC 5280 names. */
export const KEY_USAGE_WORDS: Readonly<Record<string, string>> = {
  'Digital Signature': 'digitalSignature',
  'Non Repudiation': 'nonRepudiation',
  'Key Encipherment': 'keyEncipherment',
  'Data Encipherment': 'dataEncipherment',
  'Key Agreement': 'keyAgreement',
  'Certificate Sign': 'keyCertSign',
  'CRL Sign': 'cRLSign',
  'Encipher Only': 'encipherOnly',
  'Decipher Only': 'decipherOnly',
};

/** OpenSSL's extended key usage words to RFC 5280 names. */
export const EKU_WORDS: Readonly<Record<string, string>> = {
  'TLS Web Server Authentication': 'serverAuth',
  'TLS Web Client Authentication': 'clientAuth',
  'Code Signing': 'codeSigning',
  'E-mail Protection': 'emailProtection',
  'Time Stamping': 'timeStamping',
  'OCSP Signing': 'OCSPSigning',
  'Any Extended Key Usage': 'anyExtendedKeyUsage',
};

/** OpenSSL's public key algorithm names to certsteward's. */
export const KEY_ALGORITHM_WORDS: Readonly<Record<string, string>> = {
  rsaEncryption: 'RSA',
  rsassaPss: 'RSA-PSS',
  'id-ecPublicKey': 'EC',
  dsaEncryption: 'DSA',
  ED25519: 'Ed25519',
  ED448: 'Ed448',
  X25519: 'X25519',
  X448: 'X448',
};

/** OpenSSL's curve names (NIST CURVE or ASN1 OID) to certsteward's. */
export const CURVE_WORDS: Readonly<Record<string, string>> = {
  'P-256': 'P-256',
  'P-384': 'P-384',
  'P-521': 'P-521',
  'P-224': 'P-224',
  'P-192': 'P-192',
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
  secp256k1: 'secp256k1',
  brainpoolP256r1: 'brainpoolP256r1',
  brainpoolP384r1: 'brainpoolP384r1',
  brainpoolP512r1: 'brainpoolP512r1',
};

/** `01:AB:…` to `01ab…`. */
export function colonHex(s: string): string {
  return s.trim().replace(/:/g, '').toLowerCase();
}

/** The text form of an IP address normalised through the WHATWG URL parser (RFC 5952 for IPv6). */
export function normaliseIp(ip: string): string {
  return ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : new URL(`http://${ip}/`).hostname;
}

/** A SAN entry OpenSSL printed, as certsteward's `{ type, value }`, or undefined for kinds not compared. */
export function sanEntry(printed: string): { type: string; value: string } | undefined {
  const m = /^(DNS|IP Address|email|URI):(.*)$/.exec(printed);
  if (!m) return undefined;
  const type = m[1] === 'DNS' ? 'dns' : m[1] === 'IP Address' ? 'ip' : m[1] === 'email' ? 'email' : 'uri';
  return { type, value: type === 'ip' ? normaliseIp(m[2]!) : m[2]! };
}
