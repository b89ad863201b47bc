import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { applyStrategicMergePatch } from './strategic-merge-patch.ts';
import type { PatchSchema } from './strategic-merge-patch.ts';
import { patchSchemaFor } from './schemas.ts';
import { PatchError } from './patch-error.ts';

const deployment = patchSchemaFor('apps', 'Deployment');
const pod = patchSchemaFor('', 'Pod');
const pvc = patchSchemaFor('', 'PersistentVolumeClaim');

/** The schema of apimachinery's own test type (MergeItem in patch_test.go). */
const mergeItem: PatchSchema = {
  fields: {
    mergingList: { patchStrategy: 'merge', patchMergeKey: 'name' },
    mergingIntList: { patchStrategy: 'merge' },
    replacingItem: { patchStrategy: 'replace' },
  },
};

interface Row {
  name: string;
  schema: PatchSchema;
  original: unknown;
  patch: unknown;
  want: unknown;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

// §8.2 of the compatibility notes: the body kubectl 1.32 sends from `apply -f`
// when a Deployment's containers change from [a, b] to [a (X=2), c].
const kubectlContainersPatch = {
  metadata: { annotations: { [LAST_APPLIED]: '{"new":"config"}\n' } },
  spec: {
    template: {
      spec: {
        '$setElementOrder/containers': [{ name: 'a' }, { name: 'c' }],
        containers: [
          { name: 'a', '$setElementOrder/env': [{ name: 'X' }], env: [{ name: 'X', value: '2' }] },
          { name: 'c', image: 'nginx' },
          { $patch: 'delete', name: 'b' },
        ],
      },
    },
  },
};

const liveDeployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'web',
    namespace: 'default',
    uid: 'u1',
    resourceVersion: '7',
    annotations: { [LAST_APPLIED]: '{"old":"config"}\n' },
  },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'web' } },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          {
            name: 'a',
            image: 'busybox',
            env: [{ name: 'X', value: '1' }],
            terminationMessagePolicy: 'File',
          },
          { name: 'b', image: 'busybox' },
        ],
        restartPolicy: 'Always',
      },
    },
  },
  status: { replicas: 1, conditions: [{ type: 'Available', status: 'True' }] },
};

const rows: Row[] = [
  {
    name: '01 kubectl apply: containers reordered, one changed, one added, one deleted',
    schema: deployment,
    original: liveDeployment,
    patch: kubectlContainersPatch,
    want: {
      ...liveDeployment,
      metadata: { ...liveDeployment.metadata, annotations: { [LAST_APPLIED]: '{"new":"config"}\n' } },
      spec: {
        ...liveDeployment.spec,
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              { name: 'a', image: 'busybox', env: [{ name: 'X', value: '2' }], terminationMessagePolicy: 'File' },
              { name: 'c', image: 'nginx' },
            ],
            restartPolicy: 'Always',
          },
        },
      },
    },
  },
  {
    name: '02 maps merge recursively and null deletes a key',
    schema: pvc,
    original: { metadata: { name: 'c', labels: { a: '1', b: '2' } }, spec: { storageClassName: 'x' } },
    patch: { metadata: { labels: { b: null, c: '3' } }, spec: { volumeName: 'pv1' } },
    want: { metadata: { name: 'c', labels: { a: '1', c: '3' } }, spec: { storageClassName: 'x', volumeName: 'pv1' } },
  },
  {
    name: '03 a list without merge strategy is replaced (accessModes)',
    schema: pvc,
    original: { spec: { accessModes: ['ReadWriteOnce', 'ReadOnlyMany'] } },
    patch: { spec: { accessModes: ['ReadWriteMany'] } },
    want: { spec: { accessModes: ['ReadWriteMany'] } },
  },
  {
    name: '04 tolerations are replaced, not merged',
    schema: pod,
    original: { spec: { tolerations: [{ key: 'a', operator: 'Exists' }] } },
    patch: { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } },
    want: { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } },
  },
  {
    name: '05 merge list: element patched by key, others kept in place',
    schema: pod,
    original: { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] } },
    patch: { spec: { containers: [{ name: 'b', image: 'z' }] } },
    want: { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'z' }] } },
  },
  {
    name: '06 merge list: new element goes before the live ones (upstream order)',
    schema: pod,
    original: { spec: { volumes: [{ name: 'v1', emptyDir: {} }] } },
    patch: { spec: { volumes: [{ name: 'v2', emptyDir: {} }] } },
    want: { spec: { volumes: [{ name: 'v2', emptyDir: {} }, { name: 'v1', emptyDir: {} }] } },
  },
  {
    name: '07 nested merge lists: env of one container merges by name',
    schema: pod,
    original: {
      spec: { containers: [{ name: 'a', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] },
    },
    patch: { spec: { containers: [{ name: 'a', env: [{ name: 'B', value: '3' }] }] } },
    want: {
      spec: { containers: [{ name: 'a', env: [{ name: 'A', value: '1' }, { name: 'B', value: '3' }] }] },
    },
  },
  {
    name: '08 container ports merge by containerPort, volumeMounts by mountPath',
    schema: pod,
    original: {
      spec: {
        containers: [
          {
            name: 'a',
            ports: [{ containerPort: 80, name: 'http' }],
            volumeMounts: [{ name: 'v', mountPath: '/data' }],
          },
        ],
      },
    },
    patch: {
      spec: {
        containers: [
          {
            name: 'a',
            ports: [{ containerPort: 80, protocol: 'TCP' }],
            volumeMounts: [{ mountPath: '/data', readOnly: true }],
          },
        ],
      },
    },
    want: {
      spec: {
        containers: [
          {
            name: 'a',
            ports: [{ containerPort: 80, name: 'http', protocol: 'TCP' }],
            volumeMounts: [{ name: 'v', mountPath: '/data', readOnly: true }],
          },
        ],
      },
    },
  },
  {
    name: '09 $patch: delete removes every element with that key',
    schema: mergeItem,
    original: { mergingList: [{ name: '1' }, { name: '1' }, { name: '2', value: 'a' }] },
    patch: { mergingList: [{ name: '1', $patch: 'delete' }] },
    want: { mergingList: [{ name: '2', value: 'a' }] },
  },
  {
    name: '10 $patch: replace in a merge list replaces the whole list',
    schema: pod,
    original: { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b' }] } },
    patch: { spec: { containers: [{ name: 'c', image: 'y' }, { $patch: 'replace' }] } },
    want: { spec: { containers: [{ name: 'c', image: 'y' }] } },
  },
  {
    name: '11 $patch: replace with nothing else empties the list',
    schema: mergeItem,
    original: { mergingList: [{ name: '1' }, { name: '2' }] },
    patch: { mergingList: [{ $patch: 'replace' }] },
    want: { mergingList: [] },
  },
  {
    name: '12 $patch: replace on a map replaces it',
    schema: pod,
    original: { spec: { nodeSelector: { a: '1', b: '2' } } },
    patch: { spec: { nodeSelector: { c: '3', $patch: 'replace' } } },
    want: { spec: { nodeSelector: { c: '3' } } },
  },
  {
    name: '13 $patch: delete on a map empties it',
    schema: mergeItem,
    original: { simpleMap: { key1: '1', key2: '1' } },
    patch: { simpleMap: { $patch: 'delete' } },
    want: { simpleMap: {} },
  },
  {
    name: '14 a replace-strategy map is replaced whole',
    schema: mergeItem,
    original: { replacingItem: { a: 1, b: 2 } },
    patch: { replacingItem: { c: 3 } },
    want: { replacingItem: { c: 3 } },
  },
  {
    name: '15 finalizers: null removes them all',
    schema: pvc,
    original: { metadata: { name: 'c', finalizers: ['kubernetes.io/pvc-protection', 'example.com/x'] } },
    patch: { metadata: { finalizers: null } },
    want: { metadata: { name: 'c' } },
  },
  {
    name: '16 finalizers: $deleteFromPrimitiveList removes one',
    schema: pvc,
    original: { metadata: { finalizers: ['kubernetes.io/pvc-protection', 'example.com/x', 'example.com/y'] } },
    patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/x'] } },
    want: { metadata: { finalizers: ['kubernetes.io/pvc-protection', 'example.com/y'] } },
  },
  {
    name: '17 finalizers: kubectl apply drops one it had applied, keeps the server-added one',
    schema: pvc,
    original: { metadata: { finalizers: ['example.com/mine', 'kubernetes.io/pvc-protection', 'example.com/other'] } },
    patch: {
      metadata: {
        '$setElementOrder/finalizers': ['example.com/other'],
        '$deleteFromPrimitiveList/finalizers': ['example.com/mine'],
      },
    },
    want: { metadata: { finalizers: ['kubernetes.io/pvc-protection', 'example.com/other'] } },
  },
  {
    name: '18 finalizers: a merged set, a new one goes first, duplicates collapse',
    schema: pvc,
    original: { metadata: { finalizers: ['a', 'b'] } },
    patch: { metadata: { finalizers: ['b', 'c'] } },
    want: { metadata: { finalizers: ['a', 'b', 'c'] } },
  },
  {
    name: '19 finalizers: adding one to a list that lacks it puts it in front',
    schema: pvc,
    original: { metadata: { finalizers: ['a', 'b'] } },
    patch: { metadata: { finalizers: ['c'] } },
    want: { metadata: { finalizers: ['c', 'a', 'b'] } },
  },
  {
    name: '20 finalizers: $deleteFromPrimitiveList on an object without finalizers does nothing',
    schema: pvc,
    original: { metadata: { name: 'c' } },
    patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } },
    want: { metadata: { name: 'c' } },
  },
  {
    name: '21 merge int list keeps the patch order (upstream "preserve the order" case)',
    schema: mergeItem,
    original: { mergingIntList: [1, 2, 3] },
    patch: { mergingIntList: [3, 1] },
    want: { mergingIntList: [2, 3, 1] },
  },
  {
    name: '22 merge list keeps the patch order for patched elements',
    schema: mergeItem,
    original: { mergingList: [{ name: '1' }, { name: '2', value: 'b' }, { name: '3' }] },
    patch: { mergingList: [{ name: '3', value: 'c' }, { name: '1', value: 'a' }] },
    want: { mergingList: [{ name: '2', value: 'b' }, { name: '3', value: 'c' }, { name: '1', value: 'a' }] },
  },
  {
    name: '23 $setElementOrder reorders without content changes',
    schema: mergeItem,
    original: { mergingList: [{ name: '1', value: 'a' }, { name: '2', value: 'b' }] },
    patch: { '$setElementOrder/mergingList': [{ name: '2' }, { name: '1' }] },
    want: { mergingList: [{ name: '2', value: 'b' }, { name: '1', value: 'a' }] },
  },
  {
    name: '24 $setElementOrder may name elements that are gone',
    schema: mergeItem,
    original: { mergingList: [{ name: '1' }, { name: '3' }] },
    patch: {
      '$setElementOrder/mergingList': [{ name: '3' }, { name: '2' }, { name: '1' }],
      mergingList: [{ name: '3', value: '3' }, { name: '1', value: '1' }],
    },
    want: { mergingList: [{ name: '3', value: '3' }, { name: '1', value: '1' }] },
  },
  {
    name: '25 $setElementOrder: server-only elements keep their place among the named ones',
    schema: mergeItem,
    original: { mergingList: [{ name: 'a' }, { name: 'server' }, { name: 'b' }] },
    patch: {
      '$setElementOrder/mergingList': [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
      mergingList: [{ name: 'c', value: 'new' }],
    },
    want: { mergingList: [{ name: 'a' }, { name: 'server' }, { name: 'b' }, { name: 'c', value: 'new' }] },
  },
  {
    name: '26 $setElementOrder on a scalar merge list',
    schema: mergeItem,
    original: { mergingIntList: [1, 3] },
    patch: { '$setElementOrder/mergingIntList': [3, 2, 1] },
    want: { mergingIntList: [3, 1] },
  },
  {
    name: '27 $retainKeys: Deployment strategy switched to Recreate drops rollingUpdate',
    schema: deployment,
    original: { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%' } } } },
    patch: { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: null, type: 'Recreate' } } },
    want: { spec: { strategy: { type: 'Recreate' } } },
  },
  {
    name: '28 $retainKeys on a volume element switches its source',
    schema: pod,
    original: { spec: { volumes: [{ name: 'v', hostPath: { path: '/x' } }, { name: 'w', emptyDir: {} }] } },
    patch: { spec: { volumes: [{ name: 'v', $retainKeys: ['emptyDir', 'name'], emptyDir: {} }] } },
    want: { spec: { volumes: [{ name: 'v', emptyDir: {} }, { name: 'w', emptyDir: {} }] } },
  },
  {
    name: '29 conditions merge by type (PVC status)',
    schema: pvc,
    original: { status: { conditions: [{ type: 'Resizing', status: 'True' }] } },
    patch: { status: { conditions: [{ type: 'Resizing', status: 'False' }] } },
    want: { status: { conditions: [{ type: 'Resizing', status: 'False' }] } },
  },
  {
    name: '30 ownerReferences merge by uid',
    schema: pvc,
    original: { metadata: { ownerReferences: [{ uid: 'u1', name: 'a', kind: 'Pod', apiVersion: 'v1' }] } },
    patch: { metadata: { ownerReferences: [{ uid: 'u1', controller: true }] } },
    want: { metadata: { ownerReferences: [{ uid: 'u1', name: 'a', kind: 'Pod', apiVersion: 'v1', controller: true }] } },
  },
  {
    name: '31 value of another type replaces',
    schema: pod,
    original: { spec: { containers: [{ name: 'a' }] } },
    patch: { spec: { containers: 'oops' } },
    want: { spec: { containers: 'oops' } },
  },
  {
    name: '32 a new subtree is copied with nulls and directives cleaned out',
    schema: pod,
    original: { spec: {} },
    patch: { spec: { containers: [{ name: 'a', image: null, '$setElementOrder/env': [] }] } },
    want: { spec: { containers: [{ name: 'a' }] } },
  },
  {
    name: '33 cordon: a plain field',
    schema: patchSchemaFor('', 'Node'),
    original: { metadata: { name: 'n1' }, spec: { podCIDR: '10.0.0.0/24' } },
    patch: { spec: { unschedulable: true } },
    want: { metadata: { name: 'n1' }, spec: { podCIDR: '10.0.0.0/24', unschedulable: true } },
  },
  {
    // Upstream's comparator answers "less" for elements missing from the
    // order list, so Go's insertion sort reverses them; kubectl never sends an
    // empty order list, but the result must still match the apiserver's.
    name: '33b new list with an empty $setElementOrder comes out reversed (upstream sort quirk)',
    schema: mergeItem,
    original: {},
    patch: { '$setElementOrder/mergingList': [], mergingList: [{ name: '1' }, { name: '2' }, { name: '3' }] },
    want: { mergingList: [{ name: '3' }, { name: '2' }, { name: '1' }] },
  },
  {
    name: '34 null patch body changes nothing',
    schema: pvc,
    original: { metadata: { name: 'c' } },
    patch: null,
    want: { metadata: { name: 'c' } },
  },
  {
    name: '35 top-level $patch: replace replaces the object',
    schema: pvc,
    original: { a: 1, b: 2 },
    patch: { other: 'a', $patch: 'replace' },
    want: { other: 'a' },
  },
];

interface ErrRow {
  name: string;
  schema: PatchSchema;
  original: unknown;
  patch: unknown;
  kind: 'invalid-patch' | 'apply-failed';
  message: string;
}

const errorRows: ErrRow[] = [
  {
    name: '50 merge list element without its merge key',
    schema: pod,
    original: { spec: { containers: [{ name: 'a', image: 'x' }] } },
    patch: { spec: { containers: [{ image: 'nginx' }] } },
    kind: 'invalid-patch',
    message: 'map: map[image:nginx] does not contain declared merge key: name',
  },
  {
    name: '51 $patch: delete element without its merge key',
    schema: pod,
    original: { spec: { containers: [{ name: 'a' }] } },
    patch: { spec: { containers: [{ $patch: 'delete' }] } },
    kind: 'invalid-patch',
    message: 'map: map[$patch:delete] does not contain declared merge key: name',
  },
  {
    name: '52 element types differ between live and patch list',
    schema: pod,
    original: { spec: { containers: [{ name: 'a' }] } },
    patch: { spec: { containers: ['a'] } },
    kind: 'invalid-patch',
    message: 'list element types are not identical: [[map[name:a]] [a]]',
  },
  {
    name: '53 lists of lists',
    schema: mergeItem,
    original: { mergingIntList: [[1]] },
    patch: { mergingIntList: [[2]] },
    kind: 'apply-failed',
    message: 'lists of lists are not supported',
  },
  {
    name: '54 $patch: merge in a list is refused as upstream refuses it',
    schema: mergeItem,
    original: { mergingList: [{ name: '1' }] },
    patch: { mergingList: [{ $patch: 'merge' }] },
    kind: 'invalid-patch',
    message: 'merging lists cannot yet be specified in the patch',
  },
  {
    name: '55 unknown $patch on a map',
    schema: pod,
    original: { spec: { nodeSelector: { a: '1' } } },
    patch: { spec: { nodeSelector: { $patch: 'merge', b: '2' } } },
    kind: 'invalid-patch',
    message: 'unknown patch type: merge in map: map[$patch:merge b:2]',
  },
  {
    name: '56 $retainKeys that does not list a patched key',
    schema: deployment,
    original: { spec: { strategy: { type: 'RollingUpdate' } } },
    patch: { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: { maxSurge: 1 } } } },
    kind: 'invalid-patch',
    message: 'invalid patch format of retainKeys',
  },
  {
    name: '57 $retainKeys that is not a list',
    schema: deployment,
    original: { spec: { strategy: {} } },
    patch: { spec: { strategy: { $retainKeys: 'type' } } },
    kind: 'invalid-patch',
    message: 'invalid patch format of retainKeys',
  },
  {
    name: '58 $setElementOrder that does not match the patch list',
    schema: mergeItem,
    original: { mergingList: [{ name: '1' }, { name: '2' }] },
    patch: {
      '$setElementOrder/mergingList': [{ name: '1' }, { name: '2' }],
      mergingList: [{ name: '2', value: 'b' }, { name: '1', value: 'a' }],
    },
    kind: 'invalid-patch',
    message:
      "The order in patch list:\n[map[name:2 value:b] map[name:1 value:a]]\n doesn't match $setElementOrder list:\n[map[name:1] map[name:2]]\n",
  },
  {
    name: '59 $setElementOrder without a target field',
    schema: mergeItem,
    original: {},
    patch: { $setElementOrder: [] },
    kind: 'invalid-patch',
    message: 'invalid patch format of setElementOrder list',
  },
  {
    name: '60 $deleteFromPrimitiveList without a target field',
    schema: pvc,
    original: { metadata: {} },
    patch: { metadata: { $deleteFromPrimitiveList: ['a'] } },
    kind: 'invalid-patch',
    message: 'invalid patch format of primitive list',
  },
  {
    name: '61 patch body that is a list',
    schema: pvc,
    original: {},
    patch: [{ op: 'add' }],
    kind: 'invalid-patch',
    message: 'json: cannot unmarshal array into Go value of type map[string]interface {}',
  },
  {
    name: '62 $setElementOrder that is not a list',
    schema: mergeItem,
    original: { mergingList: [] },
    patch: { '$setElementOrder/mergingList': { name: '1' } },
    kind: 'invalid-patch',
    message: 'expected a []interface {}, but received a map[string]interface {}',
  },
];

describe('applyStrategicMergePatch', () => {
  for (const row of rows) {
    it(row.name, () => {
      const original = structuredClone(row.original);
      const patch = structuredClone(row.patch);
      assert.deepEqual(applyStrategicMergePatch(original, patch, row.schema), row.want);
      assert.deepEqual(original, row.original, 'original must not change');
      assert.deepEqual(patch, row.patch, 'patch must not change');
    });
  }

  for (const row of errorRows) {
    it(row.name, () => {
      assert.throws(
        () => applyStrategicMergePatch(structuredClone(row.original), structuredClone(row.patch), row.schema),
        (err: unknown) => {
          assert.ok(err instanceof PatchError, `expected PatchError, got ${String(err)}`);
          assert.equal(err.name, 'PatchError');
          assert.equal(err.kind, row.kind);
          assert.equal(err.message, row.message);
          return true;
        },
      );
    });
  }

  it('70 result shares no structure with the inputs', () => {
    const original = { spec: { containers: [{ name: 'a', env: [{ name: 'A' }] }] } };
    const patch = { spec: { volumes: [{ name: 'v', emptyDir: {} }] } };
    const got = applyStrategicMergePatch(original, patch, pod) as {
      spec: { containers: Array<{ env: unknown[] }>; volumes: Array<{ emptyDir: Record<string, unknown> }> };
    };
    got.spec.containers[0].env.push({ name: 'B' });
    got.spec.volumes[0].emptyDir.medium = 'Memory';
    assert.deepEqual(original, { spec: { containers: [{ name: 'a', env: [{ name: 'A' }] }] } });
    assert.deepEqual(patch, { spec: { volumes: [{ name: 'v', emptyDir: {} }] } });
  });

  it('71 long lists (more than one sort block) merge in upstream order', () => {
    const names = Array.from({ length: 45 }, (_, i) => `E${String(i).padStart(2, '0')}`);
    const original = { mergingList: names.map((name) => ({ name })) };
    // Patch the odd elements in reverse order: they take the patch's order,
    // and the untouched even ones stay ahead of any patched one they preceded.
    const patched = names.filter((_, i) => i % 2 === 1).reverse();
    const patch = { mergingList: patched.map((name) => ({ name, value: 'x' })) };
    const got = applyStrategicMergePatch(original, patch, mergeItem) as { mergingList: Array<{ name: string }> };
    const order = got.mergingList.map((e) => e.name);
    assert.equal(order.length, 45);
    // Live-only (even) elements that preceded E43, the first patched element
    // in patch order, come first; the rest of the patch follows; E44, which
    // came after every patched element in the live list, goes last.
    assert.deepEqual(order.slice(0, 22), names.filter((_, i) => i % 2 === 0 && i < 43));
    assert.deepEqual(order.slice(22, 44), patched);
    assert.equal(order[44], 'E44');
  });
});
