import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { runBackendConformance } from './backend-conformance.ts';
import { SqliteBackend } from './sqlite-backend.ts';

const root = mkdtempSync(join(tmpdir(), 'volplane-sqlite-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let seq = 0;
const freshPath = (): string => join(root, `db-${++seq}`, 'state.db');

async function open(path: string): Promise<SqliteBackend> {
  const b = new SqliteBackend({ path });
  await b.start();
  return b;
}

runBackendConformance('sqlite', () => open(freshPath()));

test('sqlite: objects, revisions and the compact revision survive close and reopen', async () => {
  const path = freshPath();
  const first = await open(path);
  const a = await first.create('/registry/pods/a', 'A1'); // 1
  await first.update('/registry/pods/a', 'A2', a.modRevision); // 2
  await first.create('/registry/pods/b', 'B'); // 3
  await first.delete('/registry/pods/b'); // 4: the newest row, a tombstone
  await first.compact(4);
  await first.close();

  const second = await open(path);
  try {
    assert.equal(second.currentRevision(), 4);
    assert.equal(second.compactRevision(), 4);
    assert.deepEqual((await second.list('/registry/')).kvs, [
      { key: '/registry/pods/a', value: 'A2', createRevision: 1, modRevision: 2 },
    ]);
    // The compacted tombstone was the newest row; its revision is still never reused.
    assert.deepEqual(await second.create('/registry/pods/b', 'B2'), {
      key: '/registry/pods/b',
      value: 'B2',
      createRevision: 5,
      modRevision: 5,
    });
    assert.equal((await second.update('/registry/pods/a', 'A3', 2)).modRevision, 6);
    assert.deepEqual(
      (await second.eventsSince('/registry/', 4)).map((e) => `${e.type} ${e.kv.key}@${e.kv.modRevision}`),
      ['create /registry/pods/b@5', 'update /registry/pods/a@6'],
    );
  } finally {
    await second.close();
  }
});

test('sqlite: a resolved write is committed (another connection sees it) and the file is in WAL mode', async () => {
  const path = freshPath();
  const b = await open(path);
  const other = new DatabaseSync(path);
  try {
    await b.create('/registry/pods/a', 'A');
    const row = other.prepare(`SELECT id, value FROM kine WHERE name = ?`).get('/registry/pods/a');
    assert.deepEqual({ ...row }, { id: 1, value: 'A' });
    assert.equal(other.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
  } finally {
    other.close();
    await b.close();
  }
});

test('sqlite: the unique (name, prev_revision) index refuses a second successor of the same row', async () => {
  const path = freshPath();
  const b = await open(path);
  await b.create('/registry/pods/a', 'A');
  await b.update('/registry/pods/a', 'A2', 1);
  await b.close();
  const db = new DatabaseSync(path);
  try {
    assert.throws(
      () =>
        db
          .prepare(
            `INSERT INTO kine (name, created, deleted, create_revision, prev_revision, value, old_value)
             VALUES ('/registry/pods/a', 0, 0, 1, 1, 'racer', 'A')`,
          )
          .run(),
      /UNIQUE constraint failed/,
    );
  } finally {
    db.close();
  }
});

test('sqlite: a write racing from another connection is refused as a conflict, not overwritten', async () => {
  const path = freshPath();
  const b = await open(path);
  const other = new DatabaseSync(path);
  try {
    const a = await b.create('/registry/pods/a', 'A');
    // Another writer appends a successor of revision 1 behind our back.
    other
      .prepare(
        `INSERT INTO kine (name, created, deleted, create_revision, prev_revision, value, old_value)
         VALUES ('/registry/pods/a', 0, 0, 1, 1, 'theirs', 'A')`,
      )
      .run();
    await assert.rejects(b.update('/registry/pods/a', 'ours', a.modRevision), { name: 'RevisionConflictError' });
    assert.equal((await b.get('/registry/pods/a'))?.value, 'theirs');
  } finally {
    other.close();
    await b.close();
  }
});
