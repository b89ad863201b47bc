// core/v1 PersistentVolumeClaim: a namespaced request for storage that the PV
// controller binds to a PersistentVolume.
//
// Owns the PVC's API behaviour as kube-apiserver 1.32 has it: v1 defaulting
// (volumeMode Filesystem, phase Pending, resource lists canonicalised), the
// strategy (status reset to Pending and the pvc-protection finalizer added on
// create — the latter is upstream's StorageObjectInUseProtection admission
// plugin — and status kept on main writes;
// dataSource / dataSourceRef kept consistent as KEP-1495 wants), validation of
// the spec, of updates (a claim is immutable except for growing or, after a
// failed expansion, shrinking back its storage request while bound, setting
// volumeName once, and the storage-class upgrade paths) and of status writes,
// and the `kubectl get pvc` table.
//
// Feature gates are taken as 1.32 ships them, except VolumeAttributesClass,
// which is on because we serve storage.k8s.io/v1 VolumeAttributesClass.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { GoValue, deepCopy, fieldErrors } from '../../apimachinery/index.ts';
import { validateLabelSelectorObject } from '../../apimachinery/labels.ts';
import type { LabelSelectorObject } from '../../apimachinery/labels.ts';
import type { Quantity } from '../../apimachinery/quantity.ts';
import { compareQuantities, quantityScaledValue } from '../../apimachinery/quantity.ts';
import { isDNS1123Label, isDNS1123Subdomain, isQualifiedName } from '../../apimachinery/validation.ts';
import type { ResourceDef, TableCell, TableColumn } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn, wideColumn } from '../table.ts';
import type { JsonObject } from './common.ts';
import { ALL_VERBS, arr, defaultFieldSelector, keepOldStatus, rec, semanticEqual, statusSubresource, str, verbs } from './common.ts';
import {
  BETA_STORAGE_CLASS_ANNOTATION,
  SUPPORTED_VOLUME_MODES,
  accessModesAsString,
  addProtectionFinalizer,
  child,
  dedupeErrors,
  defaultResourceList,
  immutable,
  invalidFrom,
  isSet,
  key,
  quantityCell,
  quantityOf,
  structEqual,
  unsetOr,
  validateAccessModeValues,
  validateBasicResource,
  validateMeta,
  validateNonnegativeQuantity,
  validatePositiveQuantity,
  validateQuantitySyntax,
} from './persistent-volume.ts';

export type PersistentVolumeClaimPhase = 'Pending' | 'Bound' | 'Lost';

/**
 * Keeps a claim from going while a pod uses it: added at create (upstream's
 * StorageObjectInUseProtection admission plugin), removed by the
 * pvc-protection controller.
 */
export const PVC_PROTECTION_FINALIZER = 'kubernetes.io/pvc-protection';

const ZERO: Quantity = { unscaled: 0n, scale: 0, format: 'DecimalSI' };

// ---------------------------------------------------------------------------
// Defaults and the data-source normalisation of the strategy

/** SetObjectDefaults_PersistentVolumeClaim. */
export function defaultPersistentVolumeClaim(pvc: KubeObject): void {
  const spec = rec(pvc.spec);
  if (spec !== undefined) {
    if (!isSet(spec.volumeMode)) spec.volumeMode = 'Filesystem';
    const resources = rec(spec.resources);
    defaultResourceList(resources?.requests);
    defaultResourceList(resources?.limits);
  }
  const status = rec(pvc.status);
  if (status === undefined) {
    pvc.status = { phase: 'Pending' };
  } else {
    if (status.phase === undefined || status.phase === null || status.phase === '') status.phase = 'Pending';
    defaultResourceList(status.capacity);
    defaultResourceList(status.allocatedResources);
  }
}

function apiGroupOf(ref: JsonObject | undefined): string {
  return str(ref?.apiGroup);
}

/** Data sources the API accepted before AnyVolumeDataSource: a PVC or a VolumeSnapshot. */
function dataSourceIsEnabled(spec: JsonObject): boolean {
  const ds = rec(spec.dataSource);
  if (ds === undefined) return false;
  const group = apiGroupOf(ds);
  return (ds.kind === 'PersistentVolumeClaim' && group === '') || (ds.kind === 'VolumeSnapshot' && group === 'snapshot.storage.k8s.io');
}

/** EnforceDataSourceBackwardsCompatibility: other kinds given only through dataSource are dropped. */
export function enforceDataSourceBackwardsCompatibility(spec: JsonObject, oldSpec: JsonObject | undefined): void {
  if (oldSpec !== undefined && (isSet(oldSpec.dataSource) || isSet(oldSpec.dataSourceRef))) return;
  if (isSet(spec.dataSource) && !isSet(spec.dataSourceRef) && !dataSourceIsEnabled(spec)) delete spec.dataSource;
}

/** NormalizeDataSources: whichever of dataSource / dataSourceRef is missing is filled from the other. */
export function normalizeDataSources(spec: JsonObject): void {
  const ds = rec(spec.dataSource);
  const ref = rec(spec.dataSourceRef);
  if (ds !== undefined && !isSet(spec.dataSourceRef)) {
    const copy: JsonObject = { kind: ds.kind, name: ds.name };
    if (isSet(ds.apiGroup)) copy.apiGroup = ds.apiGroup;
    spec.dataSourceRef = copy;
  } else if (ref !== undefined && !isSet(spec.dataSource) && str(ref.namespace) === '') {
    const copy: JsonObject = { kind: ref.kind, name: ref.name };
    if (isSet(ref.apiGroup)) copy.apiGroup = ref.apiGroup;
    spec.dataSource = copy;
  }
}

// ---------------------------------------------------------------------------
// Spec validation

export interface ClaimSpecOptions {
  /** An old object with invalid label values in its selector may keep them. */
  allowInvalidLabelValueInSelector: boolean;
  /** An old object whose data source named an API group may keep an invalid one. */
  allowInvalidAPIGroupInDataSourceOrRef: boolean;
}

const DEFAULT_CLAIM_SPEC_OPTIONS: ClaimSpecOptions = {
  allowInvalidLabelValueInSelector: false,
  allowInvalidAPIGroupInDataSourceOrRef: false,
};

const SELECTOR_VALUE_PATH = /\.matchExpressions\[\d+\]\.values\[\d+\]$/;

/** metav1 ValidateLabelSelector, optionally tolerating invalid values (kept from an old object). */
export function validateLabelSelector(selector: unknown, path: string, allowInvalidValues: boolean): FieldError[] {
  if (!isSet(selector)) return [];
  const errs = validateLabelSelectorObject((rec(selector) ?? {}) as LabelSelectorObject, path);
  return allowInvalidValues ? errs.filter((e) => !SELECTOR_VALUE_PATH.test(e.field)) : errs;
}

function validateTypedReference(ref: JsonObject, path: string, allowInvalidAPIGroup: boolean, withNamespace: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (str(ref.name) === '') errs.push(fieldErrors.required(child(path, 'name')));
  const kind = str(ref.kind);
  if (kind === '') errs.push(fieldErrors.required(child(path, 'kind')));
  const group = apiGroupOf(ref);
  if (group === '' && kind !== 'PersistentVolumeClaim') {
    errs.push(fieldErrors.invalid(path, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
  }
  if (group !== '' && !allowInvalidAPIGroup) errs.push(...invalidFrom(child(path, 'apiGroup'), group, isDNS1123Subdomain(group)));
  const ns = str(ref.namespace);
  if (withNamespace && ns !== '') errs.push(...invalidFrom(child(path, 'namespace'), ns, isDNS1123Label(ns)));
  return errs;
}

function sameDataSource(ds: JsonObject, ref: JsonObject): boolean {
  return semanticEqual(ds.apiGroup, ref.apiGroup) && ds.kind === ref.kind && ds.name === ref.name;
}

/** ValidatePersistentVolumeClaimSpec, field paths under `path`. */
export function validatePersistentVolumeClaimSpec(spec: JsonObject, path: string, opts: ClaimSpecOptions = DEFAULT_CLAIM_SPEC_OPTIONS): FieldError[] {
  const errs: FieldError[] = [];
  const modes = arr(spec.accessModes);
  if (modes.length === 0) errs.push(fieldErrors.required(child(path, 'accessModes'), 'at least 1 access mode is required'));
  errs.push(...validateLabelSelector(spec.selector, child(path, 'selector'), opts.allowInvalidLabelValueInSelector));
  errs.push(...validateAccessModeValues(modes, child(path, 'accessModes')));

  // Unparsable quantities anywhere in resources: upstream's decoder refuses the whole body.
  for (const listName of ['requests', 'limits']) {
    const list = rec(rec(spec.resources)?.[listName]) ?? {};
    for (const k of Object.keys(list).sort()) {
      errs.push(...validateQuantitySyntax(list[k], key(child(child(path, 'resources'), listName), k)));
    }
  }

  const storagePath = key(child(path, 'resources'), 'storage');
  const requests = rec(rec(spec.resources)?.requests);
  if (requests === undefined || !Object.hasOwn(requests, 'storage')) {
    errs.push(fieldErrors.required(storagePath));
  } else {
    const q = quantityOf(requests.storage);
    if (q !== undefined) {
      const positive = validatePositiveQuantity(q, storagePath);
      errs.push(...(positive.length > 0 ? positive : validateNonnegativeQuantity(q, storagePath)));
    }
  }

  const className = spec.storageClassName;
  if (typeof className === 'string' && className !== '') {
    errs.push(...invalidFrom(child(path, 'storageClassName'), className, isDNS1123Subdomain(className)));
  }
  if (isSet(spec.volumeMode) && !SUPPORTED_VOLUME_MODES.includes(str(spec.volumeMode))) {
    errs.push(fieldErrors.notSupported(child(path, 'volumeMode'), spec.volumeMode, [...SUPPORTED_VOLUME_MODES]));
  }

  const ds = rec(spec.dataSource);
  const ref = rec(spec.dataSourceRef);
  if (isSet(spec.dataSource)) {
    errs.push(...validateTypedReference(ds ?? {}, child(path, 'dataSource'), opts.allowInvalidAPIGroupInDataSourceOrRef, false));
  }
  if (isSet(spec.dataSourceRef)) {
    errs.push(...validateTypedReference(ref ?? {}, child(path, 'dataSourceRef'), opts.allowInvalidAPIGroupInDataSourceOrRef, true));
  }
  // Upstream passes the *field.Path itself as the value, which prints as the path.
  const dsPath = new GoValue(child(path, 'dataSource'));
  if (ref !== undefined && str(ref.namespace) !== '') {
    if (isSet(spec.dataSource)) errs.push(fieldErrors.invalid(path, dsPath, 'may not be specified when dataSourceRef.namespace is specified'));
  } else if (ds !== undefined && ref !== undefined && !sameDataSource(ds, ref)) {
    errs.push(fieldErrors.invalid(path, dsPath, 'must match dataSourceRef'));
  }

  const vac = spec.volumeAttributesClassName;
  if (typeof vac === 'string' && vac !== '') {
    errs.push(...invalidFrom(child(path, 'volumeAttributesClassName'), vac, isDNS1123Subdomain(vac)));
  }
  return errs;
}

function claimSpecOptions(oldSpec: JsonObject | undefined): ClaimSpecOptions {
  if (oldSpec === undefined) return DEFAULT_CLAIM_SPEC_OPTIONS;
  const oldSelectorErrors = validateLabelSelector(oldSpec.selector, 'spec.selector', false);
  return {
    allowInvalidLabelValueInSelector: oldSelectorErrors.length > 0,
    allowInvalidAPIGroupInDataSourceOrRef: isSet(rec(oldSpec.dataSource)?.apiGroup) || isSet(rec(oldSpec.dataSourceRef)?.apiGroup),
  };
}

// ---------------------------------------------------------------------------
// Update validation

function annotation(obj: KubeObject, name: string): { present: boolean; value: string } {
  const annotations = obj.metadata?.annotations;
  const present = annotations !== undefined && Object.hasOwn(annotations, name);
  return { present, value: present ? (annotations?.[name] ?? '') : '' };
}

/** The claim's storage request, zero when absent or unparsable. */
function storageRequest(spec: JsonObject | undefined): Quantity {
  return quantityOf(rec(rec(spec?.resources)?.requests)?.storage) ?? ZERO;
}

/** Resource lists rewritten to an exact value each, so that `1k` and `1e3` compare equal as Semantic.DeepEqual does. */
function comparableSpec(spec: JsonObject): JsonObject {
  const out = deepCopy(spec);
  const resources = rec(out.resources);
  for (const listName of ['requests', 'limits']) {
    const list = rec(resources?.[listName]);
    if (list === undefined) continue;
    for (const k of Object.keys(list)) {
      const q = quantityOf(list[k]);
      if (q !== undefined) list[k] = `${quantityScaledValue(q, -9)}n`;
    }
  }
  return out;
}

/** ValidatePersistentVolumeClaimUpdate's own rules (the spec itself is validated by the caller). */
function validatePersistentVolumeClaimUpdate(pvc: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = rec(pvc.spec) ?? {};
  // The strategy normalises the stored object's data sources too, so older objects still compare.
  const oldSpec = deepCopy(rec(old.spec) ?? {});
  normalizeDataSources(oldSpec);
  const newClone = deepCopy(spec);
  const oldClone = deepCopy(oldSpec);

  // The PV controller sets volumeName once.
  if (str(oldSpec.volumeName) === '') {
    if (isSet(newClone.volumeName)) oldClone.volumeName = newClone.volumeName;
    else delete oldClone.volumeName;
  }

  const oldBeta = annotation(old, BETA_STORAGE_CLASS_ANNOTATION);
  const newBeta = annotation(pvc, BETA_STORAGE_CLASS_ANNOTATION);
  const oldClass = oldClone.storageClassName;
  const newClass = newClone.storageClassName;
  const upgradeFromAnnotation =
    oldBeta.present && !isSet(oldClass) && typeof newClass === 'string' && newClass === oldBeta.value && (!newBeta.present || newBeta.value === oldBeta.value);
  if (upgradeFromAnnotation) {
    delete newClone.storageClassName;
  } else {
    if (newBeta.value !== oldBeta.value) {
      errs.push(fieldErrors.invalid(`metadata.annotations.${BETA_STORAGE_CLASS_ANNOTATION}`, newBeta.value, 'field is immutable'));
    }
    const upgradeFromNil = typeof newClass === 'string' && !isSet(oldClass) && (!oldBeta.present || newClass === oldBeta.value);
    if (upgradeFromNil) delete newClone.storageClassName;
  }

  // A bound claim may change its storage request and its VolumeAttributesClass.
  const bound = str(rec(pvc.status)?.phase) === 'Bound';
  const newRequests = rec(rec(newClone.resources)?.requests);
  if (bound && newRequests !== undefined) {
    const oldStorage = rec(rec(oldSpec.resources)?.requests)?.storage;
    if (oldStorage === undefined) delete newRequests.storage;
    else newRequests.storage = oldStorage;
  }
  if (bound && isSet(newClone.volumeAttributesClassName)) {
    if (isSet(oldClone.volumeAttributesClassName)) newClone.volumeAttributesClassName = oldClone.volumeAttributesClassName;
    else delete newClone.volumeAttributesClassName;
  }

  if (!structEqual(comparableSpec(newClone), comparableSpec(oldClone))) {
    // Upstream appends a go-cmp diff of the internal structs after a newline; it is not reproduced.
    errs.push(fieldErrors.forbidden('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  }

  // RecoverVolumeExpansionFailure (beta, on in 1.32): shrinking is allowed down to just above status.capacity.
  const newSize = storageRequest(spec);
  const oldSize = storageRequest(oldSpec);
  const statusSize = quantityOf(rec(rec(old.status)?.capacity)?.storage) ?? ZERO;
  if (compareQuantities(newSize, oldSize) < 0 && compareQuantities(newSize, statusSize) <= 0) {
    errs.push(fieldErrors.forbidden('spec.resources.requests.storage', 'field can not be less than status.capacity'));
  }

  // Upstream's path really is the bare `volumeMode`.
  errs.push(...immutable('volumeMode', spec.volumeMode, oldSpec.volumeMode));

  if (isSet(oldSpec.volumeAttributesClassName) && !semanticEqual(oldSpec.volumeAttributesClassName, spec.volumeAttributesClassName)) {
    if (!isSet(spec.volumeAttributesClassName)) {
      errs.push(fieldErrors.forbidden('spec.volumeAttributesClassName', 'update from non-nil value to nil is forbidden'));
    } else if (spec.volumeAttributesClassName === '') {
      errs.push(fieldErrors.forbidden('spec.volumeAttributesClassName', 'update from non-nil value to an empty string is forbidden'));
    }
  }
  return errs;
}

// ---------------------------------------------------------------------------
// Status validation

const RESIZE_STATUSES: readonly string[] = [
  'ControllerResizeInProgress',
  'ControllerResizeInfeasible',
  'NodeResizeInProgress',
  'NodeResizeInfeasible',
  'NodeResizePending',
];

/** Native resource names (no domain, or a kubernetes.io one) other than storage are refused. */
function validateClaimResourceKey(name: string, path: string): FieldError[] {
  const errs = invalidFrom(path, name, isQualifiedName(name));
  if (errs.length > 0) return errs;
  const native = !name.includes('/') || name.includes('kubernetes.io/');
  return native && name !== 'storage' ? [fieldErrors.notSupported(path, name, ['storage'])] : [];
}

/** ValidatePersistentVolumeClaimStatusUpdate (RecoverVolumeExpansionFailure on). */
export function validatePersistentVolumeClaimStatus(pvc: KubeObject): FieldError[] {
  const errs = validateMeta(pvc, true);
  const spec = rec(pvc.spec) ?? {};
  const status = rec(pvc.status) ?? {};
  // Upstream's path really is `Spec.accessModes`.
  if (arr(spec.accessModes).length === 0) errs.push(fieldErrors.required('Spec.accessModes'));

  const capacity = rec(status.capacity) ?? {};
  for (const k of Object.keys(capacity).sort()) {
    const q = quantityOf(capacity[k]);
    if (q === undefined) errs.push(...validateQuantitySyntax(capacity[k], key('status.capacity', k)));
    else errs.push(...validateBasicResource(q, key('status.capacity', k)));
  }

  const resizePath = 'status.allocatedResourceStatus';
  const resizeStatuses = rec(status.allocatedResourceStatuses) ?? {};
  for (const k of Object.keys(resizeStatuses).sort()) {
    errs.push(...validateClaimResourceKey(k, resizePath));
    if (!RESIZE_STATUSES.includes(str(resizeStatuses[k]))) errs.push(fieldErrors.notSupported(resizePath, k, [...RESIZE_STATUSES]));
  }

  const allocPath = 'status.allocatedResources';
  const allocated = rec(status.allocatedResources) ?? {};
  for (const k of Object.keys(allocated).sort()) {
    const keyErrs = validateClaimResourceKey(k, allocPath);
    if (keyErrs.length > 0) {
      errs.push(...keyErrs);
      continue;
    }
    const q = quantityOf(allocated[k]);
    if (q === undefined) {
      errs.push(...validateQuantitySyntax(allocated[k], key(allocPath, k)));
      continue;
    }
    const basic = validateBasicResource(q, key(allocPath, k));
    errs.push(...(basic.length > 0 ? basic : validateNonnegativeQuantity(q, key(allocPath, k))));
  }
  return errs;
}

// ---------------------------------------------------------------------------
// Table

const persistentVolumeClaimColumns: readonly TableColumn[] = [
  nameColumn,
  column('Status', 'string', 'phase represents the current phase of PersistentVolumeClaim.'),
  column('Volume', 'string', 'volumeName is the binding reference to the PersistentVolume backing this claim.'),
  column('Capacity', 'string', 'capacity represents the actual resources of the underlying volume.'),
  column('Access Modes', 'string', 'accessModes contains the actual access modes the volume backing the PVC has.'),
  column('StorageClass', 'string', 'StorageClass of the pvc'),
  column('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pvc'),
  ageColumn,
  wideColumn('VolumeMode', 'string', 'volumeMode defines what type of volume is required by the claim.'),
];

/** GetPersistentVolumeClaimClass: the beta annotation wins, then spec.storageClassName. */
export function persistentVolumeClaimClass(pvc: KubeObject): string {
  const beta = annotation(pvc, BETA_STORAGE_CLASS_ANNOTATION);
  if (beta.present) return beta.value;
  return str(rec(pvc.spec)?.storageClassName);
}

function persistentVolumeClaimRow(pvc: KubeObject, now: Date): TableCell[] {
  const spec = rec(pvc.spec) ?? {};
  const status = rec(pvc.status) ?? {};
  const phase = pvc.metadata?.deletionTimestamp ? 'Terminating' : str(status.phase);
  const volumeName = str(spec.volumeName);
  // Capacity and modes describe the bound volume, so they show only once a volume is named.
  const capacity = volumeName === '' ? '' : quantityCell(rec(status.capacity)?.storage);
  const modes = volumeName === '' ? '' : accessModesAsString(status.accessModes);
  return [
    nameCell(pvc),
    phase,
    volumeName,
    capacity,
    modes,
    persistentVolumeClaimClass(pvc),
    unsetOr(spec.volumeAttributesClassName),
    ageCell(pvc, now),
    unsetOr(spec.volumeMode),
  ];
}

// ---------------------------------------------------------------------------
// The ResourceDef

export const persistentVolumeClaimDef: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'PersistentVolumeClaim',
  listKind: 'PersistentVolumeClaimList',
  resource: 'persistentvolumeclaims',
  singular: 'persistentvolumeclaim',
  namespaced: true,
  shortNames: ['pvc'],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [statusSubresource()],
  hasStatus: true,
  // Upstream's PVC strategy never sets metadata.generation.
  hasGeneration: false,
  schemaType: 'V1PersistentVolumeClaim',
  fieldSelector: defaultFieldSelector(),
  table: { columns: persistentVolumeClaimColumns, row: persistentVolumeClaimRow },

  defaults: defaultPersistentVolumeClaim,
  prepareForCreate(pvc) {
    pvc.status = { phase: 'Pending' };
    addProtectionFinalizer(pvc, PVC_PROTECTION_FINALIZER);
    const spec = rec(pvc.spec);
    if (spec !== undefined) {
      enforceDataSourceBackwardsCompatibility(spec, undefined);
      normalizeDataSources(spec);
    }
  },
  prepareForUpdate(pvc, old) {
    keepOldStatus(pvc, old);
    const spec = rec(pvc.spec);
    if (spec !== undefined) {
      enforceDataSourceBackwardsCompatibility(spec, rec(old.spec));
      normalizeDataSources(spec);
    }
  },
  validate(pvc, old) {
    const spec = rec(pvc.spec) ?? {};
    const oldSpec = old === undefined ? undefined : rec(old.spec);
    const errs = [...validateMeta(pvc, true), ...validatePersistentVolumeClaimSpec(spec, 'spec', claimSpecOptions(oldSpec))];
    if (old !== undefined) errs.push(...validatePersistentVolumeClaimUpdate(pvc, old));
    return dedupeErrors(errs);
  },
  validateStatus(pvc) {
    return dedupeErrors(validatePersistentVolumeClaimStatus(pvc));
  },
};
