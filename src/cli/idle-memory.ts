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
//
// The pause grows with the live heap — about 1.5 ms per MB: 55 ms at 32 MB,
// 0.6 s at 400 MB, 1.7 s at 1.2 GB — while what it gives back (the young
// generation's growth) does not. A server holding 100,000 volumes went
// quiet, trimmed, and the next claims waited 0.6 s behind the collection.
// So there is no trim while more than `maxHeapUsedBytes` (64 MiB) is in use:
// past that the young generation is a small part of the process, and the
// pause is what a user would notice.

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
  /** No trim while V8's used heap is larger than this: the pause grows with it (default 64 MiB). */
  maxHeapUsedBytes?: number;
  logger?: Logger;
  /** Tests: the collection to run (default V8's last-resort collection). */
  collect?: () => void;
  /** Tests: V8's committed and used heap sizes in bytes. */
  heap?: () => { committed: number; used: number };
  /** Tests: event-loop utilisation since the previous call, 0..1. */
  utilization?: () => number;
}

/**
 * Whether to trim now: idle for two intervals, a heap small enough for a short pause,
 * and grown since the last trim (always, before the first).
 */
export function shouldTrim(state: {
  idleIntervals: number;
  committed: number;
  used: number;
  afterLastTrim: number | undefined;
  regrowthBytes: number;
  maxHeapUsedBytes: number;
}): boolean {
  if (state.idleIntervals < 2 || state.used > state.maxHeapUsedBytes) return false;
  return state.afterLastTrim === undefined || state.committed - state.afterLastTrim >= state.regrowthBytes;
}

/** Starts checking; the timer does not keep the process alive. dispose() stops it. */
export function startIdleMemoryTrimmer(options: IdleMemoryTrimmerOptions = {}): Disposable {
  const idleUtilization = options.idleUtilization ?? 0.05;
  const regrowthBytes = options.regrowthBytes ?? 8 * 1024 * 1024;
  const maxHeapUsedBytes = options.maxHeapUsedBytes ?? 64 * 1024 * 1024;
  const collect = options.collect ?? lastResortCollection();
  const heap =
    options.heap ??
    (() => {
      const stats = getHeapStatistics();
      return { committed: stats.total_heap_size, used: stats.used_heap_size };
    });
  const utilization = options.utilization ?? eventLoopUtilizationSinceLastCall();
  let afterLastTrim: number | undefined;
  let failed = false;

  let idleFor = 0;
  const timer = setInterval(() => {
    if (failed) return;
    // Two idle intervals in a row: the tail of a burst (the last responses,
    // a controller's resync) would only grow the young generation again.
    idleFor = utilization() < idleUtilization ? idleFor + 1 : 0;
    const { committed, used } = heap();
    if (!shouldTrim({ idleIntervals: idleFor, committed, used, afterLastTrim, regrowthBytes, maxHeapUsedBytes })) return;
    const started = performance.now();
    try {
      collect();
    } catch (err) {
      // Not worth more than one line: the process just keeps its memory.
      failed = true;
      options.logger?.warn({ err: toError(err).message }, 'idle memory trim failed; not trying again');
      return;
    }
    afterLastTrim = heap().committed;
    options.logger?.debug({ ms: Math.round(performance.now() - started), heapBefore: committed, usedBefore: used, heapAfter: afterLastTrim }, 'idle: heap trimmed');
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
