// The volume manager contract the kubelet's pod workers use: it mounts what
// the pods assigned to this node need (desired state of world), tracks what is
// mounted (actual state of world), and reconciles the two.

import type { KubeObject } from '../../apimachinery/index.ts';

export interface MountedVolume {
  /** The pod volume's name (`spec.volumes[].name`). */
  name: string;
  /** Host path the runtime bind-mounts at each volumeMount's mountPath. */
  path: string;
  readOnly: boolean;
  /** The plugin that mounted it (`kubernetes.io/empty-dir`...). */
  plugin: string;
}

export class VolumeMountTimeoutError extends Error {
  override readonly name = 'VolumeMountTimeoutError';
  readonly podUid: string;
  readonly unmounted: string[];
  constructor(podUid: string, unmounted: string[], detail: string) {
    super(`unmounted volumes=[${unmounted.join(' ')}], unattached volumes=[], failed to process volumes=[]: ${detail}`);
    this.podUid = podUid;
    this.unmounted = unmounted;
  }
}

export interface VolumeManager {
  /** Starts the populator and reconciler (after reconstructing state from disk). */
  run(signal: AbortSignal): Promise<void>;
  /** Adds or updates a pod in the desired state (idempotent). */
  addPod(pod: KubeObject): void;
  /** Removes a pod from the desired state; its volumes are unmounted by the reconciler. */
  removePod(podUid: string): void;
  /** Resolves when every volume of `pod` is mounted; throws VolumeMountTimeoutError after `timeoutMs`. */
  waitForAttachAndMount(pod: KubeObject, timeoutMs: number, signal?: AbortSignal): Promise<Map<string, MountedVolume>>;
  /** Resolves when nothing of `podUid` is mounted any more. */
  waitForUnmount(podUid: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** What is mounted for a pod now. */
  mountedVolumes(podUid: string): Map<string, MountedVolume>;
}
