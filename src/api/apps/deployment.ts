// apps/v1 Deployment: replicas of a pod template rolled out through
// ReplicaSets. Defaults and validation follow apps/v1 (RollingUpdate 25%/25%,
// ten old ReplicaSets kept, a 600 s progress deadline); the selector is fixed
// at create and must select the template's labels. The table is printDeployment.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn, wideColumn } from '../table.ts';
import {
  ALL_VERBS,
  containerCells,
  defaultFieldSelector,
  ensureRec,
  keepOldStatus,
  num,
  rec,
  scaleSubresource,
  setDefault,
  specOf,
  statusSubresource,
  str,
  validateMeta,
  validateNonnegative,
  verbs,
  invalidGo,
} from '../core/common.ts';
import {
  containersColumn,
  goIntOrString,
  imagesColumn,
  intOrPercentValue,
  replicasOf,
  selectorString,
  setTemplateDefaults,
  statusInt,
  templateContainers,
  validateIntOrPercent,
  validateNotMoreThan100Percent,
  validateReplicaCounts,
  validateSelectorAndTemplate,
  validateSelectorImmutable,
} from './workload.ts';

const STRATEGY_TYPES = ['Recreate', 'RollingUpdate'];

function defaultDeployment(d: KubeObject): void {
  const spec = specOf(d);
  if (!spec) return;
  if (num(spec.replicas) === undefined) spec.replicas = 1;
  const strategy = ensureRec(spec, 'strategy');
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const rolling = ensureRec(strategy, 'rollingUpdate');
    setDefault(rolling, 'maxUnavailable', '25%');
    setDefault(rolling, 'maxSurge', '25%');
  }
  if (num(spec.revisionHistoryLimit) === undefined) spec.revisionHistoryLimit = 10;
  if (num(spec.progressDeadlineSeconds) === undefined) spec.progressDeadlineSeconds = 600;
  setTemplateDefaults(spec);
}

function validateStrategy(strategyValue: unknown): FieldError[] {
  const errs: FieldError[] = [];
  const strategy = rec(strategyValue) ?? {};
  const type = str(strategy.type);
  if (!STRATEGY_TYPES.includes(type)) {
    errs.push(type === '' ? fieldErrors.required('spec.strategy.type') : fieldErrors.notSupported('spec.strategy.type', type, STRATEGY_TYPES));
  }
  const rolling = rec(strategy.rollingUpdate);
  if (type === 'Recreate' && rolling !== undefined) {
    errs.push(fieldErrors.forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
  }
  if (type === 'RollingUpdate' && rolling !== undefined) {
    const base = 'spec.strategy.rollingUpdate';
    errs.push(...validateIntOrPercent(rolling.maxUnavailable, `${base}.maxUnavailable`));
    errs.push(...validateIntOrPercent(rolling.maxSurge, `${base}.maxSurge`));
    const unavailable = intOrPercentValue(rolling.maxUnavailable);
    const surge = intOrPercentValue(rolling.maxSurge);
    if (unavailable?.n === 0 && surge?.n === 0) {
      errs.push(invalidGo(`${base}.maxUnavailable`, goIntOrString(rolling.maxUnavailable), 'may not be 0 when `maxSurge` is 0'));
    }
    errs.push(...validateNotMoreThan100Percent(rolling.maxUnavailable, `${base}.maxUnavailable`));
  }
  return errs;
}

function validateDeployment(d: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = validateMeta(d, true, old);
  const spec = specOf(d);
  if (!spec) return [...errs, fieldErrors.required('spec')];
  errs.push(...validateReplicaCounts(spec));
  errs.push(...validateSelectorAndTemplate(spec, { emptySelectorKind: 'deployment', kindName: 'ReplicaSet' }));
  errs.push(...validateStrategy(spec.strategy));
  const deadline = num(spec.progressDeadlineSeconds);
  if (deadline !== undefined) {
    errs.push(...validateNonnegative(deadline, 'spec.progressDeadlineSeconds'));
    if (deadline <= (num(spec.minReadySeconds) ?? 0)) {
      errs.push(fieldErrors.invalid('spec.progressDeadlineSeconds', deadline, 'must be greater than minReadySeconds'));
    }
  }
  if (old !== undefined) errs.push(...validateSelectorImmutable(spec, specOf(old) ?? {}));
  return errs;
}

function deploymentRow(d: KubeObject, now: Date): TableCell[] {
  const [names, images] = containerCells(templateContainers(d));
  return [
    nameCell(d),
    `${statusInt(d, 'readyReplicas')}/${replicasOf(d)}`,
    statusInt(d, 'updatedReplicas'),
    statusInt(d, 'availableReplicas'),
    ageCell(d, now),
    names,
    images,
    selectorString(specOf(d)?.selector),
  ];
}

export const deploymentDef: ResourceDef = {
  group: 'apps',
  version: 'v1',
  kind: 'Deployment',
  listKind: 'DeploymentList',
  resource: 'deployments',
  singular: 'deployment',
  namespaced: true,
  shortNames: ['deploy'],
  categories: ['all'],
  verbs: verbs(ALL_VERBS),
  subresources: [statusSubresource(), scaleSubresource()],
  hasStatus: true,
  hasGeneration: true,
  schemaType: 'V1Deployment',
  fieldSelector: defaultFieldSelector(),
  table: {
    columns: [
      nameColumn,
      column('Ready', 'string', 'Number of the pod with ready state'),
      column('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
      column('Available', 'string', 'Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.'),
      ageColumn,
      containersColumn,
      imagesColumn,
      wideColumn('Selector', 'string', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template\'s labels.'),
    ],
    row: deploymentRow,
  },
  defaults: defaultDeployment,
  prepareForCreate(d) {
    d.status = {};
  },
  prepareForUpdate: keepOldStatus,
  validate: validateDeployment,
};
