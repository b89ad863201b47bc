// The Deployment controller, with the ReplicaSet controller beside it, against
// a real in-process volplane. Each row creates a Deployment and walks through
// steps: an action, then the state the Deployment, its ReplicaSets and pods
// must reach. With `kubelet` set, every poll marks new pods Running and Ready,
// as a kubelet would once their containers started (there is none here).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import { formatTime } from '../../apimachinery/index.ts';
import { resourcePath, resources, type RestClient, type ResourceRef } from '../../client/index.ts';
import { hasKubectl, runSteps, startControllerEnv, type ControllerEnv, type RowEnv, type TestCluster, type WorldStep } from '../../testing/index.ts';
import { startReplicaSetController } from '../replicaset/index.ts';
import { DEPLOYMENTS, POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION, startDeploymentController } from './index.ts';

const REPLICA_SETS: ResourceRef = { group: 'apps', version: 'v1', resource: 'replicasets', namespaced: true };

interface Obj extends KubeObject {
  spec?: { replicas?: number; selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string> } } };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string }[];
    [k: string]: unknown;
  };
}

interface World {
  d: Obj;
  rss: Obj[];
  pods: Obj[];
}

type Env = RowEnv;

type Step = WorldStep<Env, World>;

interface Row {
  name: string;
  replicas: number;
  strategy?: Record<string, unknown>;
  kubelet?: boolean;
  steps: Step[];
}

function deployment(replicas: number, strategy?: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'nginx' },
    spec: {
      replicas,
      strategy,
      selector: { matchLabels: { app: 'nginx' } },
      template: { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }] } },
    },
  };
}

const active = (w: World): Obj[] => w.rss.filter((rs) => (rs.spec?.replicas ?? 0) > 0);
const cond = (o: Obj, type: string) => o.status?.conditions?.find((c) => c.type === type);

function all(...checks: ((w: World) => string | undefined)[]) {
  return (w: World): string | undefined => {
    for (const c of checks) {
      const m = c(w);
      if (m !== undefined) return m;
    }
    return undefined;
  };
}

/** One ReplicaSet with `replicas` and as many pods, all from it. */
function settled(replicas: number) {
  return (w: World): string | undefined => {
    const act = active(w);
    if (replicas > 0 && act.length !== 1) return `${act.length} active ReplicaSets`;
    const rs = act[0] ?? w.rss[0];
    if ((rs?.spec?.replicas ?? 0) !== replicas) return `ReplicaSet replicas ${rs?.spec?.replicas}`;
    if (w.pods.length !== replicas) return `${w.pods.length} pods`;
    return undefined;
  };
}

function status(want: Record<string, unknown>) {
  return (w: World): string | undefined => {
    for (const [k, v] of Object.entries(want)) {
      if (w.d.status?.[k] !== v) return `deployment status.${k} ${JSON.stringify(w.d.status?.[k])}, want ${JSON.stringify(v)}`;
    }
    return undefined;
  };
}

async function patchDeployment(env: Env, patch: Record<string, unknown>): Promise<void> {
  await env.client.patch(resourcePath(DEPLOYMENTS, env.ns, 'nginx'), patch);
}

const rows: Row[] = [
  {
    name: '1 a Deployment creates a ReplicaSet named by its template hash, which creates the pods',
    replicas: 3,
    kubelet: true,
    steps: [
      {
        what: 'ReplicaSet nginx-<hash> with the hash in labels, selector and template; revision 1; three pods',
        want: all(settled(3), (w) => {
          const rs = w.rss[0];
          const hash = rs.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];
          if (hash === undefined || rs.metadata.name !== `nginx-${hash}`) return `ReplicaSet ${rs.metadata.name} labels ${JSON.stringify(rs.metadata.labels)}`;
          if (rs.spec?.selector?.matchLabels?.[POD_TEMPLATE_HASH_LABEL] !== hash) return 'hash missing from the selector';
          if (rs.spec?.template?.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] !== hash) return 'hash missing from the template';
          const ref = rs.metadata.ownerReferences?.[0];
          if (ref === undefined || ref.uid !== w.d.metadata.uid || ref.controller !== true || ref.blockOwnerDeletion !== true) return `ownerReference ${JSON.stringify(ref)}`;
          if (rs.metadata.annotations?.[REVISION_ANNOTATION] !== '1') return `ReplicaSet revision ${rs.metadata.annotations?.[REVISION_ANNOTATION]}`;
          if (w.d.metadata.annotations?.[REVISION_ANNOTATION] !== '1') return `Deployment revision ${w.d.metadata.annotations?.[REVISION_ANNOTATION]}`;
          if (!w.pods.every((p) => p.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] === hash)) return 'a pod without the hash';
          return undefined;
        }),
      },
      {
        what: 'pods ready: status 3/3 up to date and available, Available and Progressing complete',
        want: all(
          status({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: 1 }),
          (w) => (cond(w.d, 'Available')?.status === 'True' ? undefined : `Available ${JSON.stringify(cond(w.d, 'Available'))}`),
          (w) => (cond(w.d, 'Progressing')?.reason === 'NewReplicaSetAvailable' ? undefined : `Progressing ${JSON.stringify(cond(w.d, 'Progressing'))}`),
        ),
      },
      {
        what: 'kubectl get deploy shows READY 3/3, UP-TO-DATE 3, AVAILABLE 3',
        act: async (env) => {
          if (!hasKubectl()) return;
          const out = (await env.cluster.kubectl(['get', 'deploy', '-n', env.ns, '--no-headers'])).stdout.trim().split(/\s+/);
          assert.deepEqual(out.slice(0, 4), ['nginx', '3/3', '3', '3']);
        },
        want: () => undefined,
      },
    ],
  },
  {
    name: '2 scaling the Deployment scales its one ReplicaSet up and down',
    replicas: 2,
    steps: [
      { what: 'two pods', want: settled(2) },
      { what: 'scaled to 4', act: (env) => patchDeployment(env, { spec: { replicas: 4 } }), want: all(settled(4), status({ replicas: 4, updatedReplicas: 4 })) },
      { what: 'scaled to 1', act: (env) => patchDeployment(env, { spec: { replicas: 1 } }), want: all(settled(1), status({ replicas: 1, observedGeneration: 3 })) },
    ],
  },
  {
    name: '3 a template change rolls out a second ReplicaSet (RollingUpdate) and scales the first to zero',
    replicas: 2,
    kubelet: true,
    steps: [
      { what: 'first ReplicaSet settled and available', want: all(settled(2), status({ availableReplicas: 2 })) },
      {
        what: 'image changed: a new ReplicaSet with revision 2 owns every pod, the old one is at zero',
        act: (env) => patchDeployment(env, { spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } } } }),
        want: all(
          settled(2),
          (w) => (w.rss.length === 2 ? undefined : `${w.rss.length} ReplicaSets`),
          (w) => {
            const rs = active(w)[0];
            if (rs.metadata.annotations?.[REVISION_ANNOTATION] !== '2') return `new ReplicaSet revision ${rs.metadata.annotations?.[REVISION_ANNOTATION]}`;
            if (w.d.metadata.annotations?.[REVISION_ANNOTATION] !== '2') return 'Deployment revision not 2';
            const hash = rs.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];
            return w.pods.every((p) => p.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] === hash) ? undefined : 'pods of the old template left';
          },
          status({ replicas: 2, updatedReplicas: 2, availableReplicas: 2, observedGeneration: 2 }),
        ),
      },
    ],
  },
  {
    name: '4 Recreate scales the old ReplicaSet to zero before the new one gets pods',
    replicas: 2,
    strategy: { type: 'Recreate' },
    steps: [
      { what: 'first ReplicaSet settled', want: settled(2) },
      {
        what: 'template changed: the new ReplicaSet runs every pod, the old one none',
        act: (env) => patchDeployment(env, { spec: { template: { metadata: { labels: { app: 'nginx', v: '2' } } } } }),
        want: all(settled(2), (w) => (w.rss.length === 2 ? undefined : `${w.rss.length} ReplicaSets`), (w) =>
          w.pods.every((p) => p.metadata.labels?.v === '2') ? undefined : 'old pods left',
        ),
      },
    ],
  },
];

describe('deployment controller', () => {
  let testEnv: ControllerEnv;
  let client: RestClient;
  let cluster: TestCluster;

  before(async () => {
    testEnv = await startControllerEnv((ctx, signal) => [startDeploymentController(ctx, signal), startReplicaSetController(ctx, signal)]);
    ({ client, cluster } = testEnv);
  });

  after(() => testEnv.close());

  rows.forEach((row, i) => {
    it(row.name, async () => {
      const env: Env = { client, cluster, ns: `deploy-${i + 1}` };
      await testEnv.createNamespace(env.ns);
      await client.create(resourcePath(DEPLOYMENTS, env.ns), deployment(row.replicas, row.strategy));

      const observe = async (): Promise<World> => {
        const d = await client.get<Obj>(resourcePath(DEPLOYMENTS, env.ns, 'nginx'));
        const rss = (await client.get<KubeList<Obj>>(resourcePath(REPLICA_SETS, env.ns))).items;
        const pods = (await client.get<KubeList<Obj>>(resourcePath(resources.pods, env.ns))).items;
        if (row.kubelet === true) {
          for (const p of pods) {
            if (p.status?.phase === 'Running') continue;
            const ready = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: formatTime(new Date()) }] };
            await client.patch(resourcePath(resources.pods, env.ns, p.metadata.name, 'status'), { status: ready });
          }
        }
        return { d, rss, pods };
      };

      await runSteps(env, row.steps, observe, { timeoutMs: 15_000 });
    });
  });
});
