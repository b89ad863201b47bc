import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { waitFor } from '../base/index.ts';
import { runBackendConformance } from './backend-conformance.ts';
import type { StoreEvent } from './interface.ts';
import { SqliteBackend } from './sqlite-backend.ts';
import { SqliteFaults, SqliteWorkerError } from './sqlite-protocol.ts';

const root = mkdtempSync(join(tmpdir(), 'volplane-sqlite-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let seq = 0;
const freshPath = (): string => join(root, `db-${++seq}`, 'state.db');

async function open(path: string, faults?: SqliteFaults): Promise<SqliteBackend> {
  const b = new SqliteBackend({ path, faults });
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

// The child writes through a real backend, reports each write the moment its
// promise resolves, and dies abruptly once `after` writes have resolved: the
// worker thread is killed with the process, mid-commit of later batches.
const CHILD = `
import { writeSync } from 'node:fs';
const { SqliteBackend } = await import(process.env.BACKEND_URL);
const b = new SqliteBackend({ path: process.env.DB_PATH });
await b.start();
const after = Number(process.env.AFTER);
let resolved = 0;
const die = () => (process.env.HOW === 'exit' ? process.exit(0) : process.kill(process.pid, 'SIGKILL'));
for (let i = 0; i < 200; i++) {
  void b.create('/registry/pods/p' + i, 'v' + i).then((kv) => {
    writeSync(1, kv.key + '@' + kv.modRevision + '\\n');
    if (++resolved === after) die();
  });
}
`;

async function runChild(path: string, how: 'kill' | 'exit', after: number): Promise<{ resolved: string[]; signal: string | null }> {
  const child = spawn(process.execPath, ['--input-type=module', '--eval', CHILD], {
    env: {
      ...process.env,
      BACKEND_URL: new URL('./sqlite-backend.ts', import.meta.url).href,
      DB_PATH: path,
      AFTER: String(after),
      HOW: how,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const signal = await new Promise<string | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (_code, sig) => resolve(sig));
  });
  return { resolved: out.split('\n').filter((l) => l !== ''), signal };
}

for (const row of [
  { name: 'SIGKILL', how: 'kill' as const, after: 1, signal: 'SIGKILL' },
  { name: 'SIGKILL with writes in flight', how: 'kill' as const, after: 40, signal: 'SIGKILL' },
  { name: 'process.exit', how: 'exit' as const, after: 1, signal: null },
]) {
  test(`sqlite: a write whose promise resolved survives ${row.name} right after it resolves`, async () => {
    const path = freshPath();
    const { resolved, signal } = await runChild(path, row.how, row.after);
    assert.equal(signal, row.signal);
    assert.ok(resolved.length >= row.after, `child reported ${resolved.length} resolved writes`);
    const b = await open(path);
    try {
      for (const line of resolved) {
        const [key, rev] = line.split('@');
        assert.equal((await b.get(key))?.modRevision, Number(rev), `${key} resolved at ${rev} but is not on disk`);
      }
      assert.ok(b.currentRevision() >= resolved.length);
    } finally {
      await b.close();
    }
  });
}

test('sqlite: a failed commit rejects exactly its batch; a batch behind it and later writes commit', async () => {
  const faults = new SqliteFaults();
  const b = await open(freshPath(), faults);
  const seen: string[] = [];
  b.subscribe((events: readonly StoreEvent[]) => seen.push(...events.map((e) => `${e.kv.key}@${e.kv.modRevision}`)));
  try {
    await b.create('/registry/pods/base', 'base'); // 1
    faults.failCommits(1);
    faults.holdCommits();
    // Batch 1 (two writes) reaches the gate, then fails there.
    const doomed = [b.create('/registry/pods/a', 'A'), b.update('/registry/pods/base', 'base2', 1)];
    await waitFor('batch 1 at the commit gate', () => faults.waitingCommits() === 1);
    // Batch 2 is handed over while batch 1 is still in its transaction.
    const behind = b.create('/registry/pods/b', 'B');
    await new Promise<void>((resolve) => setImmediate(resolve));
    faults.releaseCommits();
    const results = await Promise.allSettled([...doomed, behind]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? `ok @${r.value.modRevision}` : (r.reason as Error).name)),
      ['SqliteWorkerError', 'SqliteWorkerError', 'ok @2'],
    );
    const first = results[0];
    assert.ok(first.status === 'rejected' && first.reason instanceof SqliteWorkerError);
    assert.equal(first.reason.originalName, 'InjectedCommitFailure');
    assert.deepEqual(seen, ['/registry/pods/base@1', '/registry/pods/b@2'], 'no events for the failed batch');
    assert.equal(await b.get('/registry/pods/a'), undefined);
    assert.equal((await b.get('/registry/pods/base'))?.value, 'base');
    // Later writes work, and the failed writes can be retried.
    assert.equal((await b.update('/registry/pods/base', 'base2', 1)).modRevision, 3);
    assert.equal((await b.create('/registry/pods/a', 'A')).modRevision, 4);
    assert.equal(b.currentRevision(), 4);
    assert.deepEqual(
      (await b.list('/registry/pods/')).kvs.map((kv) => `${kv.key}=${kv.value}@${kv.modRevision}`),
      ['/registry/pods/a=A@4', '/registry/pods/b=B@2', '/registry/pods/base=base2@3'],
    );
  } finally {
    faults.releaseCommits();
    await b.close();
  }
});

test('sqlite: the main thread keeps running while a commit is stuck in the worker', async () => {
  const faults = new SqliteFaults();
  const b = await open(freshPath(), faults);
  try {
    faults.holdCommits();
    let settled = false;
    const write = b.create('/registry/pods/a', 'A').finally(() => (settled = true));
    await waitFor('commit at the gate', () => faults.waitingCommits() === 1);
    // With the commit blocked, a synchronous store would not run a single
    // callback; here the event loop turns freely.
    let turns = 0;
    await new Promise<void>((resolve) => {
      const turn = (): void => {
        if (++turns === 200) resolve();
        else setImmediate(turn);
      };
      setImmediate(turn);
    });
    assert.equal(turns, 200);
    assert.equal(settled, false, 'the write must not resolve before its commit');
    assert.equal(b.currentRevision(), 0);
    faults.releaseCommits();
    assert.equal((await write).modRevision, 1);
    assert.equal(faults.heldCommits(), 1);
  } finally {
    faults.releaseCommits();
    await b.close();
  }
});

test('sqlite: get and list return committed values only, not writes still in their transaction', async () => {
  const faults = new SqliteFaults();
  const b = await open(freshPath(), faults);
  try {
    await b.create('/registry/pods/a', 'A1');
    faults.holdCommits();
    const write = b.update('/registry/pods/a', 'A2', 1);
    await waitFor('commit at the gate', () => faults.waitingCommits() === 1);
    const reads = Promise.all([b.get('/registry/pods/a'), b.list('/registry/pods/')]);
    faults.releaseCommits();
    await write;
    // Reads issued during the commit are served after it; the point is they
    // never see a value whose commit could still fail.
    const [got, listed] = await reads;
    assert.equal(got?.modRevision, listed.kvs[0].modRevision);
    assert.equal(listed.revision, 2);
    faults.failCommits(1);
    const failed = b.update('/registry/pods/a', 'A3', 2);
    const during = b.get('/registry/pods/a');
    await assert.rejects(failed, SqliteWorkerError);
    assert.equal((await during)?.value, 'A2');
  } finally {
    faults.releaseCommits();
    await b.close();
  }
});

test('sqlite: writes queued during a slow commit are merged into one transaction', async () => {
  const faults = new SqliteFaults();
  const b = await open(freshPath(), faults);
  try {
    faults.holdCommits();
    const first = b.create('/registry/pods/first', 'x');
    await waitFor('commit at the gate', () => faults.waitingCommits() === 1);
    const before = b.stats();
    // Ten separate flushes (one per turn) pile up in the worker behind the held commit.
    const rest: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      rest.push(b.create(`/registry/pods/p${i}`, 'x'));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    faults.releaseCommits();
    await Promise.all([first, ...rest]);
    const after = b.stats();
    assert.equal(after.writes - before.writes, 11);
    assert.equal(after.commits - before.commits, 2, 'the held commit, then one for the ten that waited');
  } finally {
    faults.releaseCommits();
    await b.close();
  }
});

test('sqlite: a backend that is not closed does not keep the process alive once idle', async () => {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '--eval',
      `const { SqliteBackend } = await import(process.env.BACKEND_URL);
       const b = new SqliteBackend({ path: process.env.DB_PATH });
       await b.start();
       await b.create('/registry/pods/a', 'A');
       console.log('done');`,
    ],
    {
      env: { ...process.env, BACKEND_URL: new URL('./sqlite-backend.ts', import.meta.url).href, DB_PATH: freshPath() },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  assert.equal(code, 0);
  assert.equal(out.trim(), 'done');
});

test('sqlite: a database that cannot be opened fails start() with the SQLite error; the backend still closes cleanly', async () => {
  const dir = join(root, `not-a-file-${++seq}`);
  mkdirSync(dir, { recursive: true });
  const b = new SqliteBackend({ path: dir }); // a directory: SQLite cannot open it
  await assert.rejects(b.start(), (err) => err instanceof SqliteWorkerError && /unable to open/i.test(err.message));
  await assert.rejects(b.create('/registry/pods/a', 'A'), { name: 'StoreNotStartedError' });
  await b.close();
  await assert.rejects(b.start(), { name: 'StoreClosedError' });
});

// The worker answers a write without its new value; the main thread rebuilds
// the events from its own writes and the replaced values the worker sends.
test('sqlite: events carry whole values and prevKv, also for rows written before a reopen', async () => {
  const path = freshPath();
  const first = await open(path);
  await first.create('/registry/pods/a', 'A1'); // 1
  await first.create('/registry/pods/b', 'B1'); // 2
  await first.close();
  const b = await open(path);
  try {
    const seen: StoreEvent[] = [];
    b.subscribe((events) => seen.push(...events));
    await b.update('/registry/pods/a', 'A2', 1); // 3
    await Promise.all([b.update('/registry/pods/b', 'B2', 2), b.delete('/registry/pods/b')]); // 4, 5: one batch
    await b.update('/registry/pods/a', 'A3', 3); // 6
    await b.delete('/registry/pods/a', 6); // 7
    await b.create('/registry/pods/a', 'A4'); // 8
    assert.deepEqual(
      seen.map((e) => `${e.type} ${e.kv.key}@${e.kv.modRevision}/${e.kv.createRevision}=${e.kv.value} prev@${e.prevKv?.modRevision}=${e.prevKv?.value}`),
      [
        'update /registry/pods/a@3/1=A2 prev@1=A1',
        'update /registry/pods/b@4/2=B2 prev@2=B1',
        'delete /registry/pods/b@5/2=B2 prev@4=B2',
        'update /registry/pods/a@6/1=A3 prev@3=A2',
        'delete /registry/pods/a@7/1=A3 prev@6=A3',
        'create /registry/pods/a@8/8=A4 prev@undefined=undefined',
      ],
    );
  } finally {
    await b.close();
  }
});
