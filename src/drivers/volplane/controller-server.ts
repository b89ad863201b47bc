// The Controller service of the volplane driver. Each call follows the same
// shape: check the request (the scaffold already refused missing REQUIRED
// fields and holds the per-volume lock), look up what already exists and
// return it unchanged when the call was already done, otherwise act and write
// the state through. Repeating a finished call therefore always succeeds.
//
// A volume is a directory under <dataDir>/volumes/<id> (no size enforcement,
// no filesystem of its own) or a sparse image <dataDir>/volumes/<id>.img that
// the node attaches to a loop device and formats once; its capacity is real.
// Which one: the `kind` parameter, or else a loop volume when block access or
// a filesystem type is asked for, and a directory otherwise.
//
// Nodes: volumes are files on this machine, so every node agent on the
// machine reaches every volume. The nodes the controller knows are its own
// and those node-only instances recorded under <dataDir>/nodes (nodes.ts).
// CreateVolume needs one requisite segment naming a known node (else
// RESOURCE_EXHAUSTED) and answers with those segments plus every other known
// node: the spec asks that the volume be reachable from at least one
// requisite segment and lets it be reachable from more, and this is where it
// really is reachable. That matters under WaitForFirstConsumer, where our
// external provisioner sends only the selected node as requisite: a pod
// recreated on another node of the machine must still fit the PV's node
// affinity. (A node that joins later is not in an older PV's affinity.)
// ControllerPublishVolume attaches to any known node and answers NOT_FOUND
// for any other.
import { randomUUID } from 'node:crypto';
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CsiError,
  type CapacityRange,
  type ControllerExpandVolumeRequest,
  type ControllerExpandVolumeResponse,
  type ControllerGetCapabilitiesResponse,
  type ControllerPublishVolumeRequest,
  type ControllerPublishVolumeResponse,
  type ControllerRpcType,
  type ControllerService,
  type ControllerUnpublishVolumeRequest,
  type CreateSnapshotRequest,
  type CreateSnapshotResponse,
  type CreateVolumeRequest,
  type CreateVolumeResponse,
  type DeleteSnapshotRequest,
  type DeleteVolumeRequest,
  type GetCapacityRequest,
  type GetCapacityResponse,
  type ListSnapshotsRequest,
  type ListSnapshotsResponse,
  type ListVolumesRequest,
  type ListVolumesResponse,
  type Snapshot,
  type Topology,
  type ValidateVolumeCapabilitiesRequest,
  type ValidateVolumeCapabilitiesResponse,
  type Volume,
} from '../../csi/index.ts';
import { adoptVolume, isAdoption } from './adopt.ts';
import { copyData, detachLoop, fsUsage, loopDevicesOf, run } from './host.ts';
import { registeredNode, registeredNodeIds } from './nodes.ts';
import type { SnapshotRecord, VolumeKind, VolumeRecord } from './state.ts';
import {
  CONTEXT_DEVICE_PATH,
  CONTEXT_FS_TYPE,
  CONTEXT_KIND,
  CONTEXT_PATH,
  DEFAULT_FS_TYPE,
  DEFAULT_LOOP_SIZE,
  type DriverContext,
  MIN_SIZE,
  MiB,
  PARAM_FS_TYPE,
  PARAM_FS_TYPE_SHORT,
  PARAM_KIND,
  SUPPORTED_FS_TYPES,
  TOPOLOGY_KEY,
  assertCompatible,
  ensureLoopDevice,
  getVolume,
  incompatibility,
  isBlock,
  releaseLoopDevice,
  requestedFsType,
  roundUp,
} from './volumes.ts';

export function createControllerServer(ctx: DriverContext): ControllerService {
  const { state } = ctx;
  const volumesDir = join(ctx.dataDir, 'volumes');
  const snapshotsDir = join(ctx.dataDir, 'snapshots');

  /** This node first, then the node-only instances recorded in nodes/. */
  const knownNodeIds = async (): Promise<string[]> => [ctx.nodeId, ...(await registeredNodeIds(ctx.dataDir)).filter((n) => n !== ctx.nodeId)];

  /** The per-node volume limit of a known node, or undefined for a node this driver does not know. */
  const nodeLimit = async (nodeId: string): Promise<number | undefined> => {
    if (nodeId === ctx.nodeId) return ctx.maxVolumesPerNode;
    return (await registeredNode(ctx.dataDir, nodeId))?.maxVolumesPerNode;
  };

  /**
   * `known` answers for records that stored no topology (made before
   * multi-node support, or adopted): their files are on this machine too.
   */
  const toVolume = (vol: VolumeRecord, known: readonly string[]): Volume => {
    const context: Record<string, string> = { [CONTEXT_KIND]: vol.kind, [CONTEXT_PATH]: vol.path };
    if (vol.fsType !== undefined) context[CONTEXT_FS_TYPE] = vol.fsType;
    return {
      volume_id: vol.id,
      capacity_bytes: vol.capacityBytes,
      volume_context: context,
      content_source:
        vol.contentSource === undefined
          ? null
          : 'snapshotId' in vol.contentSource
            ? { snapshot: { snapshot_id: vol.contentSource.snapshotId } }
            : { volume: { volume_id: vol.contentSource.volumeId } },
      accessible_topology: (vol.accessibleTopology ?? known.map((n) => ({ [TOPOLOGY_KEY]: n }))).map((segments) => ({ segments })),
    };
  };

  const toSnapshot = (snap: SnapshotRecord): Snapshot => ({
    snapshot_id: snap.id,
    source_volume_id: snap.sourceVolumeId,
    size_bytes: snap.sizeBytes,
    creation_time: { seconds: Math.floor(snap.createdAtMs / 1000), nanos: (snap.createdAtMs % 1000) * 1_000_000 },
    ready_to_use: true,
  });

  /** Whether a node of this machine lies in topology `t` (one without our key constrains nothing we know). */
  const reachable = async (t: Topology | null | undefined): Promise<boolean> => {
    const segments = t?.segments ?? {};
    const node = segments[TOPOLOGY_KEY];
    return node === undefined || (await nodeLimit(node)) !== undefined;
  };

  async function createVolume(req: CreateVolumeRequest): Promise<CreateVolumeResponse> {
    // Taking over an existing image file (FlexVolume → CSI migration): adopt.ts.
    if (isAdoption(req)) {
      const adopted = await adoptVolume(ctx, req);
      return { volume: toVolume(adopted, await knownNodeIds()) };
    }
    const name = req.name ?? '';
    const caps = req.volume_capabilities ?? [];
    const params = req.parameters ?? {};

    // Decide kind and filesystem from parameters and capabilities.
    const fsTypes = new Set<string>();
    for (const p of [params[PARAM_FS_TYPE], params[PARAM_FS_TYPE_SHORT]]) if (p !== undefined && p !== '') fsTypes.add(p.toLowerCase());
    for (const cap of caps) if (requestedFsType(cap) !== '') fsTypes.add(requestedFsType(cap).toLowerCase());
    if (fsTypes.size > 1) throw new CsiError('INVALID_ARGUMENT', `conflicting filesystem types requested: ${[...fsTypes].join(', ')}`);
    const fsRequested = [...fsTypes][0];
    if (fsRequested !== undefined && !(SUPPORTED_FS_TYPES as readonly string[]).includes(fsRequested)) {
      throw new CsiError('INVALID_ARGUMENT', `unsupported filesystem type ${fsRequested}; supported: ${SUPPORTED_FS_TYPES.join(', ')}`);
    }
    const wantsBlock = caps.some(isBlock);
    const kindParam = params[PARAM_KIND];
    if (kindParam !== undefined && kindParam !== 'directory' && kindParam !== 'loop') {
      throw new CsiError('INVALID_ARGUMENT', `parameter ${PARAM_KIND} must be "directory" or "loop", not ${JSON.stringify(kindParam)}`);
    }
    const kind: VolumeKind = (kindParam as VolumeKind | undefined) ?? (wantsBlock || fsRequested !== undefined ? 'loop' : 'directory');
    const fsType = kind === 'loop' ? (fsRequested ?? DEFAULT_FS_TYPE) : undefined;
    const probe = { id: name, kind, fsType };
    for (const cap of caps) {
      const why = incompatibility(probe, cap);
      if (why !== undefined) throw new CsiError('INVALID_ARGUMENT', why.replace(`volume ${name} is`, 'requested volume would be'));
    }

    // Topology: the volume is reachable from every node of this machine.
    const requisite = req.accessibility_requirements?.requisite ?? [];
    const knownNodes = await knownNodeIds();
    const accessible: Record<string, string>[] = [];
    const seen = new Set<string>();
    const add = (segments: Record<string, string>): void => {
      const key = JSON.stringify(Object.entries(segments).sort());
      if (seen.has(key)) return;
      seen.add(key);
      accessible.push({ ...segments });
    };
    for (const t of requisite) if (await reachable(t)) add(t.segments ?? {});
    if (requisite.length > 0 && accessible.length === 0) {
      throw new CsiError('RESOURCE_EXHAUSTED', `volumes can only be provisioned on the nodes of this machine: ${knownNodes.join(', ')}`);
    }
    for (const n of knownNodes) add({ [TOPOLOGY_KEY]: n });

    // Content source.
    let source: { kind: VolumeKind; path: string; sizeBytes: number; fsType?: string; ref: VolumeRecord['contentSource'] } | undefined;
    const cs = req.volume_content_source;
    if (cs?.snapshot) {
      const id = cs.snapshot.snapshot_id ?? '';
      const snap = state.snapshots.get(id);
      if (snap === undefined) throw new CsiError('NOT_FOUND', `source snapshot ${id} does not exist`);
      source = { kind: snap.kind, path: snap.path, sizeBytes: snap.sizeBytes, fsType: snap.fsType, ref: { snapshotId: id } };
    } else if (cs?.volume) {
      const id = cs.volume.volume_id ?? '';
      const vol = state.volumes.get(id);
      if (vol === undefined) throw new CsiError('NOT_FOUND', `source volume ${id} does not exist`);
      source = { kind: vol.kind, path: vol.path, sizeBytes: vol.capacityBytes, fsType: vol.fsType, ref: { volumeId: id } };
    }
    if (source !== undefined && source.kind !== kind) {
      throw new CsiError('INVALID_ARGUMENT', `content source is a ${source.kind} volume, the requested volume would be a ${kind} volume`);
    }
    if (source !== undefined && kind === 'loop' && fsRequested !== undefined && source.fsType !== fsRequested) {
      throw new CsiError('INVALID_ARGUMENT', `content source has filesystem ${source.fsType ?? 'none'}, not ${fsRequested}`);
    }
    const size = chooseSize(kind, fsType, req.capacity_range, source?.sizeBytes);

    // Already done?
    const existing = state.volumeByName(name);
    if (existing !== undefined) {
      const range = req.capacity_range;
      const fits =
        existing.capacityBytes >= (range?.required_bytes ?? 0) &&
        ((range?.limit_bytes ?? 0) === 0 || existing.capacityBytes <= (range?.limit_bytes ?? 0));
      const sameSource = JSON.stringify(existing.contentSource) === JSON.stringify(source?.ref);
      if (!fits || !sameSource || existing.kind !== kind || (fsType !== undefined && existing.fsType !== (source?.fsType ?? fsType))) {
        throw new CsiError('ALREADY_EXISTS', `Volume with the same name: ${name} but with different size or parameters already exist`);
      }
      return { volume: toVolume(existing, knownNodes) };
    }

    if (kind === 'loop') {
      const free = (await fsUsage(ctx.dataDir)).availableBytes;
      if (size - (source?.sizeBytes ?? 0) > free) {
        throw new CsiError('OUT_OF_RANGE', `requested capacity ${size} exceeds the free space ${free} of ${ctx.dataDir}`);
      }
    }

    const id = randomUUID();
    const vol: VolumeRecord = {
      id,
      name,
      kind,
      path: kind === 'loop' ? join(volumesDir, `${id}.img`) : join(volumesDir, id),
      capacityBytes: size,
      parameters: { ...params },
      createdAtMs: Date.now(),
      attachments: [],
      publications: [],
      accessibleTopology: accessible,
    };
    if (kind === 'loop') vol.fsType = source?.fsType ?? fsType;
    if (source !== undefined) vol.contentSource = source.ref;
    await mkdir(volumesDir, { recursive: true });
    try {
      if (kind === 'loop') {
        if (source !== undefined) await copyData(source.path, vol.path, 'file');
        else await writeFile(vol.path, '', { flag: 'wx' });
        await truncate(vol.path, size);
      } else {
        await mkdir(vol.path, { mode: 0o777 });
        if (source !== undefined) await copyData(source.path, vol.path, 'directory');
      }
    } catch (err) {
      await rm(vol.path, { recursive: true, force: true });
      throw err;
    }
    state.volumes.set(id, vol);
    await state.persist();
    ctx.logger.info({ volumeId: id, name, kind, capacityBytes: size }, 'created volume');
    return { volume: toVolume(vol, knownNodes) };
  }

  async function deleteVolume(req: DeleteVolumeRequest): Promise<object> {
    const vol = state.volumes.get(req.volume_id ?? '');
    if (vol === undefined) return {}; // already gone: success
    if (vol.attachments.length > 0 || vol.staging !== undefined || vol.publications.length > 0) {
      const where = vol.attachments.map((a) => a.nodeId).join(', ') || ctx.nodeId;
      throw new CsiError('FAILED_PRECONDITION', `volume ${vol.id} is still in use on node ${where}`);
    }
    if (vol.kind === 'loop') for (const device of await loopDevicesOf(vol.path)) await detachLoop(device);
    await rm(vol.path, { recursive: true, force: true });
    state.volumes.delete(vol.id);
    await state.persist();
    ctx.logger.info({ volumeId: vol.id }, 'deleted volume');
    return {};
  }

  async function controllerPublishVolume(req: ControllerPublishVolumeRequest): Promise<ControllerPublishVolumeResponse> {
    const vol = getVolume(ctx, req.volume_id ?? '');
    const nodeId = req.node_id ?? '';
    const limit = await nodeLimit(nodeId);
    if (limit === undefined) {
      throw new CsiError('NOT_FOUND', `node ${nodeId} does not exist; this driver serves node ${ctx.nodeId} and the node-only instances recorded in ${ctx.dataDir}/nodes`);
    }
    const cap = req.volume_capability!;
    assertCompatible(vol, cap);
    const readonly = req.readonly === true;
    const context = (device: string | undefined): ControllerPublishVolumeResponse => ({
      publish_context: device === undefined ? {} : { [CONTEXT_DEVICE_PATH]: device },
    });
    const existing = vol.attachments.find((a) => a.nodeId === nodeId);
    if (existing !== undefined) {
      if (existing.readonly !== readonly) {
        throw new CsiError('ALREADY_EXISTS', `volume ${vol.id} is already attached to node ${nodeId} with readonly=${existing.readonly}`);
      }
      return context(vol.kind === 'loop' ? await ensureLoopDevice(ctx, vol) : undefined);
    }
    if (limit > 0) {
      let attached = 0;
      for (const v of state.volumes.values()) if (v.attachments.some((a) => a.nodeId === nodeId)) attached++;
      if (attached >= limit) {
        throw new CsiError('RESOURCE_EXHAUSTED', `node ${nodeId} already has the maximum of ${limit} volumes attached`);
      }
    }
    const device = vol.kind === 'loop' ? await ensureLoopDevice(ctx, vol) : undefined;
    vol.attachments.push({ nodeId, readonly });
    await state.persist();
    return context(device);
  }

  async function controllerUnpublishVolume(req: ControllerUnpublishVolumeRequest): Promise<object> {
    // A volume or node this driver does not know cannot be attached anywhere,
    // so it is already unpublished: the spec asks for OK, not NOT_FOUND, so
    // that a CO retrying after DeleteVolume (or after losing a node) is done.
    const vol = state.volumes.get(req.volume_id ?? '');
    const nodeId = req.node_id ?? '';
    if (vol === undefined) return {};
    const before = vol.attachments.length;
    vol.attachments = vol.attachments.filter((a) => nodeId !== '' && a.nodeId !== nodeId);
    await releaseLoopDevice(ctx, vol);
    if (vol.attachments.length !== before) await state.persist();
    return {};
  }

  async function validateVolumeCapabilities(req: ValidateVolumeCapabilitiesRequest): Promise<ValidateVolumeCapabilitiesResponse> {
    const vol = getVolume(ctx, req.volume_id ?? '');
    for (const cap of req.volume_capabilities ?? []) {
      const why = incompatibility(vol, cap);
      if (why !== undefined) return { confirmed: null, message: why };
    }
    return {
      confirmed: {
        volume_context: req.volume_context ?? {},
        volume_capabilities: req.volume_capabilities ?? [],
        parameters: req.parameters ?? {},
      },
      message: '',
    };
  }

  async function listVolumes(req: ListVolumesRequest): Promise<ListVolumesResponse> {
    const { page, next } = paginate([...state.volumes.values()], req.max_entries ?? 0, req.starting_token ?? '');
    const known = await knownNodeIds();
    return {
      entries: page.map((vol) => ({
        volume: toVolume(vol, known),
        status: ctx.attachRequired ? { published_node_ids: vol.attachments.map((a) => a.nodeId) } : null,
      })),
      next_token: next,
    };
  }

  async function getCapacity(req: GetCapacityRequest): Promise<GetCapacityResponse> {
    if (!(await reachable(req.accessible_topology))) return { available_capacity: 0, maximum_volume_size: { value: 0 } };
    const free = (await fsUsage(ctx.dataDir)).availableBytes;
    return { available_capacity: free, maximum_volume_size: { value: free } };
  }

  async function controllerGetCapabilities(): Promise<ControllerGetCapabilitiesResponse> {
    const types: ControllerRpcType[] = [
      'CREATE_DELETE_VOLUME',
      'LIST_VOLUMES',
      'GET_CAPACITY',
      'CREATE_DELETE_SNAPSHOT',
      'LIST_SNAPSHOTS',
      'CLONE_VOLUME',
      'EXPAND_VOLUME',
    ];
    if (ctx.attachRequired) types.push('PUBLISH_UNPUBLISH_VOLUME', 'LIST_VOLUMES_PUBLISHED_NODES');
    return { capabilities: types.map((type) => ({ rpc: { type } })) };
  }

  async function createSnapshot(req: CreateSnapshotRequest): Promise<CreateSnapshotResponse> {
    const name = req.name ?? '';
    const sourceId = req.source_volume_id ?? '';
    const existing = state.snapshotByName(name);
    if (existing !== undefined) {
      if (existing.sourceVolumeId !== sourceId) {
        throw new CsiError('ALREADY_EXISTS', `snapshot with the same name: ${name} but with different source volume id already exist`);
      }
      return { snapshot: toSnapshot(existing) };
    }
    const vol = getVolume(ctx, sourceId);
    const id = randomUUID();
    const snap: SnapshotRecord = {
      id,
      name,
      sourceVolumeId: vol.id,
      kind: vol.kind,
      path: vol.kind === 'loop' ? join(snapshotsDir, `${id}.img`) : join(snapshotsDir, id),
      sizeBytes: vol.capacityBytes,
      createdAtMs: Date.now(),
    };
    if (vol.fsType !== undefined) snap.fsType = vol.fsType;
    await mkdir(snapshotsDir, { recursive: true });
    try {
      // Flush what a mounted filesystem still holds in memory into the image.
      await run('sync', []);
      if (vol.kind === 'loop') await copyData(vol.path, snap.path, 'file');
      else {
        await mkdir(snap.path);
        await copyData(vol.path, snap.path, 'directory');
      }
    } catch (err) {
      await rm(snap.path, { recursive: true, force: true });
      throw err;
    }
    state.snapshots.set(id, snap);
    await state.persist();
    ctx.logger.info({ snapshotId: id, volumeId: vol.id }, 'created snapshot');
    return { snapshot: toSnapshot(snap) };
  }

  async function deleteSnapshot(req: DeleteSnapshotRequest): Promise<object> {
    const snap = state.snapshots.get(req.snapshot_id ?? '');
    if (snap === undefined) return {};
    await rm(snap.path, { recursive: true, force: true });
    state.snapshots.delete(snap.id);
    await state.persist();
    return {};
  }

  async function listSnapshots(req: ListSnapshotsRequest): Promise<ListSnapshotsResponse> {
    let all = [...state.snapshots.values()];
    if (req.snapshot_id) all = all.filter((s) => s.id === req.snapshot_id);
    if (req.source_volume_id) all = all.filter((s) => s.sourceVolumeId === req.source_volume_id);
    const { page, next } = paginate(all, req.max_entries ?? 0, req.starting_token ?? '');
    return { entries: page.map((s) => ({ snapshot: toSnapshot(s) })), next_token: next };
  }

  async function controllerExpandVolume(req: ControllerExpandVolumeRequest): Promise<ControllerExpandVolumeResponse> {
    const vol = getVolume(ctx, req.volume_id ?? '');
    if (req.volume_capability) assertCompatible(vol, req.volume_capability);
    const required = req.capacity_range?.required_bytes ?? 0;
    const limit = req.capacity_range?.limit_bytes ?? 0;
    if (limit > 0 && limit < vol.capacityBytes) {
      throw new CsiError('OUT_OF_RANGE', `volume ${vol.id} is ${vol.capacityBytes} bytes; shrinking to ${limit} is not supported`);
    }
    if (limit > 0 && required > limit) throw new CsiError('OUT_OF_RANGE', `required bytes ${required} exceed limit bytes ${limit}`);
    const nodeExpansion = vol.kind === 'loop';
    if (required <= vol.capacityBytes) return { capacity_bytes: vol.capacityBytes, node_expansion_required: nodeExpansion };
    let size = roundUp(required, MiB);
    if (limit > 0 && size > limit) size = required;
    if (vol.kind === 'loop') {
      const free = (await fsUsage(ctx.dataDir)).availableBytes;
      if (size - vol.capacityBytes > free) throw new CsiError('OUT_OF_RANGE', `not enough free space in ${ctx.dataDir} to grow to ${size}`);
      await truncate(vol.path, size);
    }
    vol.capacityBytes = size;
    await state.persist();
    return { capacity_bytes: size, node_expansion_required: nodeExpansion };
  }

  const server: ControllerService = {
    CreateVolume: createVolume,
    DeleteVolume: deleteVolume,
    ValidateVolumeCapabilities: validateVolumeCapabilities,
    ListVolumes: listVolumes,
    GetCapacity: getCapacity,
    ControllerGetCapabilities: controllerGetCapabilities,
    CreateSnapshot: createSnapshot,
    DeleteSnapshot: deleteSnapshot,
    ListSnapshots: listSnapshots,
    ControllerExpandVolume: controllerExpandVolume,
  };
  if (ctx.attachRequired) {
    server.ControllerPublishVolume = controllerPublishVolume;
    server.ControllerUnpublishVolume = controllerUnpublishVolume;
  }
  return server;
}

/**
 * The size a new volume gets. Rules: a limit below the required size, or a
 * range no size of this kind fits in, is OUT_OF_RANGE; otherwise the
 * required size rounded up to a MiB (within the limit), or the default.
 */
export function chooseSize(kind: VolumeKind, fsType: string | undefined, range: CapacityRange | null | undefined, sourceBytes?: number): number {
  const required = range?.required_bytes ?? 0;
  const limit = range?.limit_bytes ?? 0;
  if (limit > 0 && required > limit) throw new CsiError('OUT_OF_RANGE', `required bytes ${required} exceed limit bytes ${limit}`);
  if (sourceBytes !== undefined && limit > 0 && limit < sourceBytes) {
    throw new CsiError('OUT_OF_RANGE', `limit bytes ${limit} are smaller than the content source (${sourceBytes} bytes)`);
  }
  if (kind === 'directory') return Math.max(required || limit, sourceBytes ?? 0);
  const min = Math.max(MIN_SIZE[fsType ?? ''] ?? MIN_SIZE.ext4!, sourceBytes ?? 0);
  let size = required > 0 ? roundUp(required, MiB) : limit > 0 ? Math.min(DEFAULT_LOOP_SIZE, limit) : DEFAULT_LOOP_SIZE;
  size = Math.max(size, min);
  if (limit > 0 && size > limit) {
    size = Math.floor(limit / 4096) * 4096;
    if (size < Math.max(required, min)) {
      throw new CsiError('OUT_OF_RANGE', `a ${fsType ?? 'loop'} volume needs at least ${min} bytes, the limit is ${limit}`);
    }
  }
  return size;
}

/** A record's place in list order: creation time, then id; compares as a plain string. */
function listKey(r: { createdAtMs: number; id: string }): string {
  return `${String(r.createdAtMs).padStart(15, '0')}_${r.id}`;
}
const LIST_TOKEN = /^\d{15}_.+$/s;

/**
 * One page of `records` in creation order. The next_token is the list key
 * of the last entry returned, not an offset, so a page boundary survives
 * records deleted or added between the calls: the next page starts right
 * after that key, whether or not its record still exists, and nothing is
 * listed twice. A token of any other shape was never given out: ABORTED, as
 * the spec asks.
 */
function paginate<T extends { createdAtMs: number; id: string }>(records: T[], maxEntries: number, startingToken: string): { page: T[]; next: string } {
  if (maxEntries < 0) throw new CsiError('INVALID_ARGUMENT', 'max_entries must not be negative');
  if (startingToken !== '' && !LIST_TOKEN.test(startingToken)) {
    throw new CsiError('ABORTED', `invalid starting_token ${JSON.stringify(startingToken)}`);
  }
  const sorted = records.map((r) => ({ r, key: listKey(r) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const rest = startingToken === '' ? sorted : sorted.filter((e) => e.key > startingToken);
  const page = maxEntries > 0 ? rest.slice(0, maxEntries) : rest;
  const next = page.length < rest.length ? page[page.length - 1]!.key : '';
  return { page: page.map((e) => e.r), next };
}
