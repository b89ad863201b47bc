// kubernetes.io/csi against the real volplane driver on a unix socket in a
// `volplane-csi-…` temp dir: real loop devices, ext4, staging and bind
// mounts. The driver's Node service is wrapped only to record requests and
// to inject the failures a row needs (a status, a hang, an extra capability).
// The API objects the plugin reads (CSIDriver, VolumeAttachment, Secret) are
// maps.
// Every row removes what it mounted and attached; the suite fails on leaks.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { PersistentVolume } from '../../../api/core/volume-types.ts';
import type { KubeObject } from '../../../apimachinery/index.ts';
import { CancelledError } from '../../../base/index.ts';
import {
  createCsiClient,
  CsiError,
  serveCsiDriver,
  type CallContext,
  type CsiClient,
  type CsiServerHandle,
  type NodeRpcType,
  type NodeService,
  type VolumeCapability,
} from '../../../csi/index.ts';
import { createVolplaneDriver, type VolplaneDriver } from '../../../drivers/volplane/index.ts';
import { VolumeSetupError, VolumeTearDownError, type VolumeHost, type VolumeSpec } from '../../plugin.ts';
import { makeTempDir, mapObjectSource, mountsUnder, removeTempDir, testHost, testPod } from '../../test-framework.ts';
import type { Pod } from '../../types.ts';
import {
  CsiAttachWaitError,
  CsiDriverRegistry,
  csiAttachmentName,
  CsiHostMissingError,
  CsiVolumePlugin,
  inlineVolumeHandle,
  isUncertainCsiError,
  type CsiVolumePluginOptions,
} from './index.ts';

const DRIVER = 'csi.volplane.io';
const MOUNT_GROUP_DRIVER = 'mountgroup.volplane.io';
const NODE = 'node-1';
const MiB = 1024 * 1024;
const never = new AbortController().signal;

interface Recorded {
  driver: string;
  method: string;
  request: Record<string, unknown>;
}

/** What a row can make the wrapped Node service do. */
interface Faults {
  /** Statuses answered (once each, in order) before the driver sees the call. */
  fail: Map<string, CsiError[]>;
  /** Methods that hang until the caller's deadline. */
  hang: Set<string>;
}

/** The driver's Node service with a recorder, fault injection and extra capabilities. */
function instrument(
  name: string,
  driver: VolplaneDriver,
  calls: Recorded[],
  faults: Faults,
  extraCaps: NodeRpcType[],
): NodeService {
  const node = driver.node;
  const before = async (method: string, request: object, ctx: CallContext): Promise<void> => {
    calls.push({ driver: name, method, request: structuredClone(request) as Record<string, unknown> });
    const queued = faults.fail.get(method);
    const err = queued?.shift();
    if (err !== undefined) throw err;
    if (faults.hang.has(method)) {
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      throw new CsiError('DEADLINE_EXCEEDED', 'hung on purpose');
    }
  };
  return {
    async NodeGetCapabilities(req, ctx) {
      await before('NodeGetCapabilities', req, ctx);
      const res = await node.NodeGetCapabilities(req, ctx);
      return { capabilities: [...res.capabilities, ...extraCaps.map((type) => ({ rpc: { type } }))] };
    },
    NodeGetInfo: (req, ctx) => node.NodeGetInfo(req, ctx),
    async NodeStageVolume(req, ctx) {
      await before('NodeStageVolume', req, ctx);
      return node.NodeStageVolume!(req, ctx);
    },
    async NodeUnstageVolume(req, ctx) {
      await before('NodeUnstageVolume', req, ctx);
      return node.NodeUnstageVolume!(req, ctx);
    },
    async NodePublishVolume(req, ctx) {
      await before('NodePublishVolume', req, ctx);
      return node.NodePublishVolume!(req, ctx);
    },
    async NodeUnpublishVolume(req, ctx) {
      await before('NodeUnpublishVolume', req, ctx);
      return node.NodeUnpublishVolume!(req, ctx);
    },
  };
}

interface Env {
  root: string;
  kubelet: string;
  driver: VolplaneDriver;
  servers: CsiServerHandle[];
  client: CsiClient;
  registry: CsiDriverRegistry;
  calls: Recorded[];
  faults: Faults;
  csiDrivers: Map<string, KubeObject>;
  attachments: Map<string, KubeObject>;
  secrets: ReturnType<typeof mapObjectSource>;
  host: VolumeHost;
  plugins: CsiVolumePlugin[];
}

function csiDriverObject(name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'CSIDriver',
    metadata: { name },
    spec: { attachRequired: true, podInfoOnMount: false, fsGroupPolicy: 'ReadWriteOnceWithFSType', volumeLifecycleModes: ['Persistent'], ...spec },
  };
}

function secret(namespace: string, name: string, data: Record<string, string>): KubeObject {
  const encoded: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) encoded[k] = Buffer.from(v).toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: { namespace, name }, data: encoded } as KubeObject;
}

function pvSpec(name: string, handle: string, extra: Partial<PersistentVolume['spec']> = {}, csi: Record<string, unknown> = {}, readOnly = false): VolumeSpec {
  return {
    persistentVolume: {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name },
      spec: { accessModes: ['ReadWriteOnce'], ...extra, csi: { driver: DRIVER, volumeHandle: handle, ...csi } },
    },
    readOnly,
  };
}

function pod(uid: string, name: string, extra: Partial<NonNullable<Pod['spec']>> = {}): Pod {
  return testPod({ metadata: { name, namespace: 'default', uid }, spec: { nodeName: NODE, containers: [{ name: 'c1' }], ...extra } });
}

const UID_A = '0b2f7c1e-5d0a-4c55-9a2e-1f1b5e2f9a0a';
const UID_B = '0b2f7c1e-5d0a-4c55-9a2e-1f1b5e2f9a0b';

function findmnt(target: string): { source: string; fstype: string; options: string } | undefined {
  try {
    const out = execFileSync('findmnt', ['-n', '-r', '-o', 'SOURCE,FSTYPE,OPTIONS', '--mountpoint', target], { encoding: 'utf8' }).trim();
    const [source, fstype, options] = out.split('\n').at(-1)!.split(' ');
    return { source: source!, fstype: fstype!, options: options! };
  } catch {
    return undefined;
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function callsOf(env: Env, method: string): Recorded[] {
  return env.calls.filter((c) => c.method === method);
}

async function createLoopVolume(env: Env, name: string, block = false): Promise<string> {
  const cap: VolumeCapability = block ? { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } : { mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
  const res = await env.client.controller.CreateVolume({ name, capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [cap] });
  return res.volume.volume_id;
}

async function createDirVolume(env: Env, name: string): Promise<string> {
  const res = await env.client.controller.CreateVolume({
    name,
    parameters: { kind: 'directory' },
    volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
  });
  return res.volume.volume_id;
}

/** A VolumeAttachment as the external attacher leaves it. */
function attachment(handle: string, attached: boolean, metadata: Record<string, string> = {}, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'VolumeAttachment',
    metadata: { name: csiAttachmentName(handle, DRIVER, NODE) },
    spec: { attacher: DRIVER, nodeName: NODE, source: { persistentVolumeName: 'pv' } },
    status: { attached, attachmentMetadata: metadata, ...extra },
  } as KubeObject;
}

/** The external attacher's part: ControllerPublishVolume, then an attached VolumeAttachment with its publish context. */
async function attach(env: Env, handle: string, block = false): Promise<Record<string, string>> {
  const cap: VolumeCapability = block ? { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } : { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
  const res = await env.client.controller.ControllerPublishVolume({ volume_id: handle, node_id: NODE, volume_capability: cap });
  env.attachments.set(csiAttachmentName(handle, DRIVER, NODE), attachment(handle, true, res.publish_context ?? {}));
  return res.publish_context ?? {};
}

async function detach(env: Env, handle: string): Promise<void> {
  await env.client.controller.ControllerUnpublishVolume({ volume_id: handle, node_id: NODE });
  env.attachments.delete(csiAttachmentName(handle, DRIVER, NODE));
}

async function startEnv(): Promise<Env> {
  const root = await makeTempDir('csi');
  const logger = pino({ level: process.env.VOLPLANE_TEST_LOG ?? 'silent' });
  const driver = await createVolplaneDriver({ nodeId: NODE, dataDir: join(root, 'driver'), attachRequired: true, logger });
  const calls: Recorded[] = [];
  const faults: Faults = { fail: new Map(), hang: new Set() };
  const registry = new CsiDriverRegistry();
  const servers: CsiServerHandle[] = [];
  for (const [name, extra] of [[DRIVER, []], [MOUNT_GROUP_DRIVER, ['VOLUME_MOUNT_GROUP']]] as const) {
    const endpoint = `unix://${join(root, `${name}.sock`)}`;
    servers.push(
      await serveCsiDriver({ endpoint, identity: driver.identity, controller: driver.controller, node: instrument(name, driver, calls, faults, [...extra]), logger }),
    );
    registry.register({ name, endpoint, versions: ['1.0.0'] });
  }
  const client = createCsiClient(`unix://${join(root, `${DRIVER}.sock`)}`, { defaultTimeoutMs: 60_000 });
  const csiDrivers = new Map<string, KubeObject>();
  const attachments = new Map<string, KubeObject>();
  const secrets = mapObjectSource({ secrets: [] });
  const kubelet = join(root, 'kubelet');
  const host: VolumeHost = {
    ...testHost(kubelet, secrets),
    nodeName: NODE,
    csi: {
      registry,
      getCsiDriver: async (name) => csiDrivers.get(name),
      getVolumeAttachment: async (name) => attachments.get(name),
    },
  };
  return { root, kubelet, driver, servers, client, registry, calls, faults, csiDrivers, attachments, secrets, host, plugins: [] };
}

function newPlugin(env: Env, opts: CsiVolumePluginOptions = {}): CsiVolumePlugin {
  const p = new CsiVolumePlugin(env.host, { attachPollIntervalMs: 10, ...opts });
  env.plugins.push(p);
  return p;
}

describe('kubernetes.io/csi volume plugin', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(async () => {
    for (const p of env.plugins) p.dispose();
    env.client.close();
    for (const s of env.servers) await s.close();
    // Whatever a failed row left: mounts first, then the driver's loop devices.
    await removeTempDir(env.kubelet).catch(() => {});
    for (const vol of env.driver.state.volumes.values()) {
      if (vol.kind !== 'loop') continue;
      const lines = execFileSync('losetup', ['-j', vol.path], { encoding: 'utf8' }).split('\n').filter((l) => l !== '');
      for (const line of lines) execFileSync('losetup', ['-d', line.split(':')[0]!]);
    }
    await env.driver.dispose();
    await removeTempDir(env.root);
    assert.deepEqual(await mountsUnder(env.root), []);
  });

  it('0 refuses a host without csi', () => {
    assert.throws(() => new CsiVolumePlugin(testHost(env.kubelet)), CsiHostMissingError);
  });

  it('1 supports PVs with spec.csi and inline csi volumes; names and needs follow CSIDriver and capabilities', async () => {
    const plugin = newPlugin(env);
    const inline: VolumeSpec = { volume: { name: 'scratch', csi: { driver: DRIVER } }, readOnly: false };
    const rows: { name: string; spec: VolumeSpec; supported: boolean }[] = [
      { name: 'PV with csi', spec: pvSpec('pv-1', 'h-1'), supported: true },
      { name: 'inline csi', spec: inline, supported: true },
      { name: 'hostPath PV', spec: { persistentVolume: { metadata: { name: 'x' }, spec: { hostPath: { path: '/tmp' } } }, readOnly: false }, supported: false },
      { name: 'emptyDir', spec: { volume: { name: 'e', emptyDir: {} }, readOnly: false }, supported: false },
    ];
    for (const row of rows) assert.equal(plugin.canSupport(row.spec), row.supported, row.name);

    assert.equal(await plugin.getUniqueVolumeName(pvSpec('pv-1', 'h-1'), never), 'kubernetes.io/csi/csi.volplane.io^h-1');
    assert.equal(await plugin.getUniqueVolumeName(inline, never), 'kubernetes.io/csi/ephemeral-csi.volplane.io-scratch');

    // No CSIDriver: attach required (upstream skipAttach); attachRequired false: not.
    assert.equal(await plugin.requiresAttach(pvSpec('pv-1', 'h-1'), never), true);
    env.csiDrivers.set(DRIVER, csiDriverObject(DRIVER, { attachRequired: false }));
    assert.equal(await plugin.requiresAttach(pvSpec('pv-1', 'h-1'), never), false);
    env.csiDrivers.delete(DRIVER);
    assert.equal(await plugin.requiresAttach(inline, never), false);

    // The driver advertises STAGE_UNSTAGE_VOLUME; asked once and cached.
    const before = callsOf(env, 'NodeGetCapabilities').length;
    assert.equal(await plugin.requiresDeviceMount(pvSpec('pv-1', 'h-1'), never), true);
    assert.equal(await plugin.requiresDeviceMount(pvSpec('pv-2', 'h-2'), never), true);
    assert.equal(callsOf(env, 'NodeGetCapabilities').length - before, 1);
    assert.equal(await plugin.requiresDeviceMount(inline, never), false);

    const dm = plugin.newDeviceMounter();
    assert.equal(
      await dm.getDeviceMountPath(pvSpec('pv-1', 'h-1'), never),
      join(env.kubelet, 'plugins/kubernetes.io/csi/csi.volplane.io', sha256('h-1'), 'globalmount'),
    );
  });

  it('2 stages once, publishes for two pods, then unpublishes and unstages (filesystem, attach required)', async () => {
    const plugin = newPlugin(env);
    const handle = await createLoopVolume(env, 'pv-fs');
    env.secrets.secrets.set('kube-system/stage-secret', secret('kube-system', 'stage-secret', { password: 's3cret' }));
    env.secrets.secrets.set('default/publish-secret', secret('default', 'publish-secret', { token: 'abc' }));
    const spec = pvSpec('pv-fs', handle, { mountOptions: ['noatime'] }, {
      fsType: 'ext4',
      volumeAttributes: { tier: 'gold' },
      nodeStageSecretRef: { namespace: 'kube-system', name: 'stage-secret' },
      nodePublishSecretRef: { namespace: 'default', name: 'publish-secret' },
    });
    const dm = plugin.newDeviceMounter();
    const vaName = csiAttachmentName(handle, DRIVER, NODE);

    // The external attacher: ControllerPublishVolume, then status.attached — after waitForAttach started polling.
    const waiting = dm.waitForAttach(spec, '', pod(UID_A, 'a'), 10_000, never);
    const published = await env.client.controller.ControllerPublishVolume({
      volume_id: handle,
      node_id: NODE,
      volume_capability: { mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
    });
    env.attachments.set(vaName, attachment(handle, false));
    env.attachments.set(vaName, attachment(handle, true, published.publish_context));
    assert.equal(await waiting, vaName);

    const deviceMountPath = await dm.getDeviceMountPath(spec, never);
    assert.equal(deviceMountPath, join(env.kubelet, 'plugins/kubernetes.io/csi', DRIVER, sha256(handle), 'globalmount'));
    await dm.mountDevice(spec, vaName, deviceMountPath, never);
    assert.equal(findmnt(deviceMountPath)?.fstype, 'ext4');
    assert.match(findmnt(deviceMountPath)!.options, /noatime/);
    assert.equal(
      await readFile(join(dirname(deviceMountPath), 'vol_data.json'), 'utf8'),
      `{"driverName":"${DRIVER}","volumeHandle":"${handle}"}\n`,
    );
    const stage = callsOf(env, 'NodeStageVolume').at(-1)!.request;
    assert.deepEqual(stage.publish_context, published.publish_context);
    assert.equal(stage.staging_target_path, deviceMountPath);
    assert.deepEqual((stage.volume_capability as VolumeCapability).mount?.fs_type, 'ext4');
    assert.deepEqual((stage.volume_capability as VolumeCapability).mount?.mount_flags, ['noatime']);
    assert.deepEqual((stage.volume_capability as VolumeCapability).access_mode?.mode, 'SINGLE_NODE_WRITER');
    assert.deepEqual(stage.secrets, { password: 's3cret' });
    assert.deepEqual(stage.volume_context, { tier: 'gold' });

    const mA = plugin.newMounter(spec, pod(UID_A, 'a'));
    const mB = plugin.newMounter(spec, pod(UID_B, 'b'));
    await mA.setUp({ signal: never });
    await mB.setUp({ signal: never });
    const podDirA = join(env.kubelet, 'pods', UID_A, 'volumes/kubernetes.io~csi/pv-fs');
    assert.equal(mA.getPath(), join(podDirA, 'mount'));
    assert.ok(findmnt(mA.getPath()) !== undefined && findmnt(mB.getPath()) !== undefined);
    await writeFile(join(mA.getPath(), 'hello'), 'from a');
    assert.equal(await readFile(join(mB.getPath(), 'hello'), 'utf8'), 'from a');
    assert.equal(callsOf(env, 'NodeStageVolume').length, 1, 'staged once for both pods');
    const publish = callsOf(env, 'NodePublishVolume').at(-1)!.request;
    assert.equal(publish.staging_target_path, deviceMountPath);
    assert.deepEqual(publish.publish_context, published.publish_context);
    assert.deepEqual(publish.secrets, { token: 'abc' });
    assert.equal(publish.readonly, false);
    assert.deepEqual(JSON.parse(await readFile(join(podDirA, 'vol_data.json'), 'utf8')), {
      attachmentID: vaName,
      driverName: DRIVER,
      nodeName: NODE,
      specVolID: 'pv-fs',
      volumeHandle: handle,
      volumeLifecycleMode: 'Persistent',
    });

    await plugin.newUnmounter('pv-fs', UID_A).tearDown(never);
    await plugin.newUnmounter('pv-fs', UID_B).tearDown(never);
    assert.equal(await pathExists(podDirA), false);
    assert.equal(await pathExists(join(env.kubelet, 'pods', UID_B, 'volumes/kubernetes.io~csi/pv-fs')), false);
    await plugin.newDeviceUnmounter().unmountDevice(deviceMountPath, never);
    assert.equal(await pathExists(dirname(deviceMountPath)), false);
    assert.deepEqual(callsOf(env, 'NodeUnstageVolume').at(-1)!.request, { volume_id: handle, staging_target_path: deviceMountPath });
    await detach(env, handle);
    assert.deepEqual(await mountsUnder(env.kubelet), []);
  });

  it('3 repeats every step idempotently, and retries a publish the driver refuses as busy (ABORTED)', async () => {
    const plugin = newPlugin(env);
    const handle = await createLoopVolume(env, 'pv-retry');
    const spec = pvSpec('pv-retry', handle, {}, { fsType: 'ext4' });
    env.csiDrivers.set(DRIVER, csiDriverObject(DRIVER, { attachRequired: false }));
    try {
      const dm = plugin.newDeviceMounter();
      assert.equal(await dm.waitForAttach(spec, '', pod(UID_A, 'a'), 1000, never), '');
      await attach(env, handle);
      const path = await dm.getDeviceMountPath(spec, never);
      await dm.mountDevice(spec, '', path, never);
      await dm.mountDevice(spec, '', path, never);
      assert.equal(findmnt(path)?.fstype, 'ext4');

      const publishes = callsOf(env, 'NodePublishVolume').length;
      env.faults.fail.set('NodePublishVolume', [new CsiError('ABORTED', 'an operation with the given Volume ID already exists')]);
      const m = plugin.newMounter(spec, pod(UID_A, 'a'));
      await m.setUp({ signal: never });
      await m.setUp({ signal: never });
      assert.equal(callsOf(env, 'NodePublishVolume').length - publishes, 3, 'ABORTED, then success, then the repeat');
      assert.equal(execFileSync('findmnt', ['-n', '-r', '-o', 'TARGET', '--mountpoint', m.getPath()], { encoding: 'utf8' }).trim().split('\n').length, 1);

      const u = plugin.newUnmounter('pv-retry', UID_A);
      await u.tearDown(never);
      await u.tearDown(never);
      await plugin.newDeviceUnmounter().unmountDevice(path, never);
      await plugin.newDeviceUnmounter().unmountDevice(path, never);
      await detach(env, handle);
      assert.deepEqual(await mountsUnder(env.kubelet), []);
    } finally {
      env.csiDrivers.delete(DRIVER);
    }
  });

  it('4 block mode: stages for block, publishes a device file the runtime binds at devicePath', async () => {
    const plugin = newPlugin(env);
    const handle = await createLoopVolume(env, 'pv-block', true);
    env.csiDrivers.set(DRIVER, csiDriverObject(DRIVER, { attachRequired: false }));
    try {
      const spec = pvSpec('pv-block', handle, { volumeMode: 'Block' });
      await attach(env, handle, true);
      const dm = plugin.newDeviceMounter();
      const path = await dm.getDeviceMountPath(spec, never);
      assert.equal(path, join(env.kubelet, 'plugins/kubernetes.io/csi/volumeDevices/staging/pv-block'));
      await dm.mountDevice(spec, '', path, never);
      assert.ok((callsOf(env, 'NodeStageVolume').at(-1)!.request.volume_capability as VolumeCapability).block);
      const m = plugin.newMounter(spec, pod(UID_A, 'a'));
      await m.setUp({ signal: never });
      assert.equal(m.getPath(), join(env.kubelet, 'plugins/kubernetes.io/csi/volumeDevices/publish/pv-block', UID_A));
      assert.ok((await stat(m.getPath())).isBlockDevice(), 'the published path is a block device node');
      assert.match(findmnt(m.getPath())?.source ?? '', /loop/);
      const publish = callsOf(env, 'NodePublishVolume').at(-1)!.request;
      assert.ok((publish.volume_capability as VolumeCapability).block);
      assert.equal(publish.staging_target_path, path);
      assert.equal(plugin.newUnmounter('pv-block', UID_A).getPath(), m.getPath());
      assert.deepEqual(await plugin.reconstructDeviceMount(UID_A, 'pv-block', never), {
        uniqueVolumeName: `kubernetes.io/csi/${DRIVER}^${handle}`,
        deviceMountPath: path,
      });

      await plugin.newUnmounter('pv-block', UID_A).tearDown(never);
      assert.equal(await pathExists(m.getPath()), false);
      assert.equal(await pathExists(join(env.kubelet, 'pods', UID_A, 'volumes/kubernetes.io~csi/pv-block')), false);
      await dm.mountDevice(spec, '', path, never);
      await plugin.newDeviceUnmounter().unmountDevice(path, never);
      assert.equal(await pathExists(path), false);
      assert.equal(await pathExists(join(env.kubelet, 'plugins/kubernetes.io/csi/volumeDevices/pv-block')), false);
      await detach(env, handle);
      assert.deepEqual(await mountsUnder(env.kubelet), []);
    } finally {
      env.csiDrivers.delete(DRIVER);
    }
  });

  it('5 podInfoOnMount adds the pod to volume_context; a read-only claim publishes read-only', async () => {
    const plugin = newPlugin(env);
    const handle = await createDirVolume(env, 'pv-info');
    env.csiDrivers.set(DRIVER, csiDriverObject(DRIVER, { attachRequired: false, podInfoOnMount: true }));
    try {
      const spec = pvSpec('pv-info', handle, {}, { volumeAttributes: { a: 'b' } }, true);
      await plugin.newDeviceMounter().mountDevice(spec, '', await plugin.newDeviceMounter().getDeviceMountPath(spec, never), never);
      const m = plugin.newMounter(spec, pod(UID_A, 'info', { serviceAccountName: 'builder' }));
      await m.setUp({ signal: never });
      const publish = callsOf(env, 'NodePublishVolume').at(-1)!.request;
      assert.deepEqual(publish.volume_context, {
        a: 'b',
        'csi.storage.k8s.io/pod.name': 'info',
        'csi.storage.k8s.io/pod.namespace': 'default',
        'csi.storage.k8s.io/pod.uid': UID_A,
        'csi.storage.k8s.io/serviceAccount.name': 'builder',
        'csi.storage.k8s.io/ephemeral': 'false',
      });
      assert.equal(publish.readonly, true);
      assert.match(findmnt(m.getPath())!.options, /(^|,)ro(,|$)/);
      await plugin.newUnmounter('pv-info', UID_A).tearDown(never);
      await plugin.newDeviceUnmounter().unmountDevice(await plugin.newDeviceMounter().getDeviceMountPath(spec, never), never);
    } finally {
      env.csiDrivers.delete(DRIVER);
    }
  });

  it('6 fsGroup: applied by the kubelet per fsGroupPolicy, or passed as volume_mount_group to a VOLUME_MOUNT_GROUP driver', async () => {
    const plugin = newPlugin(env);
    const rows: { name: string; driver: string; policy: string; fsType: string; group: number | undefined; mountGroup?: string }[] = [
      { name: 'File: always', driver: DRIVER, policy: 'File', fsType: '', group: 4321 },
      { name: 'None: never', driver: DRIVER, policy: 'None', fsType: '', group: undefined },
      { name: 'ReadWriteOnceWithFSType without fsType: not', driver: DRIVER, policy: 'ReadWriteOnceWithFSType', fsType: '', group: undefined },
      { name: 'ReadWriteOnceWithFSType with fsType and RWO: applied', driver: DRIVER, policy: 'ReadWriteOnceWithFSType', fsType: 'ext4', group: 4321 },
      { name: 'VOLUME_MOUNT_GROUP: the driver does it', driver: MOUNT_GROUP_DRIVER, policy: 'File', fsType: '', group: undefined, mountGroup: '4321' },
    ];
    for (const [i, row] of rows.entries()) {
      // A filesystem type needs a loop volume (attached first); the others are directories.
      const handle = row.fsType === '' ? await createDirVolume(env, `pv-fsgroup-${i}`) : await createLoopVolume(env, `pv-fsgroup-${i}`);
      if (row.fsType !== '') await attach(env, handle);
      env.csiDrivers.set(row.driver, csiDriverObject(row.driver, { attachRequired: false, fsGroupPolicy: row.policy }));
      try {
        const spec = pvSpec(`pv-fsgroup-${i}`, handle, {}, { driver: row.driver, ...(row.fsType === '' ? {} : { fsType: row.fsType }) });
        const path = await plugin.newDeviceMounter().getDeviceMountPath(spec, never);
        await plugin.newDeviceMounter().mountDevice(spec, '', path, never);
        const m = plugin.newMounter(spec, pod(UID_A, 'g'));
        await m.setUp({ fsGroup: 4321, signal: never });
        const st = await stat(m.getPath());
        if (row.group === undefined) assert.notEqual(st.gid, 4321, row.name);
        else {
          assert.equal(st.gid, row.group, row.name);
          assert.ok((st.mode & 0o2000) !== 0, `${row.name}: setgid`);
        }
        const publish = callsOf(env, 'NodePublishVolume').at(-1)!;
        assert.equal(publish.driver, row.driver);
        assert.equal((publish.request.volume_capability as VolumeCapability).mount?.volume_mount_group ?? '', row.mountGroup ?? '', row.name);
        await plugin.newUnmounter(`pv-fsgroup-${i}`, UID_A).tearDown(never);
        await plugin.newDeviceUnmounter().unmountDevice(path, never);
        if (row.fsType !== '') await detach(env, handle);
      } finally {
        env.csiDrivers.delete(row.driver);
      }
    }
    assert.deepEqual(await mountsUnder(env.kubelet), []);
  });

  it('7 inline ephemeral volumes: only with an Ephemeral lifecycle mode; per-pod handle, no stage', async () => {
    const plugin = newPlugin(env);
    env.secrets.secrets.set('default/inline-secret', secret('default', 'inline-secret', { k: 'v' }));
    const spec: VolumeSpec = {
      volume: { name: 'scratch', csi: { driver: DRIVER, volumeAttributes: { size: '1Mi' }, nodePublishSecretRef: { name: 'inline-secret' } } },
      readOnly: false,
    };
    const p = pod(UID_B, 'inline');
    const rows: { name: string; driver?: KubeObject; error?: string }[] = [
      { name: 'no CSIDriver', error: 'volume mode "Ephemeral" not supported by driver csi.volplane.io (no CSIDriver object)' },
      {
        name: 'Persistent only',
        driver: csiDriverObject(DRIVER, { attachRequired: false }),
        error: 'volume mode "Ephemeral" not supported by driver csi.volplane.io (only supports ["Persistent"])',
      },
      { name: 'Ephemeral listed', driver: csiDriverObject(DRIVER, { attachRequired: false, volumeLifecycleModes: ['Persistent', 'Ephemeral'], podInfoOnMount: true }) },
    ];
    try {
      for (const row of rows) {
        if (row.driver === undefined) env.csiDrivers.delete(DRIVER);
        else env.csiDrivers.set(DRIVER, row.driver);
        const m = plugin.newMounter(spec, p);
        if (row.error !== undefined) {
          await assert.rejects(m.setUp({ signal: never }), (err: unknown) => {
            assert.ok(err instanceof VolumeSetupError);
            assert.equal(err.message, `kubernetes.io/csi: mounter.SetupAt failed to check volume lifecycle mode: ${row.error}`);
            return true;
          });
          continue;
        }
        await m.setUp({ signal: never });
        assert.equal(m.getPath(), join(env.kubelet, 'pods', UID_B, 'volumes/kubernetes.io~csi/scratch/mount'));
        assert.ok(findmnt(m.getPath()) !== undefined);
        const publish = callsOf(env, 'NodePublishVolume').at(-1)!.request;
        assert.equal(publish.volume_id, inlineVolumeHandle(UID_B, 'scratch'));
        assert.equal(publish.staging_target_path, '');
        assert.deepEqual(publish.secrets, { k: 'v' });
        assert.equal((publish.volume_context as Record<string, string>)['csi.storage.k8s.io/ephemeral'], 'true');
        assert.equal(await plugin.reconstructDeviceMount(UID_B, 'scratch', never), undefined);
        await plugin.newUnmounter('scratch', UID_B).tearDown(never);
        assert.equal(await pathExists(join(env.kubelet, 'pods', UID_B, 'volumes/kubernetes.io~csi/scratch')), false);
        assert.equal(callsOf(env, 'NodeUnpublishVolume').at(-1)!.request.volume_id, inlineVolumeHandle(UID_B, 'scratch'));
      }
    } finally {
      env.csiDrivers.delete(DRIVER);
    }
  });

  it('8 reconstructs the device mount from vol_data.json; a new plugin instance tears down what an old one set up', async () => {
    const first = newPlugin(env);
    const handle = await createLoopVolume(env, 'pv-restart');
    env.csiDrivers.set(DRIVER, csiDriverObject(DRIVER, { attachRequired: false }));
    try {
      const spec = pvSpec('pv-restart', handle, {}, { fsType: 'ext4' });
      await attach(env, handle);
      const path = await first.newDeviceMounter().getDeviceMountPath(spec, never);
      await first.newDeviceMounter().mountDevice(spec, '', path, never);
      await first.newMounter(spec, pod(UID_A, 'a')).setUp({ signal: never });
      first.dispose();

      const second = newPlugin(env);
      assert.equal(await second.reconstructDeviceMount(UID_A, 'nothing-here', never), undefined);
      const found = await second.reconstructDeviceMount(UID_A, 'pv-restart', never);
      assert.deepEqual(found, { uniqueVolumeName: `kubernetes.io/csi/${DRIVER}^${handle}`, deviceMountPath: path });
      await second.newUnmounter('pv-restart', UID_A).tearDown(never);
      await second.newDeviceUnmounter().unmountDevice(found!.deviceMountPath, never);
      await detach(env, handle);
      assert.deepEqual(await mountsUnder(env.kubelet), []);
      assert.deepEqual(await readdir(join(env.kubelet, 'plugins/kubernetes.io/csi', DRIVER)), []);
    } finally {
      env.csiDrivers.delete(DRIVER);
    }
  });

  it('9 errors carry upstream messages; timeouts never hang and leave an uncertain stage for retry', async () => {
    env.csiDrivers.set(DRIVER, csiDriverObject(DRIVER, { attachRequired: false }));
    try {
      const plugin = newPlugin(env, { timeoutMs: 400 });
      // 9-1 driver not registered.
      const unknown = pvSpec('pv-x', 'h-x', {}, { driver: 'nope.example.com' });
      await assert.rejects(plugin.newMounter(unknown, pod(UID_A, 'a')).setUp({ signal: never }), {
        name: 'VolumeSetupError',
        message: 'kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name nope.example.com not found in the list of registered CSI drivers',
      });
      await assert.rejects(plugin.newDeviceMounter().mountDevice(unknown, '', '/nonexistent/globalmount', never), {
        message: 'kubernetes.io/csi: attacher.MountDevice failed to create newCsiDriverClient: driver name nope.example.com not found in the list of registered CSI drivers',
      });

      // 9-2 a final gRPC failure: upstream's text, nothing left behind.
      const missing = pvSpec('pv-missing', 'no-such-volume');
      await assert.rejects(plugin.newMounter(missing, pod(UID_A, 'a')).setUp({ signal: never }), (err: unknown) => {
        assert.ok(err instanceof VolumeSetupError);
        assert.equal(err.message, 'rpc error: code = NotFound desc = volume id no-such-volume does not exist in the volumes list');
        assert.equal(isUncertainCsiError(err), false);
        return true;
      });
      assert.equal(await pathExists(join(env.kubelet, 'pods', UID_A, 'volumes/kubernetes.io~csi/pv-missing')), false);

      // 9-3 a hung NodeStageVolume: DeadlineExceeded after the operation deadline, uncertain, directory kept.
      const handle = await createDirVolume(env, 'pv-hang');
      const spec = pvSpec('pv-hang', handle);
      const path = await plugin.newDeviceMounter().getDeviceMountPath(spec, never);
      env.faults.hang.add('NodeStageVolume');
      const started = Date.now();
      try {
        await assert.rejects(plugin.newDeviceMounter().mountDevice(spec, '', path, never), (err: unknown) => {
          assert.match((err as Error).message, /^rpc error: code = DeadlineExceeded desc = /);
          assert.equal(isUncertainCsiError(err), true);
          return true;
        });
      } finally {
        env.faults.hang.delete('NodeStageVolume');
      }
      assert.ok(Date.now() - started < 5_000, 'bounded by the operation deadline');
      assert.equal(await pathExists(path), true, 'an uncertain stage keeps its directory');
      await plugin.newDeviceMounter().mountDevice(spec, '', path, never); // the retry converges
      await plugin.newDeviceUnmounter().unmountDevice(path, never);
      assert.equal(await pathExists(dirname(path)), false);

      // 9-4 a failing unpublish keeps the volume and says so the way upstream does.
      const h2 = await createDirVolume(env, 'pv-unpub');
      const s2 = pvSpec('pv-unpub', h2);
      const p2 = await plugin.newDeviceMounter().getDeviceMountPath(s2, never);
      await plugin.newDeviceMounter().mountDevice(s2, '', p2, never);
      await plugin.newMounter(s2, pod(UID_A, 'a')).setUp({ signal: never });
      env.faults.fail.set('NodeUnpublishVolume', [new CsiError('INTERNAL', 'umount failed')]);
      await assert.rejects(plugin.newUnmounter('pv-unpub', UID_A).tearDown(never), (err: unknown) => {
        assert.ok(err instanceof VolumeTearDownError);
        assert.equal(err.message, 'kubernetes.io/csi: Unmounter.TearDownAt failed: rpc error: code = Internal desc = umount failed');
        return true;
      });
      await plugin.newUnmounter('pv-unpub', UID_A).tearDown(never);

      // 9-5 cancellation is CancelledError, not a mount failure.
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(plugin.newMounter(s2, pod(UID_A, 'a')).setUp({ signal: ac.signal }), CancelledError);
      await plugin.newDeviceUnmounter().unmountDevice(p2, never);
    } finally {
      env.csiDrivers.delete(DRIVER);
    }
    assert.deepEqual(await mountsUnder(env.kubelet), []);
  });

  it('10 waitForAttach and the publish context: missing, failed, being deleted, timed out', async () => {
    const plugin = newPlugin(env);
    const spec = pvSpec('pv-va', 'h-va');
    const name = csiAttachmentName('h-va', DRIVER, NODE);
    const dm = plugin.newDeviceMounter();
    const rows: { name: string; va?: KubeObject; reason: string; message: string }[] = [
      { name: 'never created', reason: 'Timeout', message: 'timed out waiting for external-attacher of csi.volplane.io CSI driver to attach volume h-va' },
      { name: 'not attached yet', va: attachment('h-va', false), reason: 'Timeout', message: 'timed out waiting for external-attacher of csi.volplane.io CSI driver to attach volume h-va' },
      { name: 'attach error', va: attachment('h-va', false, {}, { attachError: { message: 'rpc error: code = ResourceExhausted desc = too many' } }), reason: 'AttachError', message: 'rpc error: code = ResourceExhausted desc = too many' },
      {
        name: 'being deleted',
        va: { ...attachment('h-va', true), metadata: { name, deletionTimestamp: '2026-01-01T00:00:00Z' } } as KubeObject,
        reason: 'Deleting',
        message: 'volume attachment is being deleted',
      },
    ];
    for (const row of rows) {
      if (row.va === undefined) env.attachments.delete(name);
      else env.attachments.set(name, row.va);
      await assert.rejects(dm.waitForAttach(spec, '', pod(UID_A, 'a'), 150, never), (err: unknown) => {
        assert.ok(err instanceof CsiAttachWaitError, row.name);
        assert.equal(err.reason, row.reason, row.name);
        assert.equal(err.message, row.message, row.name);
        return true;
      });
    }
    env.attachments.delete(name);
    await assert.rejects(plugin.newMounter(spec, pod(UID_A, 'a')).setUp({ signal: never }), {
      message: `kubernetes.io/csi: mounter.SetUpAt failed to fetch publishContext: volumeattachments.storage.k8s.io "${name}" not found`,
    });
    assert.equal(await pathExists(join(env.kubelet, 'pods', UID_A, 'volumes/kubernetes.io~csi/pv-va')), false);
  });
});

function sha256(s: string): string {
  return execFileSync('sha256sum', { input: s, encoding: 'utf8' }).split(' ')[0]!;
}
