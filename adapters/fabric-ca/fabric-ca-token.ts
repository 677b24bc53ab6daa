/**
 * The Fabric CA authorization token: `b64(certPEM) + "." + b64(signature)`,
 * the header every token-authenticated Fabric CA call carries (`reenroll`,
 * `register`, `revoke`, `identities`, …).
 *
 * The server (`util.VerifyToken`) hashes the payload with SHA-256 and
 * verifies an ASN.1 DER ECDSA signature whose `s` is in the lower half of the
 * curve order (Fabric's BCCSP refuses high-S signatures as malleable).
 * WebCrypto returns r||s (IEEE P1363) with whatever `s` the signer picked, so
 * the signature is normalised (`s = n − s` when `s > n/2`) and then
 * DER-encoded. Signing goes through the key handle's own WebCrypto provider,
 * so a key held in an HSM signs tokens without leaving it.
 *
 * @module
 */
import { ConfigError, KeyError } from '../../src/errors.js';
import type { KeyHandle } from '../../src/ports/key-store.js';
import { p1363ToDer } from '../../src/pki/key-signer.js';

/**
 * Which payload the token signs.
 *
 * - `'v1.4'` (default, every Fabric CA since 1.4):
 *   `METHOD.b64(requestURI).b64(body).b64(certPEM)`.
 * - `'v1.3'`: `b64(body).b64(certPEM)`, for servers older than 1.4 (servers up
 *   to 1.5.12 still accept it while `FABRIC_CA_SERVER_COMPATIBILITY_MODE_V1_3`
 *   is true, its default).
 *
 * @example
 * ```ts
 * const format: FabricTokenFormat = 'v1.4'
 * ```
 */
export type FabricTokenFormat = 'v1.4' | 'v1.3';

/**
 * What a token authenticates: one HTTP request, by one enrolled identity.
 *
 * @example
 * ```ts
 * const input: FabricTokenInput = { certificatePem, key, method: 'POST', requestUri: '/api/v1/reenroll', body }
 * ```
 */
export interface FabricTokenInput {
  /** The caller's enrollment certificate, PEM, exactly the bytes the token carries. */
  readonly certificatePem: string;
  /** The certificate's private key (ECDSA P-256 or P-384); it signs through `key.crypto`. */
  readonly key: KeyHandle;
  /** HTTP method, upper case (`GET`, `POST`, `PUT`, `DELETE`). */
  readonly method: string;
  /**
   * Path and query exactly as requested (`r.URL.RequestURI()` on the server),
   * including the `/api/v1` prefix when the request uses it.
   */
  readonly requestUri: string;
  /** The exact request body bytes (empty for GET and DELETE). */
  readonly body: Uint8Array | string;
  /** Payload format (default `'v1.4'`). */
  readonly format?: FabricTokenFormat;
}

/** Curve orders of the curves Fabric supports for tokens. */
const CURVE_ORDERS: Readonly<Record<string, { readonly n: bigint; readonly bytes: number }>> = {
  'ECDSA-P256': { n: BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'), bytes: 32 },
  'ECDSA-P384': {
    n: BigInt('0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973'),
    bytes: 48,
  },
};

const encoder = new TextEncoder();

function b64(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

function fromBigInt(v: bigint, length: number): Uint8Array {
  return Uint8Array.from(Buffer.from(v.toString(16).padStart(length * 2, '0'), 'hex'));
}

/**
 * The payload a token signs (before hashing), as the server rebuilds it.
 *
 * @example
 * ```ts
 * fabricTokenPayload({ certificatePem, key, method: 'GET', requestUri: '/api/v1/identities/peer1', body: '' })
 * // 'GET.L2FwaS92MS9pZGVudGl0aWVzL3BlZXIx..LS0tLS1CRUdJTi…'
 * ```
 */
export function fabricTokenPayload(input: Omit<FabricTokenInput, 'key'>): string {
  const cert = b64(input.certificatePem);
  const body = b64(input.body);
  return (input.format ?? 'v1.4') === 'v1.3' ? `${body}.${cert}` : `${input.method}.${b64(input.requestUri)}.${body}.${cert}`;
}

/**
 * Turns an ECDSA signature as WebCrypto returns it (r||s, each half the
 * curve size) into the DER form Fabric accepts: `s` replaced by `n − s` when
 * it is in the upper half of the order (low-S), then DER-encoded.
 *
 * @throws {@link ConfigError} for a key algorithm other than ECDSA P-256/P-384.
 * @throws {@link KeyError} when the signature has the wrong length for the curve.
 * @example
 * ```ts
 * const der = lowSDerSignature(new Uint8Array(await crypto.subtle.sign(params, key, data)), 'ECDSA-P256')
 * ```
 */
export function lowSDerSignature(p1363: Uint8Array, algorithm: string): Uint8Array {
  const curve = CURVE_ORDERS[algorithm];
  if (!curve) throw unsupportedKey(algorithm);
  if (p1363.length !== curve.bytes * 2) {
    throw new KeyError(`an ${algorithm} signature from WebCrypto must be ${curve.bytes * 2} bytes (r||s), got ${p1363.length}`);
  }
  const r = p1363.subarray(0, curve.bytes);
  let s = toBigInt(p1363.subarray(curve.bytes));
  if (s > curve.n >> 1n) s = curve.n - s;
  const normalised = new Uint8Array(curve.bytes * 2);
  normalised.set(r, 0);
  normalised.set(fromBigInt(s, curve.bytes), curve.bytes);
  return p1363ToDer(normalised);
}

function unsupportedKey(algorithm: string): ConfigError {
  return new ConfigError(
    'key',
    algorithm,
    `Fabric CA tokens are signed with ECDSA only (the server has RSA commented out): the key is ${algorithm}; enroll the identity with an ECDSA-P256 or ECDSA-P384 key`,
  );
}

/**
 * Makes the `authorization` header value of one Fabric CA request, signed
 * with the caller's key through its own WebCrypto provider (so HSM keys work).
 *
 * @returns `b64(certPEM) + "." + b64(DER low-S ECDSA signature)`, standard
 *   base64 with padding.
 * @throws {@link ConfigError} when the key is not ECDSA P-256/P-384.
 * @throws {@link KeyError} when the key cannot sign.
 * @example
 * ```ts
 * const body = JSON.stringify({ certificate_request: csrPem })
 * const authorization = await fabricAuthToken({ certificatePem, key, method: 'POST', requestUri: '/api/v1/reenroll', body })
 * ```
 */
export async function fabricAuthToken(input: FabricTokenInput): Promise<string> {
  const { key } = input;
  if (!CURVE_ORDERS[key.algorithm]) throw unsupportedKey(key.algorithm);
  const payload = encoder.encode(fabricTokenPayload(input));
  let p1363: Uint8Array;
  try {
    // SHA-256 whatever the curve: the server hashes the payload with SHA-256 before verifying.
    p1363 = new Uint8Array(await key.crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, payload));
  } catch (e) {
    throw new KeyError(`the ${key.algorithm} key "${key.ref.id}" could not sign a Fabric CA token: ${(e as Error).message}`, { cause: e });
  }
  return `${b64(input.certificatePem)}.${b64(lowSDerSignature(p1363, key.algorithm))}`;
}
