// The Backend built on a LogStore: group commit, revision bookkeeping and
// event fan-out, shared by the SQLite and the memory backend so that both have
// exactly the same semantics.
//
// Group commit: a write does not touch the store when it is called. It joins a
// queue, and the first write into an empty queue schedules a flush with
// setImmediate. The flush runs every queued write in one store transaction,
// each in its own savepoint, so one durable commit (one fsync for SQLite) pays
// for the whole batch while a failed write (conflict, exists, not found) only
// rejects itself. After the commit the subscribers see the batch's events in
// revision order, and only then do the write promises resolve: a caller that
// awaited a write finds it in every cache fed by subscribe().
//
// The store is synchronous, so a flush runs in one turn of the event loop and
// reads never observe half a batch.

import { silentLogger, toDisposable, toError, type Disposable, type Logger } from '../base/index.ts';
import {
  CompactedError,
  StoreClosedError,
  type Backend,
  type KeyValue,
  type ListResult,
  type StoreEvent,
} from './interface.ts';
import { planWrite, rowToEvent, rowToKeyValue, type LogRow, type NewRow, type WriteOp } from './revision-log.ts';

/** Thrown by a backend used before start(). */
export class StoreNotStartedError extends Error {
  override readonly name = 'StoreNotStartedError';
  constructor() {
    super('store is not started');
  }
}

/** Where the rows live. Every method is synchronous; the backend owns ordering. */
export interface LogStore {
  /** Opens (creating if needed) and returns the newest revision ever written and the compact revision. */
  open(): { readonly revision: number; readonly compactRevision: number };
  close(): void;
  /** The key's newest row, live or tombstone. */
  latest(key: string): LogRow | undefined;
  /** The newest row of every live key starting with `prefix`, in key order. */
  listLatest(prefix: string): LogRow[];
  /** The rows with id > `afterRevision` for keys starting with `prefix`, in id order. */
  rowsAfter(prefix: string, afterRevision: number): LogRow[];
  /**
   * Runs `writes` in one durable transaction; a write that throws is undone alone and
   * its error takes its place in the result. Throws (having committed nothing) when the
   * transaction itself fails.
   */
  writeBatch(writes: readonly (() => LogRow)[]): (LogRow | Error)[];
  /** Appends a row inside writeBatch and returns it with its id. */
  append(row: NewRow): LogRow;
  /** Durably drops the history at or below `revision` and records it as the compact revision. */
  compact(revision: number): void;
}

export interface BackendStats {
  /** Transactions committed by flushes. */
  readonly commits: number;
  /** Writes carried by those transactions (succeeded or failed). */
  readonly writes: number;
}

type BackendState = 'new' | 'open' | 'closed';

interface PendingWrite {
  readonly op: WriteOp;
  readonly resolve: (kv: KeyValue) => void;
  readonly reject: (err: Error) => void;
}

type Listener = (events: readonly StoreEvent[]) => void;

export class LogBackend implements Backend {
  readonly #store: LogStore;
  readonly #log: Logger;
  #state: BackendState = 'new';
  #revision = 0;
  #compactRevision = 0;
  #queue: PendingWrite[] = [];
  #flushTimer: NodeJS.Immediate | undefined;
  readonly #listeners = new Set<Listener>();
  #commits = 0;
  #writes = 0;

  constructor(store: LogStore, logger: Logger | undefined) {
    this.#store = store;
    this.#log = logger ?? silentLogger();
  }

  async start(): Promise<void> {
    if (this.#state === 'open') return;
    if (this.#state === 'closed') throw new StoreClosedError();
    const { revision, compactRevision } = this.#store.open();
    this.#revision = revision;
    this.#compactRevision = compactRevision;
    this.#state = 'open';
  }

  async close(): Promise<void> {
    if (this.#state !== 'open') {
      this.#state = 'closed';
      return;
    }
    // Writes already queued were accepted; commit them before closing.
    this.#flush();
    this.#state = 'closed';
    this.#listeners.clear();
    this.#store.close();
  }

  currentRevision(): number {
    return this.#revision;
  }

  compactRevision(): number {
    return this.#compactRevision;
  }

  /** Counters for observing group commit. */
  stats(): BackendStats {
    return { commits: this.#commits, writes: this.#writes };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.#assertOpen();
    const row = this.#store.latest(key);
    return row === undefined || row.deleted ? undefined : rowToKeyValue(row);
  }

  async list(prefix: string): Promise<ListResult> {
    this.#assertOpen();
    return { revision: this.#revision, kvs: this.#store.listLatest(prefix).map(rowToKeyValue) };
  }

  create(key: string, value: string): Promise<KeyValue> {
    return this.#submit({ kind: 'create', key, value });
  }

  update(key: string, value: string, expectedRevision: number): Promise<KeyValue> {
    return this.#submit({ kind: 'update', key, value, expectedRevision });
  }

  delete(key: string, expectedRevision?: number): Promise<KeyValue> {
    return this.#submit({ kind: 'delete', key, expectedRevision });
  }

  async eventsSince(prefix: string, afterRevision: number): Promise<StoreEvent[]> {
    this.#assertOpen();
    if (afterRevision < this.#compactRevision) throw new CompactedError(afterRevision, this.#compactRevision);
    return this.#store.rowsAfter(prefix, afterRevision).map(rowToEvent);
  }

  subscribe(listener: Listener): Disposable {
    this.#listeners.add(listener);
    return toDisposable(() => this.#listeners.delete(listener));
  }

  async compact(revision: number): Promise<number> {
    this.#assertOpen();
    // Compacting past the newest revision would make watching from "now" fail.
    const target = Math.min(revision, this.#revision);
    if (target <= this.#compactRevision) return this.#compactRevision;
    this.#store.compact(target);
    this.#compactRevision = target;
    return target;
  }

  #assertOpen(): void {
    if (this.#state === 'closed') throw new StoreClosedError();
    if (this.#state === 'new') throw new StoreNotStartedError();
  }

  #submit(op: WriteOp): Promise<KeyValue> {
    try {
      this.#assertOpen();
    } catch (err) {
      return Promise.reject(toError(err));
    }
    return new Promise<KeyValue>((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      this.#flushTimer ??= setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    if (this.#flushTimer !== undefined) {
      clearImmediate(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];

    const store = this.#store;
    let outcomes: (LogRow | Error)[];
    try {
      outcomes = store.writeBatch(batch.map(({ op }) => () => store.append(planWrite(op, store.latest(op.key)))));
    } catch (err) {
      const error = toError(err);
      this.#log.error({ err: error, writes: batch.length }, 'storage transaction failed');
      for (const w of batch) w.reject(error);
      return;
    }
    this.#commits++;
    this.#writes += batch.length;

    const events: StoreEvent[] = [];
    for (const outcome of outcomes) {
      if (outcome instanceof Error) continue;
      events.push(rowToEvent(outcome));
      this.#revision = Math.max(this.#revision, outcome.id);
    }
    if (events.length > 0) this.#publish(events);

    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i];
      if (outcome instanceof Error) batch[i].reject(outcome);
      else batch[i].resolve(rowToKeyValue(outcome));
    }
  }

  #publish(events: readonly StoreEvent[]): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(events);
      } catch (err) {
        // A broken subscriber must not undo or delay a committed write.
        this.#log.error({ err: toError(err) }, 'storage subscriber threw');
      }
    }
  }
}
