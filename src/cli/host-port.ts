/**
 * `host:port` arguments: `example.com:443`, `example.com` (port 443),
 * `[::1]:8443`, `127.0.0.1:8443`, `https://example.com:8443/path`.
 *
 * @module
 */
import { isIP } from 'node:net';

/** A TLS endpoint to fetch a served chain from. */
export interface HostPort {
  /** Host name or IP address, without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
  /** SNI name to send: the host name, or undefined for an IP address (RFC 6066 forbids IP literals in SNI). */
  readonly servername: string | undefined;
  /** `host:port` as people write it (`[::1]:8443` for IPv6). */
  readonly label: string;
}

const DEFAULT_PORT = 443;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
/** Extensions of files people pass; `cert.pem` is a missing file, not a host in the `.pem` TLD. */
const FILE_EXTENSION = /\.(pem|crt|cer|der|cert|key|csr|req|p7b|p7c|p12|pfx|txt|json|conf|cnf)$/i;

function endpoint(host: string, port: number): HostPort {
  const ipVersion = isIP(host);
  return {
    host,
    port,
    servername: ipVersion === 0 ? host.replace(/\.$/, '') : undefined,
    label: ipVersion === 6 ? `[${host}]:${port}` : `${host}:${port}`,
  };
}

function portNumber(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * Reads `text` as a TLS endpoint, or returns undefined when it does not look
 * like one (then it is a path). A bare name is a host only when it has a dot
 * (or is `localhost`) and does not end in a certificate file extension.
 *
 * @example
 * ```ts
 * parseHostPort('[::1]:8443')  // { host: '::1', port: 8443, servername: undefined, label: '[::1]:8443' }
 * parseHostPort('example.com') // { host: 'example.com', port: 443, servername: 'example.com', … }
 * parseHostPort('certs')       // undefined
 * ```
 */
export function parseHostPort(text: string): HostPort | undefined {
  let rest = text.trim();
  const scheme = /^(?:https|tls):\/\//i.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length).replace(/[/?#].*$/, '');
  if (rest.includes('/') || rest.includes('\\') || rest.length === 0) return undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) {
    const port = bracketed[2] === undefined ? DEFAULT_PORT : portNumber(bracketed[2]);
    return isIP(bracketed[1]!) === 6 && port !== undefined ? endpoint(bracketed[1]!, port) : undefined;
  }
  if (isIP(rest) === 6) return endpoint(rest, DEFAULT_PORT);
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    const host = rest.slice(0, colon);
    const port = portNumber(rest.slice(colon + 1));
    if (port === undefined || !(isIP(host) === 4 || HOSTNAME.test(host))) return undefined;
    return endpoint(host, port);
  }
  if (isIP(rest) === 4) return endpoint(rest, DEFAULT_PORT);
  if (!HOSTNAME.test(rest) || FILE_EXTENSION.test(rest)) return undefined;
  if (!scheme && !rest.includes('.') && rest.toLowerCase() !== 'localhost') return undefined;
  return endpoint(rest, DEFAULT_PORT);
}
