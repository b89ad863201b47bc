// rbac.authorization.k8s.io/v1 ClusterRoleBinding: grants a ClusterRole
// cluster-wide; ServiceAccount subjects must name their namespace.

import type { ResourceDef } from '../resource.ts';
import { ALL_VERBS, defaultFieldSelector, validateMeta, verbs } from '../core/common.ts';
import { RBAC_GROUP, bindingColumns, bindingRow, defaultBinding, validateBinding } from './policy.ts';

export const clusterRoleBindingDef: ResourceDef = {
  group: RBAC_GROUP,
  version: 'v1',
  kind: 'ClusterRoleBinding',
  listKind: 'ClusterRoleBindingList',
  resource: 'clusterrolebindings',
  singular: 'clusterrolebinding',
  namespaced: false,
  shortNames: [],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1ClusterRoleBinding',
  fieldSelector: defaultFieldSelector(),
  table: { columns: bindingColumns, row: bindingRow },
  defaults: defaultBinding,
  validate: (binding, old) => [...validateMeta(binding, false, old, 'path-segment'), ...validateBinding(binding, old, false)],
};
