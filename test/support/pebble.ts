/**
 * Pebble (the ACME test server from Let's Encrypt) and pebble-challtestsrv
 * (its mock DNS and challenge responder), started by the tests themselves on
 * free loopback ports, one set per call. Every identifier resolves to
 * 127.0.0.1 through challtestsrv, so http-01 validation reaches our own
 * listener on `httpPort` and dns-01 reads the TXT records set through
 * challtestsrv's management API. A peer that does not start fails the test
 * with its log. The recipe is pebble-peer.mjs, shared with the benches.
 */
export { freePort, startPebble } from './pebble-peer.mjs';
export type { PebbleOptions, PebblePeer } from './pebble-peer.mjs';
