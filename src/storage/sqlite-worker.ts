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

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { toError } from '../base/errors.ts';
import { SqliteLogStore } from './sqlite-log-store.ts';
import {
  SqliteFaults,
  toWireError,
  type WorkerInit,
  type WorkerRequest,
  type WorkerResponse,
  type WriteResult,
} from './sqlite-protocol.ts';
import type { LogRow, WriteOp } from './revision-log.ts';

const port = parentPort;
if (port === null) throw new Error('sqlite-worker.ts must run as a worker thread');
const init = workerData as WorkerInit;
const faults = init.faults === undefined ? undefined : new SqliteFaults(init.faults);
const store = new SqliteLogStore(init.path, faults === undefined ? {} : { beforeCommit: () => faults.beforeCommit() });

let transactions = 0;

port.on('message', (first: WorkerRequest) => {
  // Take everything else already waiting too (requests pile up while a commit
  // is in progress), so that consecutive writes share one transaction.
  const requests = [first];
  for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) {
    requests.push(next.message as WorkerRequest);
  }
  drain(requests);
});

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
  const ops: WriteOp[] = [];
  for (const r of requests) ops.push(...r.ops);
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
  for (const r of requests) {
    const mine = outcomes.slice(at, at + r.ops.length);
    at += r.ops.length;
    const result: WriteResult = {
      transaction,
      outcomes: mine.map((o) => (o instanceof Error ? toWireError(o) : o)),
    };
    reply({ id: r.id, ok: true, result });
  }
}

function reply(response: WorkerResponse): void {
  port?.postMessage(response);
}
