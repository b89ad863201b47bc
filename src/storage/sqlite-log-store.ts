// The revision log in an embedded SQLite file (node:sqlite), synchronous. It
// runs inside the SQLite worker thread (sqlite-worker.ts), which is the only
// place that holds the connection; the main thread talks to it by message.
//
// Schema, after kine: table `kine` has one row per revision; `id` (INTEGER
// PRIMARY KEY AUTOINCREMENT) is the revision, so revisions are never reused
// even when compaction deletes the newest row (a tombstone) or a transaction
// rolls back. A UNIQUE index on (name, prev_revision) makes the database
// itself refuse a second row that claims to follow the same predecessor: of
// two racing writes based on the same revision only one can ever commit,
// whoever wrote them. An index on (name, id) serves "newest row of a key" and
// "newest row per key in a range". Table `meta` holds the compact revision.
//
// Durability: WAL journal with synchronous=FULL, so COMMIT returns only after
// the WAL is fsynced.
//
// Writes are decided here, inside the transaction that appends them: each
// write reads its key's newest row and applies the log's rules (planWrite)
// in its own savepoint. Deciding against the database rather than a copy on
// the main thread means the outcome is always the one the disk records, a
// failed transaction leaves nothing to undo anywhere else, and a row written
// by another connection is seen, not overwritten.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { toError } from '../base/errors.ts';
import { CompactedError, KeyExistsError, RevisionConflictError } from './interface.ts';
import { planWrite, prefixEnd, withId, type LogRow, type NewRow, type WriteOp } from './revision-log.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  value TEXT NOT NULL,
  old_value TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, prev_revision);
CREATE INDEX IF NOT EXISTS kine_name_id_index ON kine (name, id);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`;

const COLUMNS = 'id, name, created, deleted, create_revision, prev_revision, value, old_value';

/** SQLITE_CONSTRAINT_UNIQUE: the extended result code of a unique index violation. */
const SQLITE_CONSTRAINT_UNIQUE = 2067;

interface Statements {
  latest: StatementSync;
  listLatestRange: StatementSync;
  listLatestFrom: StatementSync;
  rowsAfterRange: StatementSync;
  rowsAfterFrom: StatementSync;
  insert: StatementSync;
  sequence: StatementSync;
  begin: StatementSync;
  beginRead: StatementSync;
  commit: StatementSync;
  rollback: StatementSync;
  savepoint: StatementSync;
  releaseSavepoint: StatementSync;
  rollbackToSavepoint: StatementSync;
  compact: StatementSync;
  setCompactRevision: StatementSync;
}

export interface SqliteLogStoreOptions {
  /** Called just before every COMMIT; throwing fails (and rolls back) the transaction. A test hook. */
  beforeCommit?: () => void;
}

export class SqliteLogStore {
  readonly #path: string;
  readonly #beforeCommit: (() => void) | undefined;
  #db: DatabaseSync | undefined;
  #stmts: Statements | undefined;
  #compactRevision = 0;

  constructor(path: string, options: SqliteLogStoreOptions = {}) {
    this.#path = path;
    this.#beforeCommit = options.beforeCommit;
  }

  /** Opens (creating if needed); returns the newest revision ever written and the compact revision. */
  open(): { revision: number; compactRevision: number } {
    if (this.#db !== undefined) throw new Error(`sqlite store ${this.#path} is already open`);
    if (this.#path !== ':memory:') mkdirSync(dirname(this.#path), { recursive: true });
    const db = new DatabaseSync(this.#path);
    try {
      const mode = db.prepare('PRAGMA journal_mode = WAL').get();
      if (this.#path !== ':memory:' && String(mode?.journal_mode).toLowerCase() !== 'wal') {
        throw new Error(`cannot switch ${this.#path} to WAL journal mode (got ${String(mode?.journal_mode)})`);
      }
      db.exec('PRAGMA synchronous = FULL');
      // Another process holding the write lock (a backup, sqlite3 shell) is waited for, not failed on.
      db.exec('PRAGMA busy_timeout = 5000');
      db.exec(SCHEMA);
      const stmts = prepareStatements(db);
      const compact = db.prepare(`SELECT value FROM meta WHERE name = 'compact_revision'`).get();
      this.#compactRevision = Number(compact?.value ?? 0);
      this.#db = db;
      this.#stmts = stmts;
      return { revision: this.#sequence(), compactRevision: this.#compactRevision };
    } catch (err) {
      this.#db = undefined;
      this.#stmts = undefined;
      db.close();
      throw err;
    }
  }

  close(): void {
    const db = this.#db;
    this.#db = undefined;
    this.#stmts = undefined;
    db?.close();
  }

  /** The key's newest row, live or tombstone. */
  latest(key: string): LogRow | undefined {
    const row = this.#s().latest.get(key);
    return row === undefined ? undefined : toLogRow(row);
  }

  /** The newest row of every live key starting with `prefix`, in key order, and the revision they reflect. */
  listLatest(prefix: string): { revision: number; rows: LogRow[] } {
    const s = this.#s();
    const end = prefixEnd(prefix);
    // One read transaction, so that the revision matches the rows exactly.
    s.beginRead.run();
    try {
      const rows = end === undefined ? s.listLatestFrom.all(prefix) : s.listLatestRange.all(prefix, end);
      const revision = this.#sequence();
      s.commit.run();
      return { revision, rows: rows.map(toLogRow) };
    } catch (err) {
      if (this.#db?.isTransaction === true) s.rollback.run();
      throw err;
    }
  }

  /** The rows with id > `afterRevision` for keys starting with `prefix`, in id order. */
  rowsAfter(prefix: string, afterRevision: number): LogRow[] {
    if (afterRevision < this.#compactRevision) throw new CompactedError(afterRevision, this.#compactRevision);
    const s = this.#s();
    const end = prefixEnd(prefix);
    const rows =
      end === undefined ? s.rowsAfterFrom.all(afterRevision, prefix) : s.rowsAfterRange.all(afterRevision, prefix, end);
    return rows.map(toLogRow);
  }

  /**
   * Decides and appends `ops` in one durable transaction, each in its own savepoint:
   * a write the log's rules refuse (or the unique index refuses) is undone alone and
   * its error takes its place in the result. Throws, having committed nothing, when
   * the transaction itself fails.
   */
  writeBatch(ops: readonly WriteOp[]): (LogRow | Error)[] {
    const s = this.#s();
    s.begin.run();
    try {
      const out: (LogRow | Error)[] = [];
      for (const op of ops) {
        s.savepoint.run();
        try {
          out.push(this.#append(planWrite(op, this.latest(op.key))));
          s.releaseSavepoint.run();
        } catch (err) {
          s.rollbackToSavepoint.run();
          s.releaseSavepoint.run();
          out.push(toError(err));
        }
      }
      this.#beforeCommit?.();
      s.commit.run();
      return out;
    } catch (err) {
      if (this.#db?.isTransaction === true) s.rollback.run();
      throw err;
    }
  }

  /** Durably drops the history at or below `revision` and records it as the compact revision. */
  compact(revision: number): void {
    const s = this.#s();
    s.begin.run();
    try {
      s.compact.run(revision);
      s.setCompactRevision.run(revision);
      s.commit.run();
      this.#compactRevision = revision;
    } catch (err) {
      if (this.#db?.isTransaction === true) s.rollback.run();
      throw err;
    }
  }

  #append(row: NewRow): LogRow {
    try {
      const result = this.#s().insert.run(
        row.name,
        row.created ? 1 : 0,
        row.deleted ? 1 : 0,
        row.createRevision,
        row.prevRevision,
        row.value,
        row.oldValue,
      );
      return withId(row, Number(result.lastInsertRowid));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // Someone else already appended after our predecessor: report it the
      // way the rules would have, had they seen that row.
      const latest = this.latest(row.name);
      if (row.created) throw new KeyExistsError(row.name);
      throw new RevisionConflictError(row.name, row.prevRevision, latest?.id ?? 0);
    }
  }

  #sequence(): number {
    return Number(this.#s().sequence.get()?.seq ?? 0);
  }

  #s(): Statements {
    if (this.#stmts === undefined) throw new Error(`sqlite store ${this.#path} is not open`);
    return this.#stmts;
  }
}

function prepareStatements(db: DatabaseSync): Statements {
  // "Newest row per key in a range": the grouped subquery walks the (name, id)
  // index; the join fetches each winning row by primary key.
  const listLatest = (bound: string): string => `
    SELECT ${COLUMNS.split(', ').map((c) => `k.${c}`).join(', ')}
    FROM kine AS k
    JOIN (SELECT MAX(id) AS id FROM kine WHERE ${bound} GROUP BY name) AS m ON k.id = m.id
    WHERE k.deleted = 0
    ORDER BY k.name`;
  return {
    latest: db.prepare(`SELECT ${COLUMNS} FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1`),
    listLatestRange: db.prepare(listLatest('name >= ? AND name < ?')),
    listLatestFrom: db.prepare(listLatest('name >= ?')),
    rowsAfterRange: db.prepare(`SELECT ${COLUMNS} FROM kine WHERE id > ? AND name >= ? AND name < ? ORDER BY id`),
    rowsAfterFrom: db.prepare(`SELECT ${COLUMNS} FROM kine WHERE id > ? AND name >= ? ORDER BY id`),
    insert: db.prepare(
      `INSERT INTO kine (name, created, deleted, create_revision, prev_revision, value, old_value)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    sequence: db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'kine'`),
    begin: db.prepare('BEGIN IMMEDIATE'),
    beginRead: db.prepare('BEGIN DEFERRED'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    savepoint: db.prepare('SAVEPOINT write'),
    releaseSavepoint: db.prepare('RELEASE write'),
    rollbackToSavepoint: db.prepare('ROLLBACK TO write'),
    // A row goes when a later row of its key supersedes it, or when it is a
    // tombstone: either way no live value and no event after `revision` needs it.
    compact: db.prepare(
      `DELETE FROM kine WHERE id <= ?1 AND (
         deleted = 1 OR EXISTS (SELECT 1 FROM kine AS later WHERE later.name = kine.name AND later.id > kine.id)
       )`,
    ),
    setCompactRevision: db.prepare(
      `INSERT INTO meta (name, value) VALUES ('compact_revision', ?)
       ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
    ),
  };
}

function toLogRow(r: Record<string, SQLOutputValue>): LogRow {
  const id = Number(r.id);
  const created = Number(r.created) === 1;
  return {
    id,
    name: String(r.name),
    created,
    deleted: Number(r.deleted) === 1,
    createRevision: created ? id : Number(r.create_revision),
    prevRevision: Number(r.prev_revision),
    value: String(r.value),
    oldValue: r.old_value === null ? null : String(r.old_value),
  };
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && 'errcode' in err && err.errcode === SQLITE_CONSTRAINT_UNIQUE;
}
