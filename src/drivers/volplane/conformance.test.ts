// CSI conformance of the volplane driver: the checks of the upstream sanity
// suite (kubernetes-csi/csi-test, pkg/sanity: identity, controller, snapshot,
// expansion and node cases) and the MUST/SHOULD error rules of the CSI spec,
// rewritten as table rows and run against the real driver over a real gRPC
// unix socket through our own client.
//
// Every row runs in each configuration of CONFIGS — directory volumes for
// mount access, loop volumes for block access, ext4 loop volumes chosen by a
// StorageClass-style parameter, and both kinds with an attach step
// (ControllerPublish/Unpublish) — the way csi-sanity is run with
// --csi.testvolumeaccesstype and against drivers with and without
// PUBLISH_UNPUBLISH_VOLUME. A row whose capability the driver does not
// advertise is skipped, as sanity skips it.
//
// The harness behaves like the sanity harness, since that is what the
// driver will be judged by: one staging directory created up front and
// shared by every volume in turn, one target path `<targets>/target` whose
// parent exists, and after every row a cleanup of everything the row created
// in reverse order — NodeUnpublish at the target and NodeUnstage at the
// staging path for *every* volume (NOT_FOUND tolerated, anything else an
// error), ControllerUnpublish where published, then DeleteVolume, then
// DeleteSnapshot. Every request that has a `secrets` field carries a secret
// (as `--csi.secrets` does), the server logs at debug level into memory, and
// the last row of each configuration checks that the secret never reached a
// log line. After each row nothing may stay mounted or attached under the
// configuration's temp dir.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import {
  CsiError,
  createCsiClient,
  serveCsiDriver,
  type AccessModeName,
  type ControllerPublishVolumeRequest,
  type ControllerPublishVolumeResponse,
  type ControllerRpcType,
  type CreateSnapshotRequest,
  type CreateSnapshotResponse,
  type CreateVolumeRequest,
  type CreateVolumeResponse,
  type CsiClient,
  type CsiServerHandle,
  type GrpcCodeName,
  type NodeGetInfoResponse,
  type NodeRpcType,
  type Snapshot,
  type VolumeCapability,
} from '../../csi/index.ts';
import { undoLeaksUnder } from '../../testing/leak-check.ts';
import { createVolplaneDriver, type VolplaneDriver } from './index.ts';

const MiB = 1024 * 1024;
const NODE = 'conformance-node';
/** Long enough to prove a 128-character name works; sanity's MaxNameLength. */
const MAX_NAME_LENGTH = 128;
/** How often the idempotency rows repeat each call (sanity's --csi.idempotency-count). */
const IDEMPOTENT_COUNT = 3;
/** A value that must never appear in a log line. */
const SECRET_VALUE = 'conformance-s3cret-9f1c';
const SECRETS = { password: SECRET_VALUE, 'csi.storage.k8s.io/token': SECRET_VALUE };

interface Config {
  name: string;
  accessType: 'mount' | 'block';
  attachRequired: boolean;
  /** Passed to every CreateVolume (sanity's --csi.testvolumeparameters). */
  parameters: Record<string, string>;
  /** Reported by NodeGetInfo; 0 skips the attach-limit row. */
  maxVolumesPerNode: number;
}

const CONFIGS: Config[] = [
  { name: 'mount access, directory volumes', accessType: 'mount', attachRequired: false, parameters: {}, maxVolumesPerNode: 0 },
  { name: 'block access, loop volumes', accessType: 'block', attachRequired: false, parameters: {}, maxVolumesPerNode: 0 },
  { name: 'mount access, ext4 loop volumes', accessType: 'mount', attachRequired: false, parameters: { 'csi.storage.k8s.io/fstype': 'ext4' }, maxVolumesPerNode: 0 },
  { name: 'attach required, mount access, directory volumes', accessType: 'mount', attachRequired: true, parameters: {}, maxVolumesPerNode: 4 },
  { name: 'attach required, block access, loop volumes', accessType: 'block', attachRequired: true, parameters: {}, maxVolumesPerNode: 0 },
];

/** sanity's --csi.testvolumesize and --csi.testvolumeexpandsize, small enough for loop images. */
const VOLUME_SIZE = 32 * MiB;
const EXPAND_SIZE = 48 * MiB;

// ------------------------------------------------------------------ harness

/** Tracks what a row created and undoes it the way sanity's Resources.Cleanup does. */
class Resources {
  readonly #h: Harness;
  #items: ({ kind: 'volume'; id: string; nodeId?: string } | { kind: 'snapshot'; id: string })[] = [];
  constructor(h: Harness) {
    this.#h = h;
  }

  async createVolume(req: CreateVolumeRequest): Promise<CreateVolumeResponse> {
    const res = await this.#h.client.controller.CreateVolume({ secrets: SECRETS, ...req });
    if (res.volume.volume_id !== '' && !this.#items.some((i) => i.id === res.volume.volume_id)) {
      this.#items.push({ kind: 'volume', id: res.volume.volume_id });
    }
    return res;
  }

  async controllerPublish(req: ControllerPublishVolumeRequest): Promise<ControllerPublishVolumeResponse> {
    const res = await this.#h.client.controller.ControllerPublishVolume({ secrets: SECRETS, ...req });
    const item = this.#items.find((i) => i.kind === 'volume' && i.id === req.volume_id);
    if (item?.kind === 'volume' && req.node_id) item.nodeId = req.node_id;
    return res;
  }

  async createSnapshot(req: CreateSnapshotRequest): Promise<CreateSnapshotResponse> {
    const res = await this.#h.client.controller.CreateSnapshot({ secrets: SECRETS, ...req });
    if (!this.#items.some((i) => i.id === res.snapshot.snapshot_id)) this.#items.push({ kind: 'snapshot', id: res.snapshot.snapshot_id });
    return res;
  }

  async deleteVolume(id: string): Promise<void> {
    await this.#h.client.controller.DeleteVolume({ volume_id: id, secrets: SECRETS });
    this.#items = this.#items.filter((i) => i.id !== id);
  }

  async deleteSnapshot(id: string): Promise<void> {
    await this.#h.client.controller.DeleteSnapshot({ snapshot_id: id, secrets: SECRETS });
    this.#items = this.#items.filter((i) => i.id !== id);
  }

  /** Undoes everything in reverse order; returns what failed (empty when all went well). */
  async cleanup(): Promise<string[]> {
    const errors: string[] = [];
    const { client, targetPath, stagingPath } = this.#h;
    const relevant = (what: string, err: unknown): void => {
      if (!(err instanceof CsiError && err.codeName === 'NOT_FOUND')) errors.push(`${what}: ${String(err)}`);
    };
    for (const item of this.#items.reverse()) {
      if (item.kind === 'snapshot') {
        await client.controller.DeleteSnapshot({ snapshot_id: item.id, secrets: SECRETS }).catch((err: unknown) => errors.push(`DeleteSnapshot ${item.id}: ${String(err)}`));
        continue;
      }
      await client.node.NodeUnpublishVolume({ volume_id: item.id, target_path: targetPath }).catch((err: unknown) => relevant(`NodeUnpublishVolume ${item.id}`, err));
      await client.node.NodeUnstageVolume({ volume_id: item.id, staging_target_path: stagingPath }).catch((err: unknown) => relevant(`NodeUnstageVolume ${item.id}`, err));
      if (item.nodeId !== undefined) {
        await client.controller
          .ControllerUnpublishVolume({ volume_id: item.id, node_id: item.nodeId, secrets: SECRETS })
          .catch((err: unknown) => errors.push(`ControllerUnpublishVolume ${item.id}: ${String(err)}`));
      }
      await client.controller.DeleteVolume({ volume_id: item.id, secrets: SECRETS }).catch((err: unknown) => errors.push(`DeleteVolume ${item.id}: ${String(err)}`));
    }
    this.#items = [];
    return errors;
  }
}

interface Harness {
  config: Config;
  dir: string;
  client: CsiClient;
  driver: VolplaneDriver;
  server: CsiServerHandle;
  /** Created by the harness, shared by every volume in turn. */
  stagingPath: string;
  /** Its parent exists; the driver creates and removes the path itself. */
  targetPath: string;
  logLines: string[];
  r: Resources;
  /** Filled in `before` from the driver's own answers. */
  caps: { controller: Set<ControllerRpcType>; node: Set<NodeRpcType>; nodeInfo: NodeGetInfoResponse };
  close(): Promise<void>;
}

async function startHarness(config: Config): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'volplane-conformance-'));
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  // No redaction configured here: the CSI server itself must keep secrets out.
  const logger = pino({ level: 'debug' }, sink);
  const driver = await createVolplaneDriver({
    nodeId: NODE,
    dataDir: join(dir, 'data'),
    attachRequired: config.attachRequired,
    maxVolumesPerNode: config.maxVolumesPerNode,
    logger,
  });
  const endpoint = `unix://${join(dir, 'csi.sock')}`;
  const server = await serveCsiDriver({ endpoint, identity: driver.identity, controller: driver.controller, node: driver.node, logger });
  const client = createCsiClient(endpoint, { defaultTimeoutMs: 60_000 });
  const stagingPath = join(dir, 'staging');
  const targets = join(dir, 'targets');
  await mkdir(stagingPath, { recursive: true });
  await mkdir(targets, { recursive: true });
  const h: Harness = {
    config,
    dir,
    client,
    driver,
    server,
    stagingPath,
    targetPath: join(targets, 'target'),
    logLines,
    r: undefined as unknown as Resources,
    caps: {
      controller: new Set((await client.controller.ControllerGetCapabilities({})).capabilities.map((c) => c.rpc?.type ?? 'UNKNOWN')),
      node: new Set((await client.node.NodeGetCapabilities({})).capabilities.map((c) => c.rpc?.type ?? 'UNKNOWN')),
      nodeInfo: await client.node.NodeGetInfo({}),
    },
    async close() {
      client.close();
      await server.close();
      await driver.dispose();
    },
  };
  h.r = new Resources(h);
  return h;
}

async function expectCode(promise: Promise<unknown>, ...codes: GrpcCodeName[]): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CsiError, `expected a CsiError, got ${String(err)}`);
    assert.ok(codes.includes(err.codeName), `expected ${codes.join(' or ')}, got ${err.codeName}: ${err.message}`);
    return true;
  });
}

async function pathKind(path: string): Promise<'missing' | 'directory' | 'block' | 'file'> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'directory' : s.isBlockDevice() ? 'block' : 'file';
  } catch {
    return 'missing';
  }
}

let unique = 0;
/** A name no other row uses, cut or padded to `length` when given. */
function uniqueName(prefix: string, length?: number): string {
  const base = `${prefix}-${process.pid}-${++unique}`;
  if (length === undefined) return base;
  return (base + 'x'.repeat(Math.max(0, length - base.length))).slice(0, length);
}

function capability(h: Harness, mode: AccessModeName = 'SINGLE_NODE_WRITER'): VolumeCapability {
  return h.config.accessType === 'block' ? { block: {}, access_mode: { mode } } : { mount: {}, access_mode: { mode } };
}

/** sanity's MakeCreateVolumeReq: the test size as both required and limit. */
function createRequest(h: Harness, name: string, extra: Partial<CreateVolumeRequest> = {}): CreateVolumeRequest {
  return {
    name,
    volume_capabilities: [capability(h)],
    capacity_range: { required_bytes: VOLUME_SIZE, limit_bytes: VOLUME_SIZE },
    parameters: h.config.parameters,
    ...extra,
  };
}

/** Creates a volume, attaches it where attach is required, stages and publishes it at the harness paths. */
async function createPublished(h: Harness, name: string): Promise<{ id: string; publishContext: Record<string, string> }> {
  const id = (await h.r.createVolume(createRequest(h, name))).volume.volume_id;
  let publishContext: Record<string, string> = {};
  if (h.caps.controller.has('PUBLISH_UNPUBLISH_VOLUME')) {
    publishContext = (await h.r.controllerPublish({ volume_id: id, node_id: h.caps.nodeInfo.node_id, volume_capability: capability(h) })).publish_context ?? {};
  }
  await h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: h.stagingPath, volume_capability: capability(h), publish_context: publishContext, secrets: SECRETS });
  await h.client.node.NodePublishVolume({
    volume_id: id,
    staging_target_path: h.stagingPath,
    target_path: h.targetPath,
    volume_capability: capability(h),
    publish_context: publishContext,
    secrets: SECRETS,
  });
  return { id, publishContext };
}

function assertSnapshotInfo(s: Snapshot | undefined): void {
  assert.ok(s !== undefined, 'snapshot missing');
  assert.notEqual(s.snapshot_id, '');
  assert.notEqual(s.source_volume_id, '');
  assert.ok((s.creation_time?.seconds ?? 0) > 0 || (s.creation_time?.nanos ?? 0) > 0, 'creation_time is zero');
}

// --------------------------------------------------------------------- rows

interface Row {
  id: string;
  name: string;
  /** Skip unless the driver advertises this controller capability (as sanity does). */
  controllerCap?: ControllerRpcType;
  /** Skip unless the driver advertises this node capability. */
  nodeCap?: NodeRpcType;
  /** Skip when the driver advertises this controller capability. */
  unlessControllerCap?: ControllerRpcType;
  run(h: Harness): Promise<void>;
}

const KNOWN_PLUGIN_SERVICES = new Set(['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS', 'GROUP_CONTROLLER_SERVICE', 'SNAPSHOT_METADATA_SERVICE']);
const KNOWN_CONTROLLER_CAPS = new Set<string>([
  'CREATE_DELETE_VOLUME', 'PUBLISH_UNPUBLISH_VOLUME', 'LIST_VOLUMES', 'GET_CAPACITY', 'CREATE_DELETE_SNAPSHOT', 'LIST_SNAPSHOTS',
  'PUBLISH_READONLY', 'CLONE_VOLUME', 'EXPAND_VOLUME', 'LIST_VOLUMES_PUBLISHED_NODES', 'GET_VOLUME', 'VOLUME_CONDITION',
  'SINGLE_NODE_MULTI_WRITER', 'MODIFY_VOLUME', 'GET_SNAPSHOT',
]);
const KNOWN_NODE_CAPS = new Set<string>(['STAGE_UNSTAGE_VOLUME', 'GET_VOLUME_STATS', 'EXPAND_VOLUME', 'VOLUME_CONDITION', 'SINGLE_NODE_MULTI_WRITER', 'VOLUME_MOUNT_GROUP']);

const identityRows: Row[] = [
  {
    id: 'I-1',
    name: 'GetPluginInfo names the driver (≤ 63 characters, DNS-like) and its version',
    async run(h) {
      const info = await h.client.identity.GetPluginInfo({});
      assert.ok(info.name.length > 0 && info.name.length <= 63, `name ${JSON.stringify(info.name)}`);
      assert.match(info.name, /^[a-zA-Z][A-Za-z0-9-._]{0,61}[a-zA-Z]$/);
      assert.notEqual(info.vendor_version, '');
    },
  },
  {
    id: 'I-2',
    name: 'GetPluginCapabilities lists only known services, the controller service among them',
    async run(h) {
      const caps = (await h.client.identity.GetPluginCapabilities({})).capabilities;
      for (const c of caps) {
        if (c.service) assert.ok(KNOWN_PLUGIN_SERVICES.has(c.service.type ?? ''), `unknown service ${c.service.type}`);
        else if (c.volume_expansion) assert.ok(['ONLINE', 'OFFLINE'].includes(c.volume_expansion.type ?? ''), `expansion ${c.volume_expansion.type}`);
        else assert.fail(`capability of no known type: ${JSON.stringify(c)}`);
      }
      assert.ok(caps.some((c) => c.service?.type === 'CONTROLLER_SERVICE'));
    },
  },
  {
    id: 'I-3',
    name: 'Probe answers OK and, where it says, ready',
    async run(h) {
      const res = await h.client.identity.Probe({});
      assert.notEqual(res.ready?.value, false);
    },
  },
];

const controllerRows: Row[] = [
  {
    id: 'C-1',
    name: 'ControllerGetCapabilities lists only known RPCs; PUBLISH_UNPUBLISH exactly when attach is required',
    async run(h) {
      for (const c of h.caps.controller) assert.ok(KNOWN_CONTROLLER_CAPS.has(c), `unknown capability ${c}`);
      assert.equal(h.caps.controller.has('PUBLISH_UNPUBLISH_VOLUME'), h.config.attachRequired);
    },
  },
  {
    id: 'C-2',
    name: 'GetCapacity answers without optional fields, and for the access type under test',
    controllerCap: 'GET_CAPACITY',
    async run(h) {
      await h.client.controller.GetCapacity({});
      const res = await h.client.controller.GetCapacity({ volume_capabilities: [capability(h)], parameters: h.config.parameters });
      assert.ok(res.available_capacity >= 0);
    },
  },
  ...(
    [
      ['no name', { name: '' }, 'INVALID_ARGUMENT'],
      ['no volume capabilities', { volume_capabilities: [] }, 'INVALID_ARGUMENT'],
      ['a capability without access type', { volume_capabilities: [{ access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }, 'INVALID_ARGUMENT'],
      ['a capability without access mode', { volume_capabilities: [{ mount: {} }] }, 'INVALID_ARGUMENT'],
      ['a limit below the required bytes', { capacity_range: { required_bytes: 2 * VOLUME_SIZE, limit_bytes: VOLUME_SIZE } }, 'OUT_OF_RANGE'],
      ['negative required bytes', { capacity_range: { required_bytes: -1 } }, 'INVALID_ARGUMENT'],
    ] as const
  ).map(([what, patch, code], k): Row => ({
    id: `C-3.${k + 1}`,
    name: `CreateVolume with ${what} is ${code}`,
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      const req = createRequest(h, uniqueName('c3'), patch as Partial<CreateVolumeRequest>);
      await expectCode(h.r.createVolume(req), code);
    },
  })),
  {
    id: 'C-4',
    name: 'CreateVolume with only required bytes gives a volume at least that large (or of unreported size)',
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      const vol = (await h.r.createVolume({ ...createRequest(h, uniqueName('c4')), capacity_range: { required_bytes: VOLUME_SIZE } })).volume;
      assert.notEqual(vol.volume_id, '');
      assert.ok(vol.capacity_bytes === 0 || (vol.capacity_bytes ?? 0) >= VOLUME_SIZE, `capacity ${vol.capacity_bytes}`);
    },
  },
  {
    id: 'C-5',
    name: 'CreateVolume is idempotent: the same name and capacity return the same volume',
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      const req = { ...createRequest(h, uniqueName('c5')), capacity_range: { required_bytes: VOLUME_SIZE } };
      const ids = new Set<string>();
      for (let k = 0; k < IDEMPOTENT_COUNT; k++) {
        const vol = (await h.r.createVolume(req)).volume;
        assert.ok(vol.capacity_bytes === 0 || (vol.capacity_bytes ?? 0) >= VOLUME_SIZE);
        ids.add(vol.volume_id);
      }
      assert.equal(ids.size, 1);
      const listed = (await h.client.controller.ListVolumes({})).entries.filter((e) => ids.has(e.volume.volume_id));
      assert.equal(listed.length, 1, 'one volume, not one per call');
    },
  },
  {
    id: 'C-6',
    name: 'CreateVolume with an existing name and a different capacity is ALREADY_EXISTS',
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      const name = uniqueName('c6');
      await h.r.createVolume(createRequest(h, name));
      await expectCode(h.r.createVolume(createRequest(h, name, { capacity_range: { required_bytes: 2 * VOLUME_SIZE, limit_bytes: 2 * VOLUME_SIZE } })), 'ALREADY_EXISTS');
    },
  },
  {
    id: 'C-7',
    name: `CreateVolume accepts a name of ${MAX_NAME_LENGTH} characters`,
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      const name = uniqueName('c7-maxlen', MAX_NAME_LENGTH);
      assert.equal(name.length, MAX_NAME_LENGTH);
      const vol = (await h.r.createVolume(createRequest(h, name))).volume;
      assert.ok(vol.capacity_bytes === 0 || (vol.capacity_bytes ?? 0) >= VOLUME_SIZE);
    },
  },
  {
    id: 'C-8',
    name: 'CreateVolume from a snapshot that does not exist is NOT_FOUND',
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      const req = createRequest(h, uniqueName('c8'), { volume_content_source: { snapshot: { snapshot_id: 'non-existing-snapshot-id' } } });
      await expectCode(h.r.createVolume(req), 'NOT_FOUND');
    },
  },
  {
    id: 'C-9',
    name: 'CreateVolume from a volume that does not exist is NOT_FOUND',
    controllerCap: 'CLONE_VOLUME',
    async run(h) {
      const req = createRequest(h, uniqueName('c9'), { volume_content_source: { volume: { volume_id: 'non-existing-volume-id' } } });
      await expectCode(h.r.createVolume(req), 'NOT_FOUND');
    },
  },
  {
    id: 'C-10',
    name: 'CreateVolume from an existing snapshot succeeds and reports its content source; it is idempotent',
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      const source = (await h.r.createVolume(createRequest(h, uniqueName('c10-src')))).volume.volume_id;
      const snap = (await h.r.createSnapshot({ name: uniqueName('c10-snap'), source_volume_id: source })).snapshot;
      assert.equal(snap.ready_to_use, true);
      const req = createRequest(h, uniqueName('c10'), { volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } });
      const vol = (await h.r.createVolume(req)).volume;
      assert.equal(vol.content_source?.snapshot?.snapshot_id, snap.snapshot_id);
      assert.equal((await h.r.createVolume(req)).volume.volume_id, vol.volume_id);
    },
  },
  {
    id: 'C-11',
    name: 'CreateVolume cloning an existing volume succeeds and reports its content source',
    controllerCap: 'CLONE_VOLUME',
    async run(h) {
      const source = (await h.r.createVolume(createRequest(h, uniqueName('c11-src')))).volume.volume_id;
      const vol = (await h.r.createVolume(createRequest(h, uniqueName('c11'), { volume_content_source: { volume: { volume_id: source } } }))).volume;
      assert.equal(vol.content_source?.volume?.volume_id, source);
    },
  },
  {
    id: 'C-12',
    name: 'CreateVolume honours a topology requirement naming this node (from NodeGetInfo)',
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      const topo = h.caps.nodeInfo.accessible_topology;
      assert.ok(topo, 'the driver has VOLUME_ACCESSIBILITY_CONSTRAINTS, so NodeGetInfo must report a topology');
      const vol = (await h.r.createVolume(createRequest(h, uniqueName('c12'), { accessibility_requirements: { requisite: [topo], preferred: [topo] } }))).volume;
      assert.deepEqual(vol.accessible_topology, [topo]);
    },
  },
  {
    id: 'C-13',
    name: 'CreateVolume from a snapshot with a limit below the snapshot size is OUT_OF_RANGE (the spec\'s own example)',
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      const source = (await h.r.createVolume(createRequest(h, uniqueName('c13-src')))).volume.volume_id;
      const snap = (await h.r.createSnapshot({ name: uniqueName('c13-snap'), source_volume_id: source })).snapshot;
      const req = createRequest(h, uniqueName('c13'), {
        capacity_range: { limit_bytes: VOLUME_SIZE / 2 },
        volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } },
      });
      await expectCode(h.r.createVolume(req), 'OUT_OF_RANGE');
    },
  },
  {
    id: 'D-1',
    name: 'DeleteVolume without a volume id is INVALID_ARGUMENT',
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      await expectCode(h.client.controller.DeleteVolume({ secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'D-2',
    name: 'DeleteVolume of an id that never existed succeeds',
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      await h.client.controller.DeleteVolume({ volume_id: 'reallyfakevolumeid', secrets: SECRETS });
    },
  },
  {
    id: 'D-3',
    name: 'DeleteVolume of a created volume succeeds, and again once it is gone',
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      const id = (await h.r.createVolume(createRequest(h, uniqueName('d3')))).volume.volume_id;
      for (let k = 0; k < IDEMPOTENT_COUNT; k++) await h.r.deleteVolume(id);
      const listed = (await h.client.controller.ListVolumes({})).entries.map((e) => e.volume.volume_id);
      assert.ok(!listed.includes(id));
    },
  },
  {
    id: 'D-4',
    name: 'DeleteVolume of a volume still staged and published is FAILED_PRECONDITION ("volume in use")',
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      const { id } = await createPublished(h, uniqueName('d4'));
      await expectCode(h.client.controller.DeleteVolume({ volume_id: id, secrets: SECRETS }), 'FAILED_PRECONDITION');
      assert.notEqual(await pathKind(h.targetPath), 'missing', 'the refused delete left the publication alone');
    },
  },
  {
    id: 'V-1',
    name: 'ValidateVolumeCapabilities without a volume id is INVALID_ARGUMENT',
    async run(h) {
      await expectCode(h.client.controller.ValidateVolumeCapabilities({ volume_capabilities: [capability(h)], secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'V-2',
    name: 'ValidateVolumeCapabilities without capabilities is INVALID_ARGUMENT',
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      const id = (await h.r.createVolume(createRequest(h, uniqueName('v2')))).volume.volume_id;
      await expectCode(h.client.controller.ValidateVolumeCapabilities({ volume_id: id, secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'V-3',
    name: 'ValidateVolumeCapabilities confirms the capability a volume was created with, listing it',
    controllerCap: 'CREATE_DELETE_VOLUME',
    async run(h) {
      const id = (await h.r.createVolume(createRequest(h, uniqueName('v3')))).volume.volume_id;
      const res = await h.client.controller.ValidateVolumeCapabilities({ volume_id: id, volume_capabilities: [capability(h)], secrets: SECRETS });
      assert.ok(res.confirmed, `not confirmed: ${res.message}`);
      assert.ok((res.confirmed.volume_capabilities ?? []).length > 0, 'a confirmation must list the capabilities');
    },
  },
  {
    id: 'V-4',
    name: 'ValidateVolumeCapabilities of a volume that does not exist is NOT_FOUND',
    async run(h) {
      await expectCode(h.client.controller.ValidateVolumeCapabilities({ volume_id: 'no-such-volume', volume_capabilities: [capability(h)], secrets: SECRETS }), 'NOT_FOUND');
    },
  },
];

const listRows: Row[] = [
  {
    id: 'L-1',
    name: 'ListVolumes without optional fields gives every entry a volume id',
    controllerCap: 'LIST_VOLUMES',
    async run(h) {
      await h.r.createVolume(createRequest(h, uniqueName('l1')));
      const res = await h.client.controller.ListVolumes({});
      assert.ok(res.entries.length >= 1);
      for (const e of res.entries) assert.notEqual(e.volume.volume_id, '');
    },
  },
  {
    id: 'L-2',
    name: 'ListVolumes with a starting_token the driver never gave is ABORTED',
    controllerCap: 'LIST_VOLUMES',
    async run(h) {
      await expectCode(h.client.controller.ListVolumes({ starting_token: 'invalid-token' }), 'ABORTED');
    },
  },
  {
    id: 'L-3',
    name: 'ListVolumes shows a new volume and stops showing it once deleted',
    controllerCap: 'LIST_VOLUMES',
    async run(h) {
      const before = (await h.client.controller.ListVolumes({})).entries.length;
      const id = (await h.r.createVolume({ ...createRequest(h, uniqueName('l3')), capacity_range: null })).volume.volume_id;
      const during = (await h.client.controller.ListVolumes({})).entries;
      assert.equal(during.length, before + 1);
      assert.ok(during.some((e) => e.volume.volume_id === id));
      await h.r.deleteVolume(id);
      assert.equal((await h.client.controller.ListVolumes({})).entries.length, before);
    },
  },
  {
    id: 'L-4',
    name: 'ListVolumes pages by max_entries with next_token; following the tokens yields every volume once',
    controllerCap: 'LIST_VOLUMES',
    async run(h) {
      for (let k = 0; k < 5; k++) await h.r.createVolume(createRequest(h, uniqueName('l4')));
      const all = (await h.client.controller.ListVolumes({})).entries.map((e) => e.volume.volume_id);
      assert.ok(all.length >= 5);
      const first = await h.client.controller.ListVolumes({ max_entries: 2 });
      assert.equal(first.entries.length, 2);
      assert.notEqual(first.next_token, '');
      const seen = first.entries.map((e) => e.volume.volume_id);
      let token = first.next_token ?? '';
      while (token !== '') {
        const page = await h.client.controller.ListVolumes({ max_entries: 2, starting_token: token });
        assert.ok(page.entries.length <= 2);
        seen.push(...page.entries.map((e) => e.volume.volume_id));
        token = page.next_token ?? '';
      }
      assert.deepEqual([...seen].sort(), [...all].sort());
      // Without max_entries the rest comes at once.
      const rest = await h.client.controller.ListVolumes({ starting_token: first.next_token });
      assert.equal(rest.entries.length, all.length - 2);
      assert.equal(rest.next_token, '');
    },
  },
  {
    id: 'L-6',
    name: 'a ListVolumes token stays valid when its page is deleted and a volume is added: no duplicates, the new one listed',
    controllerCap: 'LIST_VOLUMES',
    async run(h) {
      // sanity's (disabled) pagination case, kept here because our tokens are meant to pass it.
      for (let k = 0; k < 3; k++) await h.r.createVolume(createRequest(h, uniqueName('l6')));
      const before = new Set((await h.client.controller.ListVolumes({})).entries.map((e) => e.volume.volume_id));
      const first = await h.client.controller.ListVolumes({ max_entries: 2 });
      assert.equal(first.entries.length, 2);
      for (const e of first.entries) {
        await h.r.deleteVolume(e.volume.volume_id);
        before.delete(e.volume.volume_id);
      }
      const added = (await h.r.createVolume(createRequest(h, uniqueName('l6-new')))).volume.volume_id;
      const rest = await h.client.controller.ListVolumes({ starting_token: first.next_token });
      const ids = rest.entries.map((e) => e.volume.volume_id);
      assert.equal(new Set(ids).size, ids.length, 'no duplicates');
      for (const id of ids) assert.ok(before.has(id) || id === added, `unexpected ${id}`);
      assert.ok(ids.includes(added), 'a volume added after the first page is listed on a later one');
      assert.equal(ids.length, before.size + 1);
    },
  },
  {
    id: 'L-5',
    name: 'ListVolumes with a negative max_entries is INVALID_ARGUMENT',
    controllerCap: 'LIST_VOLUMES',
    async run(h) {
      await expectCode(h.client.controller.ListVolumes({ max_entries: -1 }), 'INVALID_ARGUMENT');
    },
  },
];

const publishRows: Row[] = [
  {
    id: 'P-0',
    name: 'ControllerPublishVolume is UNIMPLEMENTED where the capability is not advertised',
    unlessControllerCap: 'PUBLISH_UNPUBLISH_VOLUME',
    async run(h) {
      await expectCode(h.client.controller.ControllerPublishVolume({ volume_id: 'x', node_id: NODE, volume_capability: capability(h) }), 'UNIMPLEMENTED');
      await expectCode(h.client.controller.ControllerUnpublishVolume({ volume_id: 'x', node_id: NODE }), 'UNIMPLEMENTED');
    },
  },
  ...(
    [
      ['no volume id', {}],
      ['no node id', { volume_id: 'some-volume' }],
      ['no volume capability', { volume_id: 'some-volume', node_id: 'some-node' }],
    ] as const
  ).map(([what, req], k): Row => ({
    id: `P-1.${k + 1}`,
    name: `ControllerPublishVolume with ${what} is INVALID_ARGUMENT`,
    controllerCap: 'PUBLISH_UNPUBLISH_VOLUME',
    async run(h) {
      await expectCode(h.client.controller.ControllerPublishVolume({ ...req, secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  })),
  {
    id: 'P-2',
    name: 'ControllerPublishVolume of a volume that does not exist is NOT_FOUND',
    controllerCap: 'PUBLISH_UNPUBLISH_VOLUME',
    async run(h) {
      await expectCode(h.r.controllerPublish({ volume_id: 'no-such-volume', node_id: h.caps.nodeInfo.node_id, volume_capability: capability(h) }), 'NOT_FOUND');
    },
  },
  {
    id: 'P-3',
    name: 'ControllerPublishVolume to a node that does not exist is NOT_FOUND',
    controllerCap: 'PUBLISH_UNPUBLISH_VOLUME',
    async run(h) {
      const id = (await h.r.createVolume(createRequest(h, uniqueName('p3')))).volume.volume_id;
      await expectCode(h.r.controllerPublish({ volume_id: id, node_id: 'some-fake-node-id', volume_capability: capability(h) }), 'NOT_FOUND');
    },
  },
  {
    id: 'P-4',
    name: 'ControllerPublishVolume is idempotent; the same volume with other readonly is ALREADY_EXISTS',
    controllerCap: 'PUBLISH_UNPUBLISH_VOLUME',
    async run(h) {
      const id = (await h.r.createVolume(createRequest(h, uniqueName('p4')))).volume.volume_id;
      const req = { volume_id: id, node_id: h.caps.nodeInfo.node_id, volume_capability: capability(h), readonly: false };
      const first = await h.r.controllerPublish(req);
      for (let k = 1; k < IDEMPOTENT_COUNT; k++) assert.deepEqual((await h.r.controllerPublish(req)).publish_context, first.publish_context);
      await expectCode(h.r.controllerPublish({ ...req, readonly: true }), 'ALREADY_EXISTS');
      const listed = (await h.client.controller.ListVolumes({})).entries.find((e) => e.volume.volume_id === id);
      if (h.caps.controller.has('LIST_VOLUMES_PUBLISHED_NODES')) assert.deepEqual(listed?.status?.published_node_ids, [h.caps.nodeInfo.node_id]);
    },
  },
  {
    id: 'P-5',
    name: 'ControllerPublishVolume beyond max_volumes_per_node fails',
    controllerCap: 'PUBLISH_UNPUBLISH_VOLUME',
    async run(h) {
      const max = h.caps.nodeInfo.max_volumes_per_node ?? 0;
      if (max <= 0) return; // no limit reported: nothing to exceed (sanity skips this case)
      const node = h.caps.nodeInfo.node_id;
      for (let k = 0; k < max; k++) {
        const id = (await h.r.createVolume(createRequest(h, uniqueName('p5')))).volume.volume_id;
        await h.r.controllerPublish({ volume_id: id, node_id: node, volume_capability: capability(h) });
      }
      const extra = (await h.r.createVolume(createRequest(h, uniqueName('p5-extra')))).volume.volume_id;
      await expectCode(h.r.controllerPublish({ volume_id: extra, node_id: node, volume_capability: capability(h) }), 'RESOURCE_EXHAUSTED');
    },
  },
  {
    id: 'P-6',
    name: 'ControllerUnpublishVolume without a volume id is INVALID_ARGUMENT',
    controllerCap: 'PUBLISH_UNPUBLISH_VOLUME',
    async run(h) {
      await expectCode(h.client.controller.ControllerUnpublishVolume({ node_id: NODE, secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'P-7',
    name: 'ControllerUnpublishVolume of an unknown volume or node succeeds: nothing is attached there',
    controllerCap: 'PUBLISH_UNPUBLISH_VOLUME',
    async run(h) {
      await h.client.controller.ControllerUnpublishVolume({ volume_id: 'no-such-volume', node_id: h.caps.nodeInfo.node_id, secrets: SECRETS });
      const id = (await h.r.createVolume(createRequest(h, uniqueName('p7')))).volume.volume_id;
      await h.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'some-fake-node-id', secrets: SECRETS });
      await h.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: h.caps.nodeInfo.node_id, secrets: SECRETS });
    },
  },
  {
    id: 'P-8',
    name: 'volume lifecycle: publish, unpublish repeated, then delete; unpublish twice is fine',
    controllerCap: 'PUBLISH_UNPUBLISH_VOLUME',
    async run(h) {
      const topo = h.caps.nodeInfo.accessible_topology;
      const id = (await h.r.createVolume({ ...createRequest(h, uniqueName('p8')), capacity_range: null, accessibility_requirements: topo ? { requisite: [topo] } : null })).volume.volume_id;
      const req = { volume_id: id, node_id: h.caps.nodeInfo.node_id, volume_capability: capability(h) };
      for (let k = 0; k < IDEMPOTENT_COUNT; k++) await h.r.controllerPublish(req);
      await expectCode(h.client.controller.DeleteVolume({ volume_id: id, secrets: SECRETS }), 'FAILED_PRECONDITION');
      for (let k = 0; k < IDEMPOTENT_COUNT; k++) await h.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: req.node_id, secrets: SECRETS });
      await h.r.deleteVolume(id);
    },
  },
];

const expandRows: Row[] = [
  {
    id: 'E-1',
    name: 'ControllerExpandVolume without a volume id is INVALID_ARGUMENT',
    controllerCap: 'EXPAND_VOLUME',
    async run(h) {
      await expectCode(h.client.controller.ControllerExpandVolume({ volume_id: '', capacity_range: { required_bytes: EXPAND_SIZE }, secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'E-2',
    name: 'ControllerExpandVolume without a capacity range is INVALID_ARGUMENT',
    controllerCap: 'EXPAND_VOLUME',
    async run(h) {
      const id = (await h.r.createVolume(createRequest(h, uniqueName('e2')))).volume.volume_id;
      await expectCode(h.client.controller.ControllerExpandVolume({ volume_id: id, secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'E-3',
    name: 'ControllerExpandVolume of a volume that does not exist is NOT_FOUND',
    controllerCap: 'EXPAND_VOLUME',
    async run(h) {
      await expectCode(h.client.controller.ControllerExpandVolume({ volume_id: 'no-such-volume', capacity_range: { required_bytes: EXPAND_SIZE } }), 'NOT_FOUND');
    },
  },
  {
    id: 'E-4',
    name: 'ControllerExpandVolume grows to exactly the required size, repeats safely, and refuses to shrink',
    controllerCap: 'EXPAND_VOLUME',
    async run(h) {
      const id = (await h.r.createVolume({ ...createRequest(h, uniqueName('e4')), capacity_range: { required_bytes: VOLUME_SIZE } })).volume.volume_id;
      const req = { volume_id: id, capacity_range: { required_bytes: EXPAND_SIZE }, volume_capability: capability(h), secrets: SECRETS };
      for (let k = 0; k < IDEMPOTENT_COUNT; k++) assert.equal((await h.client.controller.ControllerExpandVolume(req)).capacity_bytes, EXPAND_SIZE);
      await expectCode(h.client.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: VOLUME_SIZE, limit_bytes: VOLUME_SIZE } }), 'OUT_OF_RANGE');
    },
  },
];

const snapshotRows: Row[] = [
  {
    id: 'S-1',
    name: 'CreateSnapshot without a name is INVALID_ARGUMENT',
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      await expectCode(h.client.controller.CreateSnapshot({ source_volume_id: 'testId', secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'S-2',
    name: 'CreateSnapshot without a source volume id is INVALID_ARGUMENT',
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      await expectCode(h.client.controller.CreateSnapshot({ name: 'name', secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'S-3',
    name: 'CreateSnapshot of a volume that does not exist is NOT_FOUND',
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      await expectCode(h.r.createSnapshot({ name: uniqueName('s3'), source_volume_id: 'no-such-volume' }), 'NOT_FOUND');
    },
  },
  {
    id: 'S-4',
    name: 'CreateSnapshot is idempotent for the same name and source; a full snapshot record is returned',
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      const source = (await h.r.createVolume(createRequest(h, uniqueName('s4-vol')))).volume.volume_id;
      const req = { name: uniqueName('s4'), source_volume_id: source };
      const first = (await h.r.createSnapshot(req)).snapshot;
      assertSnapshotInfo(first);
      assert.equal(first.source_volume_id, source);
      for (let k = 1; k < IDEMPOTENT_COUNT; k++) assert.equal((await h.r.createSnapshot(req)).snapshot.snapshot_id, first.snapshot_id);
    },
  },
  {
    id: 'S-5',
    name: 'CreateSnapshot with an existing name and another source volume is ALREADY_EXISTS',
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      const name = uniqueName('s5');
      const a = (await h.r.createVolume(createRequest(h, uniqueName('s5-a')))).volume.volume_id;
      await h.r.createSnapshot({ name, source_volume_id: a });
      const b = (await h.r.createVolume(createRequest(h, uniqueName('s5-b')))).volume.volume_id;
      await expectCode(h.r.createSnapshot({ name, source_volume_id: b }), 'ALREADY_EXISTS');
    },
  },
  {
    id: 'S-6',
    name: `CreateSnapshot accepts a name of ${MAX_NAME_LENGTH} characters`,
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      const source = (await h.r.createVolume(createRequest(h, uniqueName('s6-vol')))).volume.volume_id;
      const req = { name: uniqueName('s6-maxlen', MAX_NAME_LENGTH), source_volume_id: source };
      const id = (await h.r.createSnapshot(req)).snapshot.snapshot_id;
      assert.equal((await h.r.createSnapshot(req)).snapshot.snapshot_id, id);
    },
  },
  {
    id: 'S-7',
    name: 'DeleteSnapshot without a snapshot id is INVALID_ARGUMENT',
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      await expectCode(h.client.controller.DeleteSnapshot({ secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'S-8',
    name: 'DeleteSnapshot of an id that never existed succeeds; deleting twice succeeds',
    controllerCap: 'CREATE_DELETE_SNAPSHOT',
    async run(h) {
      await h.client.controller.DeleteSnapshot({ snapshot_id: 'reallyfakesnapshotid', secrets: SECRETS });
      const source = (await h.r.createVolume(createRequest(h, uniqueName('s8-vol')))).volume.volume_id;
      const id = (await h.r.createSnapshot({ name: uniqueName('s8'), source_volume_id: source })).snapshot.snapshot_id;
      await h.r.deleteSnapshot(id);
      await h.r.deleteSnapshot(id);
    },
  },
  {
    id: 'S-9',
    name: 'ListSnapshots filters by snapshot id and by source volume id; unknown ids give an empty list',
    controllerCap: 'LIST_SNAPSHOTS',
    async run(h) {
      const made: Snapshot[] = [];
      for (const tag of ['unrelated-1', 'target', 'unrelated-2']) {
        const source = (await h.r.createVolume(createRequest(h, uniqueName(`s9-${tag}-vol`)))).volume.volume_id;
        made.push((await h.r.createSnapshot({ name: uniqueName(`s9-${tag}`), source_volume_id: source })).snapshot);
      }
      const target = made[1]!;
      const byId = await h.client.controller.ListSnapshots({ snapshot_id: target.snapshot_id, secrets: SECRETS });
      assert.deepEqual(byId.entries.map((e) => e.snapshot.snapshot_id), [target.snapshot_id]);
      assertSnapshotInfo(byId.entries[0]?.snapshot);
      const bySource = await h.client.controller.ListSnapshots({ source_volume_id: target.source_volume_id, secrets: SECRETS });
      assert.deepEqual(bySource.entries.map((e) => e.snapshot.source_volume_id), [target.source_volume_id]);
      assert.deepEqual((await h.client.controller.ListSnapshots({ snapshot_id: 'none-exist-id' })).entries, []);
      assert.deepEqual((await h.client.controller.ListSnapshots({ source_volume_id: 'no-such-volume' })).entries, []);
    },
  },
  {
    id: 'S-10',
    name: 'ListSnapshots shows a new snapshot, with every field, and omits it once deleted',
    controllerCap: 'LIST_SNAPSHOTS',
    async run(h) {
      const before = (await h.client.controller.ListSnapshots({})).entries.length;
      const source = (await h.r.createVolume(createRequest(h, uniqueName('s10-vol')))).volume.volume_id;
      const id = (await h.r.createSnapshot({ name: uniqueName('s10'), source_volume_id: source })).snapshot.snapshot_id;
      const during = (await h.client.controller.ListSnapshots({})).entries;
      assert.equal(during.length, before + 1);
      for (const e of during) assertSnapshotInfo(e.snapshot);
      await h.r.deleteSnapshot(id);
      assert.equal((await h.client.controller.ListSnapshots({})).entries.length, before);
    },
  },
  {
    id: 'S-11',
    name: 'ListSnapshots pages by max_entries; the next_token gives all the rest at once; a bad token is ABORTED',
    controllerCap: 'LIST_SNAPSHOTS',
    async run(h) {
      const source = (await h.r.createVolume(createRequest(h, uniqueName('s11-vol')))).volume.volume_id;
      for (let k = 0; k < 5; k++) await h.r.createSnapshot({ name: uniqueName('s11'), source_volume_id: source });
      const total = (await h.client.controller.ListSnapshots({})).entries.length;
      const first = await h.client.controller.ListSnapshots({ max_entries: 2 });
      assert.equal(first.entries.length, 2);
      assert.notEqual(first.next_token, '');
      const rest = await h.client.controller.ListSnapshots({ starting_token: first.next_token });
      assert.equal(rest.entries.length, total - 2);
      const ids = new Set([...first.entries, ...rest.entries].map((e) => e.snapshot.snapshot_id));
      assert.equal(ids.size, total, 'no snapshot listed twice');
      await expectCode(h.client.controller.ListSnapshots({ starting_token: 'invalid-token' }), 'ABORTED');
    },
  },
];

const nodeRows: Row[] = [
  {
    id: 'N-1',
    name: 'NodeGetCapabilities lists only known RPCs, stage/unstage among them',
    async run(h) {
      for (const c of h.caps.node) assert.ok(KNOWN_NODE_CAPS.has(c), `unknown capability ${c}`);
      assert.ok(h.caps.node.has('STAGE_UNSTAGE_VOLUME'));
    },
  },
  {
    id: 'N-2',
    name: 'NodeGetInfo gives a node id, a non-negative volume limit and, with accessibility constraints, a topology',
    async run(h) {
      const info = await h.client.node.NodeGetInfo({});
      assert.notEqual(info.node_id, '');
      assert.ok((info.max_volumes_per_node ?? 0) >= 0);
      const caps = (await h.client.identity.GetPluginCapabilities({})).capabilities;
      if (caps.some((c) => c.service?.type === 'VOLUME_ACCESSIBILITY_CONSTRAINTS')) assert.ok(info.accessible_topology);
    },
  },
  ...(
    [
      ['NodePublishVolume', 'no volume id', {}],
      ['NodePublishVolume', 'no target path', { volume_id: 'some-volume' }],
      ['NodePublishVolume', 'no volume capability', { volume_id: 'some-volume', target_path: '/tmp/volplane-conformance-nowhere' }],
      ['NodeUnpublishVolume', 'no volume id', { target_path: '/tmp/volplane-conformance-nowhere' }],
      ['NodeUnpublishVolume', 'no target path', { volume_id: 'some-volume' }],
      ['NodeStageVolume', 'no volume id', { staging_target_path: '/tmp/volplane-conformance-nowhere', publish_context: { device: '/dev/mock' } }],
      ['NodeStageVolume', 'no staging target path', { volume_id: 'some-volume', publish_context: { device: '/dev/mock' } }],
      ['NodeUnstageVolume', 'no volume id', { staging_target_path: '/tmp/volplane-conformance-nowhere' }],
      ['NodeUnstageVolume', 'no staging target path', { volume_id: 'some-volume' }],
      ['NodeGetVolumeStats', 'no volume id', { volume_path: 'some/path' }],
      ['NodeGetVolumeStats', 'no volume path', { volume_id: 'some-volume' }],
      ['NodeExpandVolume', 'no volume id', { volume_path: '/tmp/volplane-conformance-nowhere' }],
      ['NodeExpandVolume', 'no volume path', { volume_id: 'some-volume' }],
    ] as const
  ).map(([method, what, req], k): Row => ({
    id: `N-3.${k + 1}`,
    name: `${method} with ${what} is INVALID_ARGUMENT`,
    async run(h) {
      const call = h.client.node[method] as (r: object) => Promise<unknown>;
      await expectCode(call({ ...req, ...(method.endsWith('StageVolume') || method === 'NodePublishVolume' ? { secrets: SECRETS } : {}) }), 'INVALID_ARGUMENT');
    },
  })),
  {
    id: 'N-4',
    name: 'NodeStageVolume of an existing volume without a capability is INVALID_ARGUMENT',
    async run(h) {
      const id = (await h.r.createVolume({ ...createRequest(h, uniqueName('n4')), volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] })).volume.volume_id;
      await expectCode(h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: h.stagingPath, publish_context: { device: '/dev/mock' }, secrets: SECRETS }), 'INVALID_ARGUMENT');
    },
  },
  ...(
    [
      ['NodeStageVolume', (h: Harness) => ({ volume_id: 'no-such-volume', staging_target_path: h.stagingPath, volume_capability: capability(h) })],
      ['NodePublishVolume', (h: Harness) => ({ volume_id: 'no-such-volume', staging_target_path: h.stagingPath, target_path: h.targetPath, volume_capability: capability(h) })],
      ['NodeUnpublishVolume', (h: Harness) => ({ volume_id: 'no-such-volume', target_path: h.targetPath })],
      ['NodeUnstageVolume', (h: Harness) => ({ volume_id: 'no-such-volume', staging_target_path: h.stagingPath })],
      ['NodeGetVolumeStats', () => ({ volume_id: 'no-such-volume', volume_path: 'some/path' })],
      ['NodeExpandVolume', () => ({ volume_id: 'no-such-volume', volume_path: 'some/path' })],
    ] as const
  ).map(([method, req], k): Row => ({
    id: `N-5.${k + 1}`,
    name: `${method} of a volume that does not exist is NOT_FOUND`,
    async run(h) {
      const call = h.client.node[method] as (r: object) => Promise<unknown>;
      await expectCode(call(req(h)), 'NOT_FOUND');
    },
  })),
  {
    id: 'N-6',
    name: 'NodePublishVolume before NodeStageVolume is FAILED_PRECONDITION (STAGE_UNSTAGE_VOLUME is advertised)',
    nodeCap: 'STAGE_UNSTAGE_VOLUME',
    async run(h) {
      const id = (await h.r.createVolume(createRequest(h, uniqueName('n6')))).volume.volume_id;
      let publishContext: Record<string, string> = {};
      if (h.caps.controller.has('PUBLISH_UNPUBLISH_VOLUME')) {
        publishContext = (await h.r.controllerPublish({ volume_id: id, node_id: h.caps.nodeInfo.node_id, volume_capability: capability(h) })).publish_context ?? {};
      }
      await expectCode(
        h.client.node.NodePublishVolume({ volume_id: id, staging_target_path: h.stagingPath, target_path: h.targetPath, volume_capability: capability(h), publish_context: publishContext }),
        'FAILED_PRECONDITION',
      );
      assert.equal(await pathKind(h.targetPath), 'missing', 'a refused publish leaves no target behind');
    },
  },
  {
    id: 'N-7',
    name: 'NodeStageVolume of an attach-required volume before ControllerPublishVolume is FAILED_PRECONDITION',
    controllerCap: 'PUBLISH_UNPUBLISH_VOLUME',
    async run(h) {
      const id = (await h.r.createVolume(createRequest(h, uniqueName('n7')))).volume.volume_id;
      const kind = h.driver.state.volumes.get(id)?.kind;
      if (kind !== 'loop') return; // a directory volume has nothing to attach
      await expectCode(h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: h.stagingPath, volume_capability: capability(h) }), 'FAILED_PRECONDITION');
    },
  },
  {
    id: 'N-8',
    name: 'full lifecycle: create, attach, stage, publish, stats, unpublish removes the target, unstage, detach, delete',
    async run(h) {
      const { id } = await createPublished(h, uniqueName('n8'));
      assert.equal(await pathKind(h.targetPath), h.config.accessType === 'block' ? 'block' : 'directory');
      if (h.caps.node.has('GET_VOLUME_STATS')) {
        const stats = await h.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: h.targetPath });
        assert.ok(stats.usage.length > 0);
        assert.ok(stats.usage.some((u) => u.unit === 'BYTES' && (u.total ?? 0) > 0));
      }
      await h.client.node.NodeUnpublishVolume({ volume_id: id, target_path: h.targetPath });
      assert.equal(await pathKind(h.targetPath), 'missing', 'the SP must remove the target it created');
      await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: h.stagingPath });
      if (h.caps.controller.has('PUBLISH_UNPUBLISH_VOLUME')) {
        await h.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: h.caps.nodeInfo.node_id, secrets: SECRETS });
      }
      await h.r.deleteVolume(id);
      assert.deepEqual(await undoLeaksUnder(h.dir), []);
    },
  },
  {
    id: 'N-9',
    name: `every node call is idempotent: each step ${IDEMPOTENT_COUNT} times, forwards and back`,
    async run(h) {
      const topo = h.caps.nodeInfo.accessible_topology;
      const id = (await h.r.createVolume({ ...createRequest(h, uniqueName('n9')), capacity_range: { required_bytes: VOLUME_SIZE }, accessibility_requirements: topo ? { requisite: [topo] } : null })).volume.volume_id;
      const attach = h.caps.controller.has('PUBLISH_UNPUBLISH_VOLUME');
      let publishContext: Record<string, string> = {};
      for (let k = 0; attach && k < IDEMPOTENT_COUNT; k++) {
        publishContext = (await h.r.controllerPublish({ volume_id: id, node_id: h.caps.nodeInfo.node_id, volume_capability: capability(h) })).publish_context ?? {};
      }
      const stage = { volume_id: id, staging_target_path: h.stagingPath, volume_capability: capability(h), publish_context: publishContext, secrets: SECRETS };
      for (let k = 0; k < IDEMPOTENT_COUNT; k++) await h.client.node.NodeStageVolume(stage);
      const publish = { ...stage, target_path: h.targetPath };
      for (let k = 0; k < IDEMPOTENT_COUNT; k++) await h.client.node.NodePublishVolume(publish);
      const mounts = execFileSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).split('\n').filter((t) => t === h.targetPath);
      assert.equal(mounts.length, 1, 'a repeated publish must not mount twice');
      for (let k = 0; k < IDEMPOTENT_COUNT; k++) await h.client.node.NodeUnpublishVolume({ volume_id: id, target_path: h.targetPath });
      assert.equal(await pathKind(h.targetPath), 'missing');
      for (let k = 0; k < IDEMPOTENT_COUNT; k++) await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: h.stagingPath });
      for (let k = 0; attach && k < IDEMPOTENT_COUNT; k++) await h.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: h.caps.nodeInfo.node_id });
      assert.deepEqual(await undoLeaksUnder(h.dir), []);
    },
  },
  {
    id: 'N-10',
    name: 'NodePublishVolume again at the same target with another readonly is ALREADY_EXISTS',
    async run(h) {
      const { id, publishContext } = await createPublished(h, uniqueName('n10'));
      await expectCode(
        h.client.node.NodePublishVolume({ volume_id: id, staging_target_path: h.stagingPath, target_path: h.targetPath, volume_capability: capability(h), publish_context: publishContext, readonly: true }),
        'ALREADY_EXISTS',
      );
    },
  },
  {
    id: 'N-10b',
    name: 'NodeStageVolume again at the same staging path with the other access type is ALREADY_EXISTS (loop volumes)',
    async run(h) {
      const { id, publishContext } = await createPublished(h, uniqueName('n10b'));
      if (h.driver.state.volumes.get(id)?.kind !== 'loop') return; // a directory volume has no block access at all
      const other: VolumeCapability = h.config.accessType === 'block' ? { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } : { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
      await expectCode(h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: h.stagingPath, volume_capability: other, publish_context: publishContext }), 'ALREADY_EXISTS');
    },
  },
  {
    id: 'N-11',
    name: 'NodeUnpublish / NodeUnstage of a volume not published / staged at that path succeed and touch nothing',
    async run(h) {
      const { id: a } = await createPublished(h, uniqueName('n11-a'));
      const b = (await h.r.createVolume(createRequest(h, uniqueName('n11-b')))).volume.volume_id;
      // Volume b is neither published at the target nor staged at the staging path, which hold volume a.
      await h.client.node.NodeUnpublishVolume({ volume_id: b, target_path: h.targetPath });
      await h.client.node.NodeUnstageVolume({ volume_id: b, staging_target_path: h.stagingPath });
      assert.notEqual(await pathKind(h.targetPath), 'missing', "volume a's target must survive");
      const stats = await h.client.node.NodeGetVolumeStats({ volume_id: a, volume_path: h.targetPath });
      assert.ok(stats.usage.length > 0);
    },
  },
  {
    id: 'N-12',
    name: 'NodeGetVolumeStats is NOT_FOUND for a path where the volume is not published, even one that exists',
    nodeCap: 'GET_VOLUME_STATS',
    async run(h) {
      const { id } = await createPublished(h, uniqueName('n12'));
      await expectCode(h.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: 'some/path' }), 'NOT_FOUND');
      await expectCode(h.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: join(h.dir, 'targets') }), 'NOT_FOUND');
      await h.client.node.NodeUnpublishVolume({ volume_id: id, target_path: h.targetPath });
      await expectCode(h.client.node.NodeGetVolumeStats({ volume_id: id, volume_path: h.targetPath }), 'NOT_FOUND');
    },
  },
  {
    id: 'N-13',
    name: 'NodeExpandVolume after ControllerExpandVolume and publish succeeds',
    nodeCap: 'EXPAND_VOLUME',
    async run(h) {
      const id = (await h.r.createVolume({ ...createRequest(h, uniqueName('n13')), capacity_range: { required_bytes: VOLUME_SIZE } })).volume.volume_id;
      if (h.caps.controller.has('EXPAND_VOLUME')) {
        const res = await h.client.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: EXPAND_SIZE }, secrets: SECRETS });
        assert.equal(res.capacity_bytes, EXPAND_SIZE);
      }
      let publishContext: Record<string, string> = {};
      if (h.caps.controller.has('PUBLISH_UNPUBLISH_VOLUME')) {
        publishContext = (await h.r.controllerPublish({ volume_id: id, node_id: h.caps.nodeInfo.node_id, volume_capability: capability(h) })).publish_context ?? {};
      }
      await h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: h.stagingPath, volume_capability: capability(h), publish_context: publishContext });
      await h.client.node.NodePublishVolume({ volume_id: id, staging_target_path: h.stagingPath, target_path: h.targetPath, volume_capability: capability(h), publish_context: publishContext });
      const res = await h.client.node.NodeExpandVolume({ volume_id: id, volume_path: h.targetPath, staging_target_path: h.stagingPath, capacity_range: { required_bytes: EXPAND_SIZE }, secrets: SECRETS });
      assert.ok(res.capacity_bytes === 0 || res.capacity_bytes === undefined || res.capacity_bytes >= EXPAND_SIZE, `capacity ${res.capacity_bytes}`);
    },
  },
];

const secretRows: Row[] = [
  {
    id: 'X-1',
    name: 'no secret sent with any request of this configuration reached a log line',
    async run(h) {
      // Make sure requests with secrets were logged at all — through success and failure paths.
      await expectCode(h.client.controller.CreateVolume({ name: '', secrets: SECRETS }), 'INVALID_ARGUMENT');
      await expectCode(h.client.controller.ControllerExpandVolume({ volume_id: 'no-such-volume', capacity_range: { required_bytes: 1 }, secrets: SECRETS }), 'NOT_FOUND');
      // Kubernetes passes service-account tokens in volume_context; they are credentials too.
      await expectCode(
        h.client.node.NodePublishVolume({
          volume_id: 'no-such-volume',
          staging_target_path: h.stagingPath,
          target_path: h.targetPath,
          volume_capability: capability(h),
          volume_context: { 'csi.storage.k8s.io/serviceAccount.tokens': JSON.stringify({ aud: { token: SECRET_VALUE } }) },
          secrets: SECRETS,
        }),
        'NOT_FOUND',
      );
      const text = h.logLines.join('');
      assert.ok(h.logLines.length > 0 && text.includes('***stripped***'), 'requests carrying secrets were logged, with the secrets stripped');
      assert.ok(!text.includes(SECRET_VALUE), 'a secret value appears in the log');
    },
  },
];

const ROWS: Row[] = [...identityRows, ...controllerRows, ...listRows, ...publishRows, ...expandRows, ...snapshotRows, ...nodeRows, ...secretRows];

// -------------------------------------------------------------------- suite

for (const config of CONFIGS) {
  describe(`CSI conformance: ${config.name}`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness(config);
    });
    afterEach(async () => {
      // What sanity's AfterEach does, plus our own check that the machine is clean.
      const errors = await h.r.cleanup();
      const leaks = await undoLeaksUnder(h.dir);
      assert.deepEqual({ cleanupErrors: errors, leaks }, { cleanupErrors: [], leaks: [] });
    });
    after(async () => {
      await h.close();
      const leaks = await undoLeaksUnder(h.dir);
      const left = [...h.driver.state.volumes.keys(), ...h.driver.state.snapshots.keys()];
      await rm(h.dir, { recursive: true, force: true });
      assert.deepEqual({ leaks, left }, { leaks: [], left: [] });
    });

    for (const row of ROWS) {
      it(`${row.id}: ${row.name}`, async (t) => {
        if (row.controllerCap !== undefined && !h.caps.controller.has(row.controllerCap)) {
          t.skip(`${row.controllerCap} not advertised`);
          return;
        }
        if (row.unlessControllerCap !== undefined && h.caps.controller.has(row.unlessControllerCap)) {
          t.skip(`${row.unlessControllerCap} advertised`);
          return;
        }
        if (row.nodeCap !== undefined && !h.caps.node.has(row.nodeCap)) {
          t.skip(`${row.nodeCap} not advertised`);
          return;
        }
        await row.run(h);
      });
    }
  });
}
