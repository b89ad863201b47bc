// The PV controller: binds PersistentVolumeClaims to PersistentVolumes,
// provisions volumes for claims that name a StorageClass, and reclaims
// volumes whose claim is gone (seed 001 §3.2.1: the claim worker and the
// volume worker). It reads like upstream's pv_controller.go, shorter.
//
// Binding is two-sided and there is no transaction across two objects, so it
// is written in a fixed order, each write a separate API call:
//   1. PV.spec.claimRef = the claim (and `pv.kubernetes.io/bound-by-controller`
//      when the controller, not the user, chose the pair),
//   2. PV.status.phase = Bound,
//   3. PVC.spec.volumeName = the PV (plus the bound-by-controller and
//      `pv.kubernetes.io/bind-completed` annotations),
//   4. PVC.status = Bound, with the PV's capacity and access modes.
// A crash (or a conflict) between any two writes leaves a state that the
// next sync recognises and completes: a PV pointing at a claim that does not
// point back is treated as pre-bound to it, and a claim without
// bind-completed is still "unbound" whatever its volumeName says. The
// claimRef carries the claim's uid, so a claim deleted and re-created under
// the same name is never taken for the old one.
//
// Several claim workers bind different claims at once (the work queue keeps
// one claim on one worker). The volume a worker chooses is reserved in the
// VolumeIndex in the same synchronous step that chose it, before the first
// write, so another worker never chooses it while the claimRef is on its way;
// the reservation is dropped when the bind returns or throws, by which time
// our cache holds the claimRef the server accepted (or the write failed and
// the volume is a candidate again). Each claim still gets the four writes in
// the order above. A write refused with 409 Conflict (someone changed the
// object since we read it) is requeued with the queue's rate limiter, and
// the next sync starts from the half-written state as after a crash.
//
// Two controllers racing are safe for the same reason: every write is an
// update with a resourceVersion, the loser gets a conflict and requeues, and
// a volume that the controller bound to a claim which ended up bound
// elsewhere is rolled back by syncVolume (bound-by-controller tells it that
// the controller, not the user, made that claimRef).
//
// A claim whose volume vanished becomes Lost (a terminal phase; the data is
// gone). A volume whose claim is gone becomes Released and is reclaimed by
// its policy: Retain keeps it, Delete deletes the storage (through the
// in-tree provisioner that made it, or leaves it to the external one named in
// `pv.kubernetes.io/provisioned-by`) and then the PV, Recycle scrubs it and
// makes it Available again.
//
// Differences from upstream, on purpose: a claim with a selected node is
// matched against static volumes by that node's affinity (volplane's
// scheduler leaves binding of WaitForFirstConsumer claims to this
// controller); a claim without a class gets the default class written into
// it when nothing matches, as 1.28's retroactive assignment does (there is no
// DefaultStorageClass admission plugin); and matching uses an index instead
// of a scan (api/core/volume-matching.ts).

import type {
  ObjectReference,
  PersistentVolume,
  PersistentVolumeClaim,
  PersistentVolumeClaimPhase,
  PersistentVolumePhase,
  StorageClass,
} from '../../api/core/volume-types.ts';
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_DYNAMICALLY_PROVISIONED,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  HOSTNAME_LABEL,
  PV_DELETION_IN_TREE_PROTECTION_FINALIZER,
} from '../../api/core/volume-types.ts';
import { checkVolumeSatisfyClaim, claimClass, isVolumeBoundToClaim, type NodeInfo } from '../../api/core/volume-matching.ts';
import { BETA_STORAGE_CLASS_ANNOTATION } from '../../api/core/persistent-volume.ts';
import { isDefaultStorageClass } from '../../api/storage/storage-class.ts';
import { deepCopy, newConflict, type KubeObject } from '../../apimachinery/index.ts';
import { CancelledError, delay, toError } from '../../base/index.ts';
import { ApiError, objectKey, resourcePath, resources, type EventType } from '../../client/index.ts';
import type { Provisioner } from '../../volume/provisioner.ts';
import {
  PersistentVolumeControllerBase,
  type PersistentVolumeControllerContext,
  type PersistentVolumeControllerOptions,
} from './pv-controller-base.ts';
import { HostRecycler, type Recycler } from './recycler.ts';

/** A claim names a volume that the controller itself bound to another claim: someone edited the objects. */
export class BindingError extends Error {
  override readonly name = 'BindingError';
  readonly claim: string;
  readonly volume: string;
  constructor(claim: string, volume: string, message: string) {
    super(message);
    this.claim = claim;
    this.volume = volume;
  }
}

/** No provisioner can delete the volume (none matched its provisioned-by annotation). */
export class DeleterNotFoundError extends Error {
  override readonly name = 'DeleterNotFoundError';
  readonly volume: string;
  constructor(volume: string) {
    super(`Error getting deleter volume plugin for volume ${JSON.stringify(volume)}: no volume plugin matched`);
    this.volume = volume;
  }
}

/** The claim's class or its provisioner cannot be used for provisioning. */
export class ProvisionerNotFoundError extends Error {
  override readonly name = 'ProvisionerNotFoundError';
  constructor(message: string) {
    super(message);
  }
}

function annotation(obj: KubeObject, key: string): string | undefined {
  const annotations = obj.metadata.annotations;
  return annotations !== undefined && Object.hasOwn(annotations, key) ? annotations[key] : undefined;
}

function hasAnnotation(obj: KubeObject, key: string): boolean {
  return annotation(obj, key) !== undefined;
}

function setAnnotation(obj: KubeObject, key: string, value: string): void {
  obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), [key]: value };
}

/**
 * A copy of `obj` to change and write: top level, metadata and spec are new objects,
 * everything below is shared with `obj` (a cached object, never changed). Callers
 * replace what they change below those levels (annotations, claimRef, status)
 * instead of editing it in place; a deep copy of the whole object, managedFields
 * included, cost more than the rest of a bind's client side.
 */
function copyForWrite<T extends KubeObject & { spec: object }>(obj: T): T {
  return { ...obj, metadata: { ...obj.metadata }, spec: { ...obj.spec } };
}

function claimRefKey(ref: ObjectReference): string {
  return `${ref.namespace ?? ''}/${ref.name ?? ''}`;
}

function claimReference(claim: PersistentVolumeClaim): ObjectReference {
  return {
    kind: 'PersistentVolumeClaim',
    namespace: claim.metadata.namespace,
    name: claim.metadata.name,
    uid: claim.metadata.uid,
    apiVersion: 'v1',
    resourceVersion: claim.metadata.resourceVersion,
  };
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.code === 404;
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

const pvPath = (name: string, sub?: string): string => resourcePath(resources.persistentVolumes, undefined, name, sub);
const pvcPath = (claim: PersistentVolumeClaim, sub?: string): string =>
  resourcePath(resources.persistentVolumeClaims, claim.metadata.namespace, claim.metadata.name, sub);

export class PersistentVolumeController extends PersistentVolumeControllerBase {
  readonly #recycler: Recycler;

  constructor(ctx: PersistentVolumeControllerContext, options: PersistentVolumeControllerOptions = {}) {
    super(ctx, options);
    this.#recycler = ctx.recycler ?? new HostRecycler();
  }

  // ===========================================================================
  // Claims

  protected async syncClaim(claim: PersistentVolumeClaim, signal: AbortSignal): Promise<void> {
    if (!hasAnnotation(claim, ANN_BIND_COMPLETED)) await this.syncUnboundClaim(claim, signal);
    else await this.syncBoundClaim(claim);
  }

  /** A claim that has not completed binding (observation: the claim is Pending). */
  protected async syncUnboundClaim(claim: PersistentVolumeClaim, _signal: AbortSignal): Promise<void> {
    const volumeName = claim.spec.volumeName ?? '';
    if (volumeName === '') {
      // [set 1] The user does not care which volume they get.
      const delayBinding = this.#isDelayBindingMode(claim);
      const selectedNode = annotation(claim, ANN_SELECTED_NODE);
      const node = selectedNode === undefined ? undefined : this.#nodeInfo(selectedNode);
      const volume = this.volumes.findBestMatchForClaim(claim, { delayBinding, node });
      if (volume !== undefined) {
        // Claim Pending, volume Available (or pre-bound to it): bind.
        await this.#bind(volume, claim);
        return;
      }
      // Claim Pending, no volume fits.
      if (await this.#assignDefaultStorageClass(claim)) return; // the update brings the claim back
      if (delayBinding && selectedNode === undefined) {
        this.#emitEventForUnboundDelayBindingClaim(claim);
      } else if (claimClass(claim) !== '') {
        // Provisioning writes the claim itself; its status stays as it is.
        this.#provisionClaim(claim);
        return;
      } else {
        this.#event(claim, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
      }
      await this.#updateClaimStatus(claim, 'Pending', undefined);
      return;
    }

    // [set 2] The user asked for a specific volume.
    const volume = this.volumes.get(volumeName);
    if (volume === undefined) {
      // Claim Pending, the volume does not exist (yet): retry later.
      await this.#updateClaimStatus(claim, 'Pending', undefined);
      return;
    }
    const ref = volume.spec.claimRef;
    if (ref === undefined || ref === null) {
      // Claim Pending, volume unclaimed: bind if it fits.
      const mismatch = checkVolumeSatisfyClaim(volume, claim);
      if (mismatch !== undefined) {
        this.#event(claim, 'Warning', 'VolumeMismatch', `Cannot bind to requested volume ${JSON.stringify(volumeName)}: ${mismatch}`);
        await this.#updateClaimStatus(claim, 'Pending', undefined);
        return;
      }
      await this.#bind(volume, claim);
      return;
    }
    if (isVolumeBoundToClaim(volume, claim)) {
      // Claim Pending, volume claimed by this claim: finish the binding.
      await this.#bind(volume, claim);
      return;
    }
    // Claim Pending, volume claimed by another claim.
    this.#event(claim, 'Warning', 'FailedBinding', `volume ${JSON.stringify(volumeName)} already bound to a different claim.`);
    if (!hasAnnotation(claim, ANN_BOUND_BY_CONTROLLER)) {
      // The user chose this volume; wait for it to be released.
      await this.#updateClaimStatus(claim, 'Pending', undefined);
      return;
    }
    // The controller chose it and yet bind-completed is missing: someone edited the claim.
    throw new BindingError(
      objectKey(claim),
      volumeName,
      `invalid binding of claim ${JSON.stringify(objectKey(claim))} to volume ${JSON.stringify(volumeName)}: volume already claimed by ${JSON.stringify(claimRefKey(ref))}`,
    );
  }

  /** [set 3] A claim that was bound (it carries bind-completed). */
  protected async syncBoundClaim(claim: PersistentVolumeClaim): Promise<void> {
    const volumeName = claim.spec.volumeName ?? '';
    if (volumeName === '') {
      // Claim was bound and lost its volumeName.
      await this.#updateClaimStatusWithEvent(claim, 'Lost', undefined, 'Warning', 'ClaimLost', 'Bound claim has lost reference to PersistentVolume. Data on the volume is lost!');
      return;
    }
    const volume = this.volumes.get(volumeName);
    if (volume === undefined) {
      // Claim bound to a volume that does not exist.
      await this.#updateClaimStatusWithEvent(claim, 'Lost', undefined, 'Warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      return;
    }
    const ref = volume.spec.claimRef;
    if (ref === undefined || ref === null || ref.uid === claim.metadata.uid) {
      // Volume came unbound (or we have not seen its update yet), or all is well:
      // bind() writes only what is missing.
      await this.#bind(volume, claim);
      return;
    }
    // Claim bound, but the volume belongs to another claim.
    await this.#updateClaimStatusWithEvent(claim, 'Lost', undefined, 'Warning', 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly');
  }

  // ===========================================================================
  // Volumes

  /** [set 4] */
  protected async syncVolume(volume: PersistentVolume, _signal: AbortSignal): Promise<void> {
    volume = await this.#updateVolumeFinalizers(volume);
    const ref = volume.spec.claimRef;
    if (ref === undefined || ref === null) {
      if (this.#deletingWithOurFinalizer(volume)) {
        // Unused volume deleted by the user: delete its storage first.
        this.#reclaimVolume(volume);
        return;
      }
      // Volume unused.
      await this.#updateVolumePhase(volume, 'Available', '');
      return;
    }
    if ((ref.uid ?? '') === '') {
      // Volume pre-bound to a claim that has not bound to it yet; the claim's sync does that.
      await this.#updateVolumePhase(volume, 'Available', '');
      return;
    }

    let claim = this.claims.get(claimRefKey(ref));
    if (claim === undefined && volume.status?.phase !== 'Released' && volume.status?.phase !== 'Failed') {
      // Under load the claim may not be in our cache yet: ask the informer and the server
      // before releasing a volume by mistake.
      claim = this.claimInformer.get(claimRefKey(ref)) ?? (await this.#getClaimFromServer(ref));
    }
    if (claim !== undefined && claim.metadata.uid !== ref.uid) {
      // Our copy may predate a re-created claim; only the server can tell.
      const fresh = await this.#getClaimFromServer(ref);
      claim = fresh !== undefined && fresh.metadata.uid === ref.uid ? fresh : undefined;
    }

    if (claim === undefined) {
      // Volume bound to a claim that is gone: Released, then reclaimed. A Failed
      // volume keeps its phase so the user sees what went wrong, and is retried.
      if (volume.status?.phase !== 'Released' && volume.status?.phase !== 'Failed') {
        volume = await this.#updateVolumePhase(volume, 'Released', '');
      }
      this.#reclaimVolume(volume);
      return;
    }
    const claimVolume = claim.spec.volumeName ?? '';
    if (claimVolume === '') {
      // Volume bound, claim not yet: the claim's sync finishes the binding. Queue it now.
      this.enqueueClaim(objectKey(claim));
      return;
    }
    if (claimVolume === volume.metadata.name) {
      // Volume and claim bound to each other. A claim that is not Bound (Lost when this
      // volume was deleted and has now been re-created with the same claimRef, or a bind
      // cut short) is recovered by its own sync, which rewrites its status: queue it now
      // rather than leave it to the next resync.
      if (claim.status?.phase !== 'Bound') this.enqueueClaim(objectKey(claim));
      await this.#updateVolumePhase(volume, 'Bound', '');
      return;
    }
    // Volume bound to a claim that is bound to another volume.
    if (hasAnnotation(volume, ANN_DYNAMICALLY_PROVISIONED) && volume.spec.persistentVolumeReclaimPolicy === 'Delete') {
      // Provisioned for this claim, which was satisfied elsewhere: not needed.
      if (volume.status?.phase !== 'Released' && volume.status?.phase !== 'Failed') {
        volume = await this.#updateVolumePhase(volume, 'Released', '');
      }
      this.#reclaimVolume(volume);
      return;
    }
    // We bound it and lost the race (roll back), or the user pre-bound it (keep the name, drop the uid).
    await this.#unbindVolume(volume);
  }

  // ===========================================================================
  // Binding

  /**
   * The four writes, in order. Reserves the volume for the claim before the
   * first await, i.e. in the same synchronous step as the caller's choice;
   * throws a Conflict (requeued quietly) when another claim's bind holds it.
   */
  async #bind(volume: PersistentVolume, claim: PersistentVolumeClaim): Promise<void> {
    const volumeName = volume.metadata.name ?? '';
    const claimKey = objectKey(claim);
    if (!this.volumes.reserve(volumeName, claimKey)) {
      // Only a claim that names the volume, or a bound claim repairing its
      // volume, gets here: matching never offers a volume reserved for another.
      throw newConflict(
        { group: '', resource: 'persistentvolumes' },
        volumeName,
        `the volume is being bound to claim ${JSON.stringify(this.volumes.reservedFor(volumeName) ?? '')}`,
      );
    }
    try {
      this.logger.debug({ volume: volumeName, claim: claimKey }, 'binding');
      let v = await this.#bindVolumeToClaim(volume, claim);
      v = await this.#updateVolumePhase(v, 'Bound', '');
      let c = await this.#bindClaimToVolume(claim, v);
      c = await this.#updateClaimStatus(c, 'Bound', v);
      this.logger.debug({ volume: v.metadata.name, claim: objectKey(c) }, 'bound');
    } finally {
      this.volumes.release(volumeName, claimKey);
    }
  }

  async #bindVolumeToClaim(volume: PersistentVolume, claim: PersistentVolumeClaim): Promise<PersistentVolume> {
    const ref = volume.spec.claimRef;
    const chosenByController = !isVolumeBoundToClaim(volume, claim);
    const clone = copyForWrite(volume);
    let dirty = false;
    if (
      ref === undefined ||
      ref === null ||
      ref.name !== claim.metadata.name ||
      (ref.namespace ?? '') !== (claim.metadata.namespace ?? '') ||
      ref.uid !== claim.metadata.uid
    ) {
      clone.spec.claimRef = claimReference(claim);
      dirty = true;
    }
    if (chosenByController && !hasAnnotation(clone, ANN_BOUND_BY_CONTROLLER)) {
      setAnnotation(clone, ANN_BOUND_BY_CONTROLLER, 'yes');
      dirty = true;
    }
    if (!dirty) return volume;
    return this.#writeVolume(clone);
  }

  async #bindClaimToVolume(claim: PersistentVolumeClaim, volume: PersistentVolume): Promise<PersistentVolumeClaim> {
    const clone = copyForWrite(claim);
    let dirty = false;
    if ((claim.spec.volumeName ?? '') !== volume.metadata.name) {
      clone.spec.volumeName = volume.metadata.name;
      if (!hasAnnotation(clone, ANN_BOUND_BY_CONTROLLER)) setAnnotation(clone, ANN_BOUND_BY_CONTROLLER, 'yes');
      dirty = true;
    }
    if (!hasAnnotation(clone, ANN_BIND_COMPLETED)) {
      setAnnotation(clone, ANN_BIND_COMPLETED, 'yes');
      dirty = true;
    }
    if (!dirty) return claim;
    return this.#writeClaim(clone);
  }

  /** Undoes a binding on the volume side and makes it Available. */
  async #unbindVolume(volume: PersistentVolume): Promise<void> {
    const clone = deepCopy(volume);
    if (hasAnnotation(volume, ANN_BOUND_BY_CONTROLLER)) {
      // We made the claimRef: remove it.
      clone.spec.claimRef = null;
      const annotations = { ...(clone.metadata.annotations ?? {}) };
      delete annotations[ANN_BOUND_BY_CONTROLLER];
      clone.metadata.annotations = annotations;
    } else if (clone.spec.claimRef !== undefined && clone.spec.claimRef !== null) {
      // The user pre-bound it: keep the claim's name, forget the uid.
      const ref = { ...clone.spec.claimRef };
      delete ref.uid;
      clone.spec.claimRef = ref;
    }
    const updated = await this.#writeVolume(clone);
    await this.#updateVolumePhase(updated, 'Available', '');
  }

  // ===========================================================================
  // Reclaiming

  #reclaimVolume(volume: PersistentVolume): void {
    const name = volume.metadata.name ?? '';
    const policy = volume.spec.persistentVolumeReclaimPolicy ?? 'Retain';
    switch (policy) {
      case 'Retain':
        // Kept as it is: Released, pointing at a claim that is gone.
        return;
      case 'Recycle':
        this.scheduleOperation(`recycle-${name}[${volume.metadata.uid ?? ''}]`, { volume: name }, (signal) => this.#recycleVolumeOperation(volume, signal));
        return;
      case 'Delete':
        this.scheduleOperation(`delete-${name}[${volume.metadata.uid ?? ''}]`, { volume: name }, (signal) => this.#deleteVolumeOperation(volume, signal));
        return;
      default:
        this.scheduleOperation(`unknown-policy-${name}`, { volume: name }, async () => {
          await this.#updateVolumePhaseWithEvent(volume, 'Failed', 'Warning', 'VolumeUnknownReclaimPolicy', 'Volume has unrecognized PersistentVolumeReclaimPolicy');
        });
    }
  }

  /** isVolumeReleased: the volume has a claimRef with a uid, and that claim is gone or bound elsewhere. */
  #isVolumeReleased(volume: PersistentVolume): boolean {
    const ref = volume.spec.claimRef;
    if (ref === undefined || ref === null) return false;
    // Pre-bound by the user and not yet bound: not released.
    if ((ref.uid ?? '') === '') return false;
    const claim = this.claims.get(claimRefKey(ref));
    if (claim !== undefined && claim.metadata.uid === ref.uid) {
      const bound = claim.spec.volumeName ?? '';
      return bound !== '' && bound !== volume.metadata.name;
    }
    return true;
  }

  /** Names of pods in the claim's namespace that use the claim and have not finished. */
  #podsUsingClaim(namespace: string, claimName: string, onlyUnscheduled: boolean): string[] {
    const names: string[] = [];
    for (const pod of this.podInformer.list()) {
      if ((pod.metadata.namespace ?? '') !== namespace) continue;
      const spec = (pod.spec ?? {}) as { nodeName?: string; volumes?: { name: string; persistentVolumeClaim?: { claimName: string }; ephemeral?: unknown }[] };
      const phase = (pod.status as { phase?: string } | undefined)?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      if (onlyUnscheduled && (spec.nodeName ?? '') !== '') continue;
      const uses = (spec.volumes ?? []).some(
        (v) => v.persistentVolumeClaim?.claimName === claimName || (v.ephemeral !== undefined && `${pod.metadata.name ?? ''}-${v.name}` === claimName),
      );
      if (uses) names.push(pod.metadata.name ?? '');
    }
    return names.sort();
  }

  async #recycleVolumeOperation(volume: PersistentVolume, signal: AbortSignal): Promise<void> {
    const name = volume.metadata.name ?? '';
    // We may have waited: act on the current object.
    const fresh = await this.#getVolumeFromServer(name);
    if (fresh === undefined || !this.#isVolumeReleased(fresh)) return; // no longer needs recycling
    const ref = fresh.spec.claimRef!;
    const users = this.#podsUsingClaim(ref.namespace ?? '', ref.name ?? '', false);
    // A cached claim of that name is a new claim (the volume is released), so its pods are not ours.
    if (users.length > 0 && !this.claims.has(claimRefKey(ref))) {
      this.#event(fresh, 'Normal', 'VolumeFailedRecycle', `Volume is used by pods: ${users.join(',')}`);
      return;
    }
    if (!this.#recycler.canRecycle(fresh)) {
      await this.#updateVolumePhaseWithEvent(fresh, 'Failed', 'Warning', 'VolumeFailedRecycle', 'No recycler plugin found for the volume!');
      return;
    }
    let result;
    try {
      result = await this.#recycler.recycle(fresh, signal);
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      // Failed, and retried on every later sync of the volume.
      await this.#updateVolumePhaseWithEvent(fresh, 'Failed', 'Warning', 'VolumeFailedRecycle', `Recycle failed: ${toError(err).message}`);
      return;
    }
    if (result.kind === 'skipped') {
      this.#event(fresh, 'Warning', 'RecyclerPod', `Recycler pod: ${result.reason}`);
      return;
    }
    this.#event(fresh, 'Normal', 'VolumeRecycled', 'Volume recycled');
    await this.#unbindVolume(fresh);
  }

  async #deleteVolumeOperation(volume: PersistentVolume, signal: AbortSignal): Promise<void> {
    const name = volume.metadata.name ?? '';
    const fresh = await this.#getVolumeFromServer(name);
    if (fresh === undefined) return;
    if (!this.#isVolumeReleased(fresh) && !this.#deletingWithOurFinalizer(fresh)) return; // no longer needs deleting
    // Being deleted without our finalizer: we removed it after deleting the storage (or never held it).
    if (fresh.metadata.deletionTimestamp !== undefined && !this.#deletingWithOurFinalizer(fresh)) return;
    let deleted: boolean;
    try {
      deleted = await this.#doDeleteVolume(fresh, signal);
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      await this.#updateVolumePhaseWithEvent(fresh, 'Failed', 'Warning', 'VolumeFailedDelete', toError(err).message);
      throw err;
    }
    if (!deleted) return; // an external provisioner deletes it
    let current = fresh;
    if ((current.metadata.finalizers ?? []).includes(PV_DELETION_IN_TREE_PROTECTION_FINALIZER)) {
      const clone = deepCopy(current);
      clone.metadata.finalizers = (clone.metadata.finalizers ?? []).filter((f) => f !== PV_DELETION_IN_TREE_PROTECTION_FINALIZER);
      try {
        current = await this.#writeVolume(clone);
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
    }
    if (current.metadata.deletionTimestamp !== undefined) return; // the finalizer was the last thing holding it
    try {
      await this.client.delete(pvPath(name));
    } catch (err) {
      // Gone already is what we wanted; anything else is retried on the next sync.
      if (!isNotFound(err)) this.logger.info({ volume: name, err: toError(err).message }, 'failed to delete volume from the API');
    }
  }

  /** Deletes the storage. False when an external provisioner is to do it. */
  async #doDeleteVolume(volume: PersistentVolume, signal: AbortSignal): Promise<boolean> {
    const name = volume.metadata.name ?? '';
    const provisionedBy = annotation(volume, ANN_DYNAMICALLY_PROVISIONED);
    const provisioner = provisionedBy === undefined ? undefined : this.provisioners.get(provisionedBy);
    if (provisioner !== undefined) {
      await provisioner.delete(volume, signal);
      return true;
    }
    if (provisionedBy !== undefined && provisionedBy !== '' && !provisionedBy.startsWith('kubernetes.io/')) return false;
    throw new DeleterNotFoundError(name);
  }

  #deletingWithOurFinalizer(volume: PersistentVolume): boolean {
    return volume.metadata.deletionTimestamp !== undefined && (volume.metadata.finalizers ?? []).includes(PV_DELETION_IN_TREE_PROTECTION_FINALIZER);
  }

  /**
   * Keeps the deletion-protection finalizer exactly on the volumes whose
   * storage this controller deletes: provisioned by an in-tree provisioner,
   * policy Delete.
   */
  async #updateVolumeFinalizers(volume: PersistentVolume): Promise<PersistentVolume> {
    const finalizers = volume.metadata.finalizers ?? [];
    const has = finalizers.includes(PV_DELETION_IN_TREE_PROTECTION_FINALIZER);
    const provisionedBy = annotation(volume, ANN_DYNAMICALLY_PROVISIONED);
    const ours = provisionedBy !== undefined && this.provisioners.has(provisionedBy);
    const isDelete = volume.spec.persistentVolumeReclaimPolicy === 'Delete';
    let next: string[] | undefined;
    if (!has && ours && isDelete && volume.metadata.deletionTimestamp === undefined) next = [...finalizers, PV_DELETION_IN_TREE_PROTECTION_FINALIZER];
    else if (has && !isDelete) next = finalizers.filter((f) => f !== PV_DELETION_IN_TREE_PROTECTION_FINALIZER);
    if (next === undefined) return volume;
    const clone = deepCopy(volume);
    clone.metadata.finalizers = next;
    return this.#writeVolume(clone);
  }

  // ===========================================================================
  // Provisioning

  #provisionClaim(claim: PersistentVolumeClaim): void {
    const key = objectKey(claim);
    let found: { provisioner: Provisioner | undefined; storageClass: StorageClass };
    try {
      found = this.#findProvisionablePlugin(claim);
    } catch (err) {
      // Retried on every sync of the claim.
      this.#event(claim, 'Warning', 'ProvisioningFailed', toError(err).message);
      return;
    }
    const { provisioner, storageClass } = found;
    this.scheduleOperation(`provision-${key}[${claim.metadata.uid ?? ''}]`, { claim: key }, (signal) =>
      provisioner === undefined
        ? this.#provisionClaimOperationExternal(claim, storageClass)
        : this.#provisionClaimOperation(claim, provisioner, storageClass, signal),
    );
  }

  #findProvisionablePlugin(claim: PersistentVolumeClaim): { provisioner: Provisioner | undefined; storageClass: StorageClass } {
    const className = claimClass(claim);
    const storageClass = this.classInformer.get(className);
    if (storageClass === undefined) throw new ProvisionerNotFoundError(`storageclass.storage.k8s.io ${JSON.stringify(className)} not found`);
    const provisioner = this.provisioners.get(storageClass.provisioner);
    if (provisioner !== undefined) return { provisioner, storageClass };
    // kubernetes.io/ names are in-tree plugins; one we lack (no-provisioner included) cannot provision.
    if (storageClass.provisioner.startsWith('kubernetes.io/')) {
      throw new ProvisionerNotFoundError(`no volume plugin matched name: ${storageClass.provisioner}`);
    }
    return { provisioner: undefined, storageClass };
  }

  async #provisionClaimOperation(claim: PersistentVolumeClaim, provisioner: Provisioner, storageClass: StorageClass, signal: AbortSignal): Promise<void> {
    const key = objectKey(claim);
    const className = claimClass(claim);
    if (claim.spec.dataSource != null || claim.spec.dataSourceRef != null) {
      const message = `plugin ${JSON.stringify(provisioner.name)} is not a CSI plugin. Only CSI plugin can provision a claim with a datasource`;
      this.#event(claim, 'Warning', 'ProvisioningFailed', message);
      throw new ProvisionerNotFoundError(message);
    }
    claim = await this.#setClaimProvisioner(claim, storageClass.provisioner);

    // A previous operation may have finished while this one waited: the name is deterministic.
    const pvName = `pvc-${claim.metadata.uid ?? ''}`;
    if ((await this.#getVolumeFromServer(pvName)) !== undefined) return;

    const selectedNode = annotation(claim, ANN_SELECTED_NODE);
    let provisioned;
    try {
      provisioned = await provisioner.provision({ pvName, claim, storageClass, ...(selectedNode === undefined ? {} : { selectedNode }) }, signal);
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      await this.#rescheduleProvisioning(claim);
      this.#event(claim, 'Warning', 'ProvisioningFailed', `Failed to provision volume with StorageClass ${JSON.stringify(storageClass.metadata.name ?? '')}: ${toError(err).message}`);
      throw err;
    }

    const reclaimPolicy = storageClass.reclaimPolicy ?? 'Delete';
    const volume: PersistentVolume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: {
        name: pvName,
        annotations: { [ANN_BOUND_BY_CONTROLLER]: 'yes', [ANN_DYNAMICALLY_PROVISIONED]: provisioner.name },
        // The storage goes before the object, even when the PV is deleted first.
        ...(reclaimPolicy === 'Delete' ? { finalizers: [PV_DELETION_IN_TREE_PROTECTION_FINALIZER] } : {}),
      },
      spec: {
        ...provisioned.source,
        capacity: { storage: provisioned.capacity },
        accessModes: claim.spec.accessModes ?? [],
        volumeMode: claim.spec.volumeMode ?? 'Filesystem',
        persistentVolumeReclaimPolicy: reclaimPolicy,
        storageClassName: className,
        claimRef: claimReference(claim),
        ...(storageClass.mountOptions === undefined ? {} : { mountOptions: storageClass.mountOptions }),
        ...(provisioned.nodeAffinity === undefined ? {} : { nodeAffinity: provisioned.nodeAffinity }),
      },
      // The server resets status on create; syncVolume moves it on.
      status: { phase: 'Bound' },
    };

    let saveError: Error | undefined;
    for (let i = 0; i < this.options.createProvisionedPVRetryCount; i++) {
      try {
        this.storeVolume(await this.client.create<PersistentVolume>(resourcePath(resources.persistentVolumes), volume));
        saveError = undefined;
        break;
      } catch (err) {
        if (err instanceof ApiError && err.code === 409 && err.status?.reason === 'AlreadyExists') {
          saveError = undefined;
          break;
        }
        saveError = toError(err);
        this.logger.info({ volume: pvName, claim: key, err: saveError.message }, 'failed to save provisioned volume');
        if (i + 1 < this.options.createProvisionedPVRetryCount) await delay(this.options.createProvisionedPVIntervalMs, signal);
      }
    }
    if (saveError === undefined) {
      this.#event(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName} using ${provisioner.name}`);
      return;
    }

    // The storage exists and no PV describes it: take the storage back.
    this.#event(claim, 'Warning', 'ProvisioningFailed', `Error creating provisioned PV object for claim ${key}: ${saveError.message}. Deleting the volume.`);
    let deleteError: Error | undefined;
    for (let i = 0; i < this.options.createProvisionedPVRetryCount; i++) {
      try {
        await provisioner.delete(volume, signal);
        deleteError = undefined;
        break;
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        deleteError = toError(err);
        if (i + 1 < this.options.createProvisionedPVRetryCount) await delay(this.options.createProvisionedPVIntervalMs, signal);
      }
    }
    if (deleteError !== undefined) {
      this.#event(claim, 'Warning', 'ProvisioningCleanupFailed', `Error cleaning provisioned volume for claim ${key}: ${deleteError.message}. Please delete manually.`);
    }
  }

  async #provisionClaimOperationExternal(claim: PersistentVolumeClaim, storageClass: StorageClass): Promise<void> {
    const name = storageClass.provisioner;
    // The annotation is what the external provisioner watches for.
    claim = await this.#setClaimProvisioner(claim, name);
    this.#event(
      claim,
      'Normal',
      'ExternalProvisioning',
      `Waiting for a volume to be created either by the external provisioner '${name}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
    );
  }

  async #setClaimProvisioner(claim: PersistentVolumeClaim, provisioner: string): Promise<PersistentVolumeClaim> {
    if (annotation(claim, ANN_STORAGE_PROVISIONER) === provisioner && annotation(claim, ANN_BETA_STORAGE_PROVISIONER) === provisioner) return claim;
    const clone = deepCopy(claim);
    setAnnotation(clone, ANN_STORAGE_PROVISIONER, provisioner);
    setAnnotation(clone, ANN_BETA_STORAGE_PROVISIONER, provisioner);
    return this.#writeClaim(clone);
  }

  /** After a failed provision on the selected node, let the scheduler choose again. */
  async #rescheduleProvisioning(claim: PersistentVolumeClaim): Promise<void> {
    if (!hasAnnotation(claim, ANN_SELECTED_NODE)) return;
    const clone = deepCopy(claim);
    const annotations = { ...(clone.metadata.annotations ?? {}) };
    delete annotations[ANN_SELECTED_NODE];
    clone.metadata.annotations = annotations;
    try {
      await this.#writeClaim(clone);
    } catch (err) {
      this.logger.info({ claim: objectKey(claim), err: toError(err).message }, 'failed to clear the selected node');
    }
  }

  /**
   * The retroactive default StorageClass assignment: a claim without a class
   * (unset, not "") gets the default class. True when the claim was updated.
   */
  async #assignDefaultStorageClass(claim: PersistentVolumeClaim): Promise<boolean> {
    if (hasAnnotation(claim, BETA_STORAGE_CLASS_ANNOTATION)) return false;
    if (claim.spec.storageClassName !== undefined && claim.spec.storageClassName !== null) return false;
    const defaults = this.classInformer.list().filter((c) => isDefaultStorageClass(c));
    if (defaults.length === 0) return false;
    // Several defaults: the newest wins, as upstream's GetDefaultClass.
    defaults.sort(
      (a, b) =>
        (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') ||
        (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
    );
    const clone = deepCopy(claim);
    clone.spec.storageClassName = defaults[0]!.metadata.name ?? '';
    await this.#writeClaim(clone);
    return true;
  }

  #isDelayBindingMode(claim: PersistentVolumeClaim): boolean {
    const className = claimClass(claim);
    if (className === '') return false;
    return this.classInformer.get(className)?.volumeBindingMode === 'WaitForFirstConsumer';
  }

  #emitEventForUnboundDelayBindingClaim(claim: PersistentVolumeClaim): void {
    const pods = this.#podsUsingClaim(claim.metadata.namespace ?? '', claim.metadata.name ?? '', true);
    if (pods.length === 0) {
      this.#event(claim, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
    } else if (pods.length === 1) {
      this.#event(claim, 'Normal', 'WaitForPodScheduled', `waiting for pod ${pods[0]} to be scheduled`);
    } else {
      this.#event(claim, 'Normal', 'WaitForPodScheduled', `waiting for pods ${pods.join(',')} to be scheduled`);
    }
  }

  #nodeInfo(name: string): NodeInfo {
    const node = this.nodeInformer.get(name);
    return { name, labels: node?.metadata.labels ?? { [HOSTNAME_LABEL]: name } };
  }

  // ===========================================================================
  // Writes: every write goes through here and lands in our cache at once

  async #writeVolume(volume: PersistentVolume): Promise<PersistentVolume> {
    return this.storeVolume(await this.client.update<PersistentVolume>(pvPath(volume.metadata.name ?? ''), volume));
  }

  async #writeClaim(claim: PersistentVolumeClaim): Promise<PersistentVolumeClaim> {
    return this.storeClaim(await this.client.update<PersistentVolumeClaim>(pvcPath(claim), claim));
  }

  async #updateVolumePhase(volume: PersistentVolume, phase: PersistentVolumePhase, message: string): Promise<PersistentVolume> {
    if (volume.status?.phase === phase && (volume.status?.message ?? '') === message) return volume;
    // Only status is replaced; the rest is shared with the cached object.
    const clone: PersistentVolume = { ...volume };
    const status = { ...(clone.status ?? {}), phase };
    if (message === '') delete status.message;
    else status.message = message;
    clone.status = status;
    return this.storeVolume(await this.client.update<PersistentVolume>(pvPath(volume.metadata.name ?? '', 'status'), clone));
  }

  /** Changes the phase and, only when it changed, records the event. */
  async #updateVolumePhaseWithEvent(volume: PersistentVolume, phase: PersistentVolumePhase, type: EventType, reason: string, message: string): Promise<PersistentVolume> {
    if (volume.status?.phase === phase) return volume;
    const updated = await this.#updateVolumePhase(volume, phase, message);
    this.#event(updated, type, reason, message);
    return updated;
  }

  async #updateClaimStatus(claim: PersistentVolumeClaim, phase: PersistentVolumeClaimPhase, volume: PersistentVolume | undefined): Promise<PersistentVolumeClaim> {
    // Only status is replaced (a fresh object below); the rest is shared with the cached object.
    const clone: PersistentVolumeClaim = { ...claim };
    const status = { ...(clone.status ?? {}) };
    let dirty = false;
    if (status.phase !== phase) {
      status.phase = phase;
      dirty = true;
    }
    if (volume === undefined) {
      // No volume, so no capacity or modes to report.
      if (status.accessModes !== undefined) {
        delete status.accessModes;
        dirty = true;
      }
      if (status.capacity !== undefined) {
        delete status.capacity;
        dirty = true;
      }
    } else {
      if (!sameList(status.accessModes, volume.spec.accessModes)) {
        status.accessModes = [...(volume.spec.accessModes ?? [])];
        dirty = true;
      }
      const capacity = volume.spec.capacity?.storage;
      // A claim that was resized keeps the capacity the resizer wrote.
      if (capacity !== undefined && status.capacity?.storage === undefined) {
        status.capacity = { ...(status.capacity ?? {}), storage: capacity };
        dirty = true;
      }
    }
    if (!dirty) return claim;
    clone.status = status;
    return this.storeClaim(await this.client.update<PersistentVolumeClaim>(pvcPath(claim, 'status'), clone));
  }

  async #updateClaimStatusWithEvent(
    claim: PersistentVolumeClaim,
    phase: PersistentVolumeClaimPhase,
    volume: PersistentVolume | undefined,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<PersistentVolumeClaim> {
    if (claim.status?.phase === phase) return claim;
    const updated = await this.#updateClaimStatus(claim, phase, volume);
    this.#event(updated, type, reason, message);
    return updated;
  }

  async #getVolumeFromServer(name: string): Promise<PersistentVolume | undefined> {
    try {
      return await this.client.get<PersistentVolume>(pvPath(name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async #getClaimFromServer(ref: ObjectReference): Promise<PersistentVolumeClaim | undefined> {
    try {
      return await this.client.get<PersistentVolumeClaim>(resourcePath(resources.persistentVolumeClaims, ref.namespace ?? '', ref.name ?? ''));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  #event(obj: KubeObject, type: EventType, reason: string, message: string): void {
    this.recorder.event(obj, type, reason, message);
  }
}
