import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { applyJsonPatch } from './json-patch.ts';
import { PatchError } from './patch-error.ts';

const pvc = () => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: {
    name: 'data',
    namespace: 'default',
    labels: { app: 'db' },
    finalizers: ['kubernetes.io/pvc-protection'],
  },
  spec: {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: '1Gi' } },
    storageClassName: 'standard',
  },
});

interface OkRow {
  name: string;
  target: unknown;
  ops: unknown;
  want: unknown;
}

const ok: OkRow[] = [
  {
    name: '01 add a new object member',
    target: pvc(),
    ops: [{ op: 'add', path: '/metadata/labels/tier', value: 'gold' }],
    want: { ...pvc(), metadata: { ...pvc().metadata, labels: { app: 'db', tier: 'gold' } } },
  },
  {
    name: '02 add with - appends to a list',
    target: pvc(),
    ops: [{ op: 'add', path: '/metadata/finalizers/-', value: 'example.com/hold' }],
    want: {
      ...pvc(),
      metadata: { ...pvc().metadata, finalizers: ['kubernetes.io/pvc-protection', 'example.com/hold'] },
    },
  },
  {
    name: '03 add at an index inserts before it',
    target: { a: ['x', 'z'] },
    ops: [{ op: 'add', path: '/a/1', value: 'y' }],
    want: { a: ['x', 'y', 'z'] },
  },
  {
    name: '04 add at index == length appends',
    target: { a: ['x'] },
    ops: [{ op: 'add', path: '/a/1', value: 'y' }],
    want: { a: ['x', 'y'] },
  },
  {
    name: '05 add at a negative index counts from the end',
    target: { a: ['x', 'z'] },
    ops: [{ op: 'add', path: '/a/-1', value: 'y' }],
    want: { a: ['x', 'z', 'y'] },
  },
  {
    name: '06 add replaces an existing member',
    target: { a: 1 },
    ops: [{ op: 'add', path: '/a', value: { b: 2 } }],
    want: { a: { b: 2 } },
  },
  {
    name: '07 add without value adds null',
    target: { a: 1 },
    ops: [{ op: 'add', path: '/b' }],
    want: { a: 1, b: null },
  },
  {
    name: '08 remove an object member',
    target: pvc(),
    ops: [{ op: 'remove', path: '/metadata/finalizers' }],
    want: { ...pvc(), metadata: { name: 'data', namespace: 'default', labels: { app: 'db' } } },
  },
  {
    name: '09 remove a list element by index',
    target: { a: ['x', 'y', 'z'] },
    ops: [{ op: 'remove', path: '/a/1' }],
    want: { a: ['x', 'z'] },
  },
  {
    name: '10 remove a list element by negative index',
    target: { a: ['x', 'y', 'z'] },
    ops: [{ op: 'remove', path: '/a/-1' }],
    want: { a: ['x', 'y'] },
  },
  {
    name: '11 replace an existing member',
    target: pvc(),
    ops: [{ op: 'replace', path: '/spec/resources/requests/storage', value: '2Gi' }],
    want: { ...pvc(), spec: { ...pvc().spec, resources: { requests: { storage: '2Gi' } } } },
  },
  {
    name: '12 replace of a missing object member adds it (as kube-apiserver does)',
    target: { spec: {} },
    ops: [{ op: 'replace', path: '/spec/foo', value: 1 }],
    want: { spec: { foo: 1 } },
  },
  {
    name: '13 replace a list element',
    target: { a: ['x', 'y'] },
    ops: [{ op: 'replace', path: '/a/0', value: 'w' }],
    want: { a: ['w', 'y'] },
  },
  {
    name: '14 replace the whole document',
    target: { a: 1 },
    ops: [{ op: 'replace', path: '', value: { b: 2 } }],
    want: { b: 2 },
  },
  {
    name: '15 move a member',
    target: { a: { x: 1 }, b: {} },
    ops: [{ op: 'move', from: '/a/x', path: '/b/y' }],
    want: { a: {}, b: { y: 1 } },
  },
  {
    name: '16 move within a list',
    target: { a: ['x', 'y', 'z'] },
    ops: [{ op: 'move', from: '/a/0', path: '/a/-' }],
    want: { a: ['y', 'z', 'x'] },
  },
  {
    name: '17 copy a member deeply',
    target: { a: { x: [1] } },
    ops: [
      { op: 'copy', from: '/a', path: '/b' },
      { op: 'add', path: '/b/x/-', value: 2 },
    ],
    want: { a: { x: [1] }, b: { x: [1, 2] } },
  },
  {
    name: '18 copy of a missing member copies null',
    target: { a: {} },
    ops: [{ op: 'copy', from: '/a/nope', path: '/b' }],
    want: { a: {}, b: null },
  },
  {
    name: '19 test that passes lets later operations run',
    target: pvc(),
    ops: [
      { op: 'test', path: '/spec/storageClassName', value: 'standard' },
      { op: 'test', path: '/spec/accessModes', value: ['ReadWriteOnce'] },
      { op: 'replace', path: '/spec/storageClassName', value: 'fast' },
    ],
    want: { ...pvc(), spec: { ...pvc().spec, storageClassName: 'fast' } },
  },
  {
    name: '20 test of a missing member against null passes',
    target: { a: {} },
    ops: [{ op: 'test', path: '/a/b', value: null }],
    want: { a: {} },
  },
  {
    name: '21 escaped tokens ~1 and ~0 address keys with / and ~',
    target: { metadata: { annotations: { 'example.com/a~b': 'x' } } },
    ops: [{ op: 'replace', path: '/metadata/annotations/example.com~1a~0b', value: 'y' }],
    want: { metadata: { annotations: { 'example.com/a~b': 'y' } } },
  },
  {
    name: '22 null patch is an empty patch',
    target: { a: 1 },
    ops: null,
    want: { a: 1 },
  },
  {
    name: '23 empty list changes nothing',
    target: { a: 1 },
    ops: [],
    want: { a: 1 },
  },
];

interface ErrRow {
  name: string;
  target: unknown;
  ops: unknown;
  kind: 'invalid-patch' | 'apply-failed';
  message: string;
}

const errors: ErrRow[] = [
  {
    name: '30 body is an object, not a list',
    target: pvc(),
    ops: { op: 'add', path: '/a', value: 1 },
    kind: 'invalid-patch',
    message: 'json: cannot unmarshal object into Go value of type jsonpatch.Patch',
  },
  {
    name: '31 body is a string',
    target: pvc(),
    ops: 'add',
    kind: 'invalid-patch',
    message: 'json: cannot unmarshal string into Go value of type jsonpatch.Patch',
  },
  {
    name: '32 an element is not an object',
    target: pvc(),
    ops: [{ op: 'test', path: '/spec', value: {} }, 7],
    kind: 'invalid-patch',
    message: 'json: cannot unmarshal number into Go value of type jsonpatch.Operation',
  },
  {
    name: '33 unknown op',
    target: pvc(),
    ops: [{ op: 'merge', path: '/spec' }],
    kind: 'apply-failed',
    message: 'Unexpected kind: merge',
  },
  {
    name: '34 op missing',
    target: pvc(),
    ops: [{ path: '/spec' }],
    kind: 'apply-failed',
    message: 'Unexpected kind: unknown',
  },
  {
    name: '35 add under a missing parent',
    target: pvc(),
    ops: [{ op: 'add', path: '/spec/selector/matchLabels', value: {} }],
    kind: 'apply-failed',
    message: 'add operation does not apply: doc is missing path: "/spec/selector/matchLabels": missing value',
  },
  {
    name: '36 replace under a missing parent',
    target: pvc(),
    ops: [{ op: 'replace', path: '/spec/foo/bar', value: 1 }],
    kind: 'apply-failed',
    message: 'replace operation does not apply: doc is missing path: /spec/foo/bar: missing value',
  },
  {
    name: '37 replace a list index out of range',
    target: pvc(),
    ops: [{ op: 'replace', path: '/spec/accessModes/3', value: 'ReadOnlyMany' }],
    kind: 'apply-failed',
    message: 'replace operation does not apply: doc is missing key: /spec/accessModes/3: missing value',
  },
  {
    name: '38 remove a missing member',
    target: pvc(),
    ops: [{ op: 'remove', path: '/metadata/annotations' }],
    kind: 'apply-failed',
    message: "error in remove for path: '/metadata/annotations': Unable to remove nonexistent key: annotations: missing value",
  },
  {
    name: '39 remove a list index out of range',
    target: pvc(),
    ops: [{ op: 'remove', path: '/metadata/finalizers/1' }],
    kind: 'apply-failed',
    message: "error in remove for path: '/metadata/finalizers/1': Unable to access invalid index: 1: invalid index referenced",
  },
  {
    name: '40 add with a non-numeric list index',
    target: pvc(),
    ops: [{ op: 'add', path: '/metadata/finalizers/x', value: 'a' }],
    kind: 'apply-failed',
    message:
      "error in add for path: '/metadata/finalizers/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
  },
  {
    name: '41 add past the end of a list',
    target: pvc(),
    ops: [{ op: 'add', path: '/metadata/finalizers/5', value: 'a' }],
    kind: 'apply-failed',
    message: "error in add for path: '/metadata/finalizers/5': Unable to access invalid index: 5: invalid index referenced",
  },
  {
    name: '42 failed test',
    target: pvc(),
    ops: [{ op: 'test', path: '/spec/storageClassName', value: 'fast' }],
    kind: 'apply-failed',
    message: 'testing value /spec/storageClassName failed: test failed',
  },
  {
    name: '43 test of a missing member against a value',
    target: pvc(),
    ops: [{ op: 'test', path: '/spec/volumeName', value: 'pv1' }],
    kind: 'apply-failed',
    message: 'testing value /spec/volumeName failed: test failed',
  },
  {
    name: '44 test under a missing parent',
    target: pvc(),
    ops: [{ op: 'test', path: '/status/phase', value: 'Bound' }],
    kind: 'apply-failed',
    message: 'test operation does not apply: is missing path: /status/phase: missing value',
  },
  {
    name: '45 move from a missing member',
    target: pvc(),
    ops: [{ op: 'move', from: '/spec/volumeName', path: '/spec/x' }],
    kind: 'apply-failed',
    message: "error in move for path: 'volumeName': Unable to remove nonexistent key: volumeName: missing value",
  },
  {
    name: '46 move into its own child',
    target: { a: { b: 1 } },
    ops: [{ op: 'move', from: '/a', path: '/a/c' }],
    kind: 'apply-failed',
    message: 'move operation does not apply: doc is missing destination path: /a/c: missing value',
  },
  {
    name: '47 copy to a missing parent',
    target: pvc(),
    ops: [{ op: 'copy', from: '/metadata/labels', path: '/spec/selector/matchLabels' }],
    kind: 'apply-failed',
    message: 'copy operation does not apply: doc is missing destination path: /spec/selector/matchLabels: missing value',
  },
  {
    name: '48 path missing on add',
    target: pvc(),
    ops: [{ op: 'add', value: 1 }],
    kind: 'apply-failed',
    message: 'add operation failed to decode path: missing value',
  },
  {
    name: '49 path missing on replace',
    target: pvc(),
    ops: [{ op: 'replace', value: 1 }],
    kind: 'apply-failed',
    message: 'replace operation failed to decode path: operation missing path field: missing value',
  },
  {
    name: '50 from missing on move',
    target: pvc(),
    ops: [{ op: 'move', path: '/a' }],
    kind: 'apply-failed',
    message: 'move operation failed to decode from: operation, missing from field: missing value',
  },
  {
    name: '51 add at the root is refused',
    target: pvc(),
    ops: [{ op: 'add', path: '', value: {} }],
    kind: 'apply-failed',
    message: 'add operation does not apply: doc is missing path: "": missing value',
  },
  {
    name: '52 a scalar on the way is a missing path',
    target: pvc(),
    ops: [{ op: 'add', path: '/spec/storageClassName/x', value: 1 }],
    kind: 'apply-failed',
    message: 'add operation does not apply: doc is missing path: "/spec/storageClassName/x": missing value',
  },
];

function isPatchError(kind: string, message: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof PatchError, `expected PatchError, got ${String(err)}`);
    assert.equal(err.name, 'PatchError');
    assert.equal(err.kind, kind);
    assert.equal(err.code, kind === 'invalid-patch' ? 400 : 422);
    assert.equal(err.message, message);
    return true;
  };
}

describe('applyJsonPatch', () => {
  for (const row of ok) {
    it(row.name, () => {
      const target = structuredClone(row.target);
      const ops = structuredClone(row.ops);
      assert.deepEqual(applyJsonPatch(target, ops), row.want);
      assert.deepEqual(target, row.target, 'target must not change');
      assert.deepEqual(ops, row.ops, 'operations must not change');
    });
  }

  for (const row of errors) {
    it(row.name, () => {
      const target = structuredClone(row.target);
      assert.throws(() => applyJsonPatch(target, row.ops), isPatchError(row.kind, row.message));
      assert.deepEqual(target, row.target, 'a failed patch leaves the target alone');
    });
  }

  it('60 values added by the patch are not shared with the patch', () => {
    const value = { nested: ['a'] };
    const got = applyJsonPatch({}, [{ op: 'add', path: '/x', value }]) as { x: { nested: string[] } };
    got.x.nested.push('b');
    assert.deepEqual(value, { nested: ['a'] });
  });

  it('61 operations see the results of earlier ones and fail as a whole', () => {
    const target = { a: [] as string[] };
    assert.throws(
      () =>
        applyJsonPatch(target, [
          { op: 'add', path: '/a/-', value: 'x' },
          { op: 'test', path: '/a/0', value: 'y' },
        ]),
      isPatchError('apply-failed', 'testing value /a/0 failed: test failed'),
    );
    assert.deepEqual(target, { a: [] });
  });
});
