// The reconciler: one pass compares the desired and the actual state of
// world and starts the operations that close the gap, in upstream's order
// (reconciler_common.go):
//
//   1. unmount  — every recorded pod volume (mounted or uncertain) that no
//                 desired pod references any more: tearDown, clean its
//                 subPath binds, forget it, and remove the pod's emptied
//                 volume directories once the pod itself is gone;
//   2. mount    — every resolved desired volume not recorded as Mounted
//                 (absent, or uncertain: setUp is idempotent, so trying again
//                 is how an uncertain mount becomes certain);
//      remount  — every mounted volume whose plugin follows API objects
//                 (configMap, secret, downwardAPI, projected) when its content
//                 version moved or `remountPeriodMs` passed since its last
//                 setUp;
//   3. unmount devices — every device (mounted or uncertain) whose unique
//                 volume name no desired volume has and no pod volume on the
//                 node still uses: unmountDevice at the recorded path.
//
// A device-mountable volume (FlexVolume, CSI) mounts in up to three steps,
// as upstream's GenerateMountVolumeFunc:
//   - attached?  When the plugin says the AD controller attaches it, the
//     volume is skipped quietly until this node's `status.volumesAttached`
//     lists its unique name, and until the node's stored
//     `status.volumesInUse` lists it too (upstream's ReportedInUse: the AD
//     controller must know the node is about to use the volume before the
//     node mounts it, or it could detach it under the mount). The entry's
//     devicePath goes to waitForAttach.
//   - waitForAttach → getDeviceMountPath → mountDevice, once per unique
//     volume name and node; the device is recorded DeviceGloballyMounted
//     (or uncertain) and later pods skip this step;
//   - setUp, per pod, as for every other volume.
// All mounts of one device-mountable volume are serialised with each other
// and with its UnmountDevice (operation key = the unique name alone); pod
// tearDowns of it are keyed by unique name and pod, so two pods' tearDowns
// may run together but never beside the device's own operations.
//
// The pass itself only starts operations on the executor and returns; a
// volume with an operation in flight or backing off is skipped without a
// word. Outcomes land in the actual state of world; failures become
// FailedMount events on the pod with upstream's wording
// (`MountVolume.WaitForAttach failed for volume "x" : …`,
// `MountVolume.MountDevice failed for volume "x" : …`,
// `MountVolume.SetUp failed for volume "x" : …`).

import { lstat, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../base/index.ts';
import { CancelledError, toError } from '../../base/index.ts';
import type { EventRecorder } from '../../client/index.ts';
import type { DeviceMounter, Mounter, MountUtil, Pod, VolumePluginManager } from '../../volume/index.ts';
import { cleanSubPaths, isDeviceMountable, MountTimeoutError, pathWithinBase, podDir } from '../../volume/index.ts';
import type { ActualDevice, ActualStateOfWorld, ActualVolume } from './cache/actual-state-of-world.ts';
import type { DesiredStateOfWorld, DesiredVolume } from './cache/desired-state-of-world.ts';
import { podRef } from './desired-state-of-world-populator.ts';
import type { OperationExecutor, OperationKey } from './operation-executor.ts';
import { volumeKey } from './operation-executor.ts';

/** What this node's Node object says about attached volumes, as last seen by the volume manager. */
export interface NodeVolumes {
  /** `status.volumesAttached`: unique volume name → device path. */
  attached: ReadonlyMap<string, string>;
  /** `status.volumesInUse` as stored. */
  reportedInUse: ReadonlySet<string>;
}

/** Upstream's waitForAttachTimeout. */
export const DEFAULT_WAIT_FOR_ATTACH_TIMEOUT_MS = 10 * 60_000;

/** A device plugin step failed; `message` is the event's text (upstream's "<op> failed for volume …"). */
export class DeviceOperationError extends Error {
  override readonly name = 'DeviceOperationError';
  readonly operation: string;
  readonly volumeName: string;
  constructor(operation: string, volumeName: string, cause: unknown) {
    super(`${operation} failed for volume "${volumeName}" : ${toError(cause).message}`, { cause });
    this.operation = operation;
    this.volumeName = volumeName;
  }
}

export interface ReconcilerOptions {
  dsw: DesiredStateOfWorld;
  asw: ActualStateOfWorld;
  executor: OperationExecutor;
  plugins: VolumePluginManager;
  mountUtil: MountUtil;
  root: string;
  logger: Logger;
  recorder: EventRecorder;
  remountPeriodMs: number;
  now: () => number;
  /** The node's attach state (volumesAttached, volumesInUse) as last seen; empty until the node is known. */
  nodeVolumes: () => NodeVolumes;
  /** Deadline handed to waitForAttach. */
  waitForAttachTimeoutMs: number;
}

/** Whether `path` is a mount point; a failing check counts as "maybe", i.e. yes. */
async function mayBeMountPoint(mountUtil: MountUtil, path: string): Promise<boolean> {
  return mountUtil.isMountPoint(path).catch(() => true);
}

/** Whether `err` (or what caused it) says the mount may still be in progress or half done. */
function isUncertainError(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof MountTimeoutError || e instanceof CancelledError) return true;
  }
  return false;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** rmdir that treats "not empty" and "not there" as fine. */
async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw err;
  }
}

/**
 * Removes `<pod>/volumes/*`, `<pod>/volumes`, `<pod>/volume-subpaths` and
 * `<pod>` — each only when empty. Used once a pod that is gone has lost its
 * last volume; whatever else lives in the pod directory keeps it.
 */
export async function removeEmptyPodDirs(root: string, podUid: string): Promise<void> {
  const dir = podDir(root, podUid);
  let pluginDirs: string[] = [];
  try {
    pluginDirs = await readdir(join(dir, 'volumes'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
  }
  for (const p of pluginDirs) await removeIfEmpty(join(dir, 'volumes', p));
  await removeIfEmpty(join(dir, 'volumes'));
  await removeIfEmpty(join(dir, 'volume-subpaths'));
  await removeIfEmpty(dir);
}

export class Reconciler {
  readonly #o: ReconcilerOptions;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  /** One pass: starts the operations that are due. Never throws; never waits for an operation. */
  reconcile(signal: AbortSignal): void {
    const { dsw, asw, executor } = this.#o;
    // 1. Unmount what no desired pod references.
    for (const v of asw.allVolumes()) {
      if (dsw.isVolumeReferenced(v.podUid, v.outerName)) continue;
      executor.run(this.#podVolumeKey(v.podUid, v.outerName, v.uniqueVolumeName), 'unmount', () => this.#unmount(v, signal));
    }
    // 2. Mount what is desired and not (certainly) mounted; remount what follows API objects.
    for (const d of dsw.volumesToMount()) {
      const a = asw.getVolume(d.podUid, d.outerName);
      if (a?.state === 'Mounted' && !this.#needsRemount(d, a)) continue;
      const devicePath = this.#attachedDevicePath(d);
      if (devicePath === undefined) continue;
      const key: string | OperationKey = d.device === undefined ? volumeKey(d.podUid, d.outerName) : { volume: d.device.uniqueVolumeName };
      executor.run(key, 'mount', () => this.#mount(d, a?.state === 'Mounted', devicePath, signal));
    }
    // 3. Unmount the devices no desired volume and no pod volume uses any more.
    const inUse = dsw.uniqueVolumeNames();
    for (const v of asw.allVolumes()) if (v.uniqueVolumeName !== undefined) inUse.add(v.uniqueVolumeName);
    for (const dev of asw.allDevices()) {
      if (inUse.has(dev.uniqueVolumeName)) continue;
      executor.run({ volume: dev.uniqueVolumeName }, 'unmountDevice', () => this.#unmountDevice(dev, signal));
    }
  }

  /** A pod volume's operation key: nested under its device's unique name when it has one. */
  #podVolumeKey(podUid: string, outerName: string, uniqueVolumeName: string | undefined): string | OperationKey {
    const key = volumeKey(podUid, outerName);
    return uniqueVolumeName === undefined ? key : { volume: uniqueVolumeName, pod: key };
  }

  /**
   * The attach check (upstream's VerifyControllerAttachedVolume): the device
   * path the AD controller reported, '' for volumes nobody attaches, or
   * undefined when the volume is not attached (or not reported in use) yet —
   * skipped quietly, like a busy one, until the node's status changes.
   */
  #attachedDevicePath(d: DesiredVolume): string | undefined {
    if (d.device?.requiresAttach !== true) return '';
    const node = this.#o.nodeVolumes();
    const devicePath = node.attached.get(d.device.uniqueVolumeName);
    if (devicePath === undefined || !node.reportedInUse.has(d.device.uniqueVolumeName)) return undefined;
    return devicePath;
  }

  /** Whether the volume waits for the AD controller (for waitForAttachAndMount's "unattached volumes"). */
  isUnattached(d: DesiredVolume): boolean {
    return this.#attachedDevicePath(d) === undefined;
  }

  #needsRemount(d: DesiredVolume, a: ActualVolume): boolean {
    if (d.plugin.requiresRemount !== true) return false;
    return a.contentVersion !== d.contentVersion || this.#o.now() - a.setUpAt >= this.#o.remountPeriodMs;
  }

  async #mount(d: DesiredVolume, remount: boolean, devicePath: string, signal: AbortSignal): Promise<void> {
    const { dsw, asw, logger, recorder } = this.#o;
    const pod = dsw.getPod(d.podUid);
    if (pod === undefined) return;
    // The pass that started this saw the volume unmounted; a mount of another pod of the same device may have finished since.
    if (!remount && asw.getVolume(d.podUid, d.outerName)?.state === 'Mounted') return;
    if (d.device !== undefined) {
      try {
        await this.#mountDevice(d, pod, devicePath, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        logger.warn({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, volume: d.outerName, err: toError(err) }, 'mounting the device failed');
        if (err instanceof DeviceOperationError) recorder.event(podRef(pod), 'Warning', 'FailedMount', err.message);
        throw err;
      }
    }
    // Captured before setUp: a change that lands during setUp triggers another one.
    const contentVersion = d.contentVersion;
    let mounter: Mounter;
    try {
      mounter = d.plugin.newMounter(d.spec, pod);
    } catch (err) {
      const message = `MountVolume.NewMounter initialization failed for volume "${d.innerName}" : ${toError(err).message}`;
      recorder.event(podRef(pod), 'Warning', 'FailedMount', message);
      throw err;
    }
    const record = {
      podUid: d.podUid,
      outerName: d.outerName,
      innerName: d.innerName,
      pluginName: d.plugin.name,
      path: mounter.getPath(),
      readOnly: d.spec.readOnly,
      contentVersion,
      setUpAt: this.#o.now(),
      ...(d.device === undefined ? {} : { uniqueVolumeName: d.device.uniqueVolumeName }),
    };
    try {
      const securityContext = pod.spec?.securityContext;
      const policy = securityContext?.fsGroupChangePolicy;
      await mounter.setUp({
        fsGroup: securityContext?.fsGroup,
        ...(policy === 'OnRootMismatch' || policy === 'Always' ? { fsGroupChangePolicy: policy } : {}),
        signal,
      });
    } catch (err) {
      // Something may be (half) mounted: remember it so that it is retried or torn down, never lost.
      if (isUncertainError(err) || (pathWithinBase(record.path, podDir(this.#o.root, d.podUid)) && (await exists(record.path)))) {
        asw.markVolumeMountAsUncertain({ ...record, contentVersion: '' });
      }
      if (signal.aborted) throw err;
      const message = `MountVolume.SetUp failed for volume "${d.innerName}" : ${toError(err).message}`;
      logger.warn({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, volume: d.outerName, remount, err: toError(err) }, 'MountVolume.SetUp failed');
      recorder.event(podRef(pod), 'Warning', 'FailedMount', message);
      throw err;
    }
    asw.markVolumeAsMounted(record);
    logger.debug({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, volume: d.outerName, remount }, 'MountVolume.SetUp succeeded');
  }

  /**
   * The device steps of a device-mountable volume: waitForAttach when it is
   * attached, then (unless the device is already globally mounted)
   * getDeviceMountPath and mountDevice. Throws DeviceOperationError (the
   * event's text) or CancelledError.
   */
  async #mountDevice(d: DesiredVolume, pod: Pod, attachedDevicePath: string, signal: AbortSignal): Promise<void> {
    const { asw, logger, mountUtil } = this.#o;
    const device = d.device;
    if (device === undefined || !isDeviceMountable(d.plugin)) return;
    const current = asw.getDevice(device.uniqueVolumeName);
    const needsDeviceMount = device.requiresDeviceMount && current?.deviceMountState !== 'DeviceGloballyMounted';
    if (!device.requiresAttach && !needsDeviceMount) return;
    const step = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        if (signal.aborted || err instanceof CancelledError) throw err;
        throw new DeviceOperationError(operation, d.innerName, err);
      }
    };
    let mounter: DeviceMounter;
    try {
      mounter = d.plugin.newDeviceMounter();
    } catch (err) {
      throw new DeviceOperationError('MountVolume.NewDeviceMounter initialization', d.innerName, err);
    }
    let devicePath = attachedDevicePath;
    if (device.requiresAttach) {
      devicePath = await step('MountVolume.WaitForAttach', () => mounter.waitForAttach(d.spec, attachedDevicePath, pod, this.#o.waitForAttachTimeoutMs, signal));
    }
    if (!needsDeviceMount) return;
    const deviceMountPath = await step('MountVolume.GetDeviceMountPath', () => mounter.getDeviceMountPath(d.spec, signal));
    const record = { uniqueVolumeName: device.uniqueVolumeName, pluginName: d.plugin.name, devicePath, deviceMountPath };
    try {
      await step('MountVolume.MountDevice', () => mounter.mountDevice(d.spec, devicePath, deviceMountPath, signal));
    } catch (err) {
      // As upstream's markDeviceErrorState: maybe mounted → uncertain; definitely not, after an uncertain state → forgotten.
      if (isUncertainError(err) || (await mayBeMountPoint(mountUtil, deviceMountPath))) {
        asw.markDeviceAsUncertain(record);
      } else if (asw.getDevice(device.uniqueVolumeName)?.deviceMountState === 'DeviceMountUncertain') {
        asw.markDeviceAsUnmounted(device.uniqueVolumeName);
      }
      throw err;
    }
    asw.markDeviceAsMounted(record);
    logger.info({ volume: d.innerName, uniqueVolumeName: device.uniqueVolumeName, deviceMountPath }, 'MountVolume.MountDevice succeeded');
  }

  /** UnmountDevice once no pod on the node uses the volume (upstream GenerateUnmountDeviceFunc). */
  async #unmountDevice(dev: ActualDevice, signal: AbortSignal): Promise<void> {
    const { dsw, asw, plugins, logger } = this.#o;
    // The pass that started this may be stale: a pod may want or have mounted the volume since.
    const u = dev.uniqueVolumeName;
    if (dsw.uniqueVolumeNames().has(u) || asw.isDeviceUsedByPods(u) || asw.getDevice(u) === undefined) return;
    try {
      const plugin = plugins.findPluginByName(dev.pluginName);
      if (!isDeviceMountable(plugin)) throw new Error(`plugin ${plugin.name} is not device-mountable`);
      await plugin.newDeviceUnmounter().unmountDevice(dev.deviceMountPath, signal);
    } catch (err) {
      if (!signal.aborted) {
        logger.warn({ uniqueVolumeName: dev.uniqueVolumeName, deviceMountPath: dev.deviceMountPath, err: toError(err) }, 'UnmountDevice failed');
      }
      throw err;
    }
    asw.markDeviceAsUnmounted(dev.uniqueVolumeName);
    logger.info({ uniqueVolumeName: dev.uniqueVolumeName, deviceMountPath: dev.deviceMountPath }, 'UnmountDevice succeeded');
  }

  async #unmount(v: ActualVolume, signal: AbortSignal): Promise<void> {
    const { dsw, asw, plugins, mountUtil, root, logger } = this.#o;
    try {
      const unmounter = plugins.findPluginByName(v.pluginName).newUnmounter(v.innerName, v.podUid);
      await unmounter.tearDown(signal);
      await cleanSubPaths(mountUtil, podDir(root, v.podUid), v.outerName, signal);
    } catch (err) {
      if (!signal.aborted) {
        logger.warn({ podUid: v.podUid, volume: v.outerName, err: toError(err) }, 'UnmountVolume.TearDown failed');
      }
      throw err;
    }
    asw.markVolumeAsUnmounted(v.podUid, v.outerName);
    logger.debug({ podUid: v.podUid, volume: v.outerName }, 'UnmountVolume.TearDown succeeded');
    if (!dsw.hasPod(v.podUid) && asw.volumesForPod(v.podUid).length === 0) {
      await removeEmptyPodDirs(root, v.podUid);
    }
  }
}
