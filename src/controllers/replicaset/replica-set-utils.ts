// The decisions of the ReplicaSet controller that need no API: which pods
// go first on a scale-down, what the status says, and how creations are
// batched (upstream: replica_set_utils.go and ActivePods of
// controller_utils.go). Whether a pod is active, ready or available is
// api/core/pod-helpers.ts's question, shared with the StatefulSet controller.

import type { KubeObject } from '../../apimachinery/index.ts';
import { formatTime } from '../../apimachinery/index.ts';
import { isPodAvailable, isPodReady, podReadyCondition as readyCondition, type PodCondition } from '../../api/core/pod-helpers.ts';

export interface Pod extends KubeObject {
  spec?: { nodeName?: string; [field: string]: unknown };
  status?: {
    phase?: string;
    conditions?: PodCondition[];
    containerStatuses?: { restartCount?: number }[];
  };
}

export interface ReplicaSetCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface ReplicaSetStatus {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: ReplicaSetCondition[];
}

export interface ReplicaSet extends KubeObject {
  spec?: {
    replicas?: number;
    minReadySeconds?: number;
    selector?: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
    template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: Record<string, unknown> };
  };
  status?: ReplicaSetStatus;
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function restarts(pod: Pod): number {
  return (pod.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
}

function time(s: string | undefined): number {
  const t = s === undefined ? NaN : Date.parse(s);
  return Number.isNaN(t) ? 0 : t;
}

/**
 * The order pods are given up in on a scale-down (upstream ActivePods.Less):
 * cheaper to lose first — unscheduled before scheduled, Pending before
 * Unknown before Running, not ready before ready, ready more recently before
 * ready longer, more restarts first, newer before older.
 */
export function comparePodsForDeletion(a: Pod, b: Pod): number {
  const aNode = a.spec?.nodeName ?? '';
  const bNode = b.spec?.nodeName ?? '';
  if ((aNode === '') !== (bNode === '')) return aNode === '' ? -1 : 1;
  const aPhase = PHASE_RANK[a.status?.phase ?? ''] ?? 0;
  const bPhase = PHASE_RANK[b.status?.phase ?? ''] ?? 0;
  if (aPhase !== bPhase) return aPhase - bPhase;
  const aReady = isPodReady(a);
  const bReady = isPodReady(b);
  if (aReady !== bReady) return aReady ? 1 : -1;
  if (aReady && bReady) {
    const aSince = time(readyCondition(a)?.lastTransitionTime);
    const bSince = time(readyCondition(b)?.lastTransitionTime);
    if (aSince !== bSince) return bSince - aSince;
  }
  const r = restarts(b) - restarts(a);
  if (r !== 0) return r;
  const created = time(b.metadata.creationTimestamp) - time(a.metadata.creationTimestamp);
  if (created !== 0) return created;
  return (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

/** The `count` pods to delete first. */
export function podsToDelete(pods: readonly Pod[], count: number): Pod[] {
  if (count <= 0) return [];
  return [...pods].sort(comparePodsForDeletion).slice(0, count);
}

/** Whether every label of the template is on the pod with the same value. */
function fullyLabeled(pod: Pod, templateLabels: Record<string, string>): boolean {
  const labels = pod.metadata.labels ?? {};
  return Object.entries(templateLabels).every(([k, v]) => labels[k] === v);
}

/**
 * The status for `rs` given its active pods. `manageError` (a failed create or
 * delete) sets the ReplicaFailure condition; success removes it.
 */
export function calculateStatus(rs: ReplicaSet, pods: readonly Pod[], nowMs: number, manageError?: { reason: string; message: string }): ReplicaSetStatus {
  const templateLabels = rs.spec?.template?.metadata?.labels ?? {};
  const minReady = rs.spec?.minReadySeconds ?? 0;
  let fully = 0;
  let ready = 0;
  let available = 0;
  for (const pod of pods) {
    if (fullyLabeled(pod, templateLabels)) fully++;
    if (isPodReady(pod)) {
      ready++;
      if (isPodAvailable(pod, minReady, nowMs)) available++;
    }
  }
  let conditions = (rs.status?.conditions ?? []).filter((c) => c.type !== 'ReplicaFailure');
  const oldFailure = rs.status?.conditions?.find((c) => c.type === 'ReplicaFailure');
  if (manageError !== undefined) {
    conditions = [
      ...conditions,
      {
        type: 'ReplicaFailure',
        status: 'True',
        lastTransitionTime: oldFailure?.status === 'True' ? oldFailure.lastTransitionTime : formatTime(new Date(nowMs)),
        reason: manageError.reason,
        message: manageError.message,
      },
    ];
  }
  // Zero counts are left out, as the Go types' omitempty does; `replicas` is always written.
  const status: ReplicaSetStatus = { replicas: pods.length };
  if (fully > 0) status.fullyLabeledReplicas = fully;
  if (ready > 0) status.readyReplicas = ready;
  if (available > 0) status.availableReplicas = available;
  if (rs.metadata.generation !== undefined) status.observedGeneration = rs.metadata.generation;
  if (conditions.length > 0) status.conditions = conditions;
  return status;
}

/**
 * Runs `fn` `count` times in batches of 1, 2, 4, … (upstream slowStartBatch):
 * a quota or admission failure costs one request rather than hundreds. Stops
 * after the first batch with a failure. Returns how many calls succeeded, how
 * many were made, and the first error.
 */
export async function slowStartBatch(
  count: number,
  initialBatch: number,
  fn: () => Promise<void>,
): Promise<{ successes: number; attempted: number; error?: Error }> {
  let remaining = count;
  let successes = 0;
  let attempted = 0;
  for (let batch = Math.min(remaining, initialBatch); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += results.filter((r) => r.status === 'fulfilled').length;
    remaining -= batch;
    attempted += batch;
    if (failed !== undefined) {
      return { successes, attempted, error: failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason)) };
    }
  }
  return { successes, attempted };
}
