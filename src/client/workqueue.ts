// The work queue every controller drains, with client-go's semantics
// (util/workqueue): a key is queued at most once ("dirty"); a key being
// processed is never handed to a second worker — if it is added meanwhile it
// is queued again when the first worker calls done() ("processing"). That is
// what lets event handlers enqueue freely while each key is synced by one
// worker at a time. On top: delayed adds and per-key rate-limited requeues
// (exponential backoff per key, combined with an overall token bucket, as
// client-go's DefaultControllerRateLimiter).
//
// runWorkers() is the worker loop: get → sync → forget on success, requeue
// with backoff on failure → done. A sync that needs no I/O (most syncs of an
// object already in its desired state) finishes within microtasks, so a full
// queue would be drained without the event loop ever getting a turn: 100,000
// volumes queued by a resync blocked every socket and timer of the process
// for ~0.6 s. The workers therefore give the event loop a turn whenever they
// have run for YIELD_AFTER_MS without one.

import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from '../base/index.ts';
import { toError } from '../base/index.ts';
import { StatusError } from '../apimachinery/index.ts';
import { ApiError } from './rest.ts';

/** Decides how long a key waits before it is retried. */
export interface RateLimiter<K> {
  /** The delay for the next retry of `key` (counts a failure). */
  when(key: K): number;
  /** Forget the failures of `key` (it succeeded). */
  forget(key: K): void;
  /** How many failures of `key` are counted. */
  numRequeues(key: K): number;
}

/** base × 2^failures, capped (client-go's ItemExponentialFailureRateLimiter). */
export class ItemExponentialRateLimiter<K> implements RateLimiter<K> {
  readonly #failures = new Map<K, number>();
  readonly #baseMs: number;
  readonly #maxMs: number;
  constructor(baseMs = 5, maxMs = 1_000_000) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }
  when(key: K): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    // 2^n overflows to Infinity long before it matters; the cap takes care of it.
    return Math.min(this.#baseMs * 2 ** n, this.#maxMs);
  }
  forget(key: K): void {
    this.#failures.delete(key);
  }
  numRequeues(key: K): number {
    return this.#failures.get(key) ?? 0;
  }
}

/**
 * An overall token bucket (qps, burst) shared by all keys: each retry takes a
 * token, and waits for one when the bucket is empty (a reservation: the
 * bucket may go negative, later callers wait longer).
 */
export class BucketRateLimiter<K> implements RateLimiter<K> {
  readonly #qps: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;
  constructor(qps = 10, burst = 100, now: () => number = Date.now) {
    this.#qps = qps;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }
  when(_key: K): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#qps) * 1000;
  }
  forget(_key: K): void {}
  numRequeues(_key: K): number {
    return 0;
  }
}

/** The longest delay of several limiters; failures counted by the most pessimistic. */
export class MaxOfRateLimiter<K> implements RateLimiter<K> {
  readonly #limiters: readonly RateLimiter<K>[];
  constructor(...limiters: RateLimiter<K>[]) {
    this.#limiters = limiters;
  }
  when(key: K): number {
    let max = 0;
    for (const l of this.#limiters) max = Math.max(max, l.when(key));
    return max;
  }
  forget(key: K): void {
    for (const l of this.#limiters) l.forget(key);
  }
  numRequeues(key: K): number {
    let max = 0;
    for (const l of this.#limiters) max = Math.max(max, l.numRequeues(key));
    return max;
  }
}

export interface WorkQueueOptions<K> {
  /** For logs. */
  name?: string;
  /** Per-key backoff base (default 5 ms) and cap (default 1000 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** The overall token bucket (default 10 qps, burst 100); `false` turns it off. */
  bucket?: { qps: number; burst: number } | false;
  /** Replaces the limiter built from the three options above. */
  rateLimiter?: RateLimiter<K>;
}

/** client-go's default: per-key 5 ms → 1000 s, and 10 qps / burst 100 overall. */
export function defaultControllerRateLimiter<K>(options: Pick<WorkQueueOptions<K>, 'baseDelayMs' | 'maxDelayMs' | 'bucket'> = {}): RateLimiter<K> {
  const perKey = new ItemExponentialRateLimiter<K>(options.baseDelayMs ?? 5, options.maxDelayMs ?? 1_000_000);
  const bucket = options.bucket ?? { qps: 10, burst: 100 };
  return bucket === false ? perKey : new MaxOfRateLimiter<K>(perKey, new BucketRateLimiter<K>(bucket.qps, bucket.burst));
}

export class WorkQueue<K = string> {
  readonly name: string;
  /**
   * FIFO of keys from #head on. Array.shift() moves the whole array once it
   * is large (a resync queues every object), so taking a key only advances
   * #head and the taken prefix is cut off once it is most of the array.
   */
  #queue: (K | undefined)[] = [];
  #head = 0;
  /** Keys that need processing (queued, or re-added while processing). */
  readonly #dirty = new Set<K>();
  /** Keys handed to a worker and not yet done(). */
  readonly #processing = new Set<K>();
  /** Delayed adds, one timer per key holding the earliest time it is due. */
  readonly #waiting = new Map<K, { readyAt: number; timer: NodeJS.Timeout }>();
  readonly #getters: ((key: K | undefined) => void)[] = [];
  readonly #limiter: RateLimiter<K>;
  #shuttingDown = false;

  constructor(options: WorkQueueOptions<K> = {}) {
    this.name = options.name ?? 'workqueue';
    this.#limiter = options.rateLimiter ?? defaultControllerRateLimiter<K>(options);
  }

  /** Queues `key` unless it is already queued; ignored after shutDown(). */
  add(key: K): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    // Being processed: done() queues it again.
    if (this.#processing.has(key)) return;
    this.#queue.push(key);
    this.#handOut();
  }

  /**
   * The next key, waiting for one if the queue is empty; the caller must call
   * done(key) when finished. Resolves undefined once shut down and drained.
   */
  get(): Promise<K | undefined> {
    return new Promise((resolve) => {
      this.#getters.push(resolve);
      this.#handOut();
    });
  }

  /** Marks `key` finished; if it was added meanwhile, it is queued again. */
  done(key: K): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      this.#queue.push(key);
      this.#handOut();
    }
  }

  /** Keys queued (not those being processed or waiting for a delay). */
  len(): number {
    return this.#queue.length - this.#head;
  }

  /** Whether shutDown() was called. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Stops accepting keys and cancels delayed adds. Workers still get what is
   * queued; after that get() resolves undefined.
   */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const w of this.#waiting.values()) clearTimeout(w.timer);
    this.#waiting.clear();
    this.#handOut();
  }

  /** Adds `key` after `ms` (at once when ms ≤ 0). A key already waiting keeps the earlier time. */
  addAfter(key: K, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = Date.now() + ms;
    const existing = this.#waiting.get(key);
    if (existing !== undefined) {
      if (existing.readyAt <= readyAt) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.#waiting.set(key, { readyAt, timer });
  }

  /** Adds `key` after the rate limiter's delay (which counts this as a failure). */
  addRateLimited(key: K): void {
    if (this.#shuttingDown) return;
    this.addAfter(key, this.#limiter.when(key));
  }

  /** Forgets `key`'s failures: its next addRateLimited starts at the base delay. */
  forget(key: K): void {
    this.#limiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.#limiter.numRequeues(key);
  }

  #take(): K | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const key = this.#queue[this.#head];
    this.#queue[this.#head++] = undefined;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return key;
  }

  #handOut(): void {
    while (this.#getters.length > 0) {
      const key = this.#take();
      if (key === undefined) {
        if (!this.#shuttingDown) return;
        for (const g of this.#getters.splice(0)) g(undefined);
        return;
      }
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#getters.shift()!(key);
    }
  }
}

/** Whether `err` is the API's optimistic-concurrency conflict (409 Conflict): an ordinary requeue. */
export function isConflict(err: unknown): boolean {
  if (err instanceof ApiError) return err.code === 409 && (err.status?.reason ?? 'Conflict') === 'Conflict';
  if (err instanceof StatusError) return err.reason === 'Conflict';
  return false;
}

export interface RunWorkersOptions<K> {
  /** Aborting shuts the queue down; workers finish their current key and return. */
  signal: AbortSignal;
  logger: Logger;
  /** Called for every failed sync except conflicts (e.g. to record an Event). Must not throw. */
  onError?: (key: K, err: Error) => void;
}

/** How long runWorkers' workers may keep the event loop before they let timers and I/O run. */
const YIELD_AFTER_MS = 4;

/**
 * Runs `count` workers over `queue` until `signal` aborts: each takes a key,
 * syncs it, forgets its failures on success, requeues it with backoff on
 * failure (a conflict quietly, anything else with a log line), and marks it
 * done. Resolves when every worker has returned.
 */
export async function runWorkers<K>(
  queue: WorkQueue<K>,
  count: number,
  sync: (key: K, signal: AbortSignal) => Promise<void>,
  options: RunWorkersOptions<K>,
): Promise<void> {
  const { signal, logger } = options;
  const onAbort = (): void => queue.shutDown();
  if (signal.aborted) queue.shutDown();
  else signal.addEventListener('abort', onAbort, { once: true });

  // When the workers last let the event loop run; shared by them, since they run on one loop.
  let lastTurn = performance.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      if (performance.now() - lastTurn >= YIELD_AFTER_MS) {
        await nextTurn();
        lastTurn = performance.now();
      }
      const key = await queue.get();
      if (key === undefined) return;
      if (signal.aborted) {
        // Shut down with keys still queued: leave them, the next run starts from a fresh list.
        queue.done(key);
        return;
      }
      try {
        await sync(key, signal);
        queue.forget(key);
      } catch (thrown) {
        const err = toError(thrown);
        if (signal.aborted) {
          // Stopping: the error is most likely the cancellation itself.
        } else if (isConflict(err)) {
          logger.debug({ queue: queue.name, key: String(key), err: err.message }, 'conflict, requeueing');
          queue.addRateLimited(key);
        } else {
          logger.error({ queue: queue.name, key: String(key), err, requeues: queue.numRequeues(key) }, 'sync failed, requeueing with backoff');
          queue.addRateLimited(key);
          try {
            options.onError?.(key, err);
          } catch (hookErr) {
            logger.error({ queue: queue.name, err: toError(hookErr) }, 'onError hook threw');
          }
        }
      } finally {
        queue.done(key);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, count) }, worker));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
