// The desired state of world: which pods this node should run, and for each
// of their volumes the resolved spec and the plugin that mounts it. The
// kubelet puts pods in and takes them out (addPod/removePod); the populator
// resolves the volumes (a claim needs two GETs) and records why it could not.
//
// A pod is desired as soon as it is added, but a volume is "to mount" only
// once resolved. A volume is *referenced* as long as its pod is desired and
// the pod's spec names it: the reconciler never unmounts a referenced volume,
// even one whose spec failed to resolve this time (an API hiccup must not
// tear down a running pod's data).
//
// Plain synchronous maps: one event loop, no locks. Every method is total —
// it says below when it is a no-op — so callers never guard.

import type { Pod, PodVolume, VolumePlugin, VolumeSpec } from '../../../volume/index.ts';

/** What a device-mountable plugin said about a volume when it was resolved. */
export interface DesiredDevice {
  /** The node-wide unique name (getUniqueVolumeName): one device mount per name, shared by pods. */
  uniqueVolumeName: string;
  /** The AD controller attaches it: mount only once `status.volumesAttached` lists it. */
  requiresAttach: boolean;
  /** mountDevice runs once per node before the first setUp. */
  requiresDeviceMount: boolean;
}

export interface DesiredVolume {
  podUid: string;
  /** The pod volume's name (`spec.volumes[].name`): the key inside its pod. */
  outerName: string;
  /** What the plugin calls the volume on disk: the pod volume's name, or the PV's for a claim. */
  innerName: string;
  spec: VolumeSpec;
  plugin: VolumePlugin;
  /**
   * What the volume's content is made of, as resourceVersions (projection
   * volumes); '' for volumes whose content does not follow API objects. A
   * mounted volume set up from another version needs a remount.
   */
  contentVersion: string;
  /** Set for volumes of a device-mountable plugin (DeviceMountableVolumePlugin). */
  device?: DesiredDevice;
}

interface DesiredPod {
  pod: Pod;
  volumes: Map<string, DesiredVolume>;
  /** Why a volume could not be resolved, by outer name. */
  errors: Map<string, string>;
}

/** The pod volumes of a pod spec, by name. */
export function podSpecVolumes(pod: Pod): Map<string, PodVolume> {
  return new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
}

export class DesiredStateOfWorld {
  readonly #pods = new Map<string, DesiredPod>();

  /**
   * Adds a pod, or replaces the pod object of a known one. Resolved volumes
   * the new spec no longer names are dropped (with their errors); the others
   * are kept.
   */
  addPod(uid: string, pod: Pod): void {
    const known = this.#pods.get(uid);
    if (known === undefined) {
      this.#pods.set(uid, { pod, volumes: new Map(), errors: new Map() });
      return;
    }
    known.pod = pod;
    const names = podSpecVolumes(pod);
    for (const name of [...known.volumes.keys()]) if (!names.has(name)) known.volumes.delete(name);
    for (const name of [...known.errors.keys()]) if (!names.has(name)) known.errors.delete(name);
  }

  /** Removes a pod and its volumes. No-op for an unknown pod. */
  deletePod(uid: string): void {
    this.#pods.delete(uid);
  }

  hasPod(uid: string): boolean {
    return this.#pods.has(uid);
  }

  /** The pod object last added, or undefined. */
  getPod(uid: string): Pod | undefined {
    return this.#pods.get(uid)?.pod;
  }

  podUids(): string[] {
    return [...this.#pods.keys()];
  }

  /**
   * Records a resolved volume. Returns false (and records nothing) when the
   * pod is no longer desired or its spec no longer names the volume — the
   * answer of a resolution that raced a removePod.
   */
  addPodVolume(volume: DesiredVolume): boolean {
    const p = this.#pods.get(volume.podUid);
    if (p === undefined || !podSpecVolumes(p.pod).has(volume.outerName)) return false;
    p.volumes.set(volume.outerName, volume);
    p.errors.delete(volume.outerName);
    return true;
  }

  /** The resolved volume, or undefined (pod or volume unknown, or not resolved yet). */
  getVolume(uid: string, outerName: string): DesiredVolume | undefined {
    return this.#pods.get(uid)?.volumes.get(outerName);
  }

  /** Updates a resolved volume's content version. No-op when the volume is not resolved. */
  setContentVersion(uid: string, outerName: string, version: string): void {
    const v = this.#pods.get(uid)?.volumes.get(outerName);
    if (v !== undefined) v.contentVersion = version;
  }

  /** Records why a volume could not be resolved. No-op when the pod is not desired. */
  setVolumeError(uid: string, outerName: string, message: string): void {
    this.#pods.get(uid)?.errors.set(outerName, message);
  }

  /** Resolution errors of a pod, by outer volume name (empty for an unknown pod). */
  volumeErrors(uid: string): Map<string, string> {
    return new Map(this.#pods.get(uid)?.errors ?? []);
  }

  /** Every resolved volume of every desired pod. */
  volumesToMount(): DesiredVolume[] {
    return [...this.#pods.values()].flatMap((p) => [...p.volumes.values()]);
  }

  /** The unique names of every resolved device-mountable volume of every desired pod, without repeats. */
  uniqueVolumeNames(): Set<string> {
    const out = new Set<string>();
    for (const v of this.volumesToMount()) if (v.device !== undefined && isAttachable(v)) out.add(v.device.uniqueVolumeName);
    return out;
  }

  /** Whether the pod is desired and its spec names the volume (resolved or not). */
  isVolumeReferenced(uid: string, outerName: string): boolean {
    const p = this.#pods.get(uid);
    return p !== undefined && podSpecVolumes(p.pod).has(outerName);
  }
}

/**
 * Whether a volume counts as attachable for `status.volumesInUse`: upstream
 * reports the volumes of attachable plugins — every CSI volume, and FlexVolume
 * volumes of drivers that attach — never those of mount-only drivers.
 */
export function isAttachable(v: DesiredVolume): boolean {
  const d = v.device;
  if (d === undefined) return false;
  return d.requiresAttach || d.requiresDeviceMount || v.plugin.name === CSI_PLUGIN_NAME;
}

const CSI_PLUGIN_NAME = 'kubernetes.io/csi';
