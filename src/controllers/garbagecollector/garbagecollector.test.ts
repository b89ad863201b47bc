// The garbage collector against a real in-process volplane. Each row is a
// small world in its own namespace: the objects before (owners referenced by
// name, resolved to the uids the server gave them), then steps — an action
// and the state every named object must reach (gone, present, terminating,
// with these owners and finalizers).
//
// The apiserver side of foreground/orphan deletion (adding the finalizer for
// propagationPolicy Foreground/Orphan) is emulated by creating the owner
// with the finalizer already set and deleting it without a policy.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../../apimachinery/index.ts';
import { ApiError, resourcePath, type RestClient, type ResourceRef } from '../../client/index.ts';
import { startControllerEnv, waitForState, type ControllerEnv } from '../../testing/index.ts';
import { startGarbageCollectorController } from './index.ts';

type Kind = 'Deployment' | 'ReplicaSet' | 'Pod' | 'ConfigMap';

const REFS: Record<Kind, { ref: ResourceRef; apiVersion: string }> = {
  Deployment: { ref: { group: 'apps', version: 'v1', resource: 'deployments', namespaced: true }, apiVersion: 'apps/v1' },
  ReplicaSet: { ref: { group: 'apps', version: 'v1', resource: 'replicasets', namespaced: true }, apiVersion: 'apps/v1' },
  Pod: { ref: { group: '', version: 'v1', resource: 'pods', namespaced: true }, apiVersion: 'v1' },
  ConfigMap: { ref: { group: '', version: 'v1', resource: 'configmaps', namespaced: true }, apiVersion: 'v1' },
};

interface OwnerSpec {
  kind: Kind;
  name: string;
  /** 'real' (default): the uid of the object created earlier in the row; 'wrong': a uid nobody has. */
  uid?: 'real' | 'wrong';
  block?: boolean;
}

interface ObjSpec {
  kind: Kind;
  name: string;
  owners?: OwnerSpec[];
  finalizers?: string[];
}

interface Expect {
  kind: Kind;
  name: string;
  state: 'gone' | 'present' | 'terminating';
  /** Names of the owners the object must reference, in order. */
  owners?: string[];
  finalizers?: string[];
}

interface World {
  ns: string;
  delete(kind: Kind, name: string): Promise<void>;
  setFinalizers(kind: Kind, name: string, finalizers: string[]): Promise<void>;
}

interface Step {
  what: string;
  act?: (w: World) => Promise<void>;
  want: Expect[];
}

interface Row {
  name: string;
  /** Server support the row depends on (probed before the suite). */
  needs?: 'foreground-policy';
  objects: ObjSpec[];
  steps: Step[];
}

const podTemplate = (app: string) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

function body(spec: ObjSpec): Record<string, unknown> {
  switch (spec.kind) {
    case 'Deployment':
    case 'ReplicaSet':
      return { spec: { replicas: 0, selector: { matchLabels: { app: spec.name } }, template: podTemplate(spec.name) } };
    case 'Pod':
      return { spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    case 'ConfigMap':
      return { data: { k: 'v' } };
  }
}

const rows: Row[] = [
  {
    name: '1 replicaset whose owner is gone is deleted',
    objects: [
      { kind: 'Deployment', name: 'd' },
      { kind: 'ReplicaSet', name: 'rs', owners: [{ kind: 'Deployment', name: 'd', block: true }] },
    ],
    steps: [
      { what: 'owner alive: replicaset kept', want: [{ kind: 'ReplicaSet', name: 'rs', state: 'present', owners: ['d'] }] },
      {
        what: 'owner deleted: replicaset collected',
        act: (w) => w.delete('Deployment', 'd'),
        want: [
          { kind: 'Deployment', name: 'd', state: 'gone' },
          { kind: 'ReplicaSet', name: 'rs', state: 'gone' },
        ],
      },
    ],
  },
  {
    name: '2 pod with two owners, one alive, is kept and loses the dead reference',
    objects: [
      { kind: 'ReplicaSet', name: 'alive' },
      { kind: 'ReplicaSet', name: 'dead' },
      {
        kind: 'Pod',
        name: 'p',
        owners: [
          { kind: 'ReplicaSet', name: 'alive' },
          { kind: 'ReplicaSet', name: 'dead' },
        ],
      },
    ],
    steps: [
      {
        what: 'one owner deleted',
        act: (w) => w.delete('ReplicaSet', 'dead'),
        want: [
          { kind: 'ReplicaSet', name: 'dead', state: 'gone' },
          { kind: 'Pod', name: 'p', state: 'present', owners: ['alive'] },
        ],
      },
    ],
  },
  {
    name: '3 owner reference with the wrong uid counts as gone: dependent deleted',
    objects: [
      { kind: 'ConfigMap', name: 'cm' },
      { kind: 'Pod', name: 'p', owners: [{ kind: 'ConfigMap', name: 'cm', uid: 'wrong' }] },
    ],
    steps: [
      {
        what: 'collected at start',
        want: [
          { kind: 'ConfigMap', name: 'cm', state: 'present' },
          { kind: 'Pod', name: 'p', state: 'gone' },
        ],
      },
    ],
  },
  {
    name: '4 foreground: owner keeps foregroundDeletion until its blocking dependents are gone',
    objects: [
      { kind: 'ReplicaSet', name: 'owner', finalizers: ['foregroundDeletion'] },
      { kind: 'Pod', name: 'blocking', owners: [{ kind: 'ReplicaSet', name: 'owner', block: true }], finalizers: ['example.com/hold'] },
      { kind: 'Pod', name: 'nonblocking', owners: [{ kind: 'ReplicaSet', name: 'owner', block: false }] },
    ],
    steps: [
      {
        what: 'owner deleted: dependents deleted, owner waits for the held blocking one',
        act: (w) => w.delete('ReplicaSet', 'owner'),
        want: [
          { kind: 'Pod', name: 'nonblocking', state: 'gone' },
          { kind: 'Pod', name: 'blocking', state: 'terminating', finalizers: ['example.com/hold'] },
          { kind: 'ReplicaSet', name: 'owner', state: 'terminating', finalizers: ['foregroundDeletion'] },
        ],
      },
      {
        what: 'blocking dependent released: owner finalized and gone',
        act: (w) => w.setFinalizers('Pod', 'blocking', []),
        want: [
          { kind: 'Pod', name: 'blocking', state: 'gone' },
          { kind: 'ReplicaSet', name: 'owner', state: 'gone' },
        ],
      },
    ],
  },
  {
    name: '5 orphan: dependents keep living without the reference, owner goes',
    objects: [
      { kind: 'ReplicaSet', name: 'owner', finalizers: ['orphan'] },
      { kind: 'ReplicaSet', name: 'other' },
      { kind: 'Pod', name: 'p1', owners: [{ kind: 'ReplicaSet', name: 'owner', block: true }] },
      {
        kind: 'Pod',
        name: 'p2',
        owners: [
          { kind: 'ReplicaSet', name: 'other' },
          { kind: 'ReplicaSet', name: 'owner' },
        ],
      },
    ],
    steps: [
      {
        what: 'owner deleted',
        act: (w) => w.delete('ReplicaSet', 'owner'),
        want: [
          { kind: 'ReplicaSet', name: 'owner', state: 'gone' },
          { kind: 'Pod', name: 'p1', state: 'present', owners: [] },
          { kind: 'Pod', name: 'p2', state: 'present', owners: ['other'] },
        ],
      },
    ],
  },
  {
    name: '6 chain deployment → replicaset → pods is collected in the background',
    objects: [
      { kind: 'Deployment', name: 'd' },
      { kind: 'ReplicaSet', name: 'rs', owners: [{ kind: 'Deployment', name: 'd', block: true }] },
      { kind: 'Pod', name: 'p1', owners: [{ kind: 'ReplicaSet', name: 'rs', block: true }] },
      { kind: 'Pod', name: 'p2', owners: [{ kind: 'ReplicaSet', name: 'rs', block: true }] },
    ],
    steps: [
      {
        what: 'deployment deleted',
        act: (w) => w.delete('Deployment', 'd'),
        want: [
          { kind: 'ReplicaSet', name: 'rs', state: 'gone' },
          { kind: 'Pod', name: 'p1', state: 'gone' },
          { kind: 'Pod', name: 'p2', state: 'gone' },
        ],
      },
    ],
  },
  {
    name: '7 foreground through a chain: the deployment waits for its replicaset, which waits for its held pod',
    needs: 'foreground-policy',
    objects: [
      { kind: 'Deployment', name: 'd', finalizers: ['foregroundDeletion'] },
      { kind: 'ReplicaSet', name: 'rs', owners: [{ kind: 'Deployment', name: 'd', block: true }] },
      { kind: 'Pod', name: 'p', owners: [{ kind: 'ReplicaSet', name: 'rs', block: true }], finalizers: ['example.com/hold'] },
    ],
    steps: [
      {
        what: 'deployment deleted: the whole chain waits on the pod',
        act: (w) => w.delete('Deployment', 'd'),
        want: [
          { kind: 'Pod', name: 'p', state: 'terminating', finalizers: ['example.com/hold'] },
          { kind: 'ReplicaSet', name: 'rs', state: 'terminating', finalizers: ['foregroundDeletion'] },
          { kind: 'Deployment', name: 'd', state: 'terminating', finalizers: ['foregroundDeletion'] },
        ],
      },
      {
        what: 'pod released: the chain goes leaves first',
        act: (w) => w.setFinalizers('Pod', 'p', []),
        want: [
          { kind: 'Pod', name: 'p', state: 'gone' },
          { kind: 'ReplicaSet', name: 'rs', state: 'gone' },
          { kind: 'Deployment', name: 'd', state: 'gone' },
        ],
      },
    ],
  },
  {
    name: '8 foreground: a blocking dependent with another live owner is kept, loses the reference, and the owner goes',
    objects: [
      { kind: 'ReplicaSet', name: 'owner', finalizers: ['foregroundDeletion'] },
      { kind: 'ReplicaSet', name: 'other' },
      {
        kind: 'Pod',
        name: 'shared',
        owners: [
          { kind: 'ReplicaSet', name: 'owner', block: true },
          { kind: 'ReplicaSet', name: 'other' },
        ],
      },
    ],
    steps: [
      {
        what: 'owner deleted',
        act: (w) => w.delete('ReplicaSet', 'owner'),
        want: [
          { kind: 'ReplicaSet', name: 'owner', state: 'gone' },
          { kind: 'Pod', name: 'shared', state: 'present', owners: ['other'] },
        ],
      },
    ],
  },
];

/**
 * Whether the apiserver adds foregroundDeletion on DELETE with propagationPolicy
 * Foreground (run before the collector starts, so nothing removes it).
 */
async function probeForegroundPolicy(client: RestClient): Promise<string | undefined> {
  const path = resourcePath(REFS.ConfigMap.ref, 'default', 'foreground-probe');
  await client.create(resourcePath(REFS.ConfigMap.ref, 'default'), { metadata: { name: 'foreground-probe' } });
  await client.delete(path, { propagationPolicy: 'Foreground' });
  try {
    const obj = await client.get<KubeObject>(path);
    await client.patch(path, { metadata: { finalizers: [] } });
    return obj.metadata.finalizers?.includes('foregroundDeletion') ? undefined : 'DELETE with propagationPolicy Foreground adds no finalizer';
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return 'the apiserver does not add foregroundDeletion for propagationPolicy Foreground yet';
    throw err;
  }
}

describe('garbage collector', () => {
  let testEnv: ControllerEnv;
  let client: RestClient;
  const missing: Record<NonNullable<Row['needs']>, string | undefined> = { 'foreground-policy': undefined };

  before(async () => {
    testEnv = await startControllerEnv(startGarbageCollectorController, {
      component: 'garbage-collector',
      // Probed before the collector runs, so it cannot act on the probe's object.
      beforeStart: async (env) => {
        missing['foreground-policy'] = await probeForegroundPolicy(env.client);
      },
    });
    client = testEnv.client;
  });

  after(() => testEnv.close());

  rows.forEach((row, i) => {
    it(row.name, async (t) => {
      const lacking = row.needs === undefined ? undefined : missing[row.needs];
      if (lacking !== undefined) {
        t.skip(lacking);
        return;
      }
      const ns = `gc-${i + 1}`;
      await testEnv.createNamespace(ns);
      const path = (kind: Kind, name?: string): string => resourcePath(REFS[kind].ref, ns, name);
      const uids = new Map<string, string>();
      for (const spec of row.objects) {
        const ownerReferences = (spec.owners ?? []).map((o) => {
          const uid = o.uid === 'wrong' ? randomUUID() : uids.get(`${o.kind}/${o.name}`);
          assert.ok(uid, `row creates ${o.kind} ${o.name} before its dependents`);
          return { apiVersion: REFS[o.kind].apiVersion, kind: o.kind, name: o.name, uid, ...(o.block === undefined ? {} : { blockOwnerDeletion: o.block }) };
        });
        const created = await client.create<KubeObject>(path(spec.kind), {
          apiVersion: REFS[spec.kind].apiVersion,
          kind: spec.kind,
          metadata: { name: spec.name, ownerReferences, finalizers: spec.finalizers },
          ...body(spec),
        });
        uids.set(`${spec.kind}/${spec.name}`, created.metadata.uid ?? '');
      }
      const names = new Map([...uids].map(([k, uid]) => [uid, k.split('/')[1]]));

      const world: World = {
        ns,
        async delete(kind, name) {
          await client.delete(path(kind, name));
        },
        async setFinalizers(kind, name, finalizers) {
          await client.patch(path(kind, name), { metadata: { finalizers } });
        },
      };

      const mismatch = async (e: Expect): Promise<string | undefined> => {
        let obj: KubeObject | undefined;
        try {
          obj = await client.get<KubeObject>(path(e.kind, e.name));
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
        const label = `${e.kind} ${e.name}`;
        if (e.state === 'gone') return obj === undefined ? undefined : `${label} still exists`;
        if (obj === undefined) return `${label} is gone`;
        if ((e.state === 'terminating') !== (obj.metadata.deletionTimestamp !== undefined)) return `${label} is not ${e.state}`;
        if (e.owners !== undefined) {
          const got = (obj.metadata.ownerReferences ?? []).map((r) => names.get(r.uid) ?? r.uid);
          if (JSON.stringify(got) !== JSON.stringify(e.owners)) return `${label} owners ${JSON.stringify(got)}`;
        }
        if (e.finalizers !== undefined && JSON.stringify(obj.metadata.finalizers ?? []) !== JSON.stringify(e.finalizers)) {
          return `${label} finalizers ${JSON.stringify(obj.metadata.finalizers ?? [])}`;
        }
        return undefined;
      };

      for (const step of row.steps) {
        await step.act?.(world);
        await waitForState(
          step.what,
          async () => (await Promise.all(step.want.map(mismatch))).filter((m): m is string => m !== undefined),
          (problems) => problems,
          { timeoutMs: 15_000, intervalMs: 50 },
        );
      }
    });
  });
});
