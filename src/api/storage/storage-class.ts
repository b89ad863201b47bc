// storage.k8s.io/v1 StorageClass: how the PV controller (or an external
// provisioner) makes volumes for claims that name the class.
//
// Defaults (reclaimPolicy Delete, volumeBindingMode Immediate), validation
// (provisioner a qualified name, parameters bounded, allowedTopologies well
// formed) and the update rules (provisioner, parameters, reclaimPolicy and
// volumeBindingMode are fixed for the life of the class) follow kube-apiserver
// 1.32. The table marks the default class with ` (default)`.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell, TableColumn } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import type { JsonObject } from '../core/common.ts';
import { ALL_VERBS, arr, defaultFieldSelector, rec, semanticEqual, str, verbs } from '../core/common.ts';
import { child, dedupeErrors, immutable, index, isSet, validateMeta, validateQualifiedName } from '../core/persistent-volume.ts';

export const IS_DEFAULT_STORAGE_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
export const BETA_IS_DEFAULT_STORAGE_CLASS_ANNOTATION = 'storageclass.beta.kubernetes.io/is-default-class';

export type VolumeBindingMode = 'Immediate' | 'WaitForFirstConsumer';

const SUPPORTED_RECLAIM_POLICIES = ['Delete', 'Retain'];
const SUPPORTED_BINDING_MODES = ['Immediate', 'WaitForFirstConsumer'];
const MAX_PARAMETERS = 512;
const MAX_PARAMETERS_SIZE = 256 * 1024;

/** IsDefaultAnnotation: either spelling of the annotation set to "true". */
export function isDefaultStorageClass(sc: KubeObject): boolean {
  const annotations = sc.metadata?.annotations ?? {};
  return annotations[IS_DEFAULT_STORAGE_CLASS_ANNOTATION] === 'true' || annotations[BETA_IS_DEFAULT_STORAGE_CLASS_ANNOTATION] === 'true';
}

/** validateProvisioner: required, and a qualified name once lower-cased (shared with VolumeAttributesClass.driverName). */
export function validateProvisioner(value: unknown, path: string): FieldError[] {
  const provisioner = str(value);
  if (provisioner === '') return [fieldErrors.required(path)];
  return validateQualifiedName(provisioner.toLowerCase(), path);
}

/** validateParameters: at most 512 entries and 256 KiB, no empty key; `allowEmpty` false demands one entry. */
export function validateParameters(value: unknown, allowEmpty: boolean, path: string): FieldError[] {
  const params = rec(value) ?? {};
  const keys = Object.keys(params);
  if (keys.length > MAX_PARAMETERS) return [fieldErrors.tooLong(path, '', MAX_PARAMETERS)];
  const errs: FieldError[] = [];
  let size = 0;
  for (const k of keys.sort()) {
    if (k.length < 1) errs.push(fieldErrors.invalid(path, k, 'field can not be empty.'));
    size += Buffer.byteLength(k, 'utf8') + Buffer.byteLength(str(params[k]), 'utf8');
  }
  if (size > MAX_PARAMETERS_SIZE) errs.push(fieldErrors.tooLong(path, '', MAX_PARAMETERS_SIZE));
  if (!allowEmpty && keys.length === 0) errs.push(fieldErrors.required(path, 'must contain at least one key/value pair'));
  return errs;
}

/** A topology term in raw form: key → set of values, for the duplicate-term check. */
type RawTopology = Map<string, Set<string>>;

function sameRawTopology(a: RawTopology, b: RawTopology): boolean {
  if (a.size !== b.size) return false;
  for (const [k, values] of a) {
    const other = b.get(k);
    if (other === undefined || other.size !== values.size) return false;
    for (const v of values) if (!other.has(v)) return false;
  }
  return true;
}

/** ValidateTopologySelectorTerm: each requirement has values (no repeats) and a label key; keys unique. */
function validateTopologySelectorTerm(term: JsonObject, path: string): { raw: RawTopology; errs: FieldError[] } {
  const errs: FieldError[] = [];
  const raw: RawTopology = new Map();
  const exprPath = child(path, 'matchLabelExpressions');
  arr(term.matchLabelExpressions).forEach((e, i) => {
    const rq = rec(e) ?? {};
    const idxPath = index(exprPath, i);
    const valuesPath = child(idxPath, 'values');
    const values = arr(rq.values).map((v) => str(v));
    if (values.length === 0) errs.push(fieldErrors.required(valuesPath));
    const set = new Set<string>();
    values.forEach((v, j) => {
      if (set.has(v)) errs.push(fieldErrors.duplicate(index(valuesPath, j), v));
      set.add(v);
    });
    const k = str(rq.key);
    errs.push(...validateQualifiedName(k, child(idxPath, 'key')));
    if (raw.has(k)) errs.push(fieldErrors.duplicate(child(idxPath, 'key'), k));
    raw.set(k, set);
  });
  return { raw, errs };
}

/**
 * validateAllowedTopologies: no two terms may be the same. Upstream seeds its
 * list of seen terms with one empty entry per term, so a term without
 * expressions is reported as a duplicate too; we keep that.
 */
function validateAllowedTopologies(value: unknown, path: string): FieldError[] {
  const terms = arr(value);
  if (terms.length === 0) return [];
  const errs: FieldError[] = [];
  const seen: RawTopology[] = terms.map(() => new Map());
  terms.forEach((t, i) => {
    const idxPath = index(path, i);
    const { raw, errs: termErrs } = validateTopologySelectorTerm(rec(t) ?? {}, idxPath);
    errs.push(...termErrs);
    for (const other of seen) {
      if (sameRawTopology(raw, other)) errs.push(fieldErrors.duplicate(child(idxPath, 'matchLabelExpressions'), ''));
    }
    seen.push(raw);
  });
  return errs;
}

/** ValidateStorageClass. */
function validateStorageClass(sc: KubeObject): FieldError[] {
  const errs = [...validateMeta(sc, false), ...validateProvisioner(sc.provisioner, 'provisioner'), ...validateParameters(sc.parameters, true, 'parameters')];
  const reclaim = str(sc.reclaimPolicy);
  if (reclaim !== '' && !SUPPORTED_RECLAIM_POLICIES.includes(reclaim)) {
    errs.push(fieldErrors.notSupported('reclaimPolicy', sc.reclaimPolicy, SUPPORTED_RECLAIM_POLICIES));
  }
  if (!isSet(sc.volumeBindingMode)) errs.push(fieldErrors.required('volumeBindingMode'));
  else if (!SUPPORTED_BINDING_MODES.includes(str(sc.volumeBindingMode))) {
    errs.push(fieldErrors.notSupported('volumeBindingMode', sc.volumeBindingMode, SUPPORTED_BINDING_MODES));
  }
  errs.push(...validateAllowedTopologies(sc.allowedTopologies, 'allowedTopologies'));
  return errs;
}

/** ValidateStorageClassUpdate's own rules. */
function validateStorageClassUpdate(sc: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  if (!semanticEqual(sc.parameters, old.parameters)) errs.push(fieldErrors.forbidden('parameters', 'updates to parameters are forbidden.'));
  if (str(sc.provisioner) !== str(old.provisioner)) errs.push(fieldErrors.forbidden('provisioner', 'updates to provisioner are forbidden.'));
  if (str(sc.reclaimPolicy) !== str(old.reclaimPolicy)) errs.push(fieldErrors.forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
  errs.push(...immutable('volumeBindingMode', sc.volumeBindingMode, old.volumeBindingMode));
  return errs;
}

/** SetDefaults_StorageClass. */
export function defaultStorageClass(sc: KubeObject): void {
  if (!isSet(sc.reclaimPolicy)) sc.reclaimPolicy = 'Delete';
  if (!isSet(sc.volumeBindingMode)) sc.volumeBindingMode = 'Immediate';
}

const storageClassColumns: readonly TableColumn[] = [
  nameColumn,
  column('Provisioner', 'string', 'provisioner indicates the type of the provisioner.'),
  column('ReclaimPolicy', 'string', 'reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.'),
  column('VolumeBindingMode', 'string', 'volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.'),
  column('AllowVolumeExpansion', 'string', 'allowVolumeExpansion shows whether the storage class allow volume expand.'),
  ageColumn,
];

function storageClassRow(sc: KubeObject, now: Date): TableCell[] {
  const name = isDefaultStorageClass(sc) ? `${nameCell(sc)} (default)` : nameCell(sc);
  return [
    name,
    str(sc.provisioner),
    isSet(sc.reclaimPolicy) ? str(sc.reclaimPolicy) : 'Delete',
    isSet(sc.volumeBindingMode) ? str(sc.volumeBindingMode) : 'Immediate',
    sc.allowVolumeExpansion === true,
    ageCell(sc, now),
  ];
}

export const storageClassDef: ResourceDef = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'StorageClass',
  listKind: 'StorageClassList',
  resource: 'storageclasses',
  singular: 'storageclass',
  namespaced: false,
  shortNames: ['sc'],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1StorageClass',
  fieldSelector: defaultFieldSelector(),
  table: { columns: storageClassColumns, row: storageClassRow },

  defaults: defaultStorageClass,
  validate(sc, old) {
    const errs = validateStorageClass(sc);
    if (old !== undefined) errs.push(...validateStorageClassUpdate(sc, old));
    return dedupeErrors(errs);
  },
};
