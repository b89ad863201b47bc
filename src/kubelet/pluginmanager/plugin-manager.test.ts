// The plugin manager against a real in-process API server and real sockets:
// volplane's CSI driver served with --registration-dir, a standalone
// registrar in front of a driver, and registration sockets that lie or talk
// nonsense. Rows are numbered worlds: what is in plugins_registry, and what
// the CSINode, the Node, the registry and the plugin must show for it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../apimachinery/index.ts';
import { silentLogger } from '../../base/index.ts';
import { ApiError, resourcePath, resources } from '../../client/index.ts';
import { DEVICE_PLUGIN_TYPE, serveRegistration, startRegistrar, type RegistrationServerHandle } from '../../csi/registration/index.ts';
import { parseCsiDriverArgs, startCsiDriver, type RunningCsiDriver } from '../../cli/csi-driver.ts';
import { startControllerEnv, waitForState, type ControllerEnv } from '../../testing/index.ts';
import { CsiDriverRegistry } from '../../volume/index.ts';
import { ANNOTATION_KEY_NODE_ID, highestSupportedVersion, PLUGINS_REGISTRY_DIR, startNodePluginManager, type CSINode, type NodePluginManager } from './index.ts';

const NODE = 'node-a';
const DRIVER = 'csi.volplane.io';
const TOPOLOGY_KEY = 'topology.volplane.io/node';
const FAST = { reconcileIntervalMs: 50, rescanIntervalMs: 200, backoffInitialMs: 100, backoffMaxMs: 400, getInfoTimeoutMs: 1_000, notifyTimeoutMs: 1_000 };

interface NodeObject extends KubeObject {
  metadata: KubeObject['metadata'] & { labels?: Record<string, string>; annotations?: Record<string, string> };
}

describe('plugin manager', () => {
  let env: ControllerEnv;
  let root: string;
  let registryDir: string;
  let nodeUid: string;
  let registry: CsiDriverRegistry;
  let manager: NodePluginManager;

  const start = async (): Promise<NodePluginManager> =>
    startNodePluginManager({ client: env.client, nodeName: NODE, root, registry, logger: silentLogger(), timing: FAST });
  const getCSINode = async (): Promise<CSINode | undefined> => {
    try {
      return await env.client.get<CSINode>(resourcePath(resources.csiNodes, undefined, NODE));
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  };
  const getNode = (): Promise<NodeObject> => env.client.get<NodeObject>(resourcePath(resources.nodes, undefined, NODE));
  const driverEntry = (c: CSINode | undefined, name = DRIVER) => c?.spec.drivers?.find((d) => d.name === name);
  const startDriver = async (name: string, extra: string[] = []): Promise<RunningCsiDriver> =>
    startCsiDriver(parseCsiDriverArgs(['--data-dir', join(root, name), '--node-id', `${NODE}-id`, '--registration-dir', registryDir, ...extra])!, silentLogger());
  const waitForEntry = (what: string, problems: (entry: ReturnType<typeof driverEntry>) => string | undefined) =>
    waitForState(what, getCSINode, (c) => problems(driverEntry(c)));

  before(async () => {
    env = await startControllerEnv();
    root = await mkdtemp(join(tmpdir(), 'volplane-pluginmanager-'));
    registryDir = join(root, PLUGINS_REGISTRY_DIR);
    const node = await env.client.create<NodeObject>(resourcePath(resources.nodes), { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } } });
    nodeUid = node.metadata.uid ?? '';
    registry = new CsiDriverRegistry();
    manager = await start();
  });
  after(async () => {
    await manager?.dispose();
    await env?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('1: at start the kubelet creates its empty CSINode, owned by the Node', async () => {
    await manager.csiNodeInitialized();
    const c = await getCSINode();
    assert.deepEqual(c?.spec.drivers ?? [], []);
    assert.deepEqual(c?.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: NODE, uid: nodeUid }]);
  });

  it('2: a driver serving its registration socket is registered: CSINode entry, Node label and nodeid annotation, registry, NotifyRegistrationStatus(true)', async () => {
    const driver = await startDriver('d2', ['--max-volumes-per-node', '7']);
    try {
      await waitForEntry('the driver entry', (e) => (e === undefined ? 'no entry' : undefined));
      assert.deepEqual(driverEntry(await getCSINode()), { name: DRIVER, nodeID: `${NODE}-id`, topologyKeys: [TOPOLOGY_KEY], allocatable: { count: 7 } });
      const node = await getNode();
      assert.equal(node.metadata.labels?.[TOPOLOGY_KEY], `${NODE}-id`);
      assert.equal(node.metadata.labels?.['kubernetes.io/hostname'], NODE);
      assert.equal(node.metadata.annotations?.[ANNOTATION_KEY_NODE_ID], JSON.stringify({ [DRIVER]: `${NODE}-id` }));
      assert.deepEqual(registry.get(DRIVER), { name: DRIVER, endpoint: driver.socketPath, versions: ['1.0.0'] });
      const reg = driver.registration!;
      await waitForState('the verdict', async () => reg.statuses(), (s) => (s.length === 0 ? 'no NotifyRegistrationStatus yet' : undefined));
      assert.deepEqual(reg.statuses(), [{ plugin_registered: true, error: '' }]);
      assert.deepEqual(manager.pluginManager.registeredPlugins().map((p) => [p.name, p.type, p.socketPath]), [[DRIVER, 'CSIPlugin', reg.socketPath]]);

      // 3: a kubelet restart finds the socket again; the CSINode, already right, is not rewritten.
      const before = (await getCSINode())?.metadata.resourceVersion;
      await manager.dispose();
      assert.equal(registry.get(DRIVER) !== undefined, true, 'stopping the manager deregisters nothing');
      registry = new CsiDriverRegistry();
      manager = await start();
      await waitForState('re-registration', async () => reg.statuses().length, (n) => (n < 2 ? 'no second verdict' : undefined));
      assert.deepEqual(reg.statuses()[1], { plugin_registered: true, error: '' });
      assert.equal(registry.get(DRIVER)?.endpoint, driver.socketPath);
      assert.equal((await getCSINode())?.metadata.resourceVersion, before);
    } finally {
      await driver.close();
    }
    // 4: the socket removed → entry and annotation gone, registry empty; the topology label stays (upstream keeps it).
    await waitForEntry('the entry removed', (e) => (e === undefined ? undefined : 'entry still there'));
    // The annotation goes in a second write, after the entry.
    const node = await waitForState('the annotation removed', getNode, (n) => (n.metadata.annotations?.[ANNOTATION_KEY_NODE_ID] === undefined ? undefined : 'annotation still there'));
    assert.equal(node.metadata.labels?.[TOPOLOGY_KEY], `${NODE}-id`);
    assert.equal(registry.get(DRIVER), undefined);
    assert.deepEqual(manager.pluginManager.registeredPlugins(), []);
  });

  it('5: a driver that came back with another attach limit while the kubelet was down gets its entry replaced', async () => {
    const first = await startDriver('d5', ['--max-volumes-per-node', '3']);
    await waitForEntry('limit 3', (e) => (e?.allocatable?.count === 3 ? undefined : `entry ${JSON.stringify(e)}`));
    await manager.dispose();
    // The registration socket goes with the driver; a new one comes with its successor.
    await first.close();
    const second = await startDriver('d5', []);
    try {
      registry = new CsiDriverRegistry();
      manager = await start();
      await waitForEntry('no limit', (e) => (e !== undefined && e.allocatable === undefined ? undefined : `entry ${JSON.stringify(e)}`));
      assert.equal((await getCSINode())?.spec.drivers?.length, 1);
    } finally {
      await second.close();
    }
    await waitForEntry('the entry removed', (e) => (e === undefined ? undefined : 'entry still there'));
  });

  it('6: sockets that talk nonsense, announce another plugin type or an unsupported CSI version are refused and told why; a good driver registers meanwhile', async () => {
    const garbagePath = join(registryDir, 'garbage.sock');
    const garbage: Server = createServer((sock) => {
      sock.on('error', () => {});
      sock.write('not gRPC at all\r\n', () => sock.destroy());
    });
    await new Promise<void>((r) => garbage.listen(garbagePath, r));
    const servers: RegistrationServerHandle[] = [];
    try {
      const device = await serveRegistration({ socketPath: join(registryDir, 'device-reg.sock'), driverName: 'example.com/gpu', endpoint: '/x', pluginType: DEVICE_PLUGIN_TYPE, logger: silentLogger() });
      servers.push(device);
      const old = await serveRegistration({ socketPath: join(registryDir, 'old-reg.sock'), driverName: 'old.csi.test', endpoint: '/x', versions: ['0.3.0'], logger: silentLogger() });
      servers.push(old);
      const driver = await startDriver('d6');
      try {
        await waitForEntry('the good driver', (e) => (e === undefined ? 'no entry' : undefined));
        // Refusals are retried with backoff, each one told to the plugin.
        await waitForState('two refusals each', async () => [device.statuses(), old.statuses()], (all) =>
          all.some((s) => s.length < 2) ? `verdicts so far ${JSON.stringify(all)}` : undefined,
        );
        for (const s of device.statuses()) {
          assert.deepEqual(s, { plugin_registered: false, error: `RegisterPlugin error -- no handler registered for plugin type: DevicePlugin at socket ${device.socketPath}` });
        }
        for (const s of old.statuses()) {
          assert.equal(s.plugin_registered, false);
          assert.match(s.error, /^RegisterPlugin error -- plugin validation failed with err: validation failed for CSI Driver old\.csi\.test at endpoint \/x: .*must be v1\.x/);
        }
        assert.match(manager.pluginManager.lastError(garbagePath) ?? '', /RegisterPlugin error -- failed to get plugin info using RPC GetInfo at socket .*garbage\.sock/);
        assert.deepEqual(registry.names(), [DRIVER]);
        assert.deepEqual((await getCSINode())?.spec.drivers?.map((d) => d.name), [DRIVER]);
      } finally {
        await driver.close();
      }
    } finally {
      for (const s of servers) await s.close();
      await new Promise<void>((r) => garbage.close(() => r()));
    }
    await waitForEntry('the entry removed', (e) => (e === undefined ? undefined : 'entry still there'));
  });

  it('7: a topology value colliding with the Node label is refused, told to the driver, and leaves nothing registered', async () => {
    await env.client.patch(resourcePath(resources.nodes, undefined, NODE), { metadata: { labels: { [TOPOLOGY_KEY]: 'elsewhere' } } });
    const driver = await startDriver('d7');
    try {
      const reg = driver.registration!;
      await waitForState('a refusal', async () => reg.statuses(), (s) => (s.length === 0 ? 'no verdict yet' : undefined));
      assert.equal(reg.statuses()[0].plugin_registered, false);
      assert.match(reg.statuses()[0].error, /detected topology value collision: driver reported "topology\.volplane\.io\/node":"node-a-id" but existing label is "topology\.volplane\.io\/node":"elsewhere"/);
      assert.equal(registry.get(DRIVER), undefined);
      assert.equal(driverEntry(await getCSINode()), undefined);
    } finally {
      await driver.close();
      await env.client.patch(resourcePath(resources.nodes, undefined, NODE), { metadata: { labels: { [TOPOLOGY_KEY]: `${NODE}-id` } } });
    }
  });

  it('8: a standalone registrar in front of a driver that serves only CSI registers it', async () => {
    const driver = await startCsiDriver(parseCsiDriverArgs(['--data-dir', join(root, 'd8'), '--node-id', `${NODE}-id`])!, silentLogger());
    const registrar = await startRegistrar({ csiAddress: driver.socketPath, kubeletRegistrationPath: driver.socketPath, pluginRegistrationDir: registryDir, logger: silentLogger() });
    try {
      assert.equal(registrar.socketPath, join(registryDir, `${DRIVER}-reg.sock`));
      await waitForEntry('the driver entry', (e) => (e === undefined ? 'no entry' : undefined));
      assert.equal(registry.get(DRIVER)?.endpoint, driver.socketPath);
      await waitForState('the verdict', async () => registrar.registered, (ok) => (ok ? undefined : 'not told yet'));
    } finally {
      await registrar.close();
      await driver.close();
    }
    await waitForEntry('the entry removed', (e) => (e === undefined ? undefined : 'entry still there'));
    assert.equal(registry.get(DRIVER), undefined);
  });
});

describe('highestSupportedVersion', () => {
  const rows: [string, string[], string | RegExp][] = [
    ['1: the highest 1.x wins', ['1.0.0', '1.2.0', '1.1.9'], '1.2.0'],
    ['2: a leading v is accepted', ['v1.5.0'], '1.5.0'],
    ['3: 2.x is ignored', ['2.0.0', '1.0.0'], '1.0.0'],
    ['4: only 0.x is refused', ['0.3.0'], /must be v1\.x/],
    ['5: nothing parseable is refused', ['banana'], /could not find a highest supported version/],
    ['6: an empty list is refused', [], /empty array/],
  ];
  for (const [name, versions, want] of rows) {
    it(name, () => {
      if (typeof want === 'string') assert.equal(highestSupportedVersion(versions).text, want);
      else assert.throws(() => highestSupportedVersion(versions), want);
    });
  }
});
