// Decodes Kubernetes protobuf request bodies into the JSON objects the rest of
// volplane already handles.
//
// Why: kubectl's imperative generators (`kubectl create namespace|configmap|
// secret|deployment|role|…`) POST `application/vnd.kubernetes.protobuf` and
// never retry as JSON, so the server must read that encoding for the kinds
// those generators produce.
//
// Wire format: the 4-byte magic `k8s\0`, then a `runtime.Unknown` envelope
// whose `typeMeta` names the apiVersion/kind and whose `raw` bytes are the
// object encoded with the message for that kind (gogo-protobuf, proto2).
//
// The message definitions are a hand-kept subset of the upstream
// generated.proto files (./proto/*.proto, field numbers copied exactly);
// protobufjs does the wire decoding and this file turns the decoded message
// into what the Go JSON encoder would print for the same object:
//   - a scalar left at its zero value (0, false, "") is omitted, the way
//     `omitempty` drops it, unless the field is a Go pointer (marked
//     `(volplane.pointer)`), where being on the wire means "set";
//   - empty lists and maps are omitted; a nested message that is on the wire
//     is printed even when empty (`strategy: {}`), as Go prints non-pointer
//     structs;
//   - fields marked `(volplane.inline)` are Go embedded structs: their fields
//     are merged into the parent;
//   - metav1.Time → RFC 3339 in whole seconds (a zero time, which Go sends
//     as an empty message, is omitted rather than printed as null);
//     MicroTime → RFC 3339 with microseconds; Quantity → its string;
//     IntOrString → number or string; FieldsV1 → its JSON; bytes → base64.
// Fields the subset does not declare are skipped, like unknown fields in any
// protobuf decoder.

import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import type { FieldBase, Root, Type } from 'protobufjs';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

/** The bytes every Kubernetes protobuf body starts with: "k8s" and a NUL. */
export const PROTOBUF_MAGIC: Readonly<Buffer> = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export type ProtobufDecodeReason =
  | 'NotProtobuf' // the magic prefix is missing
  | 'MalformedEnvelope' // the runtime.Unknown envelope does not decode
  | 'MissingTypeMeta' // the envelope names no apiVersion or kind
  | 'UnsupportedEncoding' // contentEncoding/contentType other than plain protobuf
  | 'MalformedObject'; // the raw object does not decode as its kind's message

/** The body is not a well-formed Kubernetes protobuf object (the server answers 400). */
export class ProtobufDecodeError extends Error {
  override readonly name = 'ProtobufDecodeError';
  readonly reason: ProtobufDecodeReason;
  constructor(reason: ProtobufDecodeReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** The body is well formed but names a kind this decoder has no message for (the server answers 415). */
export class UnsupportedProtobufKindError extends Error {
  override readonly name = 'UnsupportedProtobufKindError';
  readonly apiVersion: string;
  readonly kind: string;
  constructor(apiVersion: string, kind: string) {
    super(`protobuf decoding of ${kind} in version "${apiVersion}" is not supported; send JSON or YAML instead`);
    this.apiVersion = apiVersion;
    this.kind = kind;
  }
}

export interface DecodedProtobufObject {
  apiVersion: string;
  kind: string;
  /** The object as its JSON encoding, `apiVersion` and `kind` included. */
  object: Record<string, unknown>;
}

/** apiVersion/kind → fully qualified message name. */
const KINDS: ReadonlyMap<string, string> = new Map([
  ['v1/Namespace', 'k8s.io.api.core.v1.Namespace'],
  ['v1/ConfigMap', 'k8s.io.api.core.v1.ConfigMap'],
  ['v1/Secret', 'k8s.io.api.core.v1.Secret'],
  ['v1/ServiceAccount', 'k8s.io.api.core.v1.ServiceAccount'],
  ['v1/ResourceQuota', 'k8s.io.api.core.v1.ResourceQuota'],
  ['apps/v1/Deployment', 'k8s.io.api.apps.v1.Deployment'],
  ['rbac.authorization.k8s.io/v1/Role', 'k8s.io.api.rbac.v1.Role'],
  ['rbac.authorization.k8s.io/v1/ClusterRole', 'k8s.io.api.rbac.v1.ClusterRole'],
  ['rbac.authorization.k8s.io/v1/RoleBinding', 'k8s.io.api.rbac.v1.RoleBinding'],
  ['rbac.authorization.k8s.io/v1/ClusterRoleBinding', 'k8s.io.api.rbac.v1.ClusterRoleBinding'],
]);

/** The apiVersion/kind pairs decodeKubernetesProtobuf understands. */
export function supportedProtobufKinds(): Array<{ apiVersion: string; kind: string }> {
  return [...KINDS.keys()].map((key) => {
    const slash = key.lastIndexOf('/');
    return { apiVersion: key.slice(0, slash), kind: key.slice(slash + 1) };
  });
}

const PROTO_FILES = ['apimachinery.proto', 'meta.proto', 'resource.proto', 'intstr.proto', 'core.proto', 'apps.proto', 'rbac.proto'];

const TIME = '.k8s.io.apimachinery.pkg.apis.meta.v1.Time';
const MICRO_TIME = '.k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime';
const FIELDS_V1 = '.k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1';
const QUANTITY = '.k8s.io.apimachinery.pkg.api.resource.Quantity';
const INT_OR_STRING = '.k8s.io.apimachinery.pkg.util.intstr.IntOrString';

let cachedRoot: Root | undefined;

// Parsed on first use: most processes never receive a protobuf body.
function schema(): Root {
  if (cachedRoot !== undefined) return cachedRoot;
  const root = new protobuf.Root();
  for (const file of PROTO_FILES) {
    const text = readFileSync(new URL(`./proto/${file}`, import.meta.url), 'utf8');
    protobuf.parse(text, root, { keepCase: true });
  }
  root.resolveAll();
  cachedRoot = root;
  return root;
}

/**
 * Decodes a Kubernetes protobuf body (magic + runtime.Unknown envelope) into
 * the object's JSON form.
 * @throws ProtobufDecodeError when the body is not well formed.
 * @throws UnsupportedProtobufKindError when the envelope names a kind not covered.
 */
export function decodeKubernetesProtobuf(body: Buffer): DecodedProtobufObject {
  if (body.length < PROTOBUF_MAGIC.length || !body.subarray(0, PROTOBUF_MAGIC.length).equals(PROTOBUF_MAGIC)) {
    throw new ProtobufDecodeError(
      'NotProtobuf',
      `provided data does not appear to be a protobuf message, expected prefix [${[...PROTOBUF_MAGIC].join(' ')}]`,
    );
  }
  const root = schema();
  const unknownType = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  let envelope: Record<string, unknown>;
  try {
    envelope = unknownType.decode(body.subarray(PROTOBUF_MAGIC.length)) as unknown as Record<string, unknown>;
  } catch (err) {
    throw new ProtobufDecodeError('MalformedEnvelope', `unable to decode the protobuf envelope: ${messageOf(err)}`, { cause: err });
  }
  const typeMeta = (envelope.typeMeta ?? {}) as Record<string, unknown>;
  const apiVersion = typeof typeMeta.apiVersion === 'string' ? typeMeta.apiVersion : '';
  const kind = typeof typeMeta.kind === 'string' ? typeMeta.kind : '';
  if (apiVersion === '' || kind === '') {
    throw new ProtobufDecodeError(
      'MissingTypeMeta',
      `the protobuf envelope does not name ${kind === '' ? 'a kind' : 'an apiVersion'}`,
    );
  }
  const contentEncoding = typeof envelope.contentEncoding === 'string' ? envelope.contentEncoding : '';
  if (contentEncoding !== '') {
    throw new ProtobufDecodeError('UnsupportedEncoding', `unsupported content encoding "${contentEncoding}" in the protobuf envelope`);
  }
  const contentType = typeof envelope.contentType === 'string' ? envelope.contentType : '';
  if (contentType !== '' && contentType !== PROTOBUF_CONTENT_TYPE) {
    throw new ProtobufDecodeError('UnsupportedEncoding', `unsupported content type "${contentType}" in the protobuf envelope`);
  }
  const typeName = KINDS.get(`${apiVersion}/${kind}`);
  if (typeName === undefined) throw new UnsupportedProtobufKindError(apiVersion, kind);

  const type = root.lookupType(typeName);
  const raw = envelope.raw instanceof Uint8Array ? envelope.raw : new Uint8Array(0);
  let fields: Record<string, unknown>;
  try {
    fields = messageToJson(type, type.decode(raw) as unknown as Record<string, unknown>);
  } catch (err) {
    if (err instanceof ProtobufDecodeError) throw err;
    throw new ProtobufDecodeError('MalformedObject', `unable to decode ${kind} in version "${apiVersion}": ${messageOf(err)}`, {
      cause: err,
    });
  }
  return { apiVersion, kind, object: { apiVersion, kind, ...fields } };
}

function messageToJson(type: Type, message: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const value = message[field.name];
    if (value === undefined || value === null) continue;
    if (field.map) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) continue;
      const map: Record<string, unknown> = {};
      for (const [key, item] of entries) map[key] = elementToJson(field, item);
      out[field.name] = map;
      continue;
    }
    if (field.repeated) {
      const items = value as unknown[];
      if (items.length === 0) continue;
      out[field.name] = items.map((item) => elementToJson(field, item));
      continue;
    }
    // A proto2 optional field is an own property only when it was on the wire.
    if (!Object.hasOwn(message, field.name)) continue;
    if (field.resolvedType !== null && isType(field.resolvedType)) {
      const converted = messageValueToJson(field.resolvedType, value as Record<string, unknown>);
      if (converted === undefined) continue;
      if (field.options?.['(volplane.inline)'] === true && isPlainObject(converted)) {
        Object.assign(out, converted);
      } else {
        out[field.name] = converted;
      }
      continue;
    }
    const scalar = scalarToJson(field.type, value);
    if (isZero(scalar) && field.options?.['(volplane.pointer)'] !== true) continue;
    out[field.name] = scalar;
  }
  return out;
}

function elementToJson(field: FieldBase, item: unknown): unknown {
  if (field.resolvedType !== null && isType(field.resolvedType)) {
    // An element of a list or map is never dropped, even when it is empty.
    return messageValueToJson(field.resolvedType, item as Record<string, unknown>) ?? null;
  }
  return scalarToJson(field.type, item);
}

/** Converts a nested message; undefined means "omit the field". */
function messageValueToJson(type: Type, message: Record<string, unknown>): unknown {
  switch (type.fullName) {
    case TIME:
      return timeToJson(message, false);
    case MICRO_TIME:
      return timeToJson(message, true);
    case QUANTITY:
      return typeof message.string === 'string' && message.string !== '' ? message.string : '0';
    case INT_OR_STRING:
      return toNumber(message.type) === 1 ? (typeof message.strVal === 'string' ? message.strVal : '') : toNumber(message.intVal);
    case FIELDS_V1:
      return fieldsV1ToJson(message);
    default:
      return messageToJson(type, message);
  }
}

function timeToJson(message: Record<string, unknown>, micro: boolean): string | undefined {
  const seconds = toNumber(message.seconds);
  const nanos = toNumber(message.nanos);
  if (seconds === 0 && nanos === 0) return undefined;
  const date = new Date(seconds * 1000);
  const year = date.getUTCFullYear();
  if (Number.isNaN(date.getTime()) || year < 0 || year > 9999) {
    throw new ProtobufDecodeError('MalformedObject', `timestamp ${seconds}s is outside the range of RFC 3339`);
  }
  const whole = date.toISOString().slice(0, 19);
  if (!micro) return `${whole}Z`;
  return `${whole}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`;
}

function fieldsV1ToJson(message: Record<string, unknown>): unknown {
  const raw = message.Raw;
  if (!(raw instanceof Uint8Array) || raw.length === 0) return {};
  try {
    return JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8')) as unknown;
  } catch (err) {
    throw new ProtobufDecodeError('MalformedObject', `managedFields entry holds invalid JSON: ${messageOf(err)}`, { cause: err });
  }
}

function scalarToJson(protoType: string, value: unknown): unknown {
  switch (protoType) {
    case 'bytes':
      return value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') : '';
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return toNumber(value);
    default:
      return value;
  }
}

/** int64 fields arrive as Long objects; JSON numbers are what the API uses. */
function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === undefined || value === null) return 0;
  if (typeof value === 'object' && 'toNumber' in value && typeof value.toNumber === 'function') {
    const n = (value as { toNumber(): number }).toNumber();
    if (!Number.isSafeInteger(n)) {
      throw new ProtobufDecodeError('MalformedObject', `integer ${String(value)} does not fit in a JSON number`);
    }
    return n;
  }
  return Number(value);
}

function isZero(value: unknown): boolean {
  return value === 0 || value === false || value === '';
}

function isType(value: unknown): value is Type {
  return value instanceof protobuf.Type;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
