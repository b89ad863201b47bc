// The identity rules of a StatefulSet, free of I/O (upstream:
// pkg/controller/statefulset/stateful_set_utils.go): pod `<set>-<ordinal>`,
// claims `<template>-<set>-<ordinal>`, the labels and volumes that tie them
// together, who owns a claim under persistentVolumeClaimRetentionPolicy, the
// revision hash, and the status counts.

import type { KubeObject, OwnerReference } from '../../apimachinery/index.ts';
import { deepCopy } from '../../apimachinery/index.ts';
import { computeTemplateHash } from '../../api/apps/workload-helpers.ts';
import { newControllerRef } from '../../api/core/owner-references.ts';
import { isPodAvailable, isPodReady, isPodTerminated, type PodCondition } from '../../api/core/pod-helpers.ts';

export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
export const REVISION_LABEL = 'controller-revision-hash';

export interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  [source: string]: unknown;
}

export interface Pod extends KubeObject {
  spec?: { volumes?: Volume[]; hostname?: string; subdomain?: string; [field: string]: unknown };
  status?: { phase?: string; conditions?: PodCondition[] };
}

export interface ClaimTemplate {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

export interface RetentionPolicy {
  whenDeleted?: 'Retain' | 'Delete';
  whenScaled?: 'Retain' | 'Delete';
}

export interface StatefulSetStatus {
  observedGeneration?: number;
  replicas: number;
  readyReplicas?: number;
  currentReplicas?: number;
  updatedReplicas?: number;
  availableReplicas: number;
  currentRevision?: string;
  updateRevision?: string;
  collisionCount?: number;
}

export interface StatefulSet extends KubeObject {
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
    serviceName?: string;
    template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown> };
    volumeClaimTemplates?: ClaimTemplate[];
    podManagementPolicy?: 'OrderedReady' | 'Parallel';
    updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete' };
    persistentVolumeClaimRetentionPolicy?: RetentionPolicy;
    ordinals?: { start?: number };
    minReadySeconds?: number;
  };
  status?: StatefulSetStatus;
}

export const STATEFUL_SET_API_VERSION = 'apps/v1';
export const STATEFUL_SET_KIND = 'StatefulSet';

export const replicasOf = (set: StatefulSet): number => set.spec?.replicas ?? 1;
export const startOrdinal = (set: StatefulSet): number => set.spec?.ordinals?.start ?? 0;

/** `<set>-<ordinal>`. */
export function podName(set: StatefulSet, ordinal: number): string {
  return `${set.metadata.name}-${ordinal}`;
}

/** `<template>-<set>-<ordinal>`. */
export function claimName(set: StatefulSet, template: ClaimTemplate, ordinal: number): string {
  return `${template.metadata?.name}-${set.metadata.name}-${ordinal}`;
}

/** The parent name and ordinal a pod's name encodes; ordinal −1 when it encodes none. */
export function parentAndOrdinal(pod: KubeObject): { parent: string; ordinal: number } {
  const m = /^(.*)-([0-9]+)$/.exec(pod.metadata.name ?? '');
  if (m === null) return { parent: '', ordinal: -1 };
  const ordinal = Number(m[2]);
  return { parent: m[1], ordinal: Number.isSafeInteger(ordinal) && ordinal <= 0x7fffffff ? ordinal : -1 };
}

export function ordinalOf(pod: KubeObject): number {
  return parentAndOrdinal(pod).ordinal;
}

export function isMemberOf(set: StatefulSet, pod: KubeObject): boolean {
  return parentAndOrdinal(pod).parent === set.metadata.name;
}

/** Whether the pod's ordinal is one the set wants now: start … start + replicas − 1. */
export function podInOrdinalRange(pod: KubeObject, set: StatefulSet): boolean {
  const o = ordinalOf(pod);
  return o >= startOrdinal(set) && o < startOrdinal(set) + replicasOf(set);
}

// ---- revision hash ----

/**
 * The revision name upstream would give the ControllerRevision of the set's
 * current template: `<set>-<hash>`, the hash FNV-32a over the template (and
 * the collision count), spelled in the vowel-free alphabet. ControllerRevisions
 * are not served here, so the name is only computed, to label pods and fill
 * currentRevision/updateRevision.
 */
export function revisionName(set: StatefulSet): string {
  // Always hashed, absent as 0: the first status write sets collisionCount 0, and the revision must not change with it.
  return `${set.metadata.name}-${computeTemplateHash(set.spec?.template ?? {}, set.status?.collisionCount ?? 0)}`;
}

// ---- the pod and its claims ----

/** The claims the pod of `ordinal` needs, keyed by template (volume) name. */
export function claimsFor(set: StatefulSet, ordinal: number): Map<string, KubeObject> {
  const out = new Map<string, KubeObject>();
  const selectorLabels = set.spec?.selector?.matchLabels ?? {};
  for (const template of set.spec?.volumeClaimTemplates ?? []) {
    const volume = template.metadata?.name ?? '';
    const metadata: KubeObject['metadata'] = {
      name: claimName(set, template, ordinal),
      namespace: set.metadata.namespace,
      // The selector's labels on every claim, so tools can find a set's claims by its selector.
      labels: { ...(template.metadata?.labels ?? {}), ...selectorLabels },
    };
    if (template.metadata?.annotations !== undefined) metadata.annotations = { ...template.metadata.annotations };
    out.set(volume, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata, spec: deepCopy(template.spec ?? {}) });
  }
  return out;
}

/**
 * The pod of `ordinal`: the template, named `<set>-<ordinal>`, with the
 * identity labels, hostname/subdomain for the governing service, the revision
 * label, and a volume per claim template pointing at its claim (replacing a
 * template volume of the same name).
 */
export function newStatefulSetPod(set: StatefulSet, ordinal: number, revision: string): Pod {
  const template = set.spec?.template ?? {};
  const name = podName(set, ordinal);
  const labels = { ...(template.metadata?.labels ?? {}), [POD_NAME_LABEL]: name, [POD_INDEX_LABEL]: String(ordinal), [REVISION_LABEL]: revision };
  const spec = deepCopy(template.spec ?? {}) as NonNullable<Pod['spec']>;
  const claims = claimsFor(set, ordinal);
  const claimVolumes: Volume[] = [...claims].map(([volume, claim]) => ({ name: volume, persistentVolumeClaim: { claimName: claim.metadata.name ?? '' } }));
  spec.volumes = [...claimVolumes, ...(spec.volumes ?? []).filter((v) => !claims.has(v.name))];
  spec.hostname = name;
  if (set.spec?.serviceName !== undefined && set.spec.serviceName !== '') spec.subdomain = set.spec.serviceName;
  const metadata: Pod['metadata'] = {
    name,
    namespace: set.metadata.namespace,
    labels,
    ownerReferences: [newControllerRef(set, STATEFUL_SET_API_VERSION, STATEFUL_SET_KIND)],
  };
  if (template.metadata?.annotations !== undefined) metadata.annotations = { ...template.metadata.annotations };
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

// ---- pod state ----

export function isRunningAndReady(pod: Pod): boolean {
  return pod.status?.phase === 'Running' && isPodReady(pod);
}

export function isRunningAndAvailable(pod: Pod, minReadySeconds: number, nowMs: number): boolean {
  return isRunningAndReady(pod) && isPodAvailable(pod, minReadySeconds, nowMs);
}

export const isTerminating = (pod: Pod): boolean => pod.metadata.deletionTimestamp !== undefined;
export const isFinished = (pod: Pod): boolean => isPodTerminated(pod);
export const isHealthy = (pod: Pod): boolean => isRunningAndReady(pod) && !isTerminating(pod);

// ---- claim ownership under the retention policy ----

const POD_API_VERSION = 'v1';
const POD_KIND = 'Pod';

function refersTo(ref: OwnerReference, obj: KubeObject, apiVersion: string, kind: string): boolean {
  return ref.apiVersion === apiVersion && ref.kind === kind && ref.name === obj.metadata.name;
}

/**
 * The ownerReferences a claim should have (upstream
 * updateClaimOwnerRefForSetAndPod), or undefined when they are right already
 * or must not be touched:
 *   whenDeleted Delete → the set is the claim's controller (deleting the set
 *     deletes the claim, through the garbage collector);
 *   whenScaled Delete → once the pod's ordinal is out of range (it is being
 *     scaled away) the pod is the controller instead, so the claim goes with
 *     the pod;
 *   Retain → no reference from us.
 * A reference to an older set or pod of the same name (another UID), or a
 * controller that is neither, means someone else manages the claim: it is
 * left alone, except that our own references are removed under a
 * non-Retain policy.
 */
export function desiredClaimOwnerRefs(claim: KubeObject, set: StatefulSet, pod: KubeObject): OwnerReference[] | undefined {
  const policy = set.spec?.persistentVolumeClaimRetentionPolicy ?? {};
  const whenDeleted = policy.whenDeleted ?? 'Retain';
  const whenScaled = policy.whenScaled ?? 'Retain';
  const refs = claim.metadata.ownerReferences ?? [];
  const isSet = (r: OwnerReference): boolean => refersTo(r, set, STATEFUL_SET_API_VERSION, STATEFUL_SET_KIND);
  const isPod = (r: OwnerReference): boolean => refersTo(r, pod, POD_API_VERSION, POD_KIND);

  // A stale reference (same name, another UID): a previous incarnation still owns it.
  if (refs.some((r) => (isSet(r) && r.uid !== set.metadata.uid) || (isPod(r) && r.uid !== pod.metadata.uid))) return undefined;

  const ours = refs.filter((r) => isSet(r) || isPod(r));
  const others = refs.filter((r) => !isSet(r) && !isPod(r));
  const unexpectedController = !(whenDeleted === 'Retain' && whenScaled === 'Retain') && others.some((r) => r.controller === true);

  const wanted: OwnerReference[] = [];
  if (!unexpectedController) {
    const scaledDown = !podInOrdinalRange(pod, set);
    if (whenScaled === 'Delete' && scaledDown) wanted.push(newControllerRef(pod, POD_API_VERSION, POD_KIND));
    else if (whenDeleted === 'Delete') wanted.push(newControllerRef(set, STATEFUL_SET_API_VERSION, STATEFUL_SET_KIND));
  }
  const same =
    ours.length === wanted.length &&
    wanted.every((w) => ours.some((o) => o.uid === w.uid && o.controller === true && o.kind === w.kind));
  if (same) return undefined;
  if (unexpectedController && ours.length === 0) return undefined;
  return [...others, ...wanted];
}

// ---- status ----

/**
 * The status counts of the set's pods (upstream computes them in
 * updateStatefulSet): every pod counts in replicas; ready = Running and
 * Ready; current/updated by revision label, for pods that exist and are not
 * terminating. With RollingUpdate and every replica updated and ready, the
 * update revision becomes the current one.
 */
export function computeStatus(set: StatefulSet, pods: readonly Pod[], currentRevision: string, updateRevision: string, nowMs: number): StatefulSetStatus {
  let ready = 0;
  let available = 0;
  let current = 0;
  let updated = 0;
  const minReady = set.spec?.minReadySeconds ?? 0;
  for (const pod of pods) {
    if (isRunningAndReady(pod)) {
      ready++;
      if (isRunningAndAvailable(pod, minReady, nowMs)) available++;
    }
    if (!isTerminating(pod)) {
      const rev = pod.metadata.labels?.[REVISION_LABEL];
      if (rev === currentRevision) current++;
      if (rev === updateRevision) updated++;
    }
  }
  const status: StatefulSetStatus = {
    observedGeneration: set.metadata.generation,
    replicas: pods.length,
    readyReplicas: ready,
    currentReplicas: current,
    updatedReplicas: updated,
    availableReplicas: available,
    currentRevision,
    updateRevision,
    collisionCount: set.status?.collisionCount ?? 0,
  };
  const replicas = replicasOf(set);
  if ((set.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate' && updated === replicas && ready === replicas && pods.length === replicas) {
    status.currentReplicas = updated;
    status.currentRevision = updateRevision;
  }
  // omitempty on the Go fields that have it: readyReplicas, currentReplicas, updatedReplicas.
  for (const k of ['readyReplicas', 'currentReplicas', 'updatedReplicas'] as const) if (status[k] === 0) delete status[k];
  return status;
}
