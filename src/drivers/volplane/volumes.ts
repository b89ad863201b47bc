// What the controller and node servers share: the driver's configuration,
// capability checks, and the rule for who holds a volume's loop device.
//
// A loop volume's device is held by an attachment (ControllerPublishVolume,
// when the driver requires attach) or by a staging (NodeStageVolume). The
// device is set up by whichever comes first — reusing one that losetup
// already knows for the image, so there are never two — and detached when
// neither holds it any longer.
//
// Several driver instances may share one machine: one with the Controller
// service (mode 'controller-node', the one `volplane up` runs) and
// node-only instances for further node agents (mode 'node'). Volumes and
// loop devices are machine-wide, so a node-only instance works on what the
// controller made, from what CSI hands it (volume_context, publish_context);
// it keeps only its own stagings and publications. When volumes need an
// attach step the controller's attachment holds the loop device, so a
// node-only instance uses that device and never detaches it.
import type { Logger } from '../../base/index.ts';
import { CsiError, type AccessModeName, type VolumeCapability } from '../../csi/index.ts';
import { attachLoop, detachLoop, loopDevicesOf } from './host.ts';
import type { DriverState, VolumeRecord } from './state.ts';

export const DRIVER_NAME = 'csi.volplane.io';
export const DRIVER_VERSION = '0.1.0';
export const TOPOLOGY_KEY = 'topology.volplane.io/node';
export const SUPPORTED_FS_TYPES = ['ext4', 'xfs'] as const;
export const DEFAULT_FS_TYPE = 'ext4';
/** Keys of publish_context and volume_context set by this driver. */
export const CONTEXT_DEVICE_PATH = 'devicePath';
export const CONTEXT_KIND = 'volplane.io/kind';
export const CONTEXT_FS_TYPE = 'volplane.io/fsType';
/** volume_context: the directory or image file of the volume (machine-wide). */
export const CONTEXT_PATH = 'volplane.io/path';
/** volume_context key the kubelet sets on a CSI ephemeral inline volume. */
export const CONTEXT_EPHEMERAL = 'csi.storage.k8s.io/ephemeral';
/** StorageClass parameters understood by CreateVolume. */
export const PARAM_KIND = 'kind';
export const PARAM_FS_TYPE = 'csi.storage.k8s.io/fstype';
export const PARAM_FS_TYPE_SHORT = 'fsType';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const DEFAULT_LOOP_SIZE = 1 * GiB;
/** mkfs.xfs refuses filesystems smaller than 300 MiB. */
export const MIN_SIZE: Record<string, number> = { ext4: 16 * MiB, xfs: 300 * MiB };

export type DriverMode = 'controller-node' | 'node';

export interface DriverContext {
  nodeId: string;
  dataDir: string;
  attachRequired: boolean;
  maxVolumesPerNode: number;
  mode: DriverMode;
  /**
   * The controller instance's data dir: where node-only instances record
   * themselves (`nodes/`) and, for volumes whose context has no path, where
   * their files are. The own dataDir in controller-node mode.
   */
  controllerDataDir: string | undefined;
  state: DriverState;
  logger: Logger;
}

/**
 * Whether this instance sets up and detaches `vol`'s loop device itself. A
 * node-only instance does not when an attach step exists: the controller's
 * ControllerPublishVolume set it up and its ControllerUnpublish releases it.
 */
export function ownsLoopDevice(ctx: DriverContext): boolean {
  return ctx.mode === 'controller-node' || !ctx.attachRequired;
}

export function isBlock(cap: VolumeCapability): boolean {
  return cap.block !== null && cap.block !== undefined;
}

export function requestedFsType(cap: VolumeCapability): string {
  return isBlock(cap) ? '' : (cap.mount?.fs_type ?? '');
}

const READ_ONLY_MODES: ReadonlySet<AccessModeName> = new Set(['SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY']);

export function isReadOnlyMode(cap: VolumeCapability): boolean {
  const mode = cap.access_mode?.mode;
  return mode !== undefined && READ_ONLY_MODES.has(mode);
}

/** Why `cap` cannot be used with `vol`, or undefined when it can. */
export function incompatibility(vol: Pick<VolumeRecord, 'kind' | 'fsType' | 'id'>, cap: VolumeCapability): string | undefined {
  if (vol.kind === 'directory') {
    if (isBlock(cap)) return `volume ${vol.id} is a directory and cannot be used as a block device`;
    const fs = requestedFsType(cap);
    if (fs !== '') return `volume ${vol.id} is a directory and has no filesystem type ${fs}`;
    return undefined;
  }
  const fs = requestedFsType(cap);
  if (fs !== '' && fs !== vol.fsType) return `volume ${vol.id} has filesystem ${vol.fsType ?? 'none'}, not ${fs}`;
  return undefined;
}

export function assertCompatible(vol: VolumeRecord, cap: VolumeCapability): void {
  const why = incompatibility(vol, cap);
  if (why !== undefined) throw new CsiError('INVALID_ARGUMENT', why);
}

export function getVolume(ctx: DriverContext, id: string): VolumeRecord {
  const vol = ctx.mode === 'node' ? undefined : ctx.state.volumes.get(id);
  if (vol === undefined) throw new CsiError('NOT_FOUND', `volume id ${id} does not exist in the volumes list`);
  return vol;
}

/** The loop device of a loop volume, set up if none exists yet. */
export async function ensureLoopDevice(ctx: DriverContext, vol: VolumeRecord): Promise<string> {
  const existing = await loopDevicesOf(vol.path);
  const device = existing[0] ?? (await attachLoop(vol.path));
  if (existing.length === 0) ctx.logger.info({ volumeId: vol.id, device }, 'attached loop device');
  vol.device = device;
  return device;
}

/** Detaches a loop volume's device(s) when no attachment and no staging holds them. */
export async function releaseLoopDevice(ctx: DriverContext, vol: VolumeRecord): Promise<void> {
  if (vol.kind !== 'loop' || vol.attachments.length > 0 || vol.staging !== undefined || !ownsLoopDevice(ctx)) return;
  for (const device of await loopDevicesOf(vol.path)) {
    await detachLoop(device);
    ctx.logger.info({ volumeId: vol.id, device }, 'detached loop device');
  }
  delete vol.device;
}

export function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}
