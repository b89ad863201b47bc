// The operation executor: runs mount and unmount operations in the
// background so that one slow volume never holds up the reconcile pass, and
// guarantees that two operations on one volume (pod + volume name) never run
// at once — a second request while one is in flight is refused, not queued;
// the next pass asks again. Upstream's nestedpendingoperations, in short.
//
// Keys nest as upstream's (volume name, pod name) pairs: an operation keyed by
// a volume alone (a device-mountable volume's mount, its UnmountDevice)
// excludes every operation on that volume, whatever the pod; one keyed by
// volume and pod excludes only the same pair and the volume-wide ones. That
// is what serialises the one device mount a volume has per node with the
// pod-level tearDowns of the pods sharing it. A plain string key is a volume
// with no pod.
//
// A failed operation backs off exponentially (500 ms doubling to 2 min,
// upstream's figures), per volume and per kind of operation: a mount that
// keeps failing must not delay the unmount that follows its pod's removal.
// Requests during the backoff are refused quietly; the operation itself
// reports its failure (event, log) once per attempt, hence once per step.

import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';

export type OperationKind = 'mount' | 'unmount' | 'unmountDevice' | 'resolve';

/** A (volume, pod) pair; `pod` unset means the whole volume (upstream's EmptyUniquePodName). */
export interface OperationKey {
  volume: string;
  pod?: string;
}

function normaliseKey(key: string | OperationKey): OperationKey {
  return typeof key === 'string' ? { volume: key } : key;
}

/** The key as one string (for backoff and logs); a volume-only key is the volume itself. */
export function operationKeyString(key: string | OperationKey): string {
  const k = normaliseKey(key);
  return k.pod === undefined ? k.volume : `${k.volume}\u0000${k.pod}`;
}

/** Whether two keys exclude each other: same volume, and one of them is volume-wide or both name the same pod. */
function conflicts(a: OperationKey, b: OperationKey): boolean {
  return a.volume === b.volume && (a.pod === undefined || b.pod === undefined || a.pod === b.pod);
}

export const DEFAULT_INITIAL_BACKOFF_MS = 500;
export const DEFAULT_MAX_BACKOFF_MS = 120_000;

/** Exponential backoff per key: the first failure waits `initialMs`, each further one twice as long. */
export class ExponentialBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { delayMs: number; notBefore: number }>();

  constructor(initialMs = DEFAULT_INITIAL_BACKOFF_MS, maxMs = DEFAULT_MAX_BACKOFF_MS, now: () => number = Date.now) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#now = now;
  }

  /** Whether `key` failed and its wait has not passed yet. */
  isBackingOff(key: string): boolean {
    const e = this.#entries.get(key);
    return e !== undefined && this.#now() < e.notBefore;
  }

  /** Records a failure; returns how long `key` now waits. */
  recordFailure(key: string): number {
    const prev = this.#entries.get(key);
    const delayMs = prev === undefined ? this.#initialMs : Math.min(prev.delayMs * 2, this.#maxMs);
    this.#entries.set(key, { delayMs, notBefore: this.#now() + delayMs });
    return delayMs;
  }

  /** Forgets `key` (after a success). No-op for an unknown key. */
  reset(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets every key starting with `prefix` (a pod that went away). */
  resetPrefix(prefix: string): void {
    for (const key of [...this.#entries.keys()]) if (key.startsWith(prefix)) this.#entries.delete(key);
  }
}

/** The executor's key for one volume of one pod. */
export function volumeKey(podUid: string, outerName: string): string {
  return `${podUid}/${outerName}`;
}

export interface OperationExecutorOptions {
  logger: Logger;
  backoff: ExponentialBackoff;
  /** Called after every operation settles (the reconciler wakes up). */
  onSettled: () => void;
}

export class OperationExecutor {
  readonly #pending = new Map<string, { key: OperationKey; done: Promise<void> }>();
  readonly #opts: OperationExecutorOptions;

  constructor(opts: OperationExecutorOptions) {
    this.#opts = opts;
  }

  /** Whether an operation whose key conflicts with `key` is in flight. */
  isPending(key: string | OperationKey): boolean {
    const k = normaliseKey(key);
    for (const p of this.#pending.values()) if (conflicts(p.key, k)) return true;
    return false;
  }

  /** Whether operations of `kind` on `key` are refused because the last one failed recently. */
  isBackingOff(key: string | OperationKey, kind: OperationKind): boolean {
    return this.#opts.backoff.isBackingOff(`${operationKeyString(key)}|${kind}`);
  }

  /**
   * Starts `op` for `key` unless a conflicting operation is in flight or
   * `kind` is backing off for `key`; returns whether it started. The
   * operation reports its own failures; a rejection only starts the backoff.
   */
  run(keyIn: string | OperationKey, kind: OperationKind, op: () => Promise<void>): boolean {
    if (this.isPending(keyIn) || this.isBackingOff(keyIn, kind)) return false;
    const key = operationKeyString(keyIn);
    const backoffKey = `${key}|${kind}`;
    const done = (async () => {
      try {
        await op();
        this.#opts.backoff.reset(backoffKey);
      } catch (err) {
        const delayMs = this.#opts.backoff.recordFailure(backoffKey);
        this.#opts.logger.debug({ key, kind, delayMs, err: toError(err) }, 'volume operation failed, backing off');
      } finally {
        this.#pending.delete(key);
        this.#opts.onSettled();
      }
    })();
    // Ops are async functions: `done` settles after this line, so the delete above never precedes the set.
    this.#pending.set(key, { key: normaliseKey(keyIn), done });
    return true;
  }

  /** Resolves when no operation is in flight (those started meanwhile included). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending.values()].map((p) => p.done));
  }
}

/**
 * A wake-up call: wait() resolves on the next notify(), after `ms`, or when
 * `signal` aborts — whichever comes first. It never rejects, so loops built
 * on it check their signal themselves.
 */
export class Notifier {
  #waiters: (() => void)[] = [];

  notify(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w();
  }

  wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        this.#waiters = this.#waiters.filter((w) => w !== finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
      this.#waiters.push(finish);
    });
  }
}
