// What the four RBAC kinds share: policy rules, subjects and role references,
// with the defaults and messages of rbac.authorization.k8s.io/v1. volplane
// serves RBAC objects (clients and manifests create them) but authorises with
// its own simpler rules; validation still rejects what a cluster rejects.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import { isDNS1123Subdomain, isValidPathSegmentName } from '../../apimachinery/validation.ts';
import type { TableCell, TableColumn } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn, wideColumn } from '../table.ts';
import type { JsonObject } from '../core/common.ts';
import { arr, goQuote, goStringSlice, invalidGo, rec, semanticEqual, str } from '../core/common.ts';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

/** ValidatePolicyRule. */
export function validatePolicyRules(rules: unknown, namespaced: boolean, path = 'rules'): FieldError[] {
  const errs: FieldError[] = [];
  arr(rules).forEach((r, i) => {
    const rule = rec(r) ?? {};
    const p = `${path}[${i}]`;
    if (arr(rule.verbs).length === 0) errs.push(fieldErrors.required(`${p}.verbs`, 'verbs must contain at least one value'));
    const urls = arr(rule.nonResourceURLs);
    if (urls.length > 0) {
      if (namespaced) {
        errs.push(invalidGo(`${p}.nonResourceURLs`, goStringSlice(urls), 'namespaced rules cannot apply to non-resource URLs'));
      }
      if (arr(rule.apiGroups).length > 0 || arr(rule.resources).length > 0 || arr(rule.resourceNames).length > 0) {
        errs.push(invalidGo(`${p}.nonResourceURLs`, goStringSlice(urls), 'rules cannot apply to both regular resources and non-resource URLs'));
      }
      return;
    }
    if (arr(rule.apiGroups).length === 0) errs.push(fieldErrors.required(`${p}.apiGroups`, 'resource rules must supply at least one api group'));
    if (arr(rule.resources).length === 0) errs.push(fieldErrors.required(`${p}.resources`, 'resource rules must supply at least one resource'));
  });
  return errs;
}

/** SetDefaults_Subject and SetDefaults_(Cluster)RoleBinding: API groups of users, groups and the role. */
export function defaultBinding(binding: KubeObject): void {
  const roleRef = rec(binding.roleRef);
  if (roleRef && str(roleRef.apiGroup) === '') roleRef.apiGroup = RBAC_GROUP;
  for (const s of arr(binding.subjects)) {
    const subject = rec(s);
    if (!subject || str(subject.apiGroup) !== '') continue;
    // A ServiceAccount subject's group is the core group, which Go's omitempty leaves out.
    if (subject.kind === 'User' || subject.kind === 'Group') subject.apiGroup = RBAC_GROUP;
    else if (subject.kind === 'ServiceAccount') delete subject.apiGroup;
  }
}

function validateSubject(subject: JsonObject, namespaced: boolean, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(subject.name);
  if (name === '') errs.push(fieldErrors.required(`${path}.name`));
  const apiGroup = str(subject.apiGroup);
  switch (subject.kind) {
    case 'ServiceAccount':
      if (name !== '') for (const msg of isDNS1123Subdomain(name)) errs.push(fieldErrors.invalid(`${path}.name`, name, msg));
      if (apiGroup !== '') errs.push(fieldErrors.notSupported(`${path}.apiGroup`, apiGroup, ['']));
      if (!namespaced && str(subject.namespace) === '') errs.push(fieldErrors.required(`${path}.namespace`));
      break;
    case 'User':
    case 'Group':
      if (apiGroup !== RBAC_GROUP) errs.push(fieldErrors.notSupported(`${path}.apiGroup`, apiGroup, [RBAC_GROUP]));
      break;
    default:
      errs.push(fieldErrors.notSupported(`${path}.kind`, str(subject.kind), ['ServiceAccount', 'User', 'Group']));
  }
  return errs;
}

function goRoleRef(roleRef: JsonObject): string {
  return `rbac.RoleRef{APIGroup:${goQuote(str(roleRef.apiGroup))}, Kind:${goQuote(str(roleRef.kind))}, Name:${goQuote(str(roleRef.name))}}`;
}

/** ValidateRoleBinding / ValidateClusterRoleBinding (without metadata) plus the roleRef rule of updates. */
export function validateBinding(binding: KubeObject, old: KubeObject | undefined, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const roleRef = rec(binding.roleRef) ?? {};
  const apiGroup = str(roleRef.apiGroup);
  if (apiGroup !== RBAC_GROUP) errs.push(fieldErrors.notSupported('roleRef.apiGroup', apiGroup, [RBAC_GROUP]));
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  const kind = str(roleRef.kind);
  if (!kinds.includes(kind)) errs.push(fieldErrors.notSupported('roleRef.kind', kind, kinds));
  const name = str(roleRef.name);
  if (name === '') errs.push(fieldErrors.required('roleRef.name'));
  else for (const msg of isValidPathSegmentName(name)) errs.push(fieldErrors.invalid('roleRef.name', name, msg));
  arr(binding.subjects).forEach((s, i) => errs.push(...validateSubject(rec(s) ?? {}, namespaced, `subjects[${i}]`)));
  if (old !== undefined && !semanticEqual(binding.roleRef, old.roleRef)) {
    errs.push(invalidGo('roleRef', goRoleRef(roleRef), 'cannot change roleRef'));
  }
  return errs;
}

// ---------------------------------------------------------------------------
// Tables (printRole, printRoleBinding and their cluster twins)

export const roleColumns: readonly TableColumn[] = [
  nameColumn,
  column('Created At', 'date', 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata'),
];

/** Roles print their creation time itself, not an age. */
export function roleRow(role: KubeObject): TableCell[] {
  return [nameCell(role), role.metadata.creationTimestamp ?? null];
}

export const bindingColumns: readonly TableColumn[] = [
  nameColumn,
  column('Role', 'string', 'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.'),
  ageColumn,
  wideColumn('Users', 'string', 'Users in the roleBinding'),
  wideColumn('Groups', 'string', 'Groups in the roleBinding'),
  wideColumn('ServiceAccounts', 'string', 'ServiceAccounts in the roleBinding'),
];

export function bindingRow(binding: KubeObject, now: Date): TableCell[] {
  const roleRef = rec(binding.roleRef) ?? {};
  const users: string[] = [];
  const groups: string[] = [];
  const serviceAccounts: string[] = [];
  for (const s of arr(binding.subjects)) {
    const subject = rec(s) ?? {};
    if (subject.kind === 'ServiceAccount') serviceAccounts.push(`${str(subject.namespace)}/${str(subject.name)}`);
    else if (subject.kind === 'User') users.push(str(subject.name));
    else if (subject.kind === 'Group') groups.push(str(subject.name));
  }
  return [
    nameCell(binding),
    `${str(roleRef.kind)}/${str(roleRef.name)}`,
    ageCell(binding, now),
    users.join(', '),
    groups.join(', '),
    serviceAccounts.join(', '),
  ];
}
