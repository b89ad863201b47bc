// The Deployment controller: rolls a Deployment's pod template out through
// ReplicaSets, one per template (upstream: pkg/controller/deployment —
// deployment_controller.go, sync.go, rolling.go, recreate.go, progress.go).
//
// A Deployment never touches pods. Each distinct template gets a ReplicaSet
// named `<deployment>-<pod-template-hash>` whose selector, labels and
// template carry that hash, so the ReplicaSets of one Deployment never fight
// over pods; the ReplicaSet controller does the rest.
//
// informers (deployments, replicasets) → key (`namespace/name` of a
// Deployment) → queue → workers → syncDeployment:
//   1. The Deployment from the cache; gone → nothing (its ReplicaSets are the
//      garbage collector's). An empty selector → a Warning, nothing else.
//   2. Claim ReplicaSets: adopt orphans the selector matches, release owned
//      ones it no longer matches (ownerReference controller: true).
//   3. Being deleted or paused → status only.
//   4. The new ReplicaSet is the one whose template equals the Deployment's
//      (ignoring the hash label); its revision is one more than any old one's,
//      and the Deployment's `deployment.kubernetes.io/revision` follows it.
//      A name taken by a ReplicaSet with another template (a hash collision)
//      bumps status.collisionCount and tries again with another hash.
//   5. RollingUpdate: grow the new ReplicaSet while all together stay within
//      replicas + maxSurge; shrink old ones while replicas − maxUnavailable
//      stay available (unavailable old pods go first). Recreate: old ones to
//      zero, wait until their pods are gone, then the new one to replicas.
//      One kind of step per sync; the ReplicaSets' status changes bring the key
//      back for the next.
//   6. Complete → delete old ReplicaSets beyond revisionHistoryLimit.
//   7. Status from the ReplicaSets (replicas, updatedReplicas, readyReplicas,
//      availableReplicas, unavailableReplicas) with the Available and
//      Progressing conditions, written when it changed.
//
// The simplifications: no proportional scaling of several active ReplicaSets
// when replicas change mid-rollout (the rollout rules converge anyway), no
// rollback annotation, and pause only freezes the rollout (status is kept).
// Every write of a ReplicaSet pins the cached resourceVersion: a 409 is an
// ordinary requeue.

import { deepCopy, EVERYTHING, isEmptySelector, matches, type LabelSelector } from '../../apimachinery/index.ts';
import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';
import {
  ApiError,
  claimObjects,
  objectKey,
  resourcePath,
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
import { workloadSelector as selectorOf } from '../../api/apps/workload-helpers.ts';
import {
  calculateStatus,
  compactStatus,
  computeHash,
  deploymentComplete,
  DESIRED_REPLICAS_ANNOTATION,
  equalIgnoreHash,
  findNewReplicaSet,
  getCondition,
  MAX_REPLICAS_ANNOTATION,
  maxRevision,
  newCondition,
  newReplicaSetAnnotations,
  newRSNewReplicas,
  oldReplicaSetScaleDowns,
  POD_TEMPLATE_HASH_LABEL,
  replicasOf,
  replicaSetsToCleanUp,
  resolveFenceposts,
  REVISION_ANNOTATION,
  revisionOf,
  setCondition,
  setProgressingCondition,
  type Deployment,
  type DeploymentStatus,
  type ReplicaSet,
} from './deployment-util.ts';

export const DEPLOYMENTS: ResourceRef = { group: 'apps', version: 'v1', resource: 'deployments', namespaced: true };
const REPLICA_SETS: ResourceRef = { group: 'apps', version: 'v1', resource: 'replicasets', namespaced: true };
const KIND = 'Deployment';
const API_VERSION = 'apps/v1';
const NAMESPACE_INDEX = 'deployment-controller:namespace';

export type DeploymentControllerContext = ControllerContext;

export interface DeploymentControllerOptions {
  /** Concurrent syncs (upstream --concurrent-deployment-syncs, default 5). */
  workers?: number;
}

/** The name `<deployment>-<hash>` is taken by a ReplicaSet with another template; retried with the next collisionCount. */
export class HashCollisionError extends Error {
  override readonly name = 'HashCollisionError';
  readonly replicaSet: string;
  constructor(replicaSet: string) {
    super(`hash collision: ReplicaSet ${replicaSet} exists with a different template`);
    this.replicaSet = replicaSet;
  }
}

/** Runs the Deployment controller until `signal` aborts. */
export async function startDeploymentController(
  ctx: DeploymentControllerContext,
  signal: AbortSignal,
  options: DeploymentControllerOptions = {},
): Promise<void> {
  await new DeploymentController(ctx, options).run(signal);
}

/** What one sync works on: the Deployment, its status being built, and its ReplicaSets as last written. */
interface Rollout {
  d: Deployment;
  status: DeploymentStatus;
  newRS: ReplicaSet | undefined;
  oldRSs: ReplicaSet[];
}

class DeploymentController {
  readonly #client: RestClient;
  readonly #informers: SharedInformerFactory;
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;
  readonly #workers: number;
  readonly #queue = new WorkQueue<string>({ name: 'deployment' });
  #dInformer!: Informer<Deployment>;
  #rsInformer!: Informer<ReplicaSet>;

  constructor(ctx: DeploymentControllerContext, options: DeploymentControllerOptions) {
    this.#client = ctx.client;
    this.#informers = ctx.informers;
    this.#recorder = ctx.recorder.withComponent('deployment-controller');
    this.#logger = ctx.logger.child({ component: 'deployment-controller' });
    this.#workers = options.workers ?? 5;
  }

  async run(signal: AbortSignal): Promise<void> {
    this.#dInformer = this.#informers.informerFor<Deployment>(DEPLOYMENTS);
    this.#rsInformer = this.#informers.informerFor<ReplicaSet>(REPLICA_SETS);
    this.#dInformer.addIndexer(NAMESPACE_INDEX, (d) => [d.metadata.namespace ?? '']);
    this.#rsInformer.addIndexer(NAMESPACE_INDEX, (rs) => [rs.metadata.namespace ?? '']);
    this.#dInformer.addEventHandler({
      onAdd: (d) => this.#queue.add(objectKey(d)),
      onUpdate: (_old, d) => this.#queue.add(objectKey(d)),
      onDelete: (d) => this.#queue.add(objectKey(d)),
    });
    this.#rsInformer.addEventHandler({
      onAdd: (rs) => this.#replicaSetChanged(rs),
      onUpdate: (old, rs) => {
        const oldRef = controllerRefOf(old);
        if (oldRef !== undefined && oldRef.uid !== controllerRefOf(rs)?.uid) this.#replicaSetChanged(old);
        this.#replicaSetChanged(rs);
      },
      onDelete: (rs) => this.#replicaSetChanged(rs),
    });
    if (!(await startInformersAndSync(this.#informers, signal, [this.#dInformer, this.#rsInformer]))) return;
    await runWorkers(this.#queue, this.#workers, (key) => this.syncDeployment(key), {
      signal,
      logger: this.#logger,
      onError: (key, err) => {
        const d = this.#dInformer.get(key);
        if (d !== undefined && !(err instanceof HashCollisionError)) this.#recorder.event(d, 'Warning', 'SyncFailed', err.message);
      },
    });
  }

  /** Enqueues the Deployment controlling `rs`, or for an orphan every Deployment that could adopt it. */
  #replicaSetChanged(rs: ReplicaSet): void {
    const ref = controllerRefOf(rs);
    const ns = rs.metadata.namespace ?? '';
    if (ref !== undefined) {
      if (ref.kind !== KIND) return;
      const d = this.#dInformer.get(`${ns}/${ref.name}`);
      if (d !== undefined && d.metadata.uid === ref.uid) this.#queue.add(objectKey(d));
      return;
    }
    for (const d of this.#dInformer.byIndex(NAMESPACE_INDEX, ns)) {
      const sel = selectorOf(d);
      if (sel !== undefined && !isEmptySelector(sel) && matches(sel, rs.metadata.labels)) this.#queue.add(objectKey(d));
    }
  }

  async syncDeployment(key: string): Promise<void> {
    const d = this.#dInformer.get(key);
    if (d === undefined) return;
    const selector = selectorOf(d) ?? EVERYTHING;
    if (isEmptySelector(selector)) {
      this.#recorder.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if (d.status?.observedGeneration !== d.metadata.generation) {
        await this.#writeStatus(d, { ...(d.status ?? {}), observedGeneration: d.metadata.generation });
      }
      return;
    }
    const rsList = await this.#claimReplicaSets(d, selector);
    const newRS = findNewReplicaSet(d, rsList);
    const r: Rollout = { d, status: deepCopy(d.status ?? {}), newRS, oldRSs: rsList.filter((rs) => rs !== newRS) };

    if (d.metadata.deletionTimestamp !== undefined || d.spec?.paused === true) {
      await this.#syncStatus(r, false);
      return;
    }
    if (d.spec?.strategy?.type === 'Recreate') await this.#rolloutRecreate(r);
    else await this.#rolloutRolling(r);
  }

  // ---- ReplicaSets of the Deployment ----

  #claimReplicaSets(d: Deployment, selector: LabelSelector): Promise<ReplicaSet[]> {
    return claimObjects<ReplicaSet>(
      {
        client: this.#client,
        resource: REPLICA_SETS,
        owner: d,
        controllerRef: newControllerRef(d, API_VERSION, KIND),
        matches: (rs) => matches(selector, rs.metadata.labels),
      },
      this.#rsInformer.byIndex(NAMESPACE_INDEX, d.metadata.namespace ?? ''),
    );
  }

  /**
   * Makes sure the new ReplicaSet carries the newest revision and the current
   * desired/max annotations, creating it when `create` and it is missing, and
   * keeps the Deployment's revision annotation in step.
   */
  async #ensureNewReplicaSet(r: Rollout, create: boolean, nowMs: number): Promise<void> {
    const { d } = r;
    const revision = maxRevision(r.oldRSs) + 1;
    if (r.newRS !== undefined) {
      const rs = r.newRS;
      const annotations = { ...(rs.metadata.annotations ?? {}) };
      if (revisionOf(rs) < revision) annotations[REVISION_ANNOTATION] = String(revision);
      annotations[DESIRED_REPLICAS_ANNOTATION] = String(replicasOf(d));
      annotations[MAX_REPLICAS_ANNOTATION] = String(replicasOf(d) + resolveFenceposts(d).maxSurge);
      if (!semanticEqual(annotations, rs.metadata.annotations)) {
        r.newRS = await this.#client.update<ReplicaSet>(resourcePath(REPLICA_SETS, rs.metadata.namespace, rs.metadata.name), {
          ...rs,
          metadata: { ...rs.metadata, annotations },
        });
      }
      if (getCondition(r.status, 'Progressing') === undefined) {
        setCondition(r.status, newCondition('Progressing', 'True', 'FoundNewReplicaSet', `Found new replica set "${rs.metadata.name}"`, nowMs));
      }
      await this.#syncDeploymentRevision(d, revisionOf(r.newRS));
      return;
    }
    if (!create) return;

    const hash = computeHash(d.spec?.template, d.status?.collisionCount);
    const name = `${d.metadata.name}-${hash}`;
    const template = deepCopy(d.spec?.template ?? {});
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash } };
    const selector = deepCopy(d.spec?.selector ?? {});
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const replicas = newRSNewReplicas(d, r.oldRSs, undefined);
    const body: ReplicaSet = {
      apiVersion: API_VERSION,
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: d.metadata.namespace,
        labels: { ...(template.metadata.labels ?? {}) },
        annotations: newReplicaSetAnnotations(d, revision),
        ownerReferences: [newControllerRef(d, API_VERSION, KIND)],
      },
      spec: { replicas, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector, template },
    };
    let created: ReplicaSet;
    try {
      created = await this.#client.create<ReplicaSet>(resourcePath(REPLICA_SETS, d.metadata.namespace), body);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409 && err.status?.reason === 'AlreadyExists')) throw err;
      const existing = await this.#client.get<ReplicaSet>(resourcePath(REPLICA_SETS, d.metadata.namespace, name));
      if (controllerRefOf(existing)?.uid === d.metadata.uid && equalIgnoreHash(existing.spec?.template, d.spec?.template)) {
        // Ours, created by an earlier sync the cache had not shown yet.
        r.newRS = existing;
        return;
      }
      // Someone else's, or another template under the same hash: try the next hash.
      await this.#writeStatus(d, { ...(d.status ?? {}), collisionCount: (d.status?.collisionCount ?? 0) + 1 });
      throw new HashCollisionError(name);
    }
    if (replicas > 0) this.#recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${name} from 0 to ${replicas}`);
    setCondition(r.status, newCondition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${name}"`, nowMs));
    r.newRS = created;
    await this.#syncDeploymentRevision(d, revision);
  }

  async #syncDeploymentRevision(d: Deployment, revision: number): Promise<void> {
    if (revision <= 0 || d.metadata.annotations?.[REVISION_ANNOTATION] === String(revision)) return;
    await this.#client.patch(resourcePath(DEPLOYMENTS, d.metadata.namespace, d.metadata.name), {
      metadata: { annotations: { [REVISION_ANNOTATION]: String(revision) } },
    });
  }

  /** Sets a ReplicaSet's replicas (and the rollout annotations); returns it as written. */
  async #scaleReplicaSet(r: Rollout, rs: ReplicaSet, replicas: number): Promise<ReplicaSet> {
    const { d } = r;
    const annotations = {
      ...(rs.metadata.annotations ?? {}),
      [DESIRED_REPLICAS_ANNOTATION]: String(replicasOf(d)),
      [MAX_REPLICAS_ANNOTATION]: String(replicasOf(d) + resolveFenceposts(d).maxSurge),
    };
    const from = rs.spec?.replicas ?? 0;
    if (from === replicas && semanticEqual(annotations, rs.metadata.annotations)) return rs;
    const written = await this.#client.update<ReplicaSet>(resourcePath(REPLICA_SETS, rs.metadata.namespace, rs.metadata.name), {
      ...rs,
      metadata: { ...rs.metadata, annotations },
      spec: { ...(rs.spec ?? {}), replicas },
    });
    if (from !== replicas) {
      this.#recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${from < replicas ? 'up' : 'down'} replica set ${rs.metadata.name} from ${from} to ${replicas}`);
    }
    if (r.newRS === rs) r.newRS = written;
    else r.oldRSs = r.oldRSs.map((x) => (x === rs ? written : x));
    return written;
  }

  // ---- strategies ----

  async #rolloutRolling(r: Rollout): Promise<void> {
    await this.#ensureNewReplicaSet(r, true, Date.now());
    const all = (): ReplicaSet[] => (r.newRS === undefined ? r.oldRSs : [...r.oldRSs, r.newRS]);

    // Grow (or shrink) the new ReplicaSet first.
    if (r.newRS !== undefined) {
      const want = replicasOf(r.d);
      const current = r.newRS.spec?.replicas ?? 0;
      const target = current > want ? want : newRSNewReplicas(r.d, all(), r.newRS);
      if (target !== current) {
        await this.#scaleReplicaSet(r, r.newRS, target);
        await this.#syncStatus(r, true);
        return;
      }
    }
    // Then shrink the old ones as far as availability allows.
    const downs = oldReplicaSetScaleDowns(r.d, all(), r.oldRSs, r.newRS);
    if (downs.size > 0) {
      for (const rs of [...r.oldRSs]) {
        const to = downs.get(rs.metadata.name ?? '');
        if (to !== undefined) await this.#scaleReplicaSet(r, rs, to);
      }
      await this.#syncStatus(r, true);
      return;
    }
    await this.#syncStatus(r, true);
  }

  async #rolloutRecreate(r: Rollout): Promise<void> {
    await this.#ensureNewReplicaSet(r, false, Date.now());
    // Old pods down first: two templates must never run side by side.
    const active = r.oldRSs.filter((rs) => (rs.spec?.replicas ?? 0) > 0);
    if (active.length > 0) {
      for (const rs of active) await this.#scaleReplicaSet(r, rs, 0);
      await this.#syncStatus(r, true);
      return;
    }
    if (r.oldRSs.some((rs) => (rs.status?.replicas ?? 0) > 0)) {
      // Their pods are still going away; the ReplicaSets' status updates bring us back.
      await this.#syncStatus(r, true);
      return;
    }
    if (r.newRS === undefined) await this.#ensureNewReplicaSet(r, true, Date.now());
    if (r.newRS !== undefined && (r.newRS.spec?.replicas ?? 0) !== replicasOf(r.d)) {
      await this.#scaleReplicaSet(r, r.newRS, replicasOf(r.d));
    }
    await this.#syncStatus(r, true);
  }

  // ---- status ----

  /** Computes and writes the status; `rollout` adds the Progressing bookkeeping and history cleanup. */
  async #syncStatus(r: Rollout, rollout: boolean): Promise<void> {
    const now = Date.now();
    const all = r.newRS === undefined ? r.oldRSs : [...r.oldRSs, r.newRS];
    const status = calculateStatus(r.d, all, r.newRS, r.status, now);
    let recheckMs: number | undefined;
    if (rollout) {
      recheckMs = setProgressingCondition(r.d, status, r.newRS, now);
      if (deploymentComplete(r.d, status)) await this.#cleanupHistory(r);
    }
    await this.#writeStatus(r.d, compactStatus(status));
    if (recheckMs !== undefined) this.#queue.addAfter(objectKey(r.d), recheckMs);
  }

  async #cleanupHistory(r: Rollout): Promise<void> {
    for (const rs of replicaSetsToCleanUp(r.d, r.oldRSs)) {
      try {
        await this.#client.delete(resourcePath(REPLICA_SETS, rs.metadata.namespace, rs.metadata.name), {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          preconditions: { uid: rs.metadata.uid, resourceVersion: rs.metadata.resourceVersion },
        });
      } catch (err) {
        // Gone already, or changed since we looked (it may be scaling up again): leave it.
        if (err instanceof ApiError && (err.code === 404 || err.code === 409)) continue;
        throw toError(err);
      }
    }
  }

  async #writeStatus(d: Deployment, status: DeploymentStatus): Promise<void> {
    if (semanticEqual(compactStatus(d.status ?? {}), status)) return;
    await this.#client.update(resourcePath(DEPLOYMENTS, d.metadata.namespace, d.metadata.name, 'status'), { ...d, status });
  }
}
