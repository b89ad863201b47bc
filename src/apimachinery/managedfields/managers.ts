// The managers of an object: metadata.managedFields decoded into one field set
// per manager, and encoded back in upstream's order.
//
// A manager is identified by (manager, operation, subresource) and, for Update
// entries, the apiVersion — upstream's BuildManagerIdentifier, whose JSON form is
// also what conflict messages sort by. Times are kept per manager and only
// change when that manager changed the object.

import { StatusError, type StatusCause } from '../errors.ts';
import { isPlainObject, type ManagedFieldsEntry } from '../types.ts';
import { FieldSet, pathString, type Path } from './field-set.ts';

export type Operation = 'Apply' | 'Update';

export interface ManagerId {
  readonly manager: string;
  readonly operation: Operation;
  /** Part of the identity of Update entries only. */
  readonly apiVersion?: string;
  readonly subresource?: string;
}

export interface ManagerEntry {
  readonly id: ManagerId;
  set: FieldSet;
  apiVersion: string;
  time: string | undefined;
}

/** The managers of one object, by identifier. */
export type Managed = Map<string, ManagerEntry>;

/** Upstream's manager identifier: the entry's identity fields as JSON, in Go field order. */
export function managerKey(id: ManagerId): string {
  const o: Record<string, string> = { manager: id.manager, operation: id.operation };
  if (id.operation === 'Update' && id.apiVersion) o.apiVersion = id.apiVersion;
  if (id.subresource) o.subresource = id.subresource;
  return JSON.stringify(o);
}

/** managedFields that cannot be used (bad operation, fieldsType or FieldsV1). */
export class ManagedFieldsDecodeError extends Error {
  override readonly name = 'ManagedFieldsDecodeError';
  readonly index: number;
  constructor(index: number, message: string) {
    super(`managedFields[${index}]: ${message}`);
    this.index = index;
  }
}

/** @throws ManagedFieldsDecodeError */
export function decodeManagedFields(entries: readonly ManagedFieldsEntry[] | undefined): Managed {
  const managed: Managed = new Map();
  if (entries === undefined || entries === null) return managed;
  if (!Array.isArray(entries)) throw new ManagedFieldsDecodeError(0, 'managedFields must be a list');
  entries.forEach((e, i) => {
    if (!isPlainObject(e)) throw new ManagedFieldsDecodeError(i, 'not an object');
    if (e.operation !== 'Apply' && e.operation !== 'Update') throw new ManagedFieldsDecodeError(i, 'operation must be `Apply` or `Update`');
    if (typeof e.apiVersion !== 'string' || e.apiVersion === '') throw new ManagedFieldsDecodeError(i, 'apiVersion must not be empty');
    if (e.fieldsType !== 'FieldsV1') {
      throw new ManagedFieldsDecodeError(i, e.fieldsType ? `invalid fieldsType ${JSON.stringify(e.fieldsType)}` : 'missing fieldsType');
    }
    let set: FieldSet;
    try {
      set = FieldSet.fromFieldsV1(e.fieldsV1 ?? {});
    } catch (err) {
      throw new ManagedFieldsDecodeError(i, `error decoding set: ${(err as Error).message}`);
    }
    const id: ManagerId = {
      manager: typeof e.manager === 'string' ? e.manager : '',
      operation: e.operation,
      apiVersion: e.apiVersion,
      subresource: typeof e.subresource === 'string' && e.subresource !== '' ? e.subresource : undefined,
    };
    managed.set(managerKey(id), { id, set, apiVersion: e.apiVersion, time: typeof e.time === 'string' ? e.time : undefined });
  });
  return managed;
}

function seconds(time: string | undefined): number {
  if (time === undefined) return 0;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** managedFields for the wire: empty sets dropped, sorted as upstream sorts them. */
export function encodeManagedFields(managed: Managed): ManagedFieldsEntry[] | undefined {
  const out: ManagedFieldsEntry[] = [];
  for (const e of managed.values()) {
    if (e.set.isEmpty()) continue;
    const entry: ManagedFieldsEntry = { manager: e.id.manager, operation: e.id.operation, apiVersion: e.apiVersion };
    if (e.time !== undefined) entry.time = e.time;
    entry.fieldsType = 'FieldsV1';
    entry.fieldsV1 = e.set.toFieldsV1();
    if (e.id.subresource) entry.subresource = e.id.subresource;
    out.push(entry);
  }
  if (out.length === 0) return undefined;
  return out.sort(compareEntries);
}

/** Upstream's order of managedFields entries: operation, time (seconds), manager, apiVersion, subresource. */
export function compareEntries(p: ManagedFieldsEntry, q: ManagedFieldsEntry): number {
  return (
    cmp(p.operation ?? '', q.operation ?? '') ||
    seconds(p.time) - seconds(q.time) ||
    cmp(p.manager ?? '', q.manager ?? '') ||
    cmp(p.apiVersion ?? '', q.apiVersion ?? '') ||
    cmp(p.subresource ?? '', q.subresource ?? '')
  );
}

export const MAX_UPDATE_MANAGERS = 10;
const ANCIENT_CHANGES = 'ancient-changes';

/**
 * Keeps at most `max` Update entries by folding the oldest ones into one
 * `ancient-changes` entry per apiVersion (upstream's capManagersManager).
 */
export function capUpdateManagers(managed: Managed, max = MAX_UPDATE_MANAGERS): void {
  const updaters = [...managed.entries()].filter(([, e]) => e.id.operation === 'Update');
  if (updaters.length <= max) return;
  updaters.sort(([ka, a], [kb, b]) => seconds(a.time) - seconds(b.time) || cmp(ka, kb));
  const firstOfVersion = new Map<string, string>();
  let length = updaters.length;
  for (let i = 0; i < updaters.length && length > max; i++) {
    const [key, entry] = updaters[i];
    const bucketId: ManagerId = { manager: ANCIENT_CHANGES, operation: 'Update', apiVersion: entry.apiVersion };
    const bucketKey = managerKey(bucketId);
    const first = firstOfVersion.get(entry.apiVersion);
    if (first === undefined) {
      firstOfVersion.set(entry.apiVersion, key);
      continue;
    }
    if (!managed.has(bucketKey)) {
      const f = managed.get(first);
      managed.delete(first);
      if (f !== undefined) managed.set(bucketKey, { ...f, id: bucketId });
    }
    const bucket = managed.get(bucketKey);
    if (bucket === undefined) continue;
    managed.set(bucketKey, { id: bucketId, set: entry.set.union(bucket.set), apiVersion: entry.apiVersion, time: entry.time });
    managed.delete(key);
    length--;
  }
}

/** One field another manager owns with a different value. */
export interface Conflict {
  /** The manager identifier (managerKey). */
  readonly manager: string;
  readonly path: Path;
}

/** How upstream names a manager in conflict messages: `"m"`, `"m" with subresource "status"`, `"m" using v1`. */
export function printManager(key: string): string {
  let id: Partial<ManagerId> & { time?: string };
  try {
    id = JSON.parse(key) as Partial<ManagerId>;
  } catch {
    return JSON.stringify(key);
  }
  let s = JSON.stringify(id.manager ?? '');
  if (id.subresource) s = `${s} with subresource ${JSON.stringify(id.subresource)}`;
  if (id.operation === 'Update') return `${s} using ${id.apiVersion ?? ''}`;
  return s;
}

/** The 409 Conflict of an apply, with upstream's message and one cause per field. */
export function newApplyConflict(conflicts: readonly Conflict[]): StatusError {
  const causes: StatusCause[] = conflicts.map((c) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${printManager(c.manager)}`,
    field: pathString(c.path),
  }));
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0].manager)}: ${pathString(conflicts[0].path)}`;
  } else {
    const byManager = new Map<string, Path[]>();
    for (const c of conflicts) byManager.set(c.manager, [...(byManager.get(c.manager) ?? []), c.path]);
    const lines: string[] = [];
    for (const m of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${printManager(m)}:`);
      for (const p of byManager.get(m) ?? []) lines.push(`- ${pathString(p)}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new StatusError(409, 'Conflict', message, { causes });
}

export const FIELD_MANAGER_MAX_LENGTH = 128;

/**
 * The manager name of a request that names none: the User-Agent up to its first
 * `/`, non-printable characters dropped, at most 128 bytes (`kubectl/v1.32.0 (...)`
 * → `kubectl`).
 */
export function managerFromUserAgent(userAgent: string | undefined): string {
  const prefix = (userAgent ?? '').split('/')[0];
  let out = '';
  let bytes = 0;
  for (const ch of prefix) {
    if (!isPrintable(ch)) continue;
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > FIELD_MANAGER_MAX_LENGTH) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isPrintable(ch: string): boolean {
  return ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}
