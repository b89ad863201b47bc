// core/v1 LimitRange. Served (not enforced) so that `kubectl describe
// namespace` finds its list and prints "No LimitRange resource.".

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { column, nameCell, nameColumn } from '../table.ts';
import { ALL_VERBS, arr, canonicalizeQuantities, defaultFieldSelector, rec, specOf, str, validateMeta, verbs } from './common.ts';
import { validateQuantities } from './resource-quota.ts';

const LIMIT_FIELDS = ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio'];

function validateLimitRange(lr: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = validateMeta(lr, true, old);
  const seen = new Set<string>();
  arr(specOf(lr)?.limits).forEach((item, i) => {
    const limit = rec(item) ?? {};
    const path = `spec.limits[${i}]`;
    const type = str(limit.type);
    if (type === '') errs.push(fieldErrors.required(`${path}.type`));
    else if (seen.has(type)) errs.push(fieldErrors.duplicate(`${path}.type`, type));
    seen.add(type);
    for (const f of LIMIT_FIELDS) errs.push(...validateQuantities(limit[f], `${path}.${f}`));
  });
  return errs;
}

/** printers.go prints the creation time itself (a `date` column), not an age. */
function limitRangeRow(lr: KubeObject): TableCell[] {
  return [nameCell(lr), lr.metadata.creationTimestamp ?? null];
}

export const limitRangeDef: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'LimitRange',
  listKind: 'LimitRangeList',
  resource: 'limitranges',
  singular: 'limitrange',
  namespaced: true,
  shortNames: ['limits'],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: true,
  schemaType: 'V1LimitRange',
  fieldSelector: defaultFieldSelector(),
  table: {
    columns: [
      nameColumn,
      column('Created At', 'date', 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata'),
    ],
    row: limitRangeRow,
  },
  defaults(lr) {
    for (const item of arr(specOf(lr)?.limits)) {
      const limit = rec(item);
      if (limit) for (const f of LIMIT_FIELDS) canonicalizeQuantities(limit[f]);
    }
  },
  validate: validateLimitRange,
};
