// rbac.authorization.k8s.io/v1 Role: namespaced policy rules.

import type { ResourceDef } from '../resource.ts';
import { ALL_VERBS, defaultFieldSelector, validateMeta, verbs } from '../core/common.ts';
import { RBAC_GROUP, roleColumns, roleRow, validatePolicyRules } from './policy.ts';

export const roleDef: ResourceDef = {
  group: RBAC_GROUP,
  version: 'v1',
  kind: 'Role',
  listKind: 'RoleList',
  resource: 'roles',
  singular: 'role',
  namespaced: true,
  shortNames: [],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1Role',
  fieldSelector: defaultFieldSelector(),
  table: { columns: roleColumns, row: roleRow },
  validate: (role, old) => [...validateMeta(role, true, old, 'path-segment'), ...validatePolicyRules(role.rules, true)],
};
