// Strict decoding and type checking of whole objects against the Kubernetes
// schemas shipped with @kubernetes/client-node, so the API server can answer a
// bad body the way kube-apiserver does:
//
//   PersistentVolume in version "v1" cannot be handled as a PersistentVolume:
//     json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string
//   PersistentVolume in version "v1" cannot be handled as a PersistentVolume:
//     strict decoding error: unknown field "metadata.label"
//
// The generated models carry an `attributeTypeMap` per type. Each model file is
// a standalone ES module, so models are required one by one, on first use, and
// their parsed field tables cached; loading the package index (every model at
// once) costs ~25 MB of RSS, a Pod's worth of models a few hundred KB.
//
// What the checker reproduces from Go's decoder (encoding/json as forked by
// sigs.k8s.io/json): `null` is accepted everywhere; type errors name the
// innermost struct and the dotted field path without indices or map keys;
// unknown fields are reported with indices (`spec.containers[0].imagee`) and
// map keys as path segments, deduplicated, at most 100. Kubernetes types that
// decode themselves are special-cased: Quantity takes strings and numbers and
// reports ParseQuantity's error, IntOrString takes strings and int32s, Time
// and MicroTime take strings, []byte takes base64. What it cannot know from
// the models: Go's named string types (a type error on `accessModes[0]` names
// `string` where Go says `v1.PersistentVolumeAccessMode`), and timestamp
// syntax (any string is accepted).

import { createRequire } from 'node:module';
import { isPlainObject } from './types.ts';
import { QuantityParseError, quantityFromJSON } from './quantity.ts';

export type ExpectedType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

export interface TypeProblem {
  /** Where the bad value is, in apimachinery's spelling: `spec.containers[0].name`. */
  path: string;
  expected: ExpectedType;
  /** Go's description of the JSON value: `string`, `number`, `number 1.5`, `bool`, `array`, `object`. */
  got: string;
  /** The Go struct holding the field (`ObjectMeta`); '' when the whole value is wrong. */
  goStruct: string;
  /** Go's field path: JSON names joined by dots, without indices or map keys. */
  goField: string;
  /** The Go type the value could not be stored in: `string`, `int32`, `[]v1.Container`, `v1.ObjectMeta`. */
  goType: string;
  /** For decode failures that are not JSON type errors (bad quantity, bad base64): the error text. */
  message?: string;
}

export interface SchemaProblems {
  unknownFields: string[];
  typeErrors: TypeProblem[];
}

export interface CheckObjectOptions {
  /** The Go struct name for fields of the root object (the kind), when it differs from the model's. */
  rootKind?: string;
}

/** Thrown when asked to check against a model client-node does not ship. */
export class UnknownSchemaError extends Error {
  override readonly name = 'UnknownSchemaError';
  readonly typeName: string;
  constructor(typeName: string) {
    super(`no schema for type ${JSON.stringify(typeName)} in @kubernetes/client-node`);
    this.typeName = typeName;
  }
}

// ---------------------------------------------------------------- type specs

type TypeSpec =
  | { k: 'string'; quantity: boolean; bytes: boolean }
  | { k: 'integer'; bits: 32 | 64 }
  | { k: 'number' }
  | { k: 'boolean' }
  | { k: 'time' }
  | { k: 'intOrString' }
  | { k: 'any' }
  | { k: 'array'; of: TypeSpec }
  | { k: 'map'; of: TypeSpec }
  | { k: 'model'; name: string };

interface ModelInfo {
  name: string;
  goStruct: string;
  goPackage: string;
  fields: Map<string, TypeSpec>;
}

/**
 * Fields of type resource.Quantity (alone, in a map or in a list). The models
 * spell them `string`, so they are listed here: Model.jsonName.
 */
const QUANTITY_FIELDS = new Set([
  // core/v1
  'V1PersistentVolumeSpec.capacity',
  'V1PersistentVolumeClaimStatus.capacity',
  'V1PersistentVolumeClaimStatus.allocatedResources',
  'V1VolumeResourceRequirements.limits',
  'V1VolumeResourceRequirements.requests',
  'V1ResourceRequirements.limits',
  'V1ResourceRequirements.requests',
  'V1EmptyDirVolumeSource.sizeLimit',
  'V1ResourceFieldSelector.divisor',
  'V1NodeStatus.capacity',
  'V1NodeStatus.allocatable',
  'V1PodSpec.overhead',
  'V1PodStatus.allocatedResources',
  'V1ContainerStatus.allocatedResources',
  'V1ResourceQuotaSpec.hard',
  'V1ResourceQuotaStatus.hard',
  'V1ResourceQuotaStatus.used',
  'V1LimitRangeItem.default',
  'V1LimitRangeItem.defaultRequest',
  'V1LimitRangeItem.max',
  'V1LimitRangeItem.min',
  'V1LimitRangeItem.maxLimitRequestRatio',
  // storage.k8s.io/v1, node.k8s.io/v1, autoscaling/v2
  'V1CSIStorageCapacity.capacity',
  'V1CSIStorageCapacity.maximumVolumeSize',
  'V1Overhead.podFixed',
  'V2MetricTarget.averageValue',
  'V2MetricTarget.value',
  'V2MetricValueStatus.averageValue',
  'V2MetricValueStatus.value',
  // resource.k8s.io
  ...['V1', 'V1beta1', 'V1beta2'].flatMap((v) => [
    `${v}DeviceCapacity.value`,
    `${v}Counter.value`,
    `${v}CapacityRequirements.requests`,
    `${v}DeviceRequestAllocationResult.consumedCapacity`,
    `${v}CapacityRequestPolicy.default`,
    `${v}CapacityRequestPolicy.validValues`,
    `${v}CapacityRequestPolicyRange.min`,
    `${v}CapacityRequestPolicyRange.max`,
    `${v}CapacityRequestPolicyRange.step`,
  ]),
]);

/** The quantity fields the checker knows, for tests that hold the list against the models. */
export function quantityFieldNames(): string[] {
  return [...QUANTITY_FIELDS];
}

const ARRAY_RE = /^Array<(.+)>$/;
const MAP_RE = /^\{ \[key: string\]: (.+); \}$/;

function parseTypeString(type: string, format: string, marks: { quantity: boolean }): TypeSpec {
  const arr = ARRAY_RE.exec(type);
  if (arr) return { k: 'array', of: parseTypeString(arr[1], format, marks) };
  const map = MAP_RE.exec(type);
  if (map) return { k: 'map', of: parseTypeString(map[1], format, marks) };
  switch (type) {
    case 'string':
      return { k: 'string', quantity: marks.quantity, bytes: format === 'byte' };
    case 'number':
      if (format === 'int32') return { k: 'integer', bits: 32 };
      if (format === 'int64') return { k: 'integer', bits: 64 };
      return { k: 'number' };
    case 'boolean':
      return { k: 'boolean' };
    case 'Date':
    case 'V1MicroTime':
      return { k: 'time' };
    case 'IntOrString':
      return { k: 'intOrString' };
    case 'any':
    case 'object':
      return { k: 'any' };
    default:
      return /^[A-Za-z0-9]+$/.test(type) ? { k: 'model', name: type } : { k: 'any' };
  }
}

// ---------------------------------------------------------------- model loading

const requireFromHere = createRequire(import.meta.url);
const MODEL_DIR = '@kubernetes/client-node/dist/gen/models/';

interface AttributeEntry {
  baseName: string;
  type: string;
  format: string;
}

const models = new Map<string, ModelInfo | null>();

// `V1`, `V1beta1`, `CoreV1`, `StorageV1`, `V2` prefixes name the API version, not the Go struct.
const VERSION_PREFIX_RE = /^((?:[A-Z][a-z]+)?)V(\d+)((?:alpha|beta)\d+)?(?=[A-Z])/;

/** The Go struct name for a model: the model name without its group/version prefix. */
export function goStructName(modelName: string): string {
  return modelName.replace(VERSION_PREFIX_RE, '');
}

function goPackageOf(modelName: string): string {
  const m = VERSION_PREFIX_RE.exec(modelName);
  return m ? `v${m[2]}${m[3] ?? ''}` : 'v1';
}

function isAttributeEntry(v: unknown): v is AttributeEntry {
  return isPlainObject(v) && typeof v.baseName === 'string' && typeof v.type === 'string';
}

function loadModel(name: string): ModelInfo | null {
  const cached = models.get(name);
  if (cached !== undefined) return cached;
  let info: ModelInfo | null = null;
  if (/^[A-Za-z0-9]+$/.test(name)) {
    let mod: unknown;
    try {
      mod = requireFromHere(`${MODEL_DIR}${name}.js`);
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'MODULE_NOT_FOUND')) throw err;
    }
    const cls = typeof mod === 'object' && mod !== null ? (mod as Record<string, unknown>)[name] : undefined;
    const map = typeof cls === 'function' ? (cls as { attributeTypeMap?: unknown }).attributeTypeMap : undefined;
    if (Array.isArray(map)) {
      const fields = new Map<string, TypeSpec>();
      for (const entry of map) {
        if (!isAttributeEntry(entry)) continue;
        const quantity = QUANTITY_FIELDS.has(`${name}.${entry.baseName}`);
        fields.set(entry.baseName, parseTypeString(entry.type, entry.format ?? '', { quantity }));
      }
      info = { name, goStruct: goStructName(name), goPackage: goPackageOf(name), fields };
    }
  }
  models.set(name, info);
  return info;
}

/** Whether client-node ships a model of this name (e.g. `V1PersistentVolume`, `CoreV1Event`). */
export function hasSchema(typeName: string): boolean {
  return loadModel(typeName) !== null;
}

/** The JSON field names a model declares, in the models' order. Throws UnknownSchemaError. */
export function schemaFieldNames(typeName: string): string[] {
  const model = loadModel(typeName);
  if (model === null) throw new UnknownSchemaError(typeName);
  return [...model.fields.keys()];
}

// ---------------------------------------------------------------- checking

function goValueKind(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

function goTypeName(spec: TypeSpec): string {
  switch (spec.k) {
    case 'string':
      return spec.quantity ? 'resource.Quantity' : spec.bytes ? '[]uint8' : 'string';
    case 'integer':
      return spec.bits === 32 ? 'int32' : 'int64';
    case 'number':
      return 'float64';
    case 'boolean':
      return 'bool';
    case 'time':
      return 'v1.Time';
    case 'intOrString':
      return 'intstr.IntOrString';
    case 'any':
      return 'interface {}';
    case 'array':
      return `[]${goTypeName(spec.of)}`;
    case 'map':
      return spec.of.k === 'string' && spec.of.quantity ? 'v1.ResourceList' : `map[string]${goTypeName(spec.of)}`;
    case 'model': {
      const m = loadModel(spec.name);
      return m === null ? 'interface {}' : `${m.goPackage}.${m.goStruct}`;
    }
  }
}

interface Ctx {
  path: string;
  goField: string;
  goStruct: string;
}

const MAX_UNKNOWN_FIELDS = 100;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

class Checker {
  readonly unknown = new Set<string>();
  readonly typeErrors: TypeProblem[] = [];

  #typeError(ctx: Ctx, expected: ExpectedType, got: string, goType: string, message?: string): void {
    const p: TypeProblem = { path: ctx.path, expected, got, goStruct: ctx.goStruct, goField: ctx.goField, goType };
    if (message !== undefined) p.message = message;
    this.typeErrors.push(p);
  }

  #unknownField(path: string): void {
    if (this.unknown.size < MAX_UNKNOWN_FIELDS) this.unknown.add(path);
  }

  check(value: unknown, spec: TypeSpec, ctx: Ctx): void {
    if (value === null || value === undefined) return;
    switch (spec.k) {
      case 'any':
        return;
      case 'string':
        return this.#checkString(value, spec, ctx);
      case 'integer':
        return this.#checkInteger(value, spec.bits === 32 ? 'int32' : 'int64', ctx);
      case 'number':
        if (typeof value !== 'number') this.#typeError(ctx, 'number', goValueKind(value), 'float64');
        return;
      case 'boolean':
        if (typeof value !== 'boolean') this.#typeError(ctx, 'boolean', goValueKind(value), 'bool');
        return;
      case 'time':
        // metav1.Time decodes its JSON into a Go string first; that is the type Go names.
        if (typeof value !== 'string') this.#typeError(ctx, 'string', goValueKind(value), 'string');
        return;
      case 'intOrString':
        if (typeof value !== 'string') this.#checkInteger(value, 'int32', ctx);
        return;
      case 'array':
        if (!Array.isArray(value)) {
          this.#typeError(ctx, 'array', goValueKind(value), goTypeName(spec));
          return;
        }
        value.forEach((item, i) => this.check(item, spec.of, { ...ctx, path: `${ctx.path}[${i}]` }));
        return;
      case 'map':
        if (!isPlainObject(value)) {
          this.#typeError(ctx, 'object', goValueKind(value), goTypeName(spec));
          return;
        }
        for (const [key, item] of Object.entries(value)) {
          this.check(item, spec.of, { ...ctx, path: joinPath(ctx.path, key) });
        }
        return;
      case 'model':
        return this.#checkModel(value, spec.name, ctx);
    }
  }

  checkModelFields(value: Record<string, unknown>, model: ModelInfo, ctx: Ctx, goStruct: string, root: boolean): void {
    for (const [key, item] of Object.entries(value)) {
      const spec = model.fields.get(key);
      const path = joinPath(ctx.path, key);
      if (spec === undefined) {
        if (root && (key === 'apiVersion' || key === 'kind')) continue;
        this.#unknownField(path);
        continue;
      }
      this.check(item, spec, { path, goField: joinPath(ctx.goField, key), goStruct });
    }
  }

  #checkModel(value: unknown, name: string, ctx: Ctx): void {
    const model = loadModel(name);
    if (model === null) return;
    if (!isPlainObject(value)) {
      this.#typeError(ctx, 'object', goValueKind(value), `${model.goPackage}.${model.goStruct}`);
      return;
    }
    this.checkModelFields(value, model, ctx, model.goStruct, false);
  }

  #checkInteger(value: unknown, goType: 'int32' | 'int64', ctx: Ctx): void {
    if (typeof value !== 'number') {
      this.#typeError(ctx, 'integer', goValueKind(value), goType);
      return;
    }
    const inRange =
      Number.isInteger(value) &&
      (goType === 'int32' ? value >= INT32_MIN && value <= INT32_MAX : Number.isSafeInteger(value) || Math.abs(value) < 2 ** 63);
    if (!inRange) this.#typeError(ctx, 'integer', `number ${String(value)}`, goType);
  }

  #checkString(value: unknown, spec: { quantity: boolean; bytes: boolean }, ctx: Ctx): void {
    if (spec.quantity) {
      // Quantity decodes itself from any JSON value, so failures are its parse errors.
      try {
        quantityFromJSON(value);
      } catch (err) {
        if (!(err instanceof QuantityParseError)) throw err;
        this.#typeError(ctx, 'string', goValueKind(value), 'resource.Quantity', err.message);
      }
      return;
    }
    if (spec.bytes) {
      if (typeof value === 'string') {
        const at = base64ErrorOffset(value);
        if (at !== undefined) this.#typeError(ctx, 'string', 'string', '[]uint8', `illegal base64 data at input byte ${at}`);
        return;
      }
      // Go also fills a []byte from a JSON array of byte values.
      if (Array.isArray(value)) {
        value.forEach((item, i) => {
          const c = { ...ctx, path: `${ctx.path}[${i}]` };
          if (typeof item !== 'number') this.#typeError(c, 'integer', goValueKind(item), 'uint8');
          else if (!Number.isInteger(item) || item < 0 || item > 255) this.#typeError(c, 'integer', `number ${String(item)}`, 'uint8');
        });
        return;
      }
      this.#typeError(ctx, 'string', goValueKind(value), '[]uint8');
      return;
    }
    if (typeof value !== 'string') this.#typeError(ctx, 'string', goValueKind(value), 'string');
  }
}

function joinPath(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`;
}

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALID = new Uint8Array(256);
for (const c of B64_ALPHABET) B64_VALID[c.charCodeAt(0)] = 1;
const CR = 13;
const LF = 10;
const PAD = 61; // '='

/**
 * Where Go's base64.StdEncoding would stop with "illegal base64 data at input
 * byte N", or undefined when the string decodes. Follows its quantum decoder:
 * newlines are skipped, padding must be complete and end the input.
 */
export function base64ErrorOffset(s: string): number | undefined {
  const src = Buffer.from(s, 'utf8');
  const n = src.length;
  let si = 0;
  while (si < n) {
    for (let j = 0; j < 4; j++) {
      if (si === n) {
        if (j === 0) return undefined;
        return si - j;
      }
      const c = src[si++];
      if (B64_VALID[c] === 1) continue;
      if (c === LF || c === CR) {
        j--;
        continue;
      }
      if (c !== PAD) return si - 1;
      if (j === 0 || j === 1) return si - 1;
      if (j === 2) {
        while (si < n && (src[si] === LF || src[si] === CR)) si++;
        if (si === n) return n;
        if (src[si] !== PAD) return si - 1;
        si++;
      }
      while (si < n && (src[si] === LF || src[si] === CR)) si++;
      if (si < n) return si;
      return undefined;
    }
  }
  return undefined;
}

/**
 * Checks a whole object (`V1PersistentVolume`, `CoreV1Event`, …) against its
 * client-node model. `apiVersion` and `kind` are always known at the root.
 * Throws UnknownSchemaError for a type client-node does not ship.
 */
export function checkObject(typeName: string, obj: unknown, options: CheckObjectOptions = {}): SchemaProblems {
  const model = loadModel(typeName);
  if (model === null) throw new UnknownSchemaError(typeName);
  const checker = new Checker();
  const rootStruct = options.rootKind ?? model.goStruct;
  if (obj === null || obj === undefined) return { unknownFields: [], typeErrors: [] };
  if (!isPlainObject(obj)) {
    checker.typeErrors.push({
      path: '',
      expected: 'object',
      got: goValueKind(obj),
      goStruct: '',
      goField: '',
      goType: `${model.goPackage}.${rootStruct}`,
    });
  } else {
    checker.checkModelFields(obj, model, { path: '', goField: '', goStruct: rootStruct }, rootStruct, true);
  }
  return { unknownFields: [...checker.unknown], typeErrors: checker.typeErrors };
}

function decodePrefix(kind: string, version: string): string {
  return `${kind} in version ${JSON.stringify(version)} cannot be handled as a ${kind}: `;
}

/** Go's UnmarshalTypeError text for a problem (or the decoder's own message). */
export function typeProblemText(problem: TypeProblem): string {
  if (problem.message !== undefined) return problem.message;
  if (problem.goStruct !== '' || problem.goField !== '') {
    return `json: cannot unmarshal ${problem.got} into Go struct field ${problem.goStruct}.${problem.goField} of type ${problem.goType}`;
  }
  return `json: cannot unmarshal ${problem.got} into Go value of type ${problem.goType}`;
}

/**
 * The 400 message for a body with a wrongly typed value (report the first
 * problem, as the Go decoder does): `PersistentVolume in version "v1" cannot be
 * handled as a PersistentVolume: json: cannot unmarshal number into Go struct
 * field ObjectMeta.metadata.name of type string`.
 */
export function formatTypeError(kind: string, version: string, problem: TypeProblem): string {
  return `${decodePrefix(kind, version)}${typeProblemText(problem)}`;
}

/**
 * The 400 message for unknown fields under fieldValidation=Strict:
 * `… cannot be handled as a PersistentVolume: strict decoding error: unknown field "a", unknown field "b"`.
 */
export function formatStrictError(kind: string, version: string, unknownFields: readonly string[]): string {
  const list = unknownFields.map((f) => `unknown field ${JSON.stringify(f)}`).join(', ');
  return `${decodePrefix(kind, version)}strict decoding error: ${list}`;
}
