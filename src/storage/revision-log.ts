// The rules of the revision log, shared by the SQLite and the memory backend.
//
// The log has one row per revision, in the shape of kine's table: the row for a
// write records the key, whether it created or deleted the key, the key's
// create revision, the revision of the row it replaces (`prevRevision`) and
// both the new and the replaced value. Keeping the replaced value in the row
// means an event can be rebuilt from its own row, even after compaction has
// dropped the row it replaced.
//
// Everything here is pure: deciding whether a write is allowed given the
// key's newest row, and turning rows into the KeyValues and StoreEvents of
// the Backend contract. The stores only persist and look up rows.

import {
  KeyExistsError,
  KeyNotFoundError,
  RevisionConflictError,
  type KeyValue,
  type StoreEvent,
} from './interface.ts';

/** One revision of the log. `id` is the revision. */
export interface LogRow {
  readonly id: number;
  readonly name: string;
  /** This row (re-)created the key. */
  readonly created: boolean;
  /** This row is a tombstone; `value` is the last live value. */
  readonly deleted: boolean;
  /** The key's create revision (for a created row, its own id). */
  readonly createRevision: number;
  /** The id of the key's previous row, 0 if there was none. */
  readonly prevRevision: number;
  readonly value: string;
  /** The value of the previous row; null for a created row. */
  readonly oldValue: string | null;
}

/** A row about to be appended; a created row carries createRevision 0 and takes its own id. */
export type NewRow = Omit<LogRow, 'id'>;

export type WriteOp =
  | { readonly kind: 'create'; readonly key: string; readonly value: string }
  | { readonly kind: 'update'; readonly key: string; readonly value: string; readonly expectedRevision: number }
  | { readonly kind: 'delete'; readonly key: string; readonly expectedRevision: number | undefined };

/**
 * Decides the row that `op` appends, given the key's newest row (live or tombstone).
 * Throws the contract's errors when the write is not allowed; never has side effects.
 */
export function planWrite(op: WriteOp, latest: LogRow | undefined): NewRow {
  const live = latest !== undefined && !latest.deleted ? latest : undefined;
  if (op.kind === 'create') {
    if (live !== undefined) throw new KeyExistsError(op.key);
    return {
      name: op.key,
      created: true,
      deleted: false,
      createRevision: 0,
      // Pointing at the tombstone (or 0) lets the unique (name, prev_revision)
      // index refuse a second create racing this one.
      prevRevision: latest?.id ?? 0,
      value: op.value,
      oldValue: null,
    };
  }
  if (live === undefined) throw new KeyNotFoundError(op.key);
  if (op.expectedRevision !== undefined && op.expectedRevision !== live.id) {
    throw new RevisionConflictError(op.key, op.expectedRevision, live.id);
  }
  return {
    name: op.key,
    created: false,
    deleted: op.kind === 'delete',
    createRevision: live.createRevision,
    prevRevision: live.id,
    // A tombstone keeps the last value so that watchers can show what was deleted.
    value: op.kind === 'delete' ? live.value : op.value,
    oldValue: live.value,
  };
}

/** Fills in the id of an appended row. */
export function withId(row: NewRow, id: number): LogRow {
  return { ...row, id, createRevision: row.created ? id : row.createRevision };
}

export function rowToKeyValue(row: LogRow): KeyValue {
  return { key: row.name, value: row.value, createRevision: row.createRevision, modRevision: row.id };
}

export function rowToEvent(row: LogRow): StoreEvent {
  const kv = rowToKeyValue(row);
  if (row.created) return { type: 'create', kv };
  const prevKv: KeyValue = {
    key: row.name,
    value: row.oldValue ?? '',
    createRevision: row.createRevision,
    modRevision: row.prevRevision,
  };
  return { type: row.deleted ? 'delete' : 'update', kv, prevKv };
}

/**
 * The smallest string greater than every string starting with `prefix`, for a
 * range scan `key >= prefix AND key < end`; undefined when there is no bound
 * (the empty prefix). Incrementing a last ASCII character gives the exact bound
 * in both UTF-16 (JavaScript) and UTF-8 byte (SQLite BINARY) order; otherwise
 * the highest code point is appended, which bounds every key we write.
 */
export function prefixEnd(prefix: string): string | undefined {
  if (prefix === '') return undefined;
  const last = prefix.charCodeAt(prefix.length - 1);
  if (last < 0x7f) return prefix.slice(0, -1) + String.fromCharCode(last + 1);
  return prefix + '\u{10FFFF}';
}
