/**
 * Rows ↔ records. One timestamp representation end to end: every Date is
 * stored as integer milliseconds since the epoch (BIGINT), whatever the
 * engine, so PostgreSQL and SQLite give back exactly what was written, to the
 * millisecond, with no time-zone or string-format surprises. The parts of a
 * record no query looks into travel as one JSON document (`body`); the
 * columns that queries filter and order by are kept beside it.
 *
 * @module
 */
import type {
  AuditEvent,
  CaWindow,
  CertificateRecord,
  IssuedCertificate,
  RenewalState,
  StepError,
} from '../../src/ports/certificate-store.js';

/** A row of the certificates table as the drivers return it (pg gives BIGINT as string). */
export interface CertificateRow {
  id: string;
  revision: number | string | bigint;
  status: string;
  next_action_at: number | string | bigint | null;
  /** max(next_action_at, lease_until) for active scheduled records, else null: the claim and wake-up index. */
  due_at: number | string | bigint | null;
  lease_owner: string | null;
  lease_until: number | string | bigint | null;
  not_after: number | string | bigint | null;
  labels: string | Record<string, string>;
  body: string;
  created_at: number | string | bigint;
  updated_at: number | string | bigint;
}

/** The parts of a record kept in `body`. */
interface Body {
  spec: CertificateRecord['spec'];
  renewal: unknown;
  current?: unknown;
  announced: readonly string[];
  caWindow?: unknown;
}

/** A BIGINT as the driver gave it (number; string from pg; bigint with better-sqlite3 `safeIntegers`). */
export const toMs = (value: number | string | bigint | null | undefined): number | null =>
  value === null || value === undefined ? null : typeof value === 'number' ? value : Number(value);

const ms = (d: Date): number => d.getTime();
const date = (v: unknown): Date => new Date(v as number);

function issuedOut(c: IssuedCertificate): unknown {
  return { ...c, notBefore: ms(c.notBefore), notAfter: ms(c.notAfter), issuedAt: ms(c.issuedAt) };
}

export function issuedIn(raw: Record<string, unknown>): IssuedCertificate {
  return {
    ...(raw as unknown as IssuedCertificate),
    notBefore: date(raw['notBefore']),
    notAfter: date(raw['notAfter']),
    issuedAt: date(raw['issuedAt']),
  };
}

function renewalOut(r: RenewalState): unknown {
  const out: Record<string, unknown> = { ...r };
  if (r.submittedAt) out['submittedAt'] = ms(r.submittedAt);
  if (r.nextAttemptAt) out['nextAttemptAt'] = ms(r.nextAttemptAt);
  if (r.startedAt) out['startedAt'] = ms(r.startedAt);
  if (r.lastError) out['lastError'] = { ...r.lastError, at: ms(r.lastError.at) };
  if (r.issued) out['issued'] = issuedOut(r.issued);
  return out;
}

function renewalIn(raw: Record<string, unknown>): RenewalState {
  const out: Record<string, unknown> = { ...raw };
  for (const k of ['submittedAt', 'nextAttemptAt', 'startedAt'] as const) if (raw[k] !== undefined) out[k] = date(raw[k]);
  const lastError = raw['lastError'] as Record<string, unknown> | undefined;
  if (lastError) out['lastError'] = { ...lastError, at: date(lastError['at']) } as StepError;
  if (raw['issued']) out['issued'] = issuedIn(raw['issued'] as Record<string, unknown>);
  return out as unknown as RenewalState;
}

function caWindowOut(w: CaWindow): unknown {
  return {
    ...w,
    ...(w.start ? { start: ms(w.start) } : {}),
    ...(w.end ? { end: ms(w.end) } : {}),
    checkedAt: ms(w.checkedAt),
    nextCheckAt: ms(w.nextCheckAt),
  };
}

function caWindowIn(raw: Record<string, unknown>): CaWindow {
  return {
    ...(raw as unknown as CaWindow),
    ...(raw['start'] !== undefined ? { start: date(raw['start']) } : {}),
    ...(raw['end'] !== undefined ? { end: date(raw['end']) } : {}),
    checkedAt: date(raw['checkedAt']),
    nextCheckAt: date(raw['nextCheckAt']),
  };
}

/** The columns of a record (without revision and the store-owned times). */
export function recordColumns(record: Omit<CertificateRecord, 'revision' | 'createdAt' | 'updatedAt'>): Omit<CertificateRow, 'revision' | 'created_at' | 'updated_at'> {
  const body: Body = {
    spec: record.spec,
    renewal: renewalOut(record.renewal),
    announced: record.announced,
    ...(record.current ? { current: issuedOut(record.current) } : {}),
    ...(record.caWindow ? { caWindow: caWindowOut(record.caWindow) } : {}),
  };
  const next = record.nextActionAt === null ? null : ms(record.nextActionAt);
  const leaseUntil = record.lease ? ms(record.lease.until) : null;
  return {
    id: record.id,
    status: record.status,
    next_action_at: next,
    due_at: dueAt(record.status, next, leaseUntil),
    lease_owner: record.lease?.owner ?? null,
    lease_until: leaseUntil,
    not_after: record.current ? ms(record.current.notAfter) : null,
    labels: JSON.stringify(record.labels),
    body: JSON.stringify(body),
  };
}

/** When a record can next be claimed: null unless active and scheduled; never before its lease ends. */
export function dueAt(status: string, next: number | null, leaseUntil: number | null): number | null {
  if (status !== 'active' || next === null) return null;
  return leaseUntil !== null && leaseUntil > next ? leaseUntil : next;
}

export function rowToRecord(row: CertificateRow): CertificateRecord {
  const body = JSON.parse(row.body) as Body;
  const labels = typeof row.labels === 'string' ? (JSON.parse(row.labels) as Record<string, string>) : row.labels;
  const next = toMs(row.next_action_at);
  const leaseUntil = toMs(row.lease_until);
  const record: { -readonly [K in keyof CertificateRecord]: CertificateRecord[K] } = {
    id: row.id,
    revision: toMs(row.revision)!,
    status: row.status as CertificateRecord['status'],
    spec: body.spec,
    labels,
    renewal: renewalIn(body.renewal as Record<string, unknown>),
    nextActionAt: next === null ? null : new Date(next),
    announced: body.announced,
    createdAt: new Date(toMs(row.created_at)!),
    updatedAt: new Date(toMs(row.updated_at)!),
  };
  if (body.current) record.current = issuedIn(body.current as Record<string, unknown>);
  if (body.caWindow) record.caWindow = caWindowIn(body.caWindow as Record<string, unknown>);
  if (row.lease_owner !== null && leaseUntil !== null) record.lease = { owner: row.lease_owner, until: new Date(leaseUntil) };
  return record;
}

export function issuedToJson(c: IssuedCertificate): string {
  return JSON.stringify(issuedOut(c));
}

export function auditToRow(e: AuditEvent): { certificate_id: string; at: number; type: string; data: string } {
  return { certificate_id: e.certificateId, at: ms(e.at), type: e.type, data: JSON.stringify(e.data) };
}

export function rowToAudit(row: { certificate_id: string; at: number | string | bigint; type: string; data: string | Record<string, unknown> }): AuditEvent {
  return {
    certificateId: row.certificate_id,
    at: new Date(toMs(row.at)!),
    type: row.type,
    data: typeof row.data === 'string' ? (JSON.parse(row.data) as Record<string, unknown>) : row.data,
  };
}
