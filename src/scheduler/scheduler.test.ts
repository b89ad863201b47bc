// The scheduler against a real in-process volplane running the PV controller
// (`persistentvolume-binder`). Each row is a small world in its own
// namespace: the nodes (created here, Ready, with the hostname label), the
// classes, volumes and claims that exist before, then steps — an action and
// the state that must follow (pods on nodes, claims bound, events with
// Kubernetes' exact wording). A row's nodes and pods are removed when it
// ends, so the next row sees only its own nodes.

import { after, before, describe, it } from 'node:test';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/core/volume-types.ts';
import type { KubeList, KubeObject } from '../apimachinery/index.ts';
import { resourcePath, resources, type RestClient } from '../client/index.ts';
import { startControllerEnv, waitForState, type ControllerEnv } from '../testing/index.ts';
import { startScheduler } from './index.ts';
import type { Node, Pod } from './types.ts';

interface Event extends KubeObject {
  involvedObject: { kind?: string; name: string };
  reason: string;
  type: string;
  message: string;
  source?: { component?: string };
}

interface World {
  pods: Map<string, Pod>;
  claims: Map<string, PersistentVolumeClaim>;
  volumes: Map<string, PersistentVolume>;
  events: Event[];
}

interface Env {
  client: RestClient;
  ns: string;
}

interface Step {
  what: string;
  act?: (env: Env, world: World) => Promise<void>;
  want: (world: World) => string | undefined;
}

interface Row {
  name: string;
  nodes: Node[];
  classes?: StorageClass[];
  /** PVs are cluster-scoped: give them names unique to the row. */
  volumes?: PersistentVolume[];
  claims?: PersistentVolumeClaim[];
  steps: Step[];
}

// ---------------------------------------------------------------------------
// Builders

function node(name: string, labels: Record<string, string> = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
    spec: {},
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }] },
  };
}

function pod(name: string, opts: { claims?: string[]; nodeSelector?: Record<string, string> } = {}): Pod {
  const claims = opts.claims ?? [];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      containers: [{ name: 'nginx', image: 'nginx', volumeMounts: claims.map((_, i) => ({ name: `data${i}`, mountPath: `/data${i}` })) }],
      volumes: claims.map((c, i) => ({ name: `data${i}`, persistentVolumeClaim: { claimName: c } })),
      ...(opts.nodeSelector === undefined ? {} : { nodeSelector: opts.nodeSelector }),
    },
  };
}

function claim(name: string, opts: { klass?: string; size?: string; modes?: string[]; volumeName?: string } = {}): PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name },
    spec: {
      accessModes: (opts.modes ?? ['ReadWriteOnce']) as PersistentVolumeClaim['spec']['accessModes'],
      resources: { requests: { storage: opts.size ?? '1Gi' } },
      storageClassName: opts.klass ?? '',
      ...(opts.volumeName === undefined ? {} : { volumeName: opts.volumeName }),
    },
  };
}

function localVolume(name: string, onNode: string, opts: { klass?: string; modes?: string[]; policy?: 'Delete' | 'Retain' } = {}): PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name },
    spec: {
      capacity: { storage: '5Gi' },
      volumeMode: 'Filesystem',
      accessModes: (opts.modes ?? ['ReadWriteOnce']) as PersistentVolume['spec']['accessModes'],
      persistentVolumeReclaimPolicy: opts.policy ?? 'Retain',
      storageClassName: opts.klass ?? '',
      local: { path: `/data/${name}` },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [onNode] }] }] } },
    },
  };
}

function storageClass(name: string, provisioner: string): StorageClass {
  return { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner, reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer' };
}

// ---------------------------------------------------------------------------
// Checks

function all(...checks: ((w: World) => string | undefined)[]) {
  return (w: World): string | undefined => {
    for (const c of checks) {
      const m = c(w);
      if (m !== undefined) return m;
    }
    return undefined;
  };
}

/** The pod is bound to `nodeName`, PodScheduled=True, with the Scheduled event. */
function podOn(name: string, nodeName: string) {
  return (w: World): string | undefined => {
    const p = w.pods.get(name);
    if (p === undefined) return `pod ${name} missing`;
    if (p.spec.nodeName !== nodeName) return `pod ${name} on ${JSON.stringify(p.spec.nodeName)}, want ${nodeName}`;
    const cond = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (cond?.status !== 'True') return `pod ${name} PodScheduled ${JSON.stringify(cond)}`;
    const ns = p.metadata.namespace ?? '';
    return event(name, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${nodeName}`)(w);
  };
}

function podPending(name: string) {
  return (w: World): string | undefined => {
    const p = w.pods.get(name);
    if (p === undefined) return `pod ${name} missing`;
    return (p.spec.nodeName ?? '') === '' ? undefined : `pod ${name} is on ${p.spec.nodeName}`;
  };
}

/** A FailedScheduling event with exactly `message`, and PodScheduled=False/Unschedulable saying the same. */
function unschedulable(name: string, message: string) {
  return all(event(name, 'Warning', 'FailedScheduling', message), (w) => {
    const cond = w.pods.get(name)?.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (cond?.status !== 'False' || cond.reason !== 'Unschedulable' || cond.message !== message) return `pod ${name} PodScheduled ${JSON.stringify(cond)}`;
    return undefined;
  });
}

function event(object: string, type: string, reason: string, message: string) {
  return (w: World): string | undefined => {
    const found = w.events.some((e) => e.involvedObject.name === object && e.type === type && e.reason === reason && e.message === message);
    if (found) return undefined;
    const seen = w.events.filter((e) => e.involvedObject.name === object).map((e) => `${e.reason}: ${e.message}`);
    return `no ${type} ${reason} event "${message}" for ${object} (seen: ${JSON.stringify(seen)})`;
  };
}

function claimBound(name: string, volume?: string) {
  return (w: World): string | undefined => {
    const c = w.claims.get(name);
    if (c?.status?.phase !== 'Bound') return `claim ${name} is ${c?.status?.phase ?? 'missing'}`;
    if (volume !== undefined && c.spec.volumeName !== volume) return `claim ${name} bound to ${c.spec.volumeName}, want ${volume}`;
    return undefined;
  };
}

function claimPending(name: string) {
  return (w: World): string | undefined => {
    const c = w.claims.get(name);
    if (c?.status?.phase !== 'Pending') return `claim ${name} is ${c?.status?.phase ?? 'missing'}`;
    if ((c.spec.volumeName ?? '') !== '') return `claim ${name} has volumeName ${c.spec.volumeName}`;
    return undefined;
  };
}

function annotation(name: string, key: string, want: string | undefined) {
  return (w: World): string | undefined => {
    const got = w.claims.get(name)?.metadata.annotations?.[key];
    return got === want ? undefined : `claim ${name} annotation ${key} = ${JSON.stringify(got)}, want ${JSON.stringify(want)}`;
  };
}

const create = (kind: keyof typeof resources, obj: KubeObject) => async (env: Env) => {
  const ref = resources[kind];
  await env.client.create(resourcePath(ref, ref.namespaced ? env.ns : undefined), obj);
};

const deletePod = (name: string) => async (env: Env) => {
  await env.client.delete(resourcePath(resources.pods, env.ns, name), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
};

const SEED_PV_AFFINITY = 'k8s-node01';

// ---------------------------------------------------------------------------
// Rows

const rows: Row[] = [
  {
    name: '1 a pod with a nodeSelector lands on the node that has the label',
    nodes: [node('sel-a'), node('sel-b', { disk: 'ssd' })],
    steps: [{ what: 'the pod is bound to sel-b', act: create('pods', pod('web', { nodeSelector: { disk: 'ssd' } })), want: podOn('web', 'sel-b') }],
  },
  {
    name: '2 a pod whose claim is bound to a PV with node affinity to B lands on B',
    nodes: [node('aff-a'), node('aff-b')],
    volumes: [localVolume('aff-pv', 'aff-b')],
    claims: [claim('data', { volumeName: 'aff-pv' })],
    steps: [
      { what: 'the PV controller binds the claim', want: claimBound('data', 'aff-pv') },
      { what: 'the pod is bound to aff-b', act: create('pods', pod('app', { claims: ['data'] })), want: podOn('app', 'aff-b') },
    ],
  },
  {
    // Seed 001 §2.3.1 (delayed binding): a local PV on k8s-node01, a class without a
    // provisioner binding on first consumer, the Deployment's pod.
    name: '3 seed 001 §2.3.1: a WaitForFirstConsumer claim stays Pending until its pod is scheduled, then binds to the local PV on the pod node',
    nodes: [node('k8s-master'), node('k8s-node01')],
    classes: [storageClass('local-storage', 'kubernetes.io/no-provisioner')],
    volumes: [localVolume('nginx-pv', SEED_PV_AFFINITY, { klass: 'local-storage', policy: 'Delete' })],
    claims: [claim('nginx-pvc', { klass: 'local-storage', size: '5Gi' })],
    steps: [
      {
        what: 'the claim waits for its first consumer',
        want: all(claimPending('nginx-pvc'), event('nginx-pvc', 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding')),
      },
      {
        what: 'the pod lands on k8s-node01, the PV is reserved for the claim and the PV controller binds it',
        act: create('pods', pod('nginx-deploy-5c8d9f7b6d-x2k4q', { claims: ['nginx-pvc'] })),
        want: all(podOn('nginx-deploy-5c8d9f7b6d-x2k4q', 'k8s-node01'), claimBound('nginx-pvc', 'nginx-pv'), (w) => {
          const pv = w.volumes.get('nginx-pv');
          if (pv?.status?.phase !== 'Bound') return `nginx-pv is ${pv?.status?.phase}`;
          if (pv.spec.claimRef?.uid !== w.claims.get('nginx-pvc')?.metadata.uid) return `nginx-pv claimRef ${JSON.stringify(pv.spec.claimRef)}`;
          if (pv.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'] !== 'yes') return 'nginx-pv lacks bound-by-controller';
          return undefined;
        }),
      },
    ],
  },
  {
    name: '4 a hostpath WaitForFirstConsumer claim gets the selected node and is provisioned there',
    nodes: [node('hp-a'), node('hp-b', { pool: 'fast' })],
    classes: [storageClass('hostpath-wffc', 'volplane.io/hostpath')],
    claims: [claim('scratch', { klass: 'hostpath-wffc' })],
    steps: [
      { what: 'the claim waits for its first consumer', want: all(claimPending('scratch'), annotation('scratch', 'volume.kubernetes.io/selected-node', undefined)) },
      {
        what: 'the claim is provisioned on hp-b and the pod bound there',
        act: create('pods', pod('app', { claims: ['scratch'], nodeSelector: { pool: 'fast' } })),
        want: all(podOn('app', 'hp-b'), claimBound('scratch'), annotation('scratch', 'volume.kubernetes.io/selected-node', 'hp-b'), (w) => {
          const pv = w.volumes.get(w.claims.get('scratch')?.spec.volumeName ?? '');
          const values = pv?.spec.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values;
          return JSON.stringify(values) === '["hp-b"]' ? undefined : `provisioned PV node affinity ${JSON.stringify(pv?.spec.nodeAffinity)}`;
        }),
      },
    ],
  },
  {
    name: '5 no node fits: FailedScheduling with the counted reasons, retried when a fitting node appears',
    nodes: [node('fit-a', { zone: 'z1' }), node('fit-b')],
    volumes: [localVolume('fit-pv', 'fit-c')],
    claims: [claim('data', { volumeName: 'fit-pv' })],
    steps: [
      { what: 'the claim is bound', want: claimBound('data', 'fit-pv') },
      {
        what: 'the pod fits no node',
        act: create('pods', pod('app', { claims: ['data'], nodeSelector: { zone: 'z1' } })),
        want: all(
          podPending('app'),
          unschedulable(
            'app',
            "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had volume node affinity conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
          ),
        ),
      },
      { what: 'a fitting node appears and the pod lands on it', act: create('nodes', node('fit-c', { zone: 'z1' })), want: podOn('app', 'fit-c') },
    ],
  },
  {
    name: '6 a missing claim: FailedScheduling, scheduled once the claim exists',
    nodes: [node('miss-a'), node('miss-b')],
    classes: [storageClass('miss-hostpath', 'volplane.io/hostpath')],
    steps: [
      {
        what: 'the pod waits for its claim',
        act: create('pods', pod('app', { claims: ['later'] })),
        want: unschedulable('app', '0/2 nodes are available: persistentvolumeclaim "later" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.'),
      },
      {
        what: 'the claim appears; it is provisioned on the chosen node and the pod bound',
        act: create('persistentVolumeClaims', claim('later', { klass: 'miss-hostpath' })),
        want: all(podOn('app', 'miss-a'), claimBound('later'), annotation('later', 'volume.kubernetes.io/selected-node', 'miss-a')),
      },
    ],
  },
  {
    name: '7 a ReadWriteOncePod claim in use: the second pod is unschedulable until the first is gone',
    nodes: [node('rwop-a'), node('rwop-b')],
    volumes: [localVolume('rwop-pv', 'rwop-b', { modes: ['ReadWriteOncePod'] })],
    claims: [claim('solo', { modes: ['ReadWriteOncePod'], volumeName: 'rwop-pv' })],
    steps: [
      { what: 'the claim is bound', want: claimBound('solo', 'rwop-pv') },
      { what: 'the first pod is scheduled', act: create('pods', pod('first', { claims: ['solo'] })), want: podOn('first', 'rwop-b') },
      {
        what: 'the second pod conflicts',
        act: create('pods', pod('second', { claims: ['solo'] })),
        want: all(
          podPending('second'),
          unschedulable(
            'second',
            '0/2 nodes are available: 2 node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
          ),
        ),
      },
      { what: 'the first pod is deleted and the second scheduled', act: deletePod('first'), want: podOn('second', 'rwop-b') },
    ],
  },
  {
    name: '8 PreBind times out when nothing provisions: the selected node is rolled back and the pod retried',
    nodes: [node('slow-a')],
    classes: [storageClass('nobody-provisions', 'example.com/absent')],
    claims: [claim('slow', { klass: 'nobody-provisions' })],
    steps: [
      {
        what: 'the binding times out',
        act: create('pods', pod('app', { claims: ['slow'] })),
        want: all(podPending('app'), event('app', 'Warning', 'FailedScheduling', 'running PreBind plugin "VolumeBinding": binding volumes: timed out waiting for the condition')),
      },
      {
        what: 'with the pod gone, the reservation is taken back',
        act: deletePod('app'),
        want: all(claimPending('slow'), annotation('slow', 'volume.kubernetes.io/selected-node', undefined)),
      },
    ],
  },
  {
    name: '9 least requested: the second pod goes to the node with fewer pods',
    nodes: [node('spread-a'), node('spread-b')],
    steps: [
      { what: 'the first pod takes spread-a (names break the tie)', act: create('pods', pod('one')), want: podOn('one', 'spread-a') },
      { what: 'the second pod takes spread-b', act: create('pods', pod('two')), want: podOn('two', 'spread-b') },
    ],
  },
];

const BIND_TIMEOUT_S = 3;

describe('scheduler against a real API server and PV controller', () => {
  let testEnv: ControllerEnv;

  before(async () => {
    testEnv = await startControllerEnv(
      (ctx, signal) => startScheduler(ctx, signal, { bindTimeoutSeconds: BIND_TIMEOUT_S, podInitialBackoffMs: 100, podMaxBackoffMs: 1000 }),
      { clusterOptions: { controllers: ['persistentvolume-binder'] } },
    );
  });

  after(() => testEnv.close());

  rows.forEach((row, i) => {
    it(row.name, { timeout: 60_000 }, async () => {
      const env: Env = { client: testEnv.client, ns: `sched-${i + 1}` };
      const { client, ns } = env;
      await testEnv.createNamespace(ns);
      const volumeNames = new Set((row.volumes ?? []).map((v) => v.metadata.name ?? ''));
      try {
        for (const n of row.nodes) await client.create(resourcePath(resources.nodes), n);
        for (const c of row.classes ?? []) await client.create(resourcePath(resources.storageClasses), c);
        for (const v of row.volumes ?? []) await client.create(resourcePath(resources.persistentVolumes), v);
        for (const c of row.claims ?? []) await client.create(resourcePath(resources.persistentVolumeClaims, ns), c);

        const observe = async (): Promise<World> => {
          const pods = (await client.get<KubeList<Pod>>(resourcePath(resources.pods, ns))).items;
          const claims = (await client.get<KubeList<PersistentVolumeClaim>>(resourcePath(resources.persistentVolumeClaims, ns))).items;
          const volumes = (await client.get<KubeList<PersistentVolume>>(resourcePath(resources.persistentVolumes))).items;
          const events = (await client.get<KubeList<Event>>(resourcePath(resources.events, ns))).items;
          for (const c of claims) if (c.spec.volumeName !== undefined) volumeNames.add(c.spec.volumeName);
          return {
            pods: new Map(pods.map((p) => [p.metadata.name ?? '', p])),
            claims: new Map(claims.map((c) => [c.metadata.name ?? '', c])),
            volumes: new Map(volumes.filter((v) => volumeNames.has(v.metadata.name ?? '')).map((v) => [v.metadata.name ?? '', v])),
            events,
          };
        };
        let world = await observe();
        for (const step of row.steps) {
          if (step.act !== undefined) await step.act(env, world);
          world = await waitForState(step.what, observe, step.want, { timeoutMs: 20_000, intervalMs: 50 });
        }
      } finally {
        // The next row must see only its own nodes, and no pod of this row may wander onto them.
        const pods = (await client.get<KubeList<Pod>>(resourcePath(resources.pods, ns))).items;
        for (const p of pods) await deletePod(p.metadata.name ?? '')(env).catch(() => {});
        for (const n of row.nodes) await client.delete(resourcePath(resources.nodes, undefined, n.metadata.name)).catch(() => {});
        if (row.name.startsWith('5 ')) await client.delete(resourcePath(resources.nodes, undefined, 'fit-c')).catch(() => {});
      }
    });
  });
});
