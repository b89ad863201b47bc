// The desired state of world (upstream cache/desired_state_of_world.go):
// managed nodes → volumes that should be attached there → the pods that
// need each volume there. Only the populator and the controller's informer
// handlers write it; the reconciler reads it. It holds no API objects and
// does no I/O, so every method is synchronous and cheap.
//
// A volume is desired on a node exactly while at least one pod scheduled
// there needs it; removing the last pod removes the volume. A node must be
// managed before pods on it can be added, because an unmanaged node's
// volumes are not the controller's to attach.

import type { AttachableVolume } from './csi-volumes.ts';
import { attachmentName } from './csi-volumes.ts';
import { flexAttachmentKey } from './flex-volumes.ts';

/** Enough of a pod to record events on it. */
export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

/** A volume that should be attached to a node, and who wants it. */
export interface VolumeToAttach extends AttachableVolume {
  nodeName: string;
  /** The VolumeAttachment name for this volume on this node (for FlexVolume, flexAttachmentKey). */
  attachmentName: string;
  /** The pods scheduled to the node that need the volume, by uid. */
  readonly pods: ReadonlyMap<string, PodRef>;
  /** A Multi-Attach error was already reported for this volume on this node. */
  readonly multiAttachErrorReported: boolean;
}

/** addPod() named a node the controller does not manage. */
export class NodeNotManagedError extends Error {
  override readonly name = 'NodeNotManagedError';
  readonly nodeName: string;
  constructor(nodeName: string) {
    super(`no node with the name ${JSON.stringify(nodeName)} exists in the list of managed nodes`);
    this.nodeName = nodeName;
  }
}

interface DesiredVolume extends AttachableVolume {
  nodeName: string;
  attachmentName: string;
  pods: Map<string, PodRef>;
  multiAttachErrorReported: boolean;
}

export class DesiredStateOfWorld {
  /** node → volumeName → volume. */
  readonly #nodes = new Map<string, Map<string, DesiredVolume>>();

  /** Starts managing `nodeName`. No-op when it is already managed. */
  addNode(nodeName: string): void {
    if (!this.#nodes.has(nodeName)) this.#nodes.set(nodeName, new Map());
  }

  /**
   * Stops managing `nodeName`, dropping every volume desired there (a deleted
   * node runs no pods, so nothing there is wanted any more). No-op for an
   * unmanaged node.
   */
  deleteNode(nodeName: string): void {
    this.#nodes.delete(nodeName);
  }

  nodeExists(nodeName: string): boolean {
    return this.#nodes.has(nodeName);
  }

  /**
   * Records that `pod` needs `volume` on `nodeName`. No-op when already
   * recorded. Throws NodeNotManagedError when the node is not managed.
   */
  addPod(pod: PodRef, volume: AttachableVolume, nodeName: string): void {
    const volumes = this.#nodes.get(nodeName);
    if (volumes === undefined) throw new NodeNotManagedError(nodeName);
    let desired = volumes.get(volume.volumeName);
    if (desired === undefined) {
      desired = {
        ...volume,
        nodeName,
        attachmentName:
          volume.flex !== undefined ? flexAttachmentKey(volume.volumeName, nodeName) : attachmentName(volume.volumeHandle, volume.driver, nodeName),
        pods: new Map(),
        multiAttachErrorReported: false,
      };
      volumes.set(volume.volumeName, desired);
    }
    desired.pods.set(pod.uid, pod);
  }

  /**
   * Forgets that the pod with `podUid` needs `volumeName` on `nodeName`; the
   * volume stops being desired there when no pod is left. No-op when the
   * node, volume or pod is unknown.
   */
  deletePod(podUid: string, volumeName: string, nodeName: string): void {
    const volumes = this.#nodes.get(nodeName);
    const desired = volumes?.get(volumeName);
    if (volumes === undefined || desired === undefined) return;
    desired.pods.delete(podUid);
    if (desired.pods.size === 0) volumes.delete(volumeName);
  }

  /** The volumes recorded for the pod with `podUid` on `nodeName` (empty when none). */
  volumesForPod(podUid: string, nodeName: string): string[] {
    const out: string[] = [];
    for (const v of this.#nodes.get(nodeName)?.values() ?? []) if (v.pods.has(podUid)) out.push(v.volumeName);
    return out;
  }

  /**
   * Notes that the Multi-Attach error of `volumeName` on `nodeName` was
   * reported, so it is reported once. No-op when the volume is not desired there.
   */
  setMultiAttachError(volumeName: string, nodeName: string): void {
    const desired = this.#nodes.get(nodeName)?.get(volumeName);
    if (desired !== undefined) desired.multiAttachErrorReported = true;
  }

  /** Whether `volumeName` is desired on `nodeName`. */
  volumeExists(volumeName: string, nodeName: string): boolean {
    return this.#nodes.get(nodeName)?.has(volumeName) ?? false;
  }

  /** The desired volume by attachment name, or undefined. */
  getByAttachmentName(name: string): VolumeToAttach | undefined {
    for (const volumes of this.#nodes.values()) {
      for (const v of volumes.values()) if (v.attachmentName === name) return v;
    }
    return undefined;
  }

  /** Every volume that should be attached, with its node and pods. */
  getVolumesToAttach(): VolumeToAttach[] {
    const out: VolumeToAttach[] = [];
    for (const volumes of this.#nodes.values()) out.push(...volumes.values());
    return out;
  }

  /** Every (pod, volume, node) recorded: the populator's way to find pods that left. */
  getPodVolumes(): { pod: PodRef; volumeName: string; nodeName: string }[] {
    const out: { pod: PodRef; volumeName: string; nodeName: string }[] = [];
    for (const [nodeName, volumes] of this.#nodes) {
      for (const v of volumes.values()) for (const pod of v.pods.values()) out.push({ pod, volumeName: v.volumeName, nodeName });
    }
    return out;
  }
}
