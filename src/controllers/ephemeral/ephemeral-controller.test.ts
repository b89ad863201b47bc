// The ephemeral volume controller against a real in-process volplane. Each
// row creates what exists before (a conflicting claim, say), then a pod, and
// walks through steps to the claims and events that must follow.

import { after, before, describe, it } from 'node:test';
import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import { resourcePath, resources, type RestClient } from '../../client/index.ts';
import { runSteps, startControllerEnv, type ControllerEnv, type RowEnv, type WorldStep } from '../../testing/index.ts';
import { startEphemeralVolumeController } from './index.ts';

interface Obj extends KubeObject {
  spec?: Record<string, unknown>;
}
interface Event extends KubeObject {
  involvedObject: { kind?: string; name: string; uid?: string };
  reason: string;
  type: string;
  message: string;
}

interface World {
  pod: Obj | undefined;
  claims: Map<string, Obj>;
  events: Event[];
}

type Env = RowEnv;

type Step = WorldStep<Env, World>;

interface Row {
  name: string;
  before?: Obj[];
  volumes: Record<string, unknown>[];
  steps: Step[];
}

const scratch = (name: string, labels?: Record<string, string>) => ({
  name,
  ephemeral: {
    volumeClaimTemplate: {
      metadata: { labels },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'fast', resources: { requests: { storage: '1Gi' } } },
    },
  },
});

function pod(volumes: Record<string, unknown>[]): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'app' },
    spec: { containers: [{ name: 'c', image: 'busybox', volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: `/${v.name}` })) }], volumes },
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

/** The claim exists, is controlled by the pod, and came from the template. */
function ownedClaim(name: string, labels?: Record<string, string>) {
  return (w: World): string | undefined => {
    const c = w.claims.get(name);
    if (c === undefined) return `claim ${name} missing (have ${[...w.claims.keys()]})`;
    const ref = c.metadata.ownerReferences?.[0];
    if (ref === undefined || ref.kind !== 'Pod' || ref.name !== 'app' || ref.uid !== w.pod?.metadata.uid || ref.controller !== true || ref.blockOwnerDeletion !== true) {
      return `claim ${name} owner ${JSON.stringify(c.metadata.ownerReferences)}`;
    }
    if (c.spec?.storageClassName !== 'fast') return `claim ${name} spec ${JSON.stringify(c.spec)}`;
    for (const [k, v] of Object.entries(labels ?? {})) if (c.metadata.labels?.[k] !== v) return `claim ${name} labels ${JSON.stringify(c.metadata.labels)}`;
    return undefined;
  };
}

/**
 * Deletes the claim and, playing the pvc-protection controller, lets it go.
 * (The real one would keep a claim a live pod names until the pod is gone.)
 */
async function deleteClaim(env: Env, name: string): Promise<void> {
  const path = resourcePath(resources.persistentVolumeClaims, env.ns, name);
  await env.client.delete(path);
  await env.client.patch(path, { metadata: { finalizers: null } });
}

const rows: Row[] = [
  {
    name: '1 a pod with an ephemeral volume gets the claim <pod>-<volume>, controlled by the pod',
    volumes: [scratch('scratch', { purpose: 'cache' })],
    steps: [{ what: 'claim app-scratch owned by the pod', want: ownedClaim('app-scratch', { purpose: 'cache' }) }],
  },
  {
    name: '2 every ephemeral volume gets its own claim; other volumes get none',
    volumes: [scratch('a'), scratch('b'), { name: 'tmp', emptyDir: {} }],
    steps: [
      {
        what: 'app-a and app-b, nothing for tmp',
        want: all(ownedClaim('app-a'), ownedClaim('app-b'), (w) => (w.claims.has('app-tmp') ? 'a claim for the emptyDir' : undefined)),
      },
    ],
  },
  {
    name: '3 an existing claim of that name the pod does not own is left alone, with a Warning on the pod',
    before: [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'app-scratch' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } },
      },
    ],
    volumes: [scratch('scratch')],
    steps: [
      {
        what: 'FailedBinding event on the pod, the claim unchanged',
        want: all(
          (w) => {
            const e = w.events.find((x) => x.involvedObject.name === 'app' && x.reason === 'FailedBinding');
            if (e === undefined) return `no FailedBinding event (${w.events.map((x) => x.reason)})`;
            const want = `ephemeral volume scratch: PVC ${w.pod?.metadata.namespace}/app-scratch was not created for pod ${w.pod?.metadata.namespace}/app (pod is not owner)`;
            if (e.message !== want || e.type !== 'Warning' || e.involvedObject.uid !== w.pod?.metadata.uid) return `event ${e.type} ${JSON.stringify(e.message)}`;
            return undefined;
          },
          (w) => ((w.claims.get('app-scratch')?.metadata.ownerReferences ?? []).length === 0 ? undefined : 'the claim was taken over'),
        ),
      },
      {
        what: 'the conflicting claim deleted: the pod\'s own claim is created',
        act: (env) => deleteClaim(env, 'app-scratch'),
        want: ownedClaim('app-scratch'),
      },
    ],
  },
  {
    name: '4 a claim deleted (and released by pvc-protection) under a live pod is created again',
    volumes: [scratch('scratch')],
    steps: [
      { what: 'claim created', want: ownedClaim('app-scratch') },
      {
        what: 'deleted: created again with a new UID',
        act: async (env, w) => {
          await deleteClaim(env, 'app-scratch');
          firstUid.set(env.ns, w.claims.get('app-scratch')?.metadata.uid ?? '');
        },
        want: all(ownedClaim('app-scratch'), (w) => {
          const uid = w.claims.get('app-scratch')?.metadata.uid;
          return uid !== undefined && uid !== firstUid.get(w.pod?.metadata.namespace ?? '') ? undefined : 'still the first claim';
        }),
      },
    ],
  },
];

const firstUid = new Map<string, string>();

describe('ephemeral volume controller', () => {
  let testEnv: ControllerEnv;
  let client: RestClient;

  before(async () => {
    testEnv = await startControllerEnv(startEphemeralVolumeController);
    client = testEnv.client;
  });

  after(() => testEnv.close());

  rows.forEach((row, i) => {
    it(row.name, async () => {
      const env: Env = { client, cluster: testEnv.cluster, ns: `eph-${i + 1}` };
      await testEnv.createNamespace(env.ns);
      for (const obj of row.before ?? []) await client.create(resourcePath(resources.persistentVolumeClaims, env.ns), obj);
      await client.create(resourcePath(resources.pods, env.ns), pod(row.volumes));

      const observe = async (): Promise<World> => {
        const p = await client.get<Obj>(resourcePath(resources.pods, env.ns, 'app'));
        const claims = (await client.get<KubeList<Obj>>(resourcePath(resources.persistentVolumeClaims, env.ns))).items;
        const events = (await client.get<KubeList<Event>>(resourcePath(resources.events, env.ns))).items;
        return { pod: p, claims: new Map(claims.map((c) => [c.metadata.name ?? '', c])), events };
      };

      await runSteps(env, row.steps, observe);
    });
  });
});
