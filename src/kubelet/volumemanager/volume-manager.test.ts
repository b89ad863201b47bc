// The volume manager against real mounts (tmpfs, binds) on `volplane-` temp
// roots and a real API server for claims, PVs, configMaps and events. Each
// row has its own kubelet root and node name, so reconstruction in one row
// never sees another row's pods.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../apimachinery/index.ts';
import { CancelledError, silentLogger, waitFor } from '../../base/index.ts';
import { ApiError, EventRecorder, resourcePath, resources, RestClient } from '../../client/index.ts';
import { findLeaks, startTestCluster, type TestCluster } from '../../testing/index.ts';
import {
  type DeviceMountableVolumePlugin,
  type DeviceMounter,
  type DeviceUnmounter,
  type ReconstructedDeviceMount,
  builtinVolumePlugins,
  EMPTY_DIR_PLUGIN_NAME,
  EmptyDirPlugin,
  HostMountUtil,
  podDir,
  prepareSubPath,
  VolumePluginManager,
  VolumeSetupError,
  type Mounter,
  type ObjectSource,
  type Pod,
  type PodVolume,
  type Unmounter,
  type VolumePlugin,
  type VolumeSpec,
} from '../../volume/index.ts';
import { podVolumeDir, pluginDir } from '../../volume/index.ts';
import { flexMountsDir, flexUniqueVolumeName, FlexVolumePlugin } from '../../volume/index.ts';
import { readMachineInfo } from '../machine-info.ts';
import { NodeStatusManager, volumesInUseOf } from '../node-status.ts';
import { createVolumeManager, VolumeMountTimeoutError, VolumeUnmountTimeoutError, type VolumeManager, type VolumeManagerOptions } from './index.ts';

const mountUtil = new HostMountUtil({ timeoutMs: 20_000 });
let cluster: TestCluster;
let client: RestClient;
let recorder: EventRecorder;
const roots: string[] = [];

/** configMaps and secrets straight from the API, as the kubelet's ObjectSource will. */
function apiObjects(): ObjectSource {
  const get = async (ref: typeof resources.configMaps | typeof resources.secrets, ns: string, name: string, signal?: AbortSignal) => {
    try {
      return await client.get(resourcePath(ref, ns, name), { signal });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  };
  return {
    getConfigMap: (ns, name, signal) => get(resources.configMaps, ns, name, signal),
    getSecret: (ns, name, signal) => get(resources.secrets, ns, name, signal),
  };
}

/**
 * A plugin for volumes with a `volplaneTest: { behaviour }` source, counting its calls:
 *   fail     setUp fails without leaving anything;
 *   halfway  setUp creates the volume directory, then fails.
 * (Pods with it are never sent to the API, which would drop the unknown source.)
 */
class TestPlugin implements VolumePlugin {
  readonly name = 'volplane.test/plugin';
  setUps = 0;
  /** When each setUp started, ms since the epoch. */
  setUpTimes: number[] = [];
  tearDowns = 0;
  readonly #root: string;
  constructor(root: string) {
    this.#root = root;
  }
  canSupport(spec: VolumeSpec): boolean {
    return spec.volume?.volplaneTest !== undefined;
  }
  newMounter(spec: VolumeSpec, pod: Pod): Mounter {
    const dir = podVolumeDir(this.#root, pod.metadata.uid ?? '', this.name, spec.volume?.name ?? '');
    const behaviour = (spec.volume?.volplaneTest as { behaviour: 'fail' | 'halfway' }).behaviour;
    return {
      getPath: () => dir,
      setUp: async () => {
        this.setUps++;
        this.setUpTimes.push(Date.now());
        if (behaviour === 'fail') throw new VolumeSetupError(this.name, spec.volume?.name ?? '', 'boom');
        await mkdir(dir, { recursive: true });
        throw new VolumeSetupError(this.name, spec.volume?.name ?? '', 'boom');
      },
    };
  }
  newUnmounter(volName: string, podUid: string): Unmounter {
    const dir = podVolumeDir(this.#root, podUid, this.name, volName);
    return {
      getPath: () => dir,
      tearDown: async () => {
        this.tearDowns++;
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}

/** The real emptyDir plugin, counting setUps (a restarted manager must not call it for adopted volumes). */
class CountingEmptyDirPlugin implements VolumePlugin {
  readonly name: string;
  readonly requiresRemount = false;
  setUps = 0;
  readonly #inner: EmptyDirPlugin;
  constructor(inner: EmptyDirPlugin) {
    this.#inner = inner;
    this.name = inner.name;
  }
  canSupport(spec: VolumeSpec): boolean {
    return this.#inner.canSupport(spec);
  }
  newMounter(spec: VolumeSpec, pod: Pod): Mounter {
    const m = this.#inner.newMounter(spec, pod);
    return {
      getPath: () => m.getPath(),
      setUp: (args) => {
        this.setUps++;
        return m.setUp(args);
      },
    };
  }
  newUnmounter(volName: string, podUid: string): Unmounter {
    return this.#inner.newUnmounter(volName, podUid);
  }
}

/** A `volplaneDevice` source: one device per `id`, attached by the AD controller unless `attach` is false. */
interface DeviceSource {
  id: string;
  attach?: boolean;
}

const deviceSourceOf = (spec: VolumeSpec): DeviceSource => spec.volume?.volplaneDevice as DeviceSource;

/**
 * A device-mountable plugin over real mounts, counting its calls: mountDevice
 * mounts a small tmpfs at `<root>/plugins/volplane.test/device/mounts/<id>`
 * (writing the id into it, so that reconstruction can read it back through a
 * pod's bind), setUp bind-mounts that into the pod directory. Failures are
 * injected by step: `failures.mountDevice = 2` fails the next two calls.
 */
class DeviceTestPlugin implements DeviceMountableVolumePlugin {
  readonly name = 'volplane.test/device';
  readonly deviceMountable = true;
  calls = { waitForAttach: [] as string[], mountDevice: 0, unmountDevice: 0, setUp: 0, tearDown: 0 };
  /** When each mountDevice started, ms since the epoch. */
  mountDeviceTimes: number[] = [];
  failures = { waitForAttach: 0, mountDevice: 0 };
  readonly #root: string;
  constructor(root: string) {
    this.#root = root;
  }
  mountsDir(): string {
    return join(pluginDir(this.#root, this.name), 'mounts');
  }
  canSupport(spec: VolumeSpec): boolean {
    return spec.volume?.volplaneDevice !== undefined;
  }
  async getUniqueVolumeName(spec: VolumeSpec): Promise<string> {
    return `${this.name}/${deviceSourceOf(spec).id}`;
  }
  async requiresAttach(spec: VolumeSpec): Promise<boolean> {
    return deviceSourceOf(spec).attach !== false;
  }
  async requiresDeviceMount(): Promise<boolean> {
    return true;
  }
  newDeviceMounter(): DeviceMounter {
    return {
      waitForAttach: async (_spec, devicePath) => {
        this.calls.waitForAttach.push(devicePath);
        if (this.failures.waitForAttach > 0) {
          this.failures.waitForAttach--;
          throw new Error(`${devicePath} is not attached`);
        }
        return devicePath;
      },
      getDeviceMountPath: async (spec) => join(this.mountsDir(), deviceSourceOf(spec).id),
      mountDevice: async (spec, _devicePath, deviceMountPath) => {
        this.calls.mountDevice++;
        this.mountDeviceTimes.push(Date.now());
        if (this.failures.mountDevice > 0) {
          this.failures.mountDevice--;
          throw new Error('boom');
        }
        if (await mountUtil.isMountPoint(deviceMountPath)) return;
        await mkdir(deviceMountPath, { recursive: true });
        await mountUtil.mount('tmpfs', deviceMountPath, 'tmpfs', ['size=1m']);
        await writeFile(join(deviceMountPath, '.volume-id'), deviceSourceOf(spec).id);
      },
    };
  }
  newDeviceUnmounter(): DeviceUnmounter {
    return {
      unmountDevice: async (deviceMountPath) => {
        this.calls.unmountDevice++;
        await mountUtil.cleanupMountPoint(deviceMountPath);
      },
    };
  }
  async reconstructDeviceMount(podUid: string, innerName: string): Promise<ReconstructedDeviceMount | undefined> {
    const id = await readFile(join(podVolumeDir(this.#root, podUid, this.name, innerName), '.volume-id'), 'utf8').catch(() => undefined);
    return id === undefined ? undefined : { uniqueVolumeName: `${this.name}/${id}`, deviceMountPath: join(this.mountsDir(), id) };
  }
  newMounter(spec: VolumeSpec, pod: Pod): Mounter {
    const dir = podVolumeDir(this.#root, pod.metadata.uid ?? '', this.name, spec.volume?.name ?? '');
    return {
      getPath: () => dir,
      setUp: async () => {
        this.calls.setUp++;
        if (await mountUtil.isMountPoint(dir)) return;
        await mkdir(dir, { recursive: true });
        await mountUtil.bindMount(join(this.mountsDir(), deviceSourceOf(spec).id), dir, false);
      },
    };
  }
  newUnmounter(volName: string, podUid: string): Unmounter {
    const dir = podVolumeDir(this.#root, podUid, this.name, volName);
    return {
      getPath: () => dir,
      tearDown: async () => {
        this.calls.tearDown++;
        await mountUtil.cleanupMountPoint(dir);
      },
    };
  }
}

interface Env {
  root: string;
  nodeName: string;
  test: TestPlugin;
  device: DeviceTestPlugin;
  emptyDir: CountingEmptyDirPlugin;
  options: VolumeManagerOptions;
}

async function newEnv(overrides: Partial<VolumeManagerOptions> = {}): Promise<Env> {
  const root = await mkdtemp(join(tmpdir(), 'volplane-vm-'));
  roots.push(root);
  const nodeName = `node-${randomUUID().slice(0, 8)}`;
  const test = new TestPlugin(root);
  const device = new DeviceTestPlugin(root);
  const host = { rootDir: root, mountUtil, objects: apiObjects(), nodeName };
  const emptyDir = new CountingEmptyDirPlugin(new EmptyDirPlugin(host));
  const plugins = new VolumePluginManager([
    ...builtinVolumePlugins(host).filter((p) => p.name !== EMPTY_DIR_PLUGIN_NAME),
    emptyDir,
    test,
    device,
  ]);
  return {
    root,
    nodeName,
    test,
    device,
    emptyDir,
    options: { client, nodeName, root, plugins, mountUtil, logger: silentLogger(), recorder, ...overrides },
  };
}

/** A running manager; stop() aborts it (without unmounting anything) and waits for it to finish. */
function start(env: Env): { vm: VolumeManager; stop: () => Promise<void> } {
  const vm = createVolumeManager(env.options);
  const ctl = new AbortController();
  const running = vm.run(ctl.signal);
  return {
    vm,
    stop: async () => {
      ctl.abort();
      await running;
    },
  };
}

function localPod(env: Env, ns: string, volumes: PodVolume[], extra: Partial<NonNullable<Pod['spec']>> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${randomUUID().slice(0, 6)}`, namespace: ns, uid: randomUUID(), resourceVersion: '1' },
    spec: { nodeName: env.nodeName, containers: [{ name: 'c', image: 'busybox' }], volumes, ...extra },
  };
}

async function apiPod(env: Env, ns: string, volumes: PodVolume[]): Promise<Pod> {
  const pod = localPod(env, ns, volumes);
  delete pod.metadata.uid;
  delete pod.metadata.resourceVersion;
  return client.create<Pod>(resourcePath(resources.pods, ns), pod);
}

async function createNamespace(): Promise<string> {
  const ns = `ns-${randomUUID().slice(0, 8)}`;
  await client.create(resourcePath(resources.namespaces), { metadata: { name: ns } });
  return ns;
}

/** Mount points below `root`. */
async function mountsBelow(root: string): Promise<string[]> {
  return (await mountUtil.listMounts()).map((m) => m.mountPoint).filter((p) => p.startsWith(`${root}/`));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** FailedMount events about a pod: the messages, each repeated by its count. */
async function failedMountEvents(ns: string, podUid: string): Promise<string[]> {
  await recorder.flush();
  const list = await client.get<{ items: (KubeObject & { involvedObject: { uid?: string }; reason: string; message: string; count?: number })[] }>(
    resourcePath(resources.events, ns),
  );
  return list.items
    .filter((e) => e.involvedObject.uid === podUid && e.reason === 'FailedMount')
    .flatMap((e) => Array<string>(e.count ?? 1).fill(e.message));
}

/** Creates a PV pre-bound to an existing claim; bindClaim() then binds the claim to it (volumeName, phase Bound). */
async function pvFor(ns: string, claimName: string, pvSource: Record<string, unknown>): Promise<{ pv: string; bindClaim: () => Promise<void> }> {
  const pvName = `pv-${randomUUID().slice(0, 8)}`;
  const claim = await client.get(resourcePath(resources.persistentVolumeClaims, ns, claimName));
  await client.create(resourcePath(resources.persistentVolumes), {
    metadata: { name: pvName },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      storageClassName: '',
      claimRef: { kind: 'PersistentVolumeClaim', namespace: ns, name: claimName, uid: claim.metadata.uid },
      ...pvSource,
    },
  });
  const bindClaim = async (): Promise<void> => {
    const cur = await client.get<KubeObject & { spec: Record<string, unknown> }>(resourcePath(resources.persistentVolumeClaims, ns, claimName));
    const updated = await client.update<KubeObject>(resourcePath(resources.persistentVolumeClaims, ns, claimName), {
      ...cur,
      spec: { ...cur.spec, volumeName: pvName },
    });
    await client.update(resourcePath(resources.persistentVolumeClaims, ns, claimName, 'status'), {
      ...updated,
      status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } },
    });
  };
  return { pv: pvName, bindClaim };
}

/** Creates a claim and a PV for it, bound to each other unless `bound` is false (then bind() binds them). */
async function pvAndClaim(ns: string, pvSource: Record<string, unknown>, bound: boolean): Promise<{ claim: string; pv: string; bind: () => Promise<void> }> {
  const claimName = `claim-${randomUUID().slice(0, 6)}`;
  await client.create(resourcePath(resources.persistentVolumeClaims, ns), {
    metadata: { name: claimName, namespace: ns },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: '' },
  });
  const { pv, bindClaim } = await pvFor(ns, claimName, pvSource);
  if (bound) await bindClaim();
  return { claim: claimName, pv, bind: bindClaim };
}

before(async () => {
  cluster = await startTestCluster();
  client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
  recorder = new EventRecorder({ client, component: 'kubelet', logger: silentLogger() });
});

after(async () => {
  try {
    for (const root of roots) {
      // Whatever a failed row left mounted, deepest first, then the directory.
      for (const p of (await mountsBelow(root)).sort((a, b) => b.length - a.length)) await mountUtil.unmount(p, { lazyFallback: true });
      await rm(root, { recursive: true, force: true });
    }
    await recorder.dispose();
  } finally {
    client.close();
    await cluster.close();
  }
  assert.deepEqual((await findLeaks()).filter((l) => roots.some((r) => l.includes(r))), [], 'mounts left behind');
});

describe('volume manager: mount and unmount', () => {
  it('1 emptyDir on disk and in Memory: mounted → removed → unmounted, pod directory gone', async () => {
    const env = await newEnv();
    const ns = await createNamespace();
    const { vm, stop } = start(env);
    try {
      const pod = localPod(env, ns, [{ name: 'disk', emptyDir: {} }, { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }], {
        securityContext: { fsGroup: 1234 },
      });
      const uid = pod.metadata.uid!;
      vm.addPod(pod);
      const mounted = await vm.waitForAttachAndMount(pod, 10_000);
      assert.deepEqual([...mounted.keys()].sort(), ['disk', 'mem']);
      assert.equal(mounted.get('disk')!.path, podVolumeDir(env.root, uid, 'kubernetes.io/empty-dir', 'disk'));
      assert.equal(mounted.get('mem')!.plugin, 'kubernetes.io/empty-dir');
      assert.equal((await stat(mounted.get('disk')!.path)).gid, 1234, 'fsGroup applied');
      const tmpfs = (await mountUtil.listMounts()).filter((m) => m.mountPoint === mounted.get('mem')!.path);
      assert.equal(tmpfs.length, 1);
      assert.equal(tmpfs[0].fsType, 'tmpfs');
      await writeFile(join(mounted.get('mem')!.path, 'f'), 'x');
      // A subPath the runtime prepared is a bind mount in the pod directory; removal must clean it too.
      const bind = await prepareSubPath(mountUtil, {
        volumePath: mounted.get('disk')!.path, subPath: 'logs', podDir: podDir(env.root, uid), volumeName: 'disk', containerName: 'c', volumeMountIndex: 0,
      });
      assert.ok(await mountUtil.isMountPoint(bind));

      vm.removePod(uid);
      await vm.waitForUnmount(uid, 10_000);
      assert.deepEqual(vm.mountedVolumes(uid), new Map());
      assert.deepEqual(await mountsBelow(env.root), []);
      await waitFor('pod directory removed', async () => !(await exists(podDir(env.root, uid))), { timeoutMs: 5_000 });
    } finally {
      await stop();
    }
  });

  it('2 a configMap change reaches the mounted volume (re-setUp)', async () => {
    const env = await newEnv({ sourceCheckIntervalMs: 100 });
    const ns = await createNamespace();
    await client.create(resourcePath(resources.configMaps, ns), { metadata: { name: 'cfg', namespace: ns }, data: { level: 'INFO' } });
    const { vm, stop } = start(env);
    try {
      const pod = localPod(env, ns, [{ name: 'config', configMap: { name: 'cfg' } }]);
      const mounted = await vm.waitForAttachAndMount(pod, 10_000);
      const file = join(mounted.get('config')!.path, 'level');
      assert.equal(await readFile(file, 'utf8'), 'INFO');
      assert.equal(mounted.get('config')!.readOnly, true);

      const cm = await client.get(resourcePath(resources.configMaps, ns, 'cfg'));
      await client.update(resourcePath(resources.configMaps, ns, 'cfg'), { ...cm, data: { level: 'DEBUG' } });
      await waitFor('updated content', async () => (await readFile(file, 'utf8')) === 'DEBUG', { timeoutMs: 3_000 });

      vm.removePod(pod.metadata.uid!);
      await vm.waitForUnmount(pod.metadata.uid!, 10_000);
      assert.deepEqual(await mountsBelow(env.root), []);
    } finally {
      await stop();
    }
  });
});

describe('volume manager: downward API', () => {
  it('2b a label change of the pod (addPod with the update) reaches its downwardAPI volume', async () => {
    const env = await newEnv();
    const ns = await createNamespace();
    const { vm, stop } = start(env);
    try {
      const pod = localPod(env, ns, [{ name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } }]);
      pod.metadata.labels = { tier: 'web' };
      const mounted = await vm.waitForAttachAndMount(pod, 10_000);
      const file = join(mounted.get('info')!.path, 'labels');
      assert.equal(await readFile(file, 'utf8'), 'tier="web"');
      vm.addPod({ ...pod, metadata: { ...pod.metadata, labels: { tier: 'db' }, resourceVersion: '2' } });
      await waitFor('updated labels', async () => (await readFile(file, 'utf8')) === 'tier="db"', { timeoutMs: 3_000 });
      vm.removePod(pod.metadata.uid!);
      await vm.waitForUnmount(pod.metadata.uid!, 10_000);
    } finally {
      await stop();
    }
  });
});

describe('volume manager: claims', () => {
  const rows: { name: string; source: (dir: string) => Record<string, unknown>; plugin: string; readOnly: boolean }[] = [
    { name: '3a a claim bound to a hostPath PV resolves to the host path', source: (dir) => ({ hostPath: { path: dir } }), plugin: 'kubernetes.io/host-path', readOnly: false },
    { name: '3b a read-only claim bound to a local PV resolves to the local path', source: (dir) => ({
      local: { path: dir },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n'] }] }] } },
    }), plugin: 'kubernetes.io/local-volume', readOnly: true },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const env = await newEnv();
      const ns = await createNamespace();
      const dir = join(env.root, 'backing');
      await mkdir(dir);
      const { claim } = await pvAndClaim(ns, row.source(dir), true);
      const { vm, stop } = start(env);
      try {
        const pod = localPod(env, ns, [{ name: 'data', persistentVolumeClaim: { claimName: claim, readOnly: row.readOnly } }]);
        const mounted = await vm.waitForAttachAndMount(pod, 10_000);
        assert.deepEqual(mounted.get('data'), { name: 'data', path: dir, readOnly: row.readOnly, plugin: row.plugin });
        vm.removePod(pod.metadata.uid!);
        await vm.waitForUnmount(pod.metadata.uid!, 10_000);
        assert.ok(await exists(dir), 'a PV\'s data outlives the pod');
      } finally {
        await stop();
      }
    });
  }

  const ephemeralRows: { name: string; owned: boolean }[] = [
    { name: '3c a generic ephemeral volume uses the claim <pod>-<volume> the pod controls', owned: true },
    { name: '3d a claim named <pod>-<volume> that the pod does not control is refused', owned: false },
  ];
  for (const row of ephemeralRows) {
    it(row.name, async () => {
      const env = await newEnv();
      const ns = await createNamespace();
      const dir = join(env.root, 'backing');
      await mkdir(dir);
      const pod = localPod(env, ns, [{ name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } } }]);
      const claimName = `${pod.metadata.name}-scratch`;
      const owner = { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: row.owned ? pod.metadata.uid : randomUUID(), controller: true };
      await client.create(resourcePath(resources.persistentVolumeClaims, ns), {
        metadata: { name: claimName, namespace: ns, ownerReferences: [owner] },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: '' },
      });
      const { bindClaim } = await pvFor(ns, claimName, { hostPath: { path: dir } });
      await bindClaim();
      const { vm, stop } = start(env);
      try {
        if (row.owned) {
          const mounted = await vm.waitForAttachAndMount(pod, 10_000);
          assert.equal(mounted.get('scratch')!.path, dir);
        } else {
          vm.addPod(pod);
          const events = await waitFor('a FailedMount event', async () => {
            const e = await failedMountEvents(ns, pod.metadata.uid!);
            return e.length > 0 && e;
          }, { timeoutMs: 10_000 });
          await assert.rejects(vm.waitForAttachAndMount(pod, 300), VolumeMountTimeoutError);
          assert.equal(events[0], `PVC ${ns}/${claimName} was not created for pod ${ns}/${pod.metadata.name} (pod is not owner)`);
        }
        vm.removePod(pod.metadata.uid!);
        await vm.waitForUnmount(pod.metadata.uid!, 10_000);
      } finally {
        await stop();
      }
    });
  }

  it('4 an unbound claim: FailedMount event, timeout lists it, mounted once bound', async () => {
    const env = await newEnv();
    const ns = await createNamespace();
    const dir = join(env.root, 'backing');
    await mkdir(dir);
    const { claim, bind } = await pvAndClaim(ns, { hostPath: { path: dir } }, false);
    const { vm, stop } = start(env);
    try {
      const pod = localPod(env, ns, [{ name: 'data', persistentVolumeClaim: { claimName: claim } }]);
      vm.addPod(pod);
      const events = await waitFor('a FailedMount event', async () => {
        const e = await failedMountEvents(ns, pod.metadata.uid!);
        return e.length > 0 && e;
      }, { timeoutMs: 10_000 });
      assert.ok(events.every((m) => m === `PVC ${ns}/${claim} is not bound`), events.join('\n'));
      const err = await vm.waitForAttachAndMount(pod, 300).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof VolumeMountTimeoutError, String(err));
      assert.deepEqual(err.unmounted, ['data']);
      assert.deepEqual(err.failedToProcess, ['data']);
      assert.match(err.message, /^unmounted volumes=\[data\], unattached volumes=\[\], failed to process volumes=\[data\]: timed out/);

      await bind();
      const mounted = await vm.waitForAttachAndMount(pod, 10_000);
      assert.equal(mounted.get('data')!.path, dir);
      vm.removePod(pod.metadata.uid!);
      await vm.waitForUnmount(pod.metadata.uid!, 10_000);
    } finally {
      await stop();
    }
  });
});

describe('volume manager: failures', () => {
  it('5 a failing setUp backs off and emits one FailedMount per attempt, not per pass', async () => {
    const env = await newEnv({ initialBackoffMs: 400 });
    const ns = await createNamespace();
    const { vm, stop } = start(env);
    try {
      const pod = localPod(env, ns, [{ name: 'broken', volplaneTest: { behaviour: 'fail' } }]);
      vm.addPod(pod);
      // Attempts at ~0, 0.4 and 1.2 s (the next one 1.6 s later); a pass runs every 100 ms meanwhile.
      await waitFor('three attempts', () => env.test.setUps >= 3, { timeoutMs: 5_000 });
      const [t0, t1, t2] = env.test.setUpTimes;
      assert.ok(t1 - t0 >= 350 && t2 - t1 >= 750, `gaps ${t1 - t0} ms, ${t2 - t1} ms`);
      // The event of an attempt is recorded just after its setUp returns.
      const events = await waitFor('one event per attempt', async () => {
        const e = await failedMountEvents(ns, pod.metadata.uid!);
        return e.length >= 3 && e;
      }, { timeoutMs: 1_000 });
      assert.equal(events.length, env.test.setUps);
      assert.equal(env.test.setUps, 3, 'the fourth attempt waits 1.6 s');
      assert.equal(events[0], 'MountVolume.SetUp failed for volume "broken" : boom');
      assert.deepEqual(vm.mountedVolumes(pod.metadata.uid!), new Map());
      // Nothing was left on disk, so nothing is recorded and removal needs no tearDown.
      vm.removePod(pod.metadata.uid!);
      await vm.waitForUnmount(pod.metadata.uid!, 1_000);
      assert.equal(env.test.tearDowns, 0);
    } finally {
      await stop();
    }
  });

  it('6 a setUp that failed half-way is uncertain: retried while desired, torn down once removed', async () => {
    const env = await newEnv({ initialBackoffMs: 100 });
    const ns = await createNamespace();
    const { vm, stop } = start(env);
    try {
      const pod = localPod(env, ns, [{ name: 'half', volplaneTest: { behaviour: 'halfway' } }]);
      const uid = pod.metadata.uid!;
      vm.addPod(pod);
      await waitFor('a retry', () => env.test.setUps >= 2, { timeoutMs: 5_000 });
      assert.deepEqual(vm.mountedVolumes(uid), new Map(), 'uncertain is not mounted');
      const dir = podVolumeDir(env.root, uid, env.test.name, 'half');
      assert.ok(await exists(dir));
      const stuck = await vm.waitForUnmount(uid, 200).then(() => undefined, (e: unknown) => e);
      assert.ok(stuck instanceof VolumeUnmountTimeoutError, String(stuck));
      assert.deepEqual(stuck.mounted, ['half'], 'an uncertain volume still counts as mounted');
      const ctl = new AbortController();
      const waiting = vm.waitForAttachAndMount(pod, 10_000, ctl.signal);
      ctl.abort();
      await assert.rejects(waiting, CancelledError);
      vm.removePod(uid);
      await vm.waitForUnmount(uid, 5_000);
      assert.ok(env.test.tearDowns >= 1, 'torn down, not forgotten');
      await waitFor('pod directory removed', async () => !(await exists(podDir(env.root, uid))), { timeoutMs: 5_000 });
    } finally {
      await stop();
    }
  });
});

describe('volume manager: reconstruction', () => {
  it('7a a Memory emptyDir of a pod still assigned is adopted: same tmpfs, same data, no second mount', async () => {
    const env = await newEnv();
    const ns = await createNamespace();
    const pod = await apiPod(env, ns, [{ name: 'mem', emptyDir: { medium: 'Memory' } }]);
    const uid = pod.metadata.uid!;
    const first = start(env);
    let path: string;
    let mountId: number;
    try {
      const mounted = await first.vm.waitForAttachAndMount(pod, 10_000);
      path = mounted.get('mem')!.path;
      await writeFile(join(path, 'before-restart'), 'kept');
      const m = (await mountUtil.listMounts()).filter((x) => x.mountPoint === path);
      assert.equal(m.length, 1);
      mountId = m[0].id;
      assert.equal(env.emptyDir.setUps, 1);
    } finally {
      await first.stop();
    }
    // The first instance is gone without unmounting; the tmpfs is still there.
    assert.deepEqual(await mountsBelow(env.root), [path]);

    const second = start(env);
    try {
      // The pod comes from the API's list of the node's pods; nobody called addPod.
      await waitFor('adopted', () => second.vm.mountedVolumes(uid).get('mem'), { timeoutMs: 10_000 });
      const mounted = await second.vm.waitForAttachAndMount(pod, 1_000);
      assert.equal(mounted.get('mem')!.path, path);
      assert.equal(await readFile(join(path, 'before-restart'), 'utf8'), 'kept');
      // A negative check needs a window: several passes (100 ms each) that could wrongly set up again.
      await new Promise((r) => setTimeout(r, 500));
      const m = (await mountUtil.listMounts()).filter((x) => x.mountPoint === path);
      assert.deepEqual(m.map((x) => x.id), [mountId]);
      assert.equal(env.emptyDir.setUps, 1, 'no setUp after the restart');

      second.vm.removePod(uid);
      await second.vm.waitForUnmount(uid, 10_000);
      assert.deepEqual(await mountsBelow(env.root), []);
    } finally {
      await second.stop();
    }
  });

  it('7b volumes of a pod no longer desired are unmounted at start and the pod directory removed', async () => {
    const env = await newEnv();
    const ns = await createNamespace();
    const pod = localPod(env, ns, [{ name: 'mem', emptyDir: { medium: 'Memory' } }, { name: 'disk', emptyDir: {} }]);
    const uid = pod.metadata.uid!;
    const first = start(env);
    try {
      const mounted = await first.vm.waitForAttachAndMount(pod, 10_000);
      await prepareSubPath(mountUtil, {
        volumePath: mounted.get('disk')!.path, subPath: 'logs', podDir: podDir(env.root, uid), volumeName: 'disk', containerName: 'c', volumeMountIndex: 0,
      });
    } finally {
      await first.stop();
    }
    assert.equal((await mountsBelow(env.root)).length, 2, 'the tmpfs and the subPath bind outlive the first instance');

    const second = start(env);
    try {
      await waitFor('orphan cleaned', async () => (await mountsBelow(env.root)).length === 0 && !(await exists(podDir(env.root, uid))), {
        timeoutMs: 10_000,
      });
      assert.deepEqual(await readdir(join(env.root, 'pods')), []);
      assert.deepEqual(second.vm.mountedVolumes(uid), new Map());
    } finally {
      await second.stop();
    }
  });
});

/** The same kubelet root and node name with fresh plugin instances (a restarted node agent). */
async function restartedEnv(env: Env): Promise<Env> {
  const next = await newEnv();
  const device = new DeviceTestPlugin(env.root);
  const host = { rootDir: env.root, mountUtil, objects: apiObjects(), nodeName: env.nodeName };
  const emptyDir = new CountingEmptyDirPlugin(new EmptyDirPlugin(host));
  const plugins = new VolumePluginManager([...builtinVolumePlugins(host).filter((p) => p.name !== EMPTY_DIR_PLUGIN_NAME), emptyDir, env.test, device]);
  return { ...env, device, emptyDir, options: { ...next.options, nodeName: env.nodeName, root: env.root, plugins } };
}

interface NodeVolumeStatus {
  volumesAttached?: { name: string; devicePath: string }[] | null;
  volumesInUse?: string[] | null;
}

/**
 * The kubelet's half of the node: the real NodeStatusManager registers the
 * Node and writes `status.volumesInUse` when the volume manager says it
 * changed, exactly as startKubelet wires them.
 */
async function startNodeStatus(env: Env, vm: VolumeManager): Promise<{ stop: () => Promise<void> }> {
  const nodeStatus = new NodeStatusManager({
    client,
    nodeName: env.nodeName,
    info: await readMachineInfo(env.root, '127.0.0.1'),
    port: 10250,
    logger: silentLogger(),
    volumesInUse: volumesInUseOf(vm),
  });
  await nodeStatus.register();
  const sub = vm.onVolumesInUseChange?.(() => nodeStatus.requestSync());
  const ctl = new AbortController();
  nodeStatus.requestSync();
  const running = nodeStatus.run(ctl.signal);
  return {
    stop: async () => {
      sub?.dispose();
      ctl.abort();
      await running;
    },
  };
}

/** What the AD controller would do: list the volume in the node's `status.volumesAttached`. */
async function setVolumesAttached(nodeName: string, attached: { name: string; devicePath: string }[]): Promise<void> {
  await client.patch(resourcePath(resources.nodes, undefined, nodeName, 'status'), { status: { volumesAttached: attached.length === 0 ? null : attached } });
}

async function nodeVolumeStatus(nodeName: string): Promise<NodeVolumeStatus> {
  const node = await client.get<KubeObject & { status?: NodeVolumeStatus }>(resourcePath(resources.nodes, undefined, nodeName));
  return node.status ?? {};
}

const inUseOnNode = async (nodeName: string): Promise<string[]> => (await nodeVolumeStatus(nodeName)).volumesInUse ?? [];

describe('volume manager: device-mountable volumes', () => {
  it('D1 waits for volumesAttached, mounts the device once for two pods, reports volumesInUse, unmounts the device after the last pod', async () => {
    const env = await newEnv();
    const ns = await createNamespace();
    const { vm, stop } = start(env);
    const node = await startNodeStatus(env, vm);
    const unique = 'volplane.test/device/disk1';
    const globalPath = join(env.device.mountsDir(), 'disk1');
    try {
      const podA = localPod(env, ns, [{ name: 'data', volplaneDevice: { id: 'disk1' } }]);
      const podB = localPod(env, ns, [{ name: 'shared', volplaneDevice: { id: 'disk1' } }]);
      vm.addPod(podA);
      // Desired is in use at once (before attach), so the AD controller knows the node is about to mount it.
      await waitFor('volumesInUse reported', async () => (await inUseOnNode(env.nodeName)).includes(unique), { timeoutMs: 5_000 });
      assert.deepEqual(vm.getVolumesInUse?.(), [unique]);
      const notYet = await vm.waitForAttachAndMount(podA, 300).then(() => undefined, (e: unknown) => e);
      assert.ok(notYet instanceof VolumeMountTimeoutError, String(notYet));
      assert.deepEqual(notYet.unattached, ['data']);
      assert.equal(env.device.calls.mountDevice, 0, 'nothing is mounted before the attach');

      await setVolumesAttached(env.nodeName, [{ name: unique, devicePath: '/dev/fake-1' }]);
      const mountedA = await vm.waitForAttachAndMount(podA, 10_000);
      assert.deepEqual(env.device.calls.waitForAttach, ['/dev/fake-1'], 'the devicePath from volumesAttached');
      assert.ok(await mountUtil.isMountPoint(globalPath));
      assert.ok(await mountUtil.isMountPoint(mountedA.get('data')!.path));
      await writeFile(join(mountedA.get('data')!.path, 'from-a'), 'a');

      const mountedB = await vm.waitForAttachAndMount(podB, 10_000);
      assert.equal(await readFile(join(mountedB.get('shared')!.path, 'from-a'), 'utf8'), 'a', 'one device shared by both pods');
      assert.equal(env.device.calls.mountDevice, 1, 'mountDevice once per volume per node');

      vm.removePod(podA.metadata.uid!);
      await vm.waitForUnmount(podA.metadata.uid!, 10_000);
      // Several passes that could wrongly unmount the device while pod B uses it.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(env.device.calls.unmountDevice, 0);
      assert.ok(await mountUtil.isMountPoint(globalPath));
      assert.deepEqual(await inUseOnNode(env.nodeName), [unique]);

      vm.removePod(podB.metadata.uid!);
      await vm.waitForUnmount(podB.metadata.uid!, 10_000);
      await waitFor('device unmounted', async () => env.device.calls.unmountDevice === 1 && !(await mountUtil.isMountPoint(globalPath)), { timeoutMs: 5_000 });
      await waitFor('volumesInUse emptied', async () => (await inUseOnNode(env.nodeName)).length === 0, { timeoutMs: 5_000 });
      assert.deepEqual(vm.getVolumesInUse?.(), []);
      assert.deepEqual(await mountsBelow(env.root), []);
    } finally {
      await node.stop();
      await stop();
    }
  });

  it('D2 a volume the node has not reported in use is not mounted, even when attached', async () => {
    const env = await newEnv();
    const ns = await createNamespace();
    const unique = 'volplane.test/device/early';
    const { vm, stop } = start(env);
    // A node object without the kubelet's status updater: nobody writes volumesInUse.
    await client.create(resourcePath(resources.nodes), { metadata: { name: env.nodeName } });
    try {
      await setVolumesAttached(env.nodeName, [{ name: unique, devicePath: '/dev/fake-2' }]);
      const pod = localPod(env, ns, [{ name: 'data', volplaneDevice: { id: 'early' } }]);
      await assert.rejects(vm.waitForAttachAndMount(pod, 500), VolumeMountTimeoutError);
      assert.equal(env.device.calls.waitForAttach.length, 0);
      await client.patch(resourcePath(resources.nodes, undefined, env.nodeName, 'status'), { status: { volumesInUse: [unique] } });
      await vm.waitForAttachAndMount(pod, 10_000);
      vm.removePod(pod.metadata.uid!);
      await vm.waitForUnmount(pod.metadata.uid!, 10_000);
      await waitFor('device unmounted', () => env.device.calls.unmountDevice === 1, { timeoutMs: 5_000 });
    } finally {
      await stop();
    }
  });

  const failureRows: { name: string; step: 'waitForAttach' | 'mountDevice'; attach: boolean; message: string }[] = [
    { name: 'D3a a failing waitForAttach: FailedMount with upstream wording, retried with backoff', step: 'waitForAttach', attach: true, message: 'MountVolume.WaitForAttach failed for volume "data" : /dev/fake-3 is not attached' },
    { name: 'D3b a failing mountDevice: FailedMount with upstream wording, retried with backoff', step: 'mountDevice', attach: false, message: 'MountVolume.MountDevice failed for volume "data" : boom' },
  ];
  for (const row of failureRows) {
    it(row.name, async () => {
      const env = await newEnv({ initialBackoffMs: 300 });
      const ns = await createNamespace();
      const id = `fail-${row.step}`;
      const { vm, stop } = start(env);
      const node = await startNodeStatus(env, vm);
      try {
        if (row.attach) await setVolumesAttached(env.nodeName, [{ name: `volplane.test/device/${id}`, devicePath: '/dev/fake-3' }]);
        env.device.failures[row.step] = 2;
        const pod = localPod(env, ns, [{ name: 'data', volplaneDevice: { id, attach: row.attach } }]);
        const started = Date.now();
        const mounted = await vm.waitForAttachAndMount(pod, 10_000);
        assert.ok(mounted.has('data'));
        // Attempts at ~0, 0.3 and 0.9 s: the third succeeds.
        assert.ok(Date.now() - started >= 800, `mounted after ${Date.now() - started} ms: backoff not applied`);
        const attempts = row.step === 'mountDevice' ? env.device.calls.mountDevice : env.device.calls.waitForAttach.length;
        assert.equal(attempts, 3);
        if (row.step === 'mountDevice') {
          const [t0, t1, t2] = env.device.mountDeviceTimes;
          assert.ok(t1 - t0 >= 250 && t2 - t1 >= 550, `gaps ${t1 - t0} ms, ${t2 - t1} ms`);
        }
        const events = await waitFor('one event per failed attempt', async () => {
          const e = await failedMountEvents(ns, pod.metadata.uid!);
          return e.length >= 2 && e;
        }, { timeoutMs: 3_000 });
        assert.deepEqual(events, [row.message, row.message]);
        assert.equal(env.device.calls.setUp, 1, 'setUp only after the device step succeeded');
        vm.removePod(pod.metadata.uid!);
        await vm.waitForUnmount(pod.metadata.uid!, 10_000);
        await waitFor('device unmounted', () => env.device.calls.unmountDevice === 1, { timeoutMs: 5_000 });
        assert.deepEqual(await mountsBelow(env.root), []);
      } finally {
        await node.stop();
        await stop();
      }
    });
  }

  const restartRows: { name: string; stillDesired: boolean; reboot: boolean }[] = [
    { name: 'D4a after a restart a device-mounted volume of a desired pod is adopted: no second mountDevice or setUp, still in use', stillDesired: true, reboot: false },
    { name: 'D4b after a restart a device-mounted volume of a pod deleted meanwhile gets tearDown, then unmountDevice', stillDesired: false, reboot: false },
    { name: 'D4c after a reboot (mounts gone, directories left) a desired volume gets mountDevice and setUp again', stillDesired: true, reboot: true },
  ];
  for (const row of restartRows) {
    it(row.name, async () => {
      const env = await newEnv();
      const ns = await createNamespace();
      const unique = 'volplane.test/device/kept';
      const globalPath = join(env.device.mountsDir(), 'kept');
      const pod = localPod(env, ns, [{ name: 'data', volplaneDevice: { id: 'kept', attach: false } }]);
      const uid = pod.metadata.uid!;
      const podPath = podVolumeDir(env.root, uid, env.device.name, 'data');
      const first = start(env);
      let mountId: number;
      try {
        const mounted = await first.vm.waitForAttachAndMount(pod, 10_000);
        await writeFile(join(mounted.get('data')!.path, 'before-restart'), 'kept');
        mountId = (await mountUtil.listMounts()).find((m) => m.mountPoint === globalPath)!.id;
        assert.equal(env.device.calls.mountDevice, 1);
      } finally {
        await first.stop();
      }
      if (row.reboot) {
        await mountUtil.unmount(podPath);
        await mountUtil.unmount(globalPath);
      }
      const env2 = await restartedEnv(env);
      const second = start(env2);
      // The kubelet's pod sources hand the pod over before the first pass (it is not in the API here).
      if (row.stillDesired) second.vm.addPod(pod);
      try {
        await waitFor('reconstructed', () => second.vm.reconcilerStatesHasBeenSynced?.() === true, { timeoutMs: 5_000 });
        if (row.stillDesired) {
          const mounted = await second.vm.waitForAttachAndMount(pod, 5_000);
          assert.deepEqual(second.vm.getVolumesInUse?.(), [unique]);
          await new Promise((r) => setTimeout(r, 300));
          if (row.reboot) {
            assert.equal(env2.device.calls.mountDevice, 1, 'the device is mounted again');
            assert.equal(env2.device.calls.setUp, 1, 'and bound into the pod again');
            assert.ok(await mountUtil.isMountPoint(mounted.get('data')!.path));
          } else {
            assert.equal(await readFile(join(mounted.get('data')!.path, 'before-restart'), 'utf8'), 'kept');
            assert.deepEqual(env2.device.calls, { waitForAttach: [], mountDevice: 0, unmountDevice: 0, setUp: 0, tearDown: 0 });
            assert.deepEqual((await mountUtil.listMounts()).filter((m) => m.mountPoint === globalPath).map((m) => m.id), [mountId], 'the same device mount');
          }
          second.vm.removePod(uid);
          await second.vm.waitForUnmount(uid, 10_000);
        }
        // The device leaves volumesInUse once unmountDevice has returned.
        await waitFor('torn down and device unmounted', async () => second.vm.getVolumesInUse?.().length === 0 && (await mountsBelow(env.root)).length === 0, {
          timeoutMs: 10_000,
        });
        assert.equal(env2.device.calls.tearDown, 1);
        assert.equal(env2.device.calls.unmountDevice, 1);
        assert.equal(env2.device.calls.mountDevice, row.reboot ? 1 : 0);
        assert.ok(!(await exists(globalPath)), 'the device mount directory is removed');
        await waitFor('pod directory removed', async () => !(await exists(podDir(env.root, uid))), { timeoutMs: 5_000 });
      } finally {
        await second.stop();
      }
    });
  }
});

describe('volume manager: FlexVolume volplane/loop (attach by hand, as the AD controller would)', () => {
  const examples = join(dirname(fileURLToPath(import.meta.url)), '../../../examples/flexvolume');
  const losetupJ = (file: string): string => execFileSync('losetup', ['-j', file], { encoding: 'utf8' }).trim();
  const blkidUuid = (device: string): string => execFileSync('blkid', ['-p', '-s', 'UUID', '-o', 'value', device], { encoding: 'utf8' }).trim();
  let backingFile = '';
  after(() => {
    // A failed run may leave the loop device; the mounts are removed by the suite's after().
    if (backingFile === '') return;
    for (const line of losetupJ(backingFile).split('\n').filter((l) => l !== '')) execFileSync('losetup', ['-d', line.split(':')[0]]);
  });

  /** An env whose plugins include volplane/loop, installed from examples/ into the root's own plugin dir. */
  async function flexEnv(base: Env): Promise<{ env: Env; flex: FlexVolumePlugin }> {
    const execDir = join(base.root, 'exec');
    const driver = join(execDir, 'volplane~loop', 'loop');
    await mkdir(dirname(driver), { recursive: true });
    await copyFile(join(examples, 'volplane~loop', 'loop'), driver);
    await chmod(driver, 0o755);
    const host = { rootDir: base.root, mountUtil, objects: apiObjects(), nodeName: base.nodeName };
    const flex = new FlexVolumePlugin({ host, pluginDir: execDir, dirName: 'volplane~loop' });
    await flex.init();
    const plugins = new VolumePluginManager([...builtinVolumePlugins(host), flex]);
    return { env: { ...base, options: { ...base.options, plugins } }, flex };
  }

  it('F1 waitforattach → mountdevice once → bind into the pod; a restart adopts it without reformatting; removal unmounts the device', async () => {
    const base = await newEnv();
    const ns = await createNamespace();
    const data = join(base.root, 'data');
    process.env.VOLPLANE_LOOP_STATE_DIR = join(base.root, 'loop-state');
    backingFile = join(data, 'data.img');
    const { env, flex } = await flexEnv(base);
    const volume: PodVolume = { name: 'data', flexVolume: { driver: 'volplane/loop', fsType: 'ext4', options: { dir: data, size: '16Mi' } } };
    const spec: VolumeSpec = { volume, readOnly: false };
    const pod = localPod(env, ns, [volume]);
    const uid = pod.metadata.uid!;
    const unique = flexUniqueVolumeName('volplane/loop', 'data');
    const globalPath = join(flexMountsDir(env.root, 'volplane/loop'), 'data');
    const attacher = flex.attacher!;

    const first = start(env);
    const node1 = await startNodeStatus(env, first.vm);
    let device = '';
    let uuid = '';
    let mountId = 0;
    try {
      first.vm.addPod(pod);
      await waitFor('volumesInUse reported', async () => (await inUseOnNode(env.nodeName)).includes(unique), { timeoutMs: 10_000 });
      device = await attacher.attach(spec, env.nodeName, AbortSignal.timeout(20_000));
      await setVolumesAttached(env.nodeName, [{ name: unique, devicePath: device }]);
      const mounted = await first.vm.waitForAttachAndMount(pod, 30_000);
      const path = mounted.get('data')!.path;
      assert.equal(path, podVolumeDir(env.root, uid, 'volplane/loop', 'data'));
      const mounts = await mountUtil.listMounts();
      const global = mounts.find((m) => m.mountPoint === globalPath);
      assert.equal(global?.source, device);
      assert.equal(global?.fsType, 'ext4');
      assert.ok(mounts.some((m) => m.mountPoint === path && m.majorMinor === global.majorMinor), 'the pod directory is a bind of the device mount');
      mountId = global.id;
      uuid = blkidUuid(device);
      await writeFile(join(path, 'before-restart'), 'kept');
    } finally {
      await node1.stop();
      await first.stop();
    }

    const { env: env2 } = await flexEnv(await restartedEnv(env));
    const second = start(env2);
    second.vm.addPod(pod);
    const node2 = await startNodeStatus(env2, second.vm);
    try {
      const mounted = await second.vm.waitForAttachAndMount(pod, 10_000);
      assert.equal(await readFile(join(mounted.get('data')!.path, 'before-restart'), 'utf8'), 'kept');
      assert.deepEqual(second.vm.getVolumesInUse?.(), [unique]);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual((await mountUtil.listMounts()).filter((m) => m.mountPoint === globalPath).map((m) => m.id), [mountId], 'the device is not mounted again');
      assert.equal(blkidUuid(device), uuid, 'never reformatted');

      second.vm.removePod(uid);
      await second.vm.waitForUnmount(uid, 20_000);
      await waitFor('device unmounted and no longer in use', async () => second.vm.getVolumesInUse?.().length === 0 && !(await mountUtil.isMountPoint(globalPath)), {
        timeoutMs: 20_000,
      });
      await waitFor('volumesInUse emptied on the node', async () => (await inUseOnNode(env.nodeName)).length === 0, { timeoutMs: 5_000 });
      // Now the AD controller may detach.
      await attacher.detach('data', env.nodeName, AbortSignal.timeout(20_000));
      await setVolumesAttached(env.nodeName, []);
      assert.equal(losetupJ(backingFile), '', 'the loop device is released');
      assert.deepEqual(await mountsBelow(env.root), []);
    } finally {
      await node2.stop();
      await second.stop();
    }
  });
});
