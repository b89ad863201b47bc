// FlexVolume: volume plugins that are executables on the node (seed 001 §4,
// seed 003 §3). A driver lives at `<plugin dir>/<vendor>~<driver>/<driver>`;
// each operation is one run of it (`<driver> mount <dir> <json>`), and its
// stdout is a small JSON status. This file is one driver seen as a volume
// plugin — upstream's flexVolumePlugin, flexVolumeAttachablePlugin, mounter,
// unmounter, attacher and detacher (pkg/volume/flexvolume) — named
// `<vendor>/<driver>` like upstream; probe.ts finds drivers and keeps one
// FlexVolumePlugin per driver up to date.
//
// The lifecycle of an attachable driver's volume, and who calls what:
//
//   AD controller     attach <json> <node>                 → device (e.g. /dev/loop3)
//   volume manager    waitforattach <device> <json>         → device, once it is usable on this node
//                     mountdevice <global dir> <device> <json>
//                         global dir = <root>/plugins/kubernetes.io/flexvolume/<vendor>/<driver>/mounts/<volumeName>
//                     mount <pod dir> <json>               (Mounter.setUp)
//                         pod dir = <root>/pods/<uid>/volumes/<vendor>~<driver>/<volName>
//                         "Not supported" → bind-mount the global dir into the pod dir
//   teardown, in reverse:
//                     unmount <pod dir>                    (Unmounter.tearDown; "Not supported" → umount)
//                     unmountdevice <global dir>           ("Not supported" → umount)
//   AD controller     detach <volumeName> <node>
//
// A mount-only driver (init says `"attach": false`) gets only mount/unmount:
// the Mounter is all there is, and `attacher` is undefined.
//
// For the volume manager the plugin is a DeviceMountableVolumePlugin: the
// unique volume name is `flexvolume-<vendor>/<driver>/<getvolumename>`;
// an attaching driver requires attach and a device mount (waitforattach +
// mountdevice once per node, unmountdevice after the last pod), a mount-only
// driver neither (straight to mount). After a kubelet restart the device
// mount is found again from the mount table: the pod directory is a bind of
// `<mounts dir>/<volumeName>` (the default mount), or — when the driver
// mounted the pod directory itself — the mounts dir has the volume's name.
//
// "Not supported" answers fall back to what Kubernetes does by itself
// (attach → no device, waitforattach → the given device, mountdevice →
// format-if-empty and mount, detach → nothing, isattached → assume attached,
// getvolumename → the spec's name). Teardown also falls back when the
// executable has vanished, so removing a driver never strands a mount.
//
// Isolation: every call is its own process with its own deadline, and each
// plugin holds only its driver's state (capabilities, "Not supported"
// memory), so one driver hanging or failing never touches another's volumes.

import { mkdir, realpath, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { silentLogger, type Logger } from '../../../base/index.ts';
import type {
  DeviceMountableVolumePlugin,
  DeviceMounter,
  DeviceUnmounter,
  Mounter,
  NewMounterOptions,
  ReconstructedDeviceMount,
  SetUpArgs,
  Unmounter,
  VolumeHost,
  VolumeSpec,
} from '../../plugin.ts';
import {
  InvalidVolumePathError,
  pluginDir,
  podUidOf,
  podVolumeDir,
  VolumeSetupError,
  volumeSpecName,
  wrapSetup,
  wrapTearDown,
} from '../../plugin.ts';
import type { Pod } from '../../types.ts';
import { setVolumeOwnership } from '../../util/volume-ownership.ts';
import { defaultCapabilities, FlexDriver, type CallOptions, type DriverCapabilities } from './driver-call.ts';
import { FlexDriverMissingError, FlexDriverNotSupportedError } from './errors.ts';
import { formatAndMount, resizeFilesystem } from './format.ts';
import {
  addSecretsToOptions,
  driverOf,
  fsTypeOf,
  newOptionsForDriver,
  OPTION_FS_GROUP,
  OPTION_KEY_POD_NAME,
  OPTION_KEY_POD_NAMESPACE,
  OPTION_KEY_POD_UID,
  OPTION_KEY_SERVICE_ACCOUNT_NAME,
  readOnlyOf,
} from './options.ts';
import { pathExists } from '../../util/path-exists.ts';

/** The name under which FlexVolume keeps its global (per-node) mounts. */
export const FLEX_VOLUME_PLUGIN_NAME = 'kubernetes.io/flexvolume';
/** Where a kubelet looks for drivers unless told otherwise. */
export const DEFAULT_FLEX_VOLUME_PLUGIN_DIR = '/usr/libexec/kubernetes/kubelet-plugins/volume/exec/';

/** `vendor~driver` → `vendor/driver` (upstream's UnescapeQualifiedName). */
export function driverNameFromDir(dirName: string): string {
  return dirName.replaceAll('~', '/');
}

/** `<plugin dir>/<vendor>~<driver>/<driver>`: the executable's name is the driver name's last part. */
export function driverExecutablePath(pluginDirPath: string, dirName: string): string {
  const parts = driverNameFromDir(dirName).split('/');
  return join(pluginDirPath, dirName, parts[parts.length - 1]);
}

/**
 * The node-wide unique name of a FlexVolume volume, as the kubelet reports it
 * in `status.volumesInUse` and the AD controller in `status.volumesAttached`:
 * upstream's plugin name `flexvolume-<vendor>/<driver>`, a slash, and the
 * driver's volume name (getVolumeName).
 */
export function flexUniqueVolumeName(driverName: string, volumeName: string): string {
  return `flexvolume-${driverName}/${volumeName}`;
}

/** `<root>/plugins/kubernetes.io/flexvolume/<vendor>/<driver>/mounts`. */
export function flexMountsDir(rootDir: string, driverName: string): string {
  return join(pluginDir(rootDir, FLEX_VOLUME_PLUGIN_NAME), driverName, 'mounts');
}

function checkVolumeName(name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new InvalidVolumePathError('volume name', name);
  }
  return name;
}

async function removeDirIfExists(path: string): Promise<void> {
  try {
    await rmdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Whether a teardown step may fall back to Kubernetes' own unmount. */
function fallsBack(err: unknown): boolean {
  return err instanceof FlexDriverNotSupportedError || err instanceof FlexDriverMissingError;
}

/**
 * - `uninitialized`: created, `init` not (yet) successful.
 * - `ready`: `init` succeeded; the plugin supports specs naming its driver.
 * - `removed`: the executable went away (or a changed one failed `init`);
 *   specs are no longer supported, but teardown of what is mounted still works.
 */
export type FlexPluginState = 'uninitialized' | 'ready' | 'removed';

export interface FlexVolumePluginOptions {
  host: VolumeHost;
  /** The directory holding `<vendor>~<driver>/` directories. */
  pluginDir: string;
  /** The driver's directory name, `<vendor>~<driver>`. */
  dirName: string;
  /** Deadline of each driver call (default DEFAULT_DRIVER_CALL_TIMEOUT_MS). */
  callTimeoutMs?: number;
  logger?: Logger;
}

/** Options of ExpandVolume's node half (`expandfs`). */
export interface NodeExpandArgs {
  spec: VolumeSpec;
  devicePath: string;
  deviceMountPath: string;
  newSizeBytes: bigint;
  oldSizeBytes: bigint;
  signal?: AbortSignal;
}

/**
 * The attach/detach half of an attachable driver, for the AD controller
 * (attach, detach, isAttached) and the kubelet's volume manager
 * (waitForAttach, getDeviceMountPath, mountDevice, unmountDevice). Driver
 * failures surface as the FlexDriver* errors of errors.ts (and
 * CancelledError); "Not supported" never does, it takes the default.
 */
export interface AttachableFlexVolume {
  /** `attach <json> <node>`: the device path on the node ("" when the driver does not attach). */
  attach(spec: VolumeSpec, nodeName: string, signal?: AbortSignal): Promise<string>;
  /** `waitforattach <device> <json>`, with `timeoutMs` as the call's deadline: the device to mount. */
  waitForAttach(spec: VolumeSpec, devicePath: string, timeoutMs: number, signal?: AbortSignal): Promise<string>;
  /** `isattached <json> <node>`; a driver that does not say is assumed attached. */
  isAttached(spec: VolumeSpec, nodeName: string, signal?: AbortSignal): Promise<boolean>;
  /** `<root>/plugins/kubernetes.io/flexvolume/<vendor>/<driver>/mounts/<volumeName>`. */
  getDeviceMountPath(spec: VolumeSpec, signal?: AbortSignal): Promise<string>;
  /**
   * `mountdevice <dir> <device> <json>`. A no-op when `deviceMountPath` is
   * already a mount point. "Not supported" → format the device if it has no
   * filesystem, then mount it (nothing when devicePath is "").
   */
  mountDevice(spec: VolumeSpec, devicePath: string, deviceMountPath: string, signal?: AbortSignal): Promise<void>;
  /** `detach <volumeName> <node>` (upstream's docs call the argument "mount device"). */
  detach(volumeName: string, nodeName: string, signal?: AbortSignal): Promise<void>;
  /**
   * `unmountdevice <dir>` when `deviceMountPath` is mounted, then removes the
   * directory. Missing path: no-op. "Not supported" or a vanished driver → umount.
   */
  unmountDevice(deviceMountPath: string, signal?: AbortSignal): Promise<void>;
}

export class FlexVolumePlugin implements DeviceMountableVolumePlugin {
  /** `<vendor>/<driver>`, as upstream names a FlexVolume plugin. */
  readonly name: string;
  readonly requiresRemount = false;
  readonly deviceMountable = true;
  readonly dirName: string;
  readonly driver: FlexDriver;
  readonly #host: VolumeHost;
  readonly #log: Logger;
  #capabilities: DriverCapabilities = defaultCapabilities();
  #state: FlexPluginState = 'uninitialized';
  #attacher: AttachableFlexVolume | undefined;

  constructor(options: FlexVolumePluginOptions) {
    this.#host = options.host;
    this.dirName = options.dirName;
    this.name = driverNameFromDir(options.dirName);
    this.#log = (options.logger ?? silentLogger()).child({ plugin: this.name });
    this.driver = new FlexDriver({
      name: this.name,
      execPath: driverExecutablePath(options.pluginDir, options.dirName),
      timeoutMs: options.callTimeoutMs,
      logger: options.logger,
    });
  }

  get state(): FlexPluginState {
    return this.#state;
  }

  /** What the last successful `init` reported (upstream's defaults before that). */
  get capabilities(): Readonly<DriverCapabilities> {
    return { ...this.#capabilities };
  }

  /** The attach/detach half, when `init` said the driver attaches; undefined otherwise. */
  get attacher(): AttachableFlexVolume | undefined {
    if (!this.#capabilities.attach) return undefined;
    return this.#deviceOps();
  }

  /** The attach/device half regardless of capabilities (teardown must work after a driver changed its mind). */
  #deviceOps(): AttachableFlexVolume {
    this.#attacher ??= new FlexAttacher(this, this.#host, this.#log);
    return this.#attacher;
  }

  /** `flexvolume-<vendor>/<driver>/<volumeName>`; throws what getvolumename throws. */
  async getUniqueVolumeName(spec: VolumeSpec, signal: AbortSignal): Promise<string> {
    return flexUniqueVolumeName(this.name, await this.getVolumeName(spec, signal));
  }

  /** The driver said `"attach": true` at init. */
  async requiresAttach(_spec: VolumeSpec, _signal: AbortSignal): Promise<boolean> {
    return this.#capabilities.attach;
  }

  /** As requiresAttach: a mount-only driver has no device step. */
  async requiresDeviceMount(_spec: VolumeSpec, _signal: AbortSignal): Promise<boolean> {
    return this.#capabilities.attach;
  }

  newDeviceMounter(): DeviceMounter {
    const ops = this.#deviceOps();
    return {
      waitForAttach: (spec, devicePath, _pod, timeoutMs, signal) => ops.waitForAttach(spec, devicePath, timeoutMs, signal),
      getDeviceMountPath: (spec, signal) => ops.getDeviceMountPath(spec, signal),
      mountDevice: (spec, devicePath, deviceMountPath, signal) => ops.mountDevice(spec, devicePath, deviceMountPath, signal),
    };
  }

  newDeviceUnmounter(): DeviceUnmounter {
    const ops = this.#deviceOps();
    return { unmountDevice: (deviceMountPath, signal) => ops.unmountDevice(deviceMountPath, signal) };
  }

  /**
   * The device mount behind `<root>/pods/<podUid>/volumes/<vendor>~<driver>/<innerName>`:
   * the entry of the mounts dir that the pod directory is a bind of (same
   * filesystem, same root), else the mounts dir entry named like the pod
   * volume when it exists; undefined when neither is found.
   */
  async reconstructDeviceMount(podUid: string, innerName: string, _signal: AbortSignal): Promise<ReconstructedDeviceMount | undefined> {
    const mountsDir = flexMountsDir(this.#host.rootDir, this.name);
    const podPath = podVolumeDir(this.#host.rootDir, podUid, this.name, innerName);
    const realMountsDir = await realpath(mountsDir).catch(() => mountsDir);
    const realPodPath = await realpath(podPath).catch(() => podPath);
    const mounts = await this.#host.mountUtil.listMounts();
    const pod = mounts.findLast((m) => m.mountPoint === realPodPath);
    if (pod !== undefined) {
      const global = mounts.find((m) => m.majorMinor === pod.majorMinor && m.root === pod.root && dirname(m.mountPoint) === realMountsDir);
      if (global !== undefined) {
        const volumeName = basename(global.mountPoint);
        return { uniqueVolumeName: flexUniqueVolumeName(this.name, volumeName), deviceMountPath: join(mountsDir, volumeName) };
      }
    }
    const byName = join(mountsDir, checkVolumeName(innerName));
    if (await pathExists(byName)) return { uniqueVolumeName: flexUniqueVolumeName(this.name, innerName), deviceMountPath: byName };
    return undefined;
  }

  /**
   * Runs `init`, records the capabilities, forgets earlier "Not supported"
   * answers and marks the plugin ready. On failure the plugin is marked
   * removed (when it was ready) and the driver error is thrown.
   */
  async init(opts: CallOptions = {}): Promise<DriverCapabilities> {
    this.driver.resetUnsupported();
    try {
      const status = await this.driver.call('init', [], opts);
      this.#capabilities = { ...status.capabilities };
      this.#state = 'ready';
      return this.capabilities;
    } catch (err) {
      if (this.#state === 'ready') this.#state = 'removed';
      throw err;
    }
  }

  /** The prober saw the executable go away. */
  markRemoved(): void {
    this.#state = 'removed';
  }

  canSupport(spec: VolumeSpec): boolean {
    return this.#state === 'ready' && driverOf(spec) === this.name;
  }

  /**
   * `getvolumename <json>`: the driver's name for the volume, or the spec's
   * name when it has none ("Not supported" or an empty answer). It names the
   * global mount directory, so it must be a single path component.
   */
  async getVolumeName(spec: VolumeSpec, signal?: AbortSignal): Promise<string> {
    try {
      const status = await this.driver.call('getvolumename', [{ options: newOptionsForDriver(spec) }], { signal });
      if (status.volumeName !== '') return checkVolumeName(status.volumeName);
    } catch (err) {
      if (!(err instanceof FlexDriverNotSupportedError)) throw err;
    }
    return checkVolumeName(volumeSpecName(spec));
  }

  /** `<root>/plugins/kubernetes.io/flexvolume/<vendor>/<driver>/mounts/<volumeName>`. */
  async getDeviceMountPath(spec: VolumeSpec, signal?: AbortSignal): Promise<string> {
    return join(flexMountsDir(this.#host.rootDir, this.name), await this.getVolumeName(spec, signal));
  }

  newMounter(spec: VolumeSpec, pod: Pod, opts: NewMounterOptions = {}): Mounter {
    const volName = volumeSpecName(spec);
    const driver = driverOf(spec);
    if (driver === undefined) throw new VolumeSetupError(this.name, volName, 'spec does not reference a FlexVolume volume type');
    if (driver !== this.name) throw new VolumeSetupError(this.name, volName, `spec names driver ${JSON.stringify(driver)}, not ${this.name}`);
    const dir = podVolumeDir(this.#host.rootDir, podUidOf(pod), this.name, volName);
    return new FlexVolumeMounter(this, this.#host, this.#log, spec, pod, dir, opts);
  }

  newUnmounter(volName: string, podUid: string): Unmounter {
    return new FlexVolumeUnmounter(this, this.#host, volName, podVolumeDir(this.#host.rootDir, podUid, this.name, volName));
  }

  /**
   * `expandvolume <json> <device mount path> <new size> <old size>` (sizes
   * in bytes): the size after expansion. "Not supported" → newSize.
   */
  async expandVolumeDevice(spec: VolumeSpec, newSizeBytes: bigint, oldSizeBytes: bigint, signal?: AbortSignal): Promise<bigint> {
    const deviceMountPath = await this.getDeviceMountPath(spec, signal);
    try {
      await this.driver.call('expandvolume', [{ options: newOptionsForDriver(spec) }, deviceMountPath, String(newSizeBytes), String(oldSizeBytes)], { signal });
    } catch (err) {
      if (!(err instanceof FlexDriverNotSupportedError)) throw err;
    }
    return newSizeBytes;
  }

  /**
   * `expandfs <json> <device> <device mount path> <new size> <old size>`,
   * PersistentVolumes only. "Not supported" → resize2fs / xfs_growfs.
   */
  async nodeExpand(args: NodeExpandArgs): Promise<boolean> {
    if (args.spec.persistentVolume === undefined) {
      throw new Error(`PersistentVolume not found for spec: ${volumeSpecName(args.spec)}`);
    }
    try {
      await this.driver.call('expandfs', [
        { options: newOptionsForDriver(args.spec) },
        args.devicePath,
        args.deviceMountPath,
        String(args.newSizeBytes),
        String(args.oldSizeBytes),
      ], { signal: args.signal });
    } catch (err) {
      if (!(err instanceof FlexDriverNotSupportedError)) throw err;
      await resizeFilesystem(args.devicePath, args.deviceMountPath, { signal: args.signal, timeoutMs: this.driver.timeoutMs });
    }
    return true;
  }
}

class FlexVolumeMounter implements Mounter {
  readonly #plugin: FlexVolumePlugin;
  readonly #host: VolumeHost;
  readonly #log: Logger;
  readonly #spec: VolumeSpec;
  readonly #pod: Pod;
  readonly #dir: string;
  readonly #opts: NewMounterOptions;

  constructor(plugin: FlexVolumePlugin, host: VolumeHost, log: Logger, spec: VolumeSpec, pod: Pod, dir: string, opts: NewMounterOptions) {
    this.#plugin = plugin;
    this.#host = host;
    this.#log = log;
    this.#spec = spec;
    this.#pod = pod;
    this.#dir = dir;
    this.#opts = opts;
  }

  getPath(): string {
    return this.#dir;
  }

  setUp(args: SetUpArgs): Promise<void> {
    const plugin = this.#plugin;
    const mountUtil = this.#host.mountUtil;
    const dir = this.#dir;
    const readOnly = readOnlyOf(this.#spec);
    return wrapSetup(plugin.name, volumeSpecName(this.#spec), async () => {
      // Mount only once: a mounted pod dir is a set-up volume.
      if (await mountUtil.isMountPoint(dir)) return;
      await mkdir(dir, { recursive: true, mode: 0o750 });
      try {
        const namespace = this.#pod.metadata.namespace ?? 'default';
        const extra: Record<string, string> = {
          [OPTION_KEY_POD_NAME]: this.#pod.metadata.name ?? '',
          [OPTION_KEY_POD_NAMESPACE]: namespace,
          [OPTION_KEY_POD_UID]: this.#pod.metadata.uid ?? '',
          [OPTION_KEY_SERVICE_ACCOUNT_NAME]: this.#pod.spec?.serviceAccountName ?? '',
        };
        await addSecretsToOptions(extra, this.#spec, namespace, plugin.name, this.#host.objects, args.signal);
        if (args.fsGroup !== undefined) extra[OPTION_FS_GROUP] = String(args.fsGroup);
        try {
          await plugin.driver.call('mount', [dir, { options: newOptionsForDriver(this.#spec, extra) }], { signal: args.signal });
        } catch (err) {
          if (!(err instanceof FlexDriverNotSupportedError)) throw err;
          // Kubernetes' default: the device was mounted at the global path; bind it in.
          const src = await plugin.getDeviceMountPath(this.#spec, args.signal);
          this.#log.debug({ src, dir }, 'mount not supported by the driver: bind-mounting the device mount path');
          await mountUtil.bindMount(src, dir, readOnly, { signal: args.signal, timeoutMs: this.#opts.mountTimeoutMs });
        }
      } catch (err) {
        // Leave no empty (or half-mounted) pod directory behind a failed setUp.
        await mountUtil.cleanupMountPoint(dir).catch(() => {});
        throw err;
      }
      if (!readOnly && plugin.capabilities.fsGroup) await setVolumeOwnership(dir, args.fsGroup, false, args.fsGroupChangePolicy);
    });
  }
}

class FlexVolumeUnmounter implements Unmounter {
  readonly #plugin: FlexVolumePlugin;
  readonly #host: VolumeHost;
  readonly #volName: string;
  readonly #dir: string;

  constructor(plugin: FlexVolumePlugin, host: VolumeHost, volName: string, dir: string) {
    this.#plugin = plugin;
    this.#host = host;
    this.#volName = volName;
    this.#dir = dir;
  }

  getPath(): string {
    return this.#dir;
  }

  tearDown(signal: AbortSignal): Promise<void> {
    const mountUtil = this.#host.mountUtil;
    const dir = this.#dir;
    return wrapTearDown(this.#plugin.name, this.#volName, async () => {
      if (!(await pathExists(dir))) return;
      try {
        await this.#plugin.driver.call('unmount', [dir], { signal });
      } catch (err) {
        if (!fallsBack(err)) throw err;
        // Kubernetes' default (also when the driver is gone): unmount what is there.
        for (let i = 0; i < 16 && (await mountUtil.isMountPoint(dir)); i++) await mountUtil.unmount(dir, { signal });
      }
      // The driver may have removed the directory itself.
      if (!(await pathExists(dir))) return;
      if (await mountUtil.isMountPoint(dir)) throw new Error(`${dir} is still mounted after unmount`);
      await removeDirIfExists(dir);
    });
  }
}

class FlexAttacher implements AttachableFlexVolume {
  readonly #plugin: FlexVolumePlugin;
  readonly #host: VolumeHost;
  readonly #log: Logger;

  constructor(plugin: FlexVolumePlugin, host: VolumeHost, log: Logger) {
    this.#plugin = plugin;
    this.#host = host;
    this.#log = log;
  }

  async attach(spec: VolumeSpec, nodeName: string, signal?: AbortSignal): Promise<string> {
    try {
      return (await this.#plugin.driver.call('attach', [{ options: newOptionsForDriver(spec) }, nodeName], { signal })).device;
    } catch (err) {
      if (err instanceof FlexDriverNotSupportedError) return '';
      throw err;
    }
  }

  async waitForAttach(spec: VolumeSpec, devicePath: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
    try {
      const status = await this.#plugin.driver.call('waitforattach', [devicePath, { options: newOptionsForDriver(spec) }], { signal, timeoutMs });
      return status.device;
    } catch (err) {
      if (err instanceof FlexDriverNotSupportedError) return devicePath;
      throw err;
    }
  }

  async isAttached(spec: VolumeSpec, nodeName: string, signal?: AbortSignal): Promise<boolean> {
    try {
      return (await this.#plugin.driver.call('isattached', [{ options: newOptionsForDriver(spec) }, nodeName], { signal })).attached;
    } catch (err) {
      // Upstream returns no verdict, which its callers read as "still attached".
      if (err instanceof FlexDriverNotSupportedError) return true;
      throw err;
    }
  }

  getDeviceMountPath(spec: VolumeSpec, signal?: AbortSignal): Promise<string> {
    return this.#plugin.getDeviceMountPath(spec, signal);
  }

  async mountDevice(spec: VolumeSpec, devicePath: string, deviceMountPath: string, signal?: AbortSignal): Promise<void> {
    const mountUtil = this.#host.mountUtil;
    if (await mountUtil.isMountPoint(deviceMountPath)) return;
    await mkdir(deviceMountPath, { recursive: true, mode: 0o750 });
    try {
      await this.#plugin.driver.call('mountdevice', [deviceMountPath, devicePath, { options: newOptionsForDriver(spec) }], { signal });
    } catch (err) {
      if (!(err instanceof FlexDriverNotSupportedError)) {
        await this.#removeUnmounted(deviceMountPath);
        throw err;
      }
      // A driver that does not attach has no device to mount.
      if (devicePath === '') return;
      this.#log.debug({ devicePath, deviceMountPath }, 'mountdevice not supported by the driver: formatting (if empty) and mounting');
      try {
        await formatAndMount(mountUtil, devicePath, deviceMountPath, fsTypeOf(spec), readOnlyOf(spec), {
          signal,
          timeoutMs: this.#plugin.driver.timeoutMs,
        });
      } catch (mountErr) {
        await this.#removeUnmounted(deviceMountPath);
        throw mountErr;
      }
    }
  }

  async detach(volumeName: string, nodeName: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#plugin.driver.call('detach', [volumeName, nodeName], { signal });
    } catch (err) {
      if (!(err instanceof FlexDriverNotSupportedError)) throw err;
    }
  }

  async unmountDevice(deviceMountPath: string, signal?: AbortSignal): Promise<void> {
    const mountUtil = this.#host.mountUtil;
    if (!(await pathExists(deviceMountPath))) return;
    if (await mountUtil.isMountPoint(deviceMountPath)) {
      try {
        await this.#plugin.driver.call('unmountdevice', [deviceMountPath], { signal });
      } catch (err) {
        if (!fallsBack(err)) throw err;
        for (let i = 0; i < 16 && (await mountUtil.isMountPoint(deviceMountPath)); i++) await mountUtil.unmount(deviceMountPath, { signal });
      }
    }
    if (!(await pathExists(deviceMountPath))) return;
    if (await mountUtil.isMountPoint(deviceMountPath)) throw new Error(`${deviceMountPath} is still mounted after unmountdevice`);
    await removeDirIfExists(deviceMountPath);
  }

  async #removeUnmounted(dir: string): Promise<void> {
    if (!(await this.#host.mountUtil.isMountPoint(dir).catch(() => true))) await removeDirIfExists(dir).catch(() => {});
  }
}
