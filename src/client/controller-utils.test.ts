// claimObjects and patchOwnerReferences against a real API server, and
// startInformersAndSync's two outcomes. Each claim row writes pods with the
// given owners and labels, claims them for an owner, and compares what was
// claimed and what the pods' ownerReferences became.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeObject, OwnerReference } from '../apimachinery/index.ts';
import { labelSelectorFromObject, matches } from '../apimachinery/index.ts';
import { startControllerEnv, type ControllerEnv } from '../testing/index.ts';
import { claimObjects, patchOwnerReferences, startInformersAndSync } from './controller-utils.ts';
import { resourcePath, resources } from './paths.ts';
import { ApiError } from './rest.ts';
import { SharedInformerFactory } from './shared-informer-factory.ts';

const PODS = resources.pods;
const OWNER_UID = '11111111-1111-4111-8111-111111111111';
const OTHER_UID = '22222222-2222-4222-8222-222222222222';
const ownerRef = (uid: string, controller = true): OwnerReference => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: uid === OWNER_UID ? 'rs' : 'other', uid, controller });

interface PodSpec {
  name: string;
  labels: Record<string, string>;
  owners?: OwnerReference[];
}

interface Row {
  name: string;
  pods: PodSpec[];
  ownerDeleting?: boolean;
  canAdopt?: boolean;
  /** Names claimed, sorted. */
  claimed: string[];
  /** Each pod's ownerReference uids afterwards. */
  owners: Record<string, string[]>;
  /** How often canAdopt may be asked. */
  asked?: number;
}

const rows: Row[] = [
  {
    name: '1 an owned pod that still matches is kept, untouched',
    pods: [{ name: 'a', labels: { app: 'web' }, owners: [ownerRef(OWNER_UID)] }],
    claimed: ['a'],
    owners: { a: [OWNER_UID] },
  },
  {
    name: '2 an owned pod that no longer matches is released; other owners stay',
    pods: [{ name: 'a', labels: { app: 'db' }, owners: [ownerRef(OTHER_UID, false), ownerRef(OWNER_UID)] }],
    claimed: [],
    owners: { a: [OTHER_UID] },
  },
  {
    name: '3 matching orphans are adopted, canAdopt asked once',
    pods: [
      { name: 'a', labels: { app: 'web' } },
      { name: 'b', labels: { app: 'web' } },
      { name: 'c', labels: { app: 'db' } },
    ],
    canAdopt: true,
    asked: 1,
    claimed: ['a', 'b'],
    owners: { a: [OWNER_UID], b: [OWNER_UID], c: [] },
  },
  {
    name: '4 canAdopt false: orphans stay orphans',
    pods: [{ name: 'a', labels: { app: 'web' } }],
    canAdopt: false,
    asked: 1,
    claimed: [],
    owners: { a: [] },
  },
  {
    name: '5 a pod controlled by another is never touched',
    pods: [{ name: 'a', labels: { app: 'web' }, owners: [ownerRef(OTHER_UID)] }],
    claimed: [],
    owners: { a: [OTHER_UID] },
  },
  {
    name: '6 an owner being deleted neither adopts nor releases',
    pods: [
      { name: 'a', labels: { app: 'web' } },
      { name: 'b', labels: { app: 'db' }, owners: [ownerRef(OWNER_UID)] },
    ],
    ownerDeleting: true,
    claimed: [],
    owners: { a: [], b: [OWNER_UID] },
  },
];

describe('controller utils', () => {
  let env: ControllerEnv;

  before(async () => {
    env = await startControllerEnv();
  });

  after(() => env.close());

  rows.forEach((row, i) => {
    it(`claimObjects: ${row.name}`, async () => {
      const ns = `claim-${i + 1}`;
      await env.createNamespace(ns);
      const pods: KubeObject[] = [];
      for (const p of row.pods) {
        pods.push(
          await env.client.create(resourcePath(PODS, ns), {
            metadata: { name: p.name, labels: p.labels, ownerReferences: p.owners },
            spec: { containers: [{ name: 'c', image: 'busybox' }] },
          }),
        );
      }
      const owner: KubeObject = {
        metadata: { name: 'rs', namespace: ns, uid: OWNER_UID, ...(row.ownerDeleting === true ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
      };
      const selector = labelSelectorFromObject({ matchLabels: { app: 'web' } });
      let asked = 0;
      const claimed = await claimObjects(
        {
          client: env.client,
          resource: PODS,
          owner,
          controllerRef: ownerRef(OWNER_UID),
          matches: (pod) => matches(selector, pod.metadata.labels),
          ...(row.canAdopt === undefined
            ? {}
            : {
                canAdopt: async () => {
                  asked++;
                  return row.canAdopt === true;
                },
              }),
        },
        pods,
      );
      assert.deepEqual(claimed.map((p) => p.metadata.name).sort(), row.claimed);
      const after: Record<string, string[]> = {};
      for (const p of row.pods) {
        const got = await env.client.get(resourcePath(PODS, ns, p.name));
        after[p.name] = (got.metadata.ownerReferences ?? []).map((r) => r.uid);
      }
      assert.deepEqual(after, row.owners);
      assert.equal(asked, row.asked ?? 0);
    });
  });

  it('patchOwnerReferences: a gone object is undefined; a stale resourceVersion is a conflict', async () => {
    const ns = 'patch-owners';
    await env.createNamespace(ns);
    const pod = await env.client.create(resourcePath(PODS, ns), { metadata: { name: 'a' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    await env.client.patch(resourcePath(PODS, ns, 'a'), { metadata: { labels: { touched: 'yes' } } });
    await assert.rejects(patchOwnerReferences(env.client, PODS, pod, [ownerRef(OWNER_UID)]), (err) => err instanceof ApiError && err.code === 409);
    const gone = { ...pod, metadata: { ...pod.metadata, name: 'never-created', resourceVersion: undefined } };
    assert.equal(await patchOwnerReferences(env.client, PODS, gone, [ownerRef(OWNER_UID)]), undefined);
  });

  it('startInformersAndSync: true once synced, false when stopped first', async () => {
    const ac = new AbortController();
    const informers = new SharedInformerFactory({ client: env.client, logger: env.logger });
    const pods = informers.informerFor(PODS);
    assert.equal(await startInformersAndSync(informers, ac.signal, [pods]), true);
    assert.equal(pods.hasSynced(), true);
    ac.abort();
    await informers.stopped();

    const stopped = new AbortController();
    stopped.abort();
    const later = new SharedInformerFactory({ client: env.client, logger: env.logger });
    later.informerFor(PODS);
    assert.equal(await startInformersAndSync(later, stopped.signal), false);
    await later.stopped();
  });
});
