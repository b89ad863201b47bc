// A pod's use of a CSI volume (upstream csiMountMgr in csi_mounter.go, and
// the publish half of csiBlockMapper in csi_block.go): SetUp is
// NodePublishVolume, TearDown is NodeUnpublishVolume.
//
// Filesystem volumes are published at `<pod volume dir>/mount`; block
// volumes at a file under `plugins/kubernetes.io/csi/volumeDevices/publish/
// <pv>/<podUID>`, on which the driver bind-mounts the device node. In both
// cases getPath() is the published path and the runtime bind-mounts it into
// the container — at a volumeMount's mountPath, or for block at a
// volumeDevice's devicePath (a file bind mount of a device node is a usable
// device node). The pod volume directory always holds vol_data.json, which
// TearDown and reconstruction after a restart read.
//
// setUp asks the driver every time (NodePublishVolume is idempotent), so a
// retry after a timeout converges. A final failure removes what setUp
// created; an uncertain one (timeout, ABORTED, UNAVAILABLE) leaves it, since
// the driver may have published.

import { mkdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CancelledError } from '../../../base/index.ts';
import type { NodePublishVolumeRequest, VolumeCapability } from '../../../csi/index.ts';
import type { Mounter, NewMounterOptions, SetUpArgs, Unmounter, VolumeSpec } from '../../plugin.ts';
import { podUidOf, wrapSetup, wrapTearDown } from '../../plugin.ts';
import type { Pod } from '../../types.ts';
import { setVolumeOwnership } from '../../util/volume-ownership.ts';
import { deviceMountPathOf } from './csi-attacher.ts';
import { getCredentials, getCsiDriverSpec, getPublishContext, newOperation, nodeNameOf, type CsiPluginContext } from './csi-context.ts';
import {
  blockPublishPath,
  CSI_PLUGIN_NAME,
  csiAccessMode,
  csiAttachmentName,
  csiLog,
  csiPodVolumeDir,
  CsiVolumeError,
  errorMessage,
  inlineVolumeHandle,
  isBlockSpec,
  isUncertainCsiError,
  lifecycleModeOf,
  loadVolumeData,
  loadVolumeDataSync,
  POD_INFO_KEY,
  saveVolumeData,
  VOL_DATA_FILE_NAME,
  VOL_DATA_KEY,
  type CsiDriverSpec,
  type CsiSource,
  type SecretReference,
  type VolumeData,
} from './csi-util.ts';
import { pathExists } from '../../util/path-exists.ts';

/** Go's %q of a string slice, as upstream prints volumeLifecycleModes: `["Persistent" "Ephemeral"]`. */
function goQuoteList(values: readonly string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(' ')}]`;
}

/** Why the driver cannot serve a volume of this lifecycle mode, or undefined (upstream supportsVolumeLifecycleMode). */
export function lifecycleModeRefusal(driver: string, spec: CsiDriverSpec | undefined, mode: 'Persistent' | 'Ephemeral'): string | undefined {
  if (spec === undefined) return mode === 'Persistent' ? undefined : `volume mode "${mode}" not supported by driver ${driver} (no CSIDriver object)`;
  const modes = spec.volumeLifecycleModes ?? ['Persistent'];
  if (modes.includes(mode)) return undefined;
  return `volume mode "${mode}" not supported by driver ${driver} (only supports ${goQuoteList(modes)})`;
}

function podInfoAttributes(pod: Pod, mode: 'Persistent' | 'Ephemeral'): Record<string, string> {
  return {
    [POD_INFO_KEY.podName]: pod.metadata.name ?? '',
    [POD_INFO_KEY.podNamespace]: pod.metadata.namespace ?? '',
    [POD_INFO_KEY.podUid]: pod.metadata.uid ?? '',
    [POD_INFO_KEY.serviceAccountName]: pod.spec?.serviceAccountName ?? '',
    [POD_INFO_KEY.ephemeral]: String(mode === 'Ephemeral'),
  };
}

async function removeIfPresent(path: string, kind: 'dir' | 'any'): Promise<void> {
  try {
    if (kind === 'dir') await rmdir(path);
    else await rm(path, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST') return;
    if (code === 'ENOTDIR') {
      await rm(path, { force: true });
      return;
    }
    throw err;
  }
}

/**
 * Removes a publish target that is no longer mounted, vol_data.json and the
 * pod volume directory (upstream removeMountDir). A target still mounted
 * stays and is reported, so a volume is never recorded as gone while mounted.
 */
async function removePublishDirs(ctx: CsiPluginContext, podVolDir: string, target: string, block: boolean): Promise<void> {
  if (await ctx.host.mountUtil.isMountPoint(target)) throw new Error(`${target} is still mounted`);
  await removeIfPresent(target, block ? 'any' : 'dir');
  if (block) await removeIfPresent(dirname(target), 'dir');
  await removeIfPresent(join(podVolDir, VOL_DATA_FILE_NAME), 'any');
  await removeIfPresent(podVolDir, 'dir');
}

export class CsiMounter implements Mounter {
  readonly #ctx: CsiPluginContext;
  readonly #spec: VolumeSpec;
  readonly #source: CsiSource;
  readonly #pod: Pod;
  readonly #podUid: string;
  readonly #podVolDir: string;
  readonly #block: boolean;
  readonly #volumeHandle: string;
  readonly #readOnly: boolean;

  constructor(ctx: CsiPluginContext, spec: VolumeSpec, source: CsiSource, pod: Pod, _opts: NewMounterOptions) {
    this.#ctx = ctx;
    this.#spec = spec;
    this.#source = source;
    this.#pod = pod;
    this.#podUid = podUidOf(pod);
    this.#podVolDir = csiPodVolumeDir(ctx.host.rootDir, this.#podUid, source.specName);
    this.#block = isBlockSpec(spec);
    if (source.kind === 'persistent') {
      this.#volumeHandle = source.pv.volumeHandle;
      this.#readOnly = spec.readOnly || source.pv.readOnly === true;
    } else {
      this.#volumeHandle = inlineVolumeHandle(this.#podUid, source.specName);
      this.#readOnly = spec.readOnly || source.inline.readOnly === true;
    }
  }

  /** Filesystem: `<pod volume dir>/mount`; block: the device file under volumeDevices/publish. */
  getPath(): string {
    return this.#block ? blockPublishPath(this.#ctx.host.rootDir, this.#source.specName, this.#podUid) : join(this.#podVolDir, 'mount');
  }

  setUp(args: SetUpArgs): Promise<void> {
    return wrapSetup(CSI_PLUGIN_NAME, this.#source.specName, () => this.#setUp(args));
  }

  async #setUp({ fsGroup, fsGroupChangePolicy, signal }: SetUpArgs): Promise<void> {
    const ctx = this.#ctx;
    const source = this.#source;
    const driver = source.kind === 'persistent' ? source.pv.driver : source.inline.driver;
    const mode = lifecycleModeOf(source);
    const fail = (message: string, cause?: unknown): CsiVolumeError => new CsiVolumeError('SetUp', message, cause === undefined ? undefined : { cause });
    const op = newOperation(ctx, signal);

    let client;
    try {
      client = await ctx.clients.client(driver);
    } catch (err) {
      throw fail(csiLog(`mounter.SetUpAt failed to get CSI client: ${errorMessage(err)}`), err);
    }

    let driverSpec: CsiDriverSpec | undefined;
    try {
      driverSpec = await getCsiDriverSpec(ctx, driver, signal);
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      throw fail(csiLog(`mounter.SetupAt failed to check volume lifecycle mode: ${errorMessage(err)}`), err);
    }
    const refusal = lifecycleModeRefusal(driver, driverSpec, mode);
    if (refusal !== undefined) throw fail(csiLog(`mounter.SetupAt failed to check volume lifecycle mode: ${refusal}`));
    const fsGroupPolicy = driverSpec === undefined ? 'ReadWriteOnceWithFSType' : driverSpec.fsGroupPolicy;
    if (fsGroupPolicy === undefined || fsGroupPolicy === '') {
      throw fail(csiLog(`mounter.SetupAt failed to check fsGroup policy: ${csiLog('expected valid fsGroupPolicy, received nil value or empty string')}`));
    }

    let caps;
    try {
      caps = await ctx.clients.nodeCapabilities(driver, op);
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      throw fail(csiLog(`mounter.SetUpAt failed to check for STAGE_UNSTAGE_VOLUME capability: ${errorMessage(err)}`), err);
    }

    let fsType: string;
    let attributes: Record<string, string>;
    let secretRef: SecretReference | undefined;
    let accessModeName: string | undefined;
    let mountOptions: string[] = [];
    let stagingPath = '';
    let publishContext: Record<string, string> = {};
    if (source.kind === 'persistent') {
      fsType = source.pv.fsType ?? '';
      attributes = { ...(source.pv.volumeAttributes ?? {}) };
      secretRef = source.pv.nodePublishSecretRef ?? undefined;
      accessModeName = this.#spec.persistentVolume?.spec.accessModes?.[0];
      mountOptions = [...(this.#spec.persistentVolume?.spec.mountOptions ?? [])];
      if (caps.has('STAGE_UNSTAGE_VOLUME')) stagingPath = deviceMountPathOf(ctx.host.rootDir, this.#spec);
      try {
        publishContext = await getPublishContext(ctx, this.#volumeHandle, driver, signal);
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        throw fail(csiLog(`mounter.SetUpAt failed to fetch publishContext: ${errorMessage(err)}`), err);
      }
    } else {
      fsType = source.inline.fsType ?? '';
      attributes = { ...(source.inline.volumeAttributes ?? {}) };
      const name = source.inline.nodePublishSecretRef?.name;
      if (name !== undefined) secretRef = { name, namespace: this.#pod.metadata.namespace ?? '' };
    }

    const target = this.getPath();
    const parent = dirname(target);
    try {
      await mkdir(this.#podVolDir, { recursive: true, mode: 0o750 });
      await mkdir(parent, { recursive: true, mode: 0o750 });
    } catch (err) {
      throw fail(csiLog(`mounter.SetUpAt failed to create dir ${JSON.stringify(parent)}:  ${errorMessage(err)}`), err);
    }

    let secrets: Record<string, string> = {};
    if (secretRef !== undefined) {
      try {
        secrets = await getCredentials(ctx, secretRef, signal);
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        throw fail(`fetching NodePublishSecretRef ${secretRef.namespace ?? ''}/${secretRef.name ?? ''} failed: ${errorMessage(err)}`, err);
      }
    }
    if (driverSpec?.podInfoOnMount === true) Object.assign(attributes, podInfoAttributes(this.#pod, mode));

    // A driver with VOLUME_MOUNT_GROUP applies fsGroup itself, at mount time.
    const mountGroup = !this.#block && caps.has('VOLUME_MOUNT_GROUP') && fsGroup !== undefined;

    const nodeName = nodeNameOf(ctx);
    const volData: VolumeData = {
      [VOL_DATA_KEY.specVolID]: source.specName,
      [VOL_DATA_KEY.volHandle]: this.#volumeHandle,
      [VOL_DATA_KEY.driverName]: driver,
      [VOL_DATA_KEY.nodeName]: nodeName,
      [VOL_DATA_KEY.volumeLifecycleMode]: mode,
      [VOL_DATA_KEY.attachmentID]: csiAttachmentName(this.#volumeHandle, driver, nodeName),
    };
    if (this.#block) volData[VOL_DATA_KEY.volumeMode] = 'Block';
    try {
      await saveVolumeData(this.#podVolDir, volData);
    } catch (err) {
      throw fail(csiLog(`mounter.SetUpAt failed to save volume info data: ${errorMessage(err)}`), err);
    }

    const accessMode = { mode: csiAccessMode(accessModeName, caps.has('SINGLE_NODE_MULTI_WRITER')) };
    const capability: VolumeCapability = this.#block
      ? { block: {}, access_mode: accessMode }
      : {
          mount: { fs_type: fsType, mount_flags: mountOptions, ...(mountGroup ? { volume_mount_group: String(fsGroup) } : {}) },
          access_mode: accessMode,
        };
    const request: NodePublishVolumeRequest = {
      volume_id: this.#volumeHandle,
      publish_context: publishContext,
      staging_target_path: stagingPath,
      target_path: target,
      volume_capability: capability,
      readonly: this.#readOnly,
      secrets,
      volume_context: attributes,
    };
    try {
      await ctx.clients.call('NodePublishVolume', op, (o) => client.node.NodePublishVolume(request, o), true);
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      if (!isUncertainCsiError(err)) await removePublishDirs(ctx, this.#podVolDir, target, this.#block).catch(() => {});
      throw fail(errorMessage(err), err);
    }

    if (!this.#block && !mountGroup && supportsFSGroup(this.#spec, source, fsType, fsGroup, fsGroupPolicy, this.#readOnly)) {
      try {
        await setVolumeOwnership(target, fsGroup, false, fsGroupChangePolicy);
      } catch (err) {
        // Mounted but unusable: the error stands, and the mount is torn down with the pod.
        throw fail(`applyFSGroup failed for vol ${this.#volumeHandle}: ${errorMessage(err)}`, err);
      }
    }
    ctx.log.debug({ driver, volumeHandle: this.#volumeHandle, target }, 'NodePublishVolume succeeded');
  }
}

/** Whether the kubelet applies fsGroup itself (upstream supportsFSGroup). */
function supportsFSGroup(
  spec: VolumeSpec,
  source: CsiSource,
  fsType: string,
  fsGroup: number | undefined,
  policy: string,
  readOnly: boolean,
): fsGroup is number {
  if (fsGroup === undefined || policy === 'None' || readOnly) return false;
  if (policy === 'File') return true;
  if (fsType === '') return false;
  if (source.kind === 'ephemeral') return true;
  const modes = spec.persistentVolume?.spec.accessModes;
  return modes !== undefined && modes.includes('ReadWriteOnce');
}

export class CsiUnmounter implements Unmounter {
  readonly #ctx: CsiPluginContext;
  readonly #volName: string;
  readonly #podUid: string;
  readonly #podVolDir: string;

  constructor(ctx: CsiPluginContext, volName: string, podUid: string) {
    this.#ctx = ctx;
    this.#volName = volName;
    this.#podUid = podUid;
    this.#podVolDir = csiPodVolumeDir(ctx.host.rootDir, podUid, volName);
  }

  getPath(): string {
    return this.#targetOf(loadVolumeDataSync(this.#podVolDir));
  }

  #targetOf(data: VolumeData | undefined): string {
    if (data?.[VOL_DATA_KEY.volumeMode] === 'Block') {
      return blockPublishPath(this.#ctx.host.rootDir, data[VOL_DATA_KEY.specVolID] ?? this.#volName, this.#podUid);
    }
    return join(this.#podVolDir, 'mount');
  }

  tearDown(signal: AbortSignal): Promise<void> {
    return wrapTearDown(CSI_PLUGIN_NAME, this.#volName, () => this.#tearDown(signal));
  }

  /**
   * NodeUnpublishVolume on the published path, then removes it (if the driver
   * left it), vol_data.json and the pod volume directory. A pod volume
   * directory already gone is success.
   */
  async #tearDown(signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const fail = (message: string, cause?: unknown): CsiVolumeError => new CsiVolumeError('TearDown', message, cause === undefined ? undefined : { cause });
    if (!(await pathExists(this.#podVolDir))) return;
    let data;
    try {
      data = await loadVolumeData(this.#podVolDir);
    } catch (err) {
      throw fail(csiLog(`unmounter failed to load volume data file [${this.#podVolDir}]: ${errorMessage(err)}`), err);
    }
    const target = this.#targetOf(data);
    const block = data?.[VOL_DATA_KEY.volumeMode] === 'Block';
    if (data === undefined) {
      // setUp never got as far as NodePublishVolume: nothing to ask the driver.
      if (await ctx.host.mountUtil.isMountPoint(target)) {
        throw fail(csiLog(`unmounter failed to load volume data file [${target}]: ${join(this.#podVolDir, VOL_DATA_FILE_NAME)} does not exist`));
      }
      await removePublishDirs(ctx, this.#podVolDir, target, false);
      return;
    }
    const driver = data[VOL_DATA_KEY.driverName] ?? '';
    const volumeId = data[VOL_DATA_KEY.volHandle] ?? '';
    let client;
    try {
      client = await ctx.clients.client(driver);
    } catch (err) {
      throw fail(csiLog(`Unmounter.TearDownAt failed to get CSI client: ${errorMessage(err)}`), err);
    }
    const op = newOperation(ctx, signal);
    try {
      await ctx.clients.call('NodeUnpublishVolume', op, (o) => client.node.NodeUnpublishVolume({ volume_id: volumeId, target_path: target }, o), true);
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      throw fail(csiLog(`Unmounter.TearDownAt failed: ${errorMessage(err)}`), err);
    }
    try {
      await removePublishDirs(ctx, this.#podVolDir, target, block);
    } catch (err) {
      throw fail(csiLog(`Unmounter.TearDownAt failed to clean mount dir [${target}]: ${errorMessage(err)}`), err);
    }
  }
}
