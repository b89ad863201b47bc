// What a controller is waiting to see in its informer after its own writes
// (upstream: pkg/controller/controller_utils.go, ControllerExpectations).
//
// Pods created through generateName cannot be found by name, and an informer
// lags behind the writes that feed it: a second sync that ran before the
// first sync's creations arrived would count too few pods and create them
// again. So a sync that creates n pods first records "expect n adds", and a
// sync that deletes records the keys it expects to vanish; the pod event
// handlers lower those counts as the events arrive, and replica management is
// skipped until the record is satisfied (or has expired, in case an event was
// lost, e.g. to a relist that coalesced an add and a delete).

/** How long a record is trusted before the controller stops waiting for it (upstream: 5 minutes). */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60 * 1000;

interface Record {
  adds: number;
  deletes: Set<string>;
  at: number;
}

export class ControllerExpectations {
  readonly #records = new Map<string, Record>();
  readonly #now: () => number;
  readonly #timeoutMs: number;

  constructor(options: { now?: () => number; timeoutMs?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#timeoutMs = options.timeoutMs ?? EXPECTATIONS_TIMEOUT_MS;
  }

  /** Whether `controllerKey` may manage its replicas: nothing pending, never recorded, or expired. */
  satisfied(controllerKey: string): boolean {
    const r = this.#records.get(controllerKey);
    if (r === undefined) return true;
    if (r.adds <= 0 && r.deletes.size === 0) return true;
    return this.#now() - r.at > this.#timeoutMs;
  }

  /** Replaces the record of `controllerKey` with `count` pending creations. */
  expectCreations(controllerKey: string, count: number): void {
    this.#records.set(controllerKey, { adds: count, deletes: new Set(), at: this.#now() });
  }

  /** Replaces the record of `controllerKey` with the pod keys it is about to delete. */
  expectDeletions(controllerKey: string, podKeys: readonly string[]): void {
    this.#records.set(controllerKey, { adds: 0, deletes: new Set(podKeys), at: this.#now() });
  }

  /** One creation seen (or given up on). A no-op without a record. */
  creationObserved(controllerKey: string): void {
    const r = this.#records.get(controllerKey);
    if (r !== undefined && r.adds > 0) r.adds--;
  }

  /** The deletion of `podKey` seen (or given up on). A no-op when it was not expected. */
  deletionObserved(controllerKey: string, podKey: string): void {
    this.#records.get(controllerKey)?.deletes.delete(podKey);
  }

  /** Forgets `controllerKey` (its controller was deleted). */
  delete(controllerKey: string): void {
    this.#records.delete(controllerKey);
  }
}
