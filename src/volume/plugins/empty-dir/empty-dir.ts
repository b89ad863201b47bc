// emptyDir: a directory that lives as long as the pod (seed 001 §1.1). On the
// node's disk it is a plain directory, mode 0777 so any container user can
// write; with `medium: Memory` the directory is a tmpfs mount point whose size
// is the volume's sizeLimit (the kernel's default, half of RAM, without one),
// so writing past the limit fails with ENOSPC inside the container.
//
// TearDown unmounts the tmpfs (if any) and deletes the directory: the data is
// gone with the pod, as the seed says.

import { parseQuantity, quantityToBigInt, QuantityParseError } from '../../../apimachinery/index.ts';
import type { Mounter, NewMounterOptions, SetUpArgs, Unmounter, VolumeHost, VolumePlugin, VolumeSpec } from '../../plugin.ts';
import { podUidOf, podVolumeDir, VolumeSetupError, wrapSetup } from '../../plugin.ts';
import type { EmptyDirVolumeSource, Pod } from '../../types.ts';
import { PodDirUnmounter, setupDir, setupTmpfs } from '../../util/pod-dir.ts';
import { setVolumeOwnership } from '../../util/volume-ownership.ts';

export const EMPTY_DIR_PLUGIN_NAME = 'kubernetes.io/empty-dir';
export const STORAGE_MEDIUM_MEMORY = 'Memory';
const EMPTY_DIR_MODE = 0o777;

/** The tmpfs size for a sizeLimit quantity, in bytes (undefined: no limit). Throws QuantityParseError. */
export function sizeLimitBytes(sizeLimit: string | undefined): bigint | undefined {
  if (sizeLimit === undefined || sizeLimit === '') return undefined;
  const bytes = quantityToBigInt(parseQuantity(sizeLimit));
  return bytes > 0n ? bytes : undefined;
}

export class EmptyDirPlugin implements VolumePlugin {
  readonly name = EMPTY_DIR_PLUGIN_NAME;
  readonly requiresRemount = false;
  readonly #host: VolumeHost;

  constructor(host: VolumeHost) {
    this.#host = host;
  }

  canSupport(spec: VolumeSpec): boolean {
    return spec.volume?.emptyDir !== undefined;
  }

  newMounter(spec: VolumeSpec, pod: Pod, opts: NewMounterOptions = {}): Mounter {
    const volume = spec.volume;
    if (volume?.emptyDir === undefined) {
      throw new VolumeSetupError(this.name, volume?.name ?? '', 'spec does not reference an EmptyDir volume type');
    }
    const source: EmptyDirVolumeSource = volume.emptyDir;
    const medium = source.medium ?? '';
    if (medium !== '' && medium !== STORAGE_MEDIUM_MEMORY) {
      throw new VolumeSetupError(this.name, volume.name, `emptyDir medium ${JSON.stringify(medium)} is not supported`);
    }
    let size: bigint | undefined;
    try {
      size = sizeLimitBytes(source.sizeLimit);
    } catch (err) {
      if (!(err instanceof QuantityParseError)) throw err;
      throw new VolumeSetupError(this.name, volume.name, `invalid emptyDir sizeLimit: ${err.message}`, { cause: err });
    }
    const dir = podVolumeDir(this.#host.rootDir, podUidOf(pod), this.name, volume.name);
    return new EmptyDirMounter(this.#host, this.name, volume.name, dir, medium === STORAGE_MEDIUM_MEMORY, size, opts);
  }

  newUnmounter(volName: string, podUid: string): Unmounter {
    return new PodDirUnmounter(this.#host, this.name, volName, podVolumeDir(this.#host.rootDir, podUid, this.name, volName));
  }
}

class EmptyDirMounter implements Mounter {
  readonly #host: VolumeHost;
  readonly #plugin: string;
  readonly #volName: string;
  readonly #dir: string;
  readonly #memory: boolean;
  readonly #size: bigint | undefined;
  readonly #opts: NewMounterOptions;

  constructor(host: VolumeHost, plugin: string, volName: string, dir: string, memory: boolean, size: bigint | undefined, opts: NewMounterOptions) {
    this.#host = host;
    this.#plugin = plugin;
    this.#volName = volName;
    this.#dir = dir;
    this.#memory = memory;
    this.#size = size;
    this.#opts = opts;
  }

  getPath(): string {
    return this.#dir;
  }

  setUp(args: SetUpArgs): Promise<void> {
    return wrapSetup(this.#plugin, this.#volName, async () => {
      await setupDir(this.#dir, EMPTY_DIR_MODE);
      if (this.#memory) {
        await setupTmpfs(this.#host.mountUtil, this.#dir, this.#size, { signal: args.signal, timeoutMs: this.#opts.mountTimeoutMs });
        // Like upstream, the tmpfs root keeps the kernel's 1777 (sticky, world-writable).
      }
      await setVolumeOwnership(this.#dir, args.fsGroup, false, args.fsGroupChangePolicy);
    });
  }
}
