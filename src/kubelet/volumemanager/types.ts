// The volume manager contract the kubelet's pod workers use: it mounts what
// the pods assigned to this node need (desired state of world), tracks what is
// mounted (actual state of world), and reconciles the two.

import type { KubeObject } from '../../apimachinery/index.ts';
import type { Disposable } from '../../base/index.ts';

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
  /** Volumes whose spec could not be resolved (unbound claim, missing PV...). */
  readonly failedToProcess: string[];
  /** Volumes still waiting for the AD controller (not in the node's `status.volumesAttached`). */
  readonly unattached: string[];
  constructor(podUid: string, unmounted: string[], detail: string, failedToProcess: string[] = [], unattached: string[] = []) {
    super(`unmounted volumes=[${unmounted.join(' ')}], unattached volumes=[${unattached.join(' ')}], failed to process volumes=[${failedToProcess.join(' ')}]: ${detail}`);
    this.podUid = podUid;
    this.unmounted = unmounted;
    this.failedToProcess = failedToProcess;
    this.unattached = unattached;
  }
}

/** waitForUnmount ran out of time; `mounted` lists what was still there (mounted or uncertain). */
export class VolumeUnmountTimeoutError extends Error {
  override readonly name = 'VolumeUnmountTimeoutError';
  readonly podUid: string;
  readonly mounted: string[];
  constructor(podUid: string, mounted: string[], detail: string) {
    super(`mounted volumes=[${mounted.join(' ')}]: ${detail}`);
    this.podUid = podUid;
    this.mounted = mounted;
  }
}

export interface VolumeManager {
  /**
   * Reconstructs state from disk, then runs the populator and reconciler
   * until `signal` aborts; resolves once every operation in flight has
   * settled. Throws VolumeManagerStateError when called twice.
   */
  run(signal: AbortSignal): Promise<void>;
  /** Adds or updates a pod in the desired state (idempotent). */
  addPod(pod: KubeObject): void;
  /** Removes a pod from the desired state; its volumes are unmounted by the reconciler. No-op for an unknown pod. */
  removePod(podUid: string): void;
  /**
   * Resolves when every volume of `pod` is mounted (adding the pod to the
   * desired state first when it is not there); throws
   * VolumeMountTimeoutError after `timeoutMs`, CancelledError on `signal`.
   */
  waitForAttachAndMount(pod: KubeObject, timeoutMs: number, signal?: AbortSignal): Promise<Map<string, MountedVolume>>;
  /**
   * Resolves when nothing of `podUid` is mounted any more (neither mounted
   * nor uncertain); throws VolumeUnmountTimeoutError after `timeoutMs`.
   */
  waitForUnmount(podUid: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** What is mounted for a pod now (uncertain volumes are left out). */
  mountedVolumes(podUid: string): Map<string, MountedVolume>;
  // The three below are optional so that fakes of the older contract still
  // fit; the real volume manager has them and the kubelet uses them when present.
  /**
   * The unique names of the device-mountable volumes this node uses — those
   * the desired state wants and those still device-mounted or mounted in a
   * pod (upstream GetVolumesInUse: desired ∪ actual) — sorted. The kubelet
   * writes them to the Node's `status.volumesInUse`.
   */
  getVolumesInUse?(): string[];
  /**
   * Whether the actual state has been rebuilt from disk (upstream
   * ReconcilerStatesHasBeenSynced). Before that getVolumesInUse() knows only
   * part of the truth and must not be reported: an empty list could let the
   * AD controller detach a volume still mounted here.
   */
  reconcilerStatesHasBeenSynced?(): boolean;
  /** Calls `listener` when getVolumesInUse() or reconcilerStatesHasBeenSynced() changes; dispose to stop. */
  onVolumesInUseChange?(listener: () => void): Disposable;
}
