// Gives memory back once the server goes idle.
//
// V8 sizes its young generation for the busiest moment it has seen: start-up
// (every module compiled, every informer listing) grows it, and nothing
// shrinks it again — its memory reducer only wakes after a full collection,
// which an idle server never needs. So an idle `volplane up` held about 25 MB
// of young-generation and fragmented pages it had no use for.
// Capping the young generation (--max-semi-space-size) would keep that
// memory away too, but costs ~20 % CPU per write under load (more objects
// promoted, more full collections); this costs nothing while busy.
//
// Once per check interval the main thread's event-loop utilisation over that
// interval is read; when two intervals in a row were idle and V8's committed
// heap has grown by `regrowthBytes` since the last trim (or there was none
// yet), one "last resort" collection runs — the kind V8 runs on memory pressure: full,
// compacting, and shrinking the young generation to its initial size. It
// blocks the thread for tens of milliseconds (about 50 ms at start-up),
// which is why it waits for an idle moment, and runs once per burst of work.

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Disposable, Logger } from '../base/index.ts';
import { toError } from '../base/index.ts';

export interface IdleMemoryTrimmerOptions {
  /** How often idleness is checked (default 0.5 s). */
  checkIntervalMs?: number;
  /** Event-loop utilisation below which an interval counts as idle (default 0.05). */
  idleUtilization?: number;
  /** Heap growth since the last trim that makes another one worth it (default 8 MiB). */
  regrowthBytes?: number;
  logger?: Logger;
  /** Tests: the collection to run (default V8's last-resort collection). */
  collect?: () => void;
  /** Tests: V8's committed heap size in bytes. */
  heapCommitted?: () => number;
  /** Tests: event-loop utilisation since the previous call, 0..1. */
  utilization?: () => number;
}

/** Whether to trim now: idle for two intervals, and grown since the last trim (always, before the first). */
export function shouldTrim(state: { idleIntervals: number; committed: number; afterLastTrim: number | undefined; regrowthBytes: number }): boolean {
  if (state.idleIntervals < 2) return false;
  return state.afterLastTrim === undefined || state.committed - state.afterLastTrim >= state.regrowthBytes;
}

/** Starts checking; the timer does not keep the process alive. dispose() stops it. */
export function startIdleMemoryTrimmer(options: IdleMemoryTrimmerOptions = {}): Disposable {
  const idleUtilization = options.idleUtilization ?? 0.05;
  const regrowthBytes = options.regrowthBytes ?? 8 * 1024 * 1024;
  const collect = options.collect ?? lastResortCollection();
  const heapCommitted = options.heapCommitted ?? (() => getHeapStatistics().total_heap_size);
  const utilization = options.utilization ?? eventLoopUtilizationSinceLastCall();
  let afterLastTrim: number | undefined;
  let failed = false;

  let idleFor = 0;
  const timer = setInterval(() => {
    if (failed) return;
    // Two idle intervals in a row: the tail of a burst (the last responses,
    // a controller's resync) would only grow the young generation again.
    idleFor = utilization() < idleUtilization ? idleFor + 1 : 0;
    const committed = heapCommitted();
    if (!shouldTrim({ idleIntervals: idleFor, committed, afterLastTrim, regrowthBytes })) return;
    const started = performance.now();
    try {
      collect();
    } catch (err) {
      // Not worth more than one line: the process just keeps its memory.
      failed = true;
      options.logger?.warn({ err: toError(err).message }, 'idle memory trim failed; not trying again');
      return;
    }
    afterLastTrim = heapCommitted();
    options.logger?.debug({ ms: Math.round(performance.now() - started), heapBefore: committed, heapAfter: afterLastTrim }, 'idle: heap trimmed');
  }, options.checkIntervalMs ?? 500);
  timer.unref();
  return { dispose: () => clearInterval(timer) };
}

function eventLoopUtilizationSinceLastCall(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, last);
    last = now;
    return delta.utilization;
  };
}

/**
 * V8's `gc` function, taken once without exposing it to the program: the
 * flag is on only while a throwaway context is made. Its `last-resort`
 * flavour is the collection V8 runs under memory pressure.
 */
export function lastResortCollection(): () => void {
  let gc: ((options: { type: string; execution: string; flavor: string }) => void) | undefined;
  return () => {
    if (gc === undefined) {
      setFlagsFromString('--expose-gc');
      try {
        gc = runInNewContext('gc') as typeof gc;
      } finally {
        setFlagsFromString('--no-expose-gc');
      }
      if (typeof gc !== 'function') throw new TypeError('V8 did not provide gc()');
    }
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };
}
