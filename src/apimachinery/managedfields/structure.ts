// The structure-aware walks server-side apply needs over plain JSON objects:
// which paths an object sets (its field set), what changed between two objects,
// the merge of an applied configuration into a live object, and the removal of
// items an applier gave up. This is structured-merge-diff's typed package,
// with the strategic-merge-patch schema standing in for the OpenAPI models:
//
//   - objects are granular: each field (or map key) is its own path;
//   - a list whose schema says `patchStrategy: merge` with a merge key is an
//     associative list: elements are `k:{...}` paths by their key fields;
//   - a merge list without a key is a set: elements are `v:<value>` paths;
//   - every other list is atomic: the list is one leaf, owned whole.
// A list whose elements cannot be keyed (an element without its key, a set
// holding objects) is treated as atomic instead of failing the request.

import { isDeepStrictEqual } from 'node:util';
import type { PatchSchema } from '../patch/index.ts';
import { isPlainObject } from '../types.ts';
import { FieldSet, fieldElement, keyElement, serializePathElement, valueElement, type Path, type PathElement } from './field-set.ts';

export type ListType =
  | { readonly type: 'atomic' }
  | { readonly type: 'set' }
  | { readonly type: 'associative'; readonly keys: readonly string[]; readonly defaults: Readonly<Record<string, unknown>> };

// Lists whose OpenAPI list-map-keys are more than their patch merge key.
const MULTI_KEY_LISTS: Readonly<Record<string, ListType>> = {
  containerPort: { type: 'associative', keys: ['containerPort', 'protocol'], defaults: { protocol: 'TCP' } },
  topologyKey: { type: 'associative', keys: ['topologyKey', 'whenUnsatisfiable'], defaults: {} },
};

export function listTypeOf(schema: PatchSchema | undefined): ListType {
  if (schema?.patchStrategy !== 'merge') return { type: 'atomic' };
  const key = schema.patchMergeKey;
  if (key === undefined) return { type: 'set' };
  return MULTI_KEY_LISTS[key] ?? { type: 'associative', keys: [key], defaults: {} };
}

function childSchema(schema: PatchSchema | undefined, field: string): PatchSchema | undefined {
  return schema?.fields?.[field];
}

interface Element {
  readonly pe: PathElement;
  readonly key: string;
  readonly item: unknown;
}

/** The keyed elements of a list, first occurrence winning; undefined when the list must be atomic. */
function elementsOf(list: unknown, lt: ListType): Element[] | undefined {
  if (lt.type === 'atomic') return undefined;
  if (!Array.isArray(list)) return [];
  const out: Element[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    let pe: PathElement;
    if (lt.type === 'set') {
      if (Array.isArray(item) || isPlainObject(item)) return undefined;
      pe = valueElement(item);
    } else {
      if (!isPlainObject(item)) return undefined;
      const fields: [string, unknown][] = [];
      for (const k of lt.keys) {
        const v = item[k] ?? lt.defaults[k];
        if (v === undefined || v === null) return undefined;
        fields.push([k, v]);
      }
      pe = keyElement(fields);
    }
    const key = serializePathElement(pe);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pe, key, item });
  }
  return out;
}

function isEmptyish(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isPlainObject(v)) return Object.keys(v).length === 0;
  return false;
}

// ---------------------------------------------------------------- field sets

/**
 * Every path `value` sets: leaves, atomic lists, list elements, and empty or null
 * fields (which are leaves of their own).
 */
export function toFieldSet(value: unknown, schema: PatchSchema | undefined): FieldSet {
  const set = new FieldSet();
  collect(value, schema, [], set);
  return set;
}

function collect(value: unknown, schema: PatchSchema | undefined, path: PathElement[], set: FieldSet): void {
  if (Array.isArray(value)) {
    const elems = elementsOf(value, listTypeOf(schema));
    if (elems === undefined) {
      set.insert(path);
      return;
    }
    for (const e of elems) {
      const p = [...path, e.pe];
      collect(e.item, schema, p, set);
      set.insert(p);
    }
    return;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      const p = [...path, fieldElement(k)];
      collect(v, childSchema(schema, k), p, set);
      if (v === null || (isPlainObject(v) && Object.keys(v).length === 0)) set.insert(p);
    }
    return;
  }
  set.insert(path);
}

// ---------------------------------------------------------------- comparison

export interface Comparison {
  readonly added: FieldSet;
  readonly modified: FieldSet;
  readonly removed: FieldSet;
}

/**
 * What changed from `lhs` to `rhs`. A map or list that appears gets its own path
 * in `added` (besides its contents), one that disappears in `removed`; only leaves
 * are ever `modified`. A field that was null and becomes a map is not "added".
 */
export function compare(lhs: unknown, rhs: unknown, schema: PatchSchema | undefined): Comparison {
  const c: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  compareAt(lhs, rhs, schema, [], c);
  return c;
}

function leaf(lhs: unknown, rhs: unknown, path: Path, c: Comparison): void {
  if (lhs === undefined) c.added.insert(path);
  else if (rhs === undefined) c.removed.insert(path);
  else if (!isDeepStrictEqual(lhs, rhs)) c.modified.insert(path);
}

function compareAt(lhs: unknown, rhs: unknown, schema: PatchSchema | undefined, path: PathElement[], c: Comparison): void {
  if (lhs === undefined && rhs === undefined) return;
  const isList = (v: unknown): boolean => Array.isArray(v) || v === undefined || v === null;
  const isMap = (v: unknown): boolean => isPlainObject(v) || v === undefined || v === null;
  if ((Array.isArray(lhs) || Array.isArray(rhs)) && isList(lhs) && isList(rhs)) {
    const lt = listTypeOf(schema);
    const le = elementsOf(lhs, lt);
    const re = elementsOf(rhs, lt);
    if (le === undefined || re === undefined || (isEmptyish(lhs) && isEmptyish(rhs))) {
      leaf(lhs, rhs, path, c);
      return;
    }
    const right = new Map(re.map((e) => [e.key, e]));
    const left = new Map(le.map((e) => [e.key, e]));
    for (const e of le) compareAt(e.item, right.get(e.key)?.item, schema, [...path, e.pe], c);
    for (const e of re) if (!left.has(e.key)) compareAt(undefined, e.item, schema, [...path, e.pe], c);
  } else if ((isPlainObject(lhs) || isPlainObject(rhs)) && isMap(lhs) && isMap(rhs)) {
    if (isEmptyish(lhs) && isEmptyish(rhs)) {
      leaf(lhs, rhs, path, c);
      return;
    }
    const l = (isPlainObject(lhs) ? lhs : {}) as Record<string, unknown>;
    const r = (isPlainObject(rhs) ? rhs : {}) as Record<string, unknown>;
    for (const k of Object.keys(l)) compareAt(l[k], r[k], childSchema(schema, k), [...path, fieldElement(k)], c);
    for (const k of Object.keys(r)) if (!(k in l)) compareAt(undefined, r[k], childSchema(schema, k), [...path, fieldElement(k)], c);
  } else {
    leaf(lhs, rhs, path, c);
    return;
  }
  if (path.length === 0) return;
  if (lhs === undefined) c.added.insert(path);
  else if (rhs === undefined) c.removed.insert(path);
}

// ---------------------------------------------------------------- merge

/**
 * Merges an applied configuration (`rhs`) into a live object (`lhs`): maps merge by
 * key, associative and set lists by element, everything else takes the applied value.
 * Nothing is removed. Neither input is modified.
 */
export function merge(lhs: unknown, rhs: unknown, schema: PatchSchema | undefined): unknown {
  if (rhs === undefined) return structuredClone(lhs);
  if (lhs === undefined) return structuredClone(rhs);
  if (Array.isArray(lhs) && Array.isArray(rhs)) {
    const lt = listTypeOf(schema);
    const le = elementsOf(lhs, lt);
    const re = elementsOf(rhs, lt);
    if (le === undefined || re === undefined || (lhs.length === 0 && rhs.length === 0)) return structuredClone(rhs);
    return mergeLists(le, re, schema);
  }
  if (isPlainObject(lhs) && isPlainObject(rhs)) {
    if (Object.keys(lhs).length === 0 && Object.keys(rhs).length === 0) return {};
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(lhs)) out[k] = merge(v, rhs[k], childSchema(schema, k));
    for (const [k, v] of Object.entries(rhs)) if (!(k in lhs)) out[k] = merge(undefined, v, childSchema(schema, k));
    return out;
  }
  return structuredClone(rhs);
}

/**
 * The order of a merged list, as upstream builds it: the applied elements in their
 * order, with live-only elements kept where they were relative to the shared ones.
 */
function mergeLists(lhs: Element[], rhs: Element[], schema: PatchSchema | undefined): unknown[] {
  const inLeft = new Map(lhs.map((e) => [e.key, e]));
  const inRight = new Map(rhs.map((e) => [e.key, e]));
  const shared = rhs.filter((e) => inLeft.has(e.key)).map((e) => e.key);
  let nextShared = 0;
  const out: unknown[] = [];
  let l = 0;
  let r = 0;
  while (l < lhs.length || r < rhs.length) {
    if (l < lhs.length && r < rhs.length) {
      if (lhs[l].key === rhs[r].key) {
        out.push(merge(lhs[l].item, rhs[r].item, schema));
        if (shared[nextShared] === lhs[l].key) nextShared++;
        l++;
        r++;
        continue;
      }
      if (inRight.has(lhs[l].key) && nextShared < shared.length && shared[nextShared] !== lhs[l].key) {
        l++; // a shared element whose turn has not come; it is emitted in the applied order
        continue;
      }
    }
    if (l < lhs.length && !inRight.has(lhs[l].key)) {
      out.push(structuredClone(lhs[l].item));
      l++;
      continue;
    }
    if (r < rhs.length) {
      const live = inLeft.get(rhs[r].key);
      out.push(merge(live?.item, rhs[r].item, schema));
      if (shared[nextShared] === rhs[r].key) nextShared++;
      r++;
      continue;
    }
    l++; // only shared elements are left on the live side, all already emitted
  }
  return out;
}

// ---------------------------------------------------------------- pruning

/**
 * Removes from `value` every item that `last` has as a member and `owned` does not:
 * what an applier applied before, no longer applies, and nobody else manages. Both
 * sets should already count named fields as members. A map or list emptied by the
 * removal goes too. Returns the pruned copy.
 */
export function prune(value: unknown, last: FieldSet, owned: FieldSet, schema: PatchSchema | undefined): unknown {
  const out = structuredClone(value);
  return pruneAt(out, last, owned, schema);
}

function pruneAt(value: unknown, last: FieldSet, owned: FieldSet | undefined, schema: PatchSchema | undefined): unknown {
  if (isPlainObject(value)) {
    let removed = false;
    for (const k of Object.keys(value)) {
      const pe = fieldElement(k);
      if (last.hasMember(pe) && !(owned?.hasMember(pe) ?? false)) {
        delete value[k];
        removed = true;
        continue;
      }
      const sub = last.child(pe);
      if (sub === undefined) continue;
      const next = pruneAt(value[k], sub, owned?.child(pe), childSchema(schema, k));
      if (next === undefined) {
        delete value[k];
        removed = true;
      } else {
        value[k] = next;
      }
    }
    return removed && Object.keys(value).length === 0 ? undefined : value;
  }
  if (Array.isArray(value)) {
    const elems = elementsOf(value, listTypeOf(schema));
    if (elems === undefined) return value;
    const out: unknown[] = [];
    let removed = false;
    for (const e of elems) {
      if (last.hasMember(e.pe) && !(owned?.hasMember(e.pe) ?? false)) {
        removed = true;
        continue;
      }
      const sub = last.child(e.pe);
      out.push(sub === undefined ? e.item : pruneAt(e.item, sub, owned?.child(e.pe), schema) ?? {});
    }
    return removed && out.length === 0 ? undefined : out;
  }
  return value;
}

/** Drops null members of maps, as decoding into the Go types does. */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = dropNulls(v);
    return out;
  }
  return value;
}
