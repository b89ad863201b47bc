// Kubernetes' default device handling for FlexVolume drivers that answer
// "Not supported": format a device only when it carries no filesystem, then
// mount it (upstream's SafeFormatAndMount), and grow a filesystem after the
// device grew (upstream's resize-fs default for `expandfs`).

import { runCommand } from '../../mount/exec.ts';
import { MountError, type MountUtil } from '../../mount/index.ts';

export const DEFAULT_FS_TYPE = 'ext4';

export interface DeviceCommandOptions {
  signal?: AbortSignal;
  timeoutMs: number;
}

/** The filesystem type on `device` ("" when blkid finds none). Throws MountError for anything else. */
export async function probeFilesystem(device: string, opts: DeviceCommandOptions): Promise<string> {
  try {
    const { stdout } = await runCommand('blkid', ['-p', '-s', 'TYPE', '-o', 'value', '--', device], opts);
    return stdout.trim();
  } catch (err) {
    // blkid exits 2 when it finds nothing to report.
    if (err instanceof MountError && err.exitCode === 2) return '';
    throw err;
  }
}

/** A read-only volume on a device without a filesystem: formatting it would be a write. */
export class UnformattedReadOnlyDeviceError extends Error {
  override readonly name = 'UnformattedReadOnlyDeviceError';
  readonly device: string;
  constructor(device: string) {
    super(`cannot mount unformatted device ${device} read-only`);
    this.device = device;
  }
}

/**
 * Mounts `device` at `target` as `fsType` (ext4 when empty), running mkfs
 * first only if the device has no filesystem at all: an existing one is never
 * reformatted, whatever its type.
 */
export async function formatAndMount(
  mountUtil: MountUtil,
  device: string,
  target: string,
  fsType: string,
  readOnly: boolean,
  opts: DeviceCommandOptions,
): Promise<void> {
  const wanted = fsType === '' ? DEFAULT_FS_TYPE : fsType;
  const existing = await probeFilesystem(device, opts);
  if (existing === '') {
    if (readOnly) throw new UnformattedReadOnlyDeviceError(device);
    const args = wanted.startsWith('ext') ? ['-F', '-m0', device] : [device];
    await runCommand(`mkfs.${wanted}`, args, opts);
  }
  await mountUtil.mount(device, target, existing === '' ? wanted : existing, [readOnly ? 'ro' : 'rw'], opts);
}

/** Grows the filesystem on `device` (mounted at `mountPath`) to the device's size. */
export async function resizeFilesystem(device: string, mountPath: string, opts: DeviceCommandOptions): Promise<void> {
  const fs = await probeFilesystem(device, opts);
  if (fs.startsWith('ext')) await runCommand('resize2fs', [device], opts);
  else if (fs === 'xfs') await runCommand('xfs_growfs', ['-d', mountPath], opts);
  else throw new Error(`resizing filesystem ${JSON.stringify(fs)} on ${device} is not supported`);
}
