// The Node service of the volplane driver: stage (loop device + filesystem at
// the staging path), publish (bind mount into the target path), and their
// reverses, plus stats and online expansion.
//
// Every volume is staged before it is published (the driver advertises
// STAGE_UNSTAGE_VOLUME, which makes that the CO's duty and a precondition
// here). A directory volume's staging only records the path; its publish
// binds the directory itself. For a loop volume staging is
// where its device is found or set up (never a second one for the same image)
// and where the filesystem is created — only when blkid finds none, so a
// volume is never formatted twice, not even after a driver restart.
//
// Which volume a call is about: a controller record of this instance, else a
// record this node made from the call itself — in node-only mode from the
// volume_context CreateVolume set (kind, path, fsType) on the first
// NodeStage/NodePublish, and for CSI ephemeral inline volumes a directory
// made by NodePublish under <dataDir>/ephemeral. Such context records live
// in node-state.json while staged or published and are dropped after. The
// calls that carry no context (unstage, unpublish) find them there; in
// node-only mode an id with no record is "nothing of it here": the target
// or staging path is cleaned and the call succeeds.
//
// Node-side changes are written with persistNode() (no fsync: they describe
// mounts, which a power cut removes as well; see state.ts).
import { lstat, mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import {
  CsiError,
  type NodeExpandVolumeRequest,
  type NodeExpandVolumeResponse,
  type NodeGetCapabilitiesResponse,
  type NodeGetInfoResponse,
  type NodeGetVolumeStatsRequest,
  type NodeGetVolumeStatsResponse,
  type NodePublishVolumeRequest,
  type NodeService,
  type NodeStageVolumeRequest,
  type NodeUnpublishVolumeRequest,
  type NodeUnstageVolumeRequest,
} from '../../csi/index.ts';
import {
  bindMount,
  canResizeExtOnline,
  deviceSize,
  extFilesystemSize,
  filesystemOf,
  growExtOffline,
  fsUsage,
  growFilesystem,
  loopDevicesOf,
  makeFilesystem,
  mountAt,
  mountsAt,
  mountFilesystem,
  pathExists,
  refreshLoopCapacity,
  unmount,
} from './host.ts';
import {
  CONTEXT_DEVICE_PATH,
  CONTEXT_EPHEMERAL,
  CONTEXT_FS_TYPE,
  CONTEXT_KIND,
  CONTEXT_PATH,
  TOPOLOGY_KEY,
  assertCompatible,
  ensureLoopDevice,
  ownsLoopDevice,
  isBlock,
  isReadOnlyMode,
  releaseLoopDevice,
  requestedFsType,
  type DriverContext,
} from './volumes.ts';
import type { VolumeRecord } from './state.ts';

export function createNodeServer(ctx: DriverContext): NodeService {
  const { state } = ctx;

  /** The volume recorded as published at `target`, if any. */
  const publisherOf = (target: string): VolumeRecord | undefined => {
    for (const v of state.allVolumes()) if (v.publications.some((p) => p.targetPath === target)) return v;
    return undefined;
  };

  const notFound = (id: string): CsiError => new CsiError('NOT_FOUND', `volume id ${id} does not exist in the volumes list`);

  /** The record of a volume for a call that carries no context (unstage, unpublish, stats, expand). */
  const known = (id: string): VolumeRecord | undefined => state.nodeVolume(id);

  /**
   * The record for a stage or publish: the known one, else (node-only mode)
   * one made from volume_context. `fresh` records are not stored until the
   * call succeeds.
   */
  async function resolve(id: string, context: Record<string, string> | null | undefined): Promise<{ vol: VolumeRecord; fresh: boolean }> {
    const vol = known(id);
    if (vol !== undefined) return { vol, fresh: false };
    if (ctx.mode !== 'node') throw notFound(id);
    return { vol: await recordFromContext(id, context ?? {}), fresh: true };
  }

  /**
   * A volume of the controller instance, described by its volume_context.
   * The path must be a normalised absolute path to an existing directory
   * (kind directory) or regular file (kind loop), no symlink: the context
   * comes from a PV, which only an admin writes, but it still names a host
   * path that gets bind-mounted into a pod.
   */
  async function recordFromContext(id: string, context: Record<string, string>): Promise<VolumeRecord> {
    const kind = context[CONTEXT_KIND];
    if (kind !== 'directory' && kind !== 'loop') throw notFound(id);
    if (id.includes('/') || id === '.' || id === '..') throw new CsiError('INVALID_ARGUMENT', `volume id ${JSON.stringify(id)} is not a volplane volume id`);
    let path = context[CONTEXT_PATH];
    if (path === undefined && ctx.controllerDataDir !== undefined) {
      path = join(ctx.controllerDataDir, 'volumes', kind === 'loop' ? `${id}.img` : id);
    }
    if (path === undefined) {
      throw new CsiError('NOT_FOUND', `volume ${id}: its volume_context names no ${CONTEXT_PATH} and this node knows no controller data dir`);
    }
    if (!isAbsolute(path) || normalize(path) !== path) throw new CsiError('INVALID_ARGUMENT', `volume ${id}: ${CONTEXT_PATH} must be a normalised absolute path`);
    let stat;
    try {
      stat = await lstat(path);
    } catch {
      throw new CsiError('NOT_FOUND', `volume ${id} does not exist: ${path} is missing`);
    }
    if (kind === 'directory' ? !stat.isDirectory() : !stat.isFile()) {
      throw new CsiError('INVALID_ARGUMENT', `volume ${id}: ${path} is not a ${kind === 'loop' ? 'regular file' : 'directory'}`);
    }
    const vol: VolumeRecord = {
      id,
      name: id,
      kind,
      path,
      capacityBytes: kind === 'loop' ? stat.size : 0,
      parameters: {},
      createdAtMs: Date.now(),
      attachments: [],
      publications: [],
    };
    const fsType = context[CONTEXT_FS_TYPE];
    if (kind === 'loop' && fsType !== undefined && fsType !== '') vol.fsType = fsType;
    return vol;
  }

  /** Stores a fresh context record once its call succeeded; drops a context record nothing holds any more. */
  const keep = (vol: VolumeRecord): void => {
    if (state.volumes.get(vol.id) === vol) return;
    if (vol.staging === undefined && vol.publications.length === 0) state.contextVolumes.delete(vol.id);
    else state.contextVolumes.set(vol.id, vol);
  };

  /**
   * The loop device of a staged or staging loop volume. A node-only instance
   * with an attach step uses the device ControllerPublishVolume set up (its
   * publish_context devicePath, which must still back the volume's file).
   */
  async function deviceOf(vol: VolumeRecord, publishContext: Record<string, string> | null | undefined): Promise<string> {
    if (ownsLoopDevice(ctx)) {
      if (ctx.attachRequired && !vol.attachments.some((a) => a.nodeId === ctx.nodeId)) {
        throw new CsiError('FAILED_PRECONDITION', `volume ${vol.id} is not attached to node ${ctx.nodeId}; ControllerPublishVolume first`);
      }
      return ensureLoopDevice(ctx, vol);
    }
    const devices = await loopDevicesOf(vol.path);
    const wanted = publishContext?.[CONTEXT_DEVICE_PATH] ?? vol.device;
    if (wanted === undefined) {
      throw new CsiError('FAILED_PRECONDITION', `volume ${vol.id} is not attached to node ${ctx.nodeId}: no ${CONTEXT_DEVICE_PATH} in publish_context; ControllerPublishVolume first`);
    }
    if (!devices.includes(wanted)) {
      throw new CsiError('FAILED_PRECONDITION', `volume ${vol.id} is not attached: ${wanted} does not back ${vol.path} (any more)`);
    }
    vol.device = wanted;
    return wanted;
  }

  async function nodeStageVolume(req: NodeStageVolumeRequest): Promise<object> {
    const { vol } = await resolve(req.volume_id ?? '', req.volume_context);
    const cap = req.volume_capability!;
    const stagingPath = req.staging_target_path ?? '';
    assertCompatible(vol, cap);
    const block = isBlock(cap);

    // Already done?
    if (vol.staging !== undefined) {
      if (vol.staging.path !== stagingPath) {
        throw new CsiError('FAILED_PRECONDITION', `volume ${vol.id} is already staged at ${vol.staging.path}`);
      }
      if (vol.staging.block !== block) {
        throw new CsiError('ALREADY_EXISTS', `volume ${vol.id} is already staged at ${stagingPath} for ${vol.staging.block ? 'block' : 'mount'} access`);
      }
      return {};
    }
    if (vol.kind === 'directory') {
      vol.staging = { path: stagingPath, block: false };
      keep(vol);
      await state.persistNode();
      return {};
    }

    const device = await deviceOf(vol, req.publish_context);
    try {
      if (!block) {
        await mkdir(stagingPath, { recursive: true });
        const mounted = await mountAt(stagingPath);
        if (mounted === undefined) {
          const found = await filesystemOf(device);
          const fsType = found ?? vol.fsType ?? requestedFsType(cap);
          if (found === undefined) {
            ctx.logger.info({ volumeId: vol.id, device, fsType }, 'formatting new volume');
            await makeFilesystem(device, fsType);
          } else if (requestedFsType(cap) !== '' && requestedFsType(cap) !== found) {
            throw new CsiError('ALREADY_EXISTS', `volume ${vol.id} holds a ${found} filesystem, not ${requestedFsType(cap)}`);
          }
          // A device larger than its filesystem (restored from a smaller
          // snapshot, or expanded while unstaged) is grown here: ext4 before
          // mounting, which needs no extra privilege; xfs only grows mounted.
          if (found === 'ext4' && (await extFilesystemSize(device)) < (await deviceSize(device))) {
            await growExtOffline(device);
          }
          await mountFilesystem(device, stagingPath, fsType, cap.mount?.mount_flags ?? []);
          if (found === 'xfs') await growFilesystem('xfs', device, stagingPath);
        } else if (mounted.source !== device) {
          throw new CsiError('FAILED_PRECONDITION', `staging path ${stagingPath} already has ${mounted.source} mounted`);
        }
      }
      vol.staging = { path: stagingPath, block };
      keep(vol);
      await state.persistNode();
    } catch (err) {
      if (vol.staging === undefined) await releaseLoopDevice(ctx, vol).catch(() => {});
      throw err;
    }
    return {};
  }

  async function nodeUnstageVolume(req: NodeUnstageVolumeRequest): Promise<object> {
    const id = req.volume_id ?? '';
    const stagingPath = req.staging_target_path ?? '';
    const vol = known(id);
    if (vol === undefined) {
      if (ctx.mode !== 'node') throw notFound(id);
      // Node-only: nothing of it is recorded here (never staged, or already
      // unstaged, or a record lost with a crash). Whatever is still mounted
      // at its staging path goes; the CO asked for exactly that.
      for (let n = (await mountsAt(stagingPath)).length; n > 0; n--) await unmount(stagingPath);
      return {};
    }
    if (vol.staging === undefined || vol.staging.path !== stagingPath) {
      // Not staged here: already done. Whatever is mounted at this path is
      // not this volume's (the CO may share one staging path between volumes
      // in turn), so it is left alone; a device no one holds is released.
      if (vol.staging === undefined) await releaseLoopDevice(ctx, vol);
      return {};
    }
    if (vol.publications.length > 0) {
      throw new CsiError('FAILED_PRECONDITION', `volume ${vol.id} is still published at ${vol.publications.map((p) => p.targetPath).join(', ')}`);
    }
    if (vol.kind === 'loop') {
      const mounted = await mountAt(stagingPath);
      if (mounted !== undefined) await unmount(stagingPath);
    }
    delete vol.staging;
    await releaseLoopDevice(ctx, vol);
    keep(vol);
    await state.persistNode();
    return {};
  }

  async function nodePublishVolume(req: NodePublishVolumeRequest): Promise<object> {
    if (req.volume_context?.[CONTEXT_EPHEMERAL] === 'true') return publishEphemeral(req);
    const { vol } = await resolve(req.volume_id ?? '', req.volume_context);
    const cap = req.volume_capability!;
    const target = req.target_path ?? '';
    const stagingPath = req.staging_target_path ?? '';
    assertCompatible(vol, cap);
    const block = isBlock(cap);
    const readonly = req.readonly === true || isReadOnlyMode(cap);

    const existing = vol.publications.find((p) => p.targetPath === target);
    if (existing !== undefined) {
      if (existing.readonly !== readonly || existing.block !== block) {
        throw new CsiError('ALREADY_EXISTS', `volume ${vol.id} is already published at ${target} with readonly=${existing.readonly}`);
      }
      return {};
    }

    // The driver advertises STAGE_UNSTAGE_VOLUME, so the spec makes staging
    // a precondition of every publish, for directory volumes too (their
    // staging only records the path): the CO must pass the staging path,
    // and publishing before NodeStageVolume is FAILED_PRECONDITION.
    if (stagingPath === '') {
      throw new CsiError('INVALID_ARGUMENT', 'Staging target path missing in request: this driver has STAGE_UNSTAGE_VOLUME');
    }
    if (vol.staging === undefined || vol.staging.path !== stagingPath) {
      throw new CsiError('FAILED_PRECONDITION', `volume ${vol.id} must be staged at ${stagingPath} before it is published`);
    }
    if (vol.staging.block !== block) {
      throw new CsiError('INVALID_ARGUMENT', `volume ${vol.id} is staged for ${vol.staging.block ? 'block' : 'mount'} access`);
    }
    const holder = publisherOf(target);
    if (holder !== undefined && holder !== vol) {
      throw new CsiError('FAILED_PRECONDITION', `target path ${target} already holds volume ${holder.id}`);
    }
    const source = vol.kind === 'directory' ? vol.path : block ? await deviceOf(vol, req.publish_context) : stagingPath;
    await bindAtTarget(source, target, block, readonly);
    vol.publications.push({ targetPath: target, readonly, block });
    keep(vol);
    await state.persistNode();
    return {};
  }

  async function bindAtTarget(source: string, target: string, block: boolean, readonly: boolean): Promise<void> {
    if (block) {
      await mkdir(dirname(target), { recursive: true });
      if (!(await pathExists(target))) await writeFile(target, '', { mode: 0o660 });
    } else {
      await mkdir(target, { recursive: true });
    }
    if ((await mountAt(target)) === undefined) await bindMount(source, target, readonly);
  }

  /**
   * A CSI ephemeral inline volume (volume_context marks it; the kubelet
   * never stages one): a fresh directory <dataDir>/ephemeral/<id>, bound at
   * the target, removed with its last unpublish. Like the upstream hostpath
   * driver, the volume exists only as long as the pod that names it.
   */
  async function publishEphemeral(req: NodePublishVolumeRequest): Promise<object> {
    const id = req.volume_id ?? '';
    const cap = req.volume_capability!;
    const target = req.target_path ?? '';
    if (id.includes('/') || id === '.' || id === '..') throw new CsiError('INVALID_ARGUMENT', `volume id ${JSON.stringify(id)} cannot name an ephemeral volume`);
    if (isBlock(cap)) throw new CsiError('INVALID_ARGUMENT', `ephemeral volume ${id}: inline volumes are directories and have no block access`);
    const readonly = req.readonly === true || isReadOnlyMode(cap);
    let vol = known(id);
    if (vol !== undefined && vol.ephemeral !== true) {
      throw new CsiError('ALREADY_EXISTS', `volume ${id} exists and is not an ephemeral volume`);
    }
    const existing = vol?.publications.find((p) => p.targetPath === target);
    if (existing !== undefined) {
      if (existing.readonly !== readonly) throw new CsiError('ALREADY_EXISTS', `volume ${id} is already published at ${target} with readonly=${existing.readonly}`);
      return {};
    }
    const holder = publisherOf(target);
    if (holder !== undefined && holder !== vol) throw new CsiError('FAILED_PRECONDITION', `target path ${target} already holds volume ${holder.id}`);
    const fresh = vol === undefined;
    if (vol === undefined) {
      const path = join(ctx.dataDir, 'ephemeral', id);
      await mkdir(path, { recursive: true, mode: 0o777 });
      vol = { id, name: id, kind: 'directory', path, capacityBytes: 0, parameters: {}, createdAtMs: Date.now(), attachments: [], publications: [], ephemeral: true };
    }
    try {
      await bindAtTarget(vol.path, target, false, readonly);
    } catch (err) {
      if (fresh) await rm(vol.path, { recursive: true, force: true });
      throw err;
    }
    vol.publications.push({ targetPath: target, readonly, block: false });
    keep(vol);
    await state.persistNode();
    ctx.logger.info({ volumeId: id, target }, 'published ephemeral volume');
    return {};
  }

  async function nodeUnpublishVolume(req: NodeUnpublishVolumeRequest): Promise<object> {
    const id = req.volume_id ?? '';
    const target = req.target_path ?? '';
    const vol = known(id);
    if (vol === undefined && ctx.mode !== 'node') throw notFound(id);
    const pub = vol?.publications.find((p) => p.targetPath === target);
    // Another volume published at this path is not ours to undo; this volume
    // is simply not published there, which is success.
    const holder = publisherOf(target);
    if (holder !== undefined && holder !== vol) return {};
    // A target may carry more than one mount if a crash repeated a publish:
    // one read of the mount table, then one umount per mount found.
    for (let n = (await mountsAt(target)).length; n > 0; n--) await unmount(target);
    if (pub?.block === true) await rm(target, { force: true });
    else await rmdir(target).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : rm(target, { force: true })));
    if (vol === undefined) return {};
    if (pub !== undefined) vol.publications = vol.publications.filter((p) => p !== pub);
    if (vol.ephemeral === true && vol.publications.length === 0) {
      await rm(vol.path, { recursive: true, force: true });
      ctx.logger.info({ volumeId: id }, 'removed ephemeral volume');
    }
    if (pub !== undefined) {
      keep(vol);
      await state.persistNode();
    }
    return {};
  }

  async function nodeGetVolumeStats(req: NodeGetVolumeStatsRequest): Promise<NodeGetVolumeStatsResponse> {
    const vol = known(req.volume_id ?? '');
    if (vol === undefined) throw notFound(req.volume_id ?? '');
    const path = req.volume_path ?? '';
    // The spec's NOT_FOUND: the volume "does not exist on the specified
    // volume_path" — a path that merely exists is not enough, it must be one
    // where this volume is published or staged, and still mounted there.
    const notHere = (why: string): CsiError => new CsiError('NOT_FOUND', `volume ${vol.id} is not available at ${path}: ${why}`);
    const pub = vol.publications.find((p) => p.targetPath === path);
    const staged = vol.staging !== undefined && vol.staging.path === path ? vol.staging : undefined;
    if (pub === undefined && staged === undefined) throw notHere('it is neither published nor staged there');
    if (!(await pathExists(path))) throw notHere('the path does not exist');
    let statPath = path;
    if (pub !== undefined || (staged !== undefined && vol.kind === 'loop' && !staged.block)) {
      if ((await mountAt(path)) === undefined) throw notHere('nothing is mounted there any more');
    } else if (vol.kind === 'directory') {
      // A directory volume's staging path holds no mount; its data is the directory itself.
      statPath = vol.path;
    }
    if (pub?.block === true || staged?.block === true) {
      return { usage: [{ unit: 'BYTES', total: vol.capacityBytes }] };
    }
    const usage = await fsUsage(statPath);
    return {
      usage: [
        { unit: 'BYTES', total: usage.totalBytes, available: usage.availableBytes, used: usage.usedBytes },
        { unit: 'INODES', total: usage.totalInodes, available: usage.freeInodes, used: usage.usedInodes },
      ],
    };
  }

  async function nodeExpandVolume(req: NodeExpandVolumeRequest): Promise<NodeExpandVolumeResponse> {
    const vol = known(req.volume_id ?? '');
    if (vol === undefined) throw notFound(req.volume_id ?? '');
    const path = req.volume_path ?? '';
    if (!(await pathExists(path))) throw new CsiError('NOT_FOUND', `volume path ${path} does not exist`);
    if (req.volume_capability) assertCompatible(vol, req.volume_capability);
    if (vol.kind === 'directory') return { capacity_bytes: vol.capacityBytes };
    const device = (await loopDevicesOf(vol.path))[0];
    if (device === undefined) throw new CsiError('FAILED_PRECONDITION', `volume ${vol.id} is not staged on node ${ctx.nodeId}`);
    await refreshLoopCapacity(device);
    // A context record learns the new size from the file the controller grew.
    if (state.volumes.get(vol.id) !== vol) vol.capacityBytes = await deviceSize(device);
    if (vol.staging !== undefined && !vol.staging.block) {
      const fsType = (await filesystemOf(device)) ?? vol.fsType ?? 'ext4';
      if (fsType === 'ext4') {
        if ((await extFilesystemSize(device)) >= (await deviceSize(device))) return { capacity_bytes: vol.capacityBytes };
        if (!(await canResizeExtOnline())) {
          throw new CsiError(
            'FAILED_PRECONDITION',
            `volume ${vol.id}: growing a mounted ext4 filesystem needs CAP_SYS_RESOURCE, which this driver lacks; ` +
              'unstage the volume and it grows when staged again',
          );
        }
      }
      await growFilesystem(fsType, device, vol.staging.path);
    }
    return { capacity_bytes: vol.capacityBytes };
  }

  async function nodeGetCapabilities(): Promise<NodeGetCapabilitiesResponse> {
    return {
      capabilities: (['STAGE_UNSTAGE_VOLUME', 'GET_VOLUME_STATS', 'EXPAND_VOLUME'] as const).map((type) => ({ rpc: { type } })),
    };
  }

  async function nodeGetInfo(): Promise<NodeGetInfoResponse> {
    return {
      node_id: ctx.nodeId,
      max_volumes_per_node: ctx.maxVolumesPerNode,
      accessible_topology: { segments: { [TOPOLOGY_KEY]: ctx.nodeId } },
    };
  }

  return {
    NodeStageVolume: nodeStageVolume,
    NodeUnstageVolume: nodeUnstageVolume,
    NodePublishVolume: nodePublishVolume,
    NodeUnpublishVolume: nodeUnpublishVolume,
    NodeGetVolumeStats: nodeGetVolumeStats,
    NodeExpandVolume: nodeExpandVolume,
    NodeGetCapabilities: nodeGetCapabilities,
    NodeGetInfo: nodeGetInfo,
  };
}
