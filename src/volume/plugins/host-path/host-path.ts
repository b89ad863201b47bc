// hostPath: a file or directory of the node handed to the pod as is. There is
// nothing to mount — the mounter's path IS the host path and the runtime
// bind-mounts it into the container — so setUp only enforces the `type`
// contract of seed 001 §1.2, with upstream's messages:
//
//   ""                 no check
//   DirectoryOrCreate  create (0755) if missing, then it must be a directory
//   Directory          must exist and be a directory
//   FileOrCreate       create an empty file (0644) if missing — the parent must exist
//   File               must exist and be a regular file
//   Socket / CharDevice / BlockDevice   must exist and be one
//
// TearDown does nothing: the host's data is not the pod's to remove.

import { chmod, lstat, mkdir, open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { Mounter, SetUpArgs, Unmounter, VolumeHost, VolumePlugin, VolumeSpec } from '../../plugin.ts';
import { VolumeSetupError, wrapSetup } from '../../plugin.ts';
import type { HostPathVolumeSource, Pod } from '../../types.ts';

export const HOST_PATH_PLUGIN_NAME = 'kubernetes.io/host-path';

export type HostPathType =
  | ''
  | 'DirectoryOrCreate'
  | 'Directory'
  | 'FileOrCreate'
  | 'File'
  | 'Socket'
  | 'CharDevice'
  | 'BlockDevice';

/** What a path on the host is, in the HostPathType vocabulary (hostutil's GetFileType). */
export type HostFileType = 'Directory' | 'File' | 'Socket' | 'CharDevice' | 'BlockDevice' | 'Unknown';

/** A hostPath `type` check failed; the message is upstream's. */
export class HostPathTypeError extends Error {
  override readonly name = 'HostPathTypeError';
  readonly path: string;
  readonly expected: HostPathType | string;
  constructor(path: string, expected: HostPathType | string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.path = path;
    this.expected = expected;
  }
}

function fileTypeOf(st: Stats): HostFileType {
  if (st.isDirectory()) return 'Directory';
  if (st.isFile()) return 'File';
  if (st.isSocket()) return 'Socket';
  if (st.isCharacterDevice()) return 'CharDevice';
  if (st.isBlockDevice()) return 'BlockDevice';
  return 'Unknown';
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    // stat, not lstat: a symlink to a directory is a directory to the container.
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function typeMatchedOrError(path: string, expected: HostFileType, description: string): Promise<void> {
  const st = await statOrUndefined(path);
  if (st === undefined) throw new HostPathTypeError(path, expected, `hostPath ${path} doesn't exist`);
  const actual = fileTypeOf(st);
  if (actual === 'Unknown') {
    throw new HostPathTypeError(path, expected,
      `hostPath type check failed, ${path} is not a ${description}, unable to determine its type: only recognise file, directory, socket, block device and character device`);
  }
  if (actual !== expected) {
    // The kubelet's checkTypeInternal wording, which names only what was expected.
    throw new HostPathTypeError(path, expected, `hostPath type check failed: ${path} is not a ${description}`);
  }
}

/**
 * Enforces the `type` of a hostPath volume, creating the directory or file for
 * the *OrCreate types. Throws HostPathTypeError (or the file-system error of a
 * failed creation, e.g. ENOENT when FileOrCreate's parent is missing).
 */
export async function checkHostPathType(path: string, type: string): Promise<void> {
  switch (type) {
    case '':
      return;
    case 'DirectoryOrCreate':
      if ((await statOrUndefined(path)) === undefined) {
        await mkdir(path, { recursive: true, mode: 0o755 });
        // mkdir's mode is filtered by the umask; the table promises 0755.
        await chmod(path, 0o755);
      }
      return typeMatchedOrError(path, 'Directory', 'directory');
    case 'Directory':
      return typeMatchedOrError(path, 'Directory', 'directory');
    case 'FileOrCreate':
      if ((await statOrUndefined(path)) === undefined && (await lstatOrUndefined(path)) === undefined) {
        const fh = await open(path, 'a', 0o644);
        await fh.close();
        await chmod(path, 0o644);
      }
      return typeMatchedOrError(path, 'File', 'file');
    case 'File':
      return typeMatchedOrError(path, 'File', 'file');
    case 'Socket':
      return typeMatchedOrError(path, 'Socket', 'socket file');
    case 'CharDevice':
      return typeMatchedOrError(path, 'CharDevice', 'character device');
    case 'BlockDevice':
      return typeMatchedOrError(path, 'BlockDevice', 'block device');
    default:
      throw new HostPathTypeError(path, type, `${type} is an invalid volume type`);
  }
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function sourceOf(spec: VolumeSpec): HostPathVolumeSource | undefined {
  return spec.volume?.hostPath ?? spec.persistentVolume?.spec.hostPath;
}

export class HostPathPlugin implements VolumePlugin {
  readonly name = HOST_PATH_PLUGIN_NAME;
  readonly requiresRemount = false;

  // The host is not needed: a hostPath volume never touches the kubelet's directories.
  constructor(_host?: VolumeHost) {}

  canSupport(spec: VolumeSpec): boolean {
    return sourceOf(spec) !== undefined;
  }

  newMounter(spec: VolumeSpec, _pod: Pod): Mounter {
    const source = sourceOf(spec);
    const volName = spec.volume?.name ?? spec.persistentVolume?.metadata.name ?? '';
    if (source === undefined) {
      throw new VolumeSetupError(this.name, volName, 'spec does not reference an HostPath volume type');
    }
    return new HostPathMounter(this.name, volName, source.path, source.type ?? '');
  }

  newUnmounter(_volName: string, _podUid: string): Unmounter {
    // Nothing was mounted and the host path is not known from the name alone.
    return { getPath: () => '', tearDown: async () => {} };
  }
}

class HostPathMounter implements Mounter {
  readonly #plugin: string;
  readonly #volName: string;
  readonly #path: string;
  readonly #type: string;

  constructor(plugin: string, volName: string, path: string, type: string) {
    this.#plugin = plugin;
    this.#volName = volName;
    this.#path = path;
    this.#type = type;
  }

  getPath(): string {
    return this.#path;
  }

  setUp(_args: SetUpArgs): Promise<void> {
    return wrapSetup(this.#plugin, this.#volName, async () => {
      if (this.#path.split('/').includes('..')) {
        throw new VolumeSetupError(this.#plugin, this.#volName, `invalid HostPath \`${this.#path}\`: must not contain '..'`);
      }
      await checkHostPathType(this.#path, this.#type);
    });
  }
}
