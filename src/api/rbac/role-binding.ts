// rbac.authorization.k8s.io/v1 RoleBinding: grants a Role or ClusterRole to
// subjects within one namespace. roleRef is fixed once created.

import type { ResourceDef } from '../resource.ts';
import { ALL_VERBS, defaultFieldSelector, validateMeta, verbs } from '../core/common.ts';
import { RBAC_GROUP, bindingColumns, bindingRow, defaultBinding, validateBinding } from './policy.ts';

export const roleBindingDef: ResourceDef = {
  group: RBAC_GROUP,
  version: 'v1',
  kind: 'RoleBinding',
  listKind: 'RoleBindingList',
  resource: 'rolebindings',
  singular: 'rolebinding',
  namespaced: true,
  shortNames: [],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1RoleBinding',
  fieldSelector: defaultFieldSelector(),
  table: { columns: bindingColumns, row: bindingRow },
  defaults: defaultBinding,
  validate: (binding, old) => [...validateMeta(binding, true, old, 'path-segment'), ...validateBinding(binding, old, true)],
};
