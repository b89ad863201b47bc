// Conformance of the volplane driver with the MUST statements of the CSI spec,
// run over a real gRPC unix socket against the real driver, with real sparse
// images, loop devices and mounts under a temp dir named volplane-…. Rows are
// numbered by service (C = controller, S = snapshots, E = expansion, N =
// node, R = restart); each row removes what it mounted and attached, and the
// suite's own leak check fails on anything left under its temp dir.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  CsiError,
  createCsiClient,
  serveCsiDriver,
  type CsiClient,
  type CsiServerHandle,
  type GrpcCodeName,
  type VolumeCapability,
} from '../../csi/index.ts';
import { undoLeaksUnder } from '../../testing/leak-check.ts';
import { createVolplaneDriver, TOPOLOGY_KEY, type VolplaneDriver } from './index.ts';

const MiB = 1024 * 1024;
const MOUNT: VolumeCapability = { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const EXT4: VolumeCapability = { mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const XFS: VolumeCapability = { mount: { fs_type: 'xfs' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const BLOCK: VolumeCapability = { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const NODE = 'node-a';

interface Env {
  dir: string;
  client: CsiClient;
  driver: VolplaneDriver;
  /** Closes server and driver and starts new ones on the same data dir (a driver restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
  path(...parts: string[]): string;
}

async function startEnv(attachRequired: boolean, maxVolumesPerNode = 0): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'volplane-driver-'));
  const logger = pino({ level: process.env.VOLPLANE_TEST_LOG ?? 'silent' });
  const endpoint = `unix://${join(dir, 'csi.sock')}`;
  let driver!: VolplaneDriver;
  let server!: CsiServerHandle;
  const open = async (): Promise<void> => {
    driver = await createVolplaneDriver({ nodeId: NODE, dataDir: join(dir, 'data'), attachRequired, maxVolumesPerNode, logger });
    server = await serveCsiDriver({ endpoint, identity: driver.identity, controller: driver.controller, node: driver.node, logger });
  };
  await open();
  const client = createCsiClient(endpoint, { defaultTimeoutMs: 60_000 });
  const env: Env = {
    dir,
    client,
    get driver() {
      return driver;
    },
    async restart() {
      await server.close();
      await driver.dispose();
      await open();
    },
    async close() {
      client.close();
      await server.close();
      await driver.dispose();
    },
    path: (...parts) => join(dir, 'kubelet', ...parts),
  };
  return env;
}

async function rejectsWith(promise: Promise<unknown>, code: GrpcCodeName, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CsiError, `expected CsiError, got ${String(err)}`);
    assert.equal(err.codeName, code, `expected ${code}, got ${err.codeName}: ${err.message}`);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

function loopDevicesOf(file: string): string[] {
  return execFileSync('losetup', ['--list', '--noheadings', '--output', 'NAME', '--associated', file], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

function findmnt(target: string): { source: string; fstype: string; options: string } | undefined {
  try {
    const out = execFileSync('findmnt', ['-n', '-r', '-o', 'SOURCE,FSTYPE,OPTIONS', '--mountpoint', target], { encoding: 'utf8' }).trim();
    const [source, fstype, options] = out.split('\n').at(-1)!.split(' ');
    return { source: source!, fstype: fstype!, options: options! };
  } catch {
    return undefined;
  }
}

function imageOf(env: Env, volumeId: string): string {
  return join(env.dir, 'data', 'volumes', `${volumeId}.img`);
}

// ------------------------------------------------------------------------------------------

describe('volplane driver: controller (attach required)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv(true, 3);
  });
  after(async () => {
    await env.close();
    const leaks = await undoLeaksUnder(env.dir);
    await rm(env.dir, { recursive: true, force: true });
    assert.deepEqual(leaks, []);
  });

  it('I-1: identity reports name, version, capabilities and readiness', async () => {
    const info = await env.client.identity.GetPluginInfo({});
    assert.equal(info.name, 'csi.volplane.io');
    assert.notEqual(info.vendor_version, '');
    const caps = await env.client.identity.GetPluginCapabilities({});
    const services = caps.capabilities.map((c) => c.service?.type).filter(Boolean);
    assert.deepEqual(services.sort(), ['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS']);
    // ONLINE only where the driver may grow a mounted ext4 filesystem (CAP_SYS_RESOURCE).
    const expansion = caps.capabilities.find((c) => c.volume_expansion)?.volume_expansion?.type;
    assert.ok(expansion === 'ONLINE' || expansion === 'OFFLINE', `volume expansion ${expansion}`);
    assert.equal((await env.client.identity.Probe({})).ready?.value, true);
  });

  it('C-0: controller capabilities include publish/unpublish when attach is required', async () => {
    const caps = (await env.client.controller.ControllerGetCapabilities({})).capabilities.map((c) => c.rpc?.type);
    for (const t of ['CREATE_DELETE_VOLUME', 'PUBLISH_UNPUBLISH_VOLUME', 'LIST_VOLUMES', 'GET_CAPACITY', 'CREATE_DELETE_SNAPSHOT', 'LIST_SNAPSHOTS', 'CLONE_VOLUME', 'EXPAND_VOLUME'] as const) {
      assert.ok(caps.includes(t), `missing ${t}`);
    }
  });

  it('C-1: a mount volume without fsType is a directory; CreateVolume is idempotent by name', async () => {
    const req = { name: 'c1', capacity_range: { required_bytes: 5 * MiB }, volume_capabilities: [MOUNT] };
    const first = await env.client.controller.CreateVolume(req);
    const again = await env.client.controller.CreateVolume(req);
    assert.equal(again.volume.volume_id, first.volume.volume_id);
    assert.equal(first.volume.capacity_bytes, 5 * MiB);
    assert.equal(first.volume.volume_context?.['volplane.io/kind'], 'directory');
    assert.deepEqual(first.volume.accessible_topology, [{ segments: { [TOPOLOGY_KEY]: NODE } }]);
    assert.ok((await stat(join(env.dir, 'data', 'volumes', first.volume.volume_id))).isDirectory());
    await env.client.controller.DeleteVolume({ volume_id: first.volume.volume_id });
  });

  it('C-2: an fsType makes a sparse image of exactly the capacity, rounded up to a MiB', async () => {
    const res = await env.client.controller.CreateVolume({ name: 'c2', capacity_range: { required_bytes: 20 * MiB + 1 }, volume_capabilities: [EXT4] });
    assert.equal(res.volume.capacity_bytes, 21 * MiB);
    assert.equal(res.volume.volume_context?.['volplane.io/kind'], 'loop');
    const st = await stat(imageOf(env, res.volume.volume_id));
    assert.equal(st.size, 21 * MiB);
    assert.ok(st.blocks * 512 < MiB, 'the image is sparse');
    await env.client.controller.DeleteVolume({ volume_id: res.volume.volume_id });
  });

  it('C-3: the same name with an incompatible capacity is ALREADY_EXISTS', async () => {
    const res = await env.client.controller.CreateVolume({ name: 'c3', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [EXT4] });
    await rejectsWith(env.client.controller.CreateVolume({ name: 'c3', capacity_range: { required_bytes: 64 * MiB }, volume_capabilities: [EXT4] }), 'ALREADY_EXISTS');
    await rejectsWith(env.client.controller.CreateVolume({ name: 'c3', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [MOUNT], parameters: { kind: 'directory' } }), 'ALREADY_EXISTS');
    // A range the existing volume satisfies is the same volume.
    const same = await env.client.controller.CreateVolume({ name: 'c3', capacity_range: { required_bytes: 8 * MiB, limit_bytes: 32 * MiB }, volume_capabilities: [EXT4] });
    assert.equal(same.volume.volume_id, res.volume.volume_id);
    await env.client.controller.DeleteVolume({ volume_id: res.volume.volume_id });
  });

  const outOfRange: [string, object][] = [
    ['required above limit', { required_bytes: 20 * MiB, limit_bytes: 10 * MiB }],
    ['limit below the xfs minimum', { limit_bytes: 100 * MiB }],
  ];
  for (const [name, range] of outOfRange) {
    it(`C-4: ${name} is OUT_OF_RANGE`, async () => {
      await rejectsWith(env.client.controller.CreateVolume({ name: `c4-${name}`, capacity_range: range, volume_capabilities: [XFS] }), 'OUT_OF_RANGE');
    });
  }

  it('C-4b: only a limit gives the default size capped by the limit', async () => {
    const res = await env.client.controller.CreateVolume({ name: 'c4b', capacity_range: { limit_bytes: 40 * MiB }, volume_capabilities: [EXT4] });
    assert.equal(res.volume.capacity_bytes, 40 * MiB);
    await env.client.controller.DeleteVolume({ volume_id: res.volume.volume_id });
  });

  const invalid: [string, object][] = [
    ['block access on a directory volume', { volume_capabilities: [BLOCK], parameters: { kind: 'directory' } }],
    ['an unsupported filesystem', { volume_capabilities: [{ mount: { fs_type: 'ntfs' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }],
    ['conflicting filesystems', { volume_capabilities: [EXT4, XFS] }],
    ['an unknown kind', { volume_capabilities: [MOUNT], parameters: { kind: 'tape' } }],
  ];
  for (const [name, fields] of invalid) {
    it(`C-5: ${name} is INVALID_ARGUMENT`, async () => {
      await rejectsWith(env.client.controller.CreateVolume({ name: `c5-${name}`, ...fields }), 'INVALID_ARGUMENT');
    });
  }

  it('C-6: a missing content source is NOT_FOUND', async () => {
    await rejectsWith(env.client.controller.CreateVolume({ name: 'c6a', volume_capabilities: [MOUNT], volume_content_source: { snapshot: { snapshot_id: 'nope' } } }), 'NOT_FOUND');
    await rejectsWith(env.client.controller.CreateVolume({ name: 'c6b', volume_capabilities: [MOUNT], volume_content_source: { volume: { volume_id: 'nope' } } }), 'NOT_FOUND');
  });

  it('C-7: a topology requirement this node cannot meet is RESOURCE_EXHAUSTED', async () => {
    await rejectsWith(
      env.client.controller.CreateVolume({ name: 'c7', volume_capabilities: [MOUNT], accessibility_requirements: { requisite: [{ segments: { [TOPOLOGY_KEY]: 'other' } }] } }),
      'RESOURCE_EXHAUSTED',
    );
    const ok = await env.client.controller.CreateVolume({ name: 'c7', volume_capabilities: [MOUNT], accessibility_requirements: { requisite: [{ segments: { [TOPOLOGY_KEY]: NODE } }] } });
    await env.client.controller.DeleteVolume({ volume_id: ok.volume.volume_id });
  });

  it('D-1: DeleteVolume is idempotent and an unknown id succeeds', async () => {
    const res = await env.client.controller.CreateVolume({ name: 'd1', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [EXT4] });
    await env.client.controller.DeleteVolume({ volume_id: res.volume.volume_id });
    await env.client.controller.DeleteVolume({ volume_id: res.volume.volume_id });
    await env.client.controller.DeleteVolume({ volume_id: 'never-existed' });
    await assert.rejects(stat(imageOf(env, res.volume.volume_id)), { code: 'ENOENT' });
  });

  it('V-1: ValidateVolumeCapabilities confirms only what the volume supports', async () => {
    await rejectsWith(env.client.controller.ValidateVolumeCapabilities({ volume_id: 'nope', volume_capabilities: [MOUNT] }), 'NOT_FOUND');
    const dirVol = await env.client.controller.CreateVolume({ name: 'v1-dir', volume_capabilities: [MOUNT] });
    const loopVol = await env.client.controller.CreateVolume({ name: 'v1-loop', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [EXT4] });
    const ok = await env.client.controller.ValidateVolumeCapabilities({ volume_id: dirVol.volume.volume_id, volume_capabilities: [MOUNT] });
    assert.ok(ok.confirmed);
    const noBlock = await env.client.controller.ValidateVolumeCapabilities({ volume_id: dirVol.volume.volume_id, volume_capabilities: [BLOCK] });
    assert.equal(noBlock.confirmed, null);
    assert.match(noBlock.message ?? '', /block/);
    const wrongFs = await env.client.controller.ValidateVolumeCapabilities({ volume_id: loopVol.volume.volume_id, volume_capabilities: [XFS] });
    assert.equal(wrongFs.confirmed, null);
    const block = await env.client.controller.ValidateVolumeCapabilities({ volume_id: loopVol.volume.volume_id, volume_capabilities: [BLOCK, EXT4] });
    assert.ok(block.confirmed);
    await env.client.controller.DeleteVolume({ volume_id: dirVol.volume.volume_id });
    await env.client.controller.DeleteVolume({ volume_id: loopVol.volume.volume_id });
  });

  it('L-1: ListVolumes pages with next_token and answers ABORTED to a bad token', async () => {
    const ids: string[] = [];
    for (const n of ['l1-a', 'l1-b', 'l1-c']) ids.push((await env.client.controller.CreateVolume({ name: n, volume_capabilities: [MOUNT] })).volume.volume_id);
    const seen: string[] = [];
    let token = '';
    for (let i = 0; i < 10; i++) {
      const page = await env.client.controller.ListVolumes({ max_entries: 1, starting_token: token });
      assert.ok(page.entries.length <= 1);
      seen.push(...page.entries.map((e) => e.volume.volume_id));
      token = page.next_token ?? '';
      if (token === '') break;
    }
    for (const id of ids) assert.ok(seen.includes(id));
    await rejectsWith(env.client.controller.ListVolumes({ starting_token: 'bogus' }), 'ABORTED');
    for (const id of ids) await env.client.controller.DeleteVolume({ volume_id: id });
  });

  it('G-1: GetCapacity reports the free space of the data dir, zero for another node', async () => {
    const res = await env.client.controller.GetCapacity({});
    assert.ok(res.available_capacity > 0);
    const other = await env.client.controller.GetCapacity({ accessible_topology: { segments: { [TOPOLOGY_KEY]: 'other' } } });
    assert.equal(other.available_capacity, 0);
  });

  it('P-1: ControllerPublish checks volume, node and limits, and is idempotent', async () => {
    const vol = (await env.client.controller.CreateVolume({ name: 'p1', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [EXT4] })).volume;
    const id = vol.volume_id;
    await rejectsWith(env.client.controller.ControllerPublishVolume({ volume_id: 'nope', node_id: NODE, volume_capability: EXT4 }), 'NOT_FOUND');
    await rejectsWith(env.client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'other', volume_capability: EXT4 }), 'NOT_FOUND');
    const first = await env.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE, volume_capability: EXT4 });
    const device = first.publish_context?.devicePath ?? '';
    assert.match(device, /^\/dev\/loop\d+$/);
    const again = await env.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE, volume_capability: EXT4 });
    assert.equal(again.publish_context?.devicePath, device);
    assert.deepEqual(loopDevicesOf(imageOf(env, id)), [device]);
    await rejectsWith(env.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE, volume_capability: EXT4, readonly: true }), 'ALREADY_EXISTS');
    await rejectsWith(env.client.controller.DeleteVolume({ volume_id: id }), 'FAILED_PRECONDITION');
    const listed = await env.client.controller.ListVolumes({});
    assert.deepEqual(listed.entries.find((e) => e.volume.volume_id === id)?.status?.published_node_ids, [NODE]);
    await env.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: NODE });
    await env.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: NODE });
    assert.deepEqual(loopDevicesOf(imageOf(env, id)), []);
    // Unknown volume or node: nothing can be attached, so it is already unpublished (the spec's SHOULD return OK).
    await env.client.controller.ControllerUnpublishVolume({ volume_id: 'nope', node_id: NODE });
    await env.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'other' });
    await env.client.controller.DeleteVolume({ volume_id: id });
  });

  it('P-2: ControllerPublish beyond max_volumes_per_node is RESOURCE_EXHAUSTED', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await env.client.controller.CreateVolume({ name: `p2-${i}`, volume_capabilities: [MOUNT] })).volume.volume_id);
    for (const id of ids.slice(0, 3)) await env.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE, volume_capability: MOUNT });
    await rejectsWith(env.client.controller.ControllerPublishVolume({ volume_id: ids[3]!, node_id: NODE, volume_capability: MOUNT }), 'RESOURCE_EXHAUSTED');
    for (const id of ids) {
      await env.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: NODE });
      await env.client.controller.DeleteVolume({ volume_id: id });
    }
  });

  it('S-1: snapshot lifecycle of a directory volume: create, idempotency, list, restore, delete', async () => {
    const vol = (await env.client.controller.CreateVolume({ name: 's1', volume_capabilities: [MOUNT] })).volume;
    const dataDir = join(env.dir, 'data', 'volumes', vol.volume_id);
    await writeFile(join(dataDir, 'hello.txt'), 'before');
    await rejectsWith(env.client.controller.CreateSnapshot({ name: 's1-snap', source_volume_id: 'nope' }), 'NOT_FOUND');
    const snap = (await env.client.controller.CreateSnapshot({ name: 's1-snap', source_volume_id: vol.volume_id })).snapshot;
    assert.equal(snap.ready_to_use, true);
    assert.equal(snap.source_volume_id, vol.volume_id);
    assert.ok((snap.creation_time?.seconds ?? 0) > 0);
    const again = (await env.client.controller.CreateSnapshot({ name: 's1-snap', source_volume_id: vol.volume_id })).snapshot;
    assert.equal(again.snapshot_id, snap.snapshot_id);
    const other = (await env.client.controller.CreateVolume({ name: 's1-other', volume_capabilities: [MOUNT] })).volume;
    await rejectsWith(env.client.controller.CreateSnapshot({ name: 's1-snap', source_volume_id: other.volume_id }), 'ALREADY_EXISTS');
    // Point in time: a later write is not in the snapshot.
    await writeFile(join(dataDir, 'hello.txt'), 'after');
    const byId = await env.client.controller.ListSnapshots({ snapshot_id: snap.snapshot_id });
    assert.deepEqual(byId.entries.map((e) => e.snapshot.snapshot_id), [snap.snapshot_id]);
    const bySource = await env.client.controller.ListSnapshots({ source_volume_id: other.volume_id });
    assert.deepEqual(bySource.entries, []);
    const restored = (await env.client.controller.CreateVolume({ name: 's1-restored', volume_capabilities: [MOUNT], volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } })).volume;
    assert.equal(restored.content_source?.snapshot?.snapshot_id, snap.snapshot_id);
    assert.equal(await readFile(join(env.dir, 'data', 'volumes', restored.volume_id, 'hello.txt'), 'utf8'), 'before');
    const clone = (await env.client.controller.CreateVolume({ name: 's1-clone', volume_capabilities: [MOUNT], volume_content_source: { volume: { volume_id: vol.volume_id } } })).volume;
    assert.equal(await readFile(join(env.dir, 'data', 'volumes', clone.volume_id, 'hello.txt'), 'utf8'), 'after');
    await env.client.controller.DeleteSnapshot({ snapshot_id: snap.snapshot_id });
    await env.client.controller.DeleteSnapshot({ snapshot_id: snap.snapshot_id });
    assert.deepEqual((await env.client.controller.ListSnapshots({ snapshot_id: snap.snapshot_id })).entries, []);
    for (const id of [vol.volume_id, other.volume_id, restored.volume_id, clone.volume_id]) await env.client.controller.DeleteVolume({ volume_id: id });
  });
});

// ------------------------------------------------------------------------------------------

describe('volplane driver: node (attach required)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv(true);
  });
  after(async () => {
    await env.close();
    const leaks = await undoLeaksUnder(env.dir);
    await rm(env.dir, { recursive: true, force: true });
    assert.deepEqual(leaks, []);
  });

  async function createAttached(name: string, cap: VolumeCapability, bytes = 16 * MiB): Promise<{ id: string; device: string }> {
    const id = (await env.client.controller.CreateVolume({ name, capacity_range: { required_bytes: bytes }, volume_capabilities: [cap] })).volume.volume_id;
    const res = await env.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE, volume_capability: cap });
    return { id, device: res.publish_context?.devicePath ?? '' };
  }

  async function bytesTotal(id: string, path: string): Promise<number> {
    const usage = (await env.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: path })).usage;
    return usage.find((u) => u.unit === 'BYTES')?.total ?? 0;
  }

  async function teardown(id: string, staging: string, targets: string[]): Promise<void> {
    for (const t of targets) await env.client.node.NodeUnpublishVolume({ volume_id: id, target_path: t });
    await env.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    await env.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: NODE });
    await env.client.controller.DeleteVolume({ volume_id: id });
  }

  it('N-0: node info and capabilities', async () => {
    const info = await env.client.node.NodeGetInfo({});
    assert.equal(info.node_id, NODE);
    assert.deepEqual(info.accessible_topology?.segments, { [TOPOLOGY_KEY]: NODE });
    const caps = (await env.client.node.NodeGetCapabilities({})).capabilities.map((c) => c.rpc?.type).sort();
    assert.deepEqual(caps, ['EXPAND_VOLUME', 'GET_VOLUME_STATS', 'STAGE_UNSTAGE_VOLUME']);
  });

  it('N-1: ext4 lifecycle: stage formats once, publish binds, every call repeats safely', async () => {
    const { id, device } = await createAttached('n1', EXT4);
    const staging = env.path('n1', 'globalmount');
    const target = env.path('pods', 'p1', 'mount');
    const roTarget = env.path('pods', 'p2', 'mount');
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4, publish_context: { devicePath: device } });
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4 });
    assert.deepEqual(loopDevicesOf(imageOf(env, id)), [device], 'one loop device for the image');
    assert.equal(findmnt(staging)?.fstype, 'ext4');
    await rejectsWith(env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: env.path('n1', 'elsewhere'), volume_capability: EXT4 }), 'FAILED_PRECONDITION');

    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: EXT4 });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: EXT4 });
    await rejectsWith(env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: EXT4, readonly: true }), 'ALREADY_EXISTS');
    await writeFile(join(target, 'data.txt'), 'written through the bind mount');
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: roTarget, volume_capability: EXT4, readonly: true });
    assert.equal(await readFile(join(roTarget, 'data.txt'), 'utf8'), 'written through the bind mount');
    await assert.rejects(appendFile(join(roTarget, 'data.txt'), 'x'), { code: 'EROFS' });

    const stats = await env.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: target });
    const bytes = stats.usage.find((u) => u.unit === 'BYTES');
    const inodes = stats.usage.find((u) => u.unit === 'INODES');
    assert.ok(bytes && (bytes.total ?? 0) > 10 * MiB && (bytes.total ?? 0) <= 16 * MiB);
    assert.ok(inodes && (inodes.total ?? 0) > 0 && (inodes.used ?? 0) > 0);

    await rejectsWith(env.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging }), 'FAILED_PRECONDITION');
    await rejectsWith(env.client.controller.DeleteVolume({ volume_id: id }), 'FAILED_PRECONDITION');
    for (const t of [target, roTarget]) {
      await env.client.node.NodeUnpublishVolume({ volume_id: id, target_path: t });
      await env.client.node.NodeUnpublishVolume({ volume_id: id, target_path: t });
      assert.equal(findmnt(t), undefined);
      await assert.rejects(stat(t), { code: 'ENOENT' });
    }
    await env.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    await env.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    assert.equal(findmnt(staging), undefined);
    // The attachment still holds the device until ControllerUnpublish.
    assert.deepEqual(loopDevicesOf(imageOf(env, id)), [device]);
    await env.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: NODE });
    assert.deepEqual(loopDevicesOf(imageOf(env, id)), []);
    await env.client.controller.DeleteVolume({ volume_id: id });
  });

  it('N-2: a loop volume is not published before it is staged, nor staged before it is attached', async () => {
    const id = (await env.client.controller.CreateVolume({ name: 'n2', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [EXT4] })).volume.volume_id;
    const staging = env.path('n2', 'globalmount');
    await rejectsWith(env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4 }), 'FAILED_PRECONDITION', /not attached/);
    await env.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE, volume_capability: EXT4 });
    await rejectsWith(
      env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: env.path('pods', 'n2', 'mount'), volume_capability: EXT4 }),
      'FAILED_PRECONDITION',
      /staged/,
    );
    await env.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: NODE });
    await env.client.controller.DeleteVolume({ volume_id: id });
  });

  it('N-3: a loop volume enforces its capacity (ENOSPC past 16 MiB)', async () => {
    const { id } = await createAttached('n3', EXT4);
    const staging = env.path('n3', 'globalmount');
    const target = env.path('pods', 'n3', 'mount');
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4 });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: EXT4 });
    await assert.rejects(writeFile(join(target, 'big'), Buffer.alloc(20 * MiB, 1)), { code: 'ENOSPC' });
    await rm(join(target, 'big'), { force: true });
    await teardown(id, staging, [target]);
  });

  it('N-4: block access publishes the loop device itself at the target path', async () => {
    const { id, device } = await createAttached('n4', BLOCK, 8 * MiB);
    const staging = env.path('n4', 'staging');
    const target = env.path('plugins', 'n4', 'dev');
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: BLOCK });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: BLOCK });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: BLOCK });
    const st = await stat(target);
    assert.ok(st.isBlockDevice());
    assert.equal(st.rdev, (await stat(device)).rdev);
    const stats = await env.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: target });
    assert.equal(stats.usage[0]?.total, 16 * MiB);
    await rejectsWith(env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: env.path('pods', 'n4', 'mount'), volume_capability: EXT4 }), 'INVALID_ARGUMENT');
    await teardown(id, staging, [target]);
  });

  it('N-5: an xfs volume is formatted as xfs', async () => {
    const { id } = await createAttached('n5', XFS, 300 * MiB);
    const staging = env.path('n5', 'globalmount');
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: XFS });
    assert.equal(findmnt(staging)?.fstype, 'xfs');
    await teardown(id, staging, []);
  });

  const notFound: [string, (c: CsiClient) => Promise<unknown>][] = [
    ['NodeStageVolume', (c) => c.node.NodeStageVolume({ volume_id: 'nope', staging_target_path: '/tmp/volplane-x', volume_capability: EXT4 })],
    ['NodeUnstageVolume', (c) => c.node.NodeUnstageVolume({ volume_id: 'nope', staging_target_path: '/tmp/volplane-x' })],
    ['NodePublishVolume', (c) => c.node.NodePublishVolume({ volume_id: 'nope', target_path: '/tmp/volplane-x', volume_capability: EXT4 })],
    ['NodeUnpublishVolume', (c) => c.node.NodeUnpublishVolume({ volume_id: 'nope', target_path: '/tmp/volplane-x' })],
    ['NodeGetVolumeStats', (c) => c.node.NodeGetVolumeStats({ volume_id: 'nope', volume_path: '/tmp' })],
    ['NodeExpandVolume', (c) => c.node.NodeExpandVolume({ volume_id: 'nope', volume_path: '/tmp' })],
    ['ControllerExpandVolume', (c) => c.controller.ControllerExpandVolume({ volume_id: 'nope', capacity_range: { required_bytes: MiB } })],
  ];
  for (const [name, call] of notFound) {
    it(`N-6: ${name} on an unknown volume is NOT_FOUND`, async () => {
      await rejectsWith(call(env.client), 'NOT_FOUND');
    });
  }

  it('N-7: stats of a path that does not exist is NOT_FOUND', async () => {
    const id = (await env.client.controller.CreateVolume({ name: 'n7', volume_capabilities: [MOUNT] })).volume.volume_id;
    await rejectsWith(env.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: env.path('missing') }), 'NOT_FOUND');
    await env.client.controller.DeleteVolume({ volume_id: id });
  });

  it('E-1: online expansion of xfs grows the image, the loop device and the mounted filesystem', async () => {
    const { id } = await createAttached('e1', XFS, 300 * MiB);
    const staging = env.path('e1', 'globalmount');
    const target = env.path('pods', 'e1', 'mount');
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: XFS });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: XFS });
    const before = await bytesTotal(id, target);
    await rejectsWith(env.client.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: 600 * MiB, limit_bytes: 200 * MiB } }), 'OUT_OF_RANGE');
    const res = await env.client.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: 600 * MiB } });
    assert.equal(res.capacity_bytes, 600 * MiB);
    assert.equal(res.node_expansion_required, true);
    assert.equal((await env.client.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: 600 * MiB } })).capacity_bytes, 600 * MiB);
    const node = await env.client.node.NodeExpandVolume({ volume_id: id, volume_path: target, staging_target_path: staging, capacity_range: { required_bytes: 600 * MiB } });
    assert.equal(node.capacity_bytes, 600 * MiB);
    await env.client.node.NodeExpandVolume({ volume_id: id, volume_path: target, staging_target_path: staging });
    const after = await bytesTotal(id, target);
    assert.ok(after > before * 1.8, `filesystem grew from ${before} to ${after}`);
    await teardown(id, staging, [target]);
  });

  it('E-2: ext4 grows online where the driver may, else on the next stage; never shrinks', async () => {
    const { id } = await createAttached('e2', EXT4, 32 * MiB);
    const staging = env.path('e2', 'globalmount');
    const target = env.path('pods', 'e2', 'mount');
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4 });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: EXT4 });
    await writeFile(join(target, 'kept.txt'), 'kept');
    const before = await bytesTotal(id, target);
    await rejectsWith(env.client.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { limit_bytes: 16 * MiB } }), 'OUT_OF_RANGE');
    await env.client.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: 64 * MiB } });
    const caps = await env.client.identity.GetPluginCapabilities({});
    const online = caps.capabilities.some((c) => c.volume_expansion?.type === 'ONLINE');
    const expand = env.client.node.NodeExpandVolume({ volume_id: id, volume_path: target, staging_target_path: staging });
    if (online) {
      await expand;
      assert.ok((await bytesTotal(id, target)) > before * 1.8);
      await teardown(id, staging, [target]);
      return;
    }
    await rejectsWith(expand, 'FAILED_PRECONDITION', /CAP_SYS_RESOURCE/);
    await env.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
    await env.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4 });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: EXT4 });
    assert.ok((await bytesTotal(id, target)) > before * 1.8, 'grown when staged again');
    assert.equal(await readFile(join(target, 'kept.txt'), 'utf8'), 'kept');
    // Now the filesystem matches the device: NodeExpandVolume has nothing left to do and succeeds.
    await env.client.node.NodeExpandVolume({ volume_id: id, volume_path: target, staging_target_path: staging });
    await teardown(id, staging, [target]);
  });

  it('S-2: a loop snapshot is a point-in-time copy; a larger restore grows its filesystem', async () => {
    const { id } = await createAttached('s2', EXT4, 32 * MiB);
    const staging = env.path('s2', 'globalmount');
    const target = env.path('pods', 's2', 'mount');
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4 });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: EXT4 });
    await writeFile(join(target, 'keep.txt'), 'snap me');
    const snap = (await env.client.controller.CreateSnapshot({ name: 's2-snap', source_volume_id: id })).snapshot;
    assert.equal(snap.size_bytes, 32 * MiB);
    await writeFile(join(target, 'keep.txt'), 'changed later');
    await teardown(id, staging, [target]);

    await rejectsWith(env.client.controller.CreateVolume({ name: 's2-small', capacity_range: { limit_bytes: 16 * MiB }, volume_capabilities: [EXT4], volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } }), 'OUT_OF_RANGE');
    const restored = (await env.client.controller.CreateVolume({ name: 's2-restored', capacity_range: { required_bytes: 64 * MiB }, volume_capabilities: [EXT4], volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } })).volume.volume_id;
    await env.client.controller.ControllerPublishVolume({ volume_id: restored, node_id: NODE, volume_capability: EXT4 });
    const rStaging = env.path('s2r', 'globalmount');
    const rTarget = env.path('pods', 's2r', 'mount');
    await env.client.node.NodeStageVolume({ volume_id: restored, staging_target_path: rStaging, volume_capability: EXT4 });
    await env.client.node.NodePublishVolume({ volume_id: restored, staging_target_path: rStaging, target_path: rTarget, volume_capability: EXT4 });
    assert.equal(await readFile(join(rTarget, 'keep.txt'), 'utf8'), 'snap me');
    const total = await bytesTotal(restored, rTarget);
    assert.ok(total > 48 * MiB, `restored filesystem is ${total} bytes`);
    await teardown(restored, rStaging, [rTarget]);
    await env.client.controller.DeleteSnapshot({ snapshot_id: snap.snapshot_id });
  });

  it('R-1: a new driver instance finds a staged volume again: unpublish and unstage work, no reformat', async () => {
    const { id, device } = await createAttached('r1', EXT4);
    const staging = env.path('r1', 'globalmount');
    const target = env.path('pods', 'r1', 'mount');
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4 });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: EXT4 });
    await writeFile(join(target, 'survives.txt'), 'still here');

    await env.restart();
    const rebuilt = env.driver.state.volumes.get(id);
    assert.equal(rebuilt?.staging?.path, staging);
    assert.equal(rebuilt?.device, device);
    assert.deepEqual(rebuilt?.publications.map((p) => p.targetPath), [target]);
    // Repeating the finished calls on the new instance succeeds without a second device.
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4 });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: EXT4 });
    assert.deepEqual(loopDevicesOf(imageOf(env, id)), [device]);
    await env.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
    await env.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    assert.equal(findmnt(staging), undefined);

    // Stage again after another restart: the filesystem (and the file) are the same one.
    await env.restart();
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4 });
    assert.equal(await readFile(join(staging, 'survives.txt'), 'utf8'), 'still here');
    await teardown(id, staging, []);
  });
});

// ------------------------------------------------------------------------------------------

describe('volplane driver: no attach step', () => {
  let env: Env;
  before(async () => {
    env = await startEnv(false);
  });
  after(async () => {
    await env.close();
    const leaks = await undoLeaksUnder(env.dir);
    await rm(env.dir, { recursive: true, force: true });
    assert.deepEqual(leaks, []);
  });

  it('A-1: ControllerPublish is UNIMPLEMENTED and not advertised', async () => {
    const caps = (await env.client.controller.ControllerGetCapabilities({})).capabilities.map((c) => c.rpc?.type);
    assert.ok(!caps.includes('PUBLISH_UNPUBLISH_VOLUME'));
    await rejectsWith(env.client.controller.ControllerPublishVolume({ volume_id: 'x', node_id: NODE, volume_capability: MOUNT }), 'UNIMPLEMENTED');
  });

  it('A-2: stage attaches the loop device itself and unstage detaches it', async () => {
    const id = (await env.client.controller.CreateVolume({ name: 'a2', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [EXT4] })).volume.volume_id;
    const staging = env.path('a2', 'globalmount');
    const target = env.path('pods', 'a2', 'mount');
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: EXT4 });
    assert.equal(loopDevicesOf(imageOf(env, id)).length, 1);
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: EXT4 });
    await env.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
    await env.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    assert.deepEqual(loopDevicesOf(imageOf(env, id)), []);
    await env.client.controller.DeleteVolume({ volume_id: id });
  });

  it('A-3: a directory volume is staged by record only; publish binds the directory, readonly honoured', async () => {
    const id = (await env.client.controller.CreateVolume({ name: 'a3', volume_capabilities: [MOUNT] })).volume.volume_id;
    const staging = env.path('a3', 'globalmount');
    const rw = env.path('pods', 'a3', 'rw');
    const ro = env.path('pods', 'a3', 'ro');
    await rejectsWith(env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: rw, volume_capability: MOUNT }), 'FAILED_PRECONDITION');
    await env.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: MOUNT });
    assert.equal(findmnt(staging), undefined);
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: rw, volume_capability: MOUNT });
    await env.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: ro, volume_capability: { mount: {}, access_mode: { mode: 'SINGLE_NODE_READER_ONLY' } } });
    await writeFile(join(rw, 'f.txt'), 'dir volume');
    assert.equal(await readFile(join(env.dir, 'data', 'volumes', id, 'f.txt'), 'utf8'), 'dir volume');
    await assert.rejects(writeFile(join(ro, 'g.txt'), 'x'), { code: 'EROFS' });
    const stats = await env.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: rw });
    assert.ok(stats.usage.some((u) => u.unit === 'INODES'));
    for (const t of [rw, ro]) await env.client.node.NodeUnpublishVolume({ volume_id: id, target_path: t });
    await env.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    await env.client.controller.DeleteVolume({ volume_id: id });
  });
});

// ------------------------------------------------------------------------------------------
// Several node agents on one machine: instance A serves the Controller and
// node A, instance B is node-only (mode 'node') with its own data dir and
// socket, recorded in A's nodes/. Rows numbered M (multi-node) and EPH
// (ephemeral inline volumes).

interface Instance {
  driver: VolplaneDriver;
  server: CsiServerHandle;
  client: CsiClient;
}

describe('volplane driver: several nodes on one machine', () => {
  const NODE_B = 'node-b';
  let dir: string;
  let a: Instance;
  let b: Instance | undefined;
  const logger = pino({ level: process.env.VOLPLANE_TEST_LOG ?? 'silent' });
  const dataA = (): string => join(dir, 'a');
  const kubelet = (node: string, ...parts: string[]): string => join(dir, `kubelet-${node}`, ...parts);

  async function startA(): Promise<Instance> {
    const driver = await createVolplaneDriver({ nodeId: NODE, dataDir: dataA(), attachRequired: true, logger });
    const endpoint = `unix://${join(dir, 'a.sock')}`;
    const server = await serveCsiDriver({ endpoint, identity: driver.identity, controller: driver.controller, node: driver.node, logger });
    return { driver, server, client: createCsiClient(endpoint, { defaultTimeoutMs: 60_000 }) };
  }
  async function startB(): Promise<Instance> {
    const driver = await createVolplaneDriver({ nodeId: NODE_B, dataDir: join(dir, 'b'), attachRequired: true, mode: 'node', controllerDataDir: dataA(), logger });
    const endpoint = `unix://${join(dir, 'b.sock')}`;
    const server = await serveCsiDriver({ endpoint, identity: driver.identity, node: driver.node, logger });
    return { driver, server, client: createCsiClient(endpoint, { defaultTimeoutMs: 60_000 }) };
  }
  async function stop(i: Instance): Promise<void> {
    i.client.close();
    await i.server.close();
    await i.driver.dispose();
  }
  const seg = (node: string): { segments: Record<string, string> } => ({ segments: { [TOPOLOGY_KEY]: node } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'volplane-driver-multi-'));
    a = await startA();
  });
  after(async () => {
    await stop(a);
    if (b !== undefined) await stop(b);
    const leaks = await undoLeaksUnder(dir);
    await rm(dir, { recursive: true, force: true });
    assert.deepEqual(leaks, []);
  });

  it('M-1: ControllerPublish knows a node-only instance once it started; other nodes stay NOT_FOUND', async () => {
    const id = (await a.client.controller.CreateVolume({ name: 'm1', volume_capabilities: [MOUNT] })).volume.volume_id;
    await rejectsWith(a.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE_B, volume_capability: MOUNT }), 'NOT_FOUND', /node-b does not exist/);
    b = await startB();
    await a.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE_B, volume_capability: MOUNT });
    await rejectsWith(a.client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'node-z', volume_capability: MOUNT }), 'NOT_FOUND');
    const listed = (await a.client.controller.ListVolumes({})).entries.find((e) => e.volume.volume_id === id);
    assert.deepEqual(listed?.status?.published_node_ids, [NODE_B]);
    // B is node-only: no controller service advertised or served.
    const caps = (await b.client.identity.GetPluginCapabilities({})).capabilities.map((c) => c.service?.type).filter((t) => t !== undefined);
    assert.ok(!caps.includes('CONTROLLER_SERVICE'));
    await rejectsWith(b.client.controller.CreateVolume({ name: 'x', volume_capabilities: [MOUNT] }), 'UNIMPLEMENTED');
    assert.equal((await b.client.node.NodeGetInfo({})).node_id, NODE_B);
    await a.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: NODE_B });
    await a.client.controller.DeleteVolume({ volume_id: id });
  });

  it('M-2: CreateVolume is accessible from the known requisite segments and every other known node; unknown only is RESOURCE_EXHAUSTED', async () => {
    const both = await a.client.controller.CreateVolume({
      name: 'm2',
      volume_capabilities: [MOUNT],
      accessibility_requirements: { requisite: [seg(NODE_B), seg('node-z'), seg(NODE), seg(NODE_B)], preferred: [seg(NODE_B)] },
    });
    assert.deepEqual(both.volume.accessible_topology, [seg(NODE_B), seg(NODE)]);
    // WaitForFirstConsumer: only the selected node is requisite, yet a pod may move to the other node.
    const selected = await a.client.controller.CreateVolume({ name: 'm2-sel', volume_capabilities: [MOUNT], accessibility_requirements: { requisite: [seg(NODE_B)], preferred: [seg(NODE_B)] } });
    assert.deepEqual(selected.volume.accessible_topology, [seg(NODE_B), seg(NODE)]);
    const none = await a.client.controller.CreateVolume({ name: 'm2-none', volume_capabilities: [MOUNT] });
    assert.deepEqual(none.volume.accessible_topology, [seg(NODE), seg(NODE_B)]);
    await rejectsWith(
      a.client.controller.CreateVolume({ name: 'm2-z', volume_capabilities: [MOUNT], accessibility_requirements: { requisite: [seg('node-z')] } }),
      'RESOURCE_EXHAUSTED',
    );
    assert.ok(((await a.client.controller.GetCapacity({ accessible_topology: seg(NODE_B) })).available_capacity ?? 0) > 0);
    assert.equal((await a.client.controller.GetCapacity({ accessible_topology: seg('node-z') })).available_capacity ?? 0, 0);
    for (const v of [both, none, selected]) await a.client.controller.DeleteVolume({ volume_id: v.volume.volume_id });
  });

  it('M-3: an ext4 volume written on node A is there when staged and published on node B, also after B restarts', async () => {
    assert.ok(b !== undefined);
    const created = (
      await a.client.controller.CreateVolume({
        name: 'm3',
        capacity_range: { required_bytes: 16 * MiB },
        volume_capabilities: [EXT4],
        accessibility_requirements: { requisite: [seg(NODE), seg(NODE_B)] },
      })
    ).volume;
    const id = created.volume_id;
    const context = created.volume_context ?? {};
    const image = join(dataA(), 'volumes', `${id}.img`);

    // Node A: attach, stage (formats), publish, write, then all the way back.
    const onA = await a.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE, volume_capability: EXT4 });
    const stagingA = kubelet('a', 'm3', 'globalmount');
    const targetA = kubelet('a', 'pods', 'p1', 'mount');
    await a.client.node.NodeStageVolume({ volume_id: id, staging_target_path: stagingA, volume_capability: EXT4, volume_context: context, publish_context: onA.publish_context ?? {} });
    await a.client.node.NodePublishVolume({ volume_id: id, staging_target_path: stagingA, target_path: targetA, volume_capability: EXT4, volume_context: context });
    await writeFile(join(targetA, 'from-a.txt'), 'written on node A');
    await a.client.node.NodeUnpublishVolume({ volume_id: id, target_path: targetA });
    await a.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: stagingA });
    await a.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: NODE });
    assert.deepEqual(loopDevicesOf(image), []);

    // Node B: staging before the attach is refused; after it, the data is there.
    const stagingB = kubelet('b', 'm3', 'globalmount');
    const targetB = kubelet('b', 'pods', 'p2', 'mount');
    await rejectsWith(b.client.node.NodeStageVolume({ volume_id: id, staging_target_path: stagingB, volume_capability: EXT4, volume_context: context }), 'FAILED_PRECONDITION', /not attached/);
    const onB = await a.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE_B, volume_capability: EXT4 });
    const device = onB.publish_context?.devicePath ?? '';
    assert.deepEqual(loopDevicesOf(image), [device]);
    const stageB = { volume_id: id, staging_target_path: stagingB, volume_capability: EXT4, volume_context: context, publish_context: onB.publish_context ?? {} };
    await b.client.node.NodeStageVolume(stageB);
    await b.client.node.NodeStageVolume(stageB);
    assert.equal(findmnt(stagingB)?.source, device);
    const publishB = { volume_id: id, staging_target_path: stagingB, target_path: targetB, volume_capability: EXT4, volume_context: context, publish_context: onB.publish_context ?? {} };
    await b.client.node.NodePublishVolume(publishB);
    assert.equal(await readFile(join(targetB, 'from-a.txt'), 'utf8'), 'written on node A');
    // A knows nothing of B's staging; B's records live in B's own data dir.
    assert.equal(a.driver.state.volumes.get(id)?.staging, undefined);
    assert.equal(b.driver.state.volumes.size, 0);

    // B restarts: it finds its staging and publication again, in its node-state.json.
    await stop(b);
    b = await startB();
    const rebuilt = b.driver.state.contextVolumes.get(id);
    assert.equal(rebuilt?.staging?.path, stagingB);
    assert.deepEqual(rebuilt?.publications.map((p) => p.targetPath), [targetB]);
    await b.client.node.NodePublishVolume(publishB);
    assert.deepEqual(loopDevicesOf(image), [device], 'still one loop device, the controller’s');
    const stats = await b.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: targetB });
    assert.ok((stats.usage.find((u) => u.unit === 'BYTES')?.total ?? 0) > 10 * MiB);

    // Teardown on B never detaches the controller's device; ControllerUnpublish does.
    await rejectsWith(b.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: stagingB }), 'FAILED_PRECONDITION');
    await b.client.node.NodeUnpublishVolume({ volume_id: id, target_path: targetB });
    await b.client.node.NodeUnpublishVolume({ volume_id: id, target_path: targetB });
    await b.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: stagingB });
    await b.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: stagingB });
    assert.equal(findmnt(stagingB), undefined);
    assert.equal(b.driver.state.contextVolumes.size, 0, 'a context record goes with its last staging');
    assert.deepEqual(loopDevicesOf(image), [device]);
    await a.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: NODE_B });
    assert.deepEqual(loopDevicesOf(image), []);
    await a.client.controller.DeleteVolume({ volume_id: id });
    await assert.rejects(stat(image), { code: 'ENOENT' });
  });

  it('M-4: a directory volume on node B, from a context without a path (older PVs): the controller data dir locates it', async () => {
    assert.ok(b !== undefined);
    const created = (await a.client.controller.CreateVolume({ name: 'm4', volume_capabilities: [MOUNT] })).volume;
    const id = created.volume_id;
    const context = { 'volplane.io/kind': 'directory' };
    await a.client.controller.ControllerPublishVolume({ volume_id: id, node_id: NODE_B, volume_capability: MOUNT });
    const staging = kubelet('b', 'm4', 'globalmount');
    const target = kubelet('b', 'pods', 'p4', 'mount');
    await b.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: MOUNT, volume_context: context });
    await b.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: MOUNT, volume_context: context });
    await writeFile(join(target, 'on-b.txt'), 'node B');
    assert.equal(await readFile(join(dataA(), 'volumes', id, 'on-b.txt'), 'utf8'), 'node B');
    // Without a kind the context names no volplane volume; an id B never saw unpublishes as done.
    await rejectsWith(b.client.node.NodeStageVolume({ volume_id: 'other', staging_target_path: staging, volume_capability: MOUNT, volume_context: {} }), 'NOT_FOUND');
    await b.client.node.NodeUnpublishVolume({ volume_id: 'never-seen', target_path: kubelet('b', 'pods', 'none', 'mount') });
    await rejectsWith(
      b.client.node.NodeStageVolume({ volume_id: 'x', staging_target_path: staging, volume_capability: MOUNT, volume_context: { 'volplane.io/kind': 'directory', 'volplane.io/path': '/etc/../etc' } }),
      'INVALID_ARGUMENT',
    );
    await b.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
    await b.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    await a.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: NODE_B });
    await a.client.controller.DeleteVolume({ volume_id: id });
  });

  it('EPH-1: an ephemeral inline volume is made by NodePublish and removed by NodeUnpublish, on either instance, across a restart', async () => {
    assert.ok(b !== undefined);
    const context = { 'csi.storage.k8s.io/ephemeral': 'true', 'csi.storage.k8s.io/pod.name': 'p' };
    for (const [name, inst, data] of [
      ['a', () => a, join(dir, 'a')],
      ['b', () => b!, join(dir, 'b')],
    ] as const) {
      const id = `csi-eph-${name}`;
      const target = kubelet(name, 'pods', 'eph', 'volumes', 'kubernetes.io~csi', 'inline', 'mount');
      const req = { volume_id: id, target_path: target, volume_capability: MOUNT, volume_context: context };
      await inst().client.node.NodePublishVolume(req);
      await inst().client.node.NodePublishVolume(req);
      await rejectsWith(inst().client.node.NodePublishVolume({ ...req, volume_id: `${id}-blk`, volume_capability: BLOCK }), 'INVALID_ARGUMENT');
      await writeFile(join(target, 'scratch.txt'), 'inline');
      assert.equal(await readFile(join(data, 'ephemeral', id, 'scratch.txt'), 'utf8'), 'inline');
      if (name === 'a') {
        const listed = (await a.client.controller.ListVolumes({})).entries.map((e) => e.volume.volume_id);
        assert.ok(!listed.includes(id), 'an ephemeral volume is no controller volume');
        await stop(a);
        a = await startA();
      } else {
        await stop(b!);
        b = await startB();
      }
      assert.equal(inst().driver.state.contextVolumes.get(id)?.ephemeral, true, 'still recorded after a restart');
      await inst().client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
      await inst().client.node.NodeUnpublishVolume({ volume_id: id, target_path: target }).catch((err: unknown) => {
        // Once gone, the controller instance no longer knows the id.
        assert.ok(name === 'a' && err instanceof CsiError && err.codeName === 'NOT_FOUND', String(err));
      });
      assert.equal(findmnt(target), undefined);
      await assert.rejects(stat(join(data, 'ephemeral', id)), { code: 'ENOENT' });
      assert.equal(inst().driver.state.contextVolumes.size, 0);
    }
  });
});
