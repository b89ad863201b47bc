// The arithmetic of a Deployment rollout, free of I/O (upstream:
// pkg/controller/deployment/util/deployment_util.go and the status parts of
// sync.go and progress.go): the pod-template hash that names a ReplicaSet,
// revisions, maxSurge/maxUnavailable, how far the new ReplicaSet may grow and
// the old ones shrink, and the status with its Available and Progressing
// conditions.

import type { KubeObject } from '../../apimachinery/index.ts';
import { formatTime } from '../../apimachinery/index.ts';
import { semanticEqual } from '../../api/core/common.ts';
import { computeTemplateHash } from '../../api/apps/workload-helpers.ts';

export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';

/** Deployment annotations that describe the Deployment itself and are not copied to its ReplicaSets. */
const NOT_COPIED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  'deprecated.deployment.rollback.to',
]);

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [field: string]: unknown };
  spec?: Record<string, unknown>;
}

export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface DeploymentCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: DeploymentCondition[];
  collisionCount?: number;
}

export interface Deployment extends KubeObject {
  spec?: {
    replicas?: number;
    selector?: LabelSelectorSpec;
    template?: PodTemplate;
    strategy?: { type?: 'RollingUpdate' | 'Recreate'; rollingUpdate?: { maxSurge?: number | string; maxUnavailable?: number | string } };
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
    progressDeadlineSeconds?: number;
    paused?: boolean;
  };
  status?: DeploymentStatus;
}

export interface ReplicaSet extends KubeObject {
  spec?: { replicas?: number; minReadySeconds?: number; selector?: LabelSelectorSpec; template?: PodTemplate };
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number; observedGeneration?: number };
}

export const replicasOf = (obj: Deployment | ReplicaSet): number => obj.spec?.replicas ?? 1;

// ---- the pod-template hash ----

/**
 * The `pod-template-hash` of a template (see computeTemplateHash; the
 * collision count is hashed only when set).
 */
export function computeHash(template: PodTemplate | undefined, collisionCount?: number): string {
  return computeTemplateHash(template ?? {}, collisionCount);
}

function withoutHash(template: PodTemplate | undefined): PodTemplate {
  const labels = { ...(template?.metadata?.labels ?? {}) };
  delete labels[POD_TEMPLATE_HASH_LABEL];
  return { ...(template ?? {}), metadata: { ...(template?.metadata ?? {}), labels } };
}

/** Whether two templates are the same apart from the pod-template-hash label. */
export function equalIgnoreHash(a: PodTemplate | undefined, b: PodTemplate | undefined): boolean {
  return semanticEqual(withoutHash(a), withoutHash(b));
}

/** The ReplicaSet running the Deployment's current template: the oldest one whose template matches. */
export function findNewReplicaSet(d: Deployment, rsList: readonly ReplicaSet[]): ReplicaSet | undefined {
  return sortByCreation(rsList).find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

export function sortByCreation<T extends KubeObject>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => {
    const ta = a.metadata.creationTimestamp ?? '';
    const tb = b.metadata.creationTimestamp ?? '';
    if (ta !== tb) return ta < tb ? -1 : 1;
    return (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
  });
}

// ---- revisions ----

export function revisionOf(obj: KubeObject): number {
  const v = Number(obj.metadata.annotations?.[REVISION_ANNOTATION]);
  return Number.isInteger(v) && v > 0 ? v : 0;
}

export function maxRevision(list: readonly KubeObject[]): number {
  return list.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

/** The annotations a new ReplicaSet starts with: the Deployment's own, and the rollout bookkeeping. */
export function newReplicaSetAnnotations(d: Deployment, revision: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (!NOT_COPIED.has(k)) out[k] = v;
  out[REVISION_ANNOTATION] = String(revision);
  out[DESIRED_REPLICAS_ANNOTATION] = String(replicasOf(d));
  out[MAX_REPLICAS_ANNOTATION] = String(replicasOf(d) + resolveFenceposts(d).maxSurge);
  return out;
}

// ---- maxSurge / maxUnavailable ----

/** An int-or-percent against `total`: percentages round up for surge, down for unavailability. */
export function scaledValue(value: number | string | undefined, total: number, roundUp: boolean, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return value;
  const m = /^(\d+)%$/.exec(value);
  if (m === null) return fallback;
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/**
 * maxSurge and maxUnavailable in pods. Both zero would mean no progress, so
 * unavailability becomes 1 then (upstream ResolveFenceposts). Recreate has
 * neither.
 */
export function resolveFenceposts(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  if (d.spec?.strategy?.type === 'Recreate') return { maxSurge: 0, maxUnavailable: 0 };
  const rolling = d.spec?.strategy?.rollingUpdate;
  const replicas = replicasOf(d);
  const maxSurge = scaledValue(rolling?.maxSurge, replicas, true, Math.ceil(replicas / 4));
  let maxUnavailable = scaledValue(rolling?.maxUnavailable, replicas, false, Math.floor(replicas / 4));
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

/** How many pods may be unavailable during the rollout (never more than the replicas). */
export function maxUnavailable(d: Deployment): number {
  const replicas = replicasOf(d);
  if (d.spec?.strategy?.type === 'Recreate' || replicas === 0) return 0;
  return Math.min(resolveFenceposts(d).maxUnavailable, replicas);
}

const sum = (list: readonly ReplicaSet[], f: (rs: ReplicaSet) => number): number => list.reduce((n, rs) => n + f(rs), 0);
const specReplicas = (rs: ReplicaSet): number => rs.spec?.replicas ?? 0;

/**
 * The size the new ReplicaSet may grow to now. Rolling: up to the Deployment's
 * replicas, while all ReplicaSets together stay within replicas + maxSurge.
 * Recreate: the replicas at once (the old ones are gone by then).
 */
export function newRSNewReplicas(d: Deployment, allRSs: readonly ReplicaSet[], newRS: ReplicaSet | undefined): number {
  const replicas = replicasOf(d);
  const current = newRS === undefined ? 0 : specReplicas(newRS);
  if (d.spec?.strategy?.type === 'Recreate') return replicas;
  const maxTotal = replicas + resolveFenceposts(d).maxSurge;
  const total = sum(allRSs, specReplicas);
  if (total >= maxTotal) return current;
  const scaleUp = Math.min(maxTotal - total, replicas - current);
  return current + Math.max(0, scaleUp);
}

/**
 * The scale-downs of old ReplicaSets a rolling update may make now, oldest
 * first: first pods that are not available (they serve nobody), then
 * available ones while at least replicas − maxUnavailable stay available. The
 * new ReplicaSet's unavailable pods count against the budget, so a rollout
 * whose new pods never become ready stops shrinking the old ones.
 */
export function oldReplicaSetScaleDowns(d: Deployment, allRSs: readonly ReplicaSet[], oldRSs: readonly ReplicaSet[], newRS: ReplicaSet | undefined): Map<string, number> {
  const out = new Map<string, number>();
  const active = sortByCreation(oldRSs.filter((rs) => specReplicas(rs) > 0));
  if (active.length === 0) return out;
  const minAvailable = replicasOf(d) - maxUnavailable(d);
  const newUnavailable = newRS === undefined ? 0 : Math.max(0, specReplicas(newRS) - (newRS.status?.availableReplicas ?? 0));
  const maxScaledDown = sum(allRSs, specReplicas) - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return out;
  const target = new Map(active.map((rs) => [rs.metadata.name ?? '', specReplicas(rs)]));

  // Unavailable old pods first.
  let cleaned = 0;
  for (const rs of active) {
    if (cleaned >= maxScaledDown) break;
    const unhealthy = specReplicas(rs) - (rs.status?.availableReplicas ?? 0);
    if (unhealthy <= 0) continue;
    const n = Math.min(maxScaledDown - cleaned, unhealthy);
    target.set(rs.metadata.name ?? '', specReplicas(rs) - n);
    cleaned += n;
  }

  // Then available ones, keeping minAvailable.
  const available = sum(allRSs, (rs) => rs.status?.availableReplicas ?? 0);
  let budget = Math.min(available - minAvailable, maxScaledDown - cleaned);
  for (const rs of active) {
    if (budget <= 0) break;
    const name = rs.metadata.name ?? '';
    const current = target.get(name) ?? 0;
    const n = Math.min(current, budget);
    target.set(name, current - n);
    budget -= n;
  }
  for (const rs of active) {
    const name = rs.metadata.name ?? '';
    if (target.get(name) !== specReplicas(rs)) out.set(name, target.get(name) ?? 0);
  }
  return out;
}

/**
 * Old ReplicaSets to delete beyond revisionHistoryLimit: scaled to zero with
 * no pods left, oldest revision first.
 */
export function replicaSetsToCleanUp(d: Deployment, oldRSs: readonly ReplicaSet[]): ReplicaSet[] {
  const limit = d.spec?.revisionHistoryLimit ?? 10;
  const live = oldRSs.filter((rs) => rs.metadata.deletionTimestamp === undefined);
  let diff = live.length - limit;
  if (diff <= 0) return [];
  const out: ReplicaSet[] = [];
  const byRevision = [...live].sort((a, b) => revisionOf(a) - revisionOf(b) || (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
  for (const rs of byRevision) {
    if (diff <= 0) break;
    if (specReplicas(rs) !== 0 || (rs.status?.replicas ?? 0) !== 0) continue;
    out.push(rs);
    diff--;
  }
  return out;
}

// ---- status and conditions ----

export function getCondition(status: DeploymentStatus | undefined, type: string): DeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function newCondition(type: string, status: DeploymentCondition['status'], reason: string, message: string, nowMs: number): DeploymentCondition {
  const t = formatTime(new Date(nowMs));
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/**
 * Puts `cond` into `status` (mutating it). Same status and reason → no change
 * at all; same status → the transition time is kept. The condition moves to
 * the end of the list, as upstream's SetDeploymentCondition does.
 */
export function setCondition(status: DeploymentStatus, cond: DeploymentCondition): void {
  const current = getCondition(status, cond.type);
  if (current !== undefined && current.status === cond.status && current.reason === cond.reason) return;
  const next = { ...cond };
  if (current !== undefined && current.status === cond.status) next.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== cond.type), next];
}

/**
 * The counts of the status from the ReplicaSets, with the Available
 * condition; conditions already in `base` (e.g. Progressing) are kept.
 */
export function calculateStatus(d: Deployment, allRSs: readonly ReplicaSet[], newRS: ReplicaSet | undefined, base: DeploymentStatus | undefined, nowMs: number): DeploymentStatus {
  const available = sum(allRSs, (rs) => rs.status?.availableReplicas ?? 0);
  const total = sum(allRSs, specReplicas);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata.generation,
    replicas: sum(allRSs, (rs) => rs.status?.replicas ?? 0),
    updatedReplicas: newRS?.status?.replicas ?? 0,
    readyReplicas: sum(allRSs, (rs) => rs.status?.readyReplicas ?? 0),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
    conditions: [...(base?.conditions ?? []).map((c) => ({ ...c }))],
    collisionCount: base?.collisionCount,
  };
  if (available >= replicasOf(d) - maxUnavailable(d)) {
    setCondition(status, newCondition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', nowMs));
  } else {
    setCondition(status, newCondition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', nowMs));
  }
  return status;
}

/** Every replica updated, available, and nothing else left; for the generation asked for. */
export function deploymentComplete(d: Deployment, status: DeploymentStatus): boolean {
  const replicas = replicasOf(d);
  return (
    (status.updatedReplicas ?? 0) === replicas &&
    (status.replicas ?? 0) === replicas &&
    (status.availableReplicas ?? 0) === replicas &&
    (status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
  );
}

/** Something moved since the last status: more updated, ready or available pods, or fewer old ones. */
export function deploymentProgressing(old: DeploymentStatus | undefined, next: DeploymentStatus): boolean {
  const o = old ?? {};
  const oldOld = (o.replicas ?? 0) - (o.updatedReplicas ?? 0);
  const newOld = (next.replicas ?? 0) - (next.updatedReplicas ?? 0);
  return (
    (next.updatedReplicas ?? 0) > (o.updatedReplicas ?? 0) ||
    (next.readyReplicas ?? 0) > (o.readyReplicas ?? 0) ||
    (next.availableReplicas ?? 0) > (o.availableReplicas ?? 0) ||
    newOld < oldOld
  );
}

/**
 * Sets the Progressing condition of `next` (upstream syncRolloutStatus):
 * complete → NewReplicaSetAvailable; moved → ReplicaSetUpdated (the
 * transition time kept while it stays True); no progress for
 * progressDeadlineSeconds → False, ProgressDeadlineExceeded. Returns how long
 * until the deadline would pass (for a requeue), or undefined.
 */
export function setProgressingCondition(d: Deployment, next: DeploymentStatus, newRS: ReplicaSet | undefined, nowMs: number): number | undefined {
  const deadline = d.spec?.progressDeadlineSeconds;
  if (deadline === undefined) return undefined;
  const current = getCondition(next, 'Progressing');
  const rsName = newRS?.metadata.name;
  if ((next.replicas ?? 0) === (next.updatedReplicas ?? 0) && current?.reason === 'NewReplicaSetAvailable') return undefined;
  if (deploymentComplete(d, next)) {
    const msg = rsName === undefined ? 'Deployment has successfully progressed.' : `ReplicaSet "${rsName}" has successfully progressed.`;
    setCondition(next, newCondition('Progressing', 'True', 'NewReplicaSetAvailable', msg, nowMs));
    return undefined;
  }
  if (deploymentProgressing(d.status, next)) {
    const msg = rsName === undefined ? 'Deployment is progressing.' : `ReplicaSet "${rsName}" is progressing.`;
    const cond = newCondition('Progressing', 'True', 'ReplicaSetUpdated', msg, nowMs);
    // Progress refreshes lastUpdateTime even when the reason is the same, so the deadline restarts.
    if (current?.status === 'True') cond.lastTransitionTime = current.lastTransitionTime;
    next.conditions = [...(next.conditions ?? []).filter((c) => c.type !== 'Progressing'), cond];
    return deadline * 1000 + 1000;
  }
  if (current !== undefined && current.reason !== 'ProgressDeadlineExceeded') {
    const from = Date.parse(current.lastUpdateTime ?? '');
    if (!Number.isNaN(from)) {
      const left = from + deadline * 1000 - nowMs;
      if (left < 0) {
        const msg = rsName === undefined ? 'Deployment has timed out progressing.' : `ReplicaSet "${rsName}" has timed out progressing.`;
        setCondition(next, newCondition('Progressing', 'False', 'ProgressDeadlineExceeded', msg, nowMs));
        return undefined;
      }
      return left + 1000;
    }
  }
  return undefined;
}

/** The status as written: zero counts left out, as the Go types' omitempty does. */
export function compactStatus(status: DeploymentStatus): DeploymentStatus {
  const out: DeploymentStatus = {};
  for (const [k, v] of Object.entries(status) as [keyof DeploymentStatus, unknown][]) {
    if (v === undefined || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}
