// The node filters of the scheduler that need nothing but the pod and the
// node (plus, for the volume ones, what the caller looked up): upstream's
// NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
// VolumeRestrictions (ReadWriteOncePod) and NodeVolumeLimits (CSI), each a
// pure function that returns undefined when the node fits, or a status with
// upstream's reason text, which the FitError message counts per node.
//
// The status code matters for the preemption half of the message: a node
// rejected with UnschedulableAndUnresolvable is one where evicting pods
// cannot help ("Preemption is not helpful for scheduling"); a plain
// Unschedulable node is one where it might ("No preemption victims found for
// incoming pod", since volplane never preempts).
//
// Node readiness is checked here too, the way Kubernetes does it: a node
// whose Ready condition is not True carries the `node.kubernetes.io/not-ready`
// (or, when Unknown, `node.kubernetes.io/unreachable`) NoSchedule taint,
// which a pod may tolerate. Kubernetes' node lifecycle controller writes
// those taints; volplane has none, so the filter derives them from the
// conditions and treats them like any other taint.

import { checkNodeAffinity, type NodeInfo } from '../api/core/volume-matching.ts';
import type { NodeSelectorTerm, PersistentVolumeClaim } from '../api/core/volume-types.ts';
import type { CSINode, Node, Pod, Taint, Toleration } from './types.ts';

export type StatusCode = 'Unschedulable' | 'UnschedulableAndUnresolvable';

/** Why one plugin rejected one node (or, from a pre-filter, the pod on every node). */
export interface FilterStatus {
  code: StatusCode;
  plugin: string;
  reasons: string[];
}

export const ERR_REASON_NODE_NAME = "node(s) didn't match the requested node name";
export const ERR_REASON_UNSCHEDULABLE = 'node(s) were unschedulable';
export const ERR_REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
export const ERR_REASON_RWOP_CONFLICT = 'node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode';
export const ERR_REASON_MAX_VOLUME_COUNT = 'node(s) exceed max volume count';

export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NODE_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';

function status(plugin: string, code: StatusCode, ...reasons: string[]): FilterStatus {
  return { plugin, code, reasons };
}

/** The name and labels of a node, as volume matching wants them. */
export function nodeInfoOf(node: Node): NodeInfo {
  const name = node.metadata.name ?? '';
  return { name, labels: node.metadata.labels ?? {} };
}

// ---------------------------------------------------------------------------
// NodeName, NodeUnschedulable

/** A pod that names a node fits only that node. */
export function filterNodeName(pod: Pod, node: Node): FilterStatus | undefined {
  const wanted = pod.spec.nodeName ?? '';
  if (wanted === '' || wanted === node.metadata.name) return undefined;
  return status('NodeName', 'UnschedulableAndUnresolvable', ERR_REASON_NODE_NAME);
}

/** A cordoned node takes only pods that tolerate its unschedulable taint. */
export function filterNodeUnschedulable(pod: Pod, node: Node): FilterStatus | undefined {
  if (node.spec?.unschedulable !== true) return undefined;
  const taint: Taint = { key: TAINT_NODE_UNSCHEDULABLE, effect: 'NoSchedule' };
  if (tolerationsTolerate(pod.spec.tolerations ?? [], taint)) return undefined;
  return status('NodeUnschedulable', 'UnschedulableAndUnresolvable', ERR_REASON_UNSCHEDULABLE);
}

// ---------------------------------------------------------------------------
// TaintToleration (with readiness)

/** Whether one toleration covers `taint` (an empty key with Exists covers every key). */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if ((t.effect ?? '') !== '' && t.effect !== taint.effect) return false;
  if ((t.key ?? '') !== '' && t.key !== taint.key) return false;
  switch (t.operator ?? 'Equal') {
    case '':
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

export function tolerationsTolerate(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => toleratesTaint(t, taint));
}

/**
 * The node's taints plus the readiness taint Kubernetes would have put on it:
 * not-ready when Ready is False or missing, unreachable when it is Unknown.
 */
export function effectiveTaints(node: Node): Taint[] {
  const taints = [...(node.spec?.taints ?? [])];
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  let key: string | undefined;
  if (ready === undefined || ready.status === 'False') key = TAINT_NODE_NOT_READY;
  else if (ready.status === 'Unknown') key = TAINT_NODE_UNREACHABLE;
  if (key !== undefined && !taints.some((t) => t.key === key && t.effect === 'NoSchedule')) {
    taints.push({ key, effect: 'NoSchedule' });
  }
  return taints;
}

/** The first NoSchedule/NoExecute taint no toleration covers. */
export function filterTaintToleration(pod: Pod, node: Node): FilterStatus | undefined {
  const tolerations = pod.spec.tolerations ?? [];
  for (const taint of effectiveTaints(node)) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (tolerationsTolerate(tolerations, taint)) continue;
    return status('TaintToleration', 'UnschedulableAndUnresolvable', `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// NodeAffinity

/** Whether `node` satisfies required node selector terms (ORed; an empty term matches nothing). */
export function matchesNodeSelectorTerms(terms: readonly NodeSelectorTerm[], node: NodeInfo): boolean {
  // The same rules as a PV's node affinity, which api/ already implements.
  return checkNodeAffinity({ metadata: {}, spec: { nodeAffinity: { required: { nodeSelectorTerms: [...terms] } } } }, node);
}

/** spec.nodeSelector (every label equal) and required node affinity. */
export function filterNodeAffinity(pod: Pod, node: Node): FilterStatus | undefined {
  const labels = node.metadata.labels ?? {};
  const selector = pod.spec.nodeSelector ?? {};
  const selectorOk = Object.entries(selector).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
  const required = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const affinityOk = required === undefined || matchesNodeSelectorTerms(required.nodeSelectorTerms ?? [], nodeInfoOf(node));
  if (selectorOk && affinityOk) return undefined;
  return status('NodeAffinity', 'UnschedulableAndUnresolvable', ERR_REASON_NODE_AFFINITY);
}

// ---------------------------------------------------------------------------
// VolumeRestrictions (ReadWriteOncePod)

/**
 * A ReadWriteOncePod claim may be used by one pod in the whole cluster. Like
 * upstream, the conflict is counted once for the pod and reported on every
 * node: `usedByOthers` says how many other scheduled (or assumed) pods use
 * one of the pod's RWOP claims.
 */
export function filterReadWriteOncePod(podClaims: readonly PersistentVolumeClaim[], usedByOthers: (claimKey: string) => number): FilterStatus | undefined {
  for (const pvc of podClaims) {
    if (!(pvc.spec.accessModes ?? []).includes('ReadWriteOncePod')) continue;
    if (usedByOthers(`${pvc.metadata.namespace ?? ''}/${pvc.metadata.name ?? ''}`) > 0) {
      return status('VolumeRestrictions', 'Unschedulable', ERR_REASON_RWOP_CONFLICT);
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// NodeVolumeLimits (CSI)

/** The CSI volumes of one pod: unique name (`driver/handle`) → driver. */
export type CsiVolumes = Map<string, string>;

/**
 * upstream's CSILimits: the pod's CSI volumes not yet attached to the node,
 * added to those the node's pods use, must stay within each driver's
 * `allocatable.count` in the node's CSINode. A driver without a count (or a
 * node without a CSINode) has no limit.
 */
export function filterCsiVolumeLimits(newVolumes: CsiVolumes, attached: CsiVolumes, csiNode: CSINode | undefined): FilterStatus | undefined {
  if (newVolumes.size === 0 || csiNode === undefined) return undefined;
  const limits = new Map<string, number>();
  for (const d of csiNode.spec.drivers ?? []) {
    const count = d.allocatable?.count;
    if (typeof count === 'number') limits.set(d.name, count);
  }
  const attachedPerDriver = new Map<string, number>();
  for (const driver of attached.values()) attachedPerDriver.set(driver, (attachedPerDriver.get(driver) ?? 0) + 1);
  const newPerDriver = new Map<string, number>();
  for (const [unique, driver] of newVolumes) {
    if (attached.has(unique)) continue;
    newPerDriver.set(driver, (newPerDriver.get(driver) ?? 0) + 1);
  }
  for (const [driver, count] of newPerDriver) {
    const limit = limits.get(driver);
    if (limit === undefined) continue;
    if ((attachedPerDriver.get(driver) ?? 0) + count > limit) return status('NodeVolumeLimits', 'Unschedulable', ERR_REASON_MAX_VOLUME_COUNT);
  }
  return undefined;
}
