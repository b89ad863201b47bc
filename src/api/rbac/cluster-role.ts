// rbac.authorization.k8s.io/v1 ClusterRole: cluster-wide policy rules, or an
// aggregation of other ClusterRoles selected by label.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import { validateLabelSelectorObject } from '../../apimachinery/labels.ts';
import type { LabelSelectorObject } from '../../apimachinery/labels.ts';
import type { ResourceDef } from '../resource.ts';
import { ALL_VERBS, arr, defaultFieldSelector, rec, validateMeta, verbs } from '../core/common.ts';
import { RBAC_GROUP, roleColumns, roleRow, validatePolicyRules } from './policy.ts';

function validateClusterRole(role: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = [...validateMeta(role, false, old, 'path-segment'), ...validatePolicyRules(role.rules, false)];
  const aggregation = rec(role.aggregationRule);
  if (aggregation !== undefined) {
    const selectors = arr(aggregation.clusterRoleSelectors);
    if (selectors.length === 0) {
      errs.push(fieldErrors.required('aggregationRule.clusterRoleSelectors', 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
    }
    selectors.forEach((s, i) => {
      errs.push(...validateLabelSelectorObject(rec(s) as LabelSelectorObject | undefined, `aggregationRule.clusterRoleSelectors[${i}]`));
    });
  }
  return errs;
}

export const clusterRoleDef: ResourceDef = {
  group: RBAC_GROUP,
  version: 'v1',
  kind: 'ClusterRole',
  listKind: 'ClusterRoleList',
  resource: 'clusterroles',
  singular: 'clusterrole',
  namespaced: false,
  shortNames: [],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1ClusterRole',
  fieldSelector: defaultFieldSelector(),
  table: { columns: roleColumns, row: roleRow },
  validate: validateClusterRole,
};
