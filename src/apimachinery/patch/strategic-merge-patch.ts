// Strategic merge patch, `application/strategic-merge-patch+json`: the patch
// kubectl computes for client-side `apply`, `edit` and the default
// `kubectl patch` of built-in kinds.
//
// This is the server half of apimachinery's pkg/util/strategicpatch
// (StrategicMergeMapPatch: parallel lists merged, unmatched nulls ignored),
// rebuilt over plain JSON with a PatchSchema standing in for the Go struct
// tags. The rules:
//   - maps merge recursively; `null` deletes a key; a value of another type
//     replaces the old one;
//   - a list whose schema says `merge` merges element-wise: maps by their
//     merge key, scalars as an ordered set; every other list is replaced;
//   - `$patch: replace` / `$patch: delete` on a map replace it or empty it; in
//     a merge list, `{$patch: delete, <key>: v}` removes the element(s) with
//     that key and `{$patch: replace}` makes the rest of the patch list the
//     whole new list. `$patch: merge` is refused, as upstream refuses it;
//   - `$setElementOrder/<list>` fixes the final order of the elements it
//     names; elements it does not name keep their place relative to them as
//     in the live list;
//   - `$deleteFromPrimitiveList/<list>` removes scalars from a merge list;
//   - `$retainKeys` drops every key of the live map it does not list.
//
// Ordering follows upstream exactly, including its quirks (a scalar added to
// a merge list such as finalizers lands in front of the live ones), since
// kubectl's output depends on it. Upstream's sort is Go's sort.SliceStable
// with a comparator that is not always consistent, so that algorithm is
// reproduced too.
//
// Where this deliberately differs from upstream:
//   - `$deleteFromPrimitiveList/x` on an object without `x` does nothing
//     (upstream stores the deletion list as the new `x`);
//   - the result is cleaned the way decoding into the Go type cleans it:
//     leftover directive keys and null map members are removed.
//
// Errors are PatchError: malformed directives, a merge-list element without
// its merge key and mismatched element types are `invalid-patch` (400);
// lists of lists are `apply-failed` (422). Messages are upstream's.

import { isPlainObject } from '../types.ts';
import { PatchError } from './patch-error.ts';
import { goEqual, goStringVerb, goTypeName, goValue } from './go-format.ts';

/**
 * Patch metadata for one field, as the `patchStrategy`/`patchMergeKey` struct
 * tags of k8s.io/api declare it. The root node describes the object kind;
 * `fields` describes the children of a map value, or, for a list of maps, the
 * fields of each element. Fields absent from the tree get the defaults: maps
 * merge, lists are replaced.
 */
export interface PatchSchema {
  /** `merge`: a list merges element-wise. `replace`: the value is replaced whole. */
  readonly patchStrategy?: 'merge' | 'replace';
  /** For a merge list of maps: the key that identifies an element. */
  readonly patchMergeKey?: string;
  /**
   * The `retainKeys` strategy. Informational here: the server honours a
   * `$retainKeys` directive wherever it appears; kubectl decides where to
   * send one from its own copy of the tags.
   */
  readonly retainKeys?: boolean;
  readonly fields?: { readonly [field: string]: PatchSchema };
}

type JsonMap = Record<string, unknown>;

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const DELETE_PREFIX = '$deleteFromPrimitiveList';
const ORDER_PREFIX = '$setElementOrder';

const MAP_TYPE = 'map[string]interface {}';
const SLICE_TYPE = '[]interface {}';

/**
 * Applies a strategic merge patch to `original` and returns the result.
 * Neither input is modified.
 * @throws PatchError when the patch is malformed or does not fit the object.
 */
export function applyStrategicMergePatch(original: unknown, patch: unknown, schema: PatchSchema): unknown {
  // A JSON null body decodes to an empty patch upstream.
  if (patch === null || patch === undefined) return clean(structuredClone(original));
  if (!isPlainObject(patch)) {
    throw invalid(`json: cannot unmarshal ${jsonKind(patch)} into Go value of type map[string]interface {}`);
  }
  if (original !== null && original !== undefined && !isPlainObject(original)) {
    throw new PatchError('apply-failed', badArgType(MAP_TYPE, original));
  }
  const base = isPlainObject(original) ? structuredClone(original) : {};
  return clean(mergeMap(base, structuredClone(patch), schema));
}

// ---- errors -------------------------------------------------------------------

function invalid(message: string): PatchError {
  return new PatchError('invalid-patch', message);
}

function badArgType(expected: string, actual: unknown): string {
  return `expected a ${expected}, but received a ${goTypeName(actual)}`;
}

function noMergeKey(m: JsonMap, key: string): PatchError {
  return invalid(`map: ${goValue(m)} does not contain declared merge key: ${key}`);
}

function badPatchType(directive: unknown, m: JsonMap): PatchError {
  return invalid(`unknown patch type: ${goStringVerb(directive)} in map: ${goValue(m)}`);
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  return 'number';
}

function asMap(v: unknown): JsonMap {
  if (!isPlainObject(v)) throw invalid(badArgType(MAP_TYPE, v));
  return v;
}

function asList(v: unknown): unknown[] {
  if (!Array.isArray(v)) throw invalid(badArgType(SLICE_TYPE, v));
  return v;
}

function childSchema(schema: PatchSchema | undefined, field: string): PatchSchema | undefined {
  const fields = schema?.fields;
  return fields !== undefined && Object.hasOwn(fields, field) ? fields[field] : undefined;
}

/** `$setElementOrder/containers` → `containers`, refusing any other shape. */
function directiveTarget(key: string, prefix: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    throw invalid(
      prefix === DELETE_PREFIX ? 'invalid patch format of primitive list' : 'invalid patch format of setElementOrder list',
    );
  }
  return key.slice(slash + 1);
}

// ---- maps ---------------------------------------------------------------------

/** Merges `patch` into `original` (both private copies; `original` is modified). */
function mergeMap(original: JsonMap, patch: JsonMap, schema: PatchSchema | undefined): JsonMap {
  if (Object.hasOwn(patch, DIRECTIVE)) return mapDirective(patch[DIRECTIVE], patch);

  applyRetainKeys(original, patch);
  mergeOrderedLists(original, patch, schema);

  for (const [patchKey, patchValue] of Object.entries(patch)) {
    let key = patchKey;
    let isDeleteList = false;
    if (patchKey.startsWith(DELETE_PREFIX)) {
      key = directiveTarget(patchKey, DELETE_PREFIX);
      isDeleteList = true;
    }

    if (patchValue === null) {
      delete original[key];
      continue;
    }
    if (!Object.hasOwn(original, key)) {
      // A deletion list has nothing to delete from; do not store it as the list.
      if (!isDeleteList) original[key] = patchValue;
      continue;
    }
    const current = original[key];
    if (goTypeName(current) !== goTypeName(patchValue)) {
      original[key] = patchValue;
      continue;
    }
    const field = childSchema(schema, key);
    if (isPlainObject(current)) {
      original[key] =
        field?.patchStrategy === 'replace' ? patchValue : mergeMap(current, asMap(patchValue), field);
    } else if (Array.isArray(current)) {
      original[key] =
        field?.patchStrategy === 'merge'
          ? mergeList(current, asList(patchValue), field, isDeleteList)
          : patchValue;
    } else {
      original[key] = patchValue;
    }
  }
  return original;
}

function mapDirective(directive: unknown, patch: JsonMap): JsonMap {
  if (directive === 'replace') {
    delete patch[DIRECTIVE];
    return patch;
  }
  if (directive === 'delete') return {};
  throw badPatchType(directive, patch);
}

/** `$retainKeys`: every non-null key of the patch must be listed; unlisted live keys go. */
function applyRetainKeys(original: JsonMap, patch: JsonMap): void {
  if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw invalid('invalid patch format of retainKeys');
  const keep = (key: string): boolean => list.some((item) => item === key);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || key.startsWith(DELETE_PREFIX) || key.startsWith(ORDER_PREFIX)) continue;
    if (!keep(key)) throw invalid('invalid patch format of retainKeys');
  }
  for (const key of Object.keys(original)) {
    if (!keep(key)) delete original[key];
  }
}

/**
 * `$setElementOrder/<list>`: merges the list (if the patch carries it) and
 * then puts the elements the directive names in its order, interleaving the
 * elements only the live object has at their old relative positions. Both
 * the directive and the list are consumed from `patch`.
 */
function mergeOrderedLists(original: JsonMap, patch: JsonMap, schema: PatchSchema | undefined): void {
  for (const directiveKey of Object.keys(patch)) {
    if (!directiveKey.startsWith(ORDER_PREFIX)) continue;
    const order = patch[directiveKey];
    delete patch[directiveKey];
    if (!Array.isArray(order)) throw invalid(badArgType(SLICE_TYPE, order));
    const key = directiveTarget(directiveKey, ORDER_PREFIX);

    const inOriginal = Object.hasOwn(original, key);
    const inPatch = Object.hasOwn(patch, key);
    const originalList = inOriginal ? asList(original[key]) : [];
    const patchList = inPatch ? asList(patch[key]) : [];
    const field = childSchema(schema, key);
    const mergeKey = field?.patchMergeKey ?? '';
    checkOrderMatchesPatch(patchList, order, mergeKey);

    let merged: unknown[];
    if (inOriginal && !inPatch) {
      merged = originalList;
    } else if (!inOriginal && inPatch) {
      merged = patchList;
    } else if (inOriginal && inPatch) {
      merged = field?.patchStrategy === 'merge' ? mergeList(originalList, patchList, field, false) : patchList;
    } else {
      continue;
    }

    const [named, serverOnly] =
      mergeKey === '' ? partitionScalars(merged, order) : partitionMaps(merged, order, mergeKey);
    const kind = elementKind([originalList, patchList]);
    original[key] = normalizeElementOrder(named, serverOnly, order, originalList, mergeKey, kind);
    delete patch[key];
  }
}

/**
 * The patch list's elements (deletions and directive-only elements aside)
 * must appear in the `$setElementOrder` list, in the same relative order.
 */
function checkOrderMatchesPatch(patchList: unknown[], order: unknown[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const candidates = mergeKey === '' ? patchList : splitDeletions(patchList)[0];
  let p = 0;
  let o = 0;
  while (p < candidates.length && o < order.length) {
    if (isPlainObject(candidates[p]) && Object.hasOwn(candidates[p] as JsonMap, DIRECTIVE)) {
      p++;
      continue;
    }
    if (mergeKeysEqual(candidates[p], order[o], mergeKey)) p++;
    o++;
  }
  if (p < candidates.length && o >= order.length) {
    throw invalid(
      `The order in patch list:\n${goValue(patchList)}\n doesn't match ${ORDER_PREFIX} list:\n${goValue(order)}\n`,
    );
  }
}

function mergeKeysEqual(left: unknown, right: unknown, mergeKey: string): boolean {
  if (mergeKey === '') return goEqual(left, right);
  const l = asMap(left);
  const r = asMap(right);
  if (!Object.hasOwn(l, mergeKey)) throw noMergeKey(l, mergeKey);
  if (!Object.hasOwn(r, mergeKey)) throw noMergeKey(r, mergeKey);
  return goEqual(l[mergeKey], r[mergeKey]);
}

// ---- lists --------------------------------------------------------------------

type ElementKind = 'map' | 'scalar';

/**
 * All elements of all the lists must share one type (upstream compares Go
 * types, so 1 and "1" differ); lists of lists are not supported.
 */
function elementKind(lists: unknown[][]): ElementKind {
  let first: string | undefined;
  for (const list of lists) {
    for (const item of list) {
      const type = goTypeName(item);
      if (first === undefined) {
        first = type;
        if (Array.isArray(item)) throw new PatchError('apply-failed', 'lists of lists are not supported');
      } else if (type !== first) {
        throw invalid(`list element types are not identical: ${goValue(lists)}`);
      }
    }
  }
  if (first === undefined) throw invalid('no elements in any of the given slices');
  return first === MAP_TYPE ? 'map' : 'scalar';
}

/** Merges two lists of a `merge` field: maps by merge key, scalars as a set. */
function mergeList(original: unknown[], patch: unknown[], field: PatchSchema | undefined, isDeleteList: boolean): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind([original, patch]);
  const mergeKey = field?.patchMergeKey ?? '';

  if (kind === 'scalar') {
    if (isDeleteList) return original.filter((v) => !patch.some((d) => goEqual(d, v)));
    const merged = dedupeScalars([...original, ...patch]);
    const [inPatch, serverOnly] = partitionScalars(merged, patch);
    return normalizeElementOrder(inPatch, serverOnly, patch, original, '', kind);
  }

  if (mergeKey === '') throw invalid('cannot merge lists without merge key for type struct');
  const [base, rest] = applySpecialElements(original, patch, mergeKey);
  const merged = [...base];
  for (const item of rest) {
    const element = item as JsonMap;
    if (!Object.hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
    const at = merged.findIndex(
      (e) => isPlainObject(e) && Object.hasOwn(e, mergeKey) && goEqual(e[mergeKey], element[mergeKey]),
    );
    if (at >= 0) merged[at] = mergeMap(merged[at] as JsonMap, element, field);
    else merged.push(element);
  }
  const [inPatch, serverOnly] = partitionMaps(merged, rest, mergeKey);
  return normalizeElementOrder(inPatch, serverOnly, rest, base, mergeKey, kind);
}

/**
 * Handles the `$patch` elements of a merge list of maps. Returns the list to
 * merge into and the patch elements still to merge; with `$patch: replace`
 * the remaining patch elements become the list and nothing is left to merge.
 */
function applySpecialElements(original: unknown[], patch: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const rest: unknown[] = [];
  let base = original;
  let replace = false;
  for (const item of patch) {
    const element = item as JsonMap;
    if (!Object.hasOwn(element, DIRECTIVE)) {
      rest.push(element);
      continue;
    }
    const directive = element[DIRECTIVE];
    if (directive === 'delete') {
      if (!Object.hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
      const value = element[mergeKey];
      base = base.filter((e) => !(isPlainObject(e) && Object.hasOwn(e, mergeKey) && goEqual(e[mergeKey], value)));
    } else if (directive === 'replace') {
      replace = true;
    } else if (directive === 'merge') {
      throw invalid('merging lists cannot yet be specified in the patch');
    } else {
      throw badPatchType(directive, element);
    }
  }
  return replace ? [rest, []] : [base, rest];
}

/** Upstream's in-place de-duplication (it reorders; the order is fixed afterwards). */
function dedupeScalars(list: unknown[]): unknown[] {
  const s = [...list];
  let last = s.length - 1;
  for (let i = 0; i < last; i++) {
    for (let j = i + 1; j <= last; j++) {
      if (goEqual(s[i], s[j])) {
        s[j] = s[last];
        s.length = last;
        last--;
        j--;
      }
    }
  }
  return s;
}

function partitionScalars(list: unknown[], by: unknown[]): [unknown[], unknown[]] {
  const inBy: unknown[] = [];
  const others: unknown[] = [];
  for (const v of list) (by.some((b) => goEqual(b, v)) ? inBy : others).push(v);
  return [inBy, others];
}

function partitionMaps(list: unknown[], by: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const inBy: unknown[] = [];
  const others: unknown[] = [];
  for (const v of list) {
    const element = asMap(v);
    if (!Object.hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
    (findByKey(by, mergeKey, element[mergeKey]) ? inBy : others).push(v);
  }
  return [inBy, others];
}

function findByKey(list: unknown[], mergeKey: string, value: unknown): boolean {
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    if (!isPlainObject(e)) throw invalid(`value for key ${i} is not a map.`);
    if (Object.hasOwn(e, mergeKey) && goEqual(e[mergeKey], value)) return true;
  }
  return false;
}

/** Splits off the `$patch: delete` elements (every element must be a map). */
function splitDeletions(list: unknown[]): [unknown[], unknown[]] {
  const keep: unknown[] = [];
  const deletions: unknown[] = [];
  for (const v of list) {
    const element = asMap(v);
    (element[DIRECTIVE] === 'delete' ? deletions : keep).push(v);
  }
  return [keep, deletions];
}

// ---- ordering -----------------------------------------------------------------

/**
 * Sorts the patch's elements by `patchOrder` and the live-only elements by
 * `serverOrder`, then interleaves them: a live-only element goes before a
 * patch element when it preceded it in the live list.
 */
function normalizeElementOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string,
  kind: ElementKind,
): unknown[] {
  const fromPatch = sortByOrder(patchItems, patchOrder, mergeKey, kind);
  const fromServer = sortByOrder(serverOnly, serverOrder, mergeKey, kind);
  return interleave(fromServer, fromPatch, serverOrder, mergeKey, kind);
}

function sortByOrder(items: unknown[], order: unknown[], mergeKey: string, kind: ElementKind): unknown[] {
  let toSort = items;
  let deletions: unknown[] = [];
  if (kind === 'map') {
    for (const list of [items, order]) {
      for (const v of list) {
        const element = asMap(v);
        if (!Object.hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
      }
    }
    [toSort, deletions] = splitDeletions(items);
  }
  const sorted = goStableSort(toSort, (a, b) => {
    const ia = indexIn(order, a, mergeKey, kind);
    if (ia >= 0) {
      const ib = indexIn(order, b, mergeKey, kind);
      if (ib >= 0) return ia < ib;
    }
    return true;
  });
  return [...sorted, ...deletions];
}

function interleave(left: unknown[], right: unknown[], serverOrder: unknown[], mergeKey: string, kind: ElementKind): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) {
      out.push(right[j++]);
    } else if (j >= right.length) {
      out.push(left[i++]);
    } else {
      const li = indexIn(serverOrder, left[i], mergeKey, kind);
      const ri = indexIn(serverOrder, right[j], mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

function indexIn(list: unknown[], value: unknown, mergeKey: string, kind: ElementKind): number {
  const keyOf = (item: unknown): unknown => {
    if (kind !== 'map') return item;
    return isPlainObject(item) && Object.hasOwn(item, mergeKey) ? item[mergeKey] : null;
  };
  const wanted = keyOf(value);
  return list.findIndex((v) => goEqual(wanted, keyOf(v)));
}

/**
 * Go's sort.SliceStable (insertion sort over blocks of 20, then in-place
 * symmetric merges). Reproduced because upstream's comparator is not a
 * strict order when an element is missing from the order list, and the
 * result then depends on the algorithm.
 */
function goStableSort<T>(input: readonly T[], less: (a: T, b: T) => boolean): T[] {
  const data = [...input];
  const n = data.length;
  const lessAt = (i: number, j: number): boolean => less(data[i], data[j]);
  const swap = (i: number, j: number): void => {
    const t = data[i];
    data[i] = data[j];
    data[j] = t;
  };
  const insertionSort = (a: number, b: number): void => {
    for (let i = a + 1; i < b; i++) {
      for (let j = i; j > a && lessAt(j, j - 1); j--) swap(j, j - 1);
    }
  };
  const swapRange = (a: number, b: number, count: number): void => {
    for (let i = 0; i < count; i++) swap(a + i, b + i);
  };
  const rotate = (a: number, m: number, b: number): void => {
    let i = m - a;
    let j = b - m;
    while (i !== j) {
      if (i > j) {
        swapRange(m - i, m, j);
        i -= j;
      } else {
        swapRange(m - i, m + j - i, i);
        j -= i;
      }
    }
    swapRange(m - i, m, i);
  };
  const symMerge = (a: number, m: number, b: number): void => {
    if (m - a === 1) {
      let i = m;
      let j = b;
      while (i < j) {
        const h = (i + j) >>> 1;
        if (lessAt(h, a)) i = h + 1;
        else j = h;
      }
      for (let k = a; k < i - 1; k++) swap(k, k + 1);
      return;
    }
    if (b - m === 1) {
      let i = a;
      let j = m;
      while (i < j) {
        const h = (i + j) >>> 1;
        if (!lessAt(m, h)) i = h + 1;
        else j = h;
      }
      for (let k = m; k > i; k--) swap(k, k - 1);
      return;
    }
    const mid = (a + b) >>> 1;
    const span = mid + m;
    let start: number;
    let r: number;
    if (m > mid) {
      start = span - b;
      r = mid;
    } else {
      start = a;
      r = m;
    }
    const p = span - 1;
    while (start < r) {
      const c = (start + r) >>> 1;
      if (!lessAt(p - c, c)) start = c + 1;
      else r = c;
    }
    const end = span - start;
    if (start < m && m < end) rotate(start, m, end);
    if (a < start && start < mid) symMerge(a, start, mid);
    if (mid < end && end < b) symMerge(mid, end, b);
  };

  let blockSize = 20;
  let a = 0;
  let b = blockSize;
  while (b <= n) {
    insertionSort(a, b);
    a = b;
    b += blockSize;
  }
  insertionSort(a, n);
  while (blockSize < n) {
    a = 0;
    b = 2 * blockSize;
    while (b <= n) {
      symMerge(a, a + blockSize, b);
      a = b;
      b += 2 * blockSize;
    }
    const m = a + blockSize;
    if (m < n) symMerge(a, m, n);
    blockSize *= 2;
  }
  return data;
}

// ---- result clean-up --------------------------------------------------------------

function isDirectiveKey(key: string): boolean {
  return key === DIRECTIVE || key === RETAIN_KEYS || key.startsWith(`${ORDER_PREFIX}/`) || key.startsWith(`${DELETE_PREFIX}/`);
}

/**
 * What decoding into the Go type and encoding again would leave: directive
 * keys copied in wholesale and null map members disappear. Null list
 * elements stay.
 */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (isPlainObject(value)) {
    const out: JsonMap = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === null || isDirectiveKey(k)) continue;
      out[k] = clean(v);
    }
    return out;
  }
  return value;
}
