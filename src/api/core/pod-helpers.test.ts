import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPodActive, isPodAvailable, isPodReady, isPodTerminated, type PodState } from './pod-helpers.ts';

const NOW = Date.parse('2026-01-01T00:00:10Z');

function pod(phase?: string, ready?: { status: string; since?: string }, deleting = false): PodState {
  return {
    metadata: { name: 'p', ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    status: { phase, conditions: ready === undefined ? [] : [{ type: 'Ready', status: ready.status, lastTransitionTime: ready.since }] },
  };
}

describe('pod state', () => {
  const rows: { name: string; pod: PodState; terminated: boolean; active: boolean; ready: boolean }[] = [
    { name: '1 a pending pod: active, not ready', pod: pod('Pending'), terminated: false, active: true, ready: false },
    { name: '2 running and Ready: active and ready', pod: pod('Running', { status: 'True' }), terminated: false, active: true, ready: true },
    { name: '3 running, Ready False: not ready', pod: pod('Running', { status: 'False' }), terminated: false, active: true, ready: false },
    { name: '4 Succeeded: terminated, not active', pod: pod('Succeeded'), terminated: true, active: false, ready: false },
    { name: '5 Failed: terminated, not active', pod: pod('Failed'), terminated: true, active: false, ready: false },
    { name: '6 being deleted: not active, not terminated', pod: pod('Running', { status: 'True' }, true), terminated: false, active: false, ready: true },
    { name: '7 no status at all: active, not ready', pod: { metadata: { name: 'p' } }, terminated: false, active: true, ready: false },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(
        { terminated: isPodTerminated(row.pod), active: isPodActive(row.pod), ready: isPodReady(row.pod) },
        { terminated: row.terminated, active: row.active, ready: row.ready },
      );
    });
  }
});

describe('isPodAvailable', () => {
  const rows: { name: string; pod: PodState; minReady: number; want: boolean }[] = [
    { name: '1 ready and minReadySeconds 0: available at once', pod: pod('Running', { status: 'True' }), minReady: 0, want: true },
    { name: '2 ready long enough', pod: pod('Running', { status: 'True', since: '2026-01-01T00:00:05Z' }), minReady: 5, want: true },
    { name: '3 ready, not yet long enough', pod: pod('Running', { status: 'True', since: '2026-01-01T00:00:06Z' }), minReady: 5, want: false },
    { name: '4 ready without a transition time never becomes available with minReadySeconds', pod: pod('Running', { status: 'True' }), minReady: 1, want: false },
    { name: '5 not ready: never available', pod: pod('Running', { status: 'False', since: '2026-01-01T00:00:00Z' }), minReady: 0, want: false },
  ];
  for (const row of rows) it(row.name, () => assert.equal(isPodAvailable(row.pod, row.minReady, NOW), row.want));
});
