// The default backend: the revision log in an embedded SQLite file, kept by a
// worker thread (sqlite-worker.ts, over sqlite-log-store.ts) so that no
// SQLite call, and above all no COMMIT waiting for its fsync, ever runs on the
// main thread.
//
// This side is a thin client. Each LogStore call becomes one request to the
// worker; the worker answers in request order, so the promises here settle in
// call order, which is what LogBackend builds its ordering on (group commit,
// events published after the commit and before the writes resolve). Writes
// are decided by the worker inside the transaction that records them, reads
// are answered from the database: nothing here can run ahead of the disk.
//
// Lifetime: start() starts the worker and opens the database; close() lets
// the queued and in-flight writes commit, closes the database and ends the
// worker. The worker keeps the process alive only while a request is
// outstanding, as the synchronous store did. If the worker dies, every
// outstanding and later call rejects with SqliteWorkerExitedError.

import { Worker } from 'node:worker_threads';
import type { Logger } from '../base/index.ts';
import { LogBackend, type BatchOutcome, type LogStore } from './log-backend.ts';
import type { LogRow, WriteOp } from './revision-log.ts';
import {
  decodeOutcomes,
  encodeWrites,
  fromWireError,
  type ListRows,
  type OpenResult,
  type SqliteFaults,
  type WorkerInit,
  type WorkerRequest,
  type WorkerResponse,
  type WriteResult,
} from './sqlite-protocol.ts';

export interface SqliteBackendOptions {
  /** The database file; its directory is created if missing. */
  path: string;
  logger?: Logger;
  /** Test hooks that hold or fail commits inside the worker. */
  faults?: SqliteFaults;
}

export class SqliteBackend extends LogBackend {
  constructor(options: SqliteBackendOptions) {
    super(new WorkerLogStore(options.path, options.faults), options.logger?.child({ component: 'storage', path: options.path }));
  }
}

/** The worker stopped while the store was open (it crashed, or was terminated). */
export class SqliteWorkerExitedError extends Error {
  override readonly name = 'SqliteWorkerExitedError';
  readonly path: string;
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`sqlite worker for ${path} stopped: ${reason}`, options);
    this.path = path;
  }
}

/**
 * The worker inherits the process's flags, except --input-type: it belongs to an
 * --eval entry point and makes the worker refuse to load its file. Only then is
 * the list given explicitly (an explicit list is validated, and some flags the
 * process legitimately has, e.g. under `node --test`, are refused in workers).
 */
function workerExecArgv(): { execArgv?: string[] } {
  const args = process.execArgv;
  const i = args.findIndex((arg) => arg.startsWith('--input-type'));
  if (i < 0) return {};
  // "--input-type value" takes the next argument; "--input-type=value" does not.
  const drop = args[i].includes('=') ? 1 : 2;
  return { execArgv: [...args.slice(0, i), ...args.slice(i + drop)] };
}

// Distributes Omit over the request union, so each kind keeps its own fields.
type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

interface Outstanding {
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: Error) => void;
}

class WorkerLogStore implements LogStore {
  readonly #path: string;
  readonly #faults: SqliteFaults | undefined;
  #worker: Worker | undefined;
  readonly #outstanding = new Map<number, Outstanding>();
  #nextId = 1;
  #failure: Error | undefined;
  #closing = false;

  constructor(path: string, faults: SqliteFaults | undefined) {
    this.#path = path;
    this.#faults = faults;
  }

  async open(): Promise<OpenResult> {
    if (this.#worker !== undefined) throw new Error(`sqlite store ${this.#path} is already open`);
    const init: WorkerInit = { path: this.#path, faults: this.#faults?.buffer };
    const worker = new Worker(new URL('./sqlite-worker.ts', import.meta.url), { workerData: init, ...workerExecArgv() });
    worker.unref();
    this.#worker = worker;
    this.#failure = undefined;
    this.#closing = false;
    worker.on('message', (response: WorkerResponse) => this.#onResponse(response));
    worker.on('error', (err: Error) => this.#fail(new SqliteWorkerExitedError(this.#path, err.message, { cause: err })));
    worker.on('messageerror', (err: Error) => this.#fail(new SqliteWorkerExitedError(this.#path, err.message, { cause: err })));
    worker.on('exit', (code: number) => {
      this.#fail(new SqliteWorkerExitedError(this.#path, this.#closing ? 'closed' : `exited with code ${code}`));
    });
    try {
      return await this.#call<OpenResult>({ kind: 'open' });
    } catch (err) {
      this.#worker = undefined;
      await worker.terminate();
      throw err;
    }
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    try {
      // Served after everything already asked for: in-flight writes commit first.
      if (this.#failure === undefined) await this.#call<void>({ kind: 'close' });
    } finally {
      this.#closing = true;
      this.#worker = undefined;
      await worker.terminate();
    }
  }

  latest(key: string): Promise<LogRow | undefined> {
    return this.#call({ kind: 'latest', key });
  }

  listLatest(prefix: string): Promise<ListRows> {
    return this.#call({ kind: 'list', prefix });
  }

  rowsAfter(prefix: string, afterRevision: number): Promise<LogRow[]> {
    return this.#call({ kind: 'rowsAfter', prefix, afterRevision });
  }

  async writeBatch(ops: readonly WriteOp[]): Promise<BatchOutcome> {
    return decodeOutcomes(await this.#call<WriteResult>({ kind: 'write', ...encodeWrites(ops) }));
  }

  compact(revision: number): Promise<void> {
    return this.#call({ kind: 'compact', revision });
  }

  #call<T>(body: RequestBody): Promise<T> {
    const worker = this.#worker;
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (worker === undefined) return Promise.reject(new Error(`sqlite store ${this.#path} is not open`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      // The worker holds the process open only while an answer is owed.
      if (this.#outstanding.size === 0) worker.ref();
      this.#outstanding.set(id, { resolve: resolve as (result: unknown) => void, reject });
      worker.postMessage({ ...body, id } as WorkerRequest);
    });
  }

  #onResponse(response: WorkerResponse): void {
    const waiter = this.#outstanding.get(response.id);
    if (waiter === undefined) return;
    this.#outstanding.delete(response.id);
    if (this.#outstanding.size === 0) this.#worker?.unref();
    if (response.ok) waiter.resolve(response.result);
    else waiter.reject(fromWireError(response.error));
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    const waiters = [...this.#outstanding.values()];
    this.#outstanding.clear();
    this.#worker?.unref();
    for (const w of waiters) w.reject(this.#failure);
  }
}
