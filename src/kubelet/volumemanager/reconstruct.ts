// Reconstruction: what a volume manager that just started finds on disk
// from its previous life, turned into actual state before the first pass.
// Without it a restarted kubelet would either mount everything a second time
// (stacking a fresh, empty tmpfs over a Memory emptyDir) or never clean up
// the volumes of pods deleted while it was down.
//
// Upstream (reconstruct.go) scans the pod directories; so do we:
//   <root>/pods/<uid>/volumes/<escaped plugin>/<name>     one volume each
//   <root>/pods/<uid>/volume-subpaths/<name>/…           subPath binds
// and reads the mount table to tell a mounted tmpfs from a bare directory.
//
// What counts as desired: the pods the kubelet has already added, plus the
// pods the API says are assigned to this node and not finished — these are
// added to the desired state here, as the kubelet's pod manager would
// (upstream reconstructs only after the populator has seen every pod
// source). Then each volume found is:
//   - of a desired pod, matched to a resolved volume (same plugin, same
//     inner name): adopted as Mounted, as it is — never set up again, so
//     nothing is remounted or reformatted. Exceptions: a Memory emptyDir or
//     a device-mountable volume whose directory is not a mount point is
//     Uncertain (its mount is gone, after a reboot say), so setUp (and
//     mountDevice, unless the device is found mounted) runs again;
//   - of a desired pod but not matched: Uncertain under its inner name; the
//     reconciler tears it down unless the pod's spec names it;
//   - of any other pod: Uncertain, so the first pass tears it down and
//     removes the emptied pod directories.
// A volume of a device-mountable plugin (FlexVolume, CSI) also tells, through
// the plugin's reconstructDeviceMount, which unique volume it is and where
// its device is mounted: a device mount path that is a mount point is
// recorded DeviceGloballyMounted (so a desired volume is neither mounted nor
// formatted again and an undesired one gets unmountDevice after its
// tearDown); one that exists but is not a mount point is uncertain (the next
// mount or unmountDevice sorts it out). When the plugin cannot tell and no
// desired volume matches, the volume is torn down without its device step.
// Leftover subPath binds of pods that are not desired are cleaned here.
// A directory whose plugin is unknown is left alone with a warning: we do not
// delete what we cannot interpret.

import { lstat, readdir, realpath } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';
import type { RestClient } from '../../client/index.ts';
import { resourcePath, resources } from '../../client/index.ts';
import type { MountUtil, Pod, ReconstructedDeviceMount, VolumePluginManager } from '../../volume/index.ts';
import { isDeviceMountable, cleanSubPaths, CONTAINER_SUBPATH_DIRECTORY_NAME, EMPTY_DIR_PLUGIN_NAME, podDir, podVolumeDir, STORAGE_MEDIUM_MEMORY } from '../../volume/index.ts';
import type { ActualStateOfWorld } from './cache/actual-state-of-world.ts';
import type { DesiredStateOfWorld } from './cache/desired-state-of-world.ts';
import { removeEmptyPodDirs } from './reconciler.ts';

/** One volume directory found under `<root>/pods`. */
export interface PodVolumeDir {
  podUid: string;
  pluginName: string;
  innerName: string;
  path: string;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

/** Every `<root>/pods/<uid>/volumes/<plugin>/<name>`, plugin names unescaped (`~` → `/`). */
export async function scanPodVolumeDirs(root: string): Promise<{ pods: string[]; volumes: PodVolumeDir[] }> {
  const pods = await readdirOrEmpty(join(root, 'pods'));
  const volumes: PodVolumeDir[] = [];
  for (const podUid of pods) {
    const volumesDir = join(root, 'pods', podUid, 'volumes');
    for (const escaped of await readdirOrEmpty(volumesDir)) {
      for (const innerName of await readdirOrEmpty(join(volumesDir, escaped))) {
        volumes.push({ podUid, pluginName: escaped.replaceAll('~', '/'), innerName, path: join(volumesDir, escaped, innerName) });
      }
    }
  }
  return { pods, volumes };
}

/** The pods the API has on `nodeName` that are not finished. Throws the API's error. */
export async function listAssignedPods(client: RestClient, nodeName: string, signal: AbortSignal): Promise<Pod[]> {
  const path = `${resourcePath(resources.pods)}?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`;
  const list = await client.get<{ items?: Pod[] }>(path, { signal });
  return (list.items ?? []).filter((p) => {
    const phase = (p.status as { phase?: string } | undefined)?.phase;
    return p.spec?.nodeName === nodeName && phase !== 'Succeeded' && phase !== 'Failed';
  });
}

export interface ReconstructOptions {
  root: string;
  nodeName: string;
  client: RestClient;
  plugins: VolumePluginManager;
  mountUtil: MountUtil;
  dsw: DesiredStateOfWorld;
  asw: ActualStateOfWorld;
  logger: Logger;
  /** Adds an assigned pod to the desired state (the volume manager's addPod). */
  addPod: (pod: Pod) => void;
  /** One populator pass, so that claims of desired pods are resolved before matching. */
  populate: (signal: AbortSignal) => Promise<void>;
  now: () => number;
  signal: AbortSignal;
}

/** Rebuilds the actual state from disk. Throws when the API cannot list the node's pods (nothing is changed then). */
export async function reconstruct(o: ReconstructOptions): Promise<void> {
  const assigned = await listAssignedPods(o.client, o.nodeName, o.signal);
  for (const pod of assigned) {
    if (pod.metadata.uid !== undefined && !o.dsw.hasPod(pod.metadata.uid)) o.addPod(pod);
  }
  await o.populate(o.signal);

  const { pods, volumes } = await scanPodVolumeDirs(o.root);
  const realRoot = await realpath(o.root).catch(() => o.root);
  const mountPoints = new Set((await o.mountUtil.listMounts()).map((m) => m.mountPoint));
  const isMountPoint = (path: string): boolean => mountPoints.has(join(realRoot, relative(o.root, path)));
  const isMountPointAnywhere = async (path: string): Promise<boolean> => mountPoints.has(await realpath(path).catch(() => path));
  const existsPath = (path: string): Promise<boolean> => lstat(path).then(() => true, () => false);

  for (const found of volumes) {
    let plugin;
    try {
      plugin = o.plugins.findPluginByName(found.pluginName);
    } catch (err) {
      o.logger.warn({ path: found.path, err: toError(err) }, 'volume directory of an unknown plugin left alone');
      continue;
    }
    let device: ReconstructedDeviceMount | undefined;
    if (isDeviceMountable(plugin)) {
      try {
        device = await plugin.reconstructDeviceMount(found.podUid, found.innerName, o.signal);
      } catch (err) {
        o.logger.warn({ path: found.path, err: toError(err) }, 'could not tell the device of a reconstructed volume; it is torn down without unmountDevice');
      }
      if (device !== undefined && o.asw.getDevice(device.uniqueVolumeName) === undefined) {
        const record = { uniqueVolumeName: device.uniqueVolumeName, pluginName: plugin.name, devicePath: '', deviceMountPath: device.deviceMountPath };
        if (await isMountPointAnywhere(device.deviceMountPath)) {
          o.logger.info({ uniqueVolumeName: device.uniqueVolumeName, deviceMountPath: device.deviceMountPath }, 'reconstructed device adopted as globally mounted');
          o.asw.markDeviceAsMounted(record);
        } else if (await existsPath(device.deviceMountPath)) {
          o.asw.markDeviceAsUncertain(record);
        }
      }
    }
    const base = {
      podUid: found.podUid,
      innerName: found.innerName,
      pluginName: plugin.name,
      path: found.path,
      readOnly: false,
      contentVersion: '',
      setUpAt: o.now(),
      ...(device === undefined ? {} : { uniqueVolumeName: device.uniqueVolumeName }),
    };
    const pod = o.dsw.getPod(found.podUid);
    const match = pod === undefined
      ? undefined
      : o.dsw.volumesToMount().find((d) => d.podUid === found.podUid && d.plugin.name === plugin.name && d.innerName === found.innerName);
    // The resolved spec knows the unique name for sure; what was read from disk is second best.
    if (match?.device !== undefined) base.uniqueVolumeName = match.device.uniqueVolumeName;
    if (pod === undefined || match === undefined) {
      o.logger.info({ path: found.path, desired: pod !== undefined, mounted: isMountPoint(found.path) }, 'reconstructed volume to tear down');
      o.asw.markVolumeMountAsUncertain({ ...base, outerName: found.innerName });
      continue;
    }
    let path = found.path;
    try {
      path = plugin.newMounter(match.spec, pod).getPath();
    } catch {
      // Keep the directory we found.
    }
    const adopted = { ...base, outerName: match.outerName, path, readOnly: match.spec.readOnly };
    const memory = plugin.name === EMPTY_DIR_PLUGIN_NAME && match.spec.volume?.emptyDir?.medium === STORAGE_MEDIUM_MEMORY;
    if (memory && !isMountPoint(podVolumeDir(o.root, found.podUid, plugin.name, found.innerName))) {
      o.logger.info({ path }, 'reconstructed Memory emptyDir has no tmpfs; it will be set up again');
      o.asw.markVolumeMountAsUncertain(adopted);
      continue;
    }
    // A device-mountable volume's mounter path (CSI's …/mount) is always a mount; a bare directory lost it (a reboot).
    if (isDeviceMountable(plugin) && !isMountPoint(path)) {
      o.logger.info({ path }, 'reconstructed volume is not mounted; it will be set up again');
      o.asw.markVolumeMountAsUncertain(adopted);
      continue;
    }
    o.logger.info({ path, volume: match.outerName }, 'reconstructed volume adopted as mounted');
    o.asw.markVolumeAsMounted(adopted);
  }

  // Pods that are gone and own no volume directory any more: subPath leftovers and empty directories.
  for (const uid of pods) {
    if (o.dsw.hasPod(uid) || o.asw.volumesForPod(uid).length > 0) continue;
    let dir: string;
    try {
      dir = podDir(o.root, uid);
    } catch {
      continue;
    }
    for (const volName of await readdirOrEmpty(join(dir, CONTAINER_SUBPATH_DIRECTORY_NAME))) {
      await cleanSubPaths(o.mountUtil, dir, volName, o.signal).catch((err: unknown) => {
        o.logger.warn({ dir, volume: volName, err: toError(err) }, 'cleaning leftover subPaths failed');
      });
    }
    await removeEmptyPodDirs(o.root, uid).catch((err: unknown) => {
      o.logger.warn({ dir, err: toError(err) }, 'removing an orphaned pod directory failed');
    });
  }
}
