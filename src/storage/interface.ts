// The storage backend contract: a small, revision-aware key-value log in the
// style of kine's Backend. Every write gets the next global revision; a
// delete is itself a revision (a tombstone) so watchers see it. The API server
// is the only user; controllers never touch storage.
//
// Keys look like `/registry/<resource>/<name>` or `/registry/<resource>/<ns>/<name>`.
// Values are serialized objects (JSON text); the backend never looks inside.

import type { Disposable } from '../base/index.ts';

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Revision at which this key was created (survives updates; reset on re-create). */
  readonly createRevision: number;
  /** Revision of the write that produced this value (for a delete: the delete's revision). */
  readonly modRevision: number;
}

export type StoreEventType = 'create' | 'update' | 'delete';

export interface StoreEvent {
  readonly type: StoreEventType;
  /** The new value; for a delete, the last value with `modRevision` = the delete's revision. */
  readonly kv: KeyValue;
  /** The value before this write; absent for a create. */
  readonly prevKv?: KeyValue;
}

export interface ListResult {
  /** The store revision the list was taken at. */
  readonly revision: number;
  readonly kvs: readonly KeyValue[];
}

export interface Backend {
  /** Opens the store (creates its schema on first use). Idempotent. */
  start(): Promise<void>;
  /** Flushes pending writes and closes. Writes after close reject with StoreClosedError. */
  close(): Promise<void>;

  /** The revision of the newest committed write (0 for an empty store). */
  currentRevision(): number;
  /** Events at or below this revision are gone; watching from before it fails. */
  compactRevision(): number;

  /** The live value of `key`, or undefined. */
  get(key: string): Promise<KeyValue | undefined>;
  /** All live keys starting with `prefix`, in key order. */
  list(prefix: string): Promise<ListResult>;

  /** Creates `key`. Throws KeyExistsError if it is live. */
  create(key: string, value: string): Promise<KeyValue>;
  /**
   * Replaces `key` if its modRevision is still `expectedRevision`.
   * Throws KeyNotFoundError if absent, RevisionConflictError if it moved on.
   */
  update(key: string, value: string, expectedRevision: number): Promise<KeyValue>;
  /**
   * Deletes `key` (if `expectedRevision` is given, only at that revision) and returns the
   * tombstone: the last value with the delete's revision. Throws KeyNotFoundError if absent,
   * RevisionConflictError on a stale expectation.
   */
  delete(key: string, expectedRevision?: number): Promise<KeyValue>;

  /**
   * The events with revision > `afterRevision` for keys under `prefix`, in revision order.
   * Throws CompactedError when `afterRevision` < compactRevision().
   */
  eventsSince(prefix: string, afterRevision: number): Promise<StoreEvent[]>;

  /**
   * Calls `listener` with every batch of committed events, in revision order. Listeners run
   * synchronously after the commit and before the writes' promises resolve, so a caller that
   * awaited a write sees it in any cache fed by this.
   */
  subscribe(listener: (events: readonly StoreEvent[]) => void): Disposable;

  /** Drops history at or below `revision` (never the live values). Returns the new compact revision. */
  compact(revision: number): Promise<number>;
}

export class StoreError extends Error {
  override name = 'StoreError';
  readonly key: string;
  constructor(message: string, key: string) {
    super(message);
    this.key = key;
  }
}

export class KeyExistsError extends StoreError {
  override name = 'KeyExistsError';
  constructor(key: string) {
    super(`key ${key} already exists`, key);
  }
}

export class KeyNotFoundError extends StoreError {
  override name = 'KeyNotFoundError';
  constructor(key: string) {
    super(`key ${key} not found`, key);
  }
}

export class RevisionConflictError extends StoreError {
  override name = 'RevisionConflictError';
  readonly expected: number;
  readonly actual: number;
  constructor(key: string, expected: number, actual: number) {
    super(`key ${key} is at revision ${actual}, not ${expected}`, key);
    this.expected = expected;
    this.actual = actual;
  }
}

export class CompactedError extends Error {
  override readonly name = 'CompactedError';
  readonly requested: number;
  readonly compacted: number;
  constructor(requested: number, compacted: number) {
    super(`revision ${requested} has been compacted (oldest available ${compacted})`);
    this.requested = requested;
    this.compacted = compacted;
  }
}

export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  constructor() {
    super('store is closed');
  }
}
