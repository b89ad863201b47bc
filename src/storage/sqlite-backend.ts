// The default backend: the revision log in an embedded SQLite file (node:sqlite).
//
// Schema, after kine: table `kine` has one row per revision; `id` (INTEGER
// PRIMARY KEY AUTOINCREMENT) is the revision, so revisions are never reused
// even when compaction deletes the newest row (a tombstone). A UNIQUE index on
// (name, prev_revision) makes the database itself refuse a second row that
// claims to follow the same predecessor: of two racing writes based on the
// same revision only one can ever commit, whoever wrote them. An index on
// (name, id) serves "newest row of a key" and "newest row per key in a
// range". Table `meta` holds the compact revision.
//
// Durability: WAL journal with synchronous=FULL, so COMMIT returns only after
// the WAL is fsynced; write promises resolve after COMMIT (see log-backend.ts
// for the group commit that shares one fsync among many writes).
//
// Caveat: DatabaseSync blocks the event loop for the duration of a flush,
// including its fsync. That is the price of the simple, ordered design; the
// batch amortises it.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { toError, type Logger } from '../base/index.ts';
import { KeyExistsError, RevisionConflictError } from './interface.ts';
import { LogBackend, type LogStore } from './log-backend.ts';
import { prefixEnd, withId, type LogRow, type NewRow } from './revision-log.ts';

export interface SqliteBackendOptions {
  /** The database file; its directory is created if missing. */
  path: string;
  logger?: Logger;
}

export class SqliteBackend extends LogBackend {
  constructor(options: SqliteBackendOptions) {
    super(new SqliteLogStore(options.path), options.logger?.child({ component: 'storage', path: options.path }));
  }
}

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
  begin: StatementSync;
  commit: StatementSync;
  rollback: StatementSync;
  savepoint: StatementSync;
  releaseSavepoint: StatementSync;
  rollbackToSavepoint: StatementSync;
  compact: StatementSync;
  setCompactRevision: StatementSync;
}

class SqliteLogStore implements LogStore {
  readonly #path: string;
  #db: DatabaseSync | undefined;
  #stmts: Statements | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  open(): { revision: number; compactRevision: number } {
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
      this.#stmts = prepareStatements(db);
      const seq = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'kine'`).get();
      const compact = db.prepare(`SELECT value FROM meta WHERE name = 'compact_revision'`).get();
      this.#db = db;
      return { revision: Number(seq?.seq ?? 0), compactRevision: Number(compact?.value ?? 0) };
    } catch (err) {
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

  latest(key: string): LogRow | undefined {
    const row = this.#s().latest.get(key);
    return row === undefined ? undefined : toLogRow(row);
  }

  listLatest(prefix: string): LogRow[] {
    const s = this.#s();
    const end = prefixEnd(prefix);
    const rows = end === undefined ? s.listLatestFrom.all(prefix) : s.listLatestRange.all(prefix, end);
    return rows.map(toLogRow);
  }

  rowsAfter(prefix: string, afterRevision: number): LogRow[] {
    const s = this.#s();
    const end = prefixEnd(prefix);
    const rows =
      end === undefined ? s.rowsAfterFrom.all(afterRevision, prefix) : s.rowsAfterRange.all(afterRevision, prefix, end);
    return rows.map(toLogRow);
  }

  writeBatch(writes: readonly (() => LogRow)[]): (LogRow | Error)[] {
    const s = this.#s();
    s.begin.run();
    try {
      const out: (LogRow | Error)[] = [];
      for (const write of writes) {
        s.savepoint.run();
        try {
          out.push(write());
          s.releaseSavepoint.run();
        } catch (err) {
          s.rollbackToSavepoint.run();
          s.releaseSavepoint.run();
          out.push(toError(err));
        }
      }
      s.commit.run();
      return out;
    } catch (err) {
      if (this.#db?.isTransaction === true) s.rollback.run();
      throw err;
    }
  }

  append(row: NewRow): LogRow {
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
      // way the in-memory check would have.
      const latest = this.latest(row.name);
      if (row.created) throw new KeyExistsError(row.name);
      throw new RevisionConflictError(row.name, row.prevRevision, latest?.id ?? 0);
    }
  }

  compact(revision: number): void {
    const s = this.#s();
    s.begin.run();
    try {
      s.compact.run(revision);
      s.setCompactRevision.run(revision);
      s.commit.run();
    } catch (err) {
      if (this.#db?.isTransaction === true) s.rollback.run();
      throw err;
    }
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
    begin: db.prepare('BEGIN IMMEDIATE'),
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
