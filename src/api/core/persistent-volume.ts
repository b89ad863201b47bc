// core/v1 PersistentVolume: the cluster-scoped piece of storage a claim binds to.
//
// This file owns the PV's API behaviour as kube-apiserver 1.32 has it: v1
// defaulting (reclaim policy Retain, volumeMode Filesystem, hostPath type "",
// per-plugin defaults, capacities rounded up to milli units and canonicalised),
// the registry strategy (status reset to Pending with a transition time on
// create, status kept on main writes, lastPhaseTransitionTime maintained on
// status writes; the pv-protection finalizer added on create, as upstream's
// StorageObjectInUseProtection admission plugin does), ValidatePersistentVolume / ValidatePersistentVolumeUpdate with
// upstream's messages and field paths, and the `kubectl get pv` table.
//
// It also exports the volume helpers the other storage kinds share (access
// modes, quantities, node selectors, the PV spec validation that a
// VolumeAttachment's inline spec reuses), so that PVC and storage.k8s.io code
// reads like its upstream counterpart instead of re-deriving them.
//
// Upstream runs ValidatePersistentVolume twice on update (strategy and
// ValidatePersistentVolumeUpdate); its message de-duplicates the repeats, so we
// run it once and de-duplicate too (see dedupeErrors).

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { GoValue, deepCopy, fieldErrorBody, fieldErrors, formatTime, isPlainObject } from '../../apimachinery/index.ts';
import type { Quantity } from '../../apimachinery/quantity.ts';
import {
  QUANTITY_SPLIT_RE,
  compareQuantities,
  quantityFromJSON,
  quantityScaledValue,
  quantityString,
  quantityToBigInt,
} from '../../apimachinery/quantity.ts';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  validateObjectMeta,
} from '../../apimachinery/validation.ts';
import type { ResourceDef, TableCell, TableColumn } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn, wideColumn } from '../table.ts';
import type { JsonObject } from './common.ts';
import {
  ALL_VERBS,
  arr,
  defaultFieldSelector,
  goQuote,
  goStringSlice,
  keepOldStatus,
  rec,
  semanticEqual,
  statusSubresource,
  str,
  verbs,
} from './common.ts';

// ---------------------------------------------------------------------------
// Names and constants

/** Beta annotation that still overrides spec.storageClassName on PVs and PVCs. */
export const BETA_STORAGE_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class';
/** Deprecated mount-options annotation; only some in-tree plugins accept it. */
export const MOUNT_OPTIONS_ANNOTATION = 'volume.beta.kubernetes.io/mount-options';
/**
 * Keeps a PV from going while it is bound: added at create (upstream's
 * StorageObjectInUseProtection admission plugin), removed by the
 * pv-protection controller.
 */
export const PV_PROTECTION_FINALIZER = 'kubernetes.io/pv-protection';

export type PersistentVolumeAccessMode = 'ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod';
export type PersistentVolumePhase = 'Pending' | 'Available' | 'Bound' | 'Released' | 'Failed';
export type PersistentVolumeReclaimPolicy = 'Retain' | 'Delete' | 'Recycle';

/** sets.List order, as upstream prints the supported values. */
export const SUPPORTED_ACCESS_MODES: readonly string[] = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
const SUPPORTED_RECLAIM_POLICIES: readonly string[] = ['Delete', 'Recycle', 'Retain'];
export const SUPPORTED_VOLUME_MODES: readonly string[] = ['Block', 'Filesystem'];
const SUPPORTED_HOST_PATH_TYPES: readonly string[] = [
  '',
  'BlockDevice',
  'CharDevice',
  'Directory',
  'DirectoryOrCreate',
  'File',
  'FileOrCreate',
  'Socket',
];

const FIELD_IMMUTABLE = 'field is immutable';
const NOT_POSITIVE = 'must be greater than zero';
export const IS_NEGATIVE = 'must be greater than or equal to 0';
const MORE_THAN_ONE_SOURCE = 'may not specify more than 1 volume type';
const INLINE_FORBIDDEN = 'may not be specified in the context of inline volumes';

// ---------------------------------------------------------------------------
// Field paths and small value helpers

export function child(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

/** field.Path.Key: `capacity[storage]`. */
export function key(path: string, k: string): string {
  return `${path}[${k}]`;
}

/** A Go pointer field is "set" when JSON has it and it is not null. */
export function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

export function inclusiveRange(lo: number, hi: number): string {
  return `must be between ${lo} and ${hi}, inclusive`;
}

function nonEmptyString(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}

/** `field: body` texts identical to an earlier error are dropped, as NewInvalid's aggregate does. */
export function dedupeErrors(errs: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const e of errs) {
    const text = `${e.field}: ${fieldErrorBody(e)}`;
    if (seen.has(text)) continue;
    seen.add(text);
    out.push(e);
  }
  return out;
}

function isZeroValue(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isPlainObject(v)) return Object.values(v).every(isZeroValue);
  return false;
}

/**
 * Equality of two decoded Go structs: a field left out and a field sent with its
 * zero value (`readOnly: false`, `lun: 0`, `""`) decode to the same struct, so
 * they compare equal. Used where upstream compares whole specs; it is lenient
 * for the few pointer fields where nil and zero differ.
 */
export function structEqual(a: unknown, b: unknown): boolean {
  if (isZeroValue(a) && isZeroValue(b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => structEqual(v, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (!structEqual(a[k], b[k])) return false;
    return true;
  }
  return a === b;
}

/** ValidateImmutableField: `path: Invalid value: <new>: field is immutable`. */
export function immutable(path: string, next: unknown, previous: unknown, shown: unknown = next): FieldError[] {
  return semanticEqual(next, previous) ? [] : [fieldErrors.invalid(path, shown ?? null, FIELD_IMMUTABLE)];
}

/** Messages of a name validator as Invalid errors at `path`. */
export function invalidFrom(path: string, value: string, messages: string[]): FieldError[] {
  return messages.map((m) => fieldErrors.invalid(path, value, m));
}

/** ValidateLabelName / ValidateQualifiedName. */
export function validateQualifiedName(value: string, path: string): FieldError[] {
  return invalidFrom(path, value, isQualifiedName(value));
}

/** ValidateCSIDriverName: required, at most 63 bytes, a DNS subdomain once lower-cased. */
export function validateCSIDriverName(name: string, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (name.length === 0) errs.push(fieldErrors.required(path));
  if (name.length > 63) errs.push({ type: 'FieldValueTooLong', field: path, detail: 'must have at most 63 bytes' });
  errs.push(...invalidFrom(path, name, isDNS1123Subdomain(name.toLowerCase())));
  return errs;
}

/** ValidateObjectMeta with the DNS-subdomain names every storage kind uses. */
export function validateMeta(obj: KubeObject, namespaced: boolean): FieldError[] {
  return validateObjectMeta(obj.metadata, { namespaced }, 'metadata');
}

// ---------------------------------------------------------------------------
// Quantities

/** The decoder's complaint about a string that is not a quantity. */
export const QUANTITY_FORMAT_MESSAGE = `quantities must match the regular expression '${QUANTITY_SPLIT_RE}'`;

/** The quantity in a JSON field, or undefined when it is absent or unparsable. */
export function quantityOf(value: unknown): Quantity | undefined {
  if (!isSet(value)) return undefined;
  try {
    return quantityFromJSON(value);
  } catch {
    return undefined;
  }
}

/** The canonical text of a quantity field; unparsable input is shown as written. */
export function quantityText(value: unknown): string {
  const q = quantityOf(value);
  if (q !== undefined) return quantityString(q);
  return typeof value === 'string' ? value : '';
}

/** Quantity.String() of a possibly absent quantity: the zero value prints `0`. */
export function quantityCell(value: unknown): string {
  return isSet(value) ? quantityText(value) : '0';
}

/**
 * SetDefaults_ResourceList: every value is rounded up (away from zero) to milli
 * precision, then written in canonical form. Unparsable values stay for
 * validation to report.
 */
export function defaultResourceList(value: unknown): void {
  const list = rec(value);
  if (list === undefined) return;
  for (const k of Object.keys(list)) {
    const q = quantityOf(list[k]);
    if (q === undefined) continue;
    const rounded: Quantity = q.scale < -3 ? { unscaled: quantityScaledValue(q, -3), scale: -3, format: q.format } : q;
    list[k] = quantityString(rounded);
  }
}

/** A single quantity field written in canonical form (no milli rounding: not a ResourceList). */
export function defaultQuantityField(parent: JsonObject, field: string): void {
  const q = quantityOf(parent[field]);
  if (q !== undefined) parent[field] = quantityString(q);
}

/** An unparsable quantity, reported where upstream's decoder would have refused the body. */
export function validateQuantitySyntax(value: unknown, path: string): FieldError[] {
  if (!isSet(value) || quantityOf(value) !== undefined) return [];
  return [fieldErrors.invalid(path, value, QUANTITY_FORMAT_MESSAGE)];
}

/** validateBasicResource: Value() (rounded away from zero) must not be negative. */
export function validateBasicResource(q: Quantity, path: string): FieldError[] {
  const v = quantityToBigInt(q);
  return v < 0n ? [fieldErrors.invalid(path, Number(v), 'must be a valid resource quantity')] : [];
}

const ZERO: Quantity = { unscaled: 0n, scale: 0, format: 'DecimalSI' };

export function validatePositiveQuantity(q: Quantity, path: string): FieldError[] {
  return compareQuantities(q, ZERO) <= 0 ? [fieldErrors.invalid(path, quantityString(q), NOT_POSITIVE)] : [];
}

export function validateNonnegativeQuantity(q: Quantity, path: string): FieldError[] {
  return compareQuantities(q, ZERO) < 0 ? [fieldErrors.invalid(path, quantityString(q), IS_NEGATIVE)] : [];
}

/** `%#v` of a core.ResourceList: exact for nil and empty; quantities shown by their canonical text otherwise. */
function goResourceList(value: unknown): GoValue {
  if (!isSet(value)) return new GoValue('core.ResourceList(nil)');
  const list = rec(value) ?? {};
  const body = Object.keys(list)
    .sort()
    .map((k) => `${goQuote(k)}:${goQuote(quantityText(list[k]))}`)
    .join(', ');
  return new GoValue(`core.ResourceList{${body}}`);
}

/**
 * The StorageObjectInUseProtection admission step: appends `finalizer` to a
 * new object's finalizers unless the client already put it there.
 */
export function addProtectionFinalizer(obj: KubeObject, finalizer: string): void {
  const finalizers = obj.metadata.finalizers ?? [];
  if (!finalizers.includes(finalizer)) obj.metadata.finalizers = [...finalizers, finalizer];
}

// ---------------------------------------------------------------------------
// Access modes and classes

/** GetAccessModesAsString: RWO,ROX,RWX,RWOP in that order, each once. */
export function accessModesAsString(modes: unknown): string {
  const present = new Set(arr(modes).filter((m): m is string => typeof m === 'string'));
  const out: string[] = [];
  if (present.has('ReadWriteOnce')) out.push('RWO');
  if (present.has('ReadOnlyMany')) out.push('ROX');
  if (present.has('ReadWriteMany')) out.push('RWX');
  if (present.has('ReadWriteOncePod')) out.push('RWOP');
  return out.join(',');
}

/** GetPersistentVolumeClass: the beta annotation wins (even when empty), then spec.storageClassName. */
export function persistentVolumeClass(pv: KubeObject): string {
  const annotations = pv.metadata?.annotations;
  if (annotations !== undefined && Object.hasOwn(annotations, BETA_STORAGE_CLASS_ANNOTATION)) {
    return annotations[BETA_STORAGE_CLASS_ANNOTATION] ?? '';
  }
  return str(rec(pv.spec)?.storageClassName);
}

/** Supported values and the ReadWriteOncePod exclusivity rule shared by PV and PVC specs. */
export function validateAccessModeValues(modes: unknown[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  let rwop = false;
  let other = false;
  for (const mode of modes) {
    const known = typeof mode === 'string' && SUPPORTED_ACCESS_MODES.includes(mode);
    if (!known) errs.push(fieldErrors.notSupported(path, mode, [...SUPPORTED_ACCESS_MODES]));
    if (mode === 'ReadWriteOncePod') rwop = true;
    else if (known) other = true;
  }
  if (rwop && other) errs.push(fieldErrors.forbidden(path, 'may not use ReadWriteOncePod with other access modes'));
  return errs;
}

// ---------------------------------------------------------------------------
// Node selectors (PV node affinity)

/** Label-value check of node affinity values; old objects that already carry bad values keep them. */
export interface NodeSelectorOptions {
  allowInvalidLabelValue: boolean;
}

function validateNodeSelectorRequirement(rq: JsonObject, opts: NodeSelectorOptions, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const values = arr(rq.values);
  const valuesPath = child(path, 'values');
  switch (rq.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) errs.push(fieldErrors.required(valuesPath, "must be specified when `operator` is 'In' or 'NotIn'"));
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) {
        errs.push(fieldErrors.forbidden(valuesPath, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      }
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1) {
        errs.push(fieldErrors.required(valuesPath, "must be specified single value when `operator` is 'Lt' or 'Gt'"));
      }
      break;
    default:
      errs.push(fieldErrors.invalid(child(path, 'operator'), str(rq.operator), 'not a valid selector operator'));
  }
  errs.push(...validateQualifiedName(str(rq.key), child(path, 'key')));
  if (!opts.allowInvalidLabelValue) {
    values.forEach((v, i) => errs.push(...invalidFrom(index(valuesPath, i), str(v), isValidLabelValue(str(v)))));
  }
  return errs;
}

/** matchFields only understands metadata.name, with In/NotIn and exactly one node name. */
function validateNodeFieldSelectorRequirement(rq: JsonObject, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const values = arr(rq.values);
  const valuesPath = child(path, 'values');
  if (rq.operator === 'In' || rq.operator === 'NotIn') {
    if (values.length !== 1) {
      errs.push(fieldErrors.required(valuesPath, "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
    }
  } else {
    errs.push(fieldErrors.invalid(child(path, 'operator'), str(rq.operator), 'not a valid selector operator'));
  }
  if (rq.key !== 'metadata.name') {
    errs.push(fieldErrors.invalid(child(path, 'key'), str(rq.key), 'not a valid field selector key'));
  } else {
    values.forEach((v, i) => errs.push(...invalidFrom(index(valuesPath, i), str(v), isDNS1123Subdomain(str(v)))));
  }
  return errs;
}

/** ValidateNodeSelector: at least one term, each requirement well formed. */
export function validateNodeSelector(selector: JsonObject, opts: NodeSelectorOptions, path: string): FieldError[] {
  const termsPath = child(path, 'nodeSelectorTerms');
  const terms = arr(selector.nodeSelectorTerms);
  if (terms.length === 0) return [fieldErrors.required(termsPath, 'must have at least one node selector term')];
  const errs: FieldError[] = [];
  terms.forEach((t, i) => {
    const term = rec(t) ?? {};
    const termPath = index(termsPath, i);
    arr(term.matchExpressions).forEach((rq, j) =>
      errs.push(...validateNodeSelectorRequirement(rec(rq) ?? {}, opts, index(child(termPath, 'matchExpressions'), j))),
    );
    arr(term.matchFields).forEach((rq, j) =>
      errs.push(...validateNodeFieldSelectorRequirement(rec(rq) ?? {}, index(child(termPath, 'matchFields'), j))),
    );
  });
  return errs;
}

/** True when some node affinity value is not a valid label value (old objects may keep such values). */
function hasInvalidLabelValueInNodeAffinity(spec: JsonObject | undefined): boolean {
  const required = rec(rec(spec?.nodeAffinity)?.required);
  for (const t of arr(required?.nodeSelectorTerms)) {
    for (const rq of arr(rec(t)?.matchExpressions)) {
      for (const v of arr(rec(rq)?.values)) if (isValidLabelValue(str(v)).length > 0) return true;
    }
  }
  return false;
}

// Beta topology labels a PV's node affinity may be rewritten to their GA names.
const BETA_TO_GA_LABELS: ReadonlyMap<string, string> = new Map([
  ['failure-domain.beta.kubernetes.io/zone', 'topology.kubernetes.io/zone'],
  ['failure-domain.beta.kubernetes.io/region', 'topology.kubernetes.io/region'],
  ['beta.kubernetes.io/instance-type', 'node.kubernetes.io/instance-type'],
  ['beta.kubernetes.io/os', 'kubernetes.io/os'],
  ['beta.kubernetes.io/arch', 'kubernetes.io/arch'],
]);

function requirementsEqualAllowingGA(oldRq: unknown, newRq: unknown): boolean {
  const o = rec(oldRq) ?? {};
  const n = rec(newRq) ?? {};
  if (o.operator !== n.operator || !semanticEqual(o.values, n.values)) return false;
  return o.key === n.key || BETA_TO_GA_LABELS.get(str(o.key)) === n.key;
}

/** volumeNodeAffinitiesEqual: equal, except that beta topology keys may become GA ones. */
function nodeAffinitiesEqual(oldNA: unknown, newNA: unknown): boolean {
  if (isSet(oldNA) !== isSet(newNA)) return false;
  if (!isSet(oldNA)) return true;
  const oldReq = rec(rec(oldNA)?.required);
  const newReq = rec(rec(newNA)?.required);
  if ((oldReq === undefined) !== (newReq === undefined)) return false;
  if (oldReq === undefined || newReq === undefined) return true;
  const oldTerms = arr(oldReq.nodeSelectorTerms);
  const newTerms = arr(newReq.nodeSelectorTerms);
  if (oldTerms.length !== newTerms.length) return false;
  return oldTerms.every((ot, i) => {
    const o = rec(ot) ?? {};
    const n = rec(newTerms[i]) ?? {};
    if (!semanticEqual(o.matchFields, n.matchFields)) return false;
    const oe = arr(o.matchExpressions);
    const ne = arr(n.matchExpressions);
    return oe.length === ne.length && oe.every((rq, j) => requirementsEqualAllowingGA(rq, ne[j]));
  });
}

// ---------------------------------------------------------------------------
// Volume sources

function requiredString(src: JsonObject, field: string, path: string, detail?: string): FieldError[] {
  return nonEmptyString(src[field]) ? [] : [fieldErrors.required(child(path, field), detail)];
}

/** validatePathNoBacksteps: no `..` element. */
function validatePathNoBacksteps(p: string, path: string): FieldError[] {
  return p.split('/').includes('..') ? [fieldErrors.invalid(path, p, "must not contain '..'")] : [];
}

function validateHostPath(src: JsonObject, path: string): FieldError[] {
  const p = str(src.path);
  if (p.length === 0) return [fieldErrors.required(child(path, 'path'))];
  const errs = validatePathNoBacksteps(p, child(path, 'path'));
  if (isSet(src.type) && !SUPPORTED_HOST_PATH_TYPES.includes(str(src.type))) {
    errs.push(fieldErrors.notSupported(child(path, 'type'), src.type, [...SUPPORTED_HOST_PATH_TYPES]));
  }
  return errs;
}

function validatePartition(src: JsonObject, path: string): FieldError[] {
  const partition = typeof src.partition === 'number' ? src.partition : 0;
  return partition < 0 || partition > 255 ? [fieldErrors.invalid(child(path, 'partition'), partition, inclusiveRange(1, 255))] : [];
}

function validateGCEPersistentDisk(src: JsonObject, path: string): FieldError[] {
  return [...requiredString(src, 'pdName', path), ...validatePartition(src, path)];
}

function validateAWSElasticBlockStore(src: JsonObject, path: string): FieldError[] {
  return [...requiredString(src, 'volumeID', path), ...validatePartition(src, path)];
}

function validateGlusterfs(src: JsonObject, path: string): FieldError[] {
  const errs = [...requiredString(src, 'endpoints', path), ...requiredString(src, 'path', path)];
  if (isSet(src.endpointsNamespace)) {
    const ns = str(src.endpointsNamespace);
    const nsPath = child(path, 'endpointsNamespace');
    if (ns === '') errs.push(fieldErrors.invalid(nsPath, ns, 'if the endpointnamespace is set, it must be a valid namespace name'));
    else errs.push(...invalidFrom(nsPath, ns, isDNS1123Label(ns)));
  }
  return errs;
}

function validateFlocker(src: JsonObject, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(src.datasetName);
  const uuid = str(src.datasetUUID);
  if (name === '' && uuid === '') errs.push(fieldErrors.required(path, 'one of datasetName and datasetUUID is required'));
  if (name !== '' && uuid !== '') {
    errs.push(fieldErrors.invalid(path, 'resource', 'datasetName and datasetUUID can not be specified simultaneously'));
  }
  if (name.includes('/')) errs.push(fieldErrors.invalid(child(path, 'datasetName'), name, "must not contain '/'"));
  return errs;
}

function validateNFS(src: JsonObject, path: string): FieldError[] {
  const errs = [...requiredString(src, 'server', path), ...requiredString(src, 'path', path)];
  const p = str(src.path);
  if (!p.startsWith('/')) errs.push(fieldErrors.invalid(child(path, 'path'), p, 'must be an absolute path'));
  return errs;
}

function validateRBD(src: JsonObject, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (arr(src.monitors).length === 0) errs.push(fieldErrors.required(child(path, 'monitors')));
  errs.push(...requiredString(src, 'image', path));
  return errs;
}

/** net.SplitHostPort's verdict (true when it splits); an empty port is fine. */
function splitsAsHostPort(hostport: string): boolean {
  const i = hostport.lastIndexOf(':');
  if (i < 0) return false;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return false;
    if (end + 1 === hostport.length) return false;
    if (end + 1 !== i) return false;
    j = 1;
    k = end + 1;
  } else if (hostport.slice(0, i).includes(':')) {
    return false;
  }
  if (hostport.slice(j).includes('[')) return false;
  if (hostport.slice(k).includes(']')) return false;
  return true;
}

function validateQuobyte(src: JsonObject, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const registry = str(src.registry);
  const hostPortMessage = 'must be a host:port pair or multiple pairs separated by commas';
  if (registry === '') {
    errs.push(fieldErrors.required(child(path, 'registry'), hostPortMessage));
  } else if (str(src.tenant).length >= 65) {
    errs.push(fieldErrors.required(child(path, 'tenant'), 'must be a UUID and may not exceed a length of 64 characters'));
  } else {
    for (const pair of registry.split(',')) {
      if (!splitsAsHostPort(pair)) errs.push(fieldErrors.invalid(child(path, 'registry'), registry, hostPortMessage));
    }
  }
  errs.push(...requiredString(src, 'volume', path));
  return errs;
}

function validateCephFS(src: JsonObject, path: string): FieldError[] {
  return arr(src.monitors).length === 0 ? [fieldErrors.required(child(path, 'monitors'))] : [];
}

const IQN_RE = /iqn\.\d{4}-\d{2}\.([A-Za-z0-9\-.]+)(:[^,;*&$|\s]+)$/;
const EUI_RE = /^eui.[A-Za-z0-9]{16}$/;
const NAA_RE = /^naa.[A-Za-z0-9]{32}$/;

function wellFormedIQN(value: string): boolean {
  if (value.startsWith('iqn')) return IQN_RE.test(value);
  if (value.startsWith('eui')) return EUI_RE.test(value);
  if (value.startsWith('naa')) return NAA_RE.test(value);
  return true;
}

function validateISCSI(src: JsonObject, pvName: string, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const portal = str(src.targetPortal);
  if (portal === '') errs.push(fieldErrors.required(child(path, 'targetPortal')));
  if (isSet(src.initiatorName) && `${pvName}:${portal}`.length > 64) {
    errs.push(
      fieldErrors.invalid(
        child(path, 'targetportal'),
        portal,
        'Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters if iscsi.initiatorName is specified.',
      ),
    );
  }
  const iqn = str(src.iqn);
  if (iqn === '') {
    errs.push(fieldErrors.required(child(path, 'iqn')));
  } else if (!iqn.startsWith('iqn') && !iqn.startsWith('eui') && !iqn.startsWith('naa')) {
    errs.push(fieldErrors.invalid(child(path, 'iqn'), iqn, 'must be valid format'));
  } else if (!wellFormedIQN(iqn)) {
    errs.push(fieldErrors.invalid(child(path, 'iqn'), iqn, 'must be valid format'));
  }
  const lun = typeof src.lun === 'number' ? src.lun : 0;
  if (lun < 0 || lun > 255) errs.push(fieldErrors.invalid(child(path, 'lun'), lun, inclusiveRange(0, 255)));
  if ((src.chapAuthDiscovery === true || src.chapAuthSession === true) && !isSet(src.secretRef)) {
    errs.push(fieldErrors.required(child(path, 'secretRef')));
  }
  if (isSet(src.secretRef) && str(rec(src.secretRef)?.name) === '') {
    errs.push(fieldErrors.required(child(child(path, 'secretRef'), 'name')));
  }
  if (isSet(src.initiatorName)) {
    const initiator = str(src.initiatorName);
    const initiatorPath = child(path, 'initiatorname');
    if (!initiator.startsWith('iqn') && !initiator.startsWith('eui') && !initiator.startsWith('naa')) {
      errs.push(fieldErrors.invalid(initiatorPath, initiator, 'must be valid format'));
    }
    if (!wellFormedIQN(initiator)) errs.push(fieldErrors.invalid(initiatorPath, initiator, 'must be valid format'));
  }
  return errs;
}

function validateCinder(src: JsonObject, path: string): FieldError[] {
  const errs = requiredString(src, 'volumeID', path);
  if (isSet(src.secretRef)) {
    const ref = rec(src.secretRef) ?? {};
    errs.push(...requiredString(ref, 'name', child(path, 'secretRef')), ...requiredString(ref, 'namespace', child(path, 'secretRef')));
  }
  return errs;
}

function validateFC(src: JsonObject, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const wwns = arr(src.targetWWNs);
  const wwids = arr(src.wwids);
  const wwnsPath = child(path, 'targetWWNs');
  if (wwns.length < 1 && wwids.length < 1) {
    errs.push(fieldErrors.required(wwnsPath, 'must specify either targetWWNs or wwids, but not both'));
  }
  if (wwns.length !== 0 && wwids.length !== 0) {
    errs.push(fieldErrors.invalid(wwnsPath, new GoValue(goStringSlice(wwns)), 'targetWWNs and wwids can not be specified simultaneously'));
  }
  if (wwns.length !== 0) {
    if (!isSet(src.lun)) {
      errs.push(fieldErrors.required(child(path, 'lun'), 'lun is required if targetWWNs is specified'));
    } else {
      const lun = typeof src.lun === 'number' ? src.lun : 0;
      if (lun < 0 || lun > 255) errs.push(fieldErrors.invalid(child(path, 'lun'), lun, inclusiveRange(0, 255)));
    }
  }
  return errs;
}

function validateFlexVolume(src: JsonObject, path: string): FieldError[] {
  const errs = requiredString(src, 'driver', path);
  for (const k of Object.keys(rec(src.options) ?? {}).sort()) {
    const slash = k.indexOf('/');
    const namespace = slash >= 0 ? k.slice(0, slash) : k;
    const normalized = `.${namespace.toLowerCase()}`;
    if (normalized.endsWith('.kubernetes.io') || normalized.endsWith('.k8s.io')) {
      errs.push(fieldErrors.invalid(key(child(path, 'options'), k), k, 'kubernetes.io and k8s.io namespaces are reserved'));
    }
  }
  return errs;
}

function validateAzureFile(src: JsonObject, path: string): FieldError[] {
  const errs = [...requiredString(src, 'secretName', path), ...requiredString(src, 'shareName', path)];
  if (isSet(src.secretNamespace) && str(src.secretNamespace) === '') errs.push(fieldErrors.required(child(path, 'secretNamespace')));
  return errs;
}

function validateAzureDisk(src: JsonObject, path: string): FieldError[] {
  const errs = [...requiredString(src, 'diskName', path), ...requiredString(src, 'diskURI', path)];
  const cachingModes = ['None', 'ReadOnly', 'ReadWrite'];
  const kinds = ['Dedicated', 'Managed', 'Shared'];
  if (isSet(src.cachingMode) && !cachingModes.includes(str(src.cachingMode))) {
    errs.push(fieldErrors.notSupported(child(path, 'cachingMode'), src.cachingMode, cachingModes));
  }
  if (isSet(src.kind) && !kinds.includes(str(src.kind))) {
    errs.push(fieldErrors.notSupported(child(path, 'kind'), src.kind, kinds));
  }
  const uri = str(src.diskURI);
  if (isSet(src.kind) && src.kind === 'Managed' && !uri.startsWith('/subscriptions/')) {
    errs.push(
      fieldErrors.notSupported(child(path, 'diskURI'), uri, [
        '/subscriptions/{sub-id}/resourcegroups/{group-name}/providers/microsoft.compute/disks/{disk-id}',
      ]),
    );
  }
  if (isSet(src.kind) && src.kind !== 'Managed' && !uri.startsWith('https://')) {
    errs.push(
      fieldErrors.notSupported(child(path, 'diskURI'), uri, ['https://{account-name}.blob.core.windows.net/{container-name}/{disk-name}.vhd']),
    );
  }
  return errs;
}

function validateScaleIO(src: JsonObject, path: string): FieldError[] {
  return [...requiredString(src, 'gateway', path), ...requiredString(src, 'system', path), ...requiredString(src, 'volumeName', path)];
}

function validateLocal(src: JsonObject, path: string): FieldError[] {
  const p = str(src.path);
  if (p === '') return [fieldErrors.required(child(path, 'path'))];
  return validatePathNoBacksteps(p, child(path, 'path'));
}

function validateStorageOS(src: JsonObject, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(src.volumeName);
  if (name === '') errs.push(fieldErrors.required(child(path, 'volumeName')));
  else errs.push(...invalidFrom(child(path, 'volumeName'), name, isDNS1123Label(name)));
  const ns = str(src.volumeNamespace);
  if (ns !== '') errs.push(...invalidFrom(child(path, 'volumeNamespace'), ns, isDNS1123Label(ns)));
  if (isSet(src.secretRef)) {
    const ref = rec(src.secretRef) ?? {};
    errs.push(...requiredString(ref, 'name', child(path, 'secretRef')), ...requiredString(ref, 'namespace', child(path, 'secretRef')));
  }
  return errs;
}

function validatePVSecretReference(ref: JsonObject, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(ref.name);
  if (name === '') errs.push(fieldErrors.required(child(path, 'name')));
  else errs.push(...invalidFrom(child(path, 'name'), name, isDNS1123Subdomain(name)));
  const ns = str(ref.namespace);
  if (ns === '') errs.push(fieldErrors.required(child(path, 'namespace')));
  else errs.push(...invalidFrom(child(path, 'namespace'), ns, isDNS1123Label(ns)));
  return errs;
}

function validateCSI(src: JsonObject, path: string): FieldError[] {
  const errs = validateCSIDriverName(str(src.driver), child(path, 'driver'));
  errs.push(...requiredString(src, 'volumeHandle', path));
  for (const ref of ['controllerPublishSecretRef', 'controllerExpandSecretRef', 'nodePublishSecretRef', 'nodeExpandSecretRef']) {
    if (isSet(src[ref])) errs.push(...validatePVSecretReference(rec(src[ref]) ?? {}, child(path, ref)));
  }
  return errs;
}

interface SourceRule {
  /** JSON field of the source in PersistentVolumeSpec. */
  field: string;
  /** Path element upstream names in "more than 1 volume type" (differs for cephfs). */
  forbiddenAs?: string;
  /** Path element upstream validates under (differs for gcePersistentDisk). */
  validateAs?: string;
  /** FlexVolume is counted but never refused as a second source upstream. */
  neverForbidden?: boolean;
  validate(src: JsonObject, path: string, pvName: string): FieldError[];
}

/** The PV volume sources in the order upstream checks them. */
const SOURCE_RULES: readonly SourceRule[] = [
  { field: 'hostPath', validate: validateHostPath },
  { field: 'gcePersistentDisk', validateAs: 'persistentDisk', validate: validateGCEPersistentDisk },
  { field: 'awsElasticBlockStore', validate: validateAWSElasticBlockStore },
  { field: 'glusterfs', validate: validateGlusterfs },
  { field: 'flocker', validate: validateFlocker },
  { field: 'nfs', validate: validateNFS },
  { field: 'rbd', validate: validateRBD },
  { field: 'quobyte', validate: validateQuobyte },
  { field: 'cephfs', forbiddenAs: 'cephFS', validate: validateCephFS },
  { field: 'iscsi', validate: (src, path, pvName) => validateISCSI(src, pvName, path) },
  { field: 'cinder', validate: validateCinder },
  { field: 'fc', validate: validateFC },
  { field: 'flexVolume', neverForbidden: true, validate: validateFlexVolume },
  { field: 'azureFile', validate: validateAzureFile },
  { field: 'vsphereVolume', validate: (src, path) => requiredString(src, 'volumePath', path) },
  { field: 'photonPersistentDisk', validate: (src, path) => requiredString(src, 'pdID', path) },
  { field: 'portworxVolume', validate: (src, path) => requiredString(src, 'volumeID', path) },
  { field: 'azureDisk', validate: validateAzureDisk },
  { field: 'scaleIO', validate: validateScaleIO },
  { field: 'local', validate: validateLocal },
  { field: 'storageos', validate: validateStorageOS },
  { field: 'csi', validate: validateCSI },
];

/** The JSON fields that make up PersistentVolumeSource (immutable after creation). */
export const PERSISTENT_VOLUME_SOURCE_FIELDS: readonly string[] = SOURCE_RULES.map((r) => r.field);

// ---------------------------------------------------------------------------
// PersistentVolumeSpec

export interface PersistentVolumeSpecOptions {
  /** The PV's name; the iSCSI initiator-name length rule counts it. */
  pvName: string;
  /** Validating VolumeAttachment.spec.source.inlineVolumeSpec: CSI only, no capacity or claim. */
  inline: boolean;
  nodeSelector: NodeSelectorOptions;
}

/** ValidatePersistentVolumeSpec, field paths under `path`. */
export function validatePersistentVolumeSpec(spec: JsonObject, path: string, opts: PersistentVolumeSpecOptions): FieldError[] {
  const errs: FieldError[] = [];
  const { inline } = opts;

  if (inline) {
    if (isSet(spec.claimRef)) errs.push(fieldErrors.forbidden(child(path, 'claimRef'), INLINE_FORBIDDEN));
    if (Object.keys(rec(spec.capacity) ?? {}).length !== 0) errs.push(fieldErrors.forbidden(child(path, 'capacity'), INLINE_FORBIDDEN));
    if (!isSet(spec.csi)) errs.push(fieldErrors.required(child(path, 'csi'), 'has to be specified in the context of inline volumes'));
  }

  const modes = arr(spec.accessModes);
  if (modes.length === 0) errs.push(fieldErrors.required(child(path, 'accessModes')));
  errs.push(...validateAccessModeValues(modes, child(path, 'accessModes')));

  if (!inline) {
    const capPath = child(path, 'capacity');
    const capacity = rec(spec.capacity) ?? {};
    const keys = Object.keys(capacity).sort();
    if (keys.length === 0) errs.push(fieldErrors.required(capPath));
    if (!keys.includes('storage') || keys.length > 1) {
      errs.push(fieldErrors.notSupported(capPath, goResourceList(spec.capacity), ['storage']));
    }
    for (const k of keys) {
      const q = quantityOf(capacity[k]);
      if (q === undefined) {
        errs.push(...validateQuantitySyntax(capacity[k], key(capPath, k)));
        continue;
      }
      errs.push(...validateBasicResource(q, key(capPath, k)), ...validatePositiveQuantity(q, key(capPath, k)));
    }
  }

  const reclaim = str(spec.persistentVolumeReclaimPolicy);
  if (reclaim !== '') {
    const reclaimPath = child(path, 'persistentVolumeReclaimPolicy');
    if (inline) {
      if (reclaim !== 'Retain') errs.push(fieldErrors.forbidden(reclaimPath, 'may only be Retain in the context of inline volumes'));
    } else if (!SUPPORTED_RECLAIM_POLICIES.includes(reclaim)) {
      errs.push(fieldErrors.notSupported(reclaimPath, reclaim, [...SUPPORTED_RECLAIM_POLICIES]));
    }
  }

  let nodeAffinitySpecified = false;
  if (isSet(spec.nodeAffinity)) {
    const naPath = child(path, 'nodeAffinity');
    if (inline) {
      errs.push(fieldErrors.forbidden(naPath, INLINE_FORBIDDEN));
    } else {
      nodeAffinitySpecified = true;
      const required = rec(spec.nodeAffinity)?.required;
      if (!isSet(required)) {
        errs.push(fieldErrors.required(child(naPath, 'required'), 'must specify required node constraints'));
      } else {
        errs.push(...validateNodeSelector(rec(required) ?? {}, opts.nodeSelector, child(naPath, 'required')));
      }
    }
  }

  let numVolumes = 0;
  for (const rule of SOURCE_RULES) {
    if (!isSet(spec[rule.field])) continue;
    if (numVolumes > 0 && !rule.neverForbidden) {
      errs.push(fieldErrors.forbidden(child(path, rule.forbiddenAs ?? rule.field), MORE_THAN_ONE_SOURCE));
      continue;
    }
    numVolumes++;
    const src = rec(spec[rule.field]) ?? {};
    errs.push(...rule.validate(src, child(path, rule.validateAs ?? rule.field), opts.pvName));
    if (rule.field === 'local' && !nodeAffinitySpecified) {
      errs.push(fieldErrors.required(child(path, 'nodeAffinity'), 'Local volume requires node affinity'));
    }
  }
  if (numVolumes === 0) errs.push(fieldErrors.required(path, 'must specify a volume type'));

  const hostPath = rec(spec.hostPath);
  if (hostPath !== undefined && cleanPath(str(hostPath.path)) === '/' && reclaim === 'Recycle') {
    errs.push(fieldErrors.forbidden(child(path, 'persistentVolumeReclaimPolicy'), "may not be 'recycle' for a hostPath mount of '/'"));
  }

  const className = str(spec.storageClassName);
  if (className !== '') {
    if (inline) errs.push(fieldErrors.forbidden(child(path, 'storageClassName'), INLINE_FORBIDDEN));
    else errs.push(...invalidFrom(child(path, 'storageClassName'), className, isDNS1123Subdomain(className)));
  }

  if (isSet(spec.volumeMode)) {
    const mode = str(spec.volumeMode);
    if (inline) {
      if (mode !== 'Filesystem') {
        errs.push(fieldErrors.forbidden(child(path, 'volumeMode'), 'may not specify volumeMode other than Filesystem in the context of inline volumes'));
      }
    } else if (!SUPPORTED_VOLUME_MODES.includes(mode)) {
      errs.push(fieldErrors.notSupported(child(path, 'volumeMode'), spec.volumeMode, [...SUPPORTED_VOLUME_MODES]));
    }
  }

  // The VolumeAttributesClass feature is on: we serve storage.k8s.io/v1 VolumeAttributesClass.
  if (!inline && isSet(spec.volumeAttributesClassName)) {
    const vac = str(spec.volumeAttributesClassName);
    const vacPath = child(path, 'volumeAttributesClassName');
    if (vac === '') errs.push(fieldErrors.required(vacPath, 'an empty string is disallowed'));
    else errs.push(...invalidFrom(vacPath, vac, isDNS1123Subdomain(vac)));
    if (!isSet(spec.csi)) errs.push(fieldErrors.required(child(path, 'csi'), 'has to be specified when using volumeAttributesClassName'));
  }
  return errs;
}

/** path.Clean for the one question asked of it here: is this the root? */
function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  return rooted ? `/${joined}` : joined === '' ? '.' : joined;
}

// Plugins for which the deprecated mount-options annotation is accepted.
const MOUNT_OPTION_SOURCES = [
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'glusterfs',
  'nfs',
  'rbd',
  'quobyte',
  'iscsi',
  'cinder',
  'cephfs',
  'azureFile',
  'vsphereVolume',
  'azureDisk',
  'photonPersistentDisk',
];

/** pkg/volume/validation: the mount-options annotation only on plugins that support it. */
function validateMountOptionAnnotation(pv: KubeObject, spec: JsonObject): FieldError[] {
  if (MOUNT_OPTION_SOURCES.some((f) => isSet(spec[f]))) return [];
  const annotations = pv.metadata?.annotations;
  if (annotations === undefined || !Object.hasOwn(annotations, MOUNT_OPTIONS_ANNOTATION)) return [];
  return [fieldErrors.forbidden(`metadata.annotations.${MOUNT_OPTIONS_ANNOTATION}`, 'may not specify mount options for this volume type')];
}

/** ValidatePersistentVolume (+ the plugin-specific mount option check the strategy adds). */
function validatePersistentVolume(pv: KubeObject, nodeSelector: NodeSelectorOptions): FieldError[] {
  const spec = rec(pv.spec) ?? {};
  return [
    ...validateMeta(pv, false),
    ...validatePersistentVolumeSpec(spec, 'spec', { pvName: pv.metadata?.name ?? '', inline: false, nodeSelector }),
    ...validateMountOptionAnnotation(pv, spec),
  ];
}

function sourceOf(spec: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const f of PERSISTENT_VOLUME_SOURCE_FIELDS) if (isSet(spec[f])) out[f] = spec[f];
  return out;
}

/** ValidatePersistentVolumeUpdate's own rules (the spec itself is validated by the caller). */
function validatePersistentVolumeUpdate(pv: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = rec(pv.spec) ?? {};
  const oldSpec = rec(old.spec) ?? {};

  const newSource = sourceOf(spec);
  const oldSource = sourceOf(oldSpec);
  // A CSI volume may gain a controllerExpandSecretRef (volumes provisioned before expansion existed).
  const newCSI = rec(newSource.csi);
  const oldCSI = rec(oldSource.csi);
  if (newCSI !== undefined && oldCSI !== undefined && !isSet(oldCSI.controllerExpandSecretRef) && isSet(newCSI.controllerExpandSecretRef)) {
    const trimmed = { ...newCSI };
    delete trimmed.controllerExpandSecretRef;
    newSource.csi = trimmed;
  }
  if (!structEqual(newSource, oldSource)) {
    // Upstream appends a go-cmp diff of the internal structs after a newline; it is not reproduced.
    errs.push(fieldErrors.forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'));
  }
  // Upstream's path really is the bare `volumeMode`.
  errs.push(...immutable('volumeMode', spec.volumeMode, oldSpec.volumeMode));

  if (isSet(oldSpec.nodeAffinity) && !nodeAffinitiesEqual(oldSpec.nodeAffinity, spec.nodeAffinity)) {
    errs.push(fieldErrors.invalid('nodeAffinity', spec.nodeAffinity ?? null, `${FIELD_IMMUTABLE}, except for updating from beta label to GA`));
  }

  if (isSet(oldSpec.volumeAttributesClassName) && !isSet(spec.volumeAttributesClassName)) {
    errs.push(fieldErrors.forbidden('spec.volumeAttributesClassName', 'update from non-nil value to nil is forbidden'));
  }
  return errs;
}

// ---------------------------------------------------------------------------
// Defaults and strategy

function setIfEmptyString(obj: JsonObject, field: string, value: string): void {
  if (obj[field] === undefined || obj[field] === null || obj[field] === '') obj[field] = value;
}

function setIfUnset(obj: JsonObject, field: string, value: unknown): void {
  if (!isSet(obj[field])) obj[field] = value;
}

/** v1 defaults of the volume plugins a PV can carry (SetObjectDefaults_PersistentVolume). */
function defaultPersistentVolumeSource(spec: JsonObject): void {
  const hostPath = rec(spec.hostPath);
  if (hostPath !== undefined) setIfUnset(hostPath, 'type', '');
  const rbd = rec(spec.rbd);
  if (rbd !== undefined) {
    setIfEmptyString(rbd, 'pool', 'rbd');
    setIfEmptyString(rbd, 'user', 'admin');
    setIfEmptyString(rbd, 'keyring', '/etc/ceph/keyring');
  }
  const iscsi = rec(spec.iscsi);
  if (iscsi !== undefined) setIfEmptyString(iscsi, 'iscsiInterface', 'default');
  const azureDisk = rec(spec.azureDisk);
  if (azureDisk !== undefined) {
    setIfUnset(azureDisk, 'cachingMode', 'ReadWrite');
    setIfUnset(azureDisk, 'fsType', 'ext4');
    setIfUnset(azureDisk, 'readOnly', false);
    setIfUnset(azureDisk, 'kind', 'Shared');
  }
  const scaleIO = rec(spec.scaleIO);
  if (scaleIO !== undefined) {
    setIfEmptyString(scaleIO, 'storageMode', 'ThinProvisioned');
    setIfEmptyString(scaleIO, 'fsType', 'xfs');
  }
}

/** SetObjectDefaults_PersistentVolume. */
export function defaultPersistentVolume(pv: KubeObject): void {
  const spec = rec(pv.spec);
  if (spec !== undefined) {
    setIfEmptyString(spec, 'persistentVolumeReclaimPolicy', 'Retain');
    setIfUnset(spec, 'volumeMode', 'Filesystem');
    defaultResourceList(spec.capacity);
    defaultPersistentVolumeSource(spec);
  }
  const status = rec(pv.status);
  if (status !== undefined) setIfEmptyString(status, 'phase', 'Pending');
  else pv.status = { phase: 'Pending' };
}

/**
 * The status strategy's bookkeeping of lastPhaseTransitionTime: kept when the
 * phase stays and the client sent none; set to now when the phase changes and
 * the client sent none or the old value.
 */
export function updatePhaseTransitionTime(status: JsonObject, oldStatus: JsonObject | undefined, now: Date): void {
  const oldPhase = str(oldStatus?.phase);
  const phase = str(status.phase);
  const sent = status.lastPhaseTransitionTime;
  if (oldPhase === phase && !isSet(sent)) {
    if (isSet(oldStatus?.lastPhaseTransitionTime)) status.lastPhaseTransitionTime = oldStatus?.lastPhaseTransitionTime;
  } else if (oldPhase !== phase && (!isSet(sent) || sent === oldStatus?.lastPhaseTransitionTime)) {
    status.lastPhaseTransitionTime = formatTime(now);
  }
}

// ---------------------------------------------------------------------------
// Table

const persistentVolumeColumns: readonly TableColumn[] = [
  nameColumn,
  column('Capacity', 'string', "capacity is the description of the persistent volume's resources and capacity."),
  column('Access Modes', 'string', 'accessModes contains all ways the volume can be mounted.'),
  column('Reclaim Policy', 'string', 'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.'),
  column('Status', 'string', 'phase indicates if a volume is available, bound to a claim, or released by a claim.'),
  column('Claim', 'string', 'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.'),
  column('StorageClass', 'string', 'StorageClass of the pv'),
  column('VolumeAttributesClass', 'string', 'VolumeAttributesClass of the pv'),
  column('Reason', 'string', 'reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.'),
  ageColumn,
  wideColumn('VolumeMode', 'string', 'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.'),
];

/** A pointer string field: its value when set (even empty), `<unset>` when nil. */
export function unsetOr(value: unknown): string {
  return typeof value === 'string' ? value : '<unset>';
}

function persistentVolumeRow(pv: KubeObject, now: Date): TableCell[] {
  const spec = rec(pv.spec) ?? {};
  const status = rec(pv.status) ?? {};
  const claimRef = rec(spec.claimRef);
  const claim = claimRef === undefined ? '' : `${str(claimRef.namespace)}/${str(claimRef.name)}`;
  const phase = pv.metadata?.deletionTimestamp ? 'Terminating' : str(status.phase);
  return [
    nameCell(pv),
    quantityCell(rec(spec.capacity)?.storage),
    accessModesAsString(spec.accessModes),
    str(spec.persistentVolumeReclaimPolicy),
    phase,
    claim,
    persistentVolumeClass(pv),
    unsetOr(spec.volumeAttributesClassName),
    str(status.reason),
    ageCell(pv, now),
    unsetOr(spec.volumeMode),
  ];
}

// ---------------------------------------------------------------------------
// The ResourceDef

export interface PersistentVolumeDefOptions {
  /** Clock for lastPhaseTransitionTime (upstream's NowFunc). */
  now?: () => Date;
}

export function createPersistentVolumeDef(options: PersistentVolumeDefOptions = {}): ResourceDef {
  const now = options.now ?? (() => new Date());
  return {
    group: '',
    version: 'v1',
    kind: 'PersistentVolume',
    listKind: 'PersistentVolumeList',
    resource: 'persistentvolumes',
    singular: 'persistentvolume',
    namespaced: false,
    shortNames: ['pv'],
    categories: [],
    verbs: verbs(ALL_VERBS),
    subresources: [statusSubresource()],
    hasStatus: true,
    // Upstream's PV strategy never sets metadata.generation.
    hasGeneration: false,
    schemaType: 'V1PersistentVolume',
    fieldSelector: defaultFieldSelector(),
    table: { columns: persistentVolumeColumns, row: persistentVolumeRow },

    defaults: defaultPersistentVolume,
    prepareForCreate(pv) {
      pv.status = { phase: 'Pending', lastPhaseTransitionTime: formatTime(now()) };
      addProtectionFinalizer(pv, PV_PROTECTION_FINALIZER);
    },
    prepareForUpdate(pv, old) {
      keepOldStatus(pv, old);
    },
    prepareForStatusUpdate(pv, old) {
      if (isSet(old.spec)) pv.spec = deepCopy(old.spec);
      else delete pv.spec;
      const status = rec(pv.status);
      if (status !== undefined) updatePhaseTransitionTime(status, rec(old.status), now());
    },
    validate(pv, old) {
      const oldSpec = old === undefined ? undefined : rec(old.spec);
      const nodeSelector = { allowInvalidLabelValue: hasInvalidLabelValueInNodeAffinity(oldSpec) };
      const errs = validatePersistentVolume(pv, nodeSelector);
      if (old !== undefined) errs.push(...validatePersistentVolumeUpdate(pv, old));
      return dedupeErrors(errs);
    },
    validateStatus(pv) {
      return validateMeta(pv, false);
    },
  };
}

export const persistentVolumeDef: ResourceDef = createPersistentVolumeDef();
