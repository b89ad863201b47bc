// The queue of pods waiting for a node — upstream's PriorityQueue reduced to
// its three parts, without priorities:
//
//   active        pods to try now (a client WorkQueue: a key is queued once
//                 and never handed to two workers);
//   backoff       pods that failed and wait out their backoff (1 s doubling
//                 to 10 s per attempt) before they return to active;
//   unschedulable pods no node fits. They stay until something in the
//                 cluster changes that could make them fit (a Node, PV, PVC,
//                 StorageClass or CSINode event, a scheduled pod leaving), or
//                 until they have waited maxUnschedulableMs — then they move
//                 to active, or to backoff if their backoff is not over.
//
// A change that arrives while a pod is being scheduled would be lost if the
// pod then went to unschedulable; like upstream's moveRequestCycle, a pod
// whose cycle started before the latest move request goes to backoff instead.

import { WorkQueue } from '../client/index.ts';

export interface SchedulingQueueOptions {
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxUnschedulableMs: number;
  /** The clock, in ms (tests). */
  now?: () => number;
}

export class SchedulingQueue {
  readonly active = new WorkQueue<string>({ name: 'scheduler', bucket: false });
  readonly #options: SchedulingQueueOptions;
  readonly #now: () => number;
  /** key → when it became unschedulable. */
  readonly #unschedulable = new Map<string, number>();
  /** key → the timer that returns it to active. */
  readonly #backoff = new Map<string, NodeJS.Timeout>();
  /** key → failed attempts and when the last one ended. */
  readonly #attempts = new Map<string, { count: number; last: number }>();
  #moveRequestCycle = 0;
  #flush: NodeJS.Timeout | undefined;

  constructor(options: SchedulingQueueOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Incremented by every move request; a scheduling cycle notes it when it starts. */
  get moveRequestCycle(): number {
    return this.#moveRequestCycle;
  }

  /** Starts the periodic flush of pods that stayed unschedulable too long. */
  start(): void {
    const period = Math.max(100, Math.min(30_000, this.#options.maxUnschedulableMs / 2));
    this.#flush = setInterval(() => this.#flushUnschedulable(), period);
    this.#flush.unref();
  }

  shutDown(): void {
    clearInterval(this.#flush);
    for (const t of this.#backoff.values()) clearTimeout(t);
    this.#backoff.clear();
    this.#unschedulable.clear();
    this.active.shutDown();
  }

  /** A pending pod was seen: queue it unless it is backing off or unschedulable. */
  add(key: string): void {
    if (this.#unschedulable.has(key) || this.#backoff.has(key)) return;
    this.active.add(key);
  }

  /** The pod itself changed (spec, labels): an unschedulable pod gets another chance. */
  podUpdated(key: string): void {
    if (this.#unschedulable.delete(key)) this.#activateOrBackoff(key);
    else this.add(key);
  }

  /** The pod is gone, or no longer the scheduler's: forget it. */
  delete(key: string): void {
    this.#unschedulable.delete(key);
    clearTimeout(this.#backoff.get(key));
    this.#backoff.delete(key);
    this.#attempts.delete(key);
  }

  /** The pod was scheduled: its failures are forgotten. */
  forget(key: string): void {
    this.#attempts.delete(key);
  }

  isUnschedulable(key: string): boolean {
    return this.#unschedulable.has(key);
  }

  isBackingOff(key: string): boolean {
    return this.#backoff.has(key);
  }

  /** Something changed that may let unschedulable pods fit. */
  moveAllToActiveOrBackoff(): void {
    this.#moveRequestCycle++;
    for (const key of [...this.#unschedulable.keys()]) {
      this.#unschedulable.delete(key);
      this.#activateOrBackoff(key);
    }
  }

  /** No node fits the pod (its cycle started at `cycle`). */
  addUnschedulable(key: string, cycle: number): void {
    this.#countFailure(key);
    if (this.#moveRequestCycle > cycle) this.#toBackoff(key);
    else this.#unschedulable.set(key, this.#now());
  }

  /** The attempt failed for another reason (an API error, a binding that did not complete). */
  addBackoff(key: string): void {
    this.#countFailure(key);
    this.#toBackoff(key);
  }

  /** The backoff of the pod's next attempt. */
  backoffMs(key: string): number {
    const n = this.#attempts.get(key)?.count ?? 0;
    if (n === 0) return 0;
    return Math.min(this.#options.initialBackoffMs * 2 ** (n - 1), this.#options.maxBackoffMs);
  }

  #countFailure(key: string): void {
    const a = this.#attempts.get(key);
    this.#attempts.set(key, { count: (a?.count ?? 0) + 1, last: this.#now() });
  }

  #remainingBackoff(key: string): number {
    const a = this.#attempts.get(key);
    if (a === undefined) return 0;
    return a.last + this.backoffMs(key) - this.#now();
  }

  #activateOrBackoff(key: string): void {
    if (this.#remainingBackoff(key) > 0) this.#toBackoff(key);
    else this.active.add(key);
  }

  #toBackoff(key: string): void {
    if (this.active.shuttingDown || this.#backoff.has(key)) return;
    const ms = Math.max(0, this.#remainingBackoff(key));
    const timer = setTimeout(() => {
      this.#backoff.delete(key);
      this.active.add(key);
    }, ms);
    timer.unref();
    this.#backoff.set(key, timer);
  }

  #flushUnschedulable(): void {
    const now = this.#now();
    for (const [key, since] of [...this.#unschedulable]) {
      if (now - since < this.#options.maxUnschedulableMs) continue;
      this.#unschedulable.delete(key);
      this.#activateOrBackoff(key);
    }
  }
}
