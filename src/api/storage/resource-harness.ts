// Test-only: drives a ResourceDef the way the registry does (defaults →
// prepare → validate, status writes keeping the spec) so the storage kinds'
// tests can state a row as "this object in, this object / message / table row
// out" without an API server.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { deepCopy, newInvalid } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';

export interface WriteResult {
  /** The object as it would be stored. */
  obj: KubeObject;
  errors: FieldError[];
  /** newInvalid(...).message, or '' when the write is valid. */
  message: string;
}

function result(def: ResourceDef, obj: KubeObject, errors: FieldError[]): WriteResult {
  const message = errors.length === 0 ? '' : newInvalid(def, obj.metadata?.name ?? '', errors).message;
  return { obj, errors, message };
}

/** A create: defaults, prepareForCreate, validate. The input is not modified. */
export function create(def: ResourceDef, input: KubeObject): WriteResult {
  const obj = deepCopy(input);
  obj.metadata ??= {};
  def.defaults?.(obj);
  def.prepareForCreate?.(obj);
  return result(def, obj, def.validate?.(obj, undefined) ?? []);
}

/** A main-resource update of `current` to `desired` (status carried over for kinds with /status). */
export function update(def: ResourceDef, current: KubeObject, desired: KubeObject): WriteResult {
  const obj = deepCopy(desired);
  obj.metadata ??= {};
  if (def.hasStatus) {
    if (current.status === undefined) delete obj.status;
    else obj.status = deepCopy(current.status);
  }
  def.defaults?.(obj);
  def.prepareForUpdate?.(obj, current);
  return result(def, obj, def.validate?.(obj, current) ?? []);
}

/** A write to /status: only `status` comes from `desired`. */
export function updateStatus(def: ResourceDef, current: KubeObject, desired: KubeObject): WriteResult {
  const obj = deepCopy(current);
  if (desired.status === undefined) delete obj.status;
  else obj.status = deepCopy(desired.status);
  def.defaults?.(obj);
  def.prepareForStatusUpdate?.(obj, current);
  return result(def, obj, def.validateStatus?.(obj, current) ?? []);
}

/** The table row of `obj` with column headers, for readable assertions. */
export function row(def: ResourceDef, obj: KubeObject, now: Date): Record<string, TableCell> {
  const cells = def.table.row(obj, now);
  if (cells.length !== def.table.columns.length) throw new Error(`${def.kind}: ${cells.length} cells for ${def.table.columns.length} columns`);
  return Object.fromEntries(def.table.columns.map((c, i) => [c.name, cells[i]]));
}

/** Creates `input`, failing loudly when it is not valid, and returns the stored object. */
export function mustCreate(def: ResourceDef, input: KubeObject): KubeObject {
  const r = create(def, input);
  if (r.message !== '') throw new Error(`expected a valid ${def.kind}: ${r.message}`);
  return r.obj;
}
