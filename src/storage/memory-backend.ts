// A backend that keeps the revision log in memory, for unit tests and
// throwaway clusters. It runs the same LogBackend (group commit, events,
// compaction rules) as the SQLite backend over an in-memory row list, so a test
// against it exercises the semantics the product runs with. Nothing survives
// close().
//
// The store itself is synchronous: every call is done when it returns, and the
// promise it returns is already settled, which keeps the call-order guarantee
// of LogStore trivially.

import { toError, type Logger } from '../base/index.ts';
import { CompactedError } from './interface.ts';
import { LogBackend, type BatchOutcome, type LogStore } from './log-backend.ts';
import { planWrite, withId, type LogRow, type NewRow, type WriteOp } from './revision-log.ts';

export interface MemoryBackendOptions {
  logger?: Logger;
}

export class MemoryBackend extends LogBackend {
  constructor(options: MemoryBackendOptions = {}) {
    super(new MemoryLogStore(), options.logger?.child({ component: 'storage', backend: 'memory' }));
  }
}

class MemoryLogStore implements LogStore {
  /** Every retained row, in id order. */
  #rows: LogRow[] = [];
  /** The newest row of each key, tombstones included (until compacted). */
  readonly #latest = new Map<string, LogRow>();
  #revision = 0;
  #compactRevision = 0;
  #transactions = 0;

  async open(): Promise<{ revision: number; compactRevision: number }> {
    return { revision: this.#revision, compactRevision: this.#compactRevision };
  }

  async close(): Promise<void> {}

  async latest(key: string): Promise<LogRow | undefined> {
    return this.#latest.get(key);
  }

  async listLatest(prefix: string): Promise<{ revision: number; rows: LogRow[] }> {
    const rows: LogRow[] = [];
    for (const row of this.#latest.values()) {
      if (!row.deleted && row.name.startsWith(prefix)) rows.push(row);
    }
    rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { revision: this.#revision, rows };
  }

  async rowsAfter(prefix: string, afterRevision: number): Promise<LogRow[]> {
    if (afterRevision < this.#compactRevision) throw new CompactedError(afterRevision, this.#compactRevision);
    const out: LogRow[] = [];
    for (let i = firstAfter(this.#rows, afterRevision); i < this.#rows.length; i++) {
      const row = this.#rows[i];
      if (row.name.startsWith(prefix)) out.push(row);
    }
    return out;
  }

  writeBatch(ops: readonly WriteOp[]): Promise<BatchOutcome> {
    // A write either throws in planWrite, before touching anything, or appends
    // its single row; so there is never a partial write to undo.
    const outcomes = ops.map((op): LogRow | Error => {
      try {
        return this.#append(planWrite(op, this.#latest.get(op.key)));
      } catch (err) {
        return toError(err);
      }
    });
    return Promise.resolve({ transaction: ++this.#transactions, outcomes });
  }

  async compact(revision: number): Promise<void> {
    this.#rows = this.#rows.filter((row) => {
      if (row.id > revision) return true;
      return !row.deleted && this.#latest.get(row.name) === row;
    });
    for (const [key, row] of this.#latest) {
      if (row.deleted && row.id <= revision) this.#latest.delete(key);
    }
    this.#compactRevision = revision;
  }

  #append(row: NewRow): LogRow {
    const stored = withId(row, ++this.#revision);
    this.#rows.push(stored);
    this.#latest.set(stored.name, stored);
    return stored;
  }
}

/** Index of the first row with id > `revision` (rows are in id order). */
function firstAfter(rows: readonly LogRow[], revision: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid].id <= revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
