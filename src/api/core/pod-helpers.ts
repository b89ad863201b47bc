// Questions about a pod's state that several controllers ask (upstream
// podutil and the pod helpers of controller_utils.go): is it finished, active,
// ready, available after minReadySeconds. They read only metadata and status,
// so each controller can keep its own narrow Pod type.

import type { KubeObject } from '../../apimachinery/index.ts';

export interface PodCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
}

/** The part of a pod these helpers read. */
export interface PodState extends Pick<KubeObject, 'metadata'> {
  status?: { phase?: string; conditions?: readonly PodCondition[] };
}

/** Succeeded or Failed: its containers are gone for good. */
export function isPodTerminated(pod: PodState): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Not finished (Succeeded/Failed) and not being deleted: a pod that counts as a replica. */
export function isPodActive(pod: PodState): boolean {
  return !isPodTerminated(pod) && pod.metadata.deletionTimestamp === undefined;
}

export function podReadyCondition(pod: PodState): PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

/** The pod's Ready condition is True. */
export function isPodReady(pod: PodState): boolean {
  return podReadyCondition(pod)?.status === 'True';
}

/** Ready for at least `minReadySeconds` at `nowMs` (a Ready condition without a transition time never is, unless minReadySeconds is 0). */
export function isPodAvailable(pod: PodState, minReadySeconds: number, nowMs: number): boolean {
  const c = podReadyCondition(pod);
  if (c?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = c.lastTransitionTime === undefined ? NaN : Date.parse(c.lastTransitionTime);
  return !Number.isNaN(since) && since + minReadySeconds * 1000 <= nowMs;
}
