/**
 * The MemoryStore's schedule: a min-heap of (nextActionAt, id, revision)
 * entries, so `claimDue` and `nextDueAt` cost O(log n) per record handed out
 * instead of a scan of the whole fleet. Entries are never updated in place:
 * every write adds one, and an entry whose revision is no longer the record's
 * is dropped when it reaches the top.
 *
 * @module
 */
import type { CertificateRecord } from '../ports/certificate-store.js';

interface Entry {
  readonly at: number;
  readonly id: string;
  readonly revision: number;
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}

/** A lazily cleaned schedule of records by nextActionAt (ties by id). */
export class DueIndex {
  #heap: Entry[] = [];

  /** Records the schedule of a record version just written. */
  note(r: CertificateRecord): void {
    if (r.status !== 'active' || r.nextActionAt === null) return;
    this.#push({ at: r.nextActionAt.getTime(), id: r.id, revision: r.revision });
  }

  /** Rebuilds from the current records (drops every stale entry). */
  rebuild(records: Iterable<CertificateRecord>): void {
    this.#heap = [];
    for (const r of records) this.note(r);
  }

  /** Entries held, stale ones included (for compaction decisions). */
  get size(): number {
    return this.#heap.length;
  }

  /**
   * Removes and returns, earliest first, up to `limit` current records due by
   * `t` that `claimable` accepts; current records it refuses (a live lease)
   * stay scheduled.
   */
  takeDue(
    t: number,
    limit: number,
    current: (id: string, revision: number, at: number) => CertificateRecord | undefined,
    claimable: (r: CertificateRecord) => boolean,
  ): CertificateRecord[] {
    const out: CertificateRecord[] = [];
    const held: Entry[] = [];
    while (out.length < limit && this.#heap.length > 0 && this.#heap[0]!.at <= t) {
      const e = this.#pop();
      const r = current(e.id, e.revision, e.at);
      if (!r) continue; // stale
      if (claimable(r)) out.push(r);
      else held.push(e);
    }
    for (const e of held) this.#push(e);
    return out;
  }

  /**
   * The earliest max(nextActionAt, lease end) over current records: walks the
   * heap only as far as the leased records at its top.
   */
  earliest(current: (id: string, revision: number, at: number) => CertificateRecord | undefined): number | undefined {
    let best = Infinity;
    const seen: Entry[] = [];
    while (this.#heap.length > 0 && this.#heap[0]!.at < best) {
      const e = this.#pop();
      const r = current(e.id, e.revision, e.at);
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
