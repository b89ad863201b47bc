// core/v1 ResourceQuota. volplane enforces no quota; the kind is served so
// that `kubectl describe namespace` can list quotas (and print "No resource
// quota.") exactly as against a cluster. Quantities are canonicalised like
// everywhere else, and the status belongs to the (absent) quota controller.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import { isValidQuantity } from '../../apimachinery/quantity.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import {
  ALL_VERBS,
  canonicalizeQuantities,
  defaultFieldSelector,
  keepOldStatus,
  keyPath,
  quantityText,
  rec,
  specOf,
  statusOf,
  statusSubresource,
  validateMeta,
  verbs,
} from './common.ts';

export function validateQuantities(list: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(rec(list) ?? {})) {
    const text = quantityText(v);
    if (text === undefined || !isValidQuantity(text)) errs.push(fieldErrors.invalid(keyPath(path, k), v, 'must be a valid quantity'));
  }
  return errs;
}

/** printers.go printResourceQuota: `name: used/hard` pairs, `limits.*` in their own column. */
function resourceQuotaRow(quota: KubeObject, now: Date): TableCell[] {
  const hard = rec(specOf(quota)?.hard) ?? {};
  const status = statusOf(quota) ?? {};
  const statusHard = rec(status.hard) ?? {};
  const used = rec(status.used) ?? {};
  const requests: string[] = [];
  const limits: string[] = [];
  for (const name of Object.keys(hard).sort()) {
    const text = `${name}: ${quantityText(used[name]) ?? '0'}/${quantityText(statusHard[name]) ?? '0'}`;
    const pieces = name.split('.');
    (pieces.length > 1 && pieces[0] === 'limits' ? limits : requests).push(text);
  }
  return [nameCell(quota), ageCell(quota, now), requests.join(', '), limits.join(', ')];
}

export const resourceQuotaDef: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'ResourceQuota',
  listKind: 'ResourceQuotaList',
  resource: 'resourcequotas',
  singular: 'resourcequota',
  namespaced: true,
  shortNames: ['quota'],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [statusSubresource()],
  hasStatus: true,
  hasGeneration: true,
  schemaType: 'V1ResourceQuota',
  fieldSelector: defaultFieldSelector(),
  table: {
    columns: [
      nameColumn,
      ageColumn,
      column('Request', 'string', 'Request represents a minimum amount of cpu/memory that a container may consume.'),
      column('Limit', 'string', 'Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.'),
    ],
    row: resourceQuotaRow,
  },
  defaults(quota) {
    canonicalizeQuantities(specOf(quota)?.hard);
    const status = statusOf(quota);
    canonicalizeQuantities(status?.hard);
    canonicalizeQuantities(status?.used);
  },
  prepareForCreate(quota) {
    quota.status = {};
  },
  prepareForUpdate: keepOldStatus,
  validate: (quota, old) => [...validateMeta(quota, true, old), ...validateQuantities(specOf(quota)?.hard, 'spec.hard')],
};
