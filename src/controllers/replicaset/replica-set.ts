// The ReplicaSet controller: keeps `spec.replicas` pods matching a
// ReplicaSet's selector alive, and reports how many there are
// (upstream: pkg/controller/replicaset/replica_set.go).
//
// informers (replicasets, pods) → key (`namespace/name` of a ReplicaSet) →
// queue → workers → syncReplicaSet:
//   1. The ReplicaSet from the cache; gone → forget its expectations.
//   2. Claim pods: the active pods of the namespace that it controls and its
//      selector still matches; orphans the selector matches are adopted
//      (ownerReference with controller: true), owned pods the selector no
//      longer matches are released. Pods controlled by anyone else are never
//      touched.
//   3. Expectations satisfied (controller-expectations.ts) and not being
//      deleted → manage replicas: too few → create the difference (through
//      generateName `<rs>-`, in slow-start batches, at most 500 per sync);
//      too many → delete the cheapest (unscheduled, then not ready, then
//      newest: replica-set-utils.ts).
//   4. Write the status (replicas, fullyLabeledReplicas, readyReplicas,
//      availableReplicas, observedGeneration, ReplicaFailure) when it changed.
//      Pods that are ready but not yet available after minReadySeconds bring
//      the key back when they would be.
//
// Handlers only enqueue keys and count what the expectations wait for. A
// write that lost a race (409) requeues quietly; other failures requeue with
// backoff and a Warning event. Deleting dependents whose owner is gone is the
// garbage collector's job, not ours.

import type { OwnerReference } from '../../apimachinery/index.ts';
import { deepCopy, matches, type LabelSelector } from '../../apimachinery/index.ts';
import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';
import {
  ApiError,
  claimObjects,
  objectKey,
  resourcePath,
  resources,
  runWorkers,
  startInformersAndSync,
  WorkQueue,
  type ControllerContext,
  type EventRecorder,
  type Informer,
  type ResourceRef,
  type RestClient,
  type SharedInformerFactory,
} from '../../client/index.ts';
import { semanticEqual } from '../../api/core/common.ts';
import { controllerRefOf, newControllerRef } from '../../api/core/owner-references.ts';
import { isPodActive, isPodAvailable, isPodReady } from '../../api/core/pod-helpers.ts';
import { workloadSelector as selectorOf } from '../../api/apps/workload-helpers.ts';
import { ControllerExpectations } from './controller-expectations.ts';
import { calculateStatus, podsToDelete, slowStartBatch, type Pod, type ReplicaSet, type ReplicaSetStatus } from './replica-set-utils.ts';

export const REPLICA_SETS: ResourceRef = { group: 'apps', version: 'v1', resource: 'replicasets', namespaced: true };
const PODS = resources.pods;
const KIND = 'ReplicaSet';
const API_VERSION = 'apps/v1';
/** At most this many creations or deletions per sync (upstream burstReplicas). */
const BURST_REPLICAS = 500;
const POD_NAMESPACE_INDEX = 'replicaset-controller:namespace';
const RS_NAMESPACE_INDEX = 'replicaset-controller:namespace';

export type ReplicaSetControllerContext = ControllerContext;

export interface ReplicaSetControllerOptions {
  /** Concurrent syncs (upstream --concurrent-replicaset-syncs, default 5). */
  workers?: number;
}

/** Runs the ReplicaSet controller until `signal` aborts. */
export async function startReplicaSetController(
  ctx: ReplicaSetControllerContext,
  signal: AbortSignal,
  options: ReplicaSetControllerOptions = {},
): Promise<void> {
  await new ReplicaSetController(ctx, options).run(signal);
}

class ReplicaSetController {
  readonly #client: RestClient;
  readonly #informers: SharedInformerFactory;
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;
  readonly #workers: number;
  readonly #queue = new WorkQueue<string>({ name: 'replicaset' });
  readonly #expectations = new ControllerExpectations();
  #rsInformer!: Informer<ReplicaSet>;
  #podInformer!: Informer<Pod>;

  constructor(ctx: ReplicaSetControllerContext, options: ReplicaSetControllerOptions) {
    this.#client = ctx.client;
    this.#informers = ctx.informers;
    this.#recorder = ctx.recorder.withComponent('replicaset-controller');
    this.#logger = ctx.logger.child({ component: 'replicaset-controller' });
    this.#workers = options.workers ?? 5;
  }

  async run(signal: AbortSignal): Promise<void> {
    this.#rsInformer = this.#informers.informerFor<ReplicaSet>(REPLICA_SETS);
    this.#podInformer = this.#informers.informerFor<Pod>(PODS);
    this.#rsInformer.addIndexer(RS_NAMESPACE_INDEX, (rs) => [rs.metadata.namespace ?? '']);
    this.#podInformer.addIndexer(POD_NAMESPACE_INDEX, (pod) => [pod.metadata.namespace ?? '']);
    this.#rsInformer.addEventHandler({
      onAdd: (rs) => this.#queue.add(objectKey(rs)),
      onUpdate: (_old, rs) => this.#queue.add(objectKey(rs)),
      onDelete: (rs) => {
        this.#expectations.delete(objectKey(rs));
        this.#queue.add(objectKey(rs));
      },
    });
    this.#podInformer.addEventHandler({
      onAdd: (pod) => this.#podAdded(pod),
      onUpdate: (old, pod) => this.#podUpdated(old, pod),
      onDelete: (pod) => this.#podDeleted(pod),
    });
    if (!(await startInformersAndSync(this.#informers, signal, [this.#rsInformer, this.#podInformer]))) return;
    await runWorkers(this.#queue, this.#workers, (key) => this.syncReplicaSet(key), {
      signal,
      logger: this.#logger,
      onError: (key, err) => {
        const rs = this.#rsInformer.get(key);
        // Failed pod writes already have their FailedCreate/FailedDelete event.
        if (rs !== undefined && !(err instanceof PodWriteError)) this.#recorder.event(rs, 'Warning', 'SyncFailed', err.message);
      },
    });
  }

  // ---- event handlers: enqueue keys, count expectations ----

  /** The key of the ReplicaSet controlling `pod`, if a ReplicaSet does. */
  #ownerKey(pod: Pod, ref: OwnerReference | undefined = controllerRefOf(pod)): string | undefined {
    if (ref === undefined || ref.kind !== KIND || ref.apiVersion.split('/')[0] !== 'apps') return undefined;
    const rs = this.#rsInformer.get(`${pod.metadata.namespace}/${ref.name}`);
    // A reference to an older ReplicaSet of the same name is not ours to act on.
    return rs !== undefined && rs.metadata.uid === ref.uid ? objectKey(rs) : undefined;
  }

  /** ReplicaSets of the pod's namespace whose selector matches it (candidates to adopt an orphan). */
  #matchingReplicaSets(pod: Pod): ReplicaSet[] {
    return this.#rsInformer.byIndex(RS_NAMESPACE_INDEX, pod.metadata.namespace ?? '').filter((rs) => {
      const sel = selectorOf(rs);
      return sel !== undefined && matches(sel, pod.metadata.labels);
    });
  }

  #podAdded(pod: Pod): void {
    if (pod.metadata.deletionTimestamp !== undefined) {
      // Seen for the first time already being deleted (e.g. after a relist): count it as gone.
      this.#podDeleted(pod);
      return;
    }
    const ref = controllerRefOf(pod);
    if (ref !== undefined) {
      const key = this.#ownerKey(pod, ref);
      if (key === undefined) return;
      this.#expectations.creationObserved(key);
      this.#queue.add(key);
      return;
    }
    for (const rs of this.#matchingReplicaSets(pod)) this.#queue.add(objectKey(rs));
  }

  #podUpdated(old: Pod, pod: Pod): void {
    if (pod.metadata.deletionTimestamp !== undefined && old.metadata.deletionTimestamp === undefined) {
      // A pod going away no longer counts: let its ReplicaSet replace it now rather than after the grace period.
      const key = this.#ownerKey(pod);
      if (key !== undefined) this.#expectations.deletionObserved(key, objectKey(pod));
    }
    const oldRef = controllerRefOf(old);
    const ref = controllerRefOf(pod);
    if (oldRef !== undefined && oldRef.uid !== ref?.uid) {
      const oldKey = this.#ownerKey(old, oldRef);
      if (oldKey !== undefined) this.#queue.add(oldKey);
    }
    if (ref !== undefined) {
      const key = this.#ownerKey(pod, ref);
      if (key === undefined) return;
      this.#queue.add(key);
      // Ready now but available only after minReadySeconds: look again then.
      const minReady = this.#rsInformer.get(key)?.spec?.minReadySeconds ?? 0;
      if (minReady > 0 && !isPodReady(old) && isPodReady(pod)) this.#queue.addAfter(key, minReady * 1000 + 1000);
      return;
    }
    if (!semanticEqual(old.metadata.labels, pod.metadata.labels) || oldRef !== undefined) {
      for (const rs of this.#matchingReplicaSets(pod)) this.#queue.add(objectKey(rs));
    }
  }

  #podDeleted(pod: Pod): void {
    const key = this.#ownerKey(pod);
    if (key === undefined) return;
    this.#expectations.deletionObserved(key, objectKey(pod));
    this.#queue.add(key);
  }

  // ---- sync ----

  async syncReplicaSet(key: string): Promise<void> {
    const rs = this.#rsInformer.get(key);
    if (rs === undefined) {
      // Deleted: its pods are the garbage collector's now.
      this.#expectations.delete(key);
      return;
    }
    const selector = selectorOf(rs);
    if (selector === undefined) {
      this.#recorder.event(rs, 'Warning', 'InvalidSelector', 'the ReplicaSet has an invalid label selector');
      return;
    }
    const needsSync = this.#expectations.satisfied(key) && rs.metadata.deletionTimestamp === undefined;
    const candidates = this.#podInformer.byIndex(POD_NAMESPACE_INDEX, rs.metadata.namespace ?? '').filter(isPodActive);
    const pods = await this.#claimPods(rs, selector, candidates);

    let manageError: { reason: string; message: string } | undefined;
    let thrown: Error | undefined;
    if (needsSync) {
      try {
        await this.#manageReplicas(key, rs, pods);
      } catch (err) {
        thrown = toError(err);
        manageError = { reason: thrown instanceof PodWriteError ? thrown.reason : 'FailedCreate', message: thrown.message };
      }
    }

    const now = Date.now();
    const status = calculateStatus(rs, pods, now, manageError);
    await this.#updateStatus(rs, status);

    const minReady = rs.spec?.minReadySeconds ?? 0;
    if (minReady > 0 && pods.some((p) => isPodReady(p) && !isPodAvailable(p, minReady, now))) {
      this.#queue.addAfter(key, minReady * 1000 + 1000);
    }
    if (thrown !== undefined) throw thrown;
  }

  /**
   * The pods `rs` controls after adopting matching orphans and releasing owned
   * pods its selector no longer matches (upstream PodControllerRefManager).
   */
  #claimPods(rs: ReplicaSet, selector: LabelSelector, candidates: Pod[]): Promise<Pod[]> {
    return claimObjects<Pod>(
      {
        client: this.#client,
        resource: PODS,
        owner: rs,
        controllerRef: newControllerRef(rs, API_VERSION, KIND),
        matches: (pod) => matches(selector, pod.metadata.labels),
        // Before the first adoption, make sure the ReplicaSet is still the one we cached (upstream's recheck):
        // adopting for a deleted-and-recreated ReplicaSet would hand its pods to the garbage collector.
        canAdopt: () => this.#stillCurrent(rs),
      },
      candidates,
    );
  }

  async #stillCurrent(rs: ReplicaSet): Promise<boolean> {
    try {
      const fresh = await this.#client.get<ReplicaSet>(resourcePath(REPLICA_SETS, rs.metadata.namespace, rs.metadata.name));
      return fresh.metadata.uid === rs.metadata.uid && fresh.metadata.deletionTimestamp === undefined;
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return false;
      throw err;
    }
  }

  async #manageReplicas(key: string, rs: ReplicaSet, pods: Pod[]): Promise<void> {
    const diff = pods.length - (rs.spec?.replicas ?? 1);
    if (diff < 0) {
      const count = Math.min(-diff, BURST_REPLICAS);
      this.#expectations.expectCreations(key, count);
      const body = newPod(rs);
      const collection = resourcePath(PODS, rs.metadata.namespace);
      const { attempted, error } = await slowStartBatch(count, 1, async () => {
        try {
          const pod = await this.#client.create<Pod>(collection, body);
          this.#recorder.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`);
        } catch (err) {
          // This creation will never be observed.
          this.#expectations.creationObserved(key);
          const e = toError(err);
          this.#recorder.event(rs, 'Warning', 'FailedCreate', `Error creating: ${e.message}`);
          throw e;
        }
      });
      if (error !== undefined) {
        // Creations never attempted will not be observed either.
        for (let i = attempted; i < count; i++) this.#expectations.creationObserved(key);
        throw new PodWriteError('FailedCreate', error.message, { cause: error });
      }
      return;
    }
    if (diff > 0) {
      const victims = podsToDelete(pods, Math.min(diff, BURST_REPLICAS));
      this.#expectations.expectDeletions(key, victims.map(objectKey));
      const results = await Promise.allSettled(
        victims.map(async (pod) => {
          try {
            await this.#client.delete(resourcePath(PODS, pod.metadata.namespace, pod.metadata.name));
            this.#recorder.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
          } catch (err) {
            this.#expectations.deletionObserved(key, objectKey(pod));
            if (err instanceof ApiError && err.code === 404) return;
            const e = toError(err);
            this.#recorder.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${e.message}`);
            throw e;
          }
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw new PodWriteError('FailedDelete', toError(failed.reason).message, { cause: failed.reason });
    }
  }

  /** PUTs the status when it differs, retrying once on a stale cache. */
  async #updateStatus(rs: ReplicaSet, status: ReplicaSetStatus): Promise<void> {
    if (semanticEqual(rs.status, status)) return;
    const path = resourcePath(REPLICA_SETS, rs.metadata.namespace, rs.metadata.name, 'status');
    try {
      await this.#client.update(path, { ...rs, status });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return;
      if (!(err instanceof ApiError && err.code === 409)) throw err;
      const fresh = await this.#client.get<ReplicaSet>(resourcePath(REPLICA_SETS, rs.metadata.namespace, rs.metadata.name));
      if (fresh.metadata.uid !== rs.metadata.uid) return;
      // Only the generation we counted for may be claimed as observed.
      if (fresh.metadata.generation !== rs.metadata.generation) status = { ...status, observedGeneration: rs.status?.observedGeneration };
      await this.#client.update(path, { ...fresh, status });
    }
  }
}

/** A create or delete of a pod failed; `reason` is the ReplicaFailure condition's. */
export class PodWriteError extends Error {
  override readonly name = 'PodWriteError';
  readonly reason: 'FailedCreate' | 'FailedDelete';
  constructor(reason: 'FailedCreate' | 'FailedDelete', message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** A pod from the ReplicaSet's template, named by the server (`<rs>-xxxxx`). */
export function newPod(rs: ReplicaSet): Pod {
  const template = rs.spec?.template ?? {};
  const metadata: Pod['metadata'] = {
    generateName: `${rs.metadata.name}-`,
    namespace: rs.metadata.namespace,
    labels: { ...(template.metadata?.labels ?? {}) },
    ownerReferences: [newControllerRef(rs, API_VERSION, KIND)],
  };
  if (template.metadata?.annotations !== undefined) metadata.annotations = { ...template.metadata.annotations };
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: deepCopy(template.spec ?? {}) };
}
