// The node half of upstream's csiAttacher (pkg/volume/csi/csi_attacher.go):
// waiting for the external attacher, and the per-node device step —
// MountDevice is CSI NodeStageVolume at the staging path, UnmountDevice is
// NodeUnstageVolume. Attach and Detach themselves belong to the AD controller
// (a VolumeAttachment) and the external attacher (ControllerPublishVolume).
//
// vol_data.json beside the staging path records driver and volume handle,
// because UnmountDevice is given only the path: it is written before
// NodeStageVolume (and kept when the driver has no STAGE_UNSTAGE_VOLUME, so
// the volume manager's unmountDevice still finds it), removed with the
// directory after NodeUnstageVolume.
//
// A failed NodeStageVolume removes the staging directory only when the
// failure is final; after a timeout, cancellation or ABORTED the driver may
// still have staged, so everything stays for the retry (which the driver
// answers idempotently) or for unmountDevice.

import { mkdir, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CancelledError, delay } from '../../../base/index.ts';
import type { NodeStageVolumeRequest, VolumeCapability } from '../../../csi/index.ts';
import type { DeviceMounter, DeviceUnmounter, VolumeSpec } from '../../plugin.ts';
import type { Pod } from '../../types.ts';
import { attachRequired, getCredentials, getPublishContext, newOperation, nodeNameOf, type CsiPluginContext } from './csi-context.ts';
import {
  blockDataDir,
  blockStagingPath,
  csiAccessMode,
  csiAttachmentName,
  csiDeviceMountPath,
  csiLog,
  csiSourceOf,
  CsiVolumeError,
  errorMessage,
  isBlockSpec,
  isUncertainCsiError,
  loadVolumeData,
  saveVolumeData,
  VOL_DATA_FILE_NAME,
  VOL_DATA_KEY,
  volumeAttachmentView,
  volumeDevicesDir,
} from './csi-util.ts';

/** waitForAttach gave up: the attachment failed, is going away, or did not happen in time. */
export class CsiAttachWaitError extends Error {
  override readonly name = 'CsiAttachWaitError';
  readonly attachmentName: string;
  readonly reason: 'AttachError' | 'Deleting' | 'Timeout';
  constructor(attachmentName: string, reason: 'AttachError' | 'Deleting' | 'Timeout', message: string, options?: ErrorOptions) {
    super(message, options);
    this.attachmentName = attachmentName;
    this.reason = reason;
  }
}

const MAX_ATTACH_POLL_MS = 2_000;

/** The staging path of `spec` (getDeviceMountPath), block or filesystem. */
export function deviceMountPathOf(rootDir: string, spec: VolumeSpec): string {
  const source = csiSourceOf(spec);
  if (source.kind !== 'persistent') {
    throw new CsiVolumeError('MountDevice', csiLog('makeDeviceMountPath failed to get CSIPersistentVolumeSource: CSIPersistentVolumeSource not defined in spec'));
  }
  return isBlockSpec(spec) ? blockStagingPath(rootDir, source.specName) : csiDeviceMountPath(rootDir, source.pv.driver, source.pv.volumeHandle);
}

/** Where the vol_data.json of a staging path lives: beside it, or for block under volumeDevices/<pv>/data. */
function stagingDataDir(rootDir: string, deviceMountPath: string): string {
  const blockStaging = join(volumeDevicesDir(rootDir), 'staging');
  if (dirname(deviceMountPath) === blockStaging) return blockDataDir(rootDir, basename(deviceMountPath));
  return dirname(deviceMountPath);
}

async function removeIfPresent(path: string, dirOnlyIfEmpty: boolean): Promise<void> {
  try {
    if (dirOnlyIfEmpty) await rmdir(path);
    else await rm(path, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST') return;
    throw err;
  }
}

export class CsiDeviceMounter implements DeviceMounter, DeviceUnmounter {
  readonly #ctx: CsiPluginContext;

  constructor(ctx: CsiPluginContext) {
    this.#ctx = ctx;
  }

  /**
   * Waits until the VolumeAttachment of (handle, driver, this node) reports
   * status.attached, polling until `timeoutMs`, and returns its name ("" for
   * a driver that does not attach, or an inline volume). Fails at once on an
   * attachError or a VolumeAttachment being deleted.
   */
  async waitForAttach(spec: VolumeSpec, _devicePath: string, _pod: Pod, timeoutMs: number, signal: AbortSignal): Promise<string> {
    const source = csiSourceOf(spec);
    if (source.kind !== 'persistent') return '';
    const { driver, volumeHandle } = source.pv;
    if (!(await attachRequired(this.#ctx, driver, signal))) return '';
    const name = csiAttachmentName(volumeHandle, driver, nodeNameOf(this.#ctx));
    const deadline = Date.now() + timeoutMs;
    let interval = this.#ctx.attachPollIntervalMs;
    let last: Error | undefined;
    for (;;) {
      if (signal.aborted) throw new CancelledError();
      try {
        const obj = await this.#ctx.csi.getVolumeAttachment(name, signal);
        if (obj === undefined) {
          last = new Error(`volume ${volumeHandle} has GET error for volume attachment ${name}: volumeattachments.storage.k8s.io "${name}" not found`);
        } else {
          const va = volumeAttachmentView(obj);
          if (va.deletionTimestamp !== undefined) throw new CsiAttachWaitError(name, 'Deleting', 'volume attachment is being deleted');
          if (va.attached) return name;
          if (va.attachError !== undefined) throw new CsiAttachWaitError(name, 'AttachError', va.attachError);
          last = new Error(`volume ${volumeHandle} is not attached for volume attachment ${name}`);
        }
      } catch (err) {
        if (err instanceof CsiAttachWaitError || err instanceof CancelledError || signal.aborted) throw err;
        last = new Error(`volume ${volumeHandle} has GET error for volume attachment ${name}: ${errorMessage(err)}`, { cause: err });
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new CsiAttachWaitError(name, 'Timeout', `timed out waiting for external-attacher of ${driver} CSI driver to attach volume ${volumeHandle}`, {
          cause: last,
        });
      }
      await delay(Math.min(interval, left), signal);
      interval = Math.min(interval * 1.5, MAX_ATTACH_POLL_MS);
    }
  }

  async getDeviceMountPath(spec: VolumeSpec): Promise<string> {
    return deviceMountPathOf(this.#ctx.host.rootDir, spec);
  }

  /**
   * NodeStageVolume at `deviceMountPath` (upstream MountDevice): the volume's
   * capability (block, or mount with the PV's fsType and mountOptions), the
   * publish context of its VolumeAttachment, nodeStageSecretRef's secret and
   * the PV's volumeAttributes. Without STAGE_UNSTAGE_VOLUME only vol_data.json
   * is written. Repeating it on a staged volume is a successful no-op.
   */
  async mountDevice(spec: VolumeSpec, _devicePath: string, deviceMountPath: string, signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const fail = (message: string, cause?: unknown): CsiVolumeError =>
      new CsiVolumeError('MountDevice', message, cause === undefined ? undefined : { cause });
    if (deviceMountPath === '') throw fail(csiLog('attacher.MountDevice failed, deviceMountPath is empty'));
    let source;
    try {
      source = csiSourceOf(spec);
    } catch (err) {
      throw fail(csiLog(`attacher.MountDevice failed to get CSIPersistentVolumeSource: ${errorMessage(err)}`), err);
    }
    if (source.kind !== 'persistent') {
      throw fail(csiLog('attacher.MountDevice failed to get CSIPersistentVolumeSource: CSIPersistentVolumeSource not defined in spec'));
    }
    const pv = source.pv;
    const op = newOperation(ctx, signal);

    try {
      await ctx.clients.client(pv.driver);
    } catch (err) {
      throw fail(csiLog(`attacher.MountDevice failed to create newCsiDriverClient: ${errorMessage(err)}`), err);
    }
    const caps = await this.#rethrow(() => ctx.clients.nodeCapabilities(pv.driver, op), fail);
    const stage = caps.has('STAGE_UNSTAGE_VOLUME');
    const publishContext = await this.#rethrow(() => getPublishContext(ctx, pv.volumeHandle, pv.driver, signal), fail);

    let secrets: Record<string, string> = {};
    const ref = pv.nodeStageSecretRef;
    if (ref !== undefined && ref !== null && stage) {
      try {
        secrets = await getCredentials(ctx, ref, signal);
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        throw fail(`fetching NodeStageSecretRef ${ref.namespace ?? ''}/${ref.name ?? ''} failed: ${errorMessage(err)}`, err);
      }
    }

    const block = isBlockSpec(spec);
    const dataDir = stagingDataDir(ctx.host.rootDir, deviceMountPath);
    try {
      await mkdir(deviceMountPath, { recursive: true, mode: 0o750 });
    } catch (err) {
      throw fail(csiLog(`attacher.MountDevice failed to create dir ${JSON.stringify(deviceMountPath)}:  ${errorMessage(err)}`), err);
    }
    try {
      await mkdir(dataDir, { recursive: true, mode: 0o750 });
      await saveVolumeData(dataDir, { [VOL_DATA_KEY.volHandle]: pv.volumeHandle, [VOL_DATA_KEY.driverName]: pv.driver });
    } catch (err) {
      await this.#removeMountDir(deviceMountPath).catch(() => {});
      throw fail(csiLog(`failed to save volume info data: ${errorMessage(err)}`), err);
    }
    if (!stage) {
      ctx.log.debug({ driver: pv.driver, deviceMountPath }, 'STAGE_UNSTAGE_VOLUME capability not set; skipping NodeStageVolume');
      return;
    }

    const accessMode = csiAccessMode(spec.persistentVolume?.spec.accessModes?.[0], caps.has('SINGLE_NODE_MULTI_WRITER'));
    const capability: VolumeCapability = block
      ? { block: {}, access_mode: { mode: accessMode } }
      : { mount: { fs_type: pv.fsType ?? '', mount_flags: [...(spec.persistentVolume?.spec.mountOptions ?? [])] }, access_mode: { mode: accessMode } };
    const request: NodeStageVolumeRequest = {
      volume_id: pv.volumeHandle,
      publish_context: publishContext,
      staging_target_path: deviceMountPath,
      volume_capability: capability,
      secrets,
      volume_context: { ...(pv.volumeAttributes ?? {}) },
    };
    try {
      const client = await ctx.clients.client(pv.driver);
      await ctx.clients.call('NodeStageVolume', op, (o) => client.node.NodeStageVolume(request, o), true);
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      // A final failure leaves nothing staged: take the directory and vol_data.json away again.
      if (!isUncertainCsiError(err)) await this.#removeMountDir(deviceMountPath).catch(() => {});
      throw fail(errorMessage(err), err);
    }
    ctx.log.debug({ driver: pv.driver, volumeHandle: pv.volumeHandle, deviceMountPath }, 'NodeStageVolume succeeded');
  }

  /**
   * NodeUnstageVolume (upstream UnmountDevice), then the staging directory
   * and its vol_data.json are removed. Without vol_data.json there is nothing
   * the plugin staged: a leftover unmounted directory is removed, a mounted
   * one is an error (no driver to ask).
   */
  async unmountDevice(deviceMountPath: string, signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const fail = (message: string, cause?: unknown): CsiVolumeError =>
      new CsiVolumeError('UnmountDevice', message, cause === undefined ? undefined : { cause });
    const dataDir = stagingDataDir(ctx.host.rootDir, deviceMountPath);
    let data;
    try {
      data = await loadVolumeData(dataDir);
    } catch (err) {
      throw fail(csiLog(`attacher.UnmountDevice failed to get driver and volume name from device mount path: ${errorMessage(err)}`), err);
    }
    if (data === undefined) {
      if (await ctx.host.mountUtil.isMountPoint(deviceMountPath)) {
        throw fail(csiLog(`attacher.UnmountDevice failed: ${deviceMountPath} is mounted but ${join(dataDir, VOL_DATA_FILE_NAME)} does not exist`));
      }
      await this.#removeMountDir(deviceMountPath);
      return;
    }
    const driver = data[VOL_DATA_KEY.driverName] ?? '';
    const volumeId = data[VOL_DATA_KEY.volHandle] ?? '';
    const op = newOperation(ctx, signal);
    let client;
    try {
      client = await ctx.clients.client(driver);
    } catch (err) {
      throw fail(csiLog(`attacher.UnmountDevice failed to create newCsiDriverClient: ${errorMessage(err)}`), err);
    }
    let caps;
    try {
      caps = await ctx.clients.nodeCapabilities(driver, op);
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      throw fail(csiLog(`attacher.UnmountDevice failed to check whether STAGE_UNSTAGE_VOLUME set: ${errorMessage(err)}`), err);
    }
    if (caps.has('STAGE_UNSTAGE_VOLUME')) {
      try {
        await ctx.clients.call('NodeUnstageVolume', op, (o) => client.node.NodeUnstageVolume({ volume_id: volumeId, staging_target_path: deviceMountPath }, o), true);
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        throw fail(csiLog(`attacher.UnmountDevice failed: ${errorMessage(err)}`), err);
      }
    }
    try {
      await this.#removeMountDir(deviceMountPath);
    } catch (err) {
      throw fail(csiLog(`failed to clean up global mount ${dataDir}: ${errorMessage(err)}`), err);
    }
  }

  /** Upstream removeMountDir for a staging path: only when nothing is mounted there. */
  async #removeMountDir(deviceMountPath: string): Promise<void> {
    const root = this.#ctx.host.rootDir;
    if (await this.#ctx.host.mountUtil.isMountPoint(deviceMountPath)) return;
    const dataDir = stagingDataDir(root, deviceMountPath);
    await removeIfPresent(deviceMountPath, true);
    await removeIfPresent(join(dataDir, VOL_DATA_FILE_NAME), false);
    await removeIfPresent(dataDir, true);
    // Block keeps its data one level deeper (volumeDevices/<pv>/data).
    if (dataDir !== dirname(deviceMountPath)) await removeIfPresent(dirname(dataDir), true);
  }

  async #rethrow<T>(step: () => Promise<T>, fail: (message: string, cause?: unknown) => CsiVolumeError): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      throw fail(errorMessage(err), err);
    }
  }
}
