// The node-side volume plugin contract: what the kubelet's volume manager
// calls to make a pod's volume appear in the pod's directory and to take it
// away again. It is upstream's VolumePlugin / Mounter / Unmounter (volume.go,
// plugins.go) reduced to the calls a node makes for non-attachable volumes;
// attach, device staging and block mapping come later with CSI.
//
// A plugin never talks to the API. What it needs from the node comes through
// a VolumeHost given to its constructor: the kubelet root directory, the mount
// utility, and an ObjectSource for configMaps and secrets (the kubelet backs it
// with its API client or cache; tests with a map).
//
// Volumes with a per-node step (FlexVolume drivers that attach, CSI drivers
// that stage) are DeviceMountableVolumePlugins: the volume manager mounts the
// device once per node at its device mount path (upstream MountDevice,
// CSI NodeStageVolume) before any pod's setUp, and unmounts it after the last
// pod's tearDown. When `requiresAttach` says so, the AD controller attaches
// the volume first and the volume manager waits until the node's
// `status.volumesAttached` lists its unique name (with the device path the
// attach produced), reporting it meanwhile in `status.volumesInUse` once it is
// device-mounted so that it is not detached under the pod.
//
// Directory layout (exactly as upstream, so a reader can find things):
//   <root>/pods/<podUID>/volumes/kubernetes.io~<plugin>/<volName>   a pod's volume
//   <root>/pods/<podUID>/volume-subpaths/<volName>/<container>/<i>  subPath bind mounts
//   <root>/plugins/kubernetes.io/<plugin>/…                          a plugin's global mounts

import { join } from 'node:path';
import type { KubeObject } from '../apimachinery/index.ts';
import type { PersistentVolume } from '../api/core/volume-types.ts';
import { CancelledError } from '../base/index.ts';
import type { MountUtil } from './mount/index.ts';
import type { FsGroupChangePolicy } from './util/volume-ownership.ts';
import type { CsiDriverRegistry } from './plugins/csi/registry.ts';
import type { Pod, PodVolume } from './types.ts';

/** A pod volume or a PersistentVolume a pod's claim is bound to. Exactly one of the two is set. */
export interface VolumeSpec {
  volume?: PodVolume;
  persistentVolume?: PersistentVolume;
  /** The pod asked for the volume read-only (claim's readOnly, or the source's own). */
  readOnly: boolean;
}

/** Where configMaps and secrets come from. `undefined` means "does not exist"; other failures throw. */
export interface ObjectSource {
  getConfigMap(namespace: string, name: string, signal?: AbortSignal): Promise<KubeObject | undefined>;
  getSecret(namespace: string, name: string, signal?: AbortSignal): Promise<KubeObject | undefined>;
}

/** What a plugin may use of the node it runs on. */
export interface VolumeHost {
  /** The kubelet root directory (upstream's /var/lib/kubelet). */
  rootDir: string;
  mountUtil: MountUtil;
  /** Needed by configMap, secret and projected; those fail to set up without it. */
  objects?: ObjectSource;
  nodeName?: string;
  /** The node's allocatable resources, used by resourceFieldRef when a container sets no limit. */
  nodeAllocatable?: () => Record<string, string>;
  /** Needed by the CSI plugin (kubernetes.io/csi); it refuses to be constructed without it. */
  csi?: CsiVolumeHost;
}

/**
 * What the CSI plugin needs from the node besides files and mounts: the
 * drivers registered on it (their sockets) and two kinds of API object.
 * Secrets (nodeStageSecretRef, nodePublishSecretRef) come from
 * `VolumeHost.objects`. Each getter returns undefined for an object that does
 * not exist and throws on any other failure; the node backs them with its API
 * client or informer caches, tests with maps.
 */
export interface CsiVolumeHost {
  registry: CsiDriverRegistry;
  /** storage.k8s.io/v1 CSIDriver `name`. */
  getCsiDriver(name: string, signal?: AbortSignal): Promise<KubeObject | undefined>;
  /** storage.k8s.io/v1 VolumeAttachment `name`. */
  getVolumeAttachment(name: string, signal?: AbortSignal): Promise<KubeObject | undefined>;
}

export interface NewMounterOptions {
  /** Deadline for each mount command of this volume (default: the mount utility's). */
  mountTimeoutMs?: number;
}

export interface SetUpArgs {
  /** The pod's securityContext.fsGroup: files get this group and group access. */
  fsGroup?: number;
  /** The pod's securityContext.fsGroupChangePolicy (default Always). */
  fsGroupChangePolicy?: FsGroupChangePolicy;
  signal: AbortSignal;
}

export interface Mounter {
  /** Where the volume is (or will be) on the host; the runtime bind-mounts this into containers. */
  getPath(): string;
  /**
   * Makes the volume ready at getPath(). Idempotent: calling it again on a
   * set-up volume is a no-op, except for the projection volumes (configMap,
   * secret, downwardAPI, projected) where it re-syncs the content. Throws
   * VolumeSetupError (message ready for an event) or CancelledError.
   */
  setUp(args: SetUpArgs): Promise<void>;
}

export interface Unmounter {
  getPath(): string;
  /**
   * Removes the volume from the pod's directory (unmounting what setUp
   * mounted). A volume already gone is success. Throws VolumeTearDownError or
   * CancelledError.
   */
  tearDown(signal: AbortSignal): Promise<void>;
}

export interface VolumePlugin {
  /** e.g. `kubernetes.io/empty-dir`. */
  readonly name: string;
  /** Whether this plugin handles `spec`. The plugin manager requires exactly one plugin to say yes. */
  canSupport(spec: VolumeSpec): boolean;
  /** The volume's content follows API objects, so the volume manager calls setUp again periodically. */
  readonly requiresRemount?: boolean;
  /** Throws VolumeSetupError when the spec is unusable (wrong plugin, bad name). */
  newMounter(spec: VolumeSpec, pod: Pod, opts?: NewMounterOptions): Mounter;
  newUnmounter(volName: string, podUid: string): Unmounter;
}

/** Mounts an attachable volume's device once per node (upstream DeviceMounter + WaitForAttach). */
export interface DeviceMounter {
  /**
   * Waits until the attached device is usable on this node and returns the
   * path to mount. `devicePath` is what the node's `status.volumesAttached`
   * carries ("" for volumes that are not attached by the AD controller).
   */
  waitForAttach(spec: VolumeSpec, devicePath: string, pod: Pod, timeoutMs: number, signal: AbortSignal): Promise<string>;
  /** Where the device is mounted on the node (the global / staging path). */
  getDeviceMountPath(spec: VolumeSpec, signal: AbortSignal): Promise<string>;
  /** Mounts (formatting if needed) the device at `deviceMountPath`. Idempotent: a mounted path is success. */
  mountDevice(spec: VolumeSpec, devicePath: string, deviceMountPath: string, signal: AbortSignal): Promise<void>;
}

/** Undoes mountDevice once no pod on the node uses the volume. */
export interface DeviceUnmounter {
  /** Unmounts and removes `deviceMountPath`. A path already gone is success. */
  unmountDevice(deviceMountPath: string, signal: AbortSignal): Promise<void>;
}

/**
 * A plugin whose volumes have a per-node device step (upstream
 * DeviceMountableVolumePlugin; with `requiresAttach`, AttachableVolumePlugin
 * on the node's side). The volume manager keeps one device mount per unique
 * volume name, shared by every pod on the node that uses the volume.
 */
export interface DeviceMountableVolumePlugin extends VolumePlugin {
  readonly deviceMountable: true;
  /**
   * The volume's node-wide unique name, as the node reports it in
   * `status.volumesInUse` and the AD controller in `status.volumesAttached`
   * (`kubernetes.io/csi/<driver>^<handle>`, `flexvolume-<vendor>/<driver>/<name>`).
   */
  getUniqueVolumeName(spec: VolumeSpec, signal: AbortSignal): Promise<string>;
  /** Whether the AD controller attaches `spec` before the node may mount it. */
  requiresAttach(spec: VolumeSpec, signal: AbortSignal): Promise<boolean>;
  /** Whether `spec` has a device step at all (false → the volume manager goes straight to setUp). */
  requiresDeviceMount(spec: VolumeSpec, signal: AbortSignal): Promise<boolean>;
  newDeviceMounter(): DeviceMounter;
  newDeviceUnmounter(): DeviceUnmounter;
  /**
   * For reconstruction after a node agent restart: what the pod volume
   * directory `<root>/pods/<podUid>/volumes/<plugin>/<innerName>` was set up
   * from — its unique name and device mount path — read from what setUp left
   * on disk (CSI's vol_data.json, the mount table). undefined when nothing
   * can be told; the volume is then torn down without its device step.
   */
  reconstructDeviceMount(podUid: string, innerName: string, signal: AbortSignal): Promise<ReconstructedDeviceMount | undefined>;
}

export interface ReconstructedDeviceMount {
  uniqueVolumeName: string;
  deviceMountPath: string;
}

/** Narrows a plugin to DeviceMountableVolumePlugin. */
export function isDeviceMountable(plugin: VolumePlugin): plugin is DeviceMountableVolumePlugin {
  return (plugin as Partial<DeviceMountableVolumePlugin>).deviceMountable === true;
}

export type VolumeErrorReason = 'FailedMount' | 'FailedUnMount';

/** setUp failed; `message` is what the kubelet puts after "MountVolume.SetUp failed for volume …". */
export class VolumeSetupError extends Error {
  override readonly name = 'VolumeSetupError';
  readonly reason: VolumeErrorReason = 'FailedMount';
  readonly plugin: string;
  readonly volumeName: string;
  constructor(plugin: string, volumeName: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.plugin = plugin;
    this.volumeName = volumeName;
  }
}

/** tearDown failed; the message goes into a FailedUnMount event. */
export class VolumeTearDownError extends Error {
  override readonly name = 'VolumeTearDownError';
  readonly reason: VolumeErrorReason = 'FailedUnMount';
  readonly plugin: string;
  readonly volumeName: string;
  constructor(plugin: string, volumeName: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.plugin = plugin;
    this.volumeName = volumeName;
  }
}

/** A pod UID or volume name that would not stay one path component below its parent. */
export class InvalidVolumePathError extends Error {
  override readonly name = 'InvalidVolumePathError';
  readonly what: string;
  readonly value: string;
  constructor(what: string, value: string) {
    super(`invalid ${what} ${JSON.stringify(value)}: must be a single path component`);
    this.what = what;
    this.value = value;
  }
}

function checkComponent(what: string, value: string): string {
  if (value === '' || value === '.' || value === '..' || value.includes('/') || value.includes('\0')) {
    throw new InvalidVolumePathError(what, value);
  }
  return value;
}

/** `kubernetes.io/empty-dir` → `kubernetes.io~empty-dir`, as a pod directory names it. */
export function escapePluginName(pluginName: string): string {
  return pluginName.replaceAll('/', '~');
}

/** `<root>/pods/<podUID>`. */
export function podDir(rootDir: string, podUid: string): string {
  return join(rootDir, 'pods', checkComponent('pod UID', podUid));
}

/** `<root>/pods/<podUID>/volumes/kubernetes.io~<plugin>/<volName>`. */
export function podVolumeDir(rootDir: string, podUid: string, pluginName: string, volName: string): string {
  return join(podDir(rootDir, podUid), 'volumes', escapePluginName(pluginName), checkComponent('volume name', volName));
}

/** `<root>/plugins/kubernetes.io/<plugin>`: a plugin's global (per-node) mounts. */
export function pluginDir(rootDir: string, pluginName: string): string {
  return join(rootDir, 'plugins', pluginName);
}

/** `<root>/pods/<podUID>/volume-subpaths`. */
export function podSubPathsDir(rootDir: string, podUid: string): string {
  return join(podDir(rootDir, podUid), 'volume-subpaths');
}

/** The name a spec goes by: the pod volume's name, or the PV's name. */
export function volumeSpecName(spec: VolumeSpec): string {
  return spec.volume?.name ?? spec.persistentVolume?.metadata.name ?? '';
}

/** The pod's UID, which every pod directory needs. */
export function podUidOf(pod: Pod): string {
  const uid = pod.metadata.uid;
  if (uid === undefined || uid === '') throw new InvalidVolumePathError('pod UID', '');
  return uid;
}

/**
 * Runs a plugin step and turns whatever it throws into VolumeSetupError with
 * the underlying message (cancellation stays CancelledError).
 */
export async function wrapSetup<T>(plugin: string, volName: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof CancelledError || err instanceof VolumeSetupError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new VolumeSetupError(plugin, volName, message, { cause: err });
  }
}

/** As wrapSetup, for tearDown. */
export async function wrapTearDown<T>(plugin: string, volName: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof CancelledError || err instanceof VolumeTearDownError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new VolumeTearDownError(plugin, volName, message, { cause: err });
  }
}

/** Throws CancelledError when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
