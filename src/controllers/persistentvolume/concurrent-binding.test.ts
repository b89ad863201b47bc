// Binding with several claim workers at once, on a real API server: many
// claims to many volumes, claims racing for one volume, and 409 Conflicts
// made by changing an object behind the controller's back. Rows are numbered
// C-n (upstream has no such scenarios: it runs one claim worker).
//
// A ProbeClient stands between the controller and the server: it counts the
// updates in flight (to show the workers really overlapped) and the ones the
// server refused with 409, and can change an object just before the
// controller's update of it reaches the server, which makes that update a
// real conflict.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeList } from '../../apimachinery/index.ts';
import type { PersistentVolume, PersistentVolumeClaim } from '../../api/core/volume-types.ts';
import { waitFor } from '../../base/index.ts';
import { ApiError, RestClient, resourcePath, resources } from '../../client/index.ts';
import { rowEvents, runRow, startHarness, type ExpectedClaim, type ExpectedVolume, type Harness, type Row, type RowClaim, type RowVolume, type World } from './test-framework.ts';

const BBC = { 'pv.kubernetes.io/bound-by-controller': 'yes' };
const BC = { 'pv.kubernetes.io/bind-completed': 'yes' };
const BOTH = { ...BBC, ...BC };

/** The shared client's config, with counters and a hook before each update. */
class ProbeClient extends RestClient {
  readonly base: RestClient;
  /** Updates sent (spec and status, volumes and claims). */
  updates = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** Paths of updates the server refused with 409 Conflict. */
  readonly conflicts: string[] = [];
  /** Runs before an update is sent; may change the object through `base`. */
  beforeUpdate: ((path: string) => Promise<void>) | undefined;

  constructor(base: RestClient) {
    super(base.config);
    this.base = base;
  }

  override async update<T>(path: string, body: unknown): Promise<T> {
    await this.beforeUpdate?.(path);
    this.updates++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await super.update<T>(path, body);
    } catch (err) {
      if (err instanceof ApiError && err.code === 409) this.conflicts.push(path);
      throw err;
    } finally {
      this.inFlight--;
    }
  }

  /** Conflicts on a PV's spec (the claimRef write), not its status. */
  volumeSpecConflicts(): string[] {
    return this.conflicts.filter((p) => p.includes('/persistentvolumes/') && !p.endsWith('/status'));
  }
}

/** A row whose controller talks through a fresh ProbeClient; `probe()` is the one of the current run. */
function probed(row: Omit<Row, 'client'>, setUp?: (probe: ProbeClient) => void): { row: Row; probe: () => ProbeClient } {
  let current: ProbeClient | undefined;
  return {
    row: {
      ...row,
      client: (base) => {
        current = new ProbeClient(base);
        setUp?.(current);
        return current;
      },
    },
    probe: () => {
      assert.ok(current !== undefined, 'the row did not create its client');
      return current;
    },
  };
}

async function claimsOf(world: World): Promise<PersistentVolumeClaim[]> {
  return (await world.client.get<KubeList<PersistentVolumeClaim>>(resourcePath(resources.persistentVolumeClaims, world.namespace))).items;
}

async function volumesOf(world: World): Promise<PersistentVolume[]> {
  return (await world.client.get<KubeList<PersistentVolume>>(resourcePath(resources.persistentVolumes))).items;
}

/**
 * Every claim Bound to a volume of its own, and every volume named by a claim
 * Bound back to exactly that claim (uid included), with the annotations the
 * controller writes when it chose the pair.
 */
async function assertOneToOne(world: World, claimCount: number): Promise<void> {
  const claims = await claimsOf(world);
  assert.equal(claims.length, claimCount);
  const volumes = new Map((await volumesOf(world)).map((v) => [v.metadata.name ?? '', v]));
  const taken = new Set<string>();
  for (const c of claims) {
    const name = c.metadata.name ?? '';
    const volumeName = c.spec.volumeName ?? '';
    assert.equal(c.status?.phase, 'Bound', `claim ${name}`);
    assert.deepEqual(
      { bbc: c.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], bc: c.metadata.annotations?.['pv.kubernetes.io/bind-completed'] },
      { bbc: 'yes', bc: 'yes' },
      `claim ${name} annotations`,
    );
    assert.ok(!taken.has(volumeName), `volume ${volumeName} is named by two claims`);
    taken.add(volumeName);
    const pv = volumes.get(volumeName);
    assert.ok(pv !== undefined, `claim ${name} names a missing volume ${volumeName}`);
    assert.equal(pv.status?.phase, 'Bound', `volume ${volumeName}`);
    assert.deepEqual(
      { name: pv.spec.claimRef?.name, namespace: pv.spec.claimRef?.namespace, uid: pv.spec.claimRef?.uid },
      { name, namespace: world.namespace, uid: c.metadata.uid },
      `volume ${volumeName} claimRef`,
    );
    assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes', `volume ${volumeName} annotation`);
  }
}

/** Waits until every claim of the row's namespace is Bound (rows that cannot name the pairs in advance). */
async function waitAllBound(world: World, claimCount: number): Promise<void> {
  await waitFor(
    'every claim Bound',
    async () => {
      const claims = await claimsOf(world);
      return claims.length === claimCount && claims.every((c) => c.status?.phase === 'Bound' && (c.spec.volumeName ?? '') !== '');
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}

// C-1: identical volumes, so every worker's first choice is the same volume
// unless the reservation steers it to the next.
const C1_COUNT = 48;
const c1 = probed({
  name: 'C-1 many claims bound at once to identical volumes: each gets its own, four writes per bind, no conflicts',
  workers: { claim: 16 },
  volumes: Array.from({ length: C1_COUNT }, (_, i): RowVolume => ({ name: `volume-c1-${String(i).padStart(2, '0')}`, phase: 'Available' })),
  claims: Array.from({ length: C1_COUNT }, (_, i): RowClaim => ({ name: `claim-c1-${String(i).padStart(2, '0')}` })),
  expectedVolumes: [],
  expectedClaims: [],
  events: [],
  check: async (world) => {
    await waitAllBound(world, C1_COUNT);
    await assertOneToOne(world, C1_COUNT);
    assert.ok(c1.probe().maxInFlight > 1, `the workers never overlapped (at most ${c1.probe().maxInFlight} update in flight)`);
    assert.deepEqual(c1.probe().volumeSpecConflicts(), [], 'two workers wrote the claimRef of one volume');
    // Upstream's four writes per bind and nothing else: concurrency added no retries.
    assert.equal(c1.probe().updates, 4 * C1_COUNT);
    assert.deepEqual(await rowEvents(world), []);
  },
});

// C-2: sizes 1..n Gi for both: whatever order the workers take the claims
// in, the smallest fit of the claim of k Gi is the volume of k Gi.
const C2_COUNT = 24;
const c2: Row = {
  name: 'C-2 many claims of different sizes bound at once: each gets the smallest volume that fits',
  workers: { claim: 16 },
  volumes: Array.from({ length: C2_COUNT }, (_, i): RowVolume => ({ name: `volume-c2-${i + 1}g`, size: `${i + 1}Gi`, phase: 'Available' })),
  // Largest first, so the first claims the workers take are the ones that could wrongly take a larger volume.
  claims: Array.from({ length: C2_COUNT }, (_, i): RowClaim => ({ name: `claim-c2-${C2_COUNT - i}g`, size: `${C2_COUNT - i}Gi` })),
  expectedVolumes: Array.from({ length: C2_COUNT }, (_, i): ExpectedVolume => ({ name: `volume-c2-${i + 1}g`, phase: 'Bound', claim: `claim-c2-${i + 1}g`, ann: BBC })),
  expectedClaims: Array.from({ length: C2_COUNT }, (_, i): ExpectedClaim => ({
    name: `claim-c2-${i + 1}g`,
    phase: 'Bound',
    volumeName: `volume-c2-${i + 1}g`,
    ann: BOTH,
    capacity: `${i + 1}Gi`,
  })),
  events: [],
};

// C-3: both claims are queued when the controller starts and two workers take
// them together; the loser sees the volume reserved and finds nothing else.
const c3 = probed({
  name: 'C-3 two claims race for one volume: one binds, the other stays Pending with FailedBinding',
  workers: { claim: 2 },
  volumes: [{ name: 'volume-c3', phase: 'Available' }],
  claims: [{ name: 'claim-c3-a' }, { name: 'claim-c3-b' }],
  expectedVolumes: [],
  expectedClaims: [],
  events: ['Normal FailedBinding'],
  check: async (world) => {
    const claims = await claimsOf(world);
    const bound = claims.filter((c) => c.status?.phase === 'Bound');
    const pending = claims.filter((c) => c.status?.phase === 'Pending');
    assert.equal(bound.length, 1, `bound: ${bound.map((c) => c.metadata.name).join(', ')}`);
    assert.equal(pending.length, 1);
    assert.equal(bound[0]!.spec.volumeName, 'volume-c3');
    assert.equal(pending[0]!.spec.volumeName ?? '', '');
    const pv = await world.getVolume('volume-c3');
    assert.equal(pv?.spec.claimRef?.uid, bound[0]!.metadata.uid);
    assert.equal(pv?.status?.phase, 'Bound');
    // The reservation, not the server, settled the race: one claimRef write, no conflict.
    assert.deepEqual(c3.probe().volumeSpecConflicts(), []);
    const loserEvents = (await rowEvents(world)).filter((e) => e.involvedObject.uid === pending[0]!.metadata.uid);
    assert.deepEqual(
      loserEvents.map((e) => `${e.type} ${e.reason}: ${e.message}`),
      ['Normal FailedBinding: no persistent volumes available for this claim and no storage class is set'],
    );
  },
});

const c4 = probed({
  name: 'C-4 two claims race for the best volume: the loser binds the next best',
  workers: { claim: 2 },
  volumes: [
    { name: 'volume-c4-1g', size: '1Gi', phase: 'Available' },
    { name: 'volume-c4-2g', size: '2Gi', phase: 'Available' },
    { name: 'volume-c4-5g', size: '5Gi', phase: 'Available' },
  ],
  claims: [{ name: 'claim-c4-a' }, { name: 'claim-c4-b' }],
  expectedVolumes: [{ name: 'volume-c4-5g', phase: 'Available' }],
  expectedClaims: [],
  events: [],
  check: async (world) => {
    await waitAllBound(world, 2);
    await assertOneToOne(world, 2);
    const names = (await claimsOf(world)).map((c) => c.spec.volumeName).sort();
    assert.deepEqual(names, ['volume-c4-1g', 'volume-c4-2g']);
    assert.deepEqual(c4.probe().volumeSpecConflicts(), []);
  },
});

// C-5: the label lands between the controller's read and its claimRef write.
const c5 = probed(
  {
    name: 'C-5 409 on the claimRef write (volume changed behind the controller): requeued, bound, the change kept',
    workers: { claim: 4 },
    volumes: [{ name: 'volume-c5', phase: 'Available' }],
    claims: [{ name: 'claim-c5' }],
    expectedVolumes: [{ name: 'volume-c5', phase: 'Bound', claim: 'claim-c5', ann: BBC }],
    expectedClaims: [{ name: 'claim-c5', phase: 'Bound', volumeName: 'volume-c5', ann: BOTH }],
    // A conflict is an ordinary requeue: no event.
    events: [],
    check: async (world) => {
      assert.deepEqual(c5.probe().volumeSpecConflicts().slice(0, 1), ['/api/v1/persistentvolumes/volume-c5']);
      const pv = await world.getVolume('volume-c5');
      assert.equal(pv?.metadata.labels?.['changed'], 'behind-the-back');
    },
  },
  (probe) => {
    let done = false;
    probe.beforeUpdate = async (path) => {
      if (done || path !== '/api/v1/persistentvolumes/volume-c5') return;
      done = true;
      await probe.base.patch(path, { metadata: { labels: { changed: 'behind-the-back' } } });
    };
  },
);

// C-6: the volume already names the claim when its volumeName write fails; the
// retry must finish with that volume, never bind the claim to a second one.
const c6 = probed(
  {
    name: 'C-6 409 on the claim write after the volume was claimed: requeued, bound to the same volume, the other left Available',
    workers: { claim: 4 },
    volumes: [
      { name: 'volume-c6-a', phase: 'Available' },
      { name: 'volume-c6-b', phase: 'Available' },
    ],
    claims: [{ name: 'claim-c6' }],
    expectedVolumes: [
      { name: 'volume-c6-a', phase: 'Bound', claim: 'claim-c6', ann: BBC },
      { name: 'volume-c6-b', phase: 'Available' },
    ],
    expectedClaims: [{ name: 'claim-c6', phase: 'Bound', volumeName: 'volume-c6-a', ann: BOTH }],
    events: [],
    check: (world) => {
      assert.ok(
        c6.probe().conflicts.some((p) => p === `/api/v1/namespaces/${world.namespace}/persistentvolumeclaims/claim-c6`),
        `no conflict on the claim write: ${JSON.stringify(c6.probe().conflicts)}`,
      );
    },
  },
  (probe) => {
    let done = false;
    probe.beforeUpdate = async (path) => {
      if (done || !/\/persistentvolumeclaims\/claim-c6$/.test(path)) return;
      done = true;
      await probe.base.patch(path, { metadata: { labels: { changed: 'behind-the-back' } } });
    };
  },
);

const rows: Row[] = [c1.row, c2, c3.row, c4.row, c5.row, c6.row];

describe('PV controller: binding with several claim workers', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });
  for (const row of rows) it(row.name, () => runRow(h, row));
});
