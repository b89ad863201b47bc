// core/v1 ServiceAccount: served so that pods can name one (every pod gets
// `default`) and so that `kubectl get sa` works; volplane issues no tokens.

import type { KubeObject } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import { ALL_VERBS, arr, defaultFieldSelector, validateMeta, verbs } from './common.ts';

function serviceAccountRow(sa: KubeObject, now: Date): TableCell[] {
  return [nameCell(sa), arr(sa.secrets).length, ageCell(sa, now)];
}

export const serviceAccountDef: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'ServiceAccount',
  listKind: 'ServiceAccountList',
  resource: 'serviceaccounts',
  singular: 'serviceaccount',
  namespaced: true,
  shortNames: ['sa'],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1ServiceAccount',
  fieldSelector: defaultFieldSelector(),
  table: {
    columns: [
      nameColumn,
      column('Secrets', 'string', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'),
      ageColumn,
    ],
    row: serviceAccountRow,
  },
  validate: (sa, old) => validateMeta(sa, true, old),
};
