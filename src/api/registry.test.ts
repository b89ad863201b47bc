import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

import type { ResourceDef } from './resource.ts';
import { RegistryError, ResourceRegistry, builtinNamespaces, compareVersions, defaultRegistry } from './registry.ts';
import { podDef } from './core/pod.ts';
import { eventDef } from './core/event.ts';
import { eventsEventDef } from './events/event.ts';
import { nodeDef } from './core/node.ts';

const MODELS = new URL('../../node_modules/@kubernetes/client-node/dist/gen/models/', import.meta.url);

describe('default registry lookups', () => {
  const lookups: [string, string, string, string | undefined][] = [
    ['', 'v1', 'pods', 'Pod'],
    ['', 'v1', 'namespaces', 'Namespace'],
    ['', 'v1', 'events', 'Event'],
    ['events.k8s.io', 'v1', 'events', 'Event'],
    ['apps', 'v1', 'statefulsets', 'StatefulSet'],
    ['rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding'],
    ['coordination.k8s.io', 'v1', 'leases', 'Lease'],
    ['', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim'],
    ['storage.k8s.io', 'v1', 'storageclasses', 'StorageClass'],
    ['apps', 'v1', 'pods', undefined],
    ['', 'v2', 'pods', undefined],
  ];
  for (const [group, version, resource, kind] of lookups) {
    it(`lookup(${JSON.stringify(group)}, ${version}, ${resource}) → ${kind ?? 'undefined'}`, () => {
      const def = defaultRegistry.lookup(group, version, resource);
      assert.equal(def?.kind, kind);
      if (def) assert.equal(def.group, group);
    });
  }

  it('byKind tells the two Event groups apart', () => {
    assert.equal(defaultRegistry.byKind('', 'Event'), eventDef);
    assert.equal(defaultRegistry.byKind('events.k8s.io', 'Event'), eventsEventDef);
    assert.equal(defaultRegistry.byKind('', 'Pod'), podDef);
    assert.equal(defaultRegistry.byKind('apps', 'Pod'), undefined);
    assert.equal(defaultRegistry.byGroupVersionKind('', 'v1', 'Node'), nodeDef);
  });

  it('lists groups in apiserver priority order, core first', () => {
    const groups = defaultRegistry.groups().map((g) => g.group);
    const expected = ['', 'apps', 'events.k8s.io', 'rbac.authorization.k8s.io', 'storage.k8s.io', 'coordination.k8s.io'];
    assert.deepEqual(groups.filter((g) => expected.includes(g)), expected);
    assert.deepEqual(groups.slice(0, expected.length), expected);
    assert.deepEqual(defaultRegistry.groups()[0], { group: '', versions: ['v1'] });
  });

  it('builds storage keys; a view shares the keys of what it views', () => {
    assert.equal(defaultRegistry.storageKey(podDef, 'default', 'web-0'), '/registry/pods/default/web-0');
    assert.equal(defaultRegistry.storageKey(nodeDef, 'ignored', 'node-1'), '/registry/nodes/node-1');
    assert.equal(defaultRegistry.storageKey(eventsEventDef, 'default', 'e1'), defaultRegistry.storageKey(eventDef, 'default', 'e1'));
    assert.equal(defaultRegistry.storagePrefix(podDef, 'default'), '/registry/pods/default/');
    assert.equal(defaultRegistry.storagePrefix(podDef), '/registry/pods/');
    assert.equal(defaultRegistry.storagePrefix(eventsEventDef, 'kube-system'), '/registry/events/kube-system/');
    assert.throws(() => defaultRegistry.storageKey(podDef, undefined, 'x'), RegistryError);
  });

  it('the built-in namespaces', () => {
    assert.deepEqual(builtinNamespaces, ['default', 'kube-system', 'kube-public', 'kube-node-lease']);
  });
});

describe('every built-in definition', () => {
  const discovery: Record<string, { shortNames: string[]; categories: string[] }> = {
    pods: { shortNames: ['po'], categories: ['all'] },
    nodes: { shortNames: ['no'], categories: [] },
    namespaces: { shortNames: ['ns'], categories: [] },
    configmaps: { shortNames: ['cm'], categories: [] },
    events: { shortNames: ['ev'], categories: [] },
    serviceaccounts: { shortNames: ['sa'], categories: [] },
    deployments: { shortNames: ['deploy'], categories: ['all'] },
    replicasets: { shortNames: ['rs'], categories: ['all'] },
    statefulsets: { shortNames: ['sts'], categories: ['all'] },
  };
  for (const [resource, want] of Object.entries(discovery)) {
    it(`${resource} has discovery names ${want.shortNames.join(',')}`, () => {
      const def = defaultRegistry.all().find((d) => d.resource === resource && d.group !== 'events.k8s.io');
      assert.deepEqual({ shortNames: def?.shortNames, categories: def?.categories }, want);
    });
  }

  for (const def of defaultRegistry.all()) {
    const name = `${def.resource}.${def.group || 'core'}/${def.version}`;
    it(`${name}: schema type exists in @kubernetes/client-node`, () => {
      assert.ok(existsSync(new URL(`${def.schemaType}.js`, MODELS)), def.schemaType);
    });
    it(`${name}: a bare object prints one cell per column`, () => {
      const cells = def.table.row({ apiVersion: def.group === '' ? def.version : `${def.group}/${def.version}`, kind: def.kind, metadata: { name: 'x' } }, new Date());
      assert.equal(cells.length, def.table.columns.length);
      assert.ok(def.table.columns.some((c) => c.format === 'name'));
    });
    it(`${name}: status subresource iff hasStatus`, () => {
      assert.equal(def.subresources.some((s) => s.name === 'status'), def.hasStatus);
    });
  }
});

describe('registry construction', () => {
  const fake = (group: string, resource: string, extra: Partial<ResourceDef> = {}): ResourceDef => ({
    ...podDef,
    group,
    resource,
    view: undefined,
    ...extra,
  });

  it('refuses a resource defined twice', () => {
    assert.throws(() => new ResourceRegistry([fake('', 'pods'), fake('', 'pods')]), RegistryError);
  });

  it('refuses two groups sharing storage keys unless one is a view', () => {
    assert.throws(() => new ResourceRegistry([fake('', 'widgets'), fake('example.com', 'widgets')]), /share the storage keys/);
    const view = fake('example.com', 'widgets', {
      view: { storageGroup: '', storageResource: 'widgets', fromStorage: (o) => o, toStorage: (o) => o },
    });
    assert.doesNotThrow(() => new ResourceRegistry([fake('', 'widgets'), view]));
    assert.throws(() => new ResourceRegistry([view]), /not registered/);
  });

  it('orders versions GA, beta, alpha and unknown groups last by name', () => {
    const r = new ResourceRegistry([
      fake('zeta.example.com', 'a', { version: 'v1alpha1' }),
      fake('zeta.example.com', 'a', { version: 'v1' }),
      fake('alpha.example.com', 'b', { version: 'v1beta1' }),
      fake('apps', 'c'),
    ]);
    assert.deepEqual(r.groups(), [
      { group: 'apps', versions: ['v1'] },
      { group: 'alpha.example.com', versions: ['v1beta1'] },
      { group: 'zeta.example.com', versions: ['v1', 'v1alpha1'] },
    ]);
    assert.deepEqual(['v1alpha1', 'v2beta1', 'v1', 'v1beta2', 'v2', 'foo'].sort(compareVersions), ['v2', 'v1', 'v2beta1', 'v1beta2', 'v1alpha1', 'foo']);
  });
});
