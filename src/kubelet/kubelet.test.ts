// The kubelet against a real in-process API server, with the stateful fake
// runtime and volume manager (test-fakes.ts). Rows are numbered worlds: the
// pod created, what the node must make of it (status, events, runtime calls).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, KubeList } from '../apimachinery/index.ts';
import { resourcePath, resources, type CoreEvent } from '../client/index.ts';
import { hasKubectl, startControllerEnv, waitForState, type ControllerEnv } from '../testing/index.ts';
import { startKubelet, type Kubelet } from './index.ts';
import { FakeRuntime, FakeVolumeManager } from './test-fakes.ts';
import type { ContainerStatus, Pod } from './types.ts';

const NODE = 'node-a';
const FAST = {
  nodeStatusUpdateFrequencyMs: 200,
  leaseRenewIntervalMs: 200,
  restartBackoff: { initialMs: 400, maxMs: 1600 },
  imageBackoff: { initialMs: 400, maxMs: 1600 },
  volumeMountTimeoutMs: 400,
};

interface World {
  env: ControllerEnv;
  runtime: FakeRuntime;
  volumes: FakeVolumeManager;
  kubelet: Kubelet;
}

async function startNode(env: ControllerEnv, runtime: FakeRuntime, volumes: FakeVolumeManager): Promise<Kubelet> {
  return startKubelet({
    client: env.client,
    nodeName: NODE,
    root: `${env.cluster.dataDir}/node`,
    runtime,
    volumeManager: volumes,
    logger: env.logger,
    recorder: env.recorder.withComponent('kubelet', NODE),
    address: '10.1.2.3',
    timing: FAST,
  });
}

function pod(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, ...spec },
  };
}

async function getPod(w: World, ns: string, name: string): Promise<Pod | undefined> {
  try {
    return await w.env.client.get<Pod>(resourcePath(resources.pods, ns, name));
  } catch {
    return undefined;
  }
}

/** waitForState over a pod that must exist once the state is reached. */
async function waitForPod(what: string, observe: () => Promise<Pod | undefined>, problems: (p: Pod | undefined) => string | undefined, options?: { timeoutMs?: number }): Promise<Pod> {
  const p = await waitForState(what, observe, (p) => (p === undefined ? 'no pod' : problems(p)), options);
  assert.ok(p !== undefined);
  return p;
}

async function events(w: World, ns: string): Promise<CoreEvent[]> {
  const list = await w.env.client.get<KubeList<CoreEvent>>(resourcePath(resources.events, ns));
  return list.items;
}

function cs(p: Pod | undefined, name = 'main'): ContainerStatus | undefined {
  return p?.status?.containerStatuses?.find((c) => c.name === name);
}

function waitingReason(s: ContainerStatus | undefined): string | undefined {
  return s !== undefined && 'waiting' in s.state ? s.state.waiting.reason : undefined;
}

/** A problem string for waitForState: undefined only when the container waits for `reason`. */
function unlessWaiting(s: ContainerStatus | undefined, reason: string): string | undefined {
  const got = waitingReason(s);
  return got === reason ? undefined : `waiting for ${reason}, container is ${got ?? JSON.stringify(s?.state)}`;
}

function hasEvent(list: CoreEvent[], reason: string, message: RegExp | string): boolean {
  return list.some((e) => e.reason === reason && (typeof message === 'string' ? e.message === message : message.test(e.message)));
}

test('kubelet with fake runtime and volume manager', async (t) => {
  const env = await startControllerEnv();
  const runtime = new FakeRuntime(['busybox']);
  const volumes = new FakeVolumeManager();
  const w: World = { env, runtime, volumes, kubelet: await startNode(env, runtime, volumes) };
  t.after(async () => {
    await w.kubelet.stop();
    await runtime.close();
    await env.close();
  });

  await t.test('1-1 the node registers with labels, capacity, conditions, addresses and nodeInfo', async () => {
    const node = await waitForState(
      'node registered',
      () => env.client.get(resourcePath(resources.nodes, undefined, NODE)),
      (n) => ((n.status as { conditions?: unknown[] } | undefined)?.conditions === undefined ? 'no conditions yet' : undefined),
    );
    const labels = node.metadata.labels ?? {};
    assert.equal(labels['kubernetes.io/hostname'], NODE);
    assert.equal(labels['kubernetes.io/os'], 'linux');
    assert.ok(labels['kubernetes.io/arch'] !== undefined && labels['kubernetes.io/arch'] !== '');
    const status = node.status as Record<string, Record<string, unknown>>;
    assert.equal(status.capacity.pods, '110');
    assert.ok(status.capacity.cpu !== undefined && status.capacity.memory !== undefined && status.capacity['ephemeral-storage'] !== undefined);
    const ready = (status.conditions as unknown as { type: string; status: string; reason: string; message: string }[]).find((c) => c.type === 'Ready');
    assert.deepEqual([ready?.status, ready?.reason, ready?.message], ['True', 'KubeletReady', 'kubelet is posting ready status']);
    assert.deepEqual(status.addresses, [
      { type: 'InternalIP', address: '10.1.2.3' },
      { type: 'Hostname', address: w.kubelet.machine.hostname },
    ]);
    assert.deepEqual(status.daemonEndpoints, { kubeletEndpoint: { Port: 10250 } });
    assert.equal(status.nodeInfo.kubeletVersion, 'v1.32.0-volplane');
    assert.equal(status.nodeInfo.containerRuntimeVersion, 'volplane://0.1.0');
    assert.equal(status.nodeInfo.operatingSystem, 'linux');
  });

  await t.test('1-2 the lease is held by the node and renewed', async () => {
    const path = resourcePath(resources.leases, 'kube-node-lease', NODE);
    const first = await waitForState('lease', () => env.client.get<{ spec: { renewTime: string } } & KubeObject>(path), () => undefined);
    assert.equal((first.spec as { holderIdentity?: string }).holderIdentity, NODE);
    assert.equal((first.spec as { leaseDurationSeconds?: number }).leaseDurationSeconds, 40);
    assert.equal(first.metadata.ownerReferences?.[0]?.kind, 'Node');
    await waitForState('lease renewed', () => env.client.get<{ spec: { renewTime: string } } & KubeObject>(path), (l) => (l.spec.renewTime === first.spec.renewTime ? 'renewTime unchanged' : undefined));
  });

  await t.test('1-3 an unchanged status is not written again', async () => {
    const path = resourcePath(resources.nodes, undefined, NODE);
    const before = await env.client.get(path);
    // Several status intervals (200 ms each) with nothing changed.
    await new Promise((r) => setTimeout(r, 1000));
    const after = await env.client.get(path);
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
  });

  await t.test('1-4 kubectl get nodes and describe node', { skip: !hasKubectl() && 'kubectl is not installed' }, async () => {
    const { stdout } = await env.cluster.kubectl(['get', 'nodes']);
    assert.match(stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s*$/m);
    assert.match(stdout, new RegExp(`^${NODE}\\s+Ready\\s+<none>\\s+\\S+\\s+v1\\.32\\.0-volplane\\s*$`, 'm'));
    const wide = await env.cluster.kubectl(['get', 'nodes', '-o', 'wide']);
    assert.match(wide.stdout, /10\.1\.2\.3/);
    assert.match(wide.stdout, /volplane:\/\/0\.1\.0/);
    const describe = await env.cluster.kubectl(['describe', 'node', NODE]);
    assert.match(describe.stdout, new RegExp(`HolderIdentity:\\s+${NODE}`));
    assert.match(describe.stdout, /RenewTime:\s+\w{3}, \d{2} \w{3} \d{4}/);
    assert.match(describe.stdout, /Ready\s+True\s.*KubeletReady\s+kubelet is posting ready status/);
  });

  let nsCount = 0;
  const row = async (name: string, fn: (ns: string) => Promise<void>): Promise<void> => {
    await t.test(name, async () => {
      const ns = `row-${++nsCount}`;
      await env.createNamespace(ns);
      await fn(ns);
    });
  };
  const create = (obj: KubeObject): Promise<KubeObject> => env.client.create(resourcePath(resources.pods, obj.metadata.namespace), obj);

  await row('2-1 a pod with one container becomes Running and Ready, with upstream events', async (ns) => {
    await create(pod(ns, 'p', { containers: [{ name: 'main', image: 'busybox', command: ['sleep', '86400'] }] }));
    const p = await waitForPod('running', () => getPod(w, ns, 'p'), (p) => (p?.status?.phase === 'Running' && cs(p)?.ready === true ? undefined : `phase ${p?.status?.phase}`));
    const s = cs(p)!;
    assert.ok('running' in s.state);
    assert.match(s.containerID ?? '', /^volplane:\/\/fake\d+$/);
    assert.equal(s.restartCount, 0);
    assert.equal(s.started, true);
    assert.equal(s.imageID, 'docker.io/library/busybox:latest');
    assert.equal(p.status?.hostIP, '10.1.2.3');
    assert.equal(p.status?.podIP, '10.1.2.3');
    assert.ok(p.status?.startTime !== undefined);
    assert.equal(p.status?.qosClass, 'BestEffort');
    const conds = Object.fromEntries((p.status?.conditions ?? []).map((c) => [c.type, c.status]));
    assert.deepEqual(conds, { PodReadyToStartContainers: 'True', Initialized: 'True', Ready: 'True', ContainersReady: 'True', PodScheduled: 'True' });
    const ev = await waitForState('events', () => events(w, ns), (l) => (hasEvent(l, 'Started', 'Started container main') ? undefined : 'no Started event'));
    assert.ok(hasEvent(ev, 'Pulled', 'Container image "busybox" already present on machine'));
    assert.ok(hasEvent(ev, 'Created', 'Created container: main'));
    assert.equal(ev.find((e) => e.reason === 'Started')?.source.component, 'kubelet');
  });

  await row('2-2 restartPolicy Never: exit 0 → Succeeded, exit 1 → Failed; nothing restarts', async (ns) => {
    await create(pod(ns, 'ok', { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['exit', '0'] }] }));
    await create(pod(ns, 'bad', { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['exit', '1'] }] }));
    const ok = await waitForPod('succeeded', () => getPod(w, ns, 'ok'), (p) => (p?.status?.phase === 'Succeeded' ? undefined : `phase ${p?.status?.phase}`));
    const bad = await waitForPod('failed', () => getPod(w, ns, 'bad'), (p) => (p?.status?.phase === 'Failed' ? undefined : `phase ${p?.status?.phase}`));
    const okState = cs(ok)!.state;
    assert.ok('terminated' in okState && okState.terminated.exitCode === 0 && okState.terminated.reason === 'Completed');
    const badState = cs(bad)!.state;
    assert.ok('terminated' in badState && badState.terminated.exitCode === 1 && badState.terminated.reason === 'Error');
    assert.equal(cs(bad)!.restartCount, 0);
    const ready = bad.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    // Terminal pods give their volumes back.
    await waitForState('volumes released', async () => volumes.removed, (r) => (r.includes(ok.metadata.uid!) ? undefined : 'ok pod not removed from the volume manager'));
  });

  await row('2-3 restartPolicy OnFailure restarts a failing container, not a succeeding one', async (ns) => {
    await create(pod(ns, 'p', { restartPolicy: 'OnFailure', containers: [{ name: 'main', image: 'busybox', command: ['exit', '1'] }] }));
    await create(pod(ns, 'done', { restartPolicy: 'OnFailure', containers: [{ name: 'main', image: 'busybox', command: ['exit', '0'] }] }));
    const p = await waitForPod('restarted', () => getPod(w, ns, 'p'), (p) => ((cs(p)?.restartCount ?? 0) >= 1 ? undefined : `restartCount ${cs(p)?.restartCount}`));
    assert.equal(p.status?.phase, 'Running');
    const last = cs(p)!.lastState;
    assert.ok('terminated' in last && last.terminated.exitCode === 1);
    await waitForState('done succeeded', () => getPod(w, ns, 'done'), (p) => (p?.status?.phase === 'Succeeded' ? undefined : `phase ${p?.status?.phase}`));
  });

  await row('2-4 restartPolicy Always: a crashing container goes into CrashLoopBackOff with growing back-off', async (ns) => {
    const created = await create(pod(ns, 'p', { containers: [{ name: 'main', image: 'busybox', command: ['exit', '2'] }] }));
    const p = await waitForPod(
      'crash loop',
      () => getPod(w, ns, 'p'),
      (p) => (waitingReason(cs(p)) === 'CrashLoopBackOff' && (cs(p)?.restartCount ?? 0) >= 2 ? undefined : `${waitingReason(cs(p))} restarts ${cs(p)?.restartCount}`),
      { timeoutMs: 15_000 },
    );
    const s = cs(p)!;
    assert.ok('waiting' in s.state);
    assert.match(s.state.waiting.message ?? '', new RegExp(`^back-off \\d+(\\.\\d+)?m?s restarting failed container=main pod=p_${ns}\\(${created.metadata.uid}\\)$`));
    assert.ok('terminated' in s.lastState && s.lastState.terminated.exitCode === 2);
    assert.equal(p.status?.phase, 'Running');
    const ev = await waitForState('BackOff event', () => events(w, ns), (l) => (hasEvent(l, 'BackOff', `Back-off restarting failed container main in pod p_${ns}(${created.metadata.uid})`) ? undefined : 'no BackOff'));
    assert.equal(ev.find((e) => e.reason === 'BackOff')?.type, 'Warning');
  });

  await row('2-5 an unknown image: ErrImagePull, then ImagePullBackOff — only after the volumes are mounted', async (ns) => {
    volumes.slow.add('slow-data');
    await create(pod(ns, 'p', { volumes: [{ name: 'slow-data', emptyDir: {} }], containers: [{ name: 'main', image: 'nope:1.0' }] }));
    const early = await waitForPod('container creating', () => getPod(w, ns, 'p'), (p) => (waitingReason(cs(p)) === undefined ? 'no status yet' : undefined));
    if (waitingReason(cs(early)) === 'ContainerCreating') {
      assert.equal(early.status?.conditions?.find((c) => c.type === 'PodReadyToStartContainers')?.status, 'False');
    }
    // ErrImagePull lasts only until the first back-off starts, so a poll may see either
    // reason first; the events below prove ErrImagePull happened.
    const pulled = await waitForPod('ErrImagePull or ImagePullBackOff', () => getPod(w, ns, 'p'), (p) =>
      unlessWaiting(cs(p), 'ErrImagePull') === undefined || unlessWaiting(cs(p), 'ImagePullBackOff') === undefined ? undefined : 'no image error yet',
    );
    assert.match((cs(pulled)!.state as { waiting: { message: string } }).waiting.message, /nope:1\.0/);
    await waitForState('ImagePullBackOff', () => getPod(w, ns, 'p'), (p) => unlessWaiting(cs(p), 'ImagePullBackOff'));
    const ev = await waitForState('events', () => events(w, ns), (l) => (hasEvent(l, 'Failed', 'Error: ImagePullBackOff') ? undefined : 'no ImagePullBackOff event'));
    assert.ok(hasEvent(ev, 'Failed', /^Failed to pull image "nope:1\.0": /));
    assert.ok(hasEvent(ev, 'Failed', 'Error: ErrImagePull'));
    assert.ok(hasEvent(ev, 'BackOff', 'Back-off pulling image "nope:1.0"'));
    assert.equal(runtime.started.filter((s) => s.podNamespace === ns).length, 0);
    volumes.slow.delete('slow-data');
  });

  await row('2-6 init containers run one at a time, each to completion, before the regular containers', async (ns) => {
    await create(
      pod(ns, 'p', {
        initContainers: [
          { name: 'init-1', image: 'busybox', command: ['exit-after', '150', '0'] },
          { name: 'init-2', image: 'busybox', command: ['exit', '0'] },
        ],
        containers: [{ name: 'main', image: 'busybox', command: ['sleep', '1d'] }],
      }),
    );
    const p = await waitForPod('running', () => getPod(w, ns, 'p'), (p) => (p?.status?.phase === 'Running' ? undefined : `phase ${p?.status?.phase}`));
    assert.deepEqual(runtime.started.filter((s) => s.podNamespace === ns).map((s) => s.name), ['init-1', 'init-2', 'main']);
    assert.deepEqual(p.status?.initContainerStatuses?.map((s) => [s.name, s.ready, 'terminated' in s.state ? s.state.terminated.reason : '']), [
      ['init-1', true, 'Completed'],
      ['init-2', true, 'Completed'],
    ]);
  });

  await row('2-7 a failing init container is retried; regular containers wait (Init:CrashLoopBackOff)', async (ns) => {
    await create(pod(ns, 'p', { initContainers: [{ name: 'init', image: 'busybox', command: ['exit', '1'] }], containers: [{ name: 'main', image: 'busybox' }] }));
    const p = await waitForPod('init crash loop', () => getPod(w, ns, 'p'), (p) => (waitingReason(p?.status?.initContainerStatuses?.[0]) === 'CrashLoopBackOff' ? undefined : 'not yet'), { timeoutMs: 15_000 });
    assert.equal(p.status?.phase, 'Pending');
    assert.equal(waitingReason(cs(p)), 'PodInitializing');
    const init = p.status?.conditions?.find((c) => c.type === 'Initialized');
    assert.deepEqual([init?.status, init?.reason, init?.message], ['False', 'ContainersNotInitialized', 'containers with incomplete status: [init]']);
    assert.equal(runtime.started.filter((s) => s.podNamespace === ns && s.name === 'main').length, 0);
  });

  await row('2-8 env from values, fieldRefs, configMap and secret keys; $(VAR) in args; one mount per volumeMount', async (ns) => {
    await env.client.create(resourcePath(resources.configMaps, ns), { metadata: { name: 'cm' }, data: { color: 'blue' } });
    await env.client.create(resourcePath(resources.secrets, ns), { metadata: { name: 's' }, data: { password: Buffer.from('hunter2').toString('base64') } });
    await create(
      pod(ns, 'p', {
        volumes: [{ name: 'data', emptyDir: {} }],
        containers: [
          {
            name: 'main',
            image: 'busybox',
            command: ['echo'],
            args: ['$(GREETING) from $(POD_NAME)', '$$(literal)'],
            workingDir: '/work',
            env: [
              { name: 'GREETING', value: 'hello' },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
              { name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'cm', key: 'color' } } },
              { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 's', key: 'password' } } },
            ],
            volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true }],
          },
        ],
      }),
    );
    const found = await waitForState('started', async () => runtime.started.find((s) => s.podNamespace === ns), (s) => (s === undefined ? 'not started' : undefined));
    assert.ok(found !== undefined);
    const started = found;
    assert.deepEqual(started.env, [
      { name: 'GREETING', value: 'hello' },
      { name: 'POD_NAME', value: 'p' },
      { name: 'NODE', value: NODE },
      { name: 'COLOR', value: 'blue' },
      { name: 'PASSWORD', value: 'hunter2' },
    ]);
    assert.deepEqual(started.command, ['echo']);
    assert.deepEqual(started.args, ['hello from p', '$(literal)']);
    assert.equal(started.workingDir, '/work');
    assert.deepEqual(started.mounts, [{ hostPath: `/fake-root/pods/${started.podUid}/volumes/fake/data`, containerPath: '/data', readOnly: true }]);
  });

  await row('2-9 a missing configMap: CreateContainerConfigError with the upstream message', async (ns) => {
    await create(pod(ns, 'p', { containers: [{ name: 'main', image: 'busybox', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'absent', key: 'k' } } }] }] }));
    const p = await waitForPod('config error', () => getPod(w, ns, 'p'), (p) => unlessWaiting(cs(p), 'CreateContainerConfigError'));
    assert.equal((cs(p)!.state as { waiting: { message: string } }).waiting.message, 'configmap "absent" not found');
    await waitForState('event', () => events(w, ns), (l) => (hasEvent(l, 'Failed', 'Error: configmap "absent" not found') ? undefined : 'no event'));
  });

  await row('2-10 volumes that never mount: FailedMount, and no container starts', async (ns) => {
    volumes.blocked.add('stuck');
    await create(pod(ns, 'p', { volumes: [{ name: 'stuck', emptyDir: {} }], containers: [{ name: 'main', image: 'busybox' }] }));
    const ev = await waitForState('FailedMount', () => events(w, ns), (l) => (l.some((e) => e.reason === 'FailedMount') ? undefined : 'no FailedMount'));
    const e = ev.find((x) => x.reason === 'FailedMount')!;
    assert.equal(e.type, 'Warning');
    assert.equal(e.message, 'Unable to attach or mount volumes: unmounted volumes=[stuck], unattached volumes=[], failed to process volumes=[]: timed out waiting for the condition');
    const p = await getPod(w, ns, 'p');
    assert.equal(waitingReason(cs(p)), 'ContainerCreating');
    assert.equal(runtime.started.filter((s) => s.podNamespace === ns).length, 0);
    volumes.blocked.delete('stuck');
    await waitForState('running after the volume mounts', () => getPod(w, ns, 'p'), (p) => (p?.status?.phase === 'Running' ? undefined : `phase ${p?.status?.phase}`));
  });

  await row('2-11 deletion: containers stopped with the grace period (Killing), volumes released, pod deleted', async (ns) => {
    const created = await create(pod(ns, 'p', { terminationGracePeriodSeconds: 7, containers: [{ name: 'main', image: 'busybox' }] }));
    const uid = created.metadata.uid!;
    await waitForState('running', () => getPod(w, ns, 'p'), (p) => (p?.status?.phase === 'Running' ? undefined : 'not running'));
    const id = runtime.listContainers().find((c) => c.podUid === uid)!.id;
    await env.client.delete(resourcePath(resources.pods, ns, 'p'));
    await waitForState('pod gone', () => getPod(w, ns, 'p'), (p) => (p === undefined ? undefined : 'still there'));
    assert.deepEqual(runtime.stopped.find((s) => s.id === id), { id, graceSeconds: 7 });
    assert.equal(runtime.listContainers().filter((c) => c.podUid === uid).length, 0);
    assert.ok(volumes.removed.includes(uid));
    const ev = await waitForState('Killing', () => events(w, ns), (l) => (hasEvent(l, 'Killing', 'Stopping container main') ? undefined : 'no Killing'));
    assert.ok(ev.length > 0);
  });

  await row('2-12 subPath without a mount utility is refused with an event', async (ns) => {
    await create(pod(ns, 'p', { volumes: [{ name: 'data', emptyDir: {} }], containers: [{ name: 'main', image: 'busybox', volumeMounts: [{ name: 'data', mountPath: '/d', subPath: 'x' }] }] }));
    await waitForState('refused', () => getPod(w, ns, 'p'), (p) => unlessWaiting(cs(p), 'CreateContainerConfigError'));
    await waitForState('event', () => events(w, ns), (l) => (hasEvent(l, 'Failed', /subPath "x" is not supported/) ? undefined : 'no event'));
  });

  await row('3-1 after a kubelet restart, running containers are adopted, not restarted; orphans are torn down', async (ns) => {
    const kept = await create(pod(ns, 'kept', { containers: [{ name: 'main', image: 'busybox' }] }));
    const orphan = await create(pod(ns, 'orphan', { containers: [{ name: 'main', image: 'busybox' }] }));
    await waitForState('both running', async () => Promise.all([getPod(w, ns, 'kept'), getPod(w, ns, 'orphan')]), (ps) => (ps.every((p) => p?.status?.phase === 'Running') ? undefined : 'not running'));
    const before = runtime.listContainers().find((c) => c.podUid === kept.metadata.uid)!;
    // Only this pod's starts count: crash-looping pods of earlier rows restart at once after a kubelet restart.
    const startsOfKept = (): number => runtime.started.filter((s) => s.podUid === kept.metadata.uid).length;
    const startsBefore = startsOfKept();
    await w.kubelet.stop();
    // While the kubelet is down the orphan's pod is force-deleted.
    await env.client.delete(resourcePath(resources.pods, ns, 'orphan'), { gracePeriodSeconds: 0 });
    w.kubelet = await startNode(env, runtime, volumes);
    await waitForState('orphan torn down', async () => runtime.listContainers().filter((c) => c.podUid === orphan.metadata.uid), (l) => (l.length === 0 ? undefined : `${l.length} containers left`));
    const after = runtime.listContainers().find((c) => c.podUid === kept.metadata.uid);
    assert.equal(after?.id, before.id);
    assert.equal(after?.status.state, 'running');
    assert.equal(startsOfKept(), startsBefore);
    const p = await getPod(w, ns, 'kept');
    assert.equal(cs(p)?.restartCount, 0);
    assert.equal(cs(p)?.containerID, `volplane://${before.id}`);
  });
});
