// generatePodStatus and the back-off as pure functions: the phase table of
// upstream getPhase and the 10 s → 5 min restart back-off.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, goDuration } from './backoff.ts';
import { generatePodStatus, sameStatus } from './pod-status.ts';
import type { RuntimeContainer } from './runtime/types.ts';
import type { Pod, RestartPolicy } from './types.ts';

const T0 = '2025-01-01T00:00:00Z';
const running = (name: string, restartCount = 0): RuntimeContainer => ({ id: `${name}-${restartCount}`, podUid: 'u', name, image: 'busybox', restartCount, status: { state: 'running', pid: 1, startedAt: T0 } });
const exited = (name: string, exitCode: number, restartCount = 0): RuntimeContainer => ({
  id: `${name}-${restartCount}`,
  podUid: 'u',
  name,
  image: 'busybox',
  restartCount,
  status: { state: 'exited', exitCode, startedAt: T0, finishedAt: T0, reason: exitCode === 0 ? 'Completed' : 'Error' },
});

function pod(policy: RestartPolicy, names: string[], phase?: string): Pod {
  return {
    metadata: { name: 'p', namespace: 'ns', uid: 'u' },
    spec: { restartPolicy: policy, containers: names.map((name) => ({ name, image: 'busybox' })) },
    status: { ...(phase === undefined ? {} : { phase: phase as 'Running' }), qosClass: 'BestEffort' },
  };
}

test('pod phase', async (t) => {
  const rows: { name: string; pod: Pod; containers: RuntimeContainer[]; waiting?: [string, string][]; want: string }[] = [
    { name: '1 nothing started yet: Pending', pod: pod('Always', ['a']), containers: [], want: 'Pending' },
    { name: '2 all running: Running', pod: pod('Always', ['a', 'b']), containers: [running('a'), running('b')], want: 'Running' },
    { name: '3 one running, one not started: Pending', pod: pod('Always', ['a', 'b']), containers: [running('a')], want: 'Pending' },
    { name: '4 Never, all exited 0: Succeeded', pod: pod('Never', ['a']), containers: [exited('a', 0)], want: 'Succeeded' },
    { name: '5 Never, one failed: Failed', pod: pod('Never', ['a', 'b']), containers: [exited('a', 0), exited('b', 1)], want: 'Failed' },
    { name: '6 OnFailure, all exited 0: Succeeded', pod: pod('OnFailure', ['a']), containers: [exited('a', 0)], want: 'Succeeded' },
    { name: '7 Always, crash-looping: Running', pod: pod('Always', ['a']), containers: [exited('a', 1, 3)], waiting: [['a', 'CrashLoopBackOff']], want: 'Running' },
    { name: '8 a terminal phase is kept', pod: pod('Always', ['a'], 'Failed'), containers: [running('a')], want: 'Failed' },
  ];
  for (const r of rows) {
    await t.test(r.name, () => {
      const status = generatePodStatus({
        pod: r.pod,
        containers: new Map(r.containers.map((c) => [c.name, [c]])),
        waiting: new Map((r.waiting ?? []).map(([n, reason]) => [n, { reason }])),
        volumesReady: true,
        hostIP: '10.0.0.1',
        now: new Date(T0),
      });
      assert.equal(status.phase, r.want);
      assert.equal(status.qosClass, 'BestEffort');
    });
  }
});

test('condition transition times move only when the status changes', () => {
  const p = pod('Always', ['a']);
  const first = generatePodStatus({ pod: p, containers: new Map(), waiting: new Map(), volumesReady: true, hostIP: 'x', now: new Date('2025-01-01T00:00:00Z') });
  const second = generatePodStatus({ pod: { ...p, status: first }, containers: new Map([['a', [running('a')]]]), waiting: new Map(), volumesReady: true, hostIP: 'x', now: new Date('2025-01-01T00:01:00Z') });
  const time = (s: typeof first, type: string): string | null | undefined => s.conditions?.find((c) => c.type === type)?.lastTransitionTime;
  assert.equal(time(second, 'Initialized'), '2025-01-01T00:00:00Z');
  assert.equal(time(second, 'Ready'), '2025-01-01T00:01:00Z');
  assert.equal(second.startTime, '2025-01-01T00:00:00Z');
});

test('restart back-off: first restart at once, then 10 s doubling to 5 min', () => {
  const b = new Backoff();
  let now = 0;
  assert.equal(b.remainingSince('k', now, now), 0);
  const seen: string[] = [];
  for (let i = 0; i < 7; i++) {
    b.next('k', now);
    seen.push(goDuration(b.get('k', now)));
    now += 1000;
  }
  assert.deepEqual(seen, ['10s', '20s', '40s', '1m20s', '2m40s', '5m0s', '5m0s']);
  assert.equal(b.remainingSince('k', now, now + 1000), 299_000);
  // Untouched for twice the maximum: forgotten.
  assert.equal(b.get('k', now + 600_001), 0);
});

test('a status the server already holds is not written again', async (t) => {
  const written = generatePodStatus({ pod: pod('Always', ['a']), containers: new Map([['a', [running('a')]]]), waiting: new Map(), volumesReady: true, hostIP: '10.0.0.1', now: new Date(T0) });
  // What the server returns for it: the merge patch dropped every null, and its field order is its own.
  const stored = JSON.parse(JSON.stringify(written, (_k, v: unknown) => (v === null ? undefined : v))) as typeof written;
  const reordered = { qosClass: stored.qosClass, ...stored };
  const rows: [string, Parameters<typeof sameStatus>[1], boolean][] = [
    ['1 the same status', written, true],
    ['2 as stored: nulls dropped, fields reordered', reordered, true],
    ['3 no status yet', undefined, false],
    ['4 another phase', { ...reordered, phase: 'Pending' }, false],
    ['5 a condition changed', { ...reordered, conditions: reordered.conditions?.map((c) => (c.type === 'Ready' ? { ...c, status: 'False' } : c)) }, false],
    ['6 conditions in another order', { ...reordered, conditions: [...(reordered.conditions ?? [])].reverse() }, false],
  ];
  for (const [name, have, same] of rows) {
    await t.test(name, () => assert.equal(sameStatus(written, have), same));
  }
});
