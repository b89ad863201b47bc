// The SQLite worker thread: the only holder of the database connection.
//
// node:sqlite is synchronous, and a COMMIT waits for its fsync (up to tens of
// milliseconds on a slow disk). Run on the main thread that wait stops every
// request and every watch delivery; run here it stops only this thread.
//
// Requests are served strictly in arrival order and answered in that order.
// Consecutive write requests that are waiting when the thread gets to them
// (they pile up while a commit is in progress) are merged into one
// transaction, so one fsync pays for all of them: group commit continues
// across the thread boundary. Each request still gets its own answer, with
// one outcome per write.
//
// Idle memory: this thread is its own V8 isolate, and its young generation
// grows to fit the busiest moment it has seen (the start-up list of every
// row, a burst of writes) and never shrinks by itself, just as on the main
// thread (src/cli/idle-memory.ts). So once no request has come for
// IDLE_TRIM_MS, and the heap has grown by TRIM_REGROWTH_BYTES since the last
// trim (or was never trimmed), it runs V8's "last resort" collection, which
// compacts and shrinks the young generation. It blocks only this thread, and
// only when it has nothing to do.

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { toError } from '../base/errors.ts';
import { SqliteLogStore } from './sqlite-log-store.ts';
import {
  SqliteFaults,
  decodeWrites,
  encodeOutcomes,
  toWireError,
  type WorkerInit,
  type WorkerRequest,
  type WorkerResponse,
} from './sqlite-protocol.ts';
import type { LogRow, WriteOp } from './revision-log.ts';

const port = parentPort;
if (port === null) throw new Error('sqlite-worker.ts must run as a worker thread');
const init = workerData as WorkerInit;
const faults = init.faults === undefined ? undefined : new SqliteFaults(init.faults);
const store = new SqliteLogStore(init.path, faults === undefined ? {} : { beforeCommit: () => faults.beforeCommit() });

let transactions = 0;

const IDLE_TRIM_MS = 1_000;
const TRIM_REGROWTH_BYTES = 8 * 1024 * 1024;
const collect = lastResortCollection();
let heapAfterLastTrim: number | undefined;
let trimFailed = false;
const idleTimer = setTimeout(trimIfGrown, IDLE_TRIM_MS);
idleTimer.unref();

port.on('message', (first: WorkerRequest) => {
  // Take everything else already waiting too (requests pile up while a commit
  // is in progress), so that consecutive writes share one transaction.
  const requests = [first];
  for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) {
    requests.push(next.message as WorkerRequest);
  }
  drain(requests);
  idleTimer.refresh();
});

function trimIfGrown(): void {
  if (collect === undefined || trimFailed) return;
  const committed = getHeapStatistics().total_heap_size;
  if (heapAfterLastTrim !== undefined && committed - heapAfterLastTrim < TRIM_REGROWTH_BYTES) return;
  try {
    collect();
  } catch {
    // Not worth a message to the main thread: this thread just keeps its memory.
    trimFailed = true;
    return;
  }
  heapAfterLastTrim = getHeapStatistics().total_heap_size;
}

/**
 * V8's `gc` function for this isolate, taken at start-up without exposing it:
 * the flag (process-wide) is on only while a throwaway context is made. Taken
 * now, while the main thread is still starting the store, rather than when
 * first needed, so that this never overlaps the main thread's own brief use of
 * the flag (src/cli/idle-memory.ts, after start-up). Undefined if V8 would not
 * give it: this thread then just keeps its memory.
 */
function lastResortCollection(): (() => void) | undefined {
  // Started with --expose-gc: every isolate has it, and the flag must stay on.
  let gc: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== 'function') {
    gc = acquireGc();
  }
  if (typeof gc !== 'function') return undefined;
  const fn = gc as (options: { type: string; execution: string; flavor: string }) => void;
  return () => fn({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

function acquireGc(): unknown {
  let gc: unknown;
  try {
    setFlagsFromString('--expose-gc');
    try {
      gc = runInNewContext('typeof gc === "function" ? gc : undefined');
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  } catch {
    return undefined;
  }
  return gc;
}

function drain(requests: readonly WorkerRequest[]): void {
  let i = 0;
  while (i < requests.length) {
    const request = requests[i];
    if (request.kind !== 'write') {
      serve(request);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < requests.length && requests[j].kind === 'write') j++;
    writeGroup(requests.slice(i, j) as Extract<WorkerRequest, { kind: 'write' }>[]);
    i = j;
  }
}

function serve(request: Exclude<WorkerRequest, { kind: 'write' }>): void {
  let result: unknown;
  try {
    switch (request.kind) {
      case 'open':
        result = store.open();
        break;
      case 'close':
        store.close();
        result = undefined;
        break;
      case 'latest':
        result = store.latest(request.key);
        break;
      case 'list':
        result = store.listLatest(request.prefix);
        break;
      case 'rowsAfter':
        result = store.rowsAfter(request.prefix, request.afterRevision);
        break;
      case 'compact':
        store.compact(request.revision);
        result = undefined;
        break;
    }
  } catch (err) {
    reply({ id: request.id, ok: false, error: toWireError(toError(err)) });
    return;
  }
  reply({ id: request.id, ok: true, result });
}

function writeGroup(requests: readonly Extract<WorkerRequest, { kind: 'write' }>[]): void {
  const counts: number[] = [];
  const ops: WriteOp[] = [];
  try {
    for (const r of requests) {
      const mine = decodeWrites(r);
      counts.push(mine.length);
      for (const op of mine) ops.push(op);
    }
  } catch (err) {
    const error = toWireError(toError(err));
    for (const r of requests) reply({ id: r.id, ok: false, error });
    return;
  }
  let outcomes: (LogRow | Error)[];
  try {
    outcomes = store.writeBatch(ops);
  } catch (err) {
    const error = toWireError(toError(err));
    for (const r of requests) reply({ id: r.id, ok: false, error });
    return;
  }
  const transaction = ++transactions;
  let at = 0;
  for (let k = 0; k < requests.length; k++) {
    const result = encodeOutcomes(transaction, outcomes.slice(at, at + counts[k]));
    at += counts[k];
    reply({ id: requests[k].id, ok: true, result });
  }
}

function reply(response: WorkerResponse): void {
  port?.postMessage(response);
}
