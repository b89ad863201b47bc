// The scheduler's volume binding — upstream's VolumeBinding plugin and its
// SchedulerVolumeBinder, as decisions over looked-up objects (no I/O here;
// scheduler.ts does the writes and the waiting).
//
// PreFilter (getPodVolumeClaims): every claim of the pod must exist (a
// generic ephemeral volume's claim is `<pod>-<volume>` and must be owned by
// the pod), must not be Lost or being deleted. Fully bound claims (volumeName
// + bind-completed) are checked per node; unbound claims of a
// WaitForFirstConsumer class without a volumeName are the scheduler's to
// bind; any other unbound claim is the PV controller's, and the pod waits for
// it ("pod has unbound immediate PersistentVolumeClaims").
//
// Filter (findPodVolumes), per node: a bound claim's PV must allow the node
// by its node affinity; each delayed claim, smallest request first, gets an
// Available PV that fits and allows the node (a static binding, never the same
// PV twice for one pod), or else must be provisionable there — a class with a
// real provisioner whose allowedTopologies (if any) admit the node's labels.
// A claim that already carries a selected node fits only that node.
//
// PreBind (scheduler.ts) writes the static bindings into the PVs' claimRef
// and the selected node into the claims to provision, then waits until
// checkBindings says every claim is bound, or that the attempt failed.

import type { NodeInfo } from '../api/core/volume-matching.ts';
import { checkNodeAffinity, claimClass, claimRequest, findMatchingVolume, type VolumeIndex } from '../api/core/volume-matching.ts';
import type { ObjectReference, PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/core/volume-types.ts';
import { ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, NO_PROVISIONER } from '../api/core/volume-types.ts';
import { deepCopy } from '../apimachinery/index.ts';
import type { CsiVolumes, FilterStatus } from './filters.ts';
import type { Pod } from './types.ts';

export const ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind";
export const ERR_REASON_NODE_CONFLICT = 'node(s) had volume node affinity conflict';
export const ERR_REASON_PV_NOT_EXIST = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';
export const ERR_REASON_UNBOUND_IMMEDIATE = 'pod has unbound immediate PersistentVolumeClaims';

/** What volume binding reads; the scheduler backs it with its informers. */
export interface VolumeLookup {
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  storageClass(name: string): StorageClass | undefined;
  /** Every PV, the available ones indexed (the scheduler keeps its reservations in it). */
  volumes: VolumeIndex;
}

/** One claim a pod uses: by a persistentVolumeClaim volume, or a generic ephemeral volume. */
export interface PodClaimRef {
  volume: string;
  claimName: string;
  ephemeral: boolean;
}

export function podClaimRefs(pod: Pod): PodClaimRef[] {
  const out: PodClaimRef[] = [];
  for (const v of pod.spec.volumes ?? []) {
    if (v.persistentVolumeClaim !== undefined) out.push({ volume: v.name, claimName: v.persistentVolumeClaim.claimName, ephemeral: false });
    else if (v.ephemeral !== undefined) out.push({ volume: v.name, claimName: `${pod.metadata.name ?? ''}-${v.name}`, ephemeral: true });
  }
  return out;
}

/** A claim is fully bound when the PV controller finished both halves of the bind. */
export function isClaimFullyBound(pvc: PersistentVolumeClaim): boolean {
  return (pvc.spec.volumeName ?? '') !== '' && Object.hasOwn(pvc.metadata.annotations ?? {}, ANN_BIND_COMPLETED);
}

export function isDelayBindingClaim(pvc: PersistentVolumeClaim, lookup: Pick<VolumeLookup, 'storageClass'>): boolean {
  const name = claimClass(pvc);
  if (name === '') return false;
  // A class that does not exist (yet) binds immediately, as upstream's IsDelayBindingMode.
  return lookup.storageClass(name)?.volumeBindingMode === 'WaitForFirstConsumer';
}

export interface PodVolumeClaims {
  /** Fully bound claims: their PVs' node affinity decides. */
  bound: PersistentVolumeClaim[];
  /** Unbound WaitForFirstConsumer claims: the scheduler chooses for them. */
  delayed: PersistentVolumeClaim[];
  /** Every claim of the pod, for the ReadWriteOncePod check. */
  all: PersistentVolumeClaim[];
}

const unresolvable = (plugin: string, reason: string): FilterStatus => ({ plugin, code: 'UnschedulableAndUnresolvable', reasons: [reason] });

/** PreFilter: the pod's claims sorted into bound and delayed, or why the pod cannot be scheduled anywhere. */
export function getPodVolumeClaims(pod: Pod, lookup: VolumeLookup): { claims: PodVolumeClaims } | { status: FilterStatus } {
  const ns = pod.metadata.namespace ?? '';
  const claims: PodVolumeClaims = { bound: [], delayed: [], all: [] };
  let unboundImmediate = false;
  for (const ref of podClaimRefs(pod)) {
    const pvc = lookup.claim(ns, ref.claimName);
    if (pvc === undefined) {
      return {
        status: unresolvable(
          'VolumeBinding',
          ref.ephemeral
            ? `waiting for ephemeral volume controller to create the persistentvolumeclaim "${ref.claimName}"`
            : `persistentvolumeclaim "${ref.claimName}" not found`,
        ),
      };
    }
    if (pvc.status?.phase === 'Lost') {
      return { status: unresolvable('VolumeBinding', `persistentvolumeclaim "${ref.claimName}" bound to non-existent persistentvolume "${pvc.spec.volumeName ?? ''}"`) };
    }
    if (pvc.metadata.deletionTimestamp !== undefined) {
      return { status: unresolvable('VolumeBinding', `persistentvolumeclaim "${ref.claimName}" is being deleted`) };
    }
    if (ref.ephemeral) {
      const owner = pvc.metadata.ownerReferences?.find((o) => o.controller === true);
      if (owner === undefined || owner.uid !== pod.metadata.uid) {
        return {
          status: unresolvable('VolumeBinding', `PVC ${ns}/${ref.claimName} was not created for pod ${ns}/${pod.metadata.name ?? ''} (pod is not owner)`),
        };
      }
    }
    claims.all.push(pvc);
    if (isClaimFullyBound(pvc)) claims.bound.push(pvc);
    else if (isDelayBindingClaim(pvc, lookup) && (pvc.spec.volumeName ?? '') === '') claims.delayed.push(pvc);
    else unboundImmediate = true;
  }
  if (unboundImmediate) return { status: unresolvable('VolumeBinding', ERR_REASON_UNBOUND_IMMEDIATE) };
  return { claims };
}

/** A PV chosen for a claim on one node. */
export interface StaticBinding {
  pv: PersistentVolume;
  pvc: PersistentVolumeClaim;
}

/** What PreBind must do for the pod on one node. */
export interface PodVolumes {
  staticBindings: StaticBinding[];
  dynamicProvisions: PersistentVolumeClaim[];
}

/** allowedTopologies: no terms admit every node; otherwise one term's expressions must all hold. */
export function matchTopology(klass: StorageClass, labels: Record<string, string>): boolean {
  const terms = klass.allowedTopologies ?? [];
  if (terms.length === 0) return true;
  return terms.some((term) => {
    const exprs = term.matchLabelExpressions ?? [];
    if (exprs.length === 0) return false;
    return exprs.every((e) => Object.hasOwn(labels, e.key) && e.values.includes(labels[e.key]!));
  });
}

/** Whether the class's provisioner can make a volume reachable from `node`. */
export function canProvisionOn(klass: StorageClass | undefined, node: NodeInfo): boolean {
  if (klass === undefined) return false;
  if (klass.provisioner === '' || klass.provisioner === NO_PROVISIONER) return false;
  return matchTopology(klass, node.labels);
}

/** Filter: the node's fit for the pod's volumes; `reasons` empty means it fits. */
export function findPodVolumes(claims: PodVolumeClaims, node: NodeInfo, lookup: VolumeLookup): { podVolumes: PodVolumes; reasons: string[] } {
  const podVolumes: PodVolumes = { staticBindings: [], dynamicProvisions: [] };
  let boundSatisfied = true;
  let boundPVsFound = true;
  let unboundSatisfied = true;

  for (const pvc of claims.bound) {
    const pv = lookup.volumes.get(pvc.spec.volumeName ?? '');
    if (pv === undefined) {
      boundPVsFound = false;
      break;
    }
    if (!checkNodeAffinity(pv, node)) {
      boundSatisfied = false;
      break;
    }
  }

  const toMatch: PersistentVolumeClaim[] = [];
  const toProvision: PersistentVolumeClaim[] = [];
  for (const pvc of claims.delayed) {
    const selected = pvc.metadata.annotations?.[ANN_SELECTED_NODE];
    if (selected === undefined) toMatch.push(pvc);
    else if (selected === node.name) toProvision.push(pvc);
    else unboundSatisfied = false;
  }

  if (unboundSatisfied) {
    // Smallest request first, so small claims do not take the large volumes.
    toMatch.sort((a, b) => {
      const x = claimRequest(a);
      const y = claimRequest(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    const chosen = new Set<string>();
    for (const pvc of toMatch) {
      let pv = lookup.volumes.findBestMatchForClaim(pvc, { delayBinding: true, node });
      if (pv !== undefined && chosen.has(pv.metadata.name ?? '')) {
        // The index's best is taken by another claim of this pod: scan the rest.
        pv = findMatchingVolume(pvc, lookup.volumes.list().filter((v) => !chosen.has(v.metadata.name ?? '')), { delayBinding: true, node });
      }
      if (pv === undefined) {
        toProvision.push(pvc);
        continue;
      }
      chosen.add(pv.metadata.name ?? '');
      podVolumes.staticBindings.push({ pv, pvc });
    }
    for (const pvc of toProvision) {
      if (!canProvisionOn(lookup.storageClass(claimClass(pvc)), node)) {
        unboundSatisfied = false;
        break;
      }
      podVolumes.dynamicProvisions.push(pvc);
    }
  }

  const reasons: string[] = [];
  if (!boundSatisfied) reasons.push(ERR_REASON_NODE_CONFLICT);
  if (!unboundSatisfied) reasons.push(ERR_REASON_BIND_CONFLICT);
  if (!boundPVsFound) reasons.push(ERR_REASON_PV_NOT_EXIST);
  return { podVolumes, reasons };
}

// ---------------------------------------------------------------------------
// PreBind: the objects to write, and how to tell that the PV controller is done

/** The claimRef the scheduler writes into a PV it reserves for `pvc`. */
export function claimReference(pvc: PersistentVolumeClaim): ObjectReference {
  return {
    kind: 'PersistentVolumeClaim',
    namespace: pvc.metadata.namespace ?? '',
    name: pvc.metadata.name ?? '',
    uid: pvc.metadata.uid ?? '',
    apiVersion: 'v1',
    resourceVersion: pvc.metadata.resourceVersion ?? '',
  };
}

/** upstream's GetBindVolumeToClaim: the PV pre-bound to the claim, or undefined when it already is. */
export function volumeReservedFor(pv: PersistentVolume, pvc: PersistentVolumeClaim): PersistentVolume | undefined {
  const ref = pv.spec.claimRef;
  if (ref?.uid === pvc.metadata.uid && ref?.name === pvc.metadata.name && ref?.namespace === pvc.metadata.namespace) return undefined;
  const next = deepCopy(pv);
  next.spec.claimRef = claimReference(pvc);
  next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [ANN_BOUND_BY_CONTROLLER]: 'yes' };
  return next;
}

/** The claim with the selected node set, or undefined when it already is. */
export function claimWithSelectedNode(pvc: PersistentVolumeClaim, node: string): PersistentVolumeClaim | undefined {
  if (pvc.metadata.annotations?.[ANN_SELECTED_NODE] === node) return undefined;
  const next = deepCopy(pvc);
  next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [ANN_SELECTED_NODE]: node };
  return next;
}

/** The binding attempt cannot succeed; the pod is scheduled again. */
export class VolumeBindingError extends Error {
  override readonly name = 'VolumeBindingError';
  readonly pod: string;
  constructor(pod: string, message: string) {
    super(message);
    this.pod = pod;
  }
}

/** What checkBindings reads: the latest objects the scheduler's informers hold. */
export interface BindingLookup {
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  volume(name: string): PersistentVolume | undefined;
  podExists(): boolean;
}

/** Numeric resourceVersions compare as numbers; anything else is "not older". */
export function isOlderVersion(rv: string | undefined, than: string | undefined): boolean {
  if (rv === undefined || than === undefined || !/^\d+$/.test(rv) || !/^\d+$/.test(than)) return false;
  return rv.length !== than.length ? rv.length < than.length : rv < than;
}

/**
 * upstream's checkBindings: true when every claim the pod's binding touched
 * is fully bound (by the PV controller), false to keep waiting; throws
 * VolumeBindingError when the attempt has failed (the pod is gone, a PV lost
 * the reservation, a provisioner gave the claim back by clearing the
 * selected node, or the volume does not fit the node). `written` are the
 * objects the scheduler wrote: older informer copies are not judged yet.
 */
export function checkBindings(podKey: string, node: NodeInfo, podVolumes: PodVolumes, lookup: BindingLookup): boolean {
  if (!lookup.podExists()) throw new VolumeBindingError(podKey, 'pod does not exist any more');
  let done = true;
  for (const { pv: written, pvc: claim } of podVolumes.staticBindings) {
    const name = written.metadata.name ?? '';
    const pv = lookup.volume(name);
    const pvc = lookup.claim(claim.metadata.namespace ?? '', claim.metadata.name ?? '');
    if (pv === undefined) throw new VolumeBindingError(podKey, `failed to check binding: persistentvolume "${name}" not found`);
    if (pvc === undefined) throw new VolumeBindingError(podKey, `failed to check binding: persistentvolumeclaim "${claim.metadata.name ?? ''}" not found`);
    if (isOlderVersion(pv.metadata.resourceVersion, written.metadata.resourceVersion)) {
      done = false;
      continue;
    }
    if (!checkNodeAffinity(pv, node)) throw new VolumeBindingError(podKey, `pv "${name}" node affinity doesn't match node "${node.name}"`);
    const ref = pv.spec.claimRef;
    if (ref === undefined || ref === null || (ref.uid ?? '') === '') throw new VolumeBindingError(podKey, `ClaimRef got reset for pv "${name}"`);
    if (!isClaimFullyBound(pvc)) done = false;
  }
  for (const written of podVolumes.dynamicProvisions) {
    const pvc = lookup.claim(written.metadata.namespace ?? '', written.metadata.name ?? '');
    if (pvc === undefined) throw new VolumeBindingError(podKey, `failed to check provisioning pvc: persistentvolumeclaim "${written.metadata.name ?? ''}" not found`);
    if (isOlderVersion(pvc.metadata.resourceVersion, written.metadata.resourceVersion)) {
      done = false;
      continue;
    }
    if (pvc.metadata.annotations?.[ANN_SELECTED_NODE] !== node.name) {
      throw new VolumeBindingError(podKey, `provisioning failed for PVC "${pvc.metadata.name ?? ''}"`);
    }
    const volumeName = pvc.spec.volumeName ?? '';
    if (volumeName !== '') {
      const pv = lookup.volume(volumeName);
      // Not seen yet: the informer is behind; the next event brings it.
      if (pv === undefined) {
        done = false;
        continue;
      }
      if (!checkNodeAffinity(pv, node)) throw new VolumeBindingError(podKey, `pv "${volumeName}" node affinity doesn't match node "${node.name}"`);
    }
    if (!isClaimFullyBound(pvc)) done = false;
  }
  return done;
}

// ---------------------------------------------------------------------------
// CSI volumes, for NodeVolumeLimits

/**
 * The CSI volumes a pod uses through its claims: a bound claim's PV with a
 * `csi` source counts as `driver/volumeHandle`; an unbound claim of a class
 * counts as a volume of the class's provisioner (upstream's placeholder
 * `<namespace>-<claim>` handle), since it will be one once provisioned.
 */
export function podCsiVolumes(pod: Pod, lookup: VolumeLookup): CsiVolumes {
  const out: CsiVolumes = new Map();
  const ns = pod.metadata.namespace ?? '';
  for (const ref of podClaimRefs(pod)) {
    const pvc = lookup.claim(ns, ref.claimName);
    if (pvc === undefined) continue;
    const volumeName = pvc.spec.volumeName ?? '';
    if (volumeName !== '') {
      const csi = lookup.volumes.get(volumeName)?.spec.csi;
      if (csi !== undefined) out.set(`${csi.driver}/${csi.volumeHandle}`, csi.driver);
      continue;
    }
    const klass = lookup.storageClass(claimClass(pvc));
    if (klass === undefined || klass.provisioner === '' || klass.provisioner === NO_PROVISIONER) continue;
    out.set(`${klass.provisioner}/${ns}-${ref.claimName}`, klass.provisioner);
  }
  return out;
}
