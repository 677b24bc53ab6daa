/**
 * The certificate chain a TLS server presents, fetched without trusting it.
 *
 * @module
 */
import { connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { formatDuration } from '../index.js';
import { InputError } from './cli-errors.js';
import type { HostPort } from './host-port.js';

/** What a server presented in its handshake. */
export interface ServedChain {
  readonly endpoint: HostPort;
  /** DER of each certificate, leaf first, in the order Node reports the chain. */
  readonly ders: readonly Uint8Array[];
  /** Node's default trust store (and host name check) accepted the chain. */
  readonly authorized: boolean;
  /** Why it did not, as Node reports it (`UNABLE_TO_GET_ISSUER_CERT_LOCALLY`, `ERR_TLS_CERT_ALTNAME_INVALID` …). */
  readonly authorizationError: string | undefined;
  /** Negotiated protocol (`TLSv1.3`) and cipher. */
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
}

/** The server could not be reached, did not finish the handshake, or sent no certificate. */
export class ConnectionError extends InputError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectionError';
  }
}

/**
 * Follows `issuerCertificate` from the leaf until the chain repeats (a root
 * points at itself) or ends, and takes each certificate's DER.
 */
export function chainDers(leaf: DetailedPeerCertificate): Uint8Array[] {
  const ders: Uint8Array[] = [];
  const seen = new Set<string>();
  let c: DetailedPeerCertificate | undefined = leaf;
  while (c && c.raw && c.raw.length > 0) {
    const key = c.fingerprint256 ?? c.raw.toString('base64');
    if (seen.has(key)) break;
    seen.add(key);
    ders.push(new Uint8Array(c.raw));
    c = c.issuerCertificate as DetailedPeerCertificate | undefined;
  }
  return ders;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Connects to `endpoint`, completes a TLS handshake without rejecting any
 * certificate, and returns the chain the server presented together with
 * Node's own verdict on it.
 *
 * The chain comes from `getPeerCertificate(true)`: when Node finds the last
 * certificate's issuer in its root store it appends that root, so a trusted
 * chain may end with a root the server did not send.
 *
 * @throws {@link ConnectionError} on DNS, TCP or TLS failure, after `timeoutMs`, or when no certificate was sent.
 * @example
 * ```ts
 * const served = await fetchServedChain(parseHostPort('example.com')!, { timeoutMs: 10_000 })
 * const chain = served.ders.map((der) => parseCertificate(der))
 * ```
 */
export function fetchServedChain(endpoint: HostPort, options: { timeoutMs: number }): Promise<ServedChain> {
  return new Promise((resolve, reject) => {
    let socket: TLSSocket | undefined;
    let settled = false;
    const finish = (error: ConnectionError | undefined, value?: ServedChain): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // On success, close politely (our Finished and close_notify reach the server); on failure, at once.
      if (error) socket?.destroy();
      else socket?.destroySoon();
      if (error) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(() => {
      finish(new ConnectionError(`${endpoint.label}: timed out: no TLS handshake within ${formatDuration(options.timeoutMs)}`));
    }, options.timeoutMs);
    timer.unref();
    try {
      socket = connect({
        host: endpoint.host,
        port: endpoint.port,
        servername: endpoint.servername,
        // We report on the chain, so we must see it even when it is bad.
        rejectUnauthorized: false,
      });
    } catch (e) {
      finish(new ConnectionError(`${endpoint.label}: cannot connect: ${errorText(e)}`, { cause: e }));
      return;
    }
    socket.once('secureConnect', () => {
      const s = socket!;
      const leaf = s.getPeerCertificate(true);
      const ders = leaf && 'raw' in leaf ? chainDers(leaf) : [];
      if (ders.length === 0) {
        finish(new ConnectionError(`${endpoint.label}: the server completed the handshake without sending a certificate`));
        return;
      }
      const authError = s.authorizationError as unknown;
      finish(undefined, {
        endpoint,
        ders,
        authorized: s.authorized,
        authorizationError:
          authError === undefined || authError === null
            ? undefined
            : authError instanceof Error
              ? ((authError as { code?: string }).code ?? authError.message)
              : String(authError),
        protocol: s.getProtocol() ?? undefined,
        cipher: s.getCipher()?.name,
      });
    });
    // `on`, not `once`: a late second error (a reset while closing) must not go unhandled.
    socket.on('error', (e) => finish(new ConnectionError(`${endpoint.label}: connection failed: ${errorText(e)}`, { cause: e })));
    socket.on('close', () =>
      finish(new ConnectionError(`${endpoint.label}: the connection closed before the TLS handshake finished`)),
    );
  });
}
