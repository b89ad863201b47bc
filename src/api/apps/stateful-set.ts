// apps/v1 StatefulSet: pods with stable names, each with its own PVCs stamped
// from volumeClaimTemplates — the storage-heavy workload. Defaults follow
// apps/v1 (OrderedReady, RollingUpdate with partition 0, claims retained on
// delete and scale-down) and each claim template is defaulted like a PVC.
// After create only the fields upstream lets change may change (replicas,
// ordinals, template, updateStrategy, revisionHistoryLimit,
// persistentVolumeClaimRetentionPolicy, minReadySeconds); selector, serviceName
// and volumeClaimTemplates are fixed. The table is printStatefulSet.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import type { JsonObject } from '../core/common.ts';
import {
  ALL_VERBS,
  arr,
  containerCells,
  defaultFieldSelector,
  ensureRec,
  keepOldStatus,
  num,
  rec,
  scaleSubresource,
  semanticEqual,
  setDefault,
  specOf,
  statusSubresource,
  str,
  validateMeta,
  validateNonnegative,
  verbs,
} from '../core/common.ts';
import { setClaimSpecDefaults } from '../core/pod.ts';
import {
  containersColumn,
  imagesColumn,
  replicasOf,
  setTemplateDefaults,
  statusInt,
  templateContainers,
  validateReplicaCounts,
  validateSelectorAndTemplate,
} from './workload.ts';

const POD_MANAGEMENT_POLICIES = ['OrderedReady', 'Parallel'];
const UPDATE_STRATEGY_TYPES = ['OnDelete', 'RollingUpdate'];
const RETENTION_POLICIES = ['Retain', 'Delete'];

/** The spec fields an update may change (everything else must stay as stored). */
const MUTABLE_FIELDS = [
  'replicas',
  'ordinals',
  'template',
  'updateStrategy',
  'revisionHistoryLimit',
  'persistentVolumeClaimRetentionPolicy',
  'minReadySeconds',
];
const UPDATE_FORBIDDEN =
  "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

function defaultClaimTemplate(value: unknown): void {
  const claim = rec(value);
  if (!claim) return;
  setDefault(claim, 'apiVersion', 'v1');
  setDefault(claim, 'kind', 'PersistentVolumeClaim');
  setClaimSpecDefaults(claim.spec);
  const status = ensureRec(claim, 'status');
  setDefault(status, 'phase', 'Pending');
}

function defaultStatefulSet(sts: KubeObject): void {
  const spec = specOf(sts);
  if (!spec) return;
  setDefault(spec, 'podManagementPolicy', 'OrderedReady');
  const strategy = ensureRec(spec, 'updateStrategy');
  if (str(strategy.type) === '') {
    strategy.type = 'RollingUpdate';
    ensureRec(strategy, 'rollingUpdate');
  }
  const rolling = rec(strategy.rollingUpdate);
  if (strategy.type === 'RollingUpdate' && rolling && num(rolling.partition) === undefined) rolling.partition = 0;
  const retention = ensureRec(spec, 'persistentVolumeClaimRetentionPolicy');
  setDefault(retention, 'whenDeleted', 'Retain');
  setDefault(retention, 'whenScaled', 'Retain');
  if (num(spec.replicas) === undefined) spec.replicas = 1;
  if (num(spec.revisionHistoryLimit) === undefined) spec.revisionHistoryLimit = 10;
  setTemplateDefaults(spec);
  for (const claim of arr(spec.volumeClaimTemplates)) defaultClaimTemplate(claim);
}

function claimTemplateNames(spec: JsonObject): string[] {
  return arr(spec.volumeClaimTemplates)
    .map((c) => str(rec(rec(c)?.metadata)?.name))
    .filter((n) => n !== '');
}

function validateClaimTemplates(spec: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  arr(spec.volumeClaimTemplates).forEach((c, i) => {
    const path = `spec.volumeClaimTemplates[${i}]`;
    const claim = rec(c) ?? {};
    if (str(rec(claim.metadata)?.name) === '') errs.push(fieldErrors.required(`${path}.metadata.name`));
    const claimSpec = rec(claim.spec) ?? {};
    if (arr(claimSpec.accessModes).length === 0) {
      errs.push(fieldErrors.required(`${path}.spec.accessModes`, 'at least 1 access mode is required'));
    }
    const requests = rec(rec(claimSpec.resources)?.requests) ?? {};
    if (requests.storage === undefined) errs.push(fieldErrors.required(`${path}.spec.resources[storage]`));
  });
  return errs;
}

function validateStatefulSet(sts: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = validateMeta(sts, true, old);
  const spec = specOf(sts);
  if (!spec) return [...errs, fieldErrors.required('spec')];
  const policy = str(spec.podManagementPolicy);
  if (!POD_MANAGEMENT_POLICIES.includes(policy)) {
    errs.push(fieldErrors.notSupported('spec.podManagementPolicy', policy, POD_MANAGEMENT_POLICIES));
  }
  const strategy = rec(spec.updateStrategy) ?? {};
  const strategyType = str(strategy.type);
  if (!UPDATE_STRATEGY_TYPES.includes(strategyType)) {
    errs.push(fieldErrors.notSupported('spec.updateStrategy.type', strategyType, UPDATE_STRATEGY_TYPES));
  } else if (strategyType === 'OnDelete' && rec(strategy.rollingUpdate) !== undefined) {
    errs.push(fieldErrors.invalid('spec.updateStrategy.rollingUpdate', strategy.rollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"));
  }
  errs.push(...validateNonnegative(rec(strategy.rollingUpdate)?.partition, 'spec.updateStrategy.rollingUpdate.partition'));
  const retention = rec(spec.persistentVolumeClaimRetentionPolicy) ?? {};
  for (const key of ['whenDeleted', 'whenScaled']) {
    const v = str(retention[key]);
    if (!RETENTION_POLICIES.includes(v)) {
      errs.push(fieldErrors.notSupported(`spec.persistentVolumeClaimRetentionPolicy.${key}`, v, RETENTION_POLICIES));
    }
  }
  errs.push(...validateReplicaCounts(spec));
  const ordinalsStart = num(rec(spec.ordinals)?.start);
  if (ordinalsStart !== undefined) errs.push(...validateNonnegative(ordinalsStart, 'spec.ordinals.start'));
  errs.push(
    ...validateSelectorAndTemplate(spec, {
      emptySelectorKind: 'statefulset',
      kindName: 'StatefulSet',
      deadlineForbidden: true,
      extraVolumes: claimTemplateNames(spec),
    }),
  );
  errs.push(...validateClaimTemplates(spec));
  if (old !== undefined) {
    const oldSpec = specOf(old) ?? {};
    const fixed = (s: JsonObject): JsonObject => {
      const copy = { ...s };
      for (const f of MUTABLE_FIELDS) delete copy[f];
      return copy;
    };
    if (!semanticEqual(fixed(spec), fixed(oldSpec))) errs.push(fieldErrors.forbidden('spec', UPDATE_FORBIDDEN));
  }
  return errs;
}

function statefulSetRow(sts: KubeObject, now: Date): TableCell[] {
  const [names, images] = containerCells(templateContainers(sts));
  return [nameCell(sts), `${statusInt(sts, 'readyReplicas')}/${replicasOf(sts)}`, ageCell(sts, now), names, images];
}

export const statefulSetDef: ResourceDef = {
  group: 'apps',
  version: 'v1',
  kind: 'StatefulSet',
  listKind: 'StatefulSetList',
  resource: 'statefulsets',
  singular: 'statefulset',
  namespaced: true,
  shortNames: ['sts'],
  categories: ['all'],
  verbs: verbs(ALL_VERBS),
  subresources: [statusSubresource(), scaleSubresource()],
  hasStatus: true,
  hasGeneration: true,
  schemaType: 'V1StatefulSet',
  fieldSelector: defaultFieldSelector(),
  table: {
    columns: [
      nameColumn,
      column('Ready', 'string', 'Number of the pod with ready state'),
      ageColumn,
      containersColumn,
      imagesColumn,
    ],
    row: statefulSetRow,
  },
  defaults: defaultStatefulSet,
  prepareForCreate(sts) {
    sts.status = {};
  },
  prepareForUpdate: keepOldStatus,
  validate: validateStatefulSet,
};
