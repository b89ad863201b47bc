// A backend that keeps the revision log in memory, for unit tests and
// throwaway clusters. It runs the same LogBackend (group commit, events,
// compaction rules) as the SQLite backend over an in-memory row list, so a test
// against it exercises the semantics the product runs with. Nothing survives
// close().

import { toError, type Logger } from '../base/index.ts';
import { LogBackend, type LogStore } from './log-backend.ts';
import { withId, type LogRow, type NewRow } from './revision-log.ts';

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

  open(): { revision: number; compactRevision: number } {
    return { revision: this.#revision, compactRevision: this.#compactRevision };
  }

  close(): void {}

  latest(key: string): LogRow | undefined {
    return this.#latest.get(key);
  }

  listLatest(prefix: string): LogRow[] {
    const out: LogRow[] = [];
    for (const row of this.#latest.values()) {
      if (!row.deleted && row.name.startsWith(prefix)) out.push(row);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  rowsAfter(prefix: string, afterRevision: number): LogRow[] {
    const out: LogRow[] = [];
    for (let i = firstAfter(this.#rows, afterRevision); i < this.#rows.length; i++) {
      const row = this.#rows[i];
      if (row.name.startsWith(prefix)) out.push(row);
    }
    return out;
  }

  writeBatch(writes: readonly (() => LogRow)[]): (LogRow | Error)[] {
    // A write either throws in planWrite, before touching anything, or appends
    // its single row; so there is never a partial write to undo.
    return writes.map((write) => {
      try {
        return write();
      } catch (err) {
        return toError(err);
      }
    });
  }

  append(row: NewRow): LogRow {
    const stored = withId(row, ++this.#revision);
    this.#rows.push(stored);
    this.#latest.set(stored.name, stored);
    return stored;
  }

  compact(revision: number): void {
    this.#rows = this.#rows.filter((row) => {
      if (row.id > revision) return true;
      return !row.deleted && this.#latest.get(row.name) === row;
    });
    for (const [key, row] of this.#latest) {
      if (row.deleted && row.id <= revision) this.#latest.delete(key);
    }
    this.#compactRevision = revision;
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
