import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ControllerExpectations } from './controller-expectations.ts';
import { calculateStatus, podsToDelete, slowStartBatch, type Pod, type ReplicaSet } from './replica-set-utils.ts';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function pod(name: string, o: { node?: string; phase?: string; readySince?: number; created?: number; restarts?: number; labels?: Record<string, string> } = {}): Pod {
  return {
    metadata: { name, creationTimestamp: iso(o.created ?? T0), labels: o.labels ?? { app: 'web' } },
    spec: { nodeName: o.node },
    status: {
      phase: o.phase ?? 'Pending',
      conditions: o.readySince === undefined ? [] : [{ type: 'Ready', status: 'True', lastTransitionTime: iso(o.readySince) }],
      containerStatuses: [{ restartCount: o.restarts ?? 0 }],
    },
  };
}

describe('podsToDelete', () => {
  const rows: { name: string; pods: Pod[]; count: number; want: string[] }[] = [
    { name: '1 unscheduled before scheduled', pods: [pod('a', { node: 'n1' }), pod('b')], count: 1, want: ['b'] },
    { name: '2 Pending before Running', pods: [pod('a', { node: 'n', phase: 'Running' }), pod('b', { node: 'n' })], count: 1, want: ['b'] },
    {
      name: '3 not ready before ready',
      pods: [pod('a', { node: 'n', phase: 'Running', readySince: T0 }), pod('b', { node: 'n', phase: 'Running' })],
      count: 1,
      want: ['b'],
    },
    {
      name: '4 ready more recently before ready longer',
      pods: [pod('old', { node: 'n', phase: 'Running', readySince: T0 }), pod('new', { node: 'n', phase: 'Running', readySince: T0 + 5000 })],
      count: 1,
      want: ['new'],
    },
    { name: '5 more restarts first', pods: [pod('a', { restarts: 0 }), pod('b', { restarts: 3 })], count: 1, want: ['b'] },
    { name: '6 newer before older', pods: [pod('a', { created: T0 }), pod('b', { created: T0 + 1000 })], count: 1, want: ['b'] },
    { name: '7 nothing to delete', pods: [pod('a')], count: 0, want: [] },
  ];
  for (const row of rows) {
    it(row.name, () => assert.deepEqual(podsToDelete(row.pods, row.count).map((p) => p.metadata.name), row.want));
  }
});

describe('calculateStatus', () => {
  const rs: ReplicaSet = {
    metadata: { name: 'rs', generation: 4 },
    spec: { replicas: 3, minReadySeconds: 10, template: { metadata: { labels: { app: 'web', tier: 'front' } } } },
  };
  it('1 counts fully labelled, ready and available pods, leaving zero counts out', () => {
    const pods = [
      pod('a', { readySince: T0, labels: { app: 'web', tier: 'front' } }),
      pod('b', { readySince: T0 + 5000 }),
      pod('c'),
    ];
    assert.deepEqual(calculateStatus(rs, pods, T0 + 10_000), {
      replicas: 3,
      fullyLabeledReplicas: 1,
      readyReplicas: 2,
      availableReplicas: 1,
      observedGeneration: 4,
    });
    assert.deepEqual(calculateStatus(rs, [], T0), { replicas: 0, observedGeneration: 4 });
  });
  it('2 a failed create sets ReplicaFailure; success removes it', () => {
    const failed = calculateStatus(rs, [], T0, { reason: 'FailedCreate', message: 'quota' });
    assert.equal(failed.conditions?.[0]?.type, 'ReplicaFailure');
    assert.equal(failed.conditions?.[0]?.message, 'quota');
    assert.equal(calculateStatus({ ...rs, status: failed }, [], T0).conditions, undefined);
  });
});

describe('slowStartBatch', () => {
  it('1 batches 1, 2, 4 … and stops after a batch with a failure', async () => {
    let calls = 0;
    const r = await slowStartBatch(10, 1, async () => {
      calls++;
      if (calls === 2) throw new Error('boom');
    });
    // Batch 1 (1 call) succeeds, batch 2 (2 calls) has the failure, nothing after.
    assert.deepEqual({ calls, successes: r.successes, attempted: r.attempted, error: r.error?.message }, { calls: 3, successes: 2, attempted: 3, error: 'boom' });
  });
  it('2 all succeed', async () => {
    const r = await slowStartBatch(7, 1, async () => {});
    assert.deepEqual(r, { successes: 7, attempted: 7 });
  });
});

describe('ControllerExpectations', () => {
  it('1 waits for every creation and deletion, then is satisfied; expires', () => {
    let now = 0;
    const e = new ControllerExpectations({ now: () => now, timeoutMs: 100 });
    assert.equal(e.satisfied('ns/rs'), true);
    e.expectCreations('ns/rs', 2);
    e.creationObserved('ns/rs');
    assert.equal(e.satisfied('ns/rs'), false);
    e.creationObserved('ns/rs');
    assert.equal(e.satisfied('ns/rs'), true);
    e.expectDeletions('ns/rs', ['ns/a']);
    e.deletionObserved('ns/rs', 'ns/b');
    assert.equal(e.satisfied('ns/rs'), false);
    now = 101;
    assert.equal(e.satisfied('ns/rs'), true);
  });
});
