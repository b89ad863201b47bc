import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  calculateStatus,
  compactStatus,
  computeHash,
  equalIgnoreHash,
  newRSNewReplicas,
  oldReplicaSetScaleDowns,
  replicaSetsToCleanUp,
  resolveFenceposts,
  setProgressingCondition,
  type Deployment,
  type ReplicaSet,
} from './deployment-util.ts';

const NOW = Date.parse('2025-01-01T00:00:00Z');

function deploy(replicas: number, rolling?: { maxSurge?: number | string; maxUnavailable?: number | string }, type: 'RollingUpdate' | 'Recreate' = 'RollingUpdate'): Deployment {
  return {
    metadata: { name: 'd', generation: 1 },
    spec: { replicas, strategy: { type, rollingUpdate: rolling }, progressDeadlineSeconds: 600, revisionHistoryLimit: 1 },
  };
}

function rs(name: string, replicas: number, available = replicas, o: { created?: string; revision?: number; statusReplicas?: number } = {}): ReplicaSet {
  return {
    metadata: { name, creationTimestamp: o.created ?? `2025-01-01T00:00:0${name.length}Z`, annotations: { 'deployment.kubernetes.io/revision': String(o.revision ?? 1) } },
    spec: { replicas },
    status: { replicas: o.statusReplicas ?? replicas, readyReplicas: available, availableReplicas: available },
  };
}

describe('computeHash', () => {
  it('1 is stable across key order, differs by template and by collision count, uses the safe alphabet', () => {
    const a = computeHash({ metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] } });
    const b = computeHash({ spec: { containers: [{ image: 'i', name: 'c' }] }, metadata: { labels: { app: 'x' } } });
    assert.equal(a, b);
    assert.match(a, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    assert.notEqual(computeHash({ spec: { containers: [{ name: 'c', image: 'j' }] } }), computeHash({ spec: { containers: [{ name: 'c', image: 'i' }] } }));
    assert.notEqual(computeHash({}, 1), computeHash({}, 2));
  });
  it('2 equalIgnoreHash ignores only the pod-template-hash label', () => {
    assert.equal(equalIgnoreHash({ metadata: { labels: { app: 'x', 'pod-template-hash': 'abc' } } }, { metadata: { labels: { app: 'x' } } }), true);
    assert.equal(equalIgnoreHash({ metadata: { labels: { app: 'x' } } }, { metadata: { labels: { app: 'y' } } }), false);
  });
});

describe('resolveFenceposts', () => {
  const rows: { name: string; d: Deployment; want: { maxSurge: number; maxUnavailable: number } }[] = [
    { name: '1 25% of 4 (the defaults)', d: deploy(4, { maxSurge: '25%', maxUnavailable: '25%' }), want: { maxSurge: 1, maxUnavailable: 1 } },
    { name: '2 percentages round surge up and unavailability down', d: deploy(3, { maxSurge: '25%', maxUnavailable: '25%' }), want: { maxSurge: 1, maxUnavailable: 0 } },
    { name: '3 both zero becomes one unavailable', d: deploy(1, { maxSurge: 0, maxUnavailable: '10%' }), want: { maxSurge: 0, maxUnavailable: 1 } },
    { name: '4 Recreate has neither', d: deploy(3, undefined, 'Recreate'), want: { maxSurge: 0, maxUnavailable: 0 } },
  ];
  for (const row of rows) it(row.name, () => assert.deepEqual(resolveFenceposts(row.d), row.want));
});

describe('rolling update steps', () => {
  const rows: { name: string; d: Deployment; old: ReplicaSet[]; newRS: ReplicaSet; wantNew: number; wantDowns: Record<string, number> }[] = [
    {
      name: '1 a fresh rollout surges by maxSurge; nothing old goes while the new pod is unavailable',
      d: deploy(4, { maxSurge: 1, maxUnavailable: 0 }),
      old: [rs('old', 4)],
      newRS: rs('new', 0),
      wantNew: 1,
      wantDowns: {},
    },
    {
      name: '2 once the new pods are available, old ones go down to keep replicas − maxUnavailable available',
      d: deploy(4, { maxSurge: 1, maxUnavailable: 0 }),
      old: [rs('old', 4)],
      newRS: rs('new', 1, 1),
      wantNew: 1,
      wantDowns: { old: 3 },
    },
    {
      name: '3 unavailable old pods are removed first, the available ones kept at replicas − maxUnavailable',
      d: deploy(4, { maxSurge: 0, maxUnavailable: 2 }),
      old: [rs('old', 4, 2)],
      newRS: rs('new', 0),
      wantNew: 0,
      wantDowns: { old: 2 },
    },
    {
      name: '4 several old ReplicaSets shrink oldest first',
      d: deploy(2, { maxSurge: 0, maxUnavailable: 2 }),
      old: [rs('a', 1, 1, { created: '2025-01-01T00:00:01Z' }), rs('bb', 1, 1, { created: '2025-01-01T00:00:02Z' })],
      newRS: rs('new', 0),
      wantNew: 0,
      wantDowns: { a: 0, bb: 0 },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const all = [...row.old, row.newRS];
      assert.equal(newRSNewReplicas(row.d, all, row.newRS), row.wantNew);
      assert.deepEqual(Object.fromEntries(oldReplicaSetScaleDowns(row.d, all, row.old, row.newRS)), row.wantDowns);
    });
  }
});

describe('status', () => {
  it('1 counts from the ReplicaSets, Available by maxUnavailable, zeros left out', () => {
    const d = deploy(4, { maxSurge: 1, maxUnavailable: 1 });
    const s = calculateStatus(d, [rs('old', 1, 1), rs('new', 3, 2)], rs('new', 3, 2), undefined, NOW);
    assert.deepEqual(
      { ...s, conditions: s.conditions?.map((c) => [c.type, c.status, c.reason]) },
      {
        observedGeneration: 1,
        replicas: 4,
        updatedReplicas: 3,
        readyReplicas: 3,
        availableReplicas: 3,
        unavailableReplicas: 1,
        collisionCount: undefined,
        conditions: [['Available', 'True', 'MinimumReplicasAvailable']],
      },
    );
    const empty = compactStatus(calculateStatus(deploy(0), [], undefined, undefined, NOW));
    assert.equal('replicas' in empty, false);
  });
  it('2 Progressing: updated → ReplicaSetUpdated, complete → NewReplicaSetAvailable, stuck past the deadline → ProgressDeadlineExceeded', () => {
    const d = deploy(2);
    const newRS = rs('new', 2, 1);
    const moving = calculateStatus(d, [newRS], newRS, undefined, NOW);
    setProgressingCondition(d, moving, newRS, NOW);
    assert.equal(moving.conditions?.find((c) => c.type === 'Progressing')?.reason, 'ReplicaSetUpdated');

    const stuck = calculateStatus({ ...d, status: moving }, [newRS], newRS, moving, NOW + 601_000);
    setProgressingCondition({ ...d, status: moving }, stuck, newRS, NOW + 601_000);
    assert.equal(stuck.conditions?.find((c) => c.type === 'Progressing')?.reason, 'ProgressDeadlineExceeded');

    const doneRS = rs('new', 2, 2);
    const done = calculateStatus(d, [doneRS], doneRS, moving, NOW);
    setProgressingCondition(d, done, doneRS, NOW);
    const p = done.conditions?.find((c) => c.type === 'Progressing');
    assert.equal(p?.reason, 'NewReplicaSetAvailable');
    assert.equal(p?.message, 'ReplicaSet "new" has successfully progressed.');
  });
});

describe('replicaSetsToCleanUp', () => {
  it('1 deletes empty old ReplicaSets beyond revisionHistoryLimit, oldest revision first, never one with pods', () => {
    const d = deploy(1); // revisionHistoryLimit 1
    const old = [rs('r1', 0, 0, { revision: 1 }), rs('r2', 0, 0, { revision: 2, statusReplicas: 1 }), rs('r3', 0, 0, { revision: 3 })];
    assert.deepEqual(replicaSetsToCleanUp(d, old).map((x) => x.metadata.name), ['r1', 'r3']);
  });
});
