// Fills the desired state of world from pods (upstream
// populator/desired_state_of_world_populator.go and the pod handlers of
// attach_detach_controller.go, util.ProcessPodVolumes).
//
// A pod with spec.nodeName adds each of its attachable volumes that resolves
// (csi-volumes.ts) to its node — when the node is managed; otherwise the pod
// is picked up again by the full pass that follows the node becoming
// managed. A pod leaves when it is deleted, terminated (Succeeded/Failed),
// or replaced by a pod of the same name with another uid.
//
// A volume that stops resolving while its pod runs (claim rebound, PV
// deleted) is not removed: only the pod leaving removes it, as upstream,
// so a transient lookup gap never triggers a detach under a running pod.
//
// populate() is the full pass: it removes pods that left without the
// controller seeing the event, and adds what every live pod needs now. The
// controller runs it after any claim, volume, driver or node change, so a
// claim bound after its pod was scheduled is attached without waiting.
//
// FlexVolume volumes (flex-volumes.ts) are attachable when their driver's
// plugin is ready and attaches. Their unique name needs the driver's
// `getvolumename`, which the name resolver runs in the background; a volume
// whose name is not known yet (or whose driver is not ready) is left out
// for now and noted as unresolved for its pod's node and driver, so the
// reconciler does not take it for unwanted. The resolver's answer triggers
// another full pass.

import type { Logger } from '../../base/index.ts';
import { isPodTerminated } from '../../api/core/pod-helpers.ts';
import { flexUniqueVolumeName } from '../../volume/plugins/flexvolume/index.ts';
import { attachableVolumesOfPod, type AttachableVolume, type Pod, type VolumeLookup } from './csi-volumes.ts';
import { NodeNotManagedError, type DesiredStateOfWorld, type PodRef } from './desired-state-of-world.ts';
import { flexCandidatesOfPod, type FlexVolumeNameResolver, type FlexVolumePluginSource } from './flex-volumes.ts';

export interface PopulatorOptions {
  dsw: DesiredStateOfWorld;
  lookup: VolumeLookup;
  /** The cached pod `namespace/name`, or undefined. */
  pod(key: string): Pod | undefined;
  /** Every cached pod. */
  pods(): Pod[];
  logger: Logger;
  /** FlexVolume support; without it FlexVolume volumes are not attachable. */
  flex?: { plugins: FlexVolumePluginSource; names: FlexVolumeNameResolver };
}

function podRef(pod: Pod): PodRef {
  return { namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' };
}

export class DesiredStateOfWorldPopulator {
  readonly #o: PopulatorOptions;
  /** Pod uid → its node and the FlexVolume drivers of its volumes that are not resolved yet. */
  readonly #unresolved = new Map<string, { nodeName: string; drivers: Set<string> }>();

  constructor(options: PopulatorOptions) {
    this.#o = options;
  }

  /**
   * Brings the desired state in line with one pod: adds the volumes it needs
   * (when its node is managed), or removes all of its volumes when it is
   * `deleted` or terminated. No-op for an unscheduled pod.
   */
  processPod(pod: Pod, deleted: boolean): void {
    const { dsw } = this.#o;
    const nodeName = pod.spec?.nodeName ?? '';
    const uid = pod.metadata.uid ?? '';
    if (nodeName === '' || uid === '') return;
    if (deleted || isPodTerminated(pod)) {
      for (const volumeName of dsw.volumesForPod(uid, nodeName)) dsw.deletePod(uid, volumeName, nodeName);
      this.#unresolved.delete(uid);
      return;
    }
    const ref = podRef(pod);
    const volumes = [...attachableVolumesOfPod(pod, this.#o.lookup), ...this.#flexVolumesOfPod(pod, uid, nodeName)];
    for (const volume of volumes) {
      try {
        dsw.addPod(ref, volume, nodeName);
      } catch (err) {
        if (!(err instanceof NodeNotManagedError)) throw err;
        this.#o.logger.debug({ pod: `${ref.namespace}/${ref.name}`, node: nodeName }, 'pod on an unmanaged node: not attaching its volumes yet');
        return;
      }
    }
  }

  /** The full pass: drop pods that left, then add what every cached pod needs. */
  populate(): void {
    const { dsw } = this.#o;
    for (const { pod, volumeName, nodeName } of dsw.getPodVolumes()) {
      const live = this.#o.pod(`${pod.namespace}/${pod.name}`);
      if (live === undefined || live.metadata.uid !== pod.uid || isPodTerminated(live)) dsw.deletePod(pod.uid, volumeName, nodeName);
    }
    this.#unresolved.clear();
    for (const pod of this.#o.pods()) this.processPod(pod, false);
    this.#o.flex?.names.sweep();
  }

  /**
   * Whether a live pod on `nodeName` has a FlexVolume volume of `driver`
   * that is not in the desired state only because its name (or its driver)
   * is not known yet.
   */
  hasUnresolved(nodeName: string, driver: string): boolean {
    for (const u of this.#unresolved.values()) if (u.nodeName === nodeName && u.drivers.has(driver)) return true;
    return false;
  }

  /** The pod's attachable FlexVolume volumes whose names are known; records the rest as unresolved. */
  #flexVolumesOfPod(pod: Pod, uid: string, nodeName: string): AttachableVolume[] {
    const flex = this.#o.flex;
    this.#unresolved.delete(uid);
    if (flex === undefined) return [];
    const out: AttachableVolume[] = [];
    const unresolved = new Set<string>();
    for (const c of flexCandidatesOfPod(pod, this.#o.lookup)) {
      const plugin = flex.plugins.getPlugin(c.driver);
      if (plugin === undefined) {
        unresolved.add(c.driver);
        continue;
      }
      // A mount-only driver: the kubelet does everything.
      if (plugin.attacher === undefined) continue;
      const name = flex.names.resolve(plugin, c.spec);
      if (name === undefined) {
        unresolved.add(c.driver);
        continue;
      }
      out.push({
        volumeName: flexUniqueVolumeName(plugin.name, name),
        pvName: c.pvName,
        driver: plugin.name,
        volumeHandle: name,
        multiAttachAllowed: c.multiAttachAllowed,
        flex: { spec: c.spec, specName: c.spec.volume?.name ?? c.pvName },
      });
    }
    if (unresolved.size > 0) this.#unresolved.set(uid, { nodeName, drivers: unresolved });
    return out;
  }
}
