// The field manager of one resource (and subresource): it keeps
// metadata.managedFields right on every write and performs server-side apply.
// It is upstream's chain of field managers (versionCheck → lastAppliedUpdater →
// skipNonApplied → capManagers → buildManagerInfo → managedFieldsUpdater →
// stripMeta → structured merge), flattened into two methods:
//
// update(live, next, manager): a create, update or non-apply patch. Every field the
//   request added or changed becomes the manager's (its Update entry, time now);
//   those fields leave every other manager, Apply managers included — an update
//   always wins, and the applier will hear of it as a conflict on its next apply.
//   Fields the request removed leave everybody. Objects that have no managedFields
//   are not tracked by updates until their first apply (upstream's skipNonApplied),
//   which first gives the existing fields to `before-first-apply`.
//
// apply(live, config, manager, force): the configuration is merged into the live
//   object; what the manager applied last time and no longer applies is removed
//   unless another manager owns it too; any field the merge would change that
//   another manager owns is a conflict (409) unless `force`, which takes it over.
//   The manager's Apply entry becomes exactly the fields of the configuration.
//   Applying the same configuration again changes nothing.
//
// An apply by `kubectl` that conflicts only on fields its client-side apply
// annotation holds with the live values takes them over (upstream's
// lastAppliedManager), so `kubectl apply --server-side` after `kubectl apply`
// works; it also rewrites that annotation to the applied configuration.
//
// update() has a fast path for the common write (an object whose stored
// managedFields this module wrote, and a request that sent them back unchanged or
// not at all): it compares the objects once and re-encodes only the entries the
// change touches, leaving the others' FieldsV1 as they are. Whenever that is not
// clearly equivalent (sent entries differ, an entry looks foreign, more Update
// managers than the cap) it takes the full path, which decodes every entry.
//
// apiVersion, kind and the system metadata fields are never owned (stripMeta).
// A status write owns status only, a main-resource write never owns status (the
// reset fields of the kinds' strategies).

import { isDeepStrictEqual } from 'node:util';
import { newBadRequest, StatusError } from '../errors.ts';
import { patchSchemaFor, type PatchSchema } from '../patch/index.ts';
import { deepCopy, isPlainObject, type KubeObject, type ManagedFieldsEntry } from '../types.ts';
import { FieldSet, FieldsV1Error, fieldElement, type Path } from './field-set.ts';
import {
  capUpdateManagers,
  compareEntries,
  decodeManagedFields,
  MAX_UPDATE_MANAGERS,
  encodeManagedFields,
  managerKey,
  newApplyConflict,
  ManagedFieldsDecodeError,
  type Conflict,
  type Managed,
  type ManagerId,
} from './managers.ts';
import { compare, dropNulls, merge, prune, toFieldSet, type Comparison } from './structure.ts';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
const BEFORE_FIRST_APPLY = 'before-first-apply';
const UNKNOWN_MANAGER = 'unknown';

export interface FieldManagerOptions {
  /** API group ('' for core). */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly subresource: '' | 'status';
  /** Whether the kind has a status that the main resource does not write. */
  readonly hasStatus: boolean;
  /**
   * false: update() always decodes and re-encodes every entry (the reference the fast
   * path is tested against). Default true.
   */
  readonly incremental?: boolean;
}

function metaPath(...names: string[]): Path {
  return names.map(fieldElement);
}

// Fields no manager ever owns.
const STRIP_SET = FieldSet.of(
  metaPath('apiVersion'),
  metaPath('kind'),
  metaPath('metadata'),
  ...['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion'].map(
    (f) => metaPath('metadata', f),
  ),
);

// Struct fields that exist, empty, in the Go zero value of a kind: an update that
// fills them does not "add" them (so their FieldsV1 node carries no ".").
const ZERO_STRUCTS: Readonly<Record<string, readonly string[]>> = {
  '/PersistentVolumeClaim': ['spec.resources'],
  'apps/Deployment': ['spec.template', 'spec.template.metadata', 'spec.template.spec', 'spec.strategy'],
  'apps/ReplicaSet': ['spec.template', 'spec.template.metadata', 'spec.template.spec'],
  'apps/StatefulSet': ['spec.template', 'spec.template.metadata', 'spec.template.spec', 'spec.updateStrategy'],
  'apps/DaemonSet': ['spec.template', 'spec.template.metadata', 'spec.template.spec', 'spec.updateStrategy'],
  'batch/Job': ['spec.template', 'spec.template.metadata', 'spec.template.spec'],
  'batch/CronJob': ['spec.jobTemplate', 'spec.jobTemplate.spec', 'spec.jobTemplate.spec.template', 'spec.jobTemplate.spec.template.spec'],
  'storage.k8s.io/VolumeAttachment': ['spec.source'],
};

function withoutManagedFields(obj: KubeObject): KubeObject {
  const copy = deepCopy(obj);
  delete copy.metadata.managedFields;
  return copy;
}

/** `obj` without managedFields for reading only: it shares everything else with `obj`. */
function viewWithoutManagedFields(obj: KubeObject): KubeObject {
  if (!isPlainObject(obj.metadata) || !('managedFields' in obj.metadata)) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

const ENTRY_FIELDS = ['manager', 'operation', 'apiVersion', 'time', 'fieldsType', 'fieldsV1', 'subresource'] as const;

/**
 * Whether stored entries are in the shape this module writes (what the fast path
 * relies on to read FieldsV1 without decoding): known operation, an apiVersion,
 * FieldsV1, a non-empty set, each manager once.
 */
function entriesInOwnShape(entries: readonly ManagedFieldsEntry[], keys: string[]): boolean {
  const seen = new Set<string>();
  for (const e of entries) {
    if (!isPlainObject(e)) return false;
    if (e.operation !== 'Apply' && e.operation !== 'Update') return false;
    if (typeof e.apiVersion !== 'string' || e.apiVersion === '' || e.fieldsType !== 'FieldsV1') return false;
    if (typeof e.manager !== 'string') return false;
    if (!isPlainObject(e.fieldsV1) || Object.keys(e.fieldsV1).length === 0) return false;
    if (e.time !== undefined && typeof e.time !== 'string') return false;
    if (e.subresource !== undefined && (typeof e.subresource !== 'string' || e.subresource === '')) return false;
    // Exactly the fields encodeManagedFields writes, in its order (a reused entry is stored as it is).
    const fields = Object.keys(e);
    let at = 0;
    for (const f of ENTRY_FIELDS) if (fields[at] === f) at++;
    if (at !== fields.length) return false;
    const key = managerKey({ manager: e.manager, operation: e.operation, apiVersion: e.apiVersion, subresource: e.subresource });
    if (seen.has(key)) return false;
    seen.add(key);
    keys.push(key);
  }
  return true;
}

/** managedFields: [] or [{}] mean "forget them". */
function isReset(entries: readonly ManagedFieldsEntry[] | undefined): boolean {
  if (!Array.isArray(entries)) return false;
  if (entries.length === 0) return true;
  return entries.length === 1 && isPlainObject(entries[0]) && Object.keys(entries[0]).length === 0;
}

/** Go's json.Encoder output for a map: sorted keys, HTML characters escaped, a final newline. */
function goJson(value: unknown): string {
  const walk = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(walk).join(',')}]`;
    if (isPlainObject(v)) {
      const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${walk(v[k])}`).join(',')}}`;
    }
    return JSON.stringify(v ?? null);
  };
  const escaped = walk(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${escaped}\n`;
}

export class FieldManager {
  readonly #options: FieldManagerOptions;
  readonly #schema: PatchSchema;
  readonly #apiVersion: string;

  constructor(options: FieldManagerOptions) {
    this.#options = options;
    this.#schema = patchSchemaFor(options.group, options.kind);
    this.#apiVersion = options.group === '' ? options.version : `${options.group}/${options.version}`;
  }

  #id(manager: string, operation: 'Apply' | 'Update'): ManagerId {
    const id: { manager: string; operation: 'Apply' | 'Update'; apiVersion?: string; subresource?: string } = {
      manager: manager === '' ? UNKNOWN_MANAGER : manager,
      operation,
    };
    if (operation === 'Update') id.apiVersion = this.#apiVersion;
    if (this.#options.subresource !== '') id.subresource = this.#options.subresource;
    return id;
  }

  /** The object a create starts from: Go's zero value, shaped like `next`. */
  #zeroObject(next: KubeObject): KubeObject {
    const zero: KubeObject = { metadata: {} };
    for (const top of ['spec', 'status']) if (isPlainObject(next[top])) zero[top] = {};
    for (const path of ZERO_STRUCTS[`${this.#options.group}/${this.#options.kind}`] ?? []) {
      const parts = path.split('.');
      let src: unknown = next;
      let dst: Record<string, unknown> = zero;
      for (const p of parts) {
        src = isPlainObject(src) ? src[p] : undefined;
        if (!isPlainObject(src)) break;
        if (!isPlainObject(dst[p])) dst[p] = {};
        dst = dst[p] as Record<string, unknown>;
      }
    }
    return zero;
  }

  /**
   * The managedFields of `next` after a non-apply write by `manager` (`live` undefined for
   * a create). managedFields sent in `next` are taken as the starting point, as upstream
   * does; `[]` resets them. Returns undefined when the object carries none.
   */
  update(live: KubeObject | undefined, next: KubeObject, manager: string, now: Date): ManagedFieldsEntry[] | undefined {
    if (this.#options.incremental !== false && live !== undefined) {
      const fast = this.#updateIncremental(live, next, manager, now);
      if (fast !== NOT_HANDLED) return fast;
    }
    return this.#updateFull(live, next, manager, now);
  }

  /**
   * update() for an existing object whose managedFields are in this module's own
   * spelling and were not changed by the request. Returns NOT_HANDLED when that does
   * not hold or the result needs the full path (the Update managers' cap).
   */
  #updateIncremental(live: KubeObject, next: KubeObject, manager: string, now: Date): ManagedFieldsEntry[] | undefined | typeof NOT_HANDLED {
    const liveEntries = live.metadata.managedFields;
    const sent = next.metadata.managedFields;
    // Which entries the full path would start from: live ones unless the request sent others.
    if (this.#options.subresource === '' && sent !== undefined && sent !== null && !sameJson(sent, liveEntries)) return NOT_HANDLED;
    if (!Array.isArray(liveEntries) || liveEntries.length === 0) return NOT_HANDLED;
    const keys: string[] = [];
    if (!entriesInOwnShape(liveEntries, keys)) return NOT_HANDLED;

    const c = compare(viewWithoutManagedFields(live), viewWithoutManagedFields(next), this.#schema);
    const changed = c.modified.union(c.added);
    const touched = changed.union(c.removed);
    const own = changed.difference(c.removed).difference(STRIP_SET);
    const id = this.#id(manager, 'Update');
    const myKey = managerKey(id);

    const out: ManagedFieldsEntry[] = [];
    let mine: FieldSet | undefined;
    try {
      for (let i = 0; i < liveEntries.length; i++) {
        const e = liveEntries[i];
        const gains = keys[i] === myKey && !own.isEmpty();
        if (!touched.intersectsFieldsV1(e.fieldsV1)) {
          // Untouched and not gaining fields: the stored entry stays exactly as it is.
          if (gains) mine = FieldSet.fromFieldsV1(e.fieldsV1);
          else out.push(e);
          continue;
        }
        // What changed leaves every manager, the writer included before it takes its
        // own fields again below.
        const set = FieldSet.fromFieldsV1(e.fieldsV1).difference(touched);
        if (gains) mine = set;
        else if (!set.isEmpty()) out.push(reencoded(e, set, e.time));
      }
    } catch (err) {
      if (err instanceof FieldsV1Error) return NOT_HANDLED;
      throw err;
    }
    if (!own.isEmpty()) {
      const entry: ManagedFieldsEntry = { manager: id.manager, operation: 'Update', apiVersion: this.#apiVersion };
      if (id.subresource !== undefined) entry.subresource = id.subresource;
      out.push(reencoded(entry, mine === undefined ? own : own.union(mine), formatSeconds(now)));
    }
    let updaters = 0;
    for (const e of out) if (e.operation === 'Update') updaters++;
    if (updaters > MAX_UPDATE_MANAGERS) return NOT_HANDLED;
    if (out.length === 0) return undefined;
    return out.sort(compareEntries);
  }

  #updateFull(live: KubeObject | undefined, next: KubeObject, manager: string, now: Date): ManagedFieldsEntry[] | undefined {
    // Sent managedFields win unless they are absent, empty or unreadable (clients that do
    // not know them must not erase them); a subresource write never sets them.
    const liveEntries = live?.metadata.managedFields;
    const sent = next.metadata.managedFields;
    let managed: Managed;
    if (this.#options.subresource !== '') managed = decodeOrEmpty(liveEntries);
    else if (isReset(sent)) managed = new Map();
    else {
      const fromRequest = decodeOrEmpty(sent);
      managed = fromRequest.size > 0 ? fromRequest : decodeOrEmpty(liveEntries);
    }
    // Updates start tracking an existing object only once it has been applied to.
    if (managed.size === 0 && live !== undefined) return undefined;
    const from = live === undefined ? this.#zeroObject(next) : viewWithoutManagedFields(live);
    this.#recordUpdate(managed, from, viewWithoutManagedFields(next), this.#id(manager, 'Update'), now);
    capUpdateManagers(managed);
    return encodeManagedFields(managed);
  }

  #recordUpdate(managed: Managed, from: unknown, to: unknown, id: ManagerId, now: Date): void {
    const c = this.#updateManagers(managed, from, to, undefined, true);
    const own = c.modified.union(c.added).difference(c.removed).difference(STRIP_SET);
    if (own.isEmpty()) return;
    const key = managerKey(id);
    const previous = managed.get(key);
    managed.set(key, {
      id,
      set: previous === undefined ? own : own.union(previous.set),
      apiVersion: this.#apiVersion,
      time: formatSeconds(now),
    });
  }

  /**
   * Takes what changed from `from` to `to` away from every manager but `workflow`;
   * fields another manager owns that changed are conflicts when not `force`d.
   */
  #updateManagers(managed: Managed, from: unknown, to: unknown, workflow: string | undefined, force: boolean): Comparison {
    const c = compare(from, to, this.#schema);
    const changed = c.modified.union(c.added);
    const conflicts: Conflict[] = [];
    const taken = new Map<string, FieldSet>();
    for (const [key, entry] of managed) {
      if (key === workflow) continue;
      const lost = entry.set.intersection(changed);
      if (!lost.isEmpty()) {
        taken.set(key, lost);
        for (const path of lost.paths()) conflicts.push({ manager: key, path });
      }
    }
    if (!force && conflicts.length > 0) {
      conflicts.sort((a, b) => (a.manager < b.manager ? -1 : a.manager > b.manager ? 1 : 0));
      throw new ApplyConflictsError(conflicts);
    }
    for (const [key, entry] of [...managed]) {
      if (key === workflow) continue;
      let set = entry.set;
      const lost = taken.get(key);
      if (lost !== undefined) set = set.difference(lost);
      if (!c.removed.isEmpty()) set = set.difference(c.removed);
      if (set.isEmpty()) managed.delete(key);
      else entry.set = set;
    }
    return c;
  }

  /** The part of an applied configuration this endpoint writes (no status on the main resource, only status on /status). */
  #scopeConfig(config: KubeObject): KubeObject {
    const copy = withoutManagedFields(config);
    if (this.#options.subresource === 'status') {
      const scoped: KubeObject = { metadata: {} };
      if (copy.apiVersion !== undefined) scoped.apiVersion = copy.apiVersion;
      if (copy.kind !== undefined) scoped.kind = copy.kind;
      if (copy.metadata.name !== undefined) scoped.metadata.name = copy.metadata.name;
      if (copy.metadata.namespace !== undefined) scoped.metadata.namespace = copy.metadata.namespace;
      if (copy.status !== undefined) scoped.status = copy.status;
      return scoped;
    }
    if (this.#options.hasStatus) delete copy.status;
    return copy;
  }

  /**
   * Server-side apply of `config` by `manager` to `live` (undefined: the object does not
   * exist yet). Returns the object to store, managedFields included.
   * @throws StatusError 400 for a configuration of another type or carrying managedFields,
   *   409 with FieldManagerConflict causes for conflicts.
   */
  apply(live: KubeObject | undefined, config: KubeObject, manager: string, force: boolean, now: Date): KubeObject {
    try {
      return this.#apply(live, config, manager, force, now);
    } catch (err) {
      if (!(err instanceof ApplyConflictsError)) throw err;
      const allowed = manager === 'kubectl' && live !== undefined ? this.#allowedByLastApplied(live) : undefined;
      const remaining = err.conflicts.filter((c) => !(allowed?.has(c.path) ?? false));
      if (remaining.length > 0) throw newApplyConflict(remaining);
      return this.#apply(live, config, manager, true, now);
    }
  }

  /** The fields of the client-side apply annotation whose values the live object still has. */
  #allowedByLastApplied(live: KubeObject): FieldSet | undefined {
    const text = live.metadata.annotations?.[LAST_APPLIED_ANNOTATION];
    if (typeof text !== 'string' || text === '') return undefined;
    let last: unknown;
    try {
      last = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!isPlainObject(last) || last.apiVersion !== this.#apiVersion) return undefined;
    const c = compare(last, withoutManagedFields(live), this.#schema);
    return toFieldSet(last, this.#schema).difference(c.modified).difference(c.added).difference(c.removed);
  }

  #apply(live: KubeObject | undefined, config: KubeObject, manager: string, force: boolean, now: Date): KubeObject {
    const gvk = `${this.#options.group}/${this.#options.version}, Kind=${this.#options.kind}`;
    const apiVersion = typeof config.apiVersion === 'string' ? config.apiVersion : '';
    const slash = apiVersion.indexOf('/');
    const got = `${slash < 0 ? '' : apiVersion.slice(0, slash)}/${slash < 0 ? apiVersion : apiVersion.slice(slash + 1)}, Kind=${typeof config.kind === 'string' ? config.kind : ''}`;
    if (got !== gvk) throw newBadRequest(`invalid object type: ${got}`);
    if (config.metadata.managedFields !== undefined && config.metadata.managedFields !== null) {
      throw newBadRequest('metadata.managedFields must be nil');
    }

    let managed: Managed;
    try {
      managed = decodeManagedFields(live?.metadata.managedFields);
    } catch (err) {
      if (err instanceof ManagedFieldsDecodeError) {
        throw new StatusError(500, 'InternalError', `Internal error occurred: failed to decode managed fields: ${err.message}`);
      }
      throw err;
    }
    let liveObj: KubeObject = live === undefined ? { apiVersion: this.#apiVersion, kind: this.#options.kind, metadata: {} } : withoutManagedFields(live);
    if (managed.size === 0 && live !== undefined) {
      // The first apply to an untracked object: what is there belongs to before-first-apply.
      this.#recordUpdate(managed, this.#zeroObject(liveObj), liveObj, this.#id(BEFORE_FIRST_APPLY, 'Update'), now);
    }

    const scoped = this.#scopeConfig(config);
    const id = this.#id(manager, 'Apply');
    const key = managerKey(id);
    const merged = merge(liveObj, scoped, this.#schema);
    const previous = managed.get(key);
    managed.set(key, { id, set: toFieldSet(scoped, this.#schema), apiVersion: this.#apiVersion, time: previous?.time });
    let pruned = merged;
    if (previous !== undefined && !previous.set.isEmpty()) {
      let owned = new FieldSet();
      for (const e of managed.values()) owned = owned.union(e.set);
      pruned = prune(merged, previous.set.withNamedFieldsAsMembers(), owned.withNamedFieldsAsMembers(), this.#schema);
    }
    this.#updateManagers(managed, liveObj, pruned, key, force);

    const mine = managed.get(key);
    if (mine !== undefined) {
      mine.set = mine.set.difference(STRIP_SET);
      if (mine.set.isEmpty()) managed.delete(key);
    }
    const unchanged = isDeepStrictEqual(liveObj, pruned);
    if (!unchanged) {
      const entry = managed.get(key);
      if (entry !== undefined) entry.time = formatSeconds(now);
      liveObj = dropNulls(pruned) as KubeObject;
      if (!isPlainObject(liveObj.metadata)) liveObj.metadata = {};
    }
    const result = liveObj;

    // kubectl's own server-side apply keeps a client-side apply annotation in step.
    const annotations = result.metadata.annotations;
    if (manager === 'kubectl' && typeof annotations?.[LAST_APPLIED_ANNOTATION] === 'string' && annotations[LAST_APPLIED_ANNOTATION] !== '') {
      const applied = deepCopy(config);
      // As upstream: an annotations map left empty stays, as `{}`.
      if (applied.metadata.annotations !== undefined) delete applied.metadata.annotations[LAST_APPLIED_ANNOTATION];
      annotations[LAST_APPLIED_ANNOTATION] = goJson(applied);
    }

    const encoded = encodeManagedFields(managed);
    if (encoded === undefined) delete result.metadata.managedFields;
    else result.metadata.managedFields = encoded;
    return result;
  }
}

/** Conflicts found while applying; turned into the 409 Status by apply(). */
class ApplyConflictsError extends Error {
  override readonly name = 'ApplyConflictsError';
  readonly conflicts: readonly Conflict[];
  constructor(conflicts: readonly Conflict[]) {
    super(`${conflicts.length} apply conflict(s)`);
    this.conflicts = conflicts;
  }
}

const NOT_HANDLED: unique symbol = Symbol('not handled');

/** Deep equality of two decoded JSON values (key order aside): isDeepStrictEqual without its generality. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let count = 0;
  for (const k in x) {
    if (!Object.hasOwn(x, k)) continue;
    if (!Object.hasOwn(y, k) || !sameJson(x[k], y[k])) return false;
    count++;
  }
  let other = 0;
  for (const k in y) if (Object.hasOwn(y, k)) other++;
  return count === other;
}

/** `e` with a new set (and time), its fields in the order encodeManagedFields writes them. */
function reencoded(e: ManagedFieldsEntry, set: FieldSet, time: string | undefined): ManagedFieldsEntry {
  const out: ManagedFieldsEntry = { manager: e.manager, operation: e.operation, apiVersion: e.apiVersion };
  if (time !== undefined) out.time = time;
  out.fieldsType = 'FieldsV1';
  out.fieldsV1 = set.toFieldsV1();
  if (e.subresource) out.subresource = e.subresource;
  return out;
}

function decodeOrEmpty(entries: readonly ManagedFieldsEntry[] | undefined): Managed {
  try {
    return decodeManagedFields(entries);
  } catch (err) {
    if (err instanceof ManagedFieldsDecodeError) return new Map();
    throw err;
  }
}

// Every write in the same second carries the same time; format it once.
let lastSecond = Number.NaN;
let lastFormatted = '';

function formatSeconds(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== lastSecond) {
    lastFormatted = date.toISOString().replace(/\.\d{3}Z$/, 'Z');
    lastSecond = second;
  }
  return lastFormatted;
}
