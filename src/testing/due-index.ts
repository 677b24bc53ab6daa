/**
 * The MemoryStore's schedule: a min-heap of (nextActionAt, id) entries, so
 * `claimDue` and `nextDueAt` cost O(log n) per record they look at instead of
 * a scan of the whole fleet. Entries are never updated in place: every write
 * of a record adds one with a new sequence number, and only the entry with
 * the record's latest number counts; the others are dropped when they reach
 * the top.
 *
 * @module
 */
import type { CertificateRecord } from '../ports/certificate-store.js';

interface Entry {
  readonly at: number;
  readonly id: string;
  readonly seq: number;
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}

/** A lazily cleaned schedule of records by nextActionAt (ties by id). */
export class DueIndex {
  #heap: Entry[] = [];
  /** The sequence number of each id's latest write; an entry with another number is stale. */
  #latest = new Map<string, number>();
  #seq = 0;

  /** Records the schedule of a record version just written (unscheduled versions only retire older entries). */
  note(r: CertificateRecord): void {
    const seq = ++this.#seq;
    this.#latest.set(r.id, seq);
    if (r.status !== 'active' || r.nextActionAt === null) return;
    this.#push({ at: r.nextActionAt.getTime(), id: r.id, seq });
  }

  /** The record was deleted: every entry of it is stale. */
  forget(id: string): void {
    this.#latest.delete(id);
  }

  /** Rebuilds from the current records (drops every stale entry). */
  rebuild(records: Iterable<CertificateRecord>): void {
    this.#heap = [];
    this.#latest = new Map();
    for (const r of records) this.note(r);
  }

  /** Entries held, stale ones included (for compaction decisions). */
  get size(): number {
    return this.#heap.length;
  }

  #live(e: Entry): boolean {
    return this.#latest.get(e.id) === e.seq;
  }

  /**
   * Removes and returns, earliest first, up to `limit` records due by `t`
   * that `claimable` accepts; records it refuses (a live lease) stay scheduled.
   */
  takeDue(
    t: number,
    limit: number,
    get: (id: string) => CertificateRecord | undefined,
    claimable: (r: CertificateRecord) => boolean,
  ): CertificateRecord[] {
    const out: CertificateRecord[] = [];
    const held: Entry[] = [];
    while (out.length < limit && this.#heap.length > 0 && this.#heap[0]!.at <= t) {
      const e = this.#pop();
      const r = this.#live(e) ? get(e.id) : undefined;
      if (!r) continue; // stale
      if (claimable(r)) out.push(r);
      else held.push(e);
    }
    for (const e of held) this.#push(e);
    return out;
  }

  /**
   * The earliest max(nextActionAt, lease end) over scheduled records: walks the
   * heap only as far as the leased records at its top.
   */
  earliest(get: (id: string) => CertificateRecord | undefined): number | undefined {
    let best = Infinity;
    const seen: Entry[] = [];
    while (this.#heap.length > 0 && this.#heap[0]!.at < best) {
      const e = this.#pop();
      const r = this.#live(e) ? get(e.id) : undefined;
      if (!r) continue;
      seen.push(e);
      best = Math.min(best, Math.max(e.at, r.lease?.until.getTime() ?? -Infinity));
    }
    for (const e of seen) this.#push(e);
    return best === Infinity ? undefined : best;
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): Entry {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
