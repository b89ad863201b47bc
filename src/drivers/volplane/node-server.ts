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
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
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
  mountFilesystem,
  pathExists,
  refreshLoopCapacity,
  unmount,
} from './host.ts';
import {
  TOPOLOGY_KEY,
  assertCompatible,
  ensureLoopDevice,
  getVolume,
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
    for (const v of state.volumes.values()) if (v.publications.some((p) => p.targetPath === target)) return v;
    return undefined;
  };

  async function nodeStageVolume(req: NodeStageVolumeRequest): Promise<object> {
    const vol = getVolume(ctx, req.volume_id ?? '');
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
      await state.persist();
      return {};
    }
    if (ctx.attachRequired && !vol.attachments.some((a) => a.nodeId === ctx.nodeId)) {
      throw new CsiError('FAILED_PRECONDITION', `volume ${vol.id} is not attached to node ${ctx.nodeId}; ControllerPublishVolume first`);
    }

    const device = await ensureLoopDevice(ctx, vol);
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
      await state.persist();
    } catch (err) {
      if (vol.staging === undefined) await releaseLoopDevice(ctx, vol).catch(() => {});
      throw err;
    }
    return {};
  }

  async function nodeUnstageVolume(req: NodeUnstageVolumeRequest): Promise<object> {
    const vol = getVolume(ctx, req.volume_id ?? '');
    const stagingPath = req.staging_target_path ?? '';
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
    await state.persist();
    return {};
  }

  async function nodePublishVolume(req: NodePublishVolumeRequest): Promise<object> {
    const vol = getVolume(ctx, req.volume_id ?? '');
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
    const source = vol.kind === 'directory' ? vol.path : block ? await ensureLoopDevice(ctx, vol) : stagingPath;

    if (block) {
      await mkdir(dirname(target), { recursive: true });
      if (!(await pathExists(target))) await writeFile(target, '', { mode: 0o660 });
    } else {
      await mkdir(target, { recursive: true });
    }
    if ((await mountAt(target)) === undefined) await bindMount(source, target, readonly);
    vol.publications.push({ targetPath: target, readonly, block });
    await state.persist();
    return {};
  }

  async function nodeUnpublishVolume(req: NodeUnpublishVolumeRequest): Promise<object> {
    const vol = getVolume(ctx, req.volume_id ?? '');
    const target = req.target_path ?? '';
    const pub = vol.publications.find((p) => p.targetPath === target);
    // Another volume published at this path is not ours to undo; this volume
    // is simply not published there, which is success.
    const holder = publisherOf(target);
    if (holder !== undefined && holder !== vol) return {};
    // A target may carry more than one mount if a crash repeated a publish.
    while ((await mountAt(target)) !== undefined) await unmount(target);
    if (await pathExists(target)) {
      if (pub?.block === true) await rm(target, { force: true });
      else await rmdir(target).catch(() => rm(target, { force: true }));
    }
    if (pub !== undefined) {
      vol.publications = vol.publications.filter((p) => p !== pub);
      await state.persist();
    }
    return {};
  }

  async function nodeGetVolumeStats(req: NodeGetVolumeStatsRequest): Promise<NodeGetVolumeStatsResponse> {
    const vol = getVolume(ctx, req.volume_id ?? '');
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
    const vol = getVolume(ctx, req.volume_id ?? '');
    const path = req.volume_path ?? '';
    if (!(await pathExists(path))) throw new CsiError('NOT_FOUND', `volume path ${path} does not exist`);
    if (req.volume_capability) assertCompatible(vol, req.volume_capability);
    if (vol.kind === 'directory') return { capacity_bytes: vol.capacityBytes };
    const device = (await loopDevicesOf(vol.path))[0];
    if (device === undefined) throw new CsiError('FAILED_PRECONDITION', `volume ${vol.id} is not staged on node ${ctx.nodeId}`);
    await refreshLoopCapacity(device);
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
