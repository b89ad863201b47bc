// The StatefulSet controller against a real in-process volplane, starting
// from the StatefulSet `web` of seed 001 §2.3.2 (serviceName nginx, claim
// template `data`, storage class nfs-storage). Pods stay Pending — there is no
// scheduler or kubelet — so rows mark them Running and Ready themselves, as a
// kubelet would. Each row is a small world walked through steps.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import { formatTime } from '../../apimachinery/index.ts';
import { resourcePath, resources, type RestClient } from '../../client/index.ts';
import { hasKubectl, runSteps, startControllerEnv, type ControllerEnv, type RowEnv, type TestCluster, type WorldStep } from '../../testing/index.ts';
import { POD_INDEX_LABEL, POD_NAME_LABEL, REVISION_LABEL, STATEFUL_SETS, startStatefulSetController } from './index.ts';

interface Obj extends KubeObject {
  spec?: {
    hostname?: string;
    subdomain?: string;
    volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
    storageClassName?: string;
  };
  status?: { phase?: string; [k: string]: unknown };
}

interface World {
  set: Obj;
  pods: Map<string, Obj>;
  claims: Map<string, Obj>;
  /** Pod names in the order their deletion was seen. */
  deleted: string[];
}

type Env = RowEnv;

type Step = WorldStep<Env, World>;

interface Row {
  name: string;
  podManagementPolicy?: 'OrderedReady' | 'Parallel';
  retention?: { whenDeleted: 'Retain' | 'Delete'; whenScaled: 'Retain' | 'Delete' };
  replicas?: number;
  steps: Step[];
}

/** Seed 001 §2.3.2, `nfs-nginx-deploy.yml`. */
function web(row: Row): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web' },
    spec: {
      selector: { matchLabels: { app: 'nginx' } },
      serviceName: 'nginx',
      replicas: row.replicas ?? 3,
      podManagementPolicy: row.podManagementPolicy,
      persistentVolumeClaimRetentionPolicy: row.retention,
      template: {
        metadata: { labels: { app: 'nginx' } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'nginx', image: 'nginx:latest', ports: [{ containerPort: 80, name: 'web' }], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        },
      },
      volumeClaimTemplates: [
        { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'nfs-storage', resources: { requests: { storage: '1Gi' } } } },
      ],
    },
  };
}

function all(...checks: ((w: World) => string | undefined)[]) {
  return (w: World): string | undefined => {
    for (const c of checks) {
      const m = c(w);
      if (m !== undefined) return m;
    }
    return undefined;
  };
}

const names = (m: Map<string, Obj>): string => [...m.keys()].sort().join(',');

/** Exactly these pods and claims exist. */
function exactly(pods: string[], claims: string[]) {
  return (w: World): string | undefined => {
    if (names(w.pods) !== [...pods].sort().join(',')) return `pods [${names(w.pods)}], want [${pods}]`;
    if (names(w.claims) !== [...claims].sort().join(',')) return `claims [${names(w.claims)}], want [${claims}]`;
    return undefined;
  };
}

/** The claim was written before the pod that uses it: compared by the revision each was created at. */
function claimBeforePod(ordinal: number) {
  return (w: World): string | undefined => {
    const pod = createdAt.get(`${w.set.metadata.namespace}/pod/web-${ordinal}`);
    const claim = createdAt.get(`${w.set.metadata.namespace}/pvc/data-web-${ordinal}`);
    if (pod === undefined || claim === undefined) return `creation of web-${ordinal} or its claim not seen yet`;
    return claim < pod ? undefined : `data-web-${ordinal} created at ${claim}, after web-${ordinal} at ${pod}`;
  };
}

function podIdentity(ordinal: number) {
  return (w: World): string | undefined => {
    const pod = w.pods.get(`web-${ordinal}`);
    if (pod === undefined) return `web-${ordinal} missing`;
    const l = pod.metadata.labels ?? {};
    if (l[POD_NAME_LABEL] !== `web-${ordinal}` || l[POD_INDEX_LABEL] !== String(ordinal) || l.app !== 'nginx') return `labels ${JSON.stringify(l)}`;
    if (!/^web-[bcdfghjklmnpqrstvwxz2456789]+$/.test(l[REVISION_LABEL] ?? '')) return `revision label ${l[REVISION_LABEL]}`;
    if (pod.spec?.hostname !== `web-${ordinal}` || pod.spec.subdomain !== 'nginx') return `hostname ${pod.spec?.hostname} subdomain ${pod.spec?.subdomain}`;
    const vol = pod.spec.volumes?.find((v) => v.name === 'data');
    if (vol?.persistentVolumeClaim?.claimName !== `data-web-${ordinal}`) return `volume data ${JSON.stringify(vol)}`;
    const ref = pod.metadata.ownerReferences?.[0];
    if (ref === undefined || ref.kind !== 'StatefulSet' || ref.uid !== w.set.metadata.uid || ref.controller !== true) return `pod owner ${JSON.stringify(ref)}`;
    const claim = w.claims.get(`data-web-${ordinal}`);
    if (claim?.metadata.labels?.app !== 'nginx') return `claim labels ${JSON.stringify(claim?.metadata.labels)}`;
    if (claim.spec?.storageClassName !== 'nfs-storage') return 'claim storage class';
    return undefined;
  };
}

/** The claim's ownerReferences, as `Kind/name` of controllers (with the owner's UID checked). */
function claimOwners(ordinal: number, want: string[], podUid?: (w: World) => string | undefined) {
  return (w: World): string | undefined => {
    const claim = w.claims.get(`data-web-${ordinal}`);
    if (claim === undefined) return `data-web-${ordinal} missing`;
    const refs = claim.metadata.ownerReferences ?? [];
    const got = refs.map((r) => `${r.kind}/${r.name}`).sort();
    if (got.join(',') !== [...want].sort().join(',')) return `data-web-${ordinal} owners [${got}], want [${want}]`;
    for (const r of refs) {
      if (r.controller !== true || r.blockOwnerDeletion !== true) return `owner ${JSON.stringify(r)} not a blocking controller`;
      if (r.kind === 'StatefulSet' && r.uid !== w.set.metadata.uid) return 'set owner UID';
      if (r.kind === 'Pod' && podUid !== undefined && r.uid !== podUid(w)) return `pod owner UID ${r.uid}`;
    }
    return undefined;
  };
}

/** `namespace/name` → the revision at which the test marked the pod ready. */
const readyAt = new Map<string, number>();

async function markReady(env: Env, name: string): Promise<void> {
  const pod = await env.client.patch(resourcePath(resources.pods, env.ns, name, 'status'), {
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: formatTime(new Date()) }] },
  });
  readyAt.set(`${env.ns}/${name}`, Number(pod.metadata.resourceVersion));
}

/** OrderedReady: web-<n> was created only after web-<n-1> was marked ready. */
function createdAfterPredecessorReady(ordinal: number) {
  return (w: World): string | undefined => {
    const ns = w.set.metadata.namespace;
    const created = createdAt.get(`${ns}/pod/web-${ordinal}`);
    const ready = readyAt.get(`${ns}/web-${ordinal - 1}`);
    if (created === undefined || ready === undefined) return `web-${ordinal} creation or web-${ordinal - 1} readiness not seen`;
    return created > ready ? undefined : `web-${ordinal} created at ${created}, before web-${ordinal - 1} was ready at ${ready}`;
  };
}

async function scale(env: Env, replicas: number): Promise<void> {
  await env.client.patch(resourcePath(STATEFUL_SETS, env.ns, 'web'), { spec: { replicas } });
}

function setStatus(want: Record<string, unknown>) {
  return (w: World): string | undefined => {
    for (const [k, v] of Object.entries(want)) {
      if (w.set.status?.[k] !== v) return `status.${k} ${JSON.stringify(w.set.status?.[k])}, want ${JSON.stringify(v)}`;
    }
    return undefined;
  };
}

/** UIDs of pods seen before they were deleted, for checking owner references to them. */
const podUids = new Map<string, string>();
/** `namespace/pod|pvc/name` → the revision its creation was seen at (revisions are global to the store). */
const createdAt = new Map<string, number>();

const rows: Row[] = [
  {
    name: '1 OrderedReady: web-0, then web-1 once web-0 is ready, then web-2, each after its claim; scale-down from the top',
    steps: [
      { what: 'only web-0 and data-web-0', want: all(exactly(['web-0'], ['data-web-0']), podIdentity(0), claimBeforePod(0), claimOwners(0, [])) },
      {
        what: 'web-0 ready: web-1 and data-web-1, no web-2',
        act: (env) => markReady(env, 'web-0'),
        want: all(exactly(['web-0', 'web-1'], ['data-web-0', 'data-web-1']), podIdentity(1), claimBeforePod(1), createdAfterPredecessorReady(1), setStatus({ replicas: 2, readyReplicas: 1 })),
      },
      {
        what: 'web-1 ready: web-2 and data-web-2',
        act: (env) => markReady(env, 'web-1'),
        want: all(exactly(['web-0', 'web-1', 'web-2'], ['data-web-0', 'data-web-1', 'data-web-2']), podIdentity(2), claimBeforePod(2), createdAfterPredecessorReady(2)),
      },
      {
        what: 'web-2 ready: status 3 ready, current = update revision = the pods\' controller-revision-hash',
        act: async (env) => {
          await markReady(env, 'web-2');
          if (hasKubectl()) {
            const out = await env.cluster.kubectl(['get', 'pvc', '-n', env.ns, '-o', 'name']);
            assert.deepEqual(out.stdout.trim().split('\n').sort(), ['persistentvolumeclaim/data-web-0', 'persistentvolumeclaim/data-web-1', 'persistentvolumeclaim/data-web-2']);
          }
        },
        want: all(setStatus({ replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, availableReplicas: 3, observedGeneration: 1 }), (w) => {
          const rev = w.pods.get('web-0')?.metadata.labels?.[REVISION_LABEL];
          return w.set.status?.currentRevision === rev && w.set.status?.updateRevision === rev ? undefined : `revisions ${JSON.stringify(w.set.status)} vs ${rev}`;
        }),
      },
      {
        what: 'scaled to 1: web-2 deleted before web-1; the claims stay (Retain)',
        act: (env) => scale(env, 1),
        want: all(
          exactly(['web-0'], ['data-web-0', 'data-web-1', 'data-web-2']),
          (w) => (w.deleted.join(',') === 'web-2,web-1' ? undefined : `deletion order ${w.deleted}`),
          setStatus({ replicas: 1, readyReplicas: 1, observedGeneration: 2 }),
          claimOwners(1, []),
        ),
      },
    ],
  },
  {
    name: '2 Parallel: every pod and claim at once, without waiting for readiness',
    podManagementPolicy: 'Parallel',
    steps: [{ what: 'web-0..2 and data-web-0..2', want: all(exactly(['web-0', 'web-1', 'web-2'], ['data-web-0', 'data-web-1', 'data-web-2']), podIdentity(2)) }],
  },
  {
    name: '3 whenDeleted Delete: every claim is owned by the StatefulSet',
    podManagementPolicy: 'Parallel',
    retention: { whenDeleted: 'Delete', whenScaled: 'Retain' },
    replicas: 2,
    steps: [
      {
        what: 'claims controlled by the set',
        want: all(exactly(['web-0', 'web-1'], ['data-web-0', 'data-web-1']), claimOwners(0, ['StatefulSet/web']), claimOwners(1, ['StatefulSet/web'])),
      },
      {
        what: 'scaled to 1: the scaled-away claim stays with the set',
        act: (env) => scale(env, 1),
        want: all(exactly(['web-0'], ['data-web-0', 'data-web-1']), claimOwners(1, ['StatefulSet/web'])),
      },
    ],
  },
  {
    name: '4 whenScaled Delete: a scaled-away pod becomes its claim\'s owner before it is deleted',
    podManagementPolicy: 'Parallel',
    retention: { whenDeleted: 'Retain', whenScaled: 'Delete' },
    replicas: 2,
    steps: [
      { what: 'claims without owners while in range', want: all(exactly(['web-0', 'web-1'], ['data-web-0', 'data-web-1']), claimOwners(0, []), claimOwners(1, [])) },
      {
        what: 'scaled to 1: data-web-1 controlled by the deleted web-1, data-web-0 untouched',
        act: (env) => scale(env, 1),
        want: all(exactly(['web-0'], ['data-web-0', 'data-web-1']), claimOwners(1, ['Pod/web-1'], (w) => podUids.get(`${w.set.metadata.namespace}/web-1`)), claimOwners(0, [])),
      },
    ],
  },
  {
    name: '5 both Delete: the set owns claims in range, the pod owns the claim it takes away',
    podManagementPolicy: 'Parallel',
    retention: { whenDeleted: 'Delete', whenScaled: 'Delete' },
    replicas: 2,
    steps: [
      { what: 'claims controlled by the set', want: all(claimOwners(0, ['StatefulSet/web']), claimOwners(1, ['StatefulSet/web'])) },
      {
        what: 'scaled to 1: data-web-1 moves to the pod, data-web-0 stays with the set',
        act: (env) => scale(env, 1),
        want: all(exactly(['web-0'], ['data-web-0', 'data-web-1']), claimOwners(1, ['Pod/web-1'], (w) => podUids.get(`${w.set.metadata.namespace}/web-1`)), claimOwners(0, ['StatefulSet/web'])),
      },
    ],
  },
];

describe('statefulset controller', () => {
  let testEnv: ControllerEnv;
  let client: RestClient;
  let cluster: TestCluster;
  const deletions = new Map<string, string[]>();

  before(async () => {
    testEnv = await startControllerEnv(startStatefulSetController, {
      // The test watches pods too: the order deletions happen in, and the UIDs of pods that are gone.
      beforeStart: ({ informers }) => {
        informers.informerFor(resources.pods).addEventHandler({
          onAdd: (p) => {
            podUids.set(`${p.metadata.namespace}/${p.metadata.name}`, p.metadata.uid ?? '');
            createdAt.set(`${p.metadata.namespace}/pod/${p.metadata.name}`, Number(p.metadata.resourceVersion));
          },
          onDelete: (p) => {
            const ns = p.metadata.namespace ?? '';
            deletions.set(ns, [...(deletions.get(ns) ?? []), p.metadata.name ?? '']);
          },
        });
        informers.informerFor(resources.persistentVolumeClaims).addEventHandler({
          onAdd: (c) => createdAt.set(`${c.metadata.namespace}/pvc/${c.metadata.name}`, Number(c.metadata.resourceVersion)),
        });
      },
    });
    ({ client, cluster } = testEnv);
  });

  after(() => testEnv.close());

  rows.forEach((row, i) => {
    it(row.name, async () => {
      const env: Env = { client, cluster, ns: `sts-${i + 1}` };
      await testEnv.createNamespace(env.ns);
      await client.create(resourcePath(STATEFUL_SETS, env.ns), web(row));

      const observe = async (): Promise<World> => {
        const set = await client.get<Obj>(resourcePath(STATEFUL_SETS, env.ns, 'web'));
        const pods = (await client.get<KubeList<Obj>>(resourcePath(resources.pods, env.ns))).items;
        const claims = (await client.get<KubeList<Obj>>(resourcePath(resources.persistentVolumeClaims, env.ns))).items;
        return {
          set,
          pods: new Map(pods.map((p) => [p.metadata.name ?? '', p])),
          claims: new Map(claims.map((c) => [c.metadata.name ?? '', c])),
          deleted: deletions.get(env.ns) ?? [],
        };
      };

      await runSteps(env, row.steps, observe);
    });
  });
});
