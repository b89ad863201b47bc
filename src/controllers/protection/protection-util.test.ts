import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../apimachinery/index.ts';
import { isDeletionCandidate, needToAddFinalizer, withFinalizer, withoutFinalizer } from './protection-util.ts';

const F = 'kubernetes.io/pvc-protection';
const obj = (finalizers?: string[], deleting = false): KubeObject => ({
  metadata: { name: 'c', finalizers, deletionTimestamp: deleting ? '2024-05-01T10:00:00Z' : undefined },
});

describe('isDeletionCandidate / needToAddFinalizer', () => {
  const rows: Array<[string, KubeObject, boolean, boolean]> = [
    ['1 live with the finalizer: nothing to do', obj([F]), false, false],
    ['2 live without it: add it', obj(['example.com/x']), false, true],
    ['3 live with no finalizers at all: add it', obj(), false, true],
    ['4 being deleted with it: a deletion candidate', obj(['example.com/x', F], true), true, false],
    ['5 being deleted without it: neither (no new finalizers on a deleted object)', obj(['example.com/x'], true), false, false],
  ];
  for (const [name, o, candidate, add] of rows) {
    it(name, () => {
      assert.equal(isDeletionCandidate(o, F), candidate);
      assert.equal(needToAddFinalizer(o, F), add);
    });
  }
});

describe('withFinalizer / withoutFinalizer', () => {
  it('1 adding appends and leaves the input alone', () => {
    const input = obj(['example.com/x']);
    assert.deepEqual(withFinalizer(input, F).metadata.finalizers, ['example.com/x', F]);
    assert.deepEqual(input.metadata.finalizers, ['example.com/x']);
  });
  it('2 removing drops every copy of ours, keeps the others in order, and leaves the input alone', () => {
    const input = obj(['a.io/1', F, 'b.io/2', F]);
    assert.deepEqual(withoutFinalizer(input, F).metadata.finalizers, ['a.io/1', 'b.io/2']);
    assert.deepEqual(input.metadata.finalizers, ['a.io/1', F, 'b.io/2', F]);
  });
});
