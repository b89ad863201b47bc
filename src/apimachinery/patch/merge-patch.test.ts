import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { applyMergePatch } from './merge-patch.ts';
import { PatchError } from './patch-error.ts';

interface Row {
  name: string;
  target: unknown;
  patch: unknown;
  want: unknown;
}

// Rows 1-15 are the examples of RFC 7386 appendix A (with object targets),
// then the Kubernetes cases kubectl produces.
const rows: Row[] = [
  { name: '01 replaces a scalar', target: { a: 'b' }, patch: { a: 'c' }, want: { a: 'c' } },
  { name: '02 adds a key', target: { a: 'b' }, patch: { b: 'c' }, want: { a: 'b', b: 'c' } },
  { name: '03 null removes a key', target: { a: 'b' }, patch: { a: null }, want: {} },
  { name: '04 null removes only that key', target: { a: 'b', b: 'c' }, patch: { a: null }, want: { b: 'c' } },
  { name: '05 array replaces a scalar', target: { a: ['b'] }, patch: { a: 'c' }, want: { a: 'c' } },
  { name: '06 scalar replaces an array', target: { a: 'c' }, patch: { a: ['b'] }, want: { a: ['b'] } },
  {
    name: '07 nested objects merge, nested null removes',
    target: { a: { b: 'c' } },
    patch: { a: { b: 'd', c: null } },
    want: { a: { b: 'd' } },
  },
  { name: '08 arrays are replaced whole', target: { a: [{ b: 'c' }] }, patch: { a: [1] }, want: { a: [1] } },
  { name: '09 array of scalars replaced', target: { a: ['a', 'b'] }, patch: { a: ['c', 'd'] }, want: { a: ['c', 'd'] } },
  { name: '10 object replaced by array', target: { a: { b: 'c' } }, patch: { a: ['b'] }, want: { a: ['b'] } },
  { name: '11 object replaced by scalar', target: { a: { b: 'c' } }, patch: { a: 'c' }, want: { a: 'c' } },
  { name: '12 null for a missing key is a no-op', target: { e: null }, patch: { a: 1 }, want: { e: null, a: 1 } },
  { name: '13 nulls inside arrays are kept', target: { a: [1, 2] }, patch: { a: [1, null] }, want: { a: [1, null] } },
  { name: '14 empty patch changes nothing', target: { a: 'b' }, patch: {}, want: { a: 'b' } },
  {
    name: '15 new nested object drops its null members',
    target: {},
    patch: { a: { bb: { ccc: null } } },
    want: { a: { bb: {} } },
  },
  {
    name: '16 kubectl label adds and removes labels',
    target: { metadata: { name: 'pv1', labels: { tier: 'gold', old: 'x' } }, spec: { capacity: { storage: '1Gi' } } },
    patch: { metadata: { labels: { zone: 'a', old: null } } },
    want: { metadata: { name: 'pv1', labels: { tier: 'gold', zone: 'a' } }, spec: { capacity: { storage: '1Gi' } } },
  },
  {
    name: '17 finalizers null removes the whole list',
    target: { metadata: { name: 'c', finalizers: ['kubernetes.io/pvc-protection'] } },
    patch: { metadata: { finalizers: null } },
    want: { metadata: { name: 'c' } },
  },
  {
    name: '18 objects inside a replacing array lose their null members',
    target: { spec: { list: [] } },
    patch: { spec: { list: [{ name: 'x', value: null }] } },
    want: { spec: { list: [{ name: 'x' }] } },
  },
  {
    name: '19 non-object target is treated as empty',
    target: null,
    patch: { a: { b: null, c: 1 } },
    want: { a: { c: 1 } },
  },
];

describe('applyMergePatch', () => {
  for (const row of rows) {
    it(row.name, () => {
      const target = structuredClone(row.target);
      const patch = structuredClone(row.patch);
      const got = applyMergePatch(target, patch);
      assert.deepEqual(got, row.want);
      // Pure: neither input changed.
      assert.deepEqual(target, row.target);
      assert.deepEqual(patch, row.patch);
    });
  }

  it('20 result shares no structure with the inputs', () => {
    const target = { a: { b: [1] } };
    const patch = { c: { d: [2] } };
    const got = applyMergePatch(target, patch) as { a: { b: number[] }; c: { d: number[] } };
    got.a.b.push(9);
    got.c.d.push(9);
    assert.deepEqual(target, { a: { b: [1] } });
    assert.deepEqual(patch, { c: { d: [2] } });
  });

  const invalid: Array<{ name: string; patch: unknown }> = [
    { name: '21 null patch', patch: null },
    { name: '22 array patch', patch: [{ op: 'add' }] },
    { name: '23 scalar patch', patch: 5 },
  ];
  for (const row of invalid) {
    it(`${row.name} is refused with invalid-patch`, () => {
      assert.throws(
        () => applyMergePatch({ a: 1 }, row.patch),
        (err: unknown) =>
          err instanceof PatchError &&
          err.name === 'PatchError' &&
          err.kind === 'invalid-patch' &&
          err.code === 400 &&
          err.message === 'Invalid JSON Patch',
      );
    });
  }
});
