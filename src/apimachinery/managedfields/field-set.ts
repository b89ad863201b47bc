// Field sets: the sets of paths into an object that managedFields record, and
// their wire form, FieldsV1 (structured-merge-diff's fieldpath.Set).
//
// A path is a list of path elements:
//   f:<name>              a field of a struct or a key of a map
//   k:{"name":"x"}        the element of an associative list with those key values
//   v:<json>              the element of a set list with that value
//   i:<n>                 an index (never produced here: atomic lists are owned whole)
// A set is a tree: at each node, `members` are the paths that end there and
// `children` lead further down. In FieldsV1 a node that is both a member and has
// children says so with a `".": {}` entry.
//
// Ordering follows upstream exactly (field names < keys < values < indexes;
// keys compared field by field, values by type then value), because it decides
// the order of FieldsV1 objects on the wire and of paths in conflict messages.

import { isPlainObject } from '../types.ts';

export type PathElement =
  | { readonly kind: 'field'; readonly name: string }
  | { readonly kind: 'key'; readonly fields: readonly (readonly [string, unknown])[] }
  | { readonly kind: 'value'; readonly value: unknown }
  | { readonly kind: 'index'; readonly index: number };

export type Path = readonly PathElement[];

/** FieldsV1 that cannot be read: a bad path element or a non-object node. */
export class FieldsV1Error extends Error {
  override readonly name = 'FieldsV1Error';
  readonly element: string;
  constructor(element: string, message: string) {
    super(`${message}: ${element}`);
    this.element = element;
  }
}

export function fieldElement(name: string): PathElement {
  return { kind: 'field', name };
}

/** A key element; the fields are sorted by name, as upstream keeps them. */
export function keyElement(fields: Iterable<readonly [string, unknown]>): PathElement {
  const sorted = [...fields].sort((a, b) => compareStrings(a[0], b[0]));
  return { kind: 'key', fields: sorted };
}

export function valueElement(value: unknown): PathElement {
  return { kind: 'value', value };
}

/** JSON with object keys sorted, as Go's encoding/json writes maps. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort(compareStrings);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The FieldsV1 spelling of an element: `f:name`, `k:{"name":"x"}`, `v:"x"`, `i:0`. */
export function serializePathElement(pe: PathElement): string {
  switch (pe.kind) {
    case 'field':
      return `f:${pe.name}`;
    case 'key':
      return `k:{${pe.fields.map(([n, v]) => `${JSON.stringify(n)}:${canonicalJson(v)}`).join(',')}}`;
    case 'value':
      return `v:${canonicalJson(pe.value)}`;
    case 'index':
      return `i:${pe.index}`;
  }
}

export function parsePathElement(s: string): PathElement {
  const colon = s.indexOf(':');
  if (colon < 0) throw new FieldsV1Error(s, 'missing colon');
  const type = s.slice(0, colon);
  const rest = s.slice(colon + 1);
  switch (type) {
    case 'f':
      return fieldElement(rest);
    case 'v':
      return valueElement(parseJson(s, rest));
    case 'i': {
      if (!/^-?\d+$/.test(rest)) throw new FieldsV1Error(s, 'invalid index');
      return { kind: 'index', index: Number(rest) };
    }
    case 'k': {
      const obj = parseJson(s, rest);
      if (!isPlainObject(obj)) throw new FieldsV1Error(s, 'key is not a JSON object');
      return keyElement(Object.entries(obj));
    }
    default:
      throw new FieldsV1Error(s, 'unknown path element type');
  }
}

function parseJson(element: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FieldsV1Error(element, 'invalid JSON');
  }
}

/** Go's strings.Compare: byte order of the UTF-8 encodings. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-16 code unit order is UTF-8 byte order except where a surrogate (part of a
  // character beyond U+FFFF) meets U+E000–U+FFFF, which UTF-8 puts before it.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys && x >= 0xd800 && y >= 0xd800) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function typeRank(v: unknown): number {
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 1;
  if (typeof v === 'boolean') return 2;
  if (Array.isArray(v)) return 3;
  if (isPlainObject(v)) return 4;
  return 5; // null
}

/** A total order over JSON values: numbers < strings < booleans < lists < maps < null. */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return (a as number) === (b as number) ? 0 : (a as number) < (b as number) ? -1 : 1;
    case 1:
      return compareStrings(a as string, b as string);
    case 2:
      return a === b ? 0 : a === false ? -1 : 1;
    case 3: {
      const la = a as unknown[];
      const lb = b as unknown[];
      for (let i = 0; i < Math.min(la.length, lb.length); i++) {
        const c = compareValues(la[i], lb[i]);
        if (c !== 0) return c;
      }
      return la.length === lb.length ? 0 : la.length < lb.length ? -1 : 1;
    }
    case 4: {
      const ka = Object.keys(a as object).sort(compareStrings);
      const kb = Object.keys(b as object).sort(compareStrings);
      for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
        const c = compareStrings(ka[i], kb[i]) || compareValues((a as Record<string, unknown>)[ka[i]], (b as Record<string, unknown>)[kb[i]]);
        if (c !== 0) return c;
      }
      return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
    }
    default:
      return 0;
  }
}

const KIND_RANK = { field: 0, key: 1, value: 2, index: 3 } as const;

export function comparePathElements(a: PathElement, b: PathElement): number {
  if (a.kind !== b.kind) return KIND_RANK[a.kind] < KIND_RANK[b.kind] ? -1 : 1;
  switch (a.kind) {
    case 'field':
      return compareStrings(a.name, (b as typeof a).name);
    case 'key': {
      const fb = (b as typeof a).fields;
      for (let i = 0; ; i++) {
        if (i >= a.fields.length && i >= fb.length) return 0;
        if (i >= a.fields.length) return -1;
        if (i >= fb.length) return 1;
        const c = compareStrings(a.fields[i][0], fb[i][0]) || compareValues(a.fields[i][1], fb[i][1]);
        if (c !== 0) return c;
      }
    }
    case 'value':
      return compareValues(a.value, (b as typeof a).value);
    case 'index': {
      const ib = (b as typeof a).index;
      return a.index === ib ? 0 : a.index < ib ? -1 : 1;
    }
  }
}

/** Go's value.ToString, used in human-readable paths. */
function valueToString(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(valueToString).join(',')}]`;
  if (isPlainObject(v)) return Object.entries(v).map(([k, x]) => `${k}=${valueToString(x)}`).join('');
  return String(v);
}

/** A path as upstream prints it in conflict messages: `.spec.containers[name="c"].image`. */
export function pathString(path: Path): string {
  return path
    .map((pe) => {
      switch (pe.kind) {
        case 'field':
          return `.${pe.name}`;
        case 'key':
          return `[${pe.fields.map(([n, v]) => `${n}=${valueToString(v)}`).join(',')}]`;
        case 'value':
          return `[=${valueToString(pe.value)}]`;
        case 'index':
          return `[${pe.index}]`;
      }
    })
    .join('');
}

interface Child {
  readonly pe: PathElement;
  readonly set: FieldSet;
}

/** A set of paths, stored as a tree keyed by serialized path elements. */
export class FieldSet {
  readonly #members = new Map<string, PathElement>();
  readonly #children = new Map<string, Child>();

  static of(...paths: Path[]): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  insert(path: Path): void {
    if (path.length === 0) return;
    let node: FieldSet = this;
    for (let i = 0; i < path.length - 1; i++) node = node.#childFor(path[i]);
    const last = path[path.length - 1];
    node.#members.set(serializePathElement(last), last);
  }

  #childFor(pe: PathElement): FieldSet {
    const key = serializePathElement(pe);
    let child = this.#children.get(key);
    if (child === undefined) {
      child = { pe, set: new FieldSet() };
      this.#children.set(key, child);
    }
    return child.set;
  }

  has(path: Path): boolean {
    if (path.length === 0) return false;
    let node: FieldSet | undefined = this;
    for (let i = 0; i < path.length - 1 && node !== undefined; i++) node = node.child(path[i]);
    return node !== undefined && node.hasMember(path[path.length - 1]);
  }

  hasMember(pe: PathElement): boolean {
    return this.#members.has(serializePathElement(pe));
  }

  /** The subset below `pe` (paths with `pe` as their first element, without it). */
  child(pe: PathElement): FieldSet | undefined {
    return this.#children.get(serializePathElement(pe))?.set;
  }

  isEmpty(): boolean {
    if (this.#members.size > 0) return false;
    for (const c of this.#children.values()) if (!c.set.isEmpty()) return false;
    return true;
  }

  union(other: FieldSet): FieldSet {
    const out = this.#copy();
    out.#unionInPlace(other);
    return out;
  }

  #unionInPlace(other: FieldSet): void {
    for (const [k, pe] of other.#members) this.#members.set(k, pe);
    for (const [k, c] of other.#children) {
      const mine = this.#children.get(k);
      if (mine === undefined) this.#children.set(k, { pe: c.pe, set: c.set.#copy() });
      else mine.set.#unionInPlace(c.set);
    }
  }

  #copy(): FieldSet {
    const out = new FieldSet();
    for (const [k, pe] of this.#members) out.#members.set(k, pe);
    for (const [k, c] of this.#children) out.#children.set(k, { pe: c.pe, set: c.set.#copy() });
    return out;
  }

  /** Paths of this set that are not in `other` (exact paths: no prefix semantics). */
  difference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const [k, pe] of this.#members) if (!other.#members.has(k)) out.#members.set(k, pe);
    for (const [k, c] of this.#children) {
      const theirs = other.#children.get(k);
      const set = theirs === undefined ? c.set.#copy() : c.set.difference(theirs.set);
      if (!set.isEmpty()) out.#children.set(k, { pe: c.pe, set });
    }
    return out;
  }

  intersection(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const [k, pe] of this.#members) if (other.#members.has(k)) out.#members.set(k, pe);
    for (const [k, c] of this.#children) {
      const theirs = other.#children.get(k);
      if (theirs === undefined) continue;
      const set = c.set.intersection(theirs.set);
      if (!set.isEmpty()) out.#children.set(k, { pe: c.pe, set });
    }
    return out;
  }

  /**
   * The set with every struct field that has something below it also counted as a
   * member (upstream's EnsureNamedFieldsAreMembers), so that pruning can tell a field
   * still in use by someone from one nobody mentions any more.
   */
  withNamedFieldsAsMembers(): FieldSet {
    const out = new FieldSet();
    for (const [k, pe] of this.#members) out.#members.set(k, pe);
    for (const [k, c] of this.#children) {
      if (c.set.isEmpty()) continue;
      if (c.pe.kind === 'field') out.#members.set(k, c.pe);
      out.#children.set(k, { pe: c.pe, set: c.set.withNamedFieldsAsMembers() });
    }
    return out;
  }

  /**
   * Whether this set and the set a FieldsV1 object encodes share a path, read straight
   * from the FieldsV1 without decoding it. Exact only for FieldsV1 in this module's own
   * spelling (what toFieldsV1 writes), where every element key is serializePathElement's.
   */
  intersectsFieldsV1(fields: unknown): boolean {
    if (!isPlainObject(fields)) return false;
    for (const k of this.#members.keys()) {
      const v = fields[k];
      if (isPlainObject(v) && ('.' in v || Object.keys(v).length === 0)) return true;
    }
    for (const [k, c] of this.#children) {
      const v = fields[k];
      if (isPlainObject(v) && c.set.intersectsFieldsV1(v)) return true;
    }
    return false;
  }

  equals(other: FieldSet): boolean {
    return JSON.stringify(this.toFieldsV1()) === JSON.stringify(other.toFieldsV1());
  }

  /** Every path of the set, in upstream's order. */
  paths(): Path[] {
    const out: Path[] = [];
    const walk = (node: FieldSet, prefix: PathElement[]): void => {
      for (const { pe, member, child } of node.#sortedEntries()) {
        if (member) out.push([...prefix, pe]);
        if (child !== undefined) walk(child, [...prefix, pe]);
      }
    };
    walk(this, []);
    return out;
  }

  #sortedEntries(): { pe: PathElement; member: boolean; child: FieldSet | undefined }[] {
    const keys = new Set([...this.#members.keys(), ...this.#children.keys()]);
    const entries = [...keys].map((k) => {
      const c = this.#children.get(k);
      const child = c !== undefined && !c.set.isEmpty() ? c.set : undefined;
      return { pe: (this.#members.get(k) ?? c?.pe) as PathElement, member: this.#members.has(k), child };
    });
    return entries.filter((e) => e.member || e.child !== undefined).sort((a, b) => comparePathElements(a.pe, b.pe));
  }

  /** The FieldsV1 JSON object of the set. */
  toFieldsV1(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const { pe, member, child } of this.#sortedEntries()) {
      if (child === undefined) {
        out[serializePathElement(pe)] = {};
        continue;
      }
      const inner = child.toFieldsV1();
      out[serializePathElement(pe)] = member ? { '.': {}, ...inner } : inner;
    }
    return out;
  }

  /** Reads FieldsV1. @throws FieldsV1Error */
  static fromFieldsV1(fields: unknown): FieldSet {
    const set = new FieldSet();
    set.#read(fields, '');
    return set;
  }

  /** Adds the paths of a FieldsV1 node, building the tree as it goes. */
  #read(node: unknown, where: string): void {
    if (!isPlainObject(node)) throw new FieldsV1Error(where, 'expected a JSON object');
    for (const key of Object.keys(node)) {
      if (key === '.') continue;
      const value = node[key];
      const pe = parsePathElement(key);
      if (!isPlainObject(value)) throw new FieldsV1Error(key, 'expected a JSON object');
      let members = 0;
      let children = false;
      for (const k in value) {
        if (k === '.') members++;
        else children = true;
        if (children && members > 0) break;
      }
      if (members > 0 || !children) this.#members.set(serializePathElement(pe), pe);
      if (children) this.#childFor(pe).#read(value, key);
    }
  }
}
