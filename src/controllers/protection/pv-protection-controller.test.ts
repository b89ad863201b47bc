// The pv-protection controller against a real in-process volplane. Each row
// creates PVs with the phase the PV controller would have written, deletes
// them, and walks through steps. As in the pvc test, "stays Terminating" is
// only claimed after a sentinel PV deleted later is gone (one worker, FIFO).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../apimachinery/index.ts';
import { waitFor } from '../../base/index.ts';
import { ApiError, resourcePath, resources, type RestClient } from '../../client/index.ts';
import { hasKubectl, startControllerEnv, type ControllerEnv, type TestCluster } from '../../testing/index.ts';
import { runRow, type Check as GenericCheck, type Row as GenericRow } from './test-framework.ts';
import { PV_PROTECTION_FINALIZER, startPvProtectionController } from './index.ts';

const VOLUMES = resources.persistentVolumes;
const CLAIMS = resources.persistentVolumeClaims;

interface World {
  client: RestClient;
  cluster: TestCluster;
  /** Prefix of this row's PV names (PVs are cluster-scoped). */
  prefix: string;
}

const pvName = (w: World, name: string): string => `${w.prefix}-${name}`;

async function createPV(w: World, name: string, opts: { phase?: string; claim?: string; finalizers?: string[] } = {}): Promise<void> {
  const spec: Record<string, unknown> = { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/srv/${name}` } };
  if (opts.claim !== undefined) spec.claimRef = { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'default', name: opts.claim, uid: 'claim-uid' };
  await w.client.create(resourcePath(VOLUMES), { metadata: { name: pvName(w, name), finalizers: opts.finalizers }, spec });
  if (opts.phase !== undefined) await setPhase(w, name, opts.phase);
}

/** Writes status.phase as the PV controller would. */
async function setPhase(w: World, name: string, phase: string): Promise<void> {
  const path = resourcePath(VOLUMES, undefined, pvName(w, name));
  const current = await w.client.get(path);
  await w.client.update(`${path}/status`, { ...current, status: { phase } });
}

/**
 * A claim and a PV bound to each other, both Bound: the state the PV
 * controller leaves behind, written so that a PV controller running beside
 * this test agrees with it.
 */
async function createBoundPair(w: World, name: string, claim: string): Promise<void> {
  await w.client.create(resourcePath(resources.namespaces), { metadata: { name: w.prefix } });
  const created = await w.client.create(resourcePath(CLAIMS, w.prefix), {
    metadata: { name: claim },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeName: pvName(w, name), storageClassName: '' },
  });
  await w.client.create(resourcePath(VOLUMES), {
    metadata: { name: pvName(w, name) },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      hostPath: { path: `/srv/${name}` },
      storageClassName: '',
      claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: w.prefix, name: claim, uid: created.metadata.uid },
    },
  });
  await setPhase(w, name, 'Bound');
  const path = resourcePath(CLAIMS, w.prefix, claim);
  const current = await w.client.get(path);
  await w.client.update(`${path}/status`, { ...current, status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } } });
}

/** Deletes the claim for good (no pvc-protection controller runs here), as a user ending the binding. */
async function deleteClaim(w: World, claim: string): Promise<void> {
  const path = resourcePath(CLAIMS, w.prefix, claim);
  await w.client.patch(path, { metadata: { finalizers: null } });
  await w.client.delete(path);
  await waitFor(`claim ${claim} gone`, async () => {
    try {
      await w.client.get(path);
      return false;
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return true;
      throw err;
    }
  });
}

/** Writes the PV as the PV controller would once its claim is gone: Released, or (claimRef cleared) Available. */
async function unbind(w: World, name: string, phase: 'Released' | 'Available'): Promise<void> {
  const path = resourcePath(VOLUMES, undefined, pvName(w, name));
  await waitFor(`PV ${name} ${phase}`, async () => {
    try {
      let pv = await w.client.get<KubeObject & { spec: Record<string, unknown>; status?: { phase?: string } }>(path);
      if (phase === 'Available' && pv.spec.claimRef != null) {
        const { claimRef: _dropped, ...spec } = pv.spec;
        pv = await w.client.update(path, { ...pv, spec });
      }
      if (pv.status?.phase !== phase) await w.client.update(`${path}/status`, { ...pv, status: { phase } });
      return true;
    } catch (err) {
      // A PV controller running beside us may have written first: read again.
      if (err instanceof ApiError && err.code === 409) return false;
      throw err;
    }
  });
}

async function deletePV(w: World, name: string): Promise<void> {
  await w.client.delete(resourcePath(VOLUMES, undefined, pvName(w, name)));
}

async function getPV(w: World, name: string): Promise<KubeObject | undefined> {
  try {
    return await w.client.get(resourcePath(VOLUMES, undefined, pvName(w, name)));
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}

let sentinels = 0;
async function settle(w: World): Promise<void> {
  const name = `sentinel-${++sentinels}`;
  await createPV(w, name);
  await deletePV(w, name);
  await waitFor(`sentinel PV ${name} gone`, async () => (await getPV(w, name)) === undefined, { timeoutMs: 15_000 });
}

type Check = GenericCheck<World>;

const gone = (name: string): Check => async (w) => {
  const got = await getPV(w, name);
  return got === undefined ? '' : `PV ${name} still there (finalizers ${JSON.stringify(got.metadata.finalizers)})`;
};

const terminating = (name: string, finalizers = [PV_PROTECTION_FINALIZER]): Check => async (w) => {
  const got = await getPV(w, name);
  if (got === undefined) return `PV ${name} gone`;
  if (!got.metadata.deletionTimestamp) return `PV ${name} not being deleted`;
  const f = JSON.stringify(got.metadata.finalizers ?? []);
  return f === JSON.stringify(finalizers) ? '' : `PV ${name} finalizers ${f}`;
};

const protectedLive = (name: string): Check => async (w) => {
  const got = await getPV(w, name);
  if (got === undefined) return `PV ${name} gone`;
  return (got.metadata.finalizers ?? []).includes(PV_PROTECTION_FINALIZER) ? '' : `PV ${name} finalizers ${JSON.stringify(got.metadata.finalizers)}`;
};

const describedAsHeld = (name: string): Check => async (w) => {
  if (!hasKubectl()) return '';
  const { stdout } = await w.cluster.kubectl(['describe', 'pv', pvName(w, name)]);
  const missing = [/^Status:\s+Terminating \(lasts .+\)$/m, new RegExp(`^Finalizers:\\s+\\[${PV_PROTECTION_FINALIZER}\\]$`, 'm')].filter((re) => !re.test(stdout));
  return missing.length === 0 ? '' : `describe lacks ${missing.join(', ')}:\n${stdout}`;
};

type Row = GenericRow<World>;

const rows: Row[] = [
  {
    name: '1 a new (Pending) PV goes at once',
    setup: (w) => createPV(w, 'pv'),
    steps: [{ what: 'deleted: gone', act: (w) => deletePV(w, 'pv'), want: [gone('pv')] }],
  },
  {
    name: '2 an Available PV goes at once',
    setup: (w) => createPV(w, 'pv', { phase: 'Available' }),
    steps: [{ what: 'deleted: gone', act: (w) => deletePV(w, 'pv'), want: [gone('pv')] }],
  },
  {
    name: '3 a Bound PV stays Terminating until it is Released',
    setup: (w) => createBoundPair(w, 'pv', 'data'),
    steps: [
      { what: 'deleted: held, and kubectl says so', act: (w) => deletePV(w, 'pv'), settle: true, want: [terminating('pv'), describedAsHeld('pv')] },
      {
        what: 'claim deleted, PV Released: gone',
        act: async (w) => {
          await deleteClaim(w, 'data');
          await unbind(w, 'pv', 'Released');
        },
        want: [gone('pv')],
      },
    ],
  },
  {
    name: '4 a Bound PV stays Terminating until it is Available again',
    setup: (w) => createBoundPair(w, 'pv', 'data'),
    steps: [
      { what: 'deleted: held', act: (w) => deletePV(w, 'pv'), settle: true, want: [terminating('pv')] },
      {
        what: 'claim deleted, claimRef cleared, PV Available: gone',
        act: async (w) => {
          await deleteClaim(w, 'data');
          await unbind(w, 'pv', 'Available');
        },
        want: [gone('pv')],
      },
    ],
  },
  {
    name: '5 a Released or Failed PV goes at once',
    setup: async (w) => {
      await createPV(w, 'released', { phase: 'Released', claim: 'data' });
      await createPV(w, 'failed', { phase: 'Failed', claim: 'data' });
    },
    steps: [
      {
        what: 'deleted: both gone',
        act: async (w) => {
          await deletePV(w, 'released');
          await deletePV(w, 'failed');
        },
        want: [gone('released'), gone('failed')],
      },
    ],
  },
  {
    name: '6 only our finalizer is removed; others keep the PV',
    setup: (w) => createPV(w, 'pv', { phase: 'Available', finalizers: ['example.com/hold'] }),
    steps: [
      { what: 'deleted: ours removed, the other stays', act: (w) => deletePV(w, 'pv'), want: [terminating('pv', ['example.com/hold'])] },
      {
        what: 'other finalizer removed: gone',
        act: (w) => w.client.patch(resourcePath(VOLUMES, undefined, pvName(w, 'pv')), { metadata: { finalizers: [] } }).then(() => undefined),
        want: [gone('pv')],
      },
    ],
  },
  {
    name: '7 a PV without the finalizer gets it added',
    setup: (w) => createPV(w, 'pv', { phase: 'Bound', claim: 'data' }),
    steps: [
      {
        what: 'finalizer stripped: added back',
        act: async (w) => {
          const stripped = await w.client.patch(resourcePath(VOLUMES, undefined, pvName(w, 'pv')), { metadata: { finalizers: null } });
          assert.deepEqual(stripped.metadata.finalizers ?? [], [], 'the strip itself must have worked');
        },
        want: [protectedLive('pv')],
      },
    ],
  },
];

describe('pv-protection controller', () => {
  let testEnv: ControllerEnv;

  before(async () => {
    testEnv = await startControllerEnv(startPvProtectionController, { component: 'pv-protection-controller' });
  });

  after(() => testEnv.close());

  rows.forEach((row, i) => {
    it(row.name, async () => {
      const w: World = { client: testEnv.client, cluster: testEnv.cluster, prefix: `pvp-${i + 1}` };
      await runRow(w, row, settle);
    });
  });
});
