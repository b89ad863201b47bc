import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { patchSchemaFor } from '../patch/index.ts';
import { FieldSet, pathString } from './field-set.ts';
import { compare, merge, prune, toFieldSet } from './structure.ts';

const pod = patchSchemaFor('', 'Pod');
const cm = patchSchemaFor('', 'ConfigMap');

describe('toFieldSet', () => {
  const rows: { name: string; schema: typeof pod; obj: unknown; want: Record<string, unknown> }[] = [
    {
      name: '1 labels and data are owned per key',
      schema: cm,
      obj: { metadata: { labels: { app: 'a', tier: 'b' } }, data: { k: 'v' } },
      want: { 'f:data': { 'f:k': {} }, 'f:metadata': { 'f:labels': { 'f:app': {}, 'f:tier': {} } } },
    },
    {
      name: '2 containers by name, env by name, ports by containerPort+protocol',
      schema: pod,
      obj: {
        spec: {
          containers: [{ name: 'c', image: 'i', env: [{ name: 'X', value: '1' }], ports: [{ containerPort: 80 }] }],
        },
      },
      want: {
        'f:spec': {
          'f:containers': {
            'k:{"name":"c"}': {
              '.': {},
              'f:env': { 'k:{"name":"X"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
              'f:image': {},
              'f:name': {},
              'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
            },
          },
        },
      },
    },
    {
      name: '3 finalizers are a set of values',
      schema: pod,
      obj: { metadata: { finalizers: ['b.io/y', 'a.io/x'] } },
      want: { 'f:metadata': { 'f:finalizers': { 'v:"a.io/x"': {}, 'v:"b.io/y"': {} } } },
    },
    {
      name: '4 an atomic list is one leaf',
      schema: pod,
      obj: { spec: { tolerations: [{ key: 'k' }], containers: [{ name: 'c', args: ['a', 'b'] }] } },
      want: { 'f:spec': { 'f:containers': { 'k:{"name":"c"}': { '.': {}, 'f:args': {}, 'f:name': {} } }, 'f:tolerations': {} } },
    },
    {
      name: '5 an empty object is a leaf of its own',
      schema: pod,
      obj: { spec: { volumes: [{ name: 'v', emptyDir: {} }] } },
      want: { 'f:spec': { 'f:volumes': { 'k:{"name":"v"}': { '.': {}, 'f:emptyDir': {}, 'f:name': {} } } } },
    },
    {
      name: '6 a merge list whose element lacks its key is owned whole',
      schema: pod,
      obj: { spec: { containers: [{ image: 'no-name' }] } },
      want: { 'f:spec': { 'f:containers': {} } },
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      assert.deepEqual(toFieldSet(row.obj, row.schema).toFieldsV1(), row.want);
    });
  }

  test('7 FieldsV1 round-trips, including "." on nodes that are members with children', () => {
    const set = toFieldSet({ spec: { containers: [{ name: 'c', image: 'i' }] }, metadata: { finalizers: ['x'] } }, pod);
    const again = FieldSet.fromFieldsV1(JSON.parse(JSON.stringify(set.toFieldsV1())));
    assert.ok(again.equals(set));
    assert.deepEqual(
      again.paths().map(pathString),
      ['.metadata.finalizers[="x"]', '.spec.containers[name="c"]', '.spec.containers[name="c"].image', '.spec.containers[name="c"].name'],
    );
  });
});

describe('compare', () => {
  test('1 a map that appears is added with its keys; a changed leaf is modified; a gone key removed', () => {
    const c = compare({ data: { a: '1', b: '2' } }, { data: { a: '9' }, metadata: { labels: { x: 'y' } } }, cm);
    assert.deepEqual(c.modified.paths().map(pathString), ['.data.a']);
    assert.deepEqual(c.removed.paths().map(pathString), ['.data.b']);
    assert.deepEqual(c.added.paths().map(pathString), ['.metadata', '.metadata.labels', '.metadata.labels.x']);
  });

  test('2 a new list element is added as an item; a null field becoming a map is not added itself', () => {
    const c = compare({ spec: { containers: null } }, { spec: { containers: [{ name: 'c' }] } }, pod);
    assert.deepEqual(c.added.paths().map(pathString), ['.spec.containers[name="c"]', '.spec.containers[name="c"].name']);
  });

  test('3 reordering a set list changes nothing', () => {
    const c = compare({ metadata: { finalizers: ['a', 'b'] } }, { metadata: { finalizers: ['b', 'a'] } }, pod);
    assert.ok(c.added.isEmpty() && c.modified.isEmpty() && c.removed.isEmpty());
  });
});

describe('merge', () => {
  const rows: { name: string; live: unknown; config: unknown; want: unknown }[] = [
    {
      name: '1 maps merge by key, the config wins on leaves',
      live: { data: { a: '1', b: '2' } },
      config: { data: { a: '9', c: '3' } },
      want: { data: { a: '9', b: '2', c: '3' } },
    },
    {
      name: '2 containers merge by name; live-only containers stay in place',
      live: { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] } },
      config: { spec: { containers: [{ name: 'b', image: 'z' }] } },
      want: { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'z' }] } },
    },
    {
      name: '3 finalizers are unioned',
      live: { metadata: { finalizers: ['a'] } },
      config: { metadata: { finalizers: ['b'] } },
      want: { metadata: { finalizers: ['a', 'b'] } },
    },
    {
      name: '4 atomic lists are replaced',
      live: { spec: { tolerations: [{ key: 'a' }, { key: 'b' }] } },
      config: { spec: { tolerations: [{ key: 'c' }] } },
      want: { spec: { tolerations: [{ key: 'c' }] } },
    },
    {
      name: '5 the applied order wins for shared elements',
      live: { spec: { containers: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] } },
      config: { spec: { containers: [{ name: 'c' }, { name: 'a' }] } },
      want: { spec: { containers: [{ name: 'b' }, { name: 'c' }, { name: 'a' }] } },
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      assert.deepEqual(merge(row.live, row.config, pod), row.want);
    });
  }
});

describe('prune', () => {
  test('1 removes what the applier owned before and nobody owns now', () => {
    const last = toFieldSet({ data: { a: '1', b: '2' } }, cm).withNamedFieldsAsMembers();
    const owned = toFieldSet({ data: { a: '1' } }, cm).withNamedFieldsAsMembers();
    assert.deepEqual(prune({ data: { a: '1', b: '2', c: '3' } }, last, owned, cm), { data: { a: '1', c: '3' } });
  });

  test('2 keeps what another manager owns too', () => {
    const last = toFieldSet({ data: { a: '1', b: '2' } }, cm).withNamedFieldsAsMembers();
    const owned = toFieldSet({ data: { a: '1', b: '2' } }, cm).withNamedFieldsAsMembers();
    assert.deepEqual(prune({ data: { a: '1', b: '2' } }, last, owned, cm), { data: { a: '1', b: '2' } });
  });

  test('3 removes a dropped container and a map left empty', () => {
    const last = toFieldSet({ metadata: { labels: { x: 'y' } }, spec: { containers: [{ name: 'a' }, { name: 'b' }] } }, pod).withNamedFieldsAsMembers();
    const owned = toFieldSet({ metadata: { name: 'p' }, spec: { containers: [{ name: 'a' }] } }, pod).withNamedFieldsAsMembers();
    const out = prune({ metadata: { name: 'p', labels: { x: 'y' } }, spec: { containers: [{ name: 'a' }, { name: 'b' }] } }, last, owned, pod);
    assert.deepEqual(out, { metadata: { name: 'p' }, spec: { containers: [{ name: 'a' }] } });
  });
});
