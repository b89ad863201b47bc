import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { newInvalid } from '../../apimachinery/index.ts';
import { namespaceDef, prepareNamespaceFinalize } from './namespace.ts';

function ns(name: string, extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, creationTimestamp: '2024-05-01T11:59:00Z' }, ...extra };
}

describe('namespace', () => {
  it('1-1 create: label with its name, kubernetes finalizer, phase Active', () => {
    const n = ns('team-a', { status: { phase: 'Terminating' } });
    namespaceDef.defaults?.(n);
    namespaceDef.prepareForCreate?.(n);
    assert.deepEqual(n.metadata.labels, { 'kubernetes.io/metadata.name': 'team-a' });
    assert.deepEqual(n.spec, { finalizers: ['kubernetes'] });
    assert.deepEqual(n.status, { phase: 'Active' });
    assert.deepEqual(namespaceDef.table.row(n, new Date('2024-05-01T12:00:00Z')), ['team-a', 'Active', '60s']);
  });

  it('1-2 the finalizer is appended to user finalizers once', () => {
    const n = ns('team-a', { spec: { finalizers: ['example.com/x', 'kubernetes'] } });
    namespaceDef.prepareForCreate?.(n);
    assert.deepEqual(n.spec, { finalizers: ['example.com/x', 'kubernetes'] });
  });

  it('1-3 a plain update keeps finalizers and status; /finalize may change finalizers', () => {
    const old = ns('team-a', { spec: { finalizers: ['kubernetes'] }, status: { phase: 'Terminating' } });
    const next = ns('team-a', { spec: { finalizers: [] }, status: { phase: 'Active' } });
    namespaceDef.prepareForUpdate?.(next, old);
    assert.deepEqual(next.spec, { finalizers: ['kubernetes'] });
    assert.deepEqual(next.status, { phase: 'Terminating' });
    const finalize = ns('team-a', { spec: { finalizers: [] }, status: { phase: 'Active' } });
    prepareNamespaceFinalize(finalize, old);
    assert.deepEqual(finalize.spec, { finalizers: [] });
    assert.deepEqual(finalize.status, { phase: 'Terminating' });
  });

  it('1-4 names are DNS labels', () => {
    const errs = namespaceDef.validate?.(ns('a.b'), undefined) ?? [];
    assert.equal(
      newInvalid({ group: '', kind: 'Namespace' }, 'a.b', errs).message,
      'Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots',
    );
  });

  it('1-5 discovery: no deletecollection, status and finalize subresources', () => {
    assert.ok(!namespaceDef.verbs.includes('deletecollection'));
    assert.deepEqual(namespaceDef.subresources.map((s) => s.name), ['status', 'finalize']);
    assert.deepEqual(Object.keys(namespaceDef.fieldSelector.fields ?? {}), ['metadata.name', 'status.phase']);
  });
});
