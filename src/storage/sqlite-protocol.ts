// What the SQLite backend's main thread and its worker (sqlite-worker.ts) say
// to each other, and the fault switches tests use to hold or fail a commit.
//
// Write batches are the hot path, so they cross the thread boundary flat:
// structured clone pays per object and per property, and a batch of writes
// as parallel arrays (strings, plus one Float64Array of numbers) costs a
// fraction of an array of op objects. The answer does not carry the new
// values back (the main thread sent them), only the replaced ones, which it
// needs for each event's prevKv and a tombstone's value: an update's value
// crosses twice (there, and back as the next update's prevKv) instead of three
// times.
//
// Errors cross the thread boundary as plain data: structured clone keeps an
// Error's message but not its class or fields, and callers decide on the class
// (a conflict is requeued quietly, anything else is not), so the store errors
// are rebuilt on this side with their fields.

import {
  CompactedError,
  KeyExistsError,
  KeyNotFoundError,
  RevisionConflictError,
} from './interface.ts';
import type { AppendedRow, BatchOutcome } from './log-backend.ts';
import type { LogRow, WriteOp } from './revision-log.ts';

export interface WorkerInit {
  readonly path: string;
  /** The shared words of a SqliteFaults, when a test installed one. */
  readonly faults: SharedArrayBuffer | undefined;
}

export type WorkerRequest =
  | { readonly id: number; readonly kind: 'open' }
  | { readonly id: number; readonly kind: 'close' }
  | { readonly id: number; readonly kind: 'latest'; readonly key: string }
  | { readonly id: number; readonly kind: 'list'; readonly prefix: string }
  | { readonly id: number; readonly kind: 'rowsAfter'; readonly prefix: string; readonly afterRevision: number }
  | ({ readonly id: number; readonly kind: 'write' } & WriteRequestBody)
  | { readonly id: number; readonly kind: 'compact'; readonly revision: number };

export interface OpenResult {
  readonly revision: number;
  readonly compactRevision: number;
}

export interface ListRows {
  /** The newest committed revision the rows reflect. */
  readonly revision: number;
  readonly rows: LogRow[];
}

/**
 * A batch of writes, flat. Write i is `kinds[i]` ('c' create, 'u' update, 'd'
 * delete) of `keys[i]` with `values[i]` ('' for a delete) at the expected
 * revision `expected[i]` (NaN: none).
 */
export interface WriteRequestBody {
  readonly kinds: string;
  readonly keys: readonly string[];
  readonly values: readonly string[];
  readonly expected: Float64Array;
}

/**
 * The outcome of a write request, flat. For write i, `rows[4i..4i+3]` are the
 * appended row's id (0 when the write was refused: its error is the next one
 * in `errors`), create revision, prev revision and flags (ROW_CREATED,
 * ROW_DELETED). A row that did not create its key replaced a value: the next
 * one in `oldValues`.
 */
export interface WriteResult {
  /** Sequence number of the transaction that carried these writes (several requests may share one). */
  readonly transaction: number;
  readonly rows: Float64Array;
  readonly oldValues: readonly string[];
  readonly errors: readonly WireError[];
}

const ROW_CREATED = 1;
const ROW_DELETED = 2;

const KIND_CODES = { create: 'c', update: 'u', delete: 'd' } as const;

/** Main thread: `ops` as a request body. */
export function encodeWrites(ops: readonly WriteOp[]): WriteRequestBody {
  let kinds = '';
  const keys: string[] = new Array<string>(ops.length);
  const values: string[] = new Array<string>(ops.length);
  const expected = new Float64Array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    kinds += KIND_CODES[op.kind];
    keys[i] = op.key;
    values[i] = op.kind === 'delete' ? '' : op.value;
    expected[i] = op.kind === 'create' ? NaN : (op.expectedRevision ?? NaN);
  }
  return { kinds, keys, values, expected };
}

/** Worker: the ops of a request body. */
export function decodeWrites(body: WriteRequestBody): WriteOp[] {
  const n = body.keys.length;
  const ops: WriteOp[] = new Array<WriteOp>(n);
  for (let i = 0; i < n; i++) {
    const key = body.keys[i];
    const expected = body.expected[i];
    switch (body.kinds[i]) {
      case 'c':
        ops[i] = { kind: 'create', key, value: body.values[i] };
        break;
      case 'u':
        ops[i] = { kind: 'update', key, value: body.values[i], expectedRevision: expected };
        break;
      case 'd':
        ops[i] = { kind: 'delete', key, expectedRevision: Number.isNaN(expected) ? undefined : expected };
        break;
      default:
        throw new Error(`unknown write kind ${JSON.stringify(body.kinds[i])} in a write request`);
    }
  }
  return ops;
}

/** Worker: the outcomes of one request's writes, without the new values. */
export function encodeOutcomes(transaction: number, outcomes: readonly (LogRow | Error)[]): WriteResult {
  const rows = new Float64Array(outcomes.length * 4);
  const oldValues: string[] = [];
  const errors: WireError[] = [];
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i];
    if (o instanceof Error) {
      errors.push(toWireError(o));
      continue;
    }
    if (!o.created) oldValues.push(o.oldValue ?? '');
    rows[4 * i] = o.id;
    rows[4 * i + 1] = o.createRevision;
    rows[4 * i + 2] = o.prevRevision;
    rows[4 * i + 3] = (o.created ? ROW_CREATED : 0) | (o.deleted ? ROW_DELETED : 0);
  }
  return { transaction, rows, oldValues, errors };
}

/** Main thread: the outcomes of a write request, errors rebuilt with their classes. */
export function decodeOutcomes(result: WriteResult): BatchOutcome {
  const n = result.rows.length / 4;
  const outcomes: (AppendedRow | Error)[] = new Array<AppendedRow | Error>(n);
  let nextError = 0;
  let nextOld = 0;
  for (let i = 0; i < n; i++) {
    const id = result.rows[4 * i];
    if (id === 0) {
      const wire = result.errors[nextError++];
      outcomes[i] = wire === undefined ? new Error('write result lacks the error of a refused write') : fromWireError(wire);
      continue;
    }
    const flags = result.rows[4 * i + 3];
    const created = (flags & ROW_CREATED) !== 0;
    outcomes[i] = {
      id,
      created,
      deleted: (flags & ROW_DELETED) !== 0,
      createRevision: result.rows[4 * i + 1],
      prevRevision: result.rows[4 * i + 2],
      // A missing one becomes null, which the backend reports as a broken store.
      oldValue: created ? null : (result.oldValues[nextOld++] ?? null),
    };
  }
  return { transaction: result.transaction, outcomes };
}

export type WorkerResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

export interface WireError {
  readonly wire: 'error';
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly key?: string;
  readonly expected?: number;
  readonly actual?: number;
  readonly requested?: number;
  readonly compacted?: number;
  /** SQLite's extended result code, when SQLite raised it. */
  readonly errcode?: number;
}

export function toWireError(err: Error): WireError {
  const base = { wire: 'error' as const, name: err.name, message: err.message, stack: err.stack };
  if (err instanceof RevisionConflictError) return { ...base, key: err.key, expected: err.expected, actual: err.actual };
  if (err instanceof KeyExistsError || err instanceof KeyNotFoundError) return { ...base, key: err.key };
  if (err instanceof CompactedError) return { ...base, requested: err.requested, compacted: err.compacted };
  if ('errcode' in err && typeof err.errcode === 'number') return { ...base, errcode: err.errcode };
  return base;
}

/** A storage error raised in the worker that is none of the contract's errors (SQLite, I/O, injected). */
export class SqliteWorkerError extends Error {
  override readonly name = 'SqliteWorkerError';
  /** The name of the error in the worker (e.g. "Error" for a SQLite error). */
  readonly originalName: string;
  readonly errcode: number | undefined;
  constructor(message: string, originalName: string, errcode: number | undefined) {
    super(message);
    this.originalName = originalName;
    this.errcode = errcode;
  }
}

export function fromWireError(w: WireError): Error {
  let err: Error;
  switch (w.name) {
    case 'KeyExistsError':
      err = new KeyExistsError(w.key ?? '');
      break;
    case 'KeyNotFoundError':
      err = new KeyNotFoundError(w.key ?? '');
      break;
    case 'RevisionConflictError':
      err = new RevisionConflictError(w.key ?? '', w.expected ?? 0, w.actual ?? 0);
      break;
    case 'CompactedError':
      err = new CompactedError(w.requested ?? 0, w.compacted ?? 0);
      break;
    default:
      err = new SqliteWorkerError(w.message, w.name, w.errcode);
  }
  // Keep the worker's stack: that is where the failure happened.
  if (w.stack !== undefined) err.stack = w.stack;
  return err;
}

// Fault switches, shared memory read by the worker at every commit. Words:
const HOLD = 0; // 1 while commits must wait at the gate
const FAIL = 1; // commits still to fail
const WAITING = 2; // commits waiting at the gate right now
const HELD = 3; // commits that have waited at the gate, ever
const WORDS = 4;

/**
 * Test hooks for the SQLite backend: hold every commit at a gate (to show the
 * main thread keeps running while the worker is stuck in a commit) or make
 * the next commits fail (to show a failed transaction rejects its writes
 * only). Pass one to SqliteBackendOptions.faults; the worker reads it at each
 * commit through shared memory, so the switches act without a message.
 */
export class SqliteFaults {
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(WORDS * 4)) {
    this.buffer = buffer;
    this.#words = new Int32Array(buffer);
  }

  /** Commits from now on wait (before COMMIT) until release(). */
  holdCommits(): void {
    Atomics.store(this.#words, HOLD, 1);
  }

  releaseCommits(): void {
    Atomics.store(this.#words, HOLD, 0);
    Atomics.notify(this.#words, HOLD);
  }

  /** The next `count` transactions fail instead of committing (and roll back). */
  failCommits(count: number): void {
    Atomics.store(this.#words, FAIL, count);
  }

  /** How many commits are waiting at the gate now. */
  waitingCommits(): number {
    return Atomics.load(this.#words, WAITING);
  }

  /** How many commits have waited at the gate so far. */
  heldCommits(): number {
    return Atomics.load(this.#words, HELD);
  }

  /** Called by the worker just before COMMIT: blocks while held, throws when a failure is due. */
  beforeCommit(): void {
    const w = this.#words;
    if (Atomics.load(w, HOLD) === 1) {
      Atomics.add(w, WAITING, 1);
      Atomics.add(w, HELD, 1);
      try {
        // Bounded waits so that a test that forgets to release cannot wedge the worker forever.
        const deadline = Date.now() + 30_000;
        while (Atomics.load(w, HOLD) === 1 && Date.now() < deadline) Atomics.wait(w, HOLD, 1, 100);
      } finally {
        Atomics.sub(w, WAITING, 1);
      }
    }
    for (;;) {
      const due = Atomics.load(w, FAIL);
      if (due <= 0) return;
      if (Atomics.compareExchange(w, FAIL, due, due - 1) === due) throw new InjectedCommitFailure();
    }
  }
}

export class InjectedCommitFailure extends Error {
  override readonly name = 'InjectedCommitFailure';
  constructor() {
    super('injected commit failure');
  }
}
