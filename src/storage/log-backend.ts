// The Backend built on a LogStore: group commit, revision bookkeeping and
// event fan-out, shared by the SQLite and the memory backend so that both have
// exactly the same semantics.
//
// Group commit: a write does not touch the store when it is called. It joins a
// queue, and the first write into an empty queue schedules a flush with
// setImmediate. The flush hands every queued write to the store as one batch;
// the store decides and appends them in one transaction, each in its own
// savepoint, so one durable commit (one fsync for SQLite) pays for the whole
// batch while a failed write (conflict, exists, not found) only rejects
// itself. The store may merge batches that wait for it into one transaction.
//
// The store is asynchronous (SQLite runs in a worker thread so that a commit's
// fsync never stalls this thread), so a flush does not wait for the previous
// one: batches follow each other into the store, which serves them in order
// and settles them in order. When a batch settles, the subscribers see its
// events in revision order, and only then do its write promises resolve: a
// caller that awaited a write finds it in every cache fed by subscribe(). A
// batch whose transaction failed rejects its own writes and nothing else; no
// state here runs ahead of the store, so there is nothing to roll back.
//
// Reads go to the store, behind the writes already handed to it, and see
// committed data only.
//
// A store reports an appended row without its key and new value: this side
// has both (they are the write's own) and rebuilds the whole row from the
// write and the report, so the SQLite worker sends each new value across the
// thread boundary once, not back again. The replaced value (an event's
// prevKv, and a tombstone's value) does come back: nothing here holds it.

import { silentLogger, toDisposable, toError, type Disposable, type Logger } from '../base/index.ts';
import {
  CompactedError,
  StoreClosedError,
  type Backend,
  type KeyValue,
  type ListResult,
  type StoreEvent,
} from './interface.ts';
import { rowToEvent, rowToKeyValue, type LogRow, type WriteOp } from './revision-log.ts';

/** Thrown by a backend used before start(). */
export class StoreNotStartedError extends Error {
  override readonly name = 'StoreNotStartedError';
  constructor() {
    super('store is not started');
  }
}

/** An appended row as a store reports it: without its key and new value, which are the write's own. */
export interface AppendedRow {
  readonly id: number;
  readonly created: boolean;
  readonly deleted: boolean;
  readonly createRevision: number;
  readonly prevRevision: number;
  /** The value of the row at prevRevision (for a delete, also the tombstone's value); null for a created row. */
  readonly oldValue: string | null;
}

export interface BatchOutcome {
  /** Which transaction carried the batch; batches merged by the store share one. */
  readonly transaction: number;
  /** One per write, in order: the appended row, or the error that refused the write. */
  readonly outcomes: readonly (AppendedRow | Error)[];
}

/** The store reported an appended row without the replaced value: a broken store, never a refused write. */
export class StoreProtocolError extends Error {
  override readonly name = 'StoreProtocolError';
  readonly key: string;
  constructor(message: string, key: string) {
    super(message);
    this.key = key;
  }
}

/**
 * Where the rows live. Calls are served in call order and their promises settle
 * in call order; a read sees every write batch called before it and is never
 * answered from uncommitted data.
 */
export interface LogStore {
  /** Opens (creating if needed); returns the newest revision ever written and the compact revision. */
  open(): Promise<{ readonly revision: number; readonly compactRevision: number }>;
  /** Closes after everything already called has been served. */
  close(): Promise<void>;
  /** The key's newest committed row, live or tombstone. */
  latest(key: string): Promise<LogRow | undefined>;
  /** The newest row of every live key starting with `prefix`, in key order, and the revision they reflect. */
  listLatest(prefix: string): Promise<{ readonly revision: number; readonly rows: readonly LogRow[] }>;
  /**
   * The rows with id > `afterRevision` for keys starting with `prefix`, in id order.
   * Rejects with CompactedError when that history is gone.
   */
  rowsAfter(prefix: string, afterRevision: number): Promise<readonly LogRow[]>;
  /**
   * Decides and appends `ops` in one durable transaction; a write that is refused is
   * undone alone and its error takes its place. Rejects (having committed nothing)
   * when the transaction itself fails.
   */
  writeBatch(ops: readonly WriteOp[]): Promise<BatchOutcome>;
  /** Durably drops the history at or below `revision` and records it as the compact revision. */
  compact(revision: number): Promise<void>;
}

export interface BackendStats {
  /** Transactions committed by flushes. */
  readonly commits: number;
  /** Writes carried by those transactions (succeeded or failed). */
  readonly writes: number;
}

type BackendState = 'new' | 'starting' | 'open' | 'closed';

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
  #starting: Promise<void> | undefined;
  #revision = 0;
  #compactRevision = 0;
  #queue: PendingWrite[] = [];
  #flushTimer: NodeJS.Immediate | undefined;
  /** Batches handed to the store and not settled yet. */
  readonly #inFlight = new Set<Promise<void>>();
  readonly #listeners = new Set<Listener>();
  #commits = 0;
  #lastTransaction = 0;
  #writes = 0;

  constructor(store: LogStore, logger: Logger | undefined) {
    this.#store = store;
    this.#log = logger ?? silentLogger();
  }

  start(): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(new StoreClosedError());
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#state = 'starting';
    let opened: { revision: number; compactRevision: number };
    try {
      opened = await this.#store.open();
    } catch (err) {
      this.#starting = undefined;
      if (this.#state === 'starting') this.#state = 'new';
      throw err;
    }
    if (this.#state !== 'starting') return; // closed while opening; close() closes the store
    this.#revision = opened.revision;
    this.#compactRevision = opened.compactRevision;
    this.#state = 'open';
  }

  async close(): Promise<void> {
    const state = this.#state;
    this.#state = 'closed';
    if (state === 'starting') {
      await this.#starting?.catch(() => undefined);
      await this.#store.close();
      return;
    }
    if (state !== 'open') return;
    // Writes already queued were accepted: hand them over, and let every batch
    // settle (publishing its events) before the store goes away.
    this.#flush();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    this.#listeners.clear();
    await this.#store.close();
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
    const row = await this.#store.latest(key);
    return row === undefined || row.deleted ? undefined : rowToKeyValue(row);
  }

  async list(prefix: string): Promise<ListResult> {
    this.#assertOpen();
    const { revision, rows } = await this.#store.listLatest(prefix);
    return { revision, kvs: rows.map(rowToKeyValue) };
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
    return (await this.#store.rowsAfter(prefix, afterRevision)).map(rowToEvent);
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
    await this.#store.compact(target);
    // Two compactions in flight settle in order; never move backwards.
    this.#compactRevision = Math.max(this.#compactRevision, target);
    return this.#compactRevision;
  }

  #assertOpen(): void {
    if (this.#state === 'closed') throw new StoreClosedError();
    if (this.#state !== 'open') throw new StoreNotStartedError();
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

    let written: Promise<BatchOutcome>;
    try {
      written = this.#store.writeBatch(batch.map((w) => w.op));
    } catch (err) {
      written = Promise.reject(toError(err));
    }
    const settled = written
      .then(
        (outcome) => this.#committed(batch, outcome),
        (err: unknown) => {
          const error = toError(err);
          this.#log.error({ err: error, writes: batch.length }, 'storage transaction failed');
          for (const w of batch) w.reject(error);
        },
      )
      .catch((err: unknown) => this.#log.error({ err: toError(err) }, 'storage batch bookkeeping failed'))
      .finally(() => this.#inFlight.delete(settled));
    this.#inFlight.add(settled);
  }

  #committed(batch: readonly PendingWrite[], { transaction, outcomes }: BatchOutcome): void {
    if (transaction !== this.#lastTransaction) {
      this.#lastTransaction = transaction;
      this.#commits++;
    }
    this.#writes += batch.length;

    const rows: (LogRow | Error)[] = new Array<LogRow | Error>(batch.length);
    const events: StoreEvent[] = [];
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i];
      const row =
        outcome === undefined
          ? new Error(`store returned ${outcomes.length} outcomes for ${batch.length} writes`)
          : outcome instanceof Error
            ? outcome
            : fullRow(batch[i].op, outcome);
      rows[i] = row;
      if (outcome !== undefined && !(outcome instanceof Error)) this.#revision = Math.max(this.#revision, outcome.id);
      if (row instanceof Error) continue;
      events.push(rowToEvent(row));
    }
    if (events.length > 0) this.#publish(events);

    for (let i = 0; i < batch.length; i++) {
      const row = rows[i];
      if (row instanceof Error) {
        if (row instanceof StoreProtocolError) this.#log.error({ err: row, key: row.key }, 'storage committed a write but left out its replaced value');
        batch[i].reject(row);
      } else batch[i].resolve(rowToKeyValue(row));
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

/**
 * The whole log row of a committed write: the key and new value from the write,
 * the rest from the store's report. A StoreProtocolError when the report lacks
 * the replaced value (a broken store; the write committed, but no truthful
 * event can be made of it).
 */
function fullRow(op: WriteOp, appended: AppendedRow): LogRow | StoreProtocolError {
  let value: string;
  const oldValue = appended.created ? null : appended.oldValue;
  if (appended.created) {
    value = op.kind === 'delete' ? '' : op.value;
  } else if (oldValue === null) {
    return new StoreProtocolError(`store reported the write of ${op.key} without the value at revision ${appended.prevRevision}`, op.key);
  } else {
    value = op.kind === 'delete' ? oldValue : op.value;
  }
  return {
    id: appended.id,
    name: op.key,
    created: appended.created,
    deleted: appended.deleted,
    createRevision: appended.createRevision,
    prevRevision: appended.prevRevision,
    value,
    oldValue,
  };
}
