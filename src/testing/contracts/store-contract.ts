/**
 * The contract every {@link CertificateStore} must pass, runnable with any
 * test runner that offers `describe`, `it` and a Jest-style `expect`.
 *
 * @module
 */
import { isCertstewardError } from '../../errors.js';
import type {
  AuditEvent,
  CertificateRecord,
  CertificateStore,
  IssuedCertificate,
  ListFilter,
  NewCertificateRecord,
} from '../../ports/certificate-store.js';
import type { ContractTestApi } from './contract-api.js';
import type { KeyRef } from '../../ports/key-store.js';



/**
 * Options of {@link describeCertificateStore}.
 *
 * @example
 * ```ts
 * describeCertificateStore(api, make, { name: 'KnexStore on SQLite' })
 * ```
 */
export interface StoreContractOptions {
  /** Title of the outer `describe` (default `CertificateStore contract`). */
  readonly name?: string;
}


const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Milliseconds on purpose: stores must keep them. */
const NOW = new Date('2026-03-01T12:00:00.123Z');
const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);
const LEASE_MS = 5 * MINUTE;
const SPKI = 'a3'.repeat(32);
const PEM =
  '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydHN0ZXdhcmQgY29udHJhY3Q=\n-----END CERTIFICATE-----\n' +
  '-----BEGIN CERTIFICATE-----\nMIIBjTCCATOgAwIBAgIUSW50ZXJtZWRpYXRl\n-----END CERTIFICATE-----\n';

function keyRef(id: string, extra: Partial<KeyRef> = {}): KeyRef {
  return { store: 'software', id, algorithm: 'ECDSA-P256', spkiSha256: SPKI, ...extra };
}

function issued(serialNumber: string, notBefore: Date, notAfter: Date): IssuedCertificate {
  return {
    chainPem: PEM,
    serialNumber,
    fingerprintSha256: `${serialNumber}`.padEnd(64, 'f'),
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    keyRef: keyRef(`key-${serialNumber}`),
    issuedAt: new Date(notBefore.getTime() + 1),
  };
}

/** The smallest valid record: no certificate yet, nothing scheduled. */
function newRecord(id: string, fields: Partial<NewCertificateRecord> = {}): NewCertificateRecord {
  return {
    id,
    status: 'active',
    spec: {
      authority: 'local',
      subjectAltNames: [{ type: 'dns', value: `${id}.example.test` }],
      key: { algorithm: 'ECDSA-P256', rotate: 'always' },
    },
    labels: {},
    renewal: { phase: 'idle', failures: 0 },
    nextActionAt: null,
    announced: [],
    ...fields,
  };
}

/** A record due at `nextActionAt`. */
function dueRecord(id: string, nextActionAt: Date, fields: Partial<NewCertificateRecord> = {}): NewCertificateRecord {
  return newRecord(id, { nextActionAt: new Date(nextActionAt), ...fields });
}

/** A record with every optional field set, nested Dates at millisecond precision. */
function fullRecord(id: string): NewCertificateRecord {
  return {
    id,
    status: 'active',
    spec: {
      authority: 'acme',
      commonName: 'api.example.com',
      subjectAltNames: [
        { type: 'dns', value: 'api.example.com' },
        { type: 'dns', value: '*.api.example.com' },
        { type: 'ip', value: '192.0.2.10' },
        { type: 'ip', value: '2001:db8::1' },
        { type: 'email', value: 'pki@example.com' },
        { type: 'uri', value: 'spiffe://example.com/api' },
      ],
      key: { algorithm: 'RSA-3072', rotate: 'never' },
      lifetimeMs: 90 * DAY,
      profile: 'tlsserver',
      renewal: { before: '30d', jitterRatio: 0.05, rules: [{ ari: true }, { fraction: 0.33 }], note: null, enabled: true },
    },
    labels: { team: 'payments', env: 'prod', 'app.kubernetes.io/name': 'api', 'ünïcode ✓': 'värde "quoted" \\ back' },
    current: {
      ...issued('0a1b2c', new Date('2026-01-01T00:00:00.001Z'), new Date('2026-04-01T00:00:00.999Z')),
      keyRef: keyRef('k-current', { algorithm: 'RSA-3072', sealed: 'c2VhbGVkLWtleS1ieXRlcw', kekId: 'kek-2026' }),
    },
    renewal: {
      phase: 'issued',
      cause: 'scheduled',
      failures: 2,
      keyRef: keyRef('k-next', { store: 'pkcs11', algorithm: 'ECDSA-P384' }),
      orderRef: 'https://acme.example/order/42?x=1',
      issued: issued('0d0e0f', new Date('2026-02-28T23:59:59.456Z'), new Date('2026-05-29T23:59:59.789Z')),
      resumePhase: 'submitted',
      lastError: { kind: 'rate-limited', message: 'too many certificates', retryable: true, at: new Date('2026-02-27T10:11:12.345Z') },
      startedAt: new Date('2026-02-26T01:02:03.004Z'),
      submittedAt: new Date('2026-02-26T01:02:04.005Z'),
      nextAttemptAt: new Date('2026-02-27T11:11:12.345Z'),
      revokeAfter: { serialNumber: '0a1b2c', reason: 'superseded' },
    },
    nextActionAt: new Date('2026-03-02T06:07:08.009Z'),
    announced: [`${'ab'.repeat(32)}:warning`, `${'ab'.repeat(32)}:critical`],
    caWindow: {
      fingerprintSha256: 'ab'.repeat(32),
      start: new Date('2026-02-20T00:00:00.000Z'),
      end: new Date('2026-02-22T12:00:00.500Z'),
      checkedAt: new Date('2026-02-19T08:00:00.000Z'),
      nextCheckAt: new Date('2026-02-19T14:00:00.000Z'),
    },
  };
}

function event(certificateId: string, type: string, atTime: Date, data: Record<string, unknown> = {}): AuditEvent {
  // Fresh Dates: tests scribble on what they pass, and NOW must stay NOW.
  return { certificateId, at: new Date(atTime), type, data };
}

/** The error a promise rejects with; fails the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the store call to reject, but it resolved');
}

function must<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`expected ${what}, got ${String(value)}`);
  return value;
}

/** Mutates every part of a record a caller could reach. */
function scribble(value: unknown): void {
  const r = value as any;
  r.labels.vandal = 'yes';
  r.announced.push('vandal:warning');
  r.spec.subjectAltNames.push({ type: 'dns', value: 'vandal.example' });
  r.spec.subjectAltNames[0].value = 'changed.example';
  r.spec.key.algorithm = 'RSA-4096';
  r.renewal.failures = 99;
  r.renewal.lastError?.at.setTime(0);
  r.current?.notAfter.setTime(0);
  if (r.current) r.current.keyRef.id = 'stolen';
  r.nextActionAt?.setTime(0);
  r.lease?.until.setTime(0);
  r.createdAt?.setTime(0);
  r.status = 'revoked';
}

/**
 * Registers the `CertificateStore` contract: the semantics `MemoryStore`
 * defines and every adapter (Knex on PostgreSQL and SQLite, your own) must
 * keep. `make` must return an empty store each time it is called (truncate
 * the tables, or use a fresh database). Tests use fixed times around
 * 2026-03-01, never the system clock.
 *
 * What it holds a store to: whole-record round trips (every field, nested
 * Dates as Date objects with milliseconds, `nextActionAt: null`, no `current`),
 * deep-copy isolation, revisions and {@link ConflictError} (stale or missing
 * revision on update and delete, duplicate create, racing writers),
 * `claimDue` (due and active only, earliest first then id, limit, leases,
 * fencing, five owners in parallel never sharing a record), `nextDueAt`
 * (agreeing with `claimDue` to the millisecond), atomic audit and history
 * extras, `list` filters and keyset pagination in binary id order, `delete`,
 * `countExpiring` and `reserveIssuance` (when implemented) and already-aborted signals.
 *
 * @param t the runner's `describe`, `it`, `expect` and optionally `beforeEach`.
 * @param make returns a new, empty store.
 * @example
 * ```ts
 * // test/adapters/knex-store.test.ts
 * import { beforeEach, describe, expect, it } from 'vitest'
 * import { describeCertificateStore } from 'certsteward/testing'
 * describeCertificateStore({ describe, it, expect, beforeEach }, async () => {
 *   await knex('certsteward_certificates').truncate()
 *   return new KnexStore(knex)
 * }, { name: 'KnexStore (PostgreSQL)' })
 * ```
 */
export function describeCertificateStore(
  t: ContractTestApi,
  make: () => Promise<CertificateStore> | CertificateStore,
  options: StoreContractOptions = {},
): void {
  const { describe, it, expect } = t;
  let prepared: CertificateStore | undefined;

  /** Registers a test that receives a fresh store. */
  const test = (name: string, body: (store: CertificateStore) => Promise<void>): void => {
    it(name, async () => {
      let store: CertificateStore;
      if (t.beforeEach === undefined) store = await make();
      else store = must(prepared, 'the store made in beforeEach');
      await body(store);
    });
  };

  const expectDate = (value: unknown, expected: Date): void => {
    expect(Object.prototype.toString.call(value)).toBe('[object Date]');
    expect((value as Date).toISOString()).toBe(expected.toISOString());
  };

  const expectConflict = (e: unknown, id: string, expected: number | undefined, actual?: number): void => {
    expect(isCertstewardError(e, 'conflict')).toBe(true);
    const c = e as { id: unknown; expectedRevision: unknown; actualRevision: unknown };
    expect(c.id).toBe(id);
    expect(c.expectedRevision).toBe(expected);
    if (expected !== undefined) expect(c.actualRevision).toBe(actual);
  };

  const ids = (records: readonly CertificateRecord[]): string[] => records.map((r) => r.id);

  const createAll = async (store: CertificateStore, records: readonly NewCertificateRecord[]): Promise<CertificateRecord[]> => {
    const out: CertificateRecord[] = [];
    for (const r of records) out.push(await store.create(r, NOW));
    return out;
  };

  /** Every page of `filter`, following `after`; fails instead of looping on a store that repeats itself. */
  const pageAll = async (
    store: CertificateStore,
    filter: ListFilter,
    maxPages: number,
  ): Promise<{ ids: string[]; sizes: number[] }> => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let after: string | undefined;
    for (let pages = 0; ; pages++) {
      if (pages > maxPages) {
        throw new Error(`list returned more than ${maxPages} pages: does it return only ids after \`after\`?`);
      }
      const page = await store.list(after === undefined ? filter : { ...filter, after });
      if (page.length === 0) return { ids: seen, sizes };
      sizes.push(page.length);
      seen.push(...ids(page));
      after = must(page[page.length - 1], 'the last record of a page').id;
    }
  };

  const getOrFail = async (store: CertificateStore, id: string): Promise<CertificateRecord> =>
    must(await store.get(id), `record "${id}"`);

  describe(options.name ?? 'CertificateStore contract', () => {
    if (t.beforeEach !== undefined) {
      t.beforeEach(async () => {
        prepared = await make();
      });
    }

    describe('records', () => {
      test('round-trips every field of a record, nested Dates included, through create, get, list and claimDue', async (store) => {
        const input = fullRecord('full.example.com');
        const created = await store.create(input, NOW);
        const expected = { ...input, revision: 1, createdAt: NOW, updatedAt: NOW };
        expect(created).toEqual(expected);
        expect(await store.get(input.id)).toEqual(expected);
        expect(await store.list()).toEqual([expected]);
        const claimNow = at(DAY);
        const [claimed] = await store.claimDue(claimNow, 'owner-a', LEASE_MS, 10);
        expect(claimed).toEqual({
          ...expected,
          revision: 2,
          updatedAt: claimNow,
          lease: { owner: 'owner-a', until: at(DAY + LEASE_MS) },
        });
      });

      test('returns Dates as Date objects with their milliseconds, at every depth', async (store) => {
        const input = fullRecord('dates.example.com');
        await store.create(input, NOW);
        const got = await getOrFail(store, input.id);
        const current = must(got.current, 'current');
        const next = must(got.renewal.issued, 'renewal.issued');
        expectDate(got.createdAt, NOW);
        expectDate(got.updatedAt, NOW);
        expectDate(got.nextActionAt, must(input.nextActionAt, 'input.nextActionAt'));
        expectDate(current.notBefore, new Date('2026-01-01T00:00:00.001Z'));
        expectDate(current.notAfter, new Date('2026-04-01T00:00:00.999Z'));
        expectDate(current.issuedAt, new Date('2026-01-01T00:00:00.002Z'));
        expectDate(next.notBefore, new Date('2026-02-28T23:59:59.456Z'));
        expectDate(next.notAfter, new Date('2026-05-29T23:59:59.789Z'));
        expectDate(must(got.renewal.lastError, 'renewal.lastError').at, new Date('2026-02-27T10:11:12.345Z'));
        expectDate(got.renewal.startedAt, new Date('2026-02-26T01:02:03.004Z'));
      });

      test('keeps a minimal record minimal: nextActionAt null, no current, no lease, empty labels and announced', async (store) => {
        await store.create(newRecord('minimal'), NOW);
        const got = await getOrFail(store, 'minimal');
        expect(got.nextActionAt).toBe(null);
        expect(got.current).toBe(undefined);
        expect(got.lease).toBe(undefined);
        expect(got.spec.commonName).toBe(undefined);
        expect(got.spec.renewal).toBe(undefined);
        expect(got.renewal.issued).toBe(undefined);
        expect(got.labels).toEqual({});
        expect(got.announced).toEqual([]);
        expect(got).toEqual({ ...newRecord('minimal'), revision: 1, createdAt: NOW, updatedAt: NOW });
      });

      test('keeps dates far from now: no-well-defined-expiry 9999-12-31 and pre-1970 times', async (store) => {
        const notBefore = new Date('1950-01-01T00:00:00.000Z');
        const notAfter = new Date('9999-12-31T23:59:59.000Z');
        await store.create(newRecord('far', { current: issued('01', notBefore, notAfter) }), NOW);
        const current = must((await getOrFail(store, 'far')).current, 'current');
        expectDate(current.notBefore, notBefore);
        expectDate(current.notAfter, notAfter);
      });

      test('get returns undefined for an unknown id', async (store) => {
        expect(await store.get('nobody')).toBe(undefined);
      });

      test('create sets revision 1 and createdAt = updatedAt = now, ignoring a revision, timestamps or lease passed at run time', async (store) => {
        const sneaky = {
          ...dueRecord('sneaky', at(-HOUR)),
          revision: 41,
          createdAt: at(-DAY),
          updatedAt: at(-DAY),
          lease: { owner: 'intruder', until: at(DAY) },
        } as NewCertificateRecord;
        const created = await store.create(sneaky, NOW);
        expect(created.revision).toBe(1);
        expectDate(created.createdAt, NOW);
        expectDate(created.updatedAt, NOW);
        expect(created.lease).toBe(undefined);
        expect(await store.get('sneaky')).toEqual(created);
        expect(ids(await store.claimDue(NOW, 'owner-a', LEASE_MS, 10))).toEqual(['sneaky']);
      });
    });

    describe('copies', () => {
      test('mutating a record after passing it to create or update does not change the store', async (store) => {
        const input = fullRecord('isolated');
        const created = await store.create(input, NOW);
        const snapshot = await getOrFail(store, 'isolated');
        scribble(input);
        expect(await store.get('isolated')).toEqual(snapshot);

        const change = { ...snapshot, labels: { team: 'ops' }, spec: { ...snapshot.spec, subjectAltNames: [...snapshot.spec.subjectAltNames] } };
        const updated = await store.update(change, at(MINUTE));
        const afterUpdate = await getOrFail(store, 'isolated');
        scribble(change);
        expect(await store.get('isolated')).toEqual(afterUpdate);
        expect(updated).toEqual(afterUpdate);
        expect(created.revision).toBe(1);
      });

      test('mutating a record returned by create, get, list, update or claimDue does not change the store', async (store) => {
        const created = await store.create(fullRecord('isolated'), NOW);
        const stored = await getOrFail(store, 'isolated');
        scribble(created);
        scribble(await store.get('isolated'));
        for (const r of await store.list()) scribble(r);
        expect(await store.get('isolated')).toEqual(stored);

        const updated = await store.update(stored, at(MINUTE));
        const afterUpdate = await getOrFail(store, 'isolated');
        scribble(updated);
        expect(await store.get('isolated')).toEqual(afterUpdate);

        const claimed = await store.claimDue(at(DAY), 'owner-a', LEASE_MS, 10);
        expect(claimed).toHaveLength(1);
        const afterClaim = await getOrFail(store, 'isolated');
        for (const r of claimed) scribble(r);
        expect(await store.get('isolated')).toEqual(afterClaim);
        expect(afterClaim.lease).toEqual({ owner: 'owner-a', until: at(DAY + LEASE_MS) });
      });

      test('mutating audit events and archived certificates, passed or returned, does not change the store', async (store) => {
        const archived = issued('01', at(-90 * DAY), at(-DAY));
        const events = [event('x', 'certificate.tracked', NOW, { nested: { list: [1, 2] } })];
        await store.create(newRecord('x'), NOW, { audit: events, archive: archived });
        const scribbleEvent = (e: any): void => {
          e.type = 'vandal';
          e.data.nested.list.push(3);
          e.at.setTime(0);
        };
        const scribbleCert = (c: any): void => {
          c.notAfter.setTime(0);
          c.keyRef.id = 'stolen';
          c.serialNumber = 'ff';
        };
        events.forEach(scribbleEvent);
        scribbleCert(archived);
        const expectedEvents = [event('x', 'certificate.tracked', NOW, { nested: { list: [1, 2] } })];
        const expectedHistory = [issued('01', at(-90 * DAY), at(-DAY))];
        expect(await store.audit('x')).toEqual(expectedEvents);
        expect(await store.history('x')).toEqual(expectedHistory);
        (await store.audit('x')).forEach(scribbleEvent);
        (await store.history('x')).forEach(scribbleCert);
        expect(await store.audit('x')).toEqual(expectedEvents);
        expect(await store.history('x')).toEqual(expectedHistory);
      });
    });

    describe('revisions', () => {
      test('update returns the record at the next revision, keeps createdAt and sets updatedAt to now', async (store) => {
        const created = await store.create(newRecord('r'), NOW);
        const updated = await store.update(
          { ...created, labels: { env: 'prod' }, createdAt: at(-DAY), updatedAt: at(-DAY) },
          at(MINUTE),
        );
        expect(updated.revision).toBe(2);
        expect(updated.labels).toEqual({ env: 'prod' });
        expectDate(updated.createdAt, NOW);
        expectDate(updated.updatedAt, at(MINUTE));
        expect(await store.get('r')).toEqual(updated);
        const again = await store.update(updated, at(2 * MINUTE));
        expect(again.revision).toBe(3);
      });

      test('update writes the record whole: fields set to undefined or null are gone', async (store) => {
        const created = await store.create(fullRecord('whole'), NOW);
        const { current: _current, ...withoutCurrent } = created;
        const updated = await store.update(
          { ...withoutCurrent, renewal: { phase: 'idle', failures: 0 }, nextActionAt: null, announced: [], labels: {} },
          at(MINUTE),
        );
        const got = await getOrFail(store, 'whole');
        expect(got).toEqual(updated);
        expect(got.current).toBe(undefined);
        expect(got.renewal).toEqual({ phase: 'idle', failures: 0 });
        expect(got.nextActionAt).toBe(null);
        expect(got.announced).toEqual([]);
        expect(got.labels).toEqual({});
      });

      test('update with a stale revision is a ConflictError naming both revisions, and changes nothing', async (store) => {
        const v1 = await store.create(newRecord('r'), NOW);
        const v2 = await store.update({ ...v1, labels: { by: 'first' } }, at(MINUTE));
        const e = await rejectionOf(store.update({ ...v1, labels: { by: 'second' } }, at(2 * MINUTE)));
        expectConflict(e, 'r', 1, 2);
        expect(await store.get('r')).toEqual(v2);
      });

      test('update of an id that is not stored is a ConflictError with no actual revision', async (store) => {
        const ghost = { ...newRecord('ghost'), revision: 1, createdAt: NOW, updatedAt: NOW };
        expectConflict(await rejectionOf(store.update(ghost, NOW)), 'ghost', 1, undefined);
        expect(await store.get('ghost')).toBe(undefined);
      });

      test('update of a deleted record is a ConflictError with no actual revision', async (store) => {
        const v1 = await store.create(newRecord('gone'), NOW);
        await store.delete('gone', 1);
        expectConflict(await rejectionOf(store.update(v1, at(MINUTE))), 'gone', 1, undefined);
        expect(await store.get('gone')).toBe(undefined);
      });

      test('create of an existing id is a ConflictError and leaves the stored record as it was', async (store) => {
        const first = await store.create(newRecord('dup', { labels: { v: '1' } }), NOW);
        const e = await rejectionOf(store.create(newRecord('dup', { labels: { v: '2' } }), at(MINUTE)));
        expectConflict(e, 'dup', undefined);
        expect(await store.get('dup')).toEqual(first);
      });

      test('of two updates racing at the same revision, exactly one wins and the other is a ConflictError', async (store) => {
        const v1 = await store.create(newRecord('race'), NOW);
        const results = await Promise.allSettled([
          store.update({ ...v1, labels: { by: 'a' } }, at(MINUTE)),
          store.update({ ...v1, labels: { by: 'b' } }, at(MINUTE)),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expectConflict(must(lost[0], 'the loser').reason, 'race', 1, 2);
        const winner = must(won[0], 'the winner') as PromiseFulfilledResult<CertificateRecord>;
        expect(await store.get('race')).toEqual(winner.value);
        expect(winner.value.revision).toBe(2);
      });

      test('of ten creates racing for one id, exactly one wins', async (store) => {
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => store.create(newRecord('same', { labels: { n: String(i) } }), NOW)),
        );
        const won = results.filter((r): r is PromiseFulfilledResult<CertificateRecord> => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expectConflict(r.reason, 'same', undefined);
        expect(await store.get('same')).toEqual(must(won[0], 'the winner').value);
      });
    });

    describe('claimDue', () => {
      test('claims only active records whose nextActionAt is at or before now, earliest first', async (store) => {
        await createAll(store, [
          dueRecord('d-future', at(1)),
          dueRecord('d-now', NOW),
          dueRecord('d-past', at(-HOUR)),
          newRecord('d-never'),
          dueRecord('d-revoked', at(-DAY), { status: 'revoked' }),
          dueRecord('d-oldest', at(-DAY)),
        ]);
        const claimed = await store.claimDue(NOW, 'owner-a', LEASE_MS, 100);
        expect(ids(claimed)).toEqual(['d-oldest', 'd-past', 'd-now']);
        expect((await getOrFail(store, 'd-future')).lease).toBe(undefined);
        expect((await getOrFail(store, 'd-never')).lease).toBe(undefined);
        expect((await getOrFail(store, 'd-revoked')).lease).toBe(undefined);
        expect(await store.claimDue(at(1), 'owner-b', LEASE_MS, 100).then(ids)).toEqual(['d-future']);
      });

      test('orders equal nextActionAt by id and hands out at most limit records per call', async (store) => {
        await createAll(store, [
          dueRecord('c', at(-HOUR)),
          dueRecord('a', at(-HOUR)),
          dueRecord('e', at(-2 * HOUR)),
          dueRecord('b', at(-HOUR)),
          dueRecord('d', at(-MINUTE)),
        ]);
        expect(ids(await store.claimDue(NOW, 'owner-a', LEASE_MS, 3))).toEqual(['e', 'a', 'b']);
        expect(ids(await store.claimDue(NOW, 'owner-b', LEASE_MS, 3))).toEqual(['c', 'd']);
        expect(await store.claimDue(NOW, 'owner-c', LEASE_MS, 3)).toEqual([]);
      });

      test('limit 0 claims nothing', async (store) => {
        await store.create(dueRecord('due', at(-HOUR)), NOW);
        expect(await store.claimDue(NOW, 'owner-a', LEASE_MS, 0)).toEqual([]);
        const got = await getOrFail(store, 'due');
        expect(got.lease).toBe(undefined);
        expect(got.revision).toBe(1);
      });

      test('a claimed record is leased to the owner until now + leaseMs, one revision later, updatedAt now, and stored so', async (store) => {
        const created = await store.create(dueRecord('lease', at(-HOUR)), NOW);
        const claimNow = at(SECOND);
        const [claimed] = await store.claimDue(claimNow, 'owner-a', LEASE_MS, 10);
        expect(claimed).toEqual({
          ...created,
          revision: 2,
          updatedAt: claimNow,
          lease: { owner: 'owner-a', until: at(SECOND + LEASE_MS) },
        });
        expectDate(must(claimed, 'the claim').lease?.until, at(SECOND + LEASE_MS));
        expect(await store.get('lease')).toEqual(claimed);
      });

      test('while a lease lives nobody, not even its owner, claims the record; at lease.until anyone can', async (store) => {
        await store.create(dueRecord('leased', at(-HOUR)), NOW);
        expect(await store.claimDue(NOW, 'owner-a', LEASE_MS, 10).then(ids)).toEqual(['leased']);
        expect(await store.claimDue(NOW, 'owner-b', LEASE_MS, 10)).toEqual([]);
        expect(await store.claimDue(NOW, 'owner-a', LEASE_MS, 10)).toEqual([]);
        expect(await store.claimDue(at(LEASE_MS - 1), 'owner-b', LEASE_MS, 10)).toEqual([]);
        const [taken] = await store.claimDue(at(LEASE_MS), 'owner-b', LEASE_MS, 10);
        expect(must(taken, 'the claim after expiry').lease).toEqual({ owner: 'owner-b', until: at(2 * LEASE_MS) });
        expect(must(taken, 'the claim after expiry').revision).toBe(3);
      });

      test('fencing: after another owner claims an expired lease, the previous owner\'s update is a ConflictError', async (store) => {
        await store.create(dueRecord('fenced', at(-HOUR)), NOW);
        const [mine] = await store.claimDue(NOW, 'owner-a', LEASE_MS, 10);
        const [theirs] = await store.claimDue(at(LEASE_MS + 1), 'owner-b', LEASE_MS, 10);
        const a = must(mine, "owner-a's claim");
        const b = must(theirs, "owner-b's claim");
        expect(b.revision).toBe(a.revision + 1);
        const e = await rejectionOf(store.update({ ...a, labels: { by: 'owner-a' } }, at(LEASE_MS + 2)));
        expectConflict(e, 'fenced', a.revision, b.revision);
        const done = await store.update({ ...b, labels: { by: 'owner-b' }, lease: undefined }, at(LEASE_MS + 3));
        expect(done.revision).toBe(b.revision + 1);
        expect((await getOrFail(store, 'fenced')).labels).toEqual({ by: 'owner-b' });
      });

      test('an update that keeps the lease keeps the record leased', async (store) => {
        await store.create(dueRecord('kept', at(-HOUR)), NOW);
        const [claimed] = await store.claimDue(NOW, 'owner-a', LEASE_MS, 10);
        const step = await store.update({ ...must(claimed, 'the claim'), renewal: { phase: 'key-ready', failures: 0 } }, at(SECOND));
        expect(step.lease).toEqual({ owner: 'owner-a', until: at(LEASE_MS) });
        expect(await store.claimDue(at(2 * SECOND), 'owner-b', LEASE_MS, 10)).toEqual([]);
      });

      test('an update writing lease undefined releases it: a still-due record is claimable again at once', async (store) => {
        await store.create(dueRecord('released', at(-HOUR)), NOW);
        const [claimed] = await store.claimDue(NOW, 'owner-a', LEASE_MS, 10);
        const released = await store.update({ ...must(claimed, 'the claim'), lease: undefined }, at(SECOND));
        expect(released.lease).toBe(undefined);
        expect((await getOrFail(store, 'released')).lease).toBe(undefined);
        const [again] = await store.claimDue(at(2 * SECOND), 'owner-b', LEASE_MS, 10);
        expect(must(again, 'the second claim').lease?.owner).toBe('owner-b');
      });

      test('a released record rescheduled for later is claimed only when due again', async (store) => {
        await store.create(dueRecord('later', at(-HOUR)), NOW);
        const [claimed] = await store.claimDue(NOW, 'owner-a', LEASE_MS, 10);
        await store.update({ ...must(claimed, 'the claim'), lease: undefined, nextActionAt: at(DAY) }, at(SECOND));
        expect(await store.claimDue(at(DAY - 1), 'owner-b', LEASE_MS, 10)).toEqual([]);
        expect(await store.claimDue(at(DAY), 'owner-b', LEASE_MS, 10).then(ids)).toEqual(['later']);
      });

      test('a record revoked while leased is never claimed again', async (store) => {
        await store.create(dueRecord('revoked', at(-HOUR)), NOW);
        const [claimed] = await store.claimDue(NOW, 'owner-a', LEASE_MS, 10);
        await store.update({ ...must(claimed, 'the claim'), status: 'revoked' }, at(SECOND));
        expect(await store.claimDue(at(10 * LEASE_MS), 'owner-b', LEASE_MS, 10)).toEqual([]);
      });

      test('five owners claiming in parallel never get the same record, and nothing due is lost', async (store) => {
        const all = Array.from({ length: 30 }, (_, i) => `p-${String(i).padStart(2, '0')}`);
        await createAll(store, all.map((id, i) => dueRecord(id, at(-(i % 7) * MINUTE))));
        const owners = ['owner-1', 'owner-2', 'owner-3', 'owner-4', 'owner-5'];
        const batches = await Promise.all(owners.map((owner) => store.claimDue(NOW, owner, LEASE_MS, 10)));
        const handed = batches.flatMap((batch, i) => batch.map((r) => ({ id: r.id, owner: must(owners[i], 'owner'), record: r })));
        expect(new Set(handed.map((h) => h.id)).size).toBe(handed.length);
        for (const h of handed) {
          expect(h.record.lease?.owner).toBe(h.owner);
          expect(h.record.revision).toBe(2);
          expect((await getOrFail(store, h.id)).lease?.owner).toBe(h.owner);
        }
        const rest = await store.claimDue(NOW, 'owner-6', LEASE_MS, 100);
        const everyone = [...handed.map((h) => h.id), ...ids(rest)].sort();
        expect(everyone).toEqual(all);
      });

      test('a claim racing an update loses neither write', async (store) => {
        const n = 10;
        const originals = await createAll(
          store,
          Array.from({ length: n }, (_, i) => dueRecord(`u-${i}`, at(-HOUR))),
        );
        const touch = (r: CertificateRecord) => store.update({ ...r, labels: { touched: 'yes' } }, NOW);
        // Half the updates are sent before the claim and half after, so each store sees both orders.
        const early = originals.slice(0, n / 2).map(touch);
        const claim = store.claimDue(NOW, 'owner-a', LEASE_MS, n);
        const late = originals.slice(n / 2).map(touch);
        const [updates, claims] = await Promise.all([Promise.allSettled([...early, ...late]), claim]);
        for (let i = 0; i < n; i++) {
          const id = `u-${i}`;
          const final = await getOrFail(store, id);
          const result = must(updates[i], 'update result');
          const claimed = claims.find((c) => c.id === id);
          expect(final.revision).toBe(1 + (result.status === 'fulfilled' ? 1 : 0) + (claimed ? 1 : 0));
          if (result.status === 'fulfilled') expect(final.labels).toEqual({ touched: 'yes' });
          else expectConflict(result.reason, id, 1, 2);
          if (claimed) expect(final).toEqual(claimed);
        }
      });
    });

    describe('nextDueAt', () => {
      test('is undefined for an empty store, and for records never due, revoked or deleted', async (store) => {
        expect(await store.nextDueAt()).toBe(undefined);
        await store.create(newRecord('never'), NOW);
        await store.create(dueRecord('revoked', at(-HOUR), { status: 'revoked' }), NOW);
        const gone = await store.create(dueRecord('gone', at(-HOUR)), NOW);
        await store.delete('gone', gone.revision);
        expect(await store.nextDueAt()).toBe(undefined);
      });

      test('is the earliest nextActionAt of active records, even one in the past', async (store) => {
        await store.create(dueRecord('later', at(DAY)), NOW);
        expectDate(await store.nextDueAt(), at(DAY));
        await store.create(dueRecord('sooner', at(HOUR + 7)), NOW);
        expectDate(await store.nextDueAt(), at(HOUR + 7));
        await store.create(dueRecord('overdue', at(-DAY - 1)), NOW);
        expectDate(await store.nextDueAt(), at(-DAY - 1));
      });

      test('for a leased record is the later of nextActionAt and lease.until', async (store) => {
        await store.create(dueRecord('leased', at(-HOUR)), NOW);
        await store.claimDue(NOW, 'owner-a', LEASE_MS, 10);
        expectDate(await store.nextDueAt(), at(LEASE_MS));
        await store.create(dueRecord('other', at(LEASE_MS - 1)), NOW);
        expectDate(await store.nextDueAt(), at(LEASE_MS - 1));
      });

      test('a lease that ends before nextActionAt does not bring it forward', async (store) => {
        await store.create(dueRecord('x', at(-HOUR)), NOW);
        const [claimed] = await store.claimDue(NOW, 'owner-a', LEASE_MS, 10);
        await store.update({ ...must(claimed, 'the claim'), nextActionAt: at(DAY) }, at(SECOND));
        expectDate(await store.nextDueAt(), at(DAY));
      });

      test('returns to nextActionAt once an update releases the lease', async (store) => {
        await store.create(dueRecord('x', at(-HOUR)), NOW);
        const [claimed] = await store.claimDue(NOW, 'owner-a', LEASE_MS, 10);
        await store.update({ ...must(claimed, 'the claim'), lease: undefined, nextActionAt: at(2 * MINUTE) }, at(SECOND));
        expectDate(await store.nextDueAt(), at(2 * MINUTE));
      });

      test('agrees with claimDue to the millisecond: nothing is claimable 1 ms before it, something is at it', async (store) => {
        const offsets = [7 * HOUR + 3, 2 * DAY, 30 * MINUTE + 11, 5 * HOUR, 13 * MINUTE + 999, 3 * DAY + 1];
        await createAll(store, offsets.map((o, i) => dueRecord(`f-${i}`, at(o - HOUR))));
        await store.create(dueRecord('f-revoked', at(-2 * DAY), { status: 'revoked' }), NOW);
        await store.claimDue(at(MINUTE), 'owner-a', 20 * MINUTE, 1);
        for (let round = 0; round < offsets.length; round++) {
          const next = must(await store.nextDueAt(), 'nextDueAt');
          expect(await store.claimDue(new Date(next.getTime() - 1), 'probe', LEASE_MS, 10)).toEqual([]);
          const got = await store.claimDue(next, 'worker', 2 * DAY, 10);
          expect(got.length > 0).toBe(true);
          for (const r of got) await store.update({ ...r, lease: undefined, nextActionAt: null }, next);
          if ((await store.list({ status: 'active', dueBefore: at(100 * DAY) })).length === 0) break;
        }
        expect(await store.nextDueAt()).toBe(undefined);
      });
    });

    describe('audit and history', () => {
      test('create writes its audit events and archived certificate', async (store) => {
        const archived = issued('00ff', at(-100 * DAY), at(-10 * DAY));
        const tracked = event('t', 'certificate.tracked', NOW, { authority: 'local', sans: ['t.example'], n: 1, ok: true, none: null });
        await store.create(newRecord('t'), NOW, { audit: [tracked], archive: archived });
        expect(await store.audit('t')).toEqual([tracked]);
        expect(await store.history('t')).toEqual([archived]);
        expectDate(must((await store.audit('t'))[0], 'event').at, NOW);
        expectDate(must((await store.history('t'))[0], 'archived').notAfter, at(-10 * DAY));
      });

      test('update appends its audit events after earlier ones, oldest first, in the order given', async (store) => {
        const v1 = await store.create(newRecord('a'), NOW, { audit: [event('a', 'certificate.tracked', NOW)] });
        const v2 = await store.update(v1, at(MINUTE), {
          audit: [event('a', 'renewal.started', at(MINUTE)), event('a', 'key.created', at(MINUTE), { algorithm: 'ECDSA-P256' })],
        });
        await store.update(v2, at(HOUR), { audit: [event('a', 'renewal.succeeded', at(HOUR), { serialNumber: '01' })] });
        expect(await store.audit('a')).toEqual([
          event('a', 'certificate.tracked', NOW),
          event('a', 'renewal.started', at(MINUTE)),
          event('a', 'key.created', at(MINUTE), { algorithm: 'ECDSA-P256' }),
          event('a', 'renewal.succeeded', at(HOUR), { serialNumber: '01' }),
        ]);
      });

      test('audit orders by event time: an event written later with an earlier time comes first', async (store) => {
        const v1 = await store.create(newRecord('a'), NOW, { audit: [event('a', 'second', at(MINUTE))] });
        await store.update(v1, at(2 * MINUTE), { audit: [event('a', 'first', at(-MINUTE))] });
        expect((await store.audit('a')).map((e) => e.type)).toEqual(['first', 'second']);
      });

      test('history lists archived certificates newest archived first, per id', async (store) => {
        const c1 = issued('01', at(-300 * DAY), at(-200 * DAY));
        const c2 = issued('02', at(-200 * DAY), at(-100 * DAY));
        const c3 = issued('03', at(-100 * DAY), at(-1));
        let r = await store.create(newRecord('h'), NOW, { archive: c1 });
        await store.create(newRecord('other'), NOW, { archive: issued('99', at(-DAY), at(DAY)) });
        r = await store.update(r, at(MINUTE), { archive: c2 });
        r = await store.update(r, at(2 * MINUTE));
        await store.update(r, at(3 * MINUTE), { archive: c3 });
        expect(await store.history('h')).toEqual([c3, c2, c1]);
        expect(await store.history('other')).toEqual([issued('99', at(-DAY), at(DAY))]);
      });

      test('history and audit of an unknown id are empty', async (store) => {
        expect(await store.history('nobody')).toEqual([]);
        expect(await store.audit('nobody')).toEqual([]);
      });

      test('a conflicting update writes neither its record, its audit events nor its archive', async (store) => {
        const v1 = await store.create(newRecord('atomic'), NOW, { audit: [event('atomic', 'certificate.tracked', NOW)] });
        const v2 = await store.update(v1, at(MINUTE));
        const e = await rejectionOf(
          store.update({ ...v1, labels: { lost: 'yes' } }, at(2 * MINUTE), {
            audit: [event('atomic', 'renewal.succeeded', at(2 * MINUTE))],
            archive: issued('0bad', at(-DAY), at(DAY)),
          }),
        );
        expectConflict(e, 'atomic', 1, 2);
        expect(await store.get('atomic')).toEqual(v2);
        expect(await store.audit('atomic')).toEqual([event('atomic', 'certificate.tracked', NOW)]);
        expect(await store.history('atomic')).toEqual([]);
      });

      test('a create of an existing id writes neither its audit events nor its archive', async (store) => {
        await store.create(newRecord('dup'), NOW);
        await rejectionOf(
          store.create(newRecord('dup'), at(MINUTE), {
            audit: [event('dup', 'certificate.tracked', at(MINUTE))],
            archive: issued('0bad', at(-DAY), at(DAY)),
          }),
        );
        expect(await store.audit('dup')).toEqual([]);
        expect(await store.history('dup')).toEqual([]);
      });
    });

    describe('list', () => {
      test('is empty for an empty store', async (store) => {
        expect(await store.list()).toEqual([]);
      });

      test('pages through 250 records by id with limit and after, 100 per page by default', async (store) => {
        const all = Array.from({ length: 250 }, (_, i) => `cert-${String(i).padStart(3, '0')}`);
        // Created out of order, so insertion order cannot pass for id order.
        const shuffled = all.map((id, i) => ({ id, key: (i * 97) % 250 })).sort((a, b) => a.key - b.key);
        await createAll(store, shuffled.map(({ id }) => newRecord(id)));
        expect(ids(await store.list())).toEqual(all.slice(0, 100));
        const { ids: seen, sizes } = await pageAll(store, { limit: 100 }, 5);
        expect(sizes).toEqual([100, 100, 50]);
        expect(seen).toEqual(all);
        expect(ids(await store.list({ after: 'cert-0995', limit: 3 }))).toEqual(['cert-100', 'cert-101', 'cert-102']);
        expect(await store.list({ after: 'cert-249' })).toEqual([]);
      });

      test('orders ids by code unit (binary) order, not by locale', async (store) => {
        const odd = ['b', 'B', 'a', 'A', 'a-1', 'a.1', 'a_1', 'a1', 'Z', '_x', '-x', '0', 'é', 'e', 'aa', 'a~'];
        await createAll(store, odd.map((id) => newRecord(id)));
        const binary = [...odd].sort();
        expect(ids(await store.list())).toEqual(binary);
        expect(ids(await store.list({ after: 'a', limit: 4 }))).toEqual(binary.slice(binary.indexOf('a') + 1, binary.indexOf('a') + 5));
      });

      test('limit 0 lists nothing', async (store) => {
        await store.create(newRecord('x'), NOW);
        expect(await store.list({ limit: 0 })).toEqual([]);
      });

      test('filters by status', async (store) => {
        await createAll(store, [newRecord('a'), newRecord('b', { status: 'revoked' }), newRecord('c')]);
        expect(ids(await store.list({ status: 'active' }))).toEqual(['a', 'c']);
        expect(ids(await store.list({ status: 'revoked' }))).toEqual(['b']);
      });

      test('filters by labels: every given label must match', async (store) => {
        await createAll(store, [
          newRecord('both', { labels: { team: 'pay', env: 'prod' } }),
          newRecord('more', { labels: { team: 'pay', env: 'prod', tier: '1' } }),
          newRecord('team-only', { labels: { team: 'pay' } }),
          newRecord('other-env', { labels: { team: 'pay', env: 'dev' } }),
          newRecord('none'),
        ]);
        expect(ids(await store.list({ labels: { team: 'pay', env: 'prod' } }))).toEqual(['both', 'more']);
        expect(ids(await store.list({ labels: { team: 'pay' } }))).toEqual(['both', 'more', 'other-env', 'team-only']);
        expect(ids(await store.list({ labels: {} }))).toEqual(['both', 'more', 'none', 'other-env', 'team-only']);
        expect(await store.list({ labels: { team: 'PAY' } })).toEqual([]);
      });

      test('filters by dueBefore, inclusive; a record never due never matches', async (store) => {
        await createAll(store, [dueRecord('early', at(-HOUR)), dueRecord('edge', NOW), dueRecord('late', at(1)), newRecord('never')]);
        expect(ids(await store.list({ dueBefore: NOW }))).toEqual(['early', 'edge']);
      });

      test('filters by expiresBefore on current.notAfter, inclusive; a record without a certificate never matches', async (store) => {
        await createAll(store, [
          newRecord('expired', { current: issued('01', at(-90 * DAY), at(-DAY)) }),
          newRecord('edge', { current: issued('02', at(-90 * DAY), at(30 * DAY)) }),
          newRecord('later', { current: issued('03', at(-90 * DAY), at(30 * DAY + 1)) }),
          newRecord('no-cert'),
        ]);
        expect(ids(await store.list({ expiresBefore: at(30 * DAY) }))).toEqual(['edge', 'expired']);
      });

      test('combines filters and pages through the matches only', async (store) => {
        const records = Array.from({ length: 60 }, (_, i) =>
          newRecord(`m-${String(i).padStart(2, '0')}`, {
            labels: { parity: i % 2 === 0 ? 'even' : 'odd' },
            status: i % 3 === 0 ? 'revoked' : 'active',
            nextActionAt: i % 5 === 0 ? null : at(i * MINUTE),
          }),
        );
        await createAll(store, records);
        const expected = records
          .filter((r) => r.labels.parity === 'even' && r.status === 'active' && r.nextActionAt !== null && r.nextActionAt <= at(40 * MINUTE))
          .map((r) => r.id);
        const filter = { labels: { parity: 'even' }, status: 'active' as const, dueBefore: at(40 * MINUTE), limit: 4 };
        const { ids: seen, sizes } = await pageAll(store, filter, 20);
        expect(sizes.every((n) => n <= 4)).toBe(true);
        expect(seen).toEqual(expected);
        expect(expected.length > 4).toBe(true);
      });
    });

    describe('delete', () => {
      test('removes the record from get, list, claimDue and nextDueAt, but keeps its history and audit', async (store) => {
        const v1 = await store.create(dueRecord('del', at(-HOUR)), NOW, { audit: [event('del', 'certificate.tracked', NOW)] });
        const v2 = await store.update(v1, at(MINUTE), {
          audit: [event('del', 'renewal.succeeded', at(MINUTE))],
          archive: issued('01', at(-DAY), at(DAY)),
        });
        await store.delete('del', v2.revision);
        expect(await store.get('del')).toBe(undefined);
        expect(await store.list()).toEqual([]);
        expect(await store.claimDue(at(DAY), 'owner-a', LEASE_MS, 10)).toEqual([]);
        expect(await store.nextDueAt()).toBe(undefined);
        expect((await store.audit('del')).map((e) => e.type)).toEqual(['certificate.tracked', 'renewal.succeeded']);
        expect(await store.history('del')).toEqual([issued('01', at(-DAY), at(DAY))]);
      });

      test('with a stale revision is a ConflictError and keeps the record', async (store) => {
        const v1 = await store.create(newRecord('del'), NOW);
        const v2 = await store.update(v1, at(MINUTE));
        expectConflict(await rejectionOf(store.delete('del', 1)), 'del', 1, 2);
        expect(await store.get('del')).toEqual(v2);
      });

      test('after someone claimed the record, with the revision read before, is a ConflictError', async (store) => {
        const v1 = await store.create(dueRecord('del', at(-HOUR)), NOW);
        await store.claimDue(NOW, 'owner-a', LEASE_MS, 10);
        expectConflict(await rejectionOf(store.delete('del', v1.revision)), 'del', 1, 2);
      });

      test('of an id that is not stored is a ConflictError with no actual revision', async (store) => {
        expectConflict(await rejectionOf(store.delete('nobody', 1)), 'nobody', 1, undefined);
      });

      test('an id can be created again after delete, at revision 1, and its history and audit continue', async (store) => {
        const v1 = await store.create(newRecord('again'), NOW, {
          audit: [event('again', 'certificate.tracked', NOW)],
          archive: issued('01', at(-DAY), at(DAY)),
        });
        await store.delete('again', v1.revision);
        const reborn = await store.create(newRecord('again'), at(HOUR), {
          audit: [event('again', 'certificate.tracked', at(HOUR))],
          archive: issued('02', at(-DAY), at(2 * DAY)),
        });
        expect(reborn.revision).toBe(1);
        expectDate(reborn.createdAt, at(HOUR));
        expect((await store.history('again')).map((c) => c.serialNumber)).toEqual(['02', '01']);
        expect(await store.audit('again')).toHaveLength(2);
      });
    });

    describe('countExpiring (when implemented)', () => {
      const thresholds = { warningMs: 30 * DAY, criticalMs: 7 * DAY };

      test('is all zeros for an empty store', async (store) => {
        if (store.countExpiring === undefined) return;
        expect(await store.countExpiring(NOW, thresholds)).toEqual({ ok: 0, warning: 0, critical: 0, expired: 0, none: 0 });
      });

      test('counts active records by the remaining validity of their current certificate, thresholds inclusive', async (store) => {
        if (store.countExpiring === undefined) return;
        const cert = (serial: string, remainingMs: number) => issued(serial, at(-90 * DAY), at(remainingMs));
        await createAll(store, [
          newRecord('ok-1', { current: cert('01', 30 * DAY + 1) }),
          newRecord('ok-2', { current: cert('02', 365 * DAY) }),
          newRecord('warning-edge', { current: cert('03', 30 * DAY) }),
          newRecord('warning', { current: cert('04', 7 * DAY + 1) }),
          newRecord('critical-edge', { current: cert('05', 7 * DAY) }),
          newRecord('critical-last-ms', { current: cert('06', 0) }),
          newRecord('expired', { current: cert('07', -1) }),
          newRecord('expired-long-ago', { current: cert('08', -400 * DAY) }),
          newRecord('none-1'),
          newRecord('none-2'),
          newRecord('revoked', { status: 'revoked', current: cert('09', -1) }),
          newRecord('revoked-none', { status: 'revoked' }),
        ]);
        const gone = await store.create(newRecord('deleted', { current: cert('10', DAY) }), NOW);
        await store.delete('deleted', gone.revision);
        expect(await store.countExpiring(NOW, thresholds)).toEqual({ ok: 2, warning: 2, critical: 2, expired: 2, none: 2 });
      });
    });

    describe('reserveIssuance (when implemented)', () => {
      const WEEK = 7 * DAY;
      const dup = (max = 2) => ({ key: 'acme|duplicate|a.example', max, windowMs: WEEK });
      const orders = (max = 3) => ({ key: 'acme|orders', max, windowMs: 3 * HOUR });
      const reserve = (store: CertificateStore, when: Date, ...buckets: { key: string; max: number; windowMs: number }[]) =>
        must(store.reserveIssuance, 'reserveIssuance').call(store, { certificateId: 'a', buckets }, when);

      test('grants up to max orders per bucket in the window, then names the full bucket and when it has room again', async (store) => {
        if (store.reserveIssuance === undefined) return;
        expect(await reserve(store, NOW, dup())).toEqual({ granted: true });
        expect(await reserve(store, at(DAY), dup())).toEqual({ granted: true });
        // Full: room again when the first order (at NOW) leaves the week.
        expect(await reserve(store, at(2 * DAY), dup())).toEqual({ granted: false, bucket: 'acme|duplicate|a.example', retryAt: at(WEEK) });
        expect(await reserve(store, at(WEEK - 1), dup())).toEqual({ granted: false, bucket: 'acme|duplicate|a.example', retryAt: at(WEEK) });
        expect(await reserve(store, at(WEEK), dup())).toEqual({ granted: true });
        // Now the orders at DAY and WEEK count: the next room is when the one at DAY leaves.
        expect(await reserve(store, at(WEEK + 1), dup())).toEqual({ granted: false, bucket: 'acme|duplicate|a.example', retryAt: at(DAY + WEEK) });
      });

      test('a refused reservation records nothing in any bucket; a granted one counts in every bucket', async (store) => {
        if (store.reserveIssuance === undefined) return;
        expect(await reserve(store, NOW, orders(1))).toEqual({ granted: true });
        // orders is full, so the dup bucket must not be charged either.
        expect((await reserve(store, at(MINUTE), dup(1), orders(1))).granted).toBe(false);
        expect(await reserve(store, at(MINUTE), dup(1))).toEqual({ granted: true });
        expect(await reserve(store, at(2 * MINUTE), dup(1))).toEqual({ granted: false, bucket: 'acme|duplicate|a.example', retryAt: at(MINUTE + WEEK) });
      });

      test('a bucket counts its own key only, and smaller windows forget sooner', async (store) => {
        if (store.reserveIssuance === undefined) return;
        const other = { key: 'acme|duplicate|b.example', max: 1, windowMs: WEEK };
        expect(await reserve(store, NOW, dup(1))).toEqual({ granted: true });
        expect(await reserve(store, NOW, other)).toEqual({ granted: true });
        expect(await reserve(store, NOW, orders(1))).toEqual({ granted: true });
        expect((await reserve(store, at(3 * HOUR - 1), orders(1))).granted).toBe(false);
        expect(await reserve(store, at(3 * HOUR), orders(1))).toEqual({ granted: true });
      });

      test('of ten reservations racing for a bucket of max 3, exactly three are granted', async (store) => {
        if (store.reserveIssuance === undefined) return;
        const results = await Promise.all(Array.from({ length: 10 }, () => reserve(store, NOW, dup(3))));
        expect(results.filter((r) => r.granted)).toHaveLength(3);
      });

      test('rejects a bucket without a positive max or window', async (store) => {
        if (store.reserveIssuance === undefined) return;
        for (const bad of [{ ...dup(), max: 0 }, { ...dup(), max: 1.5 }, { ...dup(), windowMs: 0 }, { ...dup(), key: '' }]) {
          expect(isCertstewardError(await rejectionOf(reserve(store, NOW, bad)), 'config')).toBe(true);
        }
        expect(await reserve(store, NOW, dup(1))).toEqual({ granted: true });
      });
    });

    describe('cancellation', () => {
      test('a call whose signal is already aborted rejects and writes nothing', async (store) => {
        const aborted = AbortSignal.abort();
        const signal = { signal: aborted };
        await rejectionOf(store.create(dueRecord('never', at(-HOUR)), NOW, undefined, signal));
        expect(await store.get('never')).toBe(undefined);

        const v1 = await store.create(dueRecord('kept', at(-HOUR)), NOW);
        await rejectionOf(store.update({ ...v1, labels: { x: 'y' } }, at(MINUTE), { audit: [event('kept', 'x', NOW)] }, signal));
        await rejectionOf(store.claimDue(NOW, 'owner-a', LEASE_MS, 10, signal));
        await rejectionOf(store.delete('kept', 1, signal));
        expect(await store.get('kept')).toEqual(v1);
        expect(await store.audit('kept')).toEqual([]);
      });
    });
  });
}
