// Adoption: a loop volume made from an image file that already exists, so
// volumes of another driver (the volplane/loop FlexVolume driver keeps its
// volumes as `<dir>/<pv name>.img`) can move to this CSI driver with their
// data. CreateVolume takes it over when its parameters carry
// `volplane.io/adopt-file: <absolute path>`; controller-server.ts hands such
// requests here and nothing else in the driver changes.
//
// Why a CreateVolume parameter and not an offline import into state.json: the
// running driver owns its state in memory and writes all of it on every
// change, so an outside writer would be overwritten; through CreateVolume the
// adoption is serialised with every other call, idempotent by name like any
// CreateVolume, and works the same whether the caller is the migration
// command or a StorageClass.
//
// The file stays where it is (the record's `path` points at it; moving it
// could mean copying gigabytes across filesystems) and its filesystem is kept
// as found: ext4 or xfs, never reformatted. A file that was never written
// (no allocated blocks) is adopted blank and formatted on first stage, which
// is what the FlexVolume driver would have done. From then on the file
// belongs to this driver: DeleteVolume removes it.
//
// Guards, because the parameter names a host path: the file must be a
// regular file (no symlink, no device), must hold ext4/xfs or nothing at all
// (so no arbitrary host file can be taken over — the only way to reach this
// code besides the root-owned socket is a StorageClass, which only a cluster
// admin writes, and an admin can already expose host paths with hostPath),
// must not be the driver's own data, must not belong to another volume, and
// must not be on a loop device: attached means the old driver still uses it.
import { randomUUID } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { isAbsolute, normalize, relative } from 'node:path';
import { CsiError, type CreateVolumeRequest, type Topology } from '../../csi/index.ts';
import { filesystemOf, loopDevicesOf } from './host.ts';
import type { VolumeRecord } from './state.ts';
import {
  DEFAULT_FS_TYPE,
  PARAM_FS_TYPE,
  PARAM_FS_TYPE_SHORT,
  PARAM_KIND,
  SUPPORTED_FS_TYPES,
  TOPOLOGY_KEY,
  incompatibility,
  requestedFsType,
  type DriverContext,
} from './volumes.ts';

/** CreateVolume parameter: the absolute path of an existing image file to take over. */
export const PARAM_ADOPT_FILE = 'volplane.io/adopt-file';

/** Whether a CreateVolume request asks for adoption (and must go to adoptVolume). */
export function isAdoption(req: CreateVolumeRequest): boolean {
  return req.parameters?.[PARAM_ADOPT_FILE] !== undefined;
}

// Files being adopted right now, per driver instance: two CreateVolume calls
// with different names hold different locks in the scaffold, yet must not
// both take the same file.
const adopting = new WeakMap<DriverContext, Set<string>>();

/**
 * Records `parameters[volplane.io/adopt-file]` as a loop volume named
 * `req.name` and returns the record. Repeating the call returns the same
 * record. Throws CsiError: INVALID_ARGUMENT (bad path, not a regular file,
 * unsupported or conflicting filesystem, content source, kind other than
 * loop), NOT_FOUND (no such file), ALREADY_EXISTS (the name holds another
 * volume, or the file belongs to another volume), FAILED_PRECONDITION (the
 * file is on a loop device), OUT_OF_RANGE (capacity range does not fit the
 * file's size), RESOURCE_EXHAUSTED (topology names another node), ABORTED
 * (the same file is being adopted by another call).
 */
export async function adoptVolume(ctx: DriverContext, req: CreateVolumeRequest): Promise<VolumeRecord> {
  const name = req.name ?? '';
  const params = req.parameters ?? {};
  const file = params[PARAM_ADOPT_FILE] ?? '';
  if (!isAbsolute(file) || normalize(file) !== file || file.endsWith('/')) {
    throw new CsiError('INVALID_ARGUMENT', `parameter ${PARAM_ADOPT_FILE} must be a normalised absolute file path, not ${JSON.stringify(file)}`);
  }
  if (req.volume_content_source?.snapshot || req.volume_content_source?.volume) {
    throw new CsiError('INVALID_ARGUMENT', `an adopted volume keeps its own data and cannot also have a content source`);
  }
  const kind = params[PARAM_KIND];
  if (kind !== undefined && kind !== 'loop') {
    throw new CsiError('INVALID_ARGUMENT', `an adopted file is a loop volume; parameter ${PARAM_KIND} must be "loop" or absent, not ${JSON.stringify(kind)}`);
  }
  const wanted = requestedFsTypes(req);
  if (wanted.size > 1) throw new CsiError('INVALID_ARGUMENT', `conflicting filesystem types requested: ${[...wanted].join(', ')}`);
  const fsWanted = [...wanted][0];
  const requisite = req.accessibility_requirements?.requisite ?? [];
  if (requisite.length > 0 && !requisite.some((t) => reachable(ctx, t))) {
    throw new CsiError('RESOURCE_EXHAUSTED', `volumes can only be provisioned on node ${ctx.nodeId}`);
  }

  // Already done?
  const existing = ctx.state.volumeByName(name);
  if (existing !== undefined) {
    if (existing.kind !== 'loop' || existing.path !== file) {
      throw new CsiError('ALREADY_EXISTS', `Volume with the same name: ${name} but with different size or parameters already exist`);
    }
    checkFits(existing, req, fsWanted);
    return existing;
  }
  const owner = [...ctx.state.volumes.values()].find((v) => v.path === file);
  if (owner !== undefined) {
    throw new CsiError('ALREADY_EXISTS', `file ${file} already belongs to volume ${owner.id} (${owner.name})`);
  }
  const inside = relative(ctx.dataDir, file);
  if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) {
    throw new CsiError('INVALID_ARGUMENT', `file ${file} is inside the driver's data directory ${ctx.dataDir} and cannot be adopted`);
  }

  let busy = adopting.get(ctx);
  if (busy === undefined) adopting.set(ctx, (busy = new Set()));
  if (busy.has(file)) throw new CsiError('ABORTED', `file ${file} is being adopted by another call`);
  busy.add(file);
  try {
    const st = await lstat(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new CsiError('NOT_FOUND', `file ${file} to adopt does not exist`);
      throw err;
    });
    if (!st.isFile()) throw new CsiError('INVALID_ARGUMENT', `${file} is not a regular file (symbolic links and devices are not adopted)`);
    const devices = await loopDevicesOf(file);
    if (devices.length > 0) {
      throw new CsiError(
        'FAILED_PRECONDITION',
        `file ${file} is attached to ${devices.join(', ')}; the driver that uses it must detach it before it can be adopted`,
      );
    }
    const found = await filesystemOf(file);
    let fsType: string;
    if (found !== undefined) {
      if (!(SUPPORTED_FS_TYPES as readonly string[]).includes(found)) {
        throw new CsiError('INVALID_ARGUMENT', `file ${file} holds a ${found} filesystem; only ${SUPPORTED_FS_TYPES.join(', ')} can be adopted`);
      }
      fsType = found;
    } else if (st.blocks === 0) {
      // Created but never written: nothing to keep, formatted on first stage.
      fsType = fsWanted ?? DEFAULT_FS_TYPE;
      if (!(SUPPORTED_FS_TYPES as readonly string[]).includes(fsType)) {
        throw new CsiError('INVALID_ARGUMENT', `unsupported filesystem type ${fsType}; supported: ${SUPPORTED_FS_TYPES.join(', ')}`);
      }
    } else {
      throw new CsiError('INVALID_ARGUMENT', `file ${file} holds data but no filesystem that blkid recognises; it is not adopted`);
    }

    const vol: VolumeRecord = {
      id: randomUUID(),
      name,
      kind: 'loop',
      path: file,
      capacityBytes: st.size,
      fsType,
      parameters: { ...params },
      createdAtMs: Date.now(),
      attachments: [],
      publications: [],
    };
    checkFits(vol, req, fsWanted);
    ctx.state.volumes.set(vol.id, vol);
    try {
      await ctx.state.persist();
    } catch (err) {
      ctx.state.volumes.delete(vol.id);
      throw err;
    }
    ctx.logger.info({ volumeId: vol.id, name, file, fsType, capacityBytes: vol.capacityBytes }, 'adopted volume');
    return vol;
  } finally {
    busy.delete(file);
  }
}

function requestedFsTypes(req: CreateVolumeRequest): Set<string> {
  const params = req.parameters ?? {};
  const out = new Set<string>();
  for (const p of [params[PARAM_FS_TYPE], params[PARAM_FS_TYPE_SHORT]]) if (p !== undefined && p !== '') out.add(p.toLowerCase());
  for (const cap of req.volume_capabilities ?? []) if (requestedFsType(cap) !== '') out.add(requestedFsType(cap).toLowerCase());
  return out;
}

/** The adopted volume must satisfy what the request asks: filesystem, capabilities, capacity. */
function checkFits(vol: VolumeRecord, req: CreateVolumeRequest, fsWanted: string | undefined): void {
  if (fsWanted !== undefined && fsWanted !== vol.fsType) {
    throw new CsiError('INVALID_ARGUMENT', `file ${vol.path} holds ${vol.fsType ?? 'no filesystem'}, not ${fsWanted}; an adopted filesystem is kept as it is`);
  }
  for (const cap of req.volume_capabilities ?? []) {
    const why = incompatibility(vol, cap);
    if (why !== undefined) throw new CsiError('INVALID_ARGUMENT', why);
  }
  const required = req.capacity_range?.required_bytes ?? 0;
  const limit = req.capacity_range?.limit_bytes ?? 0;
  if (required > vol.capacityBytes || (limit > 0 && limit < vol.capacityBytes)) {
    throw new CsiError(
      'OUT_OF_RANGE',
      `file ${vol.path} is ${vol.capacityBytes} bytes, outside the requested range (required ${required}, limit ${limit || 'none'}); an adopted file is not resized`,
    );
  }
}

function reachable(ctx: DriverContext, t: Topology): boolean {
  const segments = t.segments ?? {};
  return !(TOPOLOGY_KEY in segments) || segments[TOPOLOGY_KEY] === ctx.nodeId;
}
