// The volume manager against real mounts (tmpfs, binds) on `volplane-` temp
// roots and a real API server for claims, PVs, configMaps and events. Each
// row has its own kubelet root and node name, so reconstruction in one row
// never sees another row's pods.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../apimachinery/index.ts';
import { CancelledError, silentLogger, waitFor } from '../../base/index.ts';
import { ApiError, EventRecorder, resourcePath, resources, RestClient } from '../../client/index.ts';
import { findLeaks, startTestCluster, type TestCluster } from '../../testing/index.ts';
import {
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
import { podVolumeDir } from '../../volume/index.ts';
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

interface Env {
  root: string;
  nodeName: string;
  test: TestPlugin;
  emptyDir: CountingEmptyDirPlugin;
  options: VolumeManagerOptions;
}

async function newEnv(overrides: Partial<VolumeManagerOptions> = {}): Promise<Env> {
  const root = await mkdtemp(join(tmpdir(), 'volplane-vm-'));
  roots.push(root);
  const nodeName = `node-${randomUUID().slice(0, 8)}`;
  const test = new TestPlugin(root);
  const host = { rootDir: root, mountUtil, objects: apiObjects(), nodeName };
  const emptyDir = new CountingEmptyDirPlugin(new EmptyDirPlugin(host));
  const plugins = new VolumePluginManager([
    ...builtinVolumePlugins(host).filter((p) => p.name !== EMPTY_DIR_PLUGIN_NAME),
    emptyDir,
    test,
  ]);
  return {
    root,
    nodeName,
    test,
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
