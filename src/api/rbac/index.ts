// rbac.authorization.k8s.io/v1.

import type { ResourceDef } from '../resource.ts';
import { clusterRoleBindingDef } from './cluster-role-binding.ts';
import { clusterRoleDef } from './cluster-role.ts';
import { roleBindingDef } from './role-binding.ts';
import { roleDef } from './role.ts';

export { RBAC_GROUP } from './policy.ts';
export { clusterRoleBindingDef, clusterRoleDef, roleBindingDef, roleDef };

export const rbacResourceDefs: readonly ResourceDef[] = [roleDef, clusterRoleDef, roleBindingDef, clusterRoleBindingDef];
