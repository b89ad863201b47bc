// The ReplicaSet controller against a real in-process volplane. Each row is a
// small world: objects before, then steps — an action and the state the
// ReplicaSet and its pods must reach. Pods stay Pending (no scheduler, no
// kubelet); a row that needs ready pods patches their status itself, as a
// kubelet would.

import { after, before, describe, it } from 'node:test';
import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import { formatTime } from '../../apimachinery/index.ts';
import { resourcePath, resources, type RestClient } from '../../client/index.ts';
import { runSteps, startControllerEnv, type ControllerEnv, type RowEnv, type WorldStep } from '../../testing/index.ts';
import { REPLICA_SETS, startReplicaSetController } from './index.ts';

interface Pod extends KubeObject {
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}
interface ReplicaSet extends KubeObject {
  status?: Record<string, unknown>;
}

interface World {
  rs: ReplicaSet | undefined;
  /** Pods of the namespace, sorted by name. */
  pods: Pod[];
}

type Env = RowEnv;

type Step = WorldStep<Env, World>;

interface Row {
  name: string;
  /** Objects created before the ReplicaSet (e.g. an orphan pod). */
  before?: KubeObject[];
  replicas: number;
  minReadySeconds?: number;
  steps: Step[];
}

const LABELS = { app: 'web', tier: 'front' };

function replicaSet(replicas: number, minReadySeconds?: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'frontend' },
    spec: {
      replicas,
      minReadySeconds,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: LABELS }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
    },
  };
}

function orphan(name: string, labels: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { containers: [{ name: 'c', image: 'nginx' }] } };
}

const owned = (world: World): Pod[] => world.pods.filter((p) => p.metadata.ownerReferences?.some((r) => r.kind === 'ReplicaSet' && r.controller === true));

function podCount(n: number) {
  return (world: World): string | undefined => {
    const pods = owned(world);
    return pods.length === n ? undefined : `${pods.length} owned pods (${pods.map((p) => p.metadata.name).join(', ')}), want ${n}`;
  };
}

function status(want: Record<string, unknown>) {
  return (world: World): string | undefined => {
    const got = world.rs?.status ?? {};
    for (const [k, v] of Object.entries(want)) if (got[k] !== v) return `status.${k} is ${JSON.stringify(got[k])}, want ${JSON.stringify(v)} (${JSON.stringify(got)})`;
    return undefined;
  };
}

function all(...checks: ((world: World) => string | undefined)[]) {
  return (world: World): string | undefined => {
    for (const c of checks) {
      const m = c(world);
      if (m !== undefined) return m;
    }
    return undefined;
  };
}

/** What a kubelet would write for a started pod whose readiness probe passed. */
async function markReady(env: Env, name: string): Promise<void> {
  await env.client.patch(resourcePath(resources.pods, env.ns, name, 'status'), {
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: formatTime(new Date()) }] },
  });
}

async function scale(env: Env, replicas: number): Promise<void> {
  await env.client.patch(resourcePath(REPLICA_SETS, env.ns, 'frontend'), { spec: { replicas } });
}

const rows: Row[] = [
  {
    name: '1 a new ReplicaSet creates its pods through generateName, owned by it, with the template labels',
    replicas: 3,
    steps: [
      {
        what: 'three pods and status.replicas 3',
        want: all(podCount(3), status({ replicas: 3, fullyLabeledReplicas: 3, observedGeneration: 1 }), (w) => {
          for (const p of owned(w)) {
            if (!/^frontend-[bcdfghjklmnpqrstvwxz2456789]{5}$/.test(p.metadata.name ?? '')) return `pod name ${p.metadata.name}`;
            const ref = p.metadata.ownerReferences?.[0];
            if (ref?.name !== 'frontend' || ref.uid !== w.rs?.metadata.uid || ref.blockOwnerDeletion !== true || ref.apiVersion !== 'apps/v1') {
              return `ownerReference ${JSON.stringify(ref)}`;
            }
            if (p.metadata.labels?.tier !== 'front') return `labels ${JSON.stringify(p.metadata.labels)}`;
          }
          return undefined;
        }),
      },
    ],
  },
  {
    name: '2 scale up creates, scale down deletes the pods that are not ready first',
    replicas: 2,
    steps: [
      { what: 'two pods', want: podCount(2) },
      {
        what: 'both marked ready, then scaled to 5: five pods, two ready',
        act: async (env, w) => {
          for (const p of owned(w)) await markReady(env, p.metadata.name!);
          await scale(env, 5);
        },
        want: all(podCount(5), status({ replicas: 5, readyReplicas: 2, availableReplicas: 2, observedGeneration: 2 })),
      },
      {
        what: 'scaled to 2: the two ready pods are the ones left',
        act: (env) => scale(env, 2),
        want: all(podCount(2), status({ replicas: 2, readyReplicas: 2 }), (w) =>
          owned(w).every((p) => p.status?.phase === 'Running') ? undefined : 'a not-ready pod survived the scale-down',
        ),
      },
    ],
  },
  {
    name: '3 an orphan pod matching the selector is adopted and counts as a replica',
    before: [orphan('stray', { app: 'web' }), orphan('other', { app: 'db' })],
    replicas: 2,
    steps: [
      {
        what: 'stray adopted, one pod created, other left alone',
        want: all(podCount(2), (w) => {
          const stray = w.pods.find((p) => p.metadata.name === 'stray');
          const other = w.pods.find((p) => p.metadata.name === 'other');
          if (stray?.metadata.ownerReferences?.[0]?.uid !== w.rs?.metadata.uid) return 'stray not adopted';
          if (other?.metadata.ownerReferences !== undefined) return 'other adopted';
          return undefined;
        }, status({ replicas: 2, fullyLabeledReplicas: 1 })),
      },
    ],
  },
  {
    name: '4 a pod relabelled out of the selector is released and replaced',
    replicas: 1,
    steps: [
      { what: 'one pod', want: podCount(1) },
      {
        what: 'relabelled: released (no ownerReference) and a replacement created',
        act: async (env, w) => {
          const p = owned(w)[0];
          await env.client.patch(resourcePath(resources.pods, env.ns, p.metadata.name), { metadata: { labels: { app: 'debug' } } });
        },
        want: all(podCount(1), (w) => {
          const released = w.pods.filter((p) => p.metadata.labels?.app === 'debug');
          if (released.length !== 1) return `${released.length} relabelled pods`;
          return (released[0].metadata.ownerReferences ?? []).length === 0 ? undefined : 'relabelled pod still owned';
        }),
      },
    ],
  },
  {
    name: '5 with minReadySeconds a ready pod becomes available only after that long',
    replicas: 1,
    minReadySeconds: 1,
    steps: [
      { what: 'one pod', want: podCount(1) },
      {
        what: 'marked ready: ready at once',
        act: (env, w) => markReady(env, owned(w)[0].metadata.name!),
        want: all(status({ readyReplicas: 1 }), (w) => (w.rs?.status?.availableReplicas === 1 ? 'available before minReadySeconds' : undefined)),
      },
      { what: 'a second later: available', want: status({ readyReplicas: 1, availableReplicas: 1 }) },
    ],
  },
];

describe('replicaset controller', () => {
  let testEnv: ControllerEnv;
  let client: RestClient;

  before(async () => {
    testEnv = await startControllerEnv(startReplicaSetController);
    client = testEnv.client;
  });

  after(() => testEnv.close());

  rows.forEach((row, i) => {
    it(row.name, async () => {
      const env: Env = { client, cluster: testEnv.cluster, ns: `rs-${i + 1}` };
      await testEnv.createNamespace(env.ns);
      for (const obj of row.before ?? []) await client.create(resourcePath(resources.pods, env.ns), obj);
      await client.create(resourcePath(REPLICA_SETS, env.ns), replicaSet(row.replicas, row.minReadySeconds));

      const observe = async (): Promise<World> => {
        const rs = await client.get<ReplicaSet>(resourcePath(REPLICA_SETS, env.ns, 'frontend'));
        const pods = (await client.get<KubeList<Pod>>(resourcePath(resources.pods, env.ns))).items;
        pods.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
        return { rs, pods };
      };

      await runSteps(env, row.steps, observe);
    });
  });
});
