// apps/v1 ReplicaSet: a fixed number of pods from one template; what a
// Deployment's rollout is made of. Served so `kubectl get all` and `describe
// deployment` (which lists the new and old ReplicaSets) work as on a cluster.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn, wideColumn } from '../table.ts';
import {
  ALL_VERBS,
  containerCells,
  defaultFieldSelector,
  keepOldStatus,
  num,
  scaleSubresource,
  specOf,
  statusSubresource,
  validateMeta,
  verbs,
} from '../core/common.ts';
import {
  containersColumn,
  formatSelector,
  imagesColumn,
  replicasOf,
  setTemplateDefaults,
  statusInt,
  templateContainers,
  validateReplicaCounts,
  validateSelectorAndTemplate,
  validateSelectorImmutable,
} from './workload.ts';

function validateReplicaSet(rs: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = validateMeta(rs, true, old);
  const spec = specOf(rs);
  if (!spec) return [...errs, fieldErrors.required('spec')];
  errs.push(...validateReplicaCounts(spec));
  // Upstream's message says "deployment" for ReplicaSets as well.
  errs.push(...validateSelectorAndTemplate(spec, { emptySelectorKind: 'deployment', kindName: 'ReplicaSet' }));
  if (old !== undefined) errs.push(...validateSelectorImmutable(spec, specOf(old) ?? {}));
  return errs;
}

function replicaSetRow(rs: KubeObject, now: Date): TableCell[] {
  const [names, images] = containerCells(templateContainers(rs));
  return [
    nameCell(rs),
    replicasOf(rs),
    statusInt(rs, 'replicas'),
    statusInt(rs, 'readyReplicas'),
    ageCell(rs, now),
    names,
    images,
    formatSelector(specOf(rs)?.selector),
  ];
}

export const replicaSetDef: ResourceDef = {
  group: 'apps',
  version: 'v1',
  kind: 'ReplicaSet',
  listKind: 'ReplicaSetList',
  resource: 'replicasets',
  singular: 'replicaset',
  namespaced: true,
  shortNames: ['rs'],
  categories: ['all'],
  verbs: verbs(ALL_VERBS),
  subresources: [statusSubresource(), scaleSubresource()],
  hasStatus: true,
  hasGeneration: true,
  schemaType: 'V1ReplicaSet',
  fieldSelector: defaultFieldSelector(),
  table: {
    columns: [
      nameColumn,
      column('Desired', 'integer', 'Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works'),
      column('Current', 'integer', 'Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works'),
      column('Ready', 'integer', 'The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.'),
      ageColumn,
      containersColumn,
      imagesColumn,
      wideColumn('Selector', 'string', "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
    ],
    row: replicaSetRow,
  },
  defaults(rs) {
    const spec = specOf(rs);
    if (!spec) return;
    if (num(spec.replicas) === undefined) spec.replicas = 1;
    setTemplateDefaults(spec);
  },
  prepareForCreate(rs) {
    rs.status = {};
  },
  prepareForUpdate: keepOldStatus,
  validate: validateReplicaSet,
};
