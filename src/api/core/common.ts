// Pieces the built-in ResourceDefs share: verb sets and subresource entries for
// discovery, safe access to the loosely typed JSON of an object, status
// handling for kinds with a /status subresource, Go-style value printing for
// the handful of upstream messages that embed a `%#v` value, and the
// "semantic" equality upstream uses to decide whether a spec changed.
//
// Objects here are plain JSON (KubeObject); every helper tolerates fields of
// the wrong type, because defaulting and validation run on user input.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { deepCopy, isPlainObject } from '../../apimachinery/index.ts';
import { QuantityParseError, canonicalQuantityValue } from '../../apimachinery/quantity.ts';
import type { NameValidatorKind } from '../../apimachinery/validation.ts';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../apimachinery/validation.ts';
import type { FieldSelectorDef, SubresourceDef } from '../resource.ts';

export const ALL_VERBS: readonly string[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
/** Namespaces cannot be deleted in bulk. */
export const NAMESPACE_VERBS: readonly string[] = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
export const STATUS_VERBS: readonly string[] = ['get', 'patch', 'update'];

export function verbs(list: readonly string[]): string[] {
  return [...list];
}

export function statusSubresource(): SubresourceDef {
  return { name: 'status', verbs: [...STATUS_VERBS] };
}

/** deployments/scale and friends answer with autoscaling/v1 Scale. */
export function scaleSubresource(): SubresourceDef {
  return { name: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: [...STATUS_VERBS] };
}

/** Kinds that only accept metadata.name and metadata.namespace. */
export function defaultFieldSelector(): FieldSelectorDef {
  return { family: 'default' };
}

/** metadata.name / metadata.namespace getters for the custom family. */
export const metaNameField = (obj: KubeObject): string => obj.metadata?.name ?? '';
export const metaNamespaceField = (obj: KubeObject): string => obj.metadata?.namespace ?? '';

// ---------------------------------------------------------------------------
// Loose JSON access

export type JsonObject = Record<string, unknown>;

export function rec(value: unknown): JsonObject | undefined {
  return isPlainObject(value) ? value : undefined;
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** `parent[key]` as an object, created (or replaced, when not an object) if needed. */
export function ensureRec(parent: JsonObject, key: string): JsonObject {
  const cur = parent[key];
  if (isPlainObject(cur)) return cur;
  const fresh: JsonObject = {};
  parent[key] = fresh;
  return fresh;
}

/** Sets `obj[key] = value` only when the field is absent, null or the empty string. */
export function setDefault(obj: JsonObject, key: string, value: unknown): void {
  const cur = obj[key];
  if (cur === undefined || cur === null || cur === '') obj[key] = value;
}

export function specOf(obj: KubeObject): JsonObject | undefined {
  return rec(obj.spec);
}

export function statusOf(obj: KubeObject): JsonObject | undefined {
  return rec(obj.status);
}

/** Keys of a string map field, ignoring non-objects. */
export function keysOf(value: unknown): string[] {
  const r = rec(value);
  return r ? Object.keys(r) : [];
}

// ---------------------------------------------------------------------------
// Status handling

/** A main-resource write never changes status: carry the stored one over. */
export function keepOldStatus(obj: KubeObject, old: KubeObject): void {
  if (old.status === undefined) delete obj.status;
  else obj.status = deepCopy(old.status);
}

// ---------------------------------------------------------------------------
// Equality as apimachinery's Semantic.DeepEqual sees it for JSON: a missing
// field, null, an empty list and an empty map are the same (Go cannot tell a
// nil slice from an empty one after decoding).

function isEmptyish(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isPlainObject(v)) return Object.keys(v).every((k) => isEmptyish(v[k]));
  return false;
}

export function semanticEqual(a: unknown, b: unknown): boolean {
  if (isEmptyish(a) && isEmptyish(b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    return a.every((v, i) => semanticEqual(v, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!semanticEqual(a[k], b[k])) return false;
    return true;
  }
  return a === b;
}

/** Dotted paths (relative to `prefix`) at which two JSON values differ; for messages. */
export function differingPaths(a: unknown, b: unknown, prefix: string, out: string[] = [], limit = 10): string[] {
  if (out.length >= limit || semanticEqual(a, b)) return out;
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      differingPaths(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`, out, limit);
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((v, i) => differingPaths(v, b[i], `${prefix}[${i}]`, out, limit));
    return out;
  }
  out.push(prefix);
  return out;
}

// ---------------------------------------------------------------------------
// Go-style printing. Upstream builds a few messages with `%#v` of a Go value
// (field.Invalid with a map or struct); kubectl prints them verbatim, so we
// reproduce the Go spelling for the shapes that occur.

/** Go's %q for a string (JSON escaping agrees for everything but exotic runes). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** `map[string]string{"a":"b", "c":"d"}` (keys sorted), `map[string]string(nil)` when absent. */
export function goStringMap(value: unknown): string {
  const r = rec(value);
  if (r === undefined) return 'map[string]string(nil)';
  const body = Object.keys(r)
    .sort()
    .map((k) => `${goQuote(k)}:${goQuote(str(r[k]))}`)
    .join(', ');
  return `map[string]string{${body}}`;
}

/** `[]string{"a", "b"}`, `[]string(nil)` when absent. */
export function goStringSlice(value: unknown, typeName = 'string'): string {
  if (!Array.isArray(value)) return `[]${typeName}(nil)`;
  return `[]${typeName}{${value.map((v) => goQuote(str(v))).join(', ')}}`;
}

/** `v1.LabelSelector{MatchLabels:..., MatchExpressions:...}` as field.Invalid prints it. */
export function goLabelSelector(value: unknown): string {
  const r = rec(value);
  if (r === undefined) return 'null';
  const exprs = r.matchExpressions;
  let exprText = '[]v1.LabelSelectorRequirement(nil)';
  if (Array.isArray(exprs)) {
    const items = exprs.map((e) => {
      const er = rec(e) ?? {};
      return `v1.LabelSelectorRequirement{Key:${goQuote(str(er.key))}, Operator:${goQuote(str(er.operator))}, Values:${goStringSlice(er.values)}}`;
    });
    exprText = `[]v1.LabelSelectorRequirement{${items.join(', ')}}`;
  }
  return `v1.LabelSelector{MatchLabels:${goStringMap(r.matchLabels)}, MatchExpressions:${exprText}}`;
}

/**
 * An Invalid error whose value upstream prints with `%#v`. FieldError values are
 * printed as JSON, so the Go text travels in the detail instead; the resulting
 * message is identical (`Invalid value: <go value>: <detail>`).
 */
export function invalidGo(field: string, goValue: string, detail: string): FieldError {
  return { type: 'FieldValueInvalid', field, detail: `${goValue}: ${detail}` };
}

export function notFound(field: string, value: unknown): FieldError {
  return { type: 'FieldValueNotFound', field, value };
}

// ---------------------------------------------------------------------------
// Small validators shared by several kinds

/** Field path of a map key as upstream writes it: `data[key]`. */
export function keyPath(path: string, key: string): string {
  return `${path}[${key}]`;
}

export function validateNonnegative(value: unknown, field: string): FieldError[] {
  const n = num(value);
  if (n !== undefined && n < 0) {
    return [{ type: 'FieldValueInvalid', field, value: n, detail: 'must be greater than or equal to 0' }];
  }
  return [];
}

/**
 * Rewrites every quantity of a resource list (`{cpu: "0.5", memory: "1024Mi"}`)
 * in canonical form (`500m`, `1Gi`), as the apiserver does on every write.
 * Values that are not quantities are left for validation to report.
 */
export function canonicalizeQuantities(list: unknown): void {
  const r = rec(list);
  if (!r) return;
  for (const k of Object.keys(r)) canonicalizeQuantityField(r, k);
}

/** Canonicalises one quantity field in place (absent or unparsable: unchanged). */
export function canonicalizeQuantityField(obj: JsonObject, key: string): void {
  const v = obj[key];
  if (v === undefined || v === null) return;
  try {
    obj[key] = canonicalQuantityValue(v);
  } catch (err) {
    if (!(err instanceof QuantityParseError)) throw err;
  }
}

/** A quantity-like value as written: strings stay, numbers become their decimal text. */
export function quantityText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

// ---------------------------------------------------------------------------
// Container cells for workload tables (`-o wide` CONTAINERS / IMAGES)

/** Names and images of a container list, each joined with `,`. */
export function containerCells(containers: unknown): [string, string] {
  const list = arr(containers).map((c) => rec(c) ?? {});
  return [list.map((c) => str(c.name)).join(','), list.map((c) => str(c.image)).join(',')];
}

/** An integer cell: the number, or 0 when unset. */
export function intCell(value: unknown): number {
  const n = num(value);
  return n === undefined ? 0 : Math.trunc(n);
}

// ---------------------------------------------------------------------------
// Metadata

/**
 * The metadata checks every kind runs: ValidateObjectMeta on create (name,
 * namespace, labels, annotations, owners, finalizers), ValidateObjectMetaUpdate
 * on update (identity fields immutable, plus the same map checks).
 */
export function validateMeta(
  obj: KubeObject,
  namespaced: boolean,
  old?: KubeObject,
  nameValidator: NameValidatorKind = 'subdomain',
): FieldError[] {
  if (old !== undefined) return validateObjectMetaUpdate(obj.metadata ?? {}, old.metadata ?? {}, 'metadata');
  return validateObjectMeta(obj.metadata ?? {}, { namespaced, nameValidator }, 'metadata');
}
