// The host-facing mount utility: what the volume plugins (and later the
// kubelet's runtime) use to mount, bind-mount and unmount, and to ask the
// kernel what is mounted where. It is upstream's mount-utils reduced to what
// a node needs, over the real `mount`/`umount` binaries and
// /proc/self/mountinfo. There is deliberately no fake: tests mount tmpfs and
// bind mounts on `volplane-` temp dirs and clean up, so they exercise exactly
// what production does.
//
// Every command has a deadline (default 2 minutes, upstream's order of
// magnitude for a mount), after which it is killed with its helpers and a
// MountTimeoutError is thrown: a dead NFS server must never hang a caller.

import { readFile, realpath, rm, rmdir } from 'node:fs/promises';
import { runCommand } from './exec.ts';
import { parseMountInfo, type MountInfo } from './mount-info.ts';

export const DEFAULT_MOUNT_TIMEOUT_MS = 120_000;

export interface CommandOptions {
  signal?: AbortSignal;
  /** Overrides the utility's default deadline for this one command. */
  timeoutMs?: number;
}

export interface MountCommandOptions extends CommandOptions {
  /**
   * Pass the source and target to the kernel as given (`--no-canonicalize`):
   * needed to mount a `/proc/<pid>/fd/<n>` path, which realpath would turn
   * back into the (swappable) path it came from.
   */
  noCanonicalize?: boolean;
}

export interface UnmountOptions extends CommandOptions {
  /** When the normal unmount fails (busy), detach lazily (`umount -l`) instead of failing. */
  lazyFallback?: boolean;
}

export interface MountUtil {
  /** `mount -t fstype -o options source target`. Throws MountError / MountTimeoutError / CancelledError. */
  mount(source: string, target: string, fstype: string, options: readonly string[], opts?: MountCommandOptions): Promise<void>;
  /** Bind-mounts source at target; with readOnly a second remount makes it read-only (one bind cannot). */
  bindMount(source: string, target: string, readOnly: boolean, opts?: CommandOptions): Promise<void>;
  /** Unmounts target. Fails (MountError) when nothing is mounted there. */
  unmount(target: string, opts?: UnmountOptions): Promise<void>;
  /** Whether `path` is the mount point of some mount. Symlinks are resolved first; a missing path is not one. */
  isMountPoint(path: string): Promise<boolean>;
  /** Every mount in this process's mount namespace. */
  listMounts(): Promise<MountInfo[]>;
  /**
   * Unmounts `path` if (and as long as) it is a mount point, then removes the
   * then-empty directory. A missing path is success. Never deletes the
   * contents of something still mounted.
   */
  cleanupMountPoint(path: string, opts?: UnmountOptions): Promise<void>;
}

export interface HostMountUtilOptions {
  timeoutMs?: number;
  /** The mountinfo file to read (default /proc/self/mountinfo). */
  mountInfoPath?: string;
}

export class HostMountUtil implements MountUtil {
  readonly #timeoutMs: number;
  readonly #mountInfoPath: string;

  constructor(options: HostMountUtilOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_MOUNT_TIMEOUT_MS;
    this.#mountInfoPath = options.mountInfoPath ?? '/proc/self/mountinfo';
  }

  async #run(file: string, args: string[], opts: CommandOptions | undefined): Promise<void> {
    await runCommand(file, args, { timeoutMs: opts?.timeoutMs ?? this.#timeoutMs, signal: opts?.signal });
  }

  async mount(source: string, target: string, fstype: string, options: readonly string[], opts?: MountCommandOptions): Promise<void> {
    const args: string[] = opts?.noCanonicalize === true ? ['--no-canonicalize'] : [];
    if (fstype !== '') args.push('-t', fstype);
    if (options.length > 0) args.push('-o', options.join(','));
    // `--` keeps a source or target starting with "-" from being read as an option.
    args.push('--', source, target);
    await this.#run('mount', args, opts);
  }

  async bindMount(source: string, target: string, readOnly: boolean, opts?: CommandOptions): Promise<void> {
    await this.#run('mount', ['--bind', '--', source, target], opts);
    if (!readOnly) return;
    try {
      await this.#run('mount', ['-o', 'remount,bind,ro', '--', target], opts);
    } catch (err) {
      // A writable bind left behind where read-only was asked for is worse than no mount.
      await this.#run('umount', ['--', target], opts).catch(() => {});
      throw err;
    }
  }

  async unmount(target: string, opts?: UnmountOptions): Promise<void> {
    try {
      await this.#run('umount', ['--', target], opts);
    } catch (err) {
      if (opts?.lazyFallback !== true || !(await this.isMountPoint(target))) throw err;
      await this.#run('umount', ['-l', '--', target], opts);
    }
  }

  async listMounts(): Promise<MountInfo[]> {
    return parseMountInfo(await readFile(this.#mountInfoPath, 'utf8'));
  }

  async isMountPoint(path: string): Promise<boolean> {
    let real: string;
    try {
      real = await realpath(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    return (await this.listMounts()).some((m) => m.mountPoint === real);
  }

  async cleanupMountPoint(path: string, opts?: UnmountOptions): Promise<void> {
    // Mounts can be stacked; unmount until nothing is left (bounded, a loop is a bug).
    for (let i = 0; i < 16 && (await this.isMountPoint(path)); i++) {
      await this.unmount(path, opts);
    }
    if (await this.isMountPoint(path)) throw new Error(`${path} is still mounted after 16 unmounts`);
    try {
      await rmdir(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // A regular file used as a bind target (subPath of a file).
      if (code === 'ENOTDIR') {
        await rm(path, { force: true });
        return;
      }
      throw err;
    }
  }
}
