// Recycle, done on this machine: what upstream's recycler pod does with
// `rm -rf /scrub/..?* /scrub/.[!.]* /scrub/*` — delete everything inside the
// volume, hidden entries included, and keep the directory itself.
//
// hostPath volumes are scrubbed where they are. An nfs volume can only be
// scrubbed if its export is mounted on this machine (found in
// /proc/self/mountinfo); otherwise the controller is told to skip it, and it
// says so in a RecyclerPod event, as a recycler pod that cannot mount would.
// This is the one file of the controller that touches the host.

import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { PersistentVolume } from '../../api/core/volume-types.ts';

export type RecycleResult =
  | { kind: 'recycled'; path: string }
  /** The volume cannot be reached from here; nothing was touched. */
  | { kind: 'skipped'; reason: string };

export interface Recycler {
  /** Whether this recycler knows the volume's source at all (else: "No recycler plugin found"). */
  canRecycle(pv: PersistentVolume): boolean;
  /** Scrubs the volume. Throws RecycleError when scrubbing failed half-way or the path is refused. */
  recycle(pv: PersistentVolume, signal: AbortSignal): Promise<RecycleResult>;
}

export class RecycleError extends Error {
  override readonly name = 'RecycleError';
  readonly volume: string;
  constructor(volume: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.volume = volume;
  }
}

/** Removes every entry inside `dir` (hidden ones too) and keeps `dir`. */
export async function scrubDirectory(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) await rm(join(dir, entry), { recursive: true, force: true });
}

/** Where `server:path` is mounted on this machine, from mountinfo text; undefined if it is not. */
export function findNfsMount(mountinfo: string, server: string, exportPath: string): string | undefined {
  const wanted = new Set([`${server}:${exportPath}`, `${server}:${exportPath.replace(/\/+$/, '')}`, `${server}:${exportPath.replace(/\/?$/, '/')}`]);
  for (const line of mountinfo.split('\n')) {
    // `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const fields = left.split(' ');
    const [fstype, source] = right.split(' ');
    if (fstype === undefined || !fstype.startsWith('nfs') || source === undefined) continue;
    const mountPoint = fields[4];
    if (mountPoint !== undefined && wanted.has(source)) return mountPoint.replace(/\\040/g, ' ');
  }
  return undefined;
}

export class HostRecycler implements Recycler {
  readonly #mountinfoPath: string;

  constructor(options: { mountinfoPath?: string } = {}) {
    this.#mountinfoPath = options.mountinfoPath ?? '/proc/self/mountinfo';
  }

  canRecycle(pv: PersistentVolume): boolean {
    return pv.spec.hostPath !== undefined || pv.spec.nfs !== undefined;
  }

  async recycle(pv: PersistentVolume, _signal: AbortSignal): Promise<RecycleResult> {
    const name = pv.metadata.name ?? '';
    let dir: string;
    if (pv.spec.hostPath !== undefined) {
      dir = pv.spec.hostPath.path;
    } else if (pv.spec.nfs !== undefined) {
      const { server, path } = pv.spec.nfs;
      const mountinfo = await readFile(this.#mountinfoPath, 'utf8').catch(() => '');
      const mounted = findNfsMount(mountinfo, server, path);
      if (mounted === undefined) return { kind: 'skipped', reason: `nfs export ${server}:${path} is not mounted on this machine, cannot scrub it` };
      dir = mounted;
    } else {
      throw new RecycleError(name, 'no recycler for this volume source');
    }
    // A recycler pod could scrub `/`; we refuse the obviously catastrophic.
    if (!isAbsolute(dir) || resolve(dir) === '/') throw new RecycleError(name, `refusing to scrub ${JSON.stringify(dir)}`);
    try {
      const st = await stat(dir);
      if (!st.isDirectory()) throw new RecycleError(name, `${dir} is not a directory`);
      await scrubDirectory(dir);
    } catch (err) {
      if (err instanceof RecycleError) throw err;
      throw new RecycleError(name, `scrubbing ${dir}: ${(err as Error).message}`, { cause: err });
    }
    return { kind: 'recycled', path: dir };
  }
}
