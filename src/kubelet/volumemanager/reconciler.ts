// The reconciler: one pass compares the desired and the actual state of
// world and starts the operations that close the gap, in upstream's order:
//
//   1. unmount  — every recorded volume (mounted or uncertain) that no
//                 desired pod references any more: tearDown, clean its
//                 subPath binds, forget it, and remove the pod's emptied
//                 volume directories once the pod itself is gone;
//   2. mount    — every resolved desired volume not recorded as Mounted
//                 (absent, or uncertain: setUp is idempotent, so trying again
//                 is how an uncertain mount becomes certain);
//   3. remount  — every mounted volume whose plugin follows API objects
//                 (configMap, secret, downwardAPI, projected) when its content
//                 version moved or `remountPeriodMs` passed since its last
//                 setUp.
//
// The pass itself only starts operations on the executor and returns; a
// volume with an operation in flight or backing off is skipped without a
// word. Outcomes land in the actual state of world; failures of setUp become
// FailedMount events on the pod with upstream's wording.
//
// Attach: none of the in-tree plugins here is attachable. When CSI brings
// attachable volumes, step 2 first waits for the volume in the node's
// `status.volumesAttached` (the AD controller attaches) and then runs
// MountDevice (staging) before setUp — that is where the hook goes.

import { lstat, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../base/index.ts';
import { CancelledError, toError } from '../../base/index.ts';
import type { EventRecorder } from '../../client/index.ts';
import type { Mounter, MountUtil, VolumePluginManager } from '../../volume/index.ts';
import { cleanSubPaths, MountTimeoutError, pathWithinBase, podDir } from '../../volume/index.ts';
import type { ActualStateOfWorld, ActualVolume } from './cache/actual-state-of-world.ts';
import type { DesiredStateOfWorld, DesiredVolume } from './cache/desired-state-of-world.ts';
import { podRef } from './desired-state-of-world-populator.ts';
import type { OperationExecutor } from './operation-executor.ts';
import { volumeKey } from './operation-executor.ts';

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
      executor.run(volumeKey(v.podUid, v.outerName), 'unmount', () => this.#unmount(v, signal));
    }
    // 2. Mount what is desired and not (certainly) mounted; 3. remount what follows API objects.
    for (const d of dsw.volumesToMount()) {
      const a = asw.getVolume(d.podUid, d.outerName);
      const key = volumeKey(d.podUid, d.outerName);
      if (a?.state === 'Mounted' && !this.#needsRemount(d, a)) continue;
      if (!this.#isAttached(d)) continue;
      executor.run(key, 'mount', () => this.#mount(d, a?.state === 'Mounted', signal));
    }
  }

  /**
   * The attach hook. Every plugin here is non-attachable, so a volume is
   * always ready to mount. An attachable plugin (CSI with a controller
   * publish step) will be ready once the AD controller has listed it in the
   * node's `status.volumesAttached`; this is where that check goes, and a
   * volume that is not attached yet is skipped quietly, like a busy one.
   */
  #isAttached(_d: DesiredVolume): boolean {
    return true;
  }

  #needsRemount(d: DesiredVolume, a: ActualVolume): boolean {
    if (d.plugin.requiresRemount !== true) return false;
    return a.contentVersion !== d.contentVersion || this.#o.now() - a.setUpAt >= this.#o.remountPeriodMs;
  }

  async #mount(d: DesiredVolume, remount: boolean, signal: AbortSignal): Promise<void> {
    const { dsw, asw, logger, recorder } = this.#o;
    const pod = dsw.getPod(d.podUid);
    if (pod === undefined) return;
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
    };
    try {
      await mounter.setUp({ fsGroup: pod.spec?.securityContext?.fsGroup, signal });
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
