// The in-tree `volplane.io/hostpath` provisioner: one directory per volume
// under a root directory (`<dataDir>/hostpath-volumes` by default), handed
// out as a hostPath PV pinned to the node it lives on.
//
// It is the NFS subdir provisioner of seed 001 §2.3.2 brought onto one
// machine: provisioning makes `<root>/<pv name>`; deleting removes it, or —
// with the class parameter `archiveOnDelete: "true"` — renames it to
// `<root>/archived-<pv name>` so the data survives. The choice is recorded at
// provision time in `<root>/.volplane/<pv name>.json`, because a delete only
// sees the PV and the class may be gone by then.
//
// Names come from the API, so every path is checked: a volume name must be a
// DNS subdomain without `..` or slashes, and a PV to delete must point
// directly below the root. Nothing outside the root is ever created or removed.

import { hostname } from 'node:os';
import { mkdir, readdir, readFile, rename, rm, writeFile, chmod } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { PersistentVolume, VolumeSources } from '../../../api/core/volume-types.ts';
import { HOSTNAME_LABEL } from '../../../api/core/volume-types.ts';
import { CancelledError } from '../../../base/index.ts';
import type { ProvisionOptions, ProvisionedVolume, Provisioner } from '../../provisioner.ts';
import { DeleteError, ProvisionError } from '../../provisioner.ts';
import { pathExists } from '../../util/path-exists.ts';

export const HOSTPATH_PROVISIONER_NAME = 'volplane.io/hostpath';
const META_DIR = '.volplane';
const ARCHIVE_PREFIX = 'archived-';

export interface HostPathProvisionerOptions {
  /** Where volumes live. Default `<dataDir>/hostpath-volumes`; one of root/dataDir is required. */
  root?: string;
  dataDir?: string;
  /** The node volumes are pinned to when the claim has no selected node (default: this host's name). */
  defaultNode?: string;
}

/** A volume name that could leave the root directory, or is not a PV name at all. */
export class UnsafeVolumeNameError extends Error {
  override readonly name = 'UnsafeVolumeNameError';
  readonly volumeName: string;
  constructor(volumeName: string, why: string) {
    super(`refusing volume name ${JSON.stringify(volumeName)}: ${why}`);
    this.volumeName = volumeName;
  }
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Throws UnsafeVolumeNameError unless `name` is a plain directory name safe to put under the root. */
export function validateVolumeName(name: string): void {
  if (name === '') throw new UnsafeVolumeNameError(name, 'empty');
  if (name.includes('/') || name.includes('\\')) throw new UnsafeVolumeNameError(name, 'contains a slash');
  if (name.includes('..')) throw new UnsafeVolumeNameError(name, 'contains ".."');
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) throw new UnsafeVolumeNameError(name, 'not a DNS subdomain');
}

interface VolumeMeta {
  archiveOnDelete: boolean;
}

export class HostPathProvisioner implements Provisioner {
  readonly name = HOSTPATH_PROVISIONER_NAME;
  readonly root: string;
  readonly defaultNode: string;

  constructor(options: HostPathProvisionerOptions) {
    const root = options.root ?? (options.dataDir === undefined ? undefined : join(options.dataDir, 'hostpath-volumes'));
    if (root === undefined) throw new Error('HostPathProvisioner needs a root or a dataDir');
    this.root = resolve(root);
    this.defaultNode = options.defaultNode ?? hostname();
  }

  /** The directory of volume `name`; throws UnsafeVolumeNameError for a name that could escape. */
  pathFor(name: string): string {
    validateVolumeName(name);
    return join(this.root, name);
  }

  async provision(options: ProvisionOptions, signal: AbortSignal): Promise<ProvisionedVolume> {
    if (signal.aborted) throw new CancelledError();
    let path: string;
    try {
      path = this.pathFor(options.pvName);
    } catch (err) {
      throw new ProvisionError(this.name, (err as Error).message, { cause: err });
    }
    const node = options.selectedNode ?? this.defaultNode;
    const archiveOnDelete = options.storageClass.parameters?.archiveOnDelete === 'true';
    try {
      await mkdir(join(this.root, META_DIR), { recursive: true });
      const meta: VolumeMeta = { archiveOnDelete };
      await writeFile(join(this.root, META_DIR, `${options.pvName}.json`), JSON.stringify(meta));
      await mkdir(path, { recursive: true });
      // Any container user may write to it, as upstream's hostPath provisioner makes it.
      await chmod(path, 0o777);
    } catch (err) {
      throw new ProvisionError(this.name, `creating ${path}: ${(err as Error).message}`, { cause: err });
    }
    return {
      source: { hostPath: { path, type: 'DirectoryOrCreate' } },
      capacity: options.claim.spec.resources?.requests?.storage ?? '0',
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: HOSTNAME_LABEL, operator: 'In', values: [node] }] }] } },
    };
  }

  async delete(pv: PersistentVolume, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new CancelledError();
    const pvName = pv.metadata.name ?? '';
    const path = pv.spec.hostPath?.path;
    if (path === undefined) throw new DeleteError(this.name, pvName, `volume ${JSON.stringify(pvName)} has no hostPath source`);
    const resolved = resolve(path);
    const name = basename(resolved);
    try {
      validateVolumeName(name);
    } catch (err) {
      throw new DeleteError(this.name, pvName, (err as Error).message, { cause: err });
    }
    if (dirname(resolved) !== this.root) {
      throw new DeleteError(this.name, pvName, `refusing to delete ${JSON.stringify(path)}: not directly under ${this.root}`);
    }
    const metaPath = join(this.root, META_DIR, `${name}.json`);
    const meta = await readMeta(metaPath);
    try {
      if (await pathExists(resolved)) {
        if (meta.archiveOnDelete) await rename(resolved, await this.#archivePath(name));
        else await rm(resolved, { recursive: true, force: true });
      }
      await rm(metaPath, { force: true });
    } catch (err) {
      throw new DeleteError(this.name, pvName, `deleting ${resolved}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Volumes with a provisioning record under the root (archived ones are not listed). */
  async listVolumes(signal: AbortSignal): Promise<{ pvName: string; source: VolumeSources }[]> {
    if (signal.aborted) throw new CancelledError();
    let entries: string[];
    try {
      entries = await readdir(join(this.root, META_DIR));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const volumes: { pvName: string; source: VolumeSources }[] = [];
    for (const entry of entries) {
      if (!entry.endsWith('.json')) continue;
      const pvName = entry.slice(0, -'.json'.length);
      try {
        validateVolumeName(pvName);
      } catch {
        continue;
      }
      volumes.push({ pvName, source: { hostPath: { path: join(this.root, pvName), type: 'DirectoryOrCreate' } } });
    }
    return volumes;
  }

  /** `archived-<name>`, or with a suffix when an earlier archive of the same name is still there. */
  async #archivePath(name: string): Promise<string> {
    const base = join(this.root, `${ARCHIVE_PREFIX}${name}`);
    if (!(await pathExists(base))) return base;
    return `${base}-${Date.now()}`;
  }
}

async function readMeta(path: string): Promise<VolumeMeta> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<VolumeMeta>;
    return { archiveOnDelete: parsed.archiveOnDelete === true };
  } catch {
    // No record (provisioned elsewhere, or lost): deleting is what Delete asks for.
    return { archiveOnDelete: false };
  }
}
