// subPath: mounting one directory (or file) inside a volume instead of the
// whole volume, safely (CVE-2017-1002101). The danger is a container that
// plants a symlink in a shared volume — `data -> /etc` — so that the next
// container's `subPath: data` bind-mounts the host's /etc. Upstream's answer,
// repeated here:
//
// 1. Refuse absolute subPaths and any `..` component outright.
// 2. Resolve symlinks once and refuse a result outside the volume.
// 3. Open the resolved path one component at a time without following
//    symlinks (O_PATH|O_NOFOLLOW from the parent's fd — `/proc/self/fd/<n>/<c>`
//    is openat(n, c)), so a symlink swapped in after step 2 is found, not
//    followed.
// 4. Bind-mount the opened fd (`/proc/<pid>/fd/<n>`, which names the inode we
//    checked, whatever the path now points at) onto a stable target
//    `<pod dir>/volume-subpaths/<volume>/<container>/<index>`, which is what
//    the runtime bind-mounts into the container. cleanSubPaths unmounts and
//    removes these when the pod's volume goes.
//
// A subPath that does not exist yet is created (as upstream's SafeMakeDir)
// with the volume directory's mode, with the same no-follow walk.

import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rmdir, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { MountUtil } from '../mount/index.ts';
import { goQuote } from './go-quote.ts';

export const CONTAINER_SUBPATH_DIRECTORY_NAME = 'volume-subpaths';
// Not in node's constants on every platform; the Linux value on x86_64 and arm64.
const O_PATH = 0o10000000;
const OPEN_FD_FLAGS = O_PATH | constants.O_NOFOLLOW;

/** The subPath was refused or could not be prepared; the message is upstream's. */
export class SubPathError extends Error {
  override readonly name = 'SubPathError';
  readonly subPath: string;
  constructor(subPath: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.subPath = subPath;
  }
}

/** Throws SubPathError for an absolute subPath or one with a `..` component. */
export function validateSubPath(subPath: string): void {
  if (isAbsolute(subPath)) throw new SubPathError(subPath, `error SubPath \`${subPath}\` must not be an absolute path`);
  if (subPath.split(/[/\\]/).includes('..')) {
    throw new SubPathError(subPath, `unable to provision SubPath \`${subPath}\`: must not contain '..'`);
  }
}

/** Whether `path` is `base` or below it (both clean and absolute). */
export function pathWithinBase(path: string, base: string): boolean {
  const rel = relative(base, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

export interface SubPath {
  /** The volume's path on the host (the mounter's getPath()). */
  volumePath: string;
  /** The volumeMount's subPath, relative to the volume. */
  subPath: string;
  /** `<root>/pods/<podUID>`. */
  podDir: string;
  volumeName: string;
  containerName: string;
  /** The index of the volumeMount in the container's list. */
  volumeMountIndex: number;
}

/** `<podDir>/volume-subpaths/<volume>/<container>/<index>`. */
export function subPathBindTarget(sp: Pick<SubPath, 'podDir' | 'volumeName' | 'containerName' | 'volumeMountIndex'>): string {
  return join(sp.podDir, CONTAINER_SUBPATH_DIRECTORY_NAME, sp.volumeName, sp.containerName, String(sp.volumeMountIndex));
}

/**
 * Opens `path` (symlink-free, inside `base`) one component at a time without
 * following symlinks, and returns the handle of the last component. The
 * caller closes it. Throws SubPathError.
 */
export async function safeOpen(path: string, base: string, subPath = path): Promise<FileHandle> {
  if (!pathWithinBase(path, base)) {
    throw new SubPathError(subPath, `path ${path} is outside of allowed base ${base}`);
  }
  const segments = relative(base, path).split(sep).filter((s) => s !== '');
  let parent = await open(base, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_DIRECTORY).catch((err: Error) => {
    throw new SubPathError(subPath, `cannot open directory ${base}: ${err.message}`, { cause: err });
  });
  let current = base;
  let done = false;
  try {
    for (const seg of segments) {
      current = join(current, seg);
      let child: FileHandle;
      try {
        child = await open(`/proc/self/fd/${parent.fd}/${seg}`, OPEN_FD_FLAGS);
      } catch (err) {
        throw new SubPathError(subPath, `cannot open ${current}: ${(err as Error).message}`, { cause: err });
      }
      const st = await child.stat().catch(async (err: Error) => {
        await child.close();
        throw new SubPathError(subPath, `error running fstat on ${current} with ${err.message}`, { cause: err });
      });
      if (st.isSymbolicLink()) {
        await child.close();
        throw new SubPathError(subPath, `unexpected symlink found ${current}`);
      }
      await parent.close();
      parent = child;
    }
    done = true;
    return parent;
  } finally {
    if (!done) await parent.close().catch(() => {});
  }
}

/**
 * Creates the missing directories of `subPath` below `volumePath` with
 * `mode`, never following a symlink on the way. Existing directories are
 * left alone. Throws SubPathError.
 */
export async function safeMakeDir(volumePath: string, subPath: string, mode: number): Promise<void> {
  validateSubPath(subPath);
  const base = await realpath(volumePath);
  const segments = subPath.split('/').filter((s) => s !== '' && s !== '.');
  let parent = await open(base, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_DIRECTORY);
  let current = base;
  try {
    for (const seg of segments) {
      current = join(current, seg);
      const at = `/proc/self/fd/${parent.fd}/${seg}`;
      try {
        await mkdir(at, { mode });
        // mkdir's mode went through the umask; the subPath gets the volume's mode exactly.
        const fresh = await open(at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_DIRECTORY);
        await fresh.chmod(mode);
        await parent.close();
        parent = fresh;
        continue;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new SubPathError(subPath, `cannot create directory ${current}: ${(err as Error).message}`, { cause: err });
        }
      }
      let child: FileHandle;
      try {
        // O_NOFOLLOW|O_DIRECTORY: an existing symlink fails with ELOOP, a file with ENOTDIR.
        child = await open(at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_DIRECTORY);
      } catch (err) {
        throw new SubPathError(subPath, `cannot open ${current}: ${(err as Error).message}`, { cause: err });
      }
      await parent.close();
      parent = child;
    }
  } finally {
    await parent.close().catch(() => {});
  }
}

/**
 * Prepares a subPath for the runtime and returns the path to bind-mount into
 * the container. Idempotent: a target already bound to the same file is
 * returned as is. Throws SubPathError (refused or unsafe) or the mount error.
 */
export async function prepareSubPath(mountUtil: MountUtil, sp: SubPath, signal?: AbortSignal): Promise<string> {
  validateSubPath(sp.subPath);
  const requested = join(sp.volumePath, sp.subPath);
  // Missing: create it like the volume's root, as the kubelet does before binding.
  if ((await lstatOrUndefined(requested)) === undefined) {
    const volumeMode = (await stat(sp.volumePath)).mode & 0o7777;
    await safeMakeDir(sp.volumePath, sp.subPath, volumeMode);
  }
  let volumePath: string;
  let path: string;
  try {
    volumePath = await realpath(sp.volumePath);
  } catch (err) {
    throw new SubPathError(sp.subPath, `error resolving symlinks in ${goQuote(sp.volumePath)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    path = await realpath(requested);
  } catch (err) {
    throw new SubPathError(sp.subPath, `error resolving symlinks in ${goQuote(requested)}: ${(err as Error).message}`, { cause: err });
  }
  if (!pathWithinBase(path, volumePath)) {
    throw new SubPathError(sp.subPath, `subpath ${goQuote(path)} not within volume path ${goQuote(volumePath)}`);
  }
  let fh: FileHandle;
  try {
    fh = await safeOpen(path, volumePath, sp.subPath);
  } catch (err) {
    throw new SubPathError(sp.subPath, `error opening subpath ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const target = subPathBindTarget(sp);
    if (await mountUtil.isMountPoint(target)) {
      const [a, b] = await Promise.all([fh.stat(), lstat(target)]);
      if (a.dev === b.dev && a.ino === b.ino) return target;
      await mountUtil.unmount(target, { signal });
    }
    await mkdir(dirname(target), { recursive: true, mode: 0o750 });
    if ((await fh.stat()).isDirectory()) {
      await mkdir(target, { mode: 0o750 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    } else {
      // A file target fits every non-directory source (file, socket, device).
      await writeFile(target, '', { mode: 0o640 });
    }
    try {
      // The mount binary reaches our fd through /proc/<our pid>; noCanonicalize stops it from
      // turning the magic link back into a path a container could have swapped since.
      await mountUtil.mount(`/proc/${process.pid}/fd/${fh.fd}`, target, '', ['bind'], { signal, noCanonicalize: true });
    } catch (err) {
      await cleanSubPath(mountUtil, sp).catch(() => {});
      throw new SubPathError(sp.subPath, `error mounting ${path}: ${(err as Error).message}`, { cause: err });
    }
    return target;
  } finally {
    await fh.close();
  }
}

async function lstatOrUndefined(path: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Unmounts and removes one subPath target, then its empty parents up to the pod directory. */
async function cleanSubPath(mountUtil: MountUtil, sp: SubPath): Promise<void> {
  await mountUtil.cleanupMountPoint(subPathBindTarget(sp));
  const stop = sp.podDir;
  for (let dir = dirname(subPathBindTarget(sp)); pathWithinBase(dir, stop) && dir !== stop; dir = dirname(dir)) {
    try {
      await rmdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') break;
      throw err;
    }
  }
}

/**
 * Unmounts and removes every subPath target of one volume of a pod
 * (`<podDir>/volume-subpaths/<volume>/*\/*`), then the emptied directories.
 * Nothing there is success.
 */
export async function cleanSubPaths(mountUtil: MountUtil, podDir: string, volumeName: string, signal?: AbortSignal): Promise<void> {
  const subPathDir = join(podDir, CONTAINER_SUBPATH_DIRECTORY_NAME, volumeName);
  let containers: string[];
  try {
    containers = await readdir(subPathDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const container of containers) {
    const containerDir = join(subPathDir, container);
    if (!(await lstat(containerDir)).isDirectory()) continue;
    for (const index of await readdir(containerDir)) {
      await mountUtil.cleanupMountPoint(join(containerDir, index), { signal });
    }
    await rmdir(containerDir);
  }
  await rmdir(subPathDir);
  // The pod's volume-subpaths directory goes with its last volume.
  await rmdir(join(podDir, CONTAINER_SUBPATH_DIRECTORY_NAME)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST' && err.code !== 'ENOENT') throw err;
  });
}
