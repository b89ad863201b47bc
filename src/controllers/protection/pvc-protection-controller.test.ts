// The pvc-protection controller against a real in-process volplane. Each row
// builds a small world in its own namespace (claims, pods and their phases),
// deletes claims, and walks through steps: an action, then the state the
// claims must reach. "Stays Terminating" is only claimed after the controller
// has provably looked at the claim: a sentinel claim deleted afterwards is
// gone (one worker, a FIFO queue), so the decision to keep was taken.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import { waitFor } from '../../base/index.ts';
import { ApiError, resourcePath, resources, type RestClient } from '../../client/index.ts';
import { hasKubectl, startControllerEnv, type ControllerEnv, type TestCluster } from '../../testing/index.ts';
import { runRow, type Check as GenericCheck, type Row as GenericRow } from './test-framework.ts';
import { PVC_PROTECTION_FINALIZER, PvcProtectionController, startPvcProtectionController, type Pod, type PodVolume } from './index.ts';

const CLAIMS = resources.persistentVolumeClaims;
const PODS = resources.pods;

interface World {
  client: RestClient;
  cluster: TestCluster;
  ns: string;
}

// ---------------------------------------------------------------------------
// Building blocks

const claimSpec = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } };
const claimVolume = (claimName: string, name = 'data'): PodVolume => ({ name, persistentVolumeClaim: { claimName } });
const ephemeralVolume = (name: string): PodVolume => ({ name, ephemeral: { volumeClaimTemplate: { spec: claimSpec } } });

async function createClaim(w: World, name: string, extra: { finalizers?: string[]; ownerPod?: string; ns?: string } = {}): Promise<void> {
  const ns = extra.ns ?? w.ns;
  const metadata: KubeObject['metadata'] = { name, finalizers: extra.finalizers };
  if (extra.ownerPod !== undefined) {
    const owner = await w.client.get<Pod>(resourcePath(PODS, ns, extra.ownerPod));
    metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Pod', name: extra.ownerPod, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true }];
  }
  await w.client.create(resourcePath(CLAIMS, ns), { metadata, spec: claimSpec });
}

/** A pod (unscheduled unless `nodeName`), then its status phase written as a kubelet would. */
async function createPod(w: World, name: string, volumes: PodVolume[], opts: { phase?: string; nodeName?: string; ns?: string } = {}): Promise<void> {
  const ns = opts.ns ?? w.ns;
  await w.client.create(resourcePath(PODS, ns), {
    metadata: { name },
    spec: { nodeName: opts.nodeName, containers: [{ name: 'c', image: 'busybox' }], volumes },
  });
  await setPodPhase(w, name, opts.phase ?? 'Running', ns);
}

async function setPodPhase(w: World, name: string, phase: string, ns = w.ns): Promise<void> {
  const current = await w.client.get<Pod>(resourcePath(PODS, ns, name));
  await w.client.update(resourcePath(PODS, ns, name, 'status'), { ...current, status: { ...(current.status ?? {}), phase } });
}

async function deleteClaim(w: World, name: string): Promise<void> {
  await w.client.delete(resourcePath(CLAIMS, w.ns, name));
}

async function deletePod(w: World, name: string, gracePeriodSeconds?: number): Promise<void> {
  await w.client.delete(resourcePath(PODS, w.ns, name), gracePeriodSeconds === undefined ? undefined : { gracePeriodSeconds });
}

async function getOrUndefined<T extends KubeObject>(client: RestClient, path: string): Promise<T | undefined> {
  try {
    return await client.get<T>(path);
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}

let sentinels = 0;
/** Waits until the controller has processed everything queued so far (see the header). */
async function settle(w: World): Promise<void> {
  const name = `sentinel-${++sentinels}`;
  await createClaim(w, name);
  await deleteClaim(w, name);
  await waitFor(`sentinel claim ${name} gone`, async () => (await getOrUndefined(w.client, resourcePath(CLAIMS, w.ns, name))) === undefined, {
    timeoutMs: 15_000,
  });
}

// ---------------------------------------------------------------------------
// Expectations: each returns what is wrong ('' when right)

type Check = GenericCheck<World>;

const gone = (claim: string): Check => async (w) => {
  const got = await getOrUndefined(w.client, resourcePath(CLAIMS, w.ns, claim));
  return got === undefined ? '' : `claim ${claim} still there (finalizers ${JSON.stringify(got.metadata.finalizers)})`;
};

const terminating = (claim: string, finalizers = [PVC_PROTECTION_FINALIZER]): Check => async (w) => {
  const got = await getOrUndefined(w.client, resourcePath(CLAIMS, w.ns, claim));
  if (got === undefined) return `claim ${claim} gone`;
  if (!got.metadata.deletionTimestamp) return `claim ${claim} not being deleted`;
  const f = JSON.stringify(got.metadata.finalizers ?? []);
  return f === JSON.stringify(finalizers) ? '' : `claim ${claim} finalizers ${f}`;
};

const protectedLive = (claim: string): Check => async (w) => {
  const got = await getOrUndefined(w.client, resourcePath(CLAIMS, w.ns, claim));
  if (got === undefined) return `claim ${claim} gone`;
  if (got.metadata.deletionTimestamp) return `claim ${claim} being deleted`;
  return (got.metadata.finalizers ?? []).includes(PVC_PROTECTION_FINALIZER) ? '' : `claim ${claim} finalizers ${JSON.stringify(got.metadata.finalizers)}`;
};

/** `kubectl describe pvc` shows what a user sees of a held claim. */
const describedAsHeld = (claim: string, usedBy: string): Check => async (w) => {
  if (!hasKubectl()) return '';
  const { stdout } = await w.cluster.kubectl(['describe', 'pvc', claim, '-n', w.ns]);
  const missing = [
    /^Status:\s+Terminating \(lasts .+\)$/m,
    new RegExp(`^Finalizers:\\s+\\[${PVC_PROTECTION_FINALIZER}\\]$`, 'm'),
    new RegExp(`^Used By:\\s+${usedBy}$`, 'm'),
  ].filter((re) => !re.test(stdout));
  return missing.length === 0 ? '' : `describe lacks ${missing.join(', ')}:\n${stdout}`;
};

// ---------------------------------------------------------------------------
// The rows

type Row = GenericRow<World>;

const rows: Row[] = [
  {
    name: '1 an unused claim goes at once',
    setup: (w) => createClaim(w, 'c1'),
    steps: [{ what: 'deleted: gone', act: (w) => deleteClaim(w, 'c1'), want: [gone('c1')] }],
  },
  {
    name: '2 a claim used by a running pod stays Terminating until the pod is deleted',
    setup: async (w) => {
      await createClaim(w, 'c1');
      await createPod(w, 'web', [claimVolume('c1')]);
    },
    steps: [
      { what: 'deleted: held, and kubectl says so', act: (w) => deleteClaim(w, 'c1'), settle: true, want: [terminating('c1'), describedAsHeld('c1', 'web')] },
      { what: 'pod deleted: gone', act: (w) => deletePod(w, 'web'), want: [gone('c1')] },
    ],
  },
  {
    name: '3 a claim used by a running pod goes once the pod Succeeded',
    setup: async (w) => {
      await createClaim(w, 'c1');
      await createPod(w, 'job', [claimVolume('c1')]);
    },
    steps: [
      { what: 'deleted: held', act: (w) => deleteClaim(w, 'c1'), settle: true, want: [terminating('c1')] },
      { what: 'pod Succeeded: gone', act: (w) => setPodPhase(w, 'job', 'Succeeded'), want: [gone('c1')] },
    ],
  },
  {
    name: '4 a claim used only by a Failed pod goes at once',
    setup: async (w) => {
      await createClaim(w, 'c1');
      await createPod(w, 'job', [claimVolume('c1')], { phase: 'Failed' });
    },
    steps: [{ what: 'deleted: gone', act: (w) => deleteClaim(w, 'c1'), want: [gone('c1')] }],
  },
  {
    name: '5 a Pending (unscheduled) pod holds its claim too',
    setup: async (w) => {
      await createClaim(w, 'c1');
      await createPod(w, 'web', [claimVolume('c1')], { phase: 'Pending' });
    },
    steps: [
      { what: 'deleted: held', act: (w) => deleteClaim(w, 'c1'), settle: true, want: [terminating('c1')] },
      { what: 'pod deleted: gone', act: (w) => deletePod(w, 'web'), want: [gone('c1')] },
    ],
  },
  {
    name: '6 a scheduled pod holds its claim through its grace period, and lets go when deleted for good',
    setup: async (w) => {
      await createClaim(w, 'c1');
      await createPod(w, 'web', [claimVolume('c1')], { nodeName: 'node-1' });
    },
    steps: [
      { what: 'claim deleted: held', act: (w) => deleteClaim(w, 'c1'), settle: true, want: [terminating('c1')] },
      { what: 'pod deleted gracefully: still held', act: (w) => deletePod(w, 'web'), settle: true, want: [terminating('c1')] },
      { what: 'pod deleted with grace 0: gone', act: (w) => deletePod(w, 'web', 0), want: [gone('c1')] },
    ],
  },
  {
    name: '7 a generic ephemeral volume holds the claim <pod>-<volume> its pod owns',
    setup: async (w) => {
      await createPod(w, 'web', [ephemeralVolume('scratch')]);
      await createClaim(w, 'web-scratch', { ownerPod: 'web' });
    },
    steps: [
      { what: 'deleted: held', act: (w) => deleteClaim(w, 'web-scratch'), settle: true, want: [terminating('web-scratch'), describedAsHeld('web-scratch', 'web')] },
      { what: 'pod deleted: gone', act: (w) => deletePod(w, 'web'), want: [gone('web-scratch')] },
    ],
  },
  {
    name: '8 a claim named like an ephemeral volume but not owned by the pod goes at once',
    setup: async (w) => {
      await createPod(w, 'web', [ephemeralVolume('scratch')]);
      await createClaim(w, 'web-scratch');
    },
    steps: [{ what: 'deleted: gone', act: (w) => deleteClaim(w, 'web-scratch'), want: [gone('web-scratch')] }],
  },
  {
    name: '9 a pod in another namespace does not hold a claim of the same name',
    setup: async (w) => {
      await w.client.create(resourcePath(resources.namespaces), { metadata: { name: `${w.ns}-other` } });
      await createClaim(w, 'c1');
      await createPod(w, 'web', [claimVolume('c1')], { ns: `${w.ns}-other` });
    },
    steps: [{ what: 'deleted: gone', act: (w) => deleteClaim(w, 'c1'), want: [gone('c1')] }],
  },
  {
    name: '10 one of two users gone is not enough',
    setup: async (w) => {
      await createClaim(w, 'c1');
      await createPod(w, 'a', [claimVolume('c1')]);
      await createPod(w, 'b', [claimVolume('c1')]);
    },
    steps: [
      { what: 'deleted: held', act: (w) => deleteClaim(w, 'c1'), settle: true, want: [terminating('c1')] },
      { what: 'pod a deleted: still held', act: (w) => deletePod(w, 'a'), settle: true, want: [terminating('c1')] },
      { what: 'pod b deleted: gone', act: (w) => deletePod(w, 'b'), want: [gone('c1')] },
    ],
  },
  {
    name: '11 only our finalizer is removed; others keep the claim',
    setup: (w) => createClaim(w, 'c1', { finalizers: ['example.com/hold'] }),
    steps: [
      { what: 'deleted: ours removed, the other stays', act: (w) => deleteClaim(w, 'c1'), want: [terminating('c1', ['example.com/hold'])] },
      {
        what: 'other finalizer removed: gone',
        act: (w) => w.client.patch(resourcePath(CLAIMS, w.ns, 'c1'), { metadata: { finalizers: [] } }).then(() => undefined),
        want: [gone('c1')],
      },
    ],
  },
  {
    name: '12 a claim without the finalizer gets it added',
    setup: (w) => createClaim(w, 'c1'),
    steps: [
      {
        what: 'finalizer stripped: added back',
        act: async (w) => {
          const stripped = await w.client.patch(resourcePath(CLAIMS, w.ns, 'c1'), { metadata: { finalizers: null } });
          assert.deepEqual(stripped.metadata.finalizers ?? [], [], 'the strip itself must have worked');
        },
        want: [protectedLive('c1')],
      },
    ],
  },
];

describe('pvc-protection controller', () => {
  let testEnv: ControllerEnv;

  before(async () => {
    testEnv = await startControllerEnv(startPvcProtectionController, { component: 'pvc-protection-controller' });
  });

  after(() => testEnv.close());

  rows.forEach((row, i) => {
    it(row.name, async () => {
      const w: World = { client: testEnv.client, cluster: testEnv.cluster, ns: `pvcp-${i + 1}` };
      await testEnv.createNamespace(w.ns);
      await runRow(w, row, settle);
    });
  });
});

// The cache is asked first; only a live LIST can be trusted to remove the
// finalizer. These rows run syncClaim by hand with a pod informer that never
// started, so the cache knows no pods at all.
describe('pvc-protection controller: the live pod list backs up the cache', () => {
  let testEnv: ControllerEnv;
  let controller: PvcProtectionController;

  before(async () => {
    testEnv = await startControllerEnv(
      (ctx, signal) => {
        controller = new PvcProtectionController(ctx);
        // Only the claims informer runs; the factory itself is never started.
        return ctx.informers.informerFor(CLAIMS).run(signal);
      },
      { component: 'pvc-protection-controller' },
    );
    await testEnv.informers.informerFor(CLAIMS).waitForSync(testEnv.signal);
  });

  after(async () => {
    controller.dispose();
    controller.queue.shutDown();
    await testEnv.close();
  });

  const liveRows: Array<{ name: string; withPod: boolean; want: Check }> = [
    { name: 'L1 a user the cache has not seen keeps the claim', withPod: true, want: terminating('c1') },
    { name: 'L2 no user in the cache nor on the server: the finalizer goes', withPod: false, want: gone('c1') },
  ];
  liveRows.forEach((row, i) => {
    it(row.name, async () => {
      const { client, informers } = testEnv;
      const w: World = { client, cluster: testEnv.cluster, ns: `live-${i + 1}` };
      await testEnv.createNamespace(w.ns);
      await createClaim(w, 'c1');
      if (row.withPod) await createPod(w, 'web', [claimVolume('c1')]);
      await deleteClaim(w, 'c1');
      const claims = informers.informerFor(CLAIMS);
      await waitFor('claim marked in the cache', () => Boolean(claims.get(`${w.ns}/c1`)?.metadata.deletionTimestamp));
      const pods = informers.informerFor<Pod>(PODS);
      assert.equal(pods.hasSynced(), false);
      assert.equal(pods.list().length, 0);

      await controller.syncClaim(`${w.ns}/c1`, testEnv.signal);
      assert.equal(await row.want(w), '');
      const list = await client.get<KubeList>(resourcePath(PODS, w.ns));
      assert.equal(list.items.length, row.withPod ? 1 : 0);
    });
  });
});
