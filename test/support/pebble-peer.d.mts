/** Types of pebble-peer.mjs (plain JS, so the benches run it as it is). */
import type { Agent } from 'node:https';

export interface PebbleOptions {
  /** Extra environment for pebble: PEBBLE_WFE_NONCEREJECT, PEBBLE_VA_SLEEPTIME, PEBBLE_CHAIN_LENGTH, … */
  readonly env?: Readonly<Record<string, string>>;
  /** Leaf validity in seconds (pebble's certificateValidityPeriod; default its 5 years). */
  readonly certificateValidityPeriod?: number;
  /** Skip validation entirely (PEBBLE_VA_ALWAYS_VALID). Default false: real validation. */
  readonly alwaysValid?: boolean;
  /** External account binding keys (kid → base64url HMAC key): makes EAB required. */
  readonly eabKeys?: Readonly<Record<string, string>>;
}

export interface PebblePeer {
  readonly directoryUrl: string;
  /** Trust anchor (PEM) for pebble's HTTPS listeners (ACME and management). */
  readonly tlsCaPem: string;
  /** The file holding tlsCaPem (removed by stop()). */
  readonly tlsCaFile: string;
  /** An https.Agent trusting `tlsCaPem`. */
  readonly agent: Agent;
  readonly managementUrl: string;
  /** challtestsrv's management API (http). */
  readonly challtestsrvUrl: string;
  /** challtestsrv's DNS server port on 127.0.0.1 (the DNS pebble validates against). */
  readonly dnsPort: number;
  /** The port pebble connects to for http-01 (on 127.0.0.1). */
  readonly httpPort: number;
  /** The pebble process's output so far. */
  log(): string;
  /** The issuing root of this pebble run (it changes on every start). */
  root(index?: number): Promise<string>;
  /** Revocation status of a certificate by its serial (hex). */
  certStatus(serialHex: string): Promise<{ Status: string; Reason?: number }>;
  /** POSTs to challtestsrv's management API. */
  challtestsrv(path: string, body: unknown): Promise<void>;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number>;

/** Starts challtestsrv and pebble; fails naming the peer when a binary is missing or a process dies. */
export function startPebble(options?: PebbleOptions): Promise<PebblePeer>;
