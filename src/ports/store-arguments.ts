/**
 * The argument checks every {@link CertificateStore} applies before it reads
 * or writes, shared by the in-memory and the SQL stores so both reject the
 * same mistakes with the same {@link ConfigError}.
 *
 * @module
 * @internal
 */
import { ConfigError } from '../errors.js';
import type { IssuanceReservation, NewCertificateRecord } from './certificate-store.js';

/** `value` is a valid Date. `store` names the class in the message (`MemoryStore`, `KnexStore`). */
export function assertTime(value: Date, store: string, method: string, name: string): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new ConfigError(name, value, `${store}.${method}: ${name} must be a valid Date, got ${String(value)}`);
  }
}

/** `value` is a non-negative integer. */
export function assertCount(value: number, store: string, method: string, name: string): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigError(name, value, `${store}.${method}: ${name} must be a non-negative integer, got ${String(value)}`);
  }
}

/** The record has a non-empty id and a valid (or null) nextActionAt. */
export function assertRecord(record: NewCertificateRecord, store: string, method: string): void {
  if (typeof record.id !== 'string' || record.id === '') {
    throw new ConfigError('record.id', record.id, `${store}.${method}: record.id must be a non-empty string`);
  }
  if (record.nextActionAt !== null) assertTime(record.nextActionAt, store, method, 'record.nextActionAt');
}

/** The arguments of `claimDue`. */
export function assertClaim(now: Date, owner: string, leaseMs: number, limit: number, store: string): void {
  assertTime(now, store, 'claimDue', 'now');
  if (typeof owner !== 'string' || owner === '') {
    throw new ConfigError('owner', owner, `${store}.claimDue: owner must be a non-empty string naming the claiming process`);
  }
  if (!(Number.isFinite(leaseMs) && leaseMs > 0)) {
    // A lease that ends at once would let a second owner claim the same record.
    throw new ConfigError('leaseMs', leaseMs, `${store}.claimDue: leaseMs must be a positive number of milliseconds, got ${String(leaseMs)}`);
  }
  assertCount(limit, store, 'claimDue', 'limit');
}

/** The buckets of an issuance reservation: each with a key, a positive integer `max` and a positive `windowMs`. */
export function assertBuckets(reservation: IssuanceReservation, store: string): void {
  for (const b of reservation.buckets) {
    if (typeof b.key !== 'string' || b.key === '') {
      throw new ConfigError('bucket.key', b.key, `${store}.reserveIssuance: every bucket needs a non-empty key`);
    }
    if (!Number.isInteger(b.max) || b.max < 1) {
      throw new ConfigError('bucket.max', b.max, `${store}.reserveIssuance: bucket "${b.key}" needs max ≥ 1, got ${String(b.max)}`);
    }
    if (!(Number.isFinite(b.windowMs) && b.windowMs > 0)) {
      throw new ConfigError('bucket.windowMs', b.windowMs, `${store}.reserveIssuance: bucket "${b.key}" needs windowMs > 0, got ${String(b.windowMs)}`);
    }
  }
}
