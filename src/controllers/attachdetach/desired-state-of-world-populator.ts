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

import type { Logger } from '../../base/index.ts';
import { isPodTerminated } from '../../api/core/pod-helpers.ts';
import { attachableVolumesOfPod, type Pod, type VolumeLookup } from './csi-volumes.ts';
import { NodeNotManagedError, type DesiredStateOfWorld, type PodRef } from './desired-state-of-world.ts';

export interface PopulatorOptions {
  dsw: DesiredStateOfWorld;
  lookup: VolumeLookup;
  /** The cached pod `namespace/name`, or undefined. */
  pod(key: string): Pod | undefined;
  /** Every cached pod. */
  pods(): Pod[];
  logger: Logger;
}

function podRef(pod: Pod): PodRef {
  return { namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' };
}

export class DesiredStateOfWorldPopulator {
  readonly #o: PopulatorOptions;

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
      return;
    }
    const ref = podRef(pod);
    for (const volume of attachableVolumesOfPod(pod, this.#o.lookup)) {
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
    for (const pod of this.#o.pods()) this.processPod(pod, false);
  }
}
