import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { newInvalid } from '../../apimachinery/index.ts';
import { clusterRoleBindingDef, clusterRoleDef, roleBindingDef, roleDef } from './index.ts';

const NOW = new Date('2024-05-01T12:00:00Z');
const CREATED = '2024-05-01T11:00:00Z';

function object(kind: string, namespaced: boolean, fields: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name: 'system:volplane', ...(namespaced ? { namespace: 'kube-system' } : {}), creationTimestamp: CREATED, resourceVersion: '1' },
    ...structuredClone(fields),
  };
}

describe('roles', () => {
  const rows: { name: string; kind: 'Role' | 'ClusterRole'; rules: unknown[]; want: string | undefined }[] = [
    { name: '1-1 valid role (names may contain colons)', kind: 'Role', rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }], want: undefined },
    {
      name: '1-2 verbs are required',
      kind: 'Role',
      rules: [{ apiGroups: [''], resources: ['pods'] }],
      want: 'Role.rbac.authorization.k8s.io "system:volplane" is invalid: rules[0].verbs: Required value: verbs must contain at least one value',
    },
    {
      name: '1-3 namespaced rules cannot name URLs',
      kind: 'Role',
      rules: [{ nonResourceURLs: ['/healthz'], verbs: ['get'] }],
      want: 'Role.rbac.authorization.k8s.io "system:volplane" is invalid: rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs',
    },
    { name: '1-4 cluster roles may', kind: 'ClusterRole', rules: [{ nonResourceURLs: ['/healthz'], verbs: ['get'] }], want: undefined },
    {
      name: '1-5 resource rules need groups and resources',
      kind: 'ClusterRole',
      rules: [{ verbs: ['get'] }],
      want: 'ClusterRole.rbac.authorization.k8s.io "system:volplane" is invalid: [rules[0].apiGroups: Required value: resource rules must supply at least one api group, rules[0].resources: Required value: resource rules must supply at least one resource]',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const def = row.kind === 'Role' ? roleDef : clusterRoleDef;
      const errs = def.validate?.(object(row.kind, row.kind === 'Role', { rules: row.rules }), undefined) ?? [];
      assert.equal(errs.length === 0 ? undefined : newInvalid({ group: 'rbac.authorization.k8s.io', kind: row.kind }, 'system:volplane', errs).message, row.want);
    });
  }

  it('1-6 roles print their creation time, not an age', () => {
    assert.deepEqual(roleDef.table.row(object('Role', true, {}), NOW), ['system:volplane', CREATED]);
    assert.equal(roleDef.table.columns[1].type, 'date');
  });
});

describe('bindings', () => {
  const subjects = [
    { kind: 'User', name: 'alice' },
    { kind: 'Group', name: 'devs' },
    { kind: 'ServiceAccount', name: 'provisioner', namespace: 'kube-system' },
  ];

  it('2-1 defaults fill API groups; the row lists subjects by kind', () => {
    const b = object('RoleBinding', true, { roleRef: { kind: 'Role', name: 'r' }, subjects });
    roleBindingDef.defaults?.(b);
    assert.deepEqual(b.roleRef, { kind: 'Role', name: 'r', apiGroup: 'rbac.authorization.k8s.io' });
    assert.deepEqual((b.subjects as { apiGroup: string }[]).map((s) => s.apiGroup), ['rbac.authorization.k8s.io', 'rbac.authorization.k8s.io', undefined]);
    assert.deepEqual(roleBindingDef.validate?.(b, undefined), []);
    assert.deepEqual(roleBindingDef.table.row(b, NOW), ['system:volplane', 'Role/r', '60m', 'alice', 'devs', 'kube-system/provisioner']);
  });

  it('2-2 cluster bindings need ClusterRoles and service account namespaces', () => {
    const b = object('ClusterRoleBinding', false, { roleRef: { kind: 'Role', name: 'r' }, subjects: [{ kind: 'ServiceAccount', name: 'sa' }] });
    clusterRoleBindingDef.defaults?.(b);
    const errs = clusterRoleBindingDef.validate?.(b, undefined) ?? [];
    assert.deepEqual(errs.map((e) => e.field), ['roleRef.kind', 'subjects[0].namespace']);
  });

  it('2-3 roleRef cannot change', () => {
    const old = object('RoleBinding', true, { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r' } });
    const next = object('RoleBinding', true, { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'r' } });
    const errs = roleBindingDef.validate?.(next, old) ?? [];
    assert.equal(
      newInvalid({ group: 'rbac.authorization.k8s.io', kind: 'RoleBinding' }, 'system:volplane', errs).message,
      'RoleBinding.rbac.authorization.k8s.io "system:volplane" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"r"}: cannot change roleRef',
    );
  });
});
