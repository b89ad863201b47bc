// One pass of the StatefulSet algorithm over one set and the pods it owns
// (upstream: stateful_set_control.go and stateful_pod_control.go).
//
// The set wants the ordinals start … start + replicas − 1. Each pass:
//   1. Sorts its pods into replicas (ordinal in range) and condemned (out of
//      range, highest ordinal first), and counts the status.
//   2. Walks the replicas in ordinal order. A missing pod is created — its
//      claims first (`<template>-<set>-<ordinal>`, created when absent, never
//      while a previous incarnation's claim is still being deleted), then the
//      pod. A failed or succeeded pod is deleted to be created again. A pod
//      that exists gets any missing claims and its claims' owners put right
//      for the retention policy.
//      OrderedReady stops at the first pod it created, or that is not yet
//      Running and Ready, or is terminating: pod N+1 never exists before pod
//      N is ready. Parallel goes on to the next ordinal at once.
//   3. Condemned pods: first their claims get the owners the retention
//      policy wants for a scale-down (whenScaled Delete → the pod owns them),
//      then they are deleted from the highest ordinal down. OrderedReady
//      deletes one per pass, and only once every replica is Running and Ready
//      (a condemned pod that is itself unhealthy may go first); Parallel
//      deletes them all.
//   4. The status is written when it changed.
// Claims are never deleted here: a claim owned by a deleted set or pod is the
// garbage collector's.
//
// Updates of existing pods to a new template (RollingUpdate with partitions)
// are not done: without ControllerRevisions there is no older template to
// keep, so new pods get the current template and revision, and existing ones
// keep theirs until deleted (OnDelete behaviour).

import type { KubeObject } from '../../apimachinery/index.ts';
import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';
import { ApiError, resourcePath, resources, type EventRecorder, type Informer, type ResourceRef, type RestClient } from '../../client/index.ts';
import { semanticEqual } from '../../api/core/common.ts';
import {
  claimsFor,
  computeStatus,
  desiredClaimOwnerRefs,
  isFinished,
  isHealthy,
  isRunningAndReady,
  isTerminating,
  newStatefulSetPod,
  ordinalOf,
  replicasOf,
  revisionName,
  startOrdinal,
  type Pod,
  type StatefulSet,
  type StatefulSetStatus,
} from './stateful-set-utils.ts';

export const STATEFUL_SETS: ResourceRef = { group: 'apps', version: 'v1', resource: 'statefulsets', namespaced: true };
const PODS = resources.pods;
const CLAIMS = resources.persistentVolumeClaims;

/** A claim the pod needs is being deleted (or is a previous pod's, not yet gone); the pod must wait. */
export class ClaimNotReadyError extends Error {
  override readonly name = 'ClaimNotReadyError';
  readonly claim: string;
  constructor(claim: string, why: string) {
    super(`PersistentVolumeClaim ${claim} ${why}`);
    this.claim = claim;
  }
}

export interface StatefulSetControlOptions {
  client: RestClient;
  claims: Informer<KubeObject>;
  recorder: EventRecorder;
  logger: Logger;
}

export class StatefulSetControl {
  readonly #client: RestClient;
  readonly #claims: Informer<KubeObject>;
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;

  constructor(options: StatefulSetControlOptions) {
    this.#client = options.client;
    this.#claims = options.claims;
    this.#recorder = options.recorder;
    this.#logger = options.logger;
  }

  /** One pass over `set` and the pods it controls (see the file comment). */
  async updateStatefulSet(set: StatefulSet, pods: readonly Pod[]): Promise<void> {
    const updateRevision = revisionName(set);
    const currentRevision = set.status?.currentRevision || updateRevision;
    const status = computeStatus(set, pods, currentRevision, updateRevision, Date.now());
    try {
      if (set.metadata.deletionTimestamp === undefined) await this.#processPods(set, pods, updateRevision);
    } finally {
      // The status counts what was observed at the start; our own writes bring the key back.
      await this.#writeStatus(set, status);
    }
  }

  async #processPods(set: StatefulSet, pods: readonly Pod[], revision: string): Promise<void> {
    const monotonic = (set.spec?.podManagementPolicy ?? 'OrderedReady') !== 'Parallel';
    const start = startOrdinal(set);
    const replicaCount = replicasOf(set);
    const replicas: (Pod | undefined)[] = new Array(replicaCount).fill(undefined);
    const condemned: Pod[] = [];
    for (const pod of pods) {
      const ord = ordinalOf(pod);
      if (ord >= start && ord < start + replicaCount) replicas[ord - start] = pod;
      else if (ord >= 0) condemned.push(pod);
    }
    condemned.sort((a, b) => ordinalOf(b) - ordinalOf(a));

    // The first unhealthy pod, replicas first, then condemned from the top.
    const firstUnhealthy = [...replicas, ...condemned].find((p) => p !== undefined && !isHealthy(p));

    for (let i = 0; i < replicaCount; i++) {
      const ordinal = start + i;
      let pod = replicas[i];
      if (pod !== undefined && isFinished(pod)) {
        // Failed or done: it must run again, as a new pod with the same identity.
        await this.#deletePod(set, pod);
        if (monotonic) return;
        pod = undefined;
      }
      if (pod === undefined) {
        await this.#createPod(set, ordinal, revision);
        // OrderedReady: the next ordinal waits until this one is Running and Ready.
        if (monotonic) return;
        continue;
      }
      if (isTerminating(pod)) {
        if (monotonic) return;
        continue;
      }
      // It exists: its claims must too (one may have been deleted under it), with the right owners.
      await this.#ensureClaims(set, pod, ordinal);
      if (monotonic && !isRunningAndReady(pod)) return;
    }

    // Scale-down: ownership first, so a claim set to follow its pod is never left ownerless.
    for (const pod of condemned) await this.#fixClaimOwners(set, pod, ordinalOf(pod));
    for (const pod of condemned) {
      if (isTerminating(pod)) {
        if (monotonic) return;
        continue;
      }
      // An unhealthy pod may go ahead of order only if it is the first unhealthy one.
      if (monotonic && !isRunningAndReady(pod) && pod !== firstUnhealthy) return;
      await this.#deletePod(set, pod);
      if (monotonic) return;
    }
  }

  /** Creates the claims, then the pod of `ordinal`. False when it must wait for a claim. */
  async #createPod(set: StatefulSet, ordinal: number, revision: string): Promise<boolean> {
    const pod = newStatefulSetPod(set, ordinal, revision);
    try {
      await this.#ensureClaims(set, pod, ordinal);
    } catch (err) {
      if (err instanceof ClaimNotReadyError) {
        this.#logger.debug({ set: set.metadata.name, claim: err.claim }, 'waiting for a claim before creating the pod');
        return false;
      }
      throw err;
    }
    try {
      await this.#client.create(resourcePath(PODS, set.metadata.namespace), pod);
      this.#recordPod(set, 'Create', pod.metadata.name ?? '');
    } catch (err) {
      // Created by an earlier pass the cache has not shown yet.
      if (err instanceof ApiError && err.code === 409 && err.status?.reason === 'AlreadyExists') return true;
      this.#recordPod(set, 'Create', pod.metadata.name ?? '', toError(err));
      throw err;
    }
    return true;
  }

  /** Creates the pod's missing claims and puts the owners of existing ones right. */
  async #ensureClaims(set: StatefulSet, pod: Pod, ordinal: number): Promise<void> {
    const podName = pod.metadata.name ?? '';
    for (const claim of claimsFor(set, ordinal).values()) {
      const name = claim.metadata.name ?? '';
      let existing = this.#claims.get(`${set.metadata.namespace}/${name}`);
      if (existing === undefined) {
        // For a pod yet to be created (in range, no UID) this is the set's reference or none.
        const refs = desiredClaimOwnerRefs(claim, set, pod);
        if (refs !== undefined && refs.length > 0) claim.metadata.ownerReferences = refs;
        try {
          existing = await this.#client.create<KubeObject>(resourcePath(CLAIMS, set.metadata.namespace), claim);
          this.#recorder.event(set, 'Normal', 'SuccessfulCreate', `create Claim ${name} Pod ${podName} in StatefulSet ${set.metadata.name} success`);
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 409 && err.status?.reason === 'AlreadyExists')) {
            const e = toError(err);
            this.#recorder.event(set, 'Warning', 'FailedCreate', `create Claim ${name} for Pod ${podName} in StatefulSet ${set.metadata.name} failed error: ${e.message}`);
            throw e;
          }
          existing = await this.#client.get<KubeObject>(resourcePath(CLAIMS, set.metadata.namespace, name));
        }
      }
      if (existing.metadata.deletionTimestamp !== undefined) throw new ClaimNotReadyError(name, 'is being deleted');
      // A claim a previous incarnation of this pod owned (whenScaled Delete) is on its way out with it.
      const stale = existing.metadata.ownerReferences?.some((r) => r.kind === 'Pod' && r.name === podName && r.uid !== pod.metadata.uid);
      if (stale && pod.metadata.uid === undefined) throw new ClaimNotReadyError(name, 'still belongs to a previous pod of the same name');
      if (pod.metadata.uid !== undefined) await this.#updateClaimOwners(set, pod, existing);
    }
  }

  async #fixClaimOwners(set: StatefulSet, pod: Pod, ordinal: number): Promise<void> {
    for (const claim of claimsFor(set, ordinal).values()) {
      const existing = this.#claims.get(`${set.metadata.namespace}/${claim.metadata.name}`);
      if (existing !== undefined) await this.#updateClaimOwners(set, pod, existing);
    }
  }

  async #updateClaimOwners(set: StatefulSet, pod: Pod, claim: KubeObject): Promise<void> {
    const refs = desiredClaimOwnerRefs(claim, set, pod);
    if (refs === undefined) return;
    try {
      await this.#client.patch(resourcePath(CLAIMS, claim.metadata.namespace, claim.metadata.name), {
        metadata: { resourceVersion: claim.metadata.resourceVersion, ownerReferences: refs },
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return;
      throw err;
    }
  }

  async #deletePod(set: StatefulSet, pod: Pod): Promise<void> {
    try {
      await this.#client.delete(resourcePath(PODS, pod.metadata.namespace, pod.metadata.name), {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        preconditions: { uid: pod.metadata.uid },
      });
      this.#recordPod(set, 'Delete', pod.metadata.name ?? '');
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return;
      this.#recordPod(set, 'Delete', pod.metadata.name ?? '', toError(err));
      throw err;
    }
  }

  #recordPod(set: StatefulSet, verb: 'Create' | 'Delete', pod: string, err?: Error): void {
    const v = verb.toLowerCase();
    if (err === undefined) this.#recorder.event(set, 'Normal', `Successful${verb}`, `${v} Pod ${pod} in StatefulSet ${set.metadata.name} successful`);
    else this.#recorder.event(set, 'Warning', `Failed${verb}`, `${v} Pod ${pod} in StatefulSet ${set.metadata.name} failed error: ${err.message}`);
  }

  async #writeStatus(set: StatefulSet, status: StatefulSetStatus): Promise<void> {
    if (semanticEqual(set.status, status)) return;
    const path = resourcePath(STATEFUL_SETS, set.metadata.namespace, set.metadata.name, 'status');
    try {
      await this.#client.update(path, { ...set, status });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return;
      throw err;
    }
  }
}
