// The directory side of pod volumes that live in the pod's own directory
// (emptyDir and the projections wrapped in one): create it with an exact mode,
// optionally back it with tmpfs, and remove it again without ever deleting
// through a mount that is still attached.

import { chmod, mkdir, realpath, rm, stat } from 'node:fs/promises';
import type { CommandOptions, MountUtil } from '../mount/index.ts';
import type { Unmounter, VolumeHost } from '../plugin.ts';
import { wrapTearDown } from '../plugin.ts';

/** mkdir -p, then force `mode` on the last directory (mkdir's mode is filtered by the umask). */
export async function setupDir(dir: string, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  const st = await stat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
  if ((st.mode & 0o7777) !== mode) await chmod(dir, mode);
}

/**
 * Makes `dir` a tmpfs mount point (with `size=<bytes>` when sizeBytes is set).
 * Already a tmpfs mount: nothing to do. Something else mounted there: error.
 */
export async function setupTmpfs(
  mountUtil: MountUtil,
  dir: string,
  sizeBytes: bigint | undefined,
  opts?: CommandOptions,
): Promise<void> {
  const real = await realpath(dir);
  const mounted = (await mountUtil.listMounts()).filter((m) => m.mountPoint === real);
  const top = mounted.at(-1);
  if (top !== undefined) {
    if (top.fsType === 'tmpfs') return;
    throw new Error(`${dir} is already mounted as ${top.fsType}, expected tmpfs`);
  }
  const options = sizeBytes !== undefined && sizeBytes > 0n ? [`size=${sizeBytes}`] : [];
  await mountUtil.mount('tmpfs', dir, 'tmpfs', options, opts);
}

/**
 * Unmounts whatever is mounted at `dir` (tmpfs of a memory emptyDir or a
 * secret), then deletes the directory with its content. A missing directory
 * is success.
 */
export async function tearDownPodDir(mountUtil: MountUtil, dir: string, opts?: CommandOptions): Promise<void> {
  for (let i = 0; i < 16 && (await mountUtil.isMountPoint(dir)); i++) await mountUtil.unmount(dir, opts);
  if (await mountUtil.isMountPoint(dir)) throw new Error(`${dir} is still mounted`);
  await rm(dir, { recursive: true, force: true });
}

/** Tears down a volume that lives in the pod's directory: unmount (if tmpfs) and delete. */
export class PodDirUnmounter implements Unmounter {
  readonly #host: VolumeHost;
  readonly #plugin: string;
  readonly #volName: string;
  readonly #dir: string;

  constructor(host: VolumeHost, plugin: string, volName: string, dir: string) {
    this.#host = host;
    this.#plugin = plugin;
    this.#volName = volName;
    this.#dir = dir;
  }

  getPath(): string {
    return this.#dir;
  }

  tearDown(signal: AbortSignal): Promise<void> {
    return wrapTearDown(this.#plugin, this.#volName, () => tearDownPodDir(this.#host.mountUtil, this.#dir, { signal }));
  }
}
