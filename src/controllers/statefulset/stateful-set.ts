// The StatefulSet controller: pods with a stable identity (`<set>-<ordinal>`)
// and stable storage (`<template>-<set>-<ordinal>` claims that outlive the
// pod), created in order and removed in reverse order (upstream:
// pkg/controller/statefulset/stateful_set.go).
//
// informers (statefulsets, pods, persistentvolumeclaims) → key
// (`namespace/name` of a StatefulSet) → queue → workers → syncStatefulSet:
//   1. The set from the cache; gone → nothing (its pods and the claims it
//      owns are the garbage collector's).
//   2. Claim pods: pods of the namespace that the selector matches and whose
//      name says they belong to this set (`<set>-<n>`); orphans are adopted
//      (ownerReference controller: true), owned pods that no longer match are
//      released.
//   3. One pass of stateful-set-control.ts: claims before pods, ordinal by
//      ordinal, scale-down from the top, claim owners by the retention
//      policy, then the status.
//
// Pod events enqueue the owning set (or, for an orphan, every set that could
// adopt it); claim deletions enqueue the sets of their namespace, since a pod
// may be waiting for an old claim to go. A conflict is a quiet requeue, any
// other failure a requeue with backoff and a Warning event on the set.

import type { KubeObject } from '../../apimachinery/index.ts';
import { matches, type LabelSelector } from '../../apimachinery/index.ts';
import type { Logger } from '../../base/index.ts';
import {
  claimObjects,
  objectKey,
  resources,
  runWorkers,
  startInformersAndSync,
  WorkQueue,
  type ControllerContext,
  type EventRecorder,
  type Informer,
  type RestClient,
  type SharedInformerFactory,
} from '../../client/index.ts';
import { workloadSelector as selectorOf } from '../../api/apps/workload-helpers.ts';
import { controllerRefOf, newControllerRef } from '../../api/core/owner-references.ts';
import { StatefulSetControl, STATEFUL_SETS } from './stateful-set-control.ts';
import {
  isMemberOf,
  STATEFUL_SET_API_VERSION,
  STATEFUL_SET_KIND,
  type Pod,
  type StatefulSet,
} from './stateful-set-utils.ts';

const PODS = resources.pods;
const NAMESPACE_INDEX = 'statefulset-controller:namespace';

export type StatefulSetControllerContext = ControllerContext;

export interface StatefulSetControllerOptions {
  /** Concurrent syncs (upstream --concurrent-statefulset-syncs, default 5). */
  workers?: number;
}

/** Runs the StatefulSet controller until `signal` aborts. */
export async function startStatefulSetController(
  ctx: StatefulSetControllerContext,
  signal: AbortSignal,
  options: StatefulSetControllerOptions = {},
): Promise<void> {
  await new StatefulSetController(ctx, options).run(signal);
}

class StatefulSetController {
  readonly #client: RestClient;
  readonly #informers: SharedInformerFactory;
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;
  readonly #workers: number;
  readonly #queue = new WorkQueue<string>({ name: 'statefulset' });
  #setInformer!: Informer<StatefulSet>;
  #podInformer!: Informer<Pod>;
  #control!: StatefulSetControl;

  constructor(ctx: StatefulSetControllerContext, options: StatefulSetControllerOptions) {
    this.#client = ctx.client;
    this.#informers = ctx.informers;
    this.#recorder = ctx.recorder.withComponent('statefulset-controller');
    this.#logger = ctx.logger.child({ component: 'statefulset-controller' });
    this.#workers = options.workers ?? 5;
  }

  async run(signal: AbortSignal): Promise<void> {
    this.#setInformer = this.#informers.informerFor<StatefulSet>(STATEFUL_SETS);
    this.#podInformer = this.#informers.informerFor<Pod>(PODS);
    const claimInformer = this.#informers.informerFor<KubeObject>(resources.persistentVolumeClaims);
    this.#control = new StatefulSetControl({ client: this.#client, claims: claimInformer, recorder: this.#recorder, logger: this.#logger });
    this.#setInformer.addIndexer(NAMESPACE_INDEX, (s) => [s.metadata.namespace ?? '']);
    this.#podInformer.addIndexer(NAMESPACE_INDEX, (p) => [p.metadata.namespace ?? '']);

    this.#setInformer.addEventHandler({
      onAdd: (s) => this.#queue.add(objectKey(s)),
      onUpdate: (_old, s) => this.#queue.add(objectKey(s)),
      onDelete: (s) => this.#queue.add(objectKey(s)),
    });
    this.#podInformer.addEventHandler({
      onAdd: (p) => this.#podChanged(p),
      onUpdate: (old, p) => {
        const oldRef = controllerRefOf(old);
        if (oldRef !== undefined && oldRef.uid !== controllerRefOf(p)?.uid) this.#podChanged(old);
        this.#podChanged(p);
      },
      onDelete: (p) => this.#podChanged(p),
    });
    claimInformer.addEventHandler({
      onDelete: (claim) => {
        for (const s of this.#setInformer.byIndex(NAMESPACE_INDEX, claim.metadata.namespace ?? '')) this.#queue.add(objectKey(s));
      },
    });

    if (!(await startInformersAndSync(this.#informers, signal, [this.#setInformer, this.#podInformer, claimInformer]))) return;
    await runWorkers(this.#queue, this.#workers, (key) => this.syncStatefulSet(key), {
      signal,
      logger: this.#logger,
      onError: (key, err) => {
        const s = this.#setInformer.get(key);
        if (s !== undefined) this.#recorder.event(s, 'Warning', 'SyncFailed', err.message);
      },
    });
  }

  #podChanged(pod: Pod): void {
    const ref = controllerRefOf(pod);
    const ns = pod.metadata.namespace ?? '';
    if (ref !== undefined) {
      if (ref.kind !== STATEFUL_SET_KIND) return;
      const s = this.#setInformer.get(`${ns}/${ref.name}`);
      if (s !== undefined && s.metadata.uid === ref.uid) this.#queue.add(objectKey(s));
      return;
    }
    for (const s of this.#setInformer.byIndex(NAMESPACE_INDEX, ns)) {
      const sel = selectorOf(s);
      if (sel !== undefined && matches(sel, pod.metadata.labels) && isMemberOf(s, pod)) this.#queue.add(objectKey(s));
    }
  }

  async syncStatefulSet(key: string): Promise<void> {
    const set = this.#setInformer.get(key);
    if (set === undefined) return;
    const selector = selectorOf(set);
    if (selector === undefined) {
      this.#recorder.event(set, 'Warning', 'InvalidSelector', 'the StatefulSet has an invalid label selector');
      return;
    }
    const pods = await this.#claimPods(set, selector);
    await this.#control.updateStatefulSet(set, pods);
  }

  #claimPods(set: StatefulSet, selector: LabelSelector): Promise<Pod[]> {
    return claimObjects<Pod>(
      {
        client: this.#client,
        resource: PODS,
        owner: set,
        controllerRef: newControllerRef(set, STATEFUL_SET_API_VERSION, STATEFUL_SET_KIND),
        matches: (pod) => matches(selector, pod.metadata.labels) && isMemberOf(set, pod),
      },
      this.#podInformer.byIndex(NAMESPACE_INDEX, set.metadata.namespace ?? ''),
    );
  }
}
