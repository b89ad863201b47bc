import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger, waitFor } from '../base/index.ts';
import { ApiError } from './rest.ts';
import { BucketRateLimiter, ItemExponentialRateLimiter, runWorkers, WorkQueue } from './workqueue.ts';

/** A get() that must already have a key ready: never waits. */
async function getNow<K>(q: WorkQueue<K>): Promise<K | undefined> {
  const marker = Symbol('pending');
  const r = await Promise.race([q.get(), new Promise<typeof marker>((resolve) => setImmediate(() => resolve(marker)))]);
  assert.notEqual(r, marker, 'get() should not have waited');
  return r as K | undefined;
}

describe('WorkQueue', () => {
  test('1 dedupe: a key queued several times is handed out once', async () => {
    const q = new WorkQueue({ bucket: false });
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.len(), 2);
    assert.equal(await getNow(q), 'a');
    assert.equal(await getNow(q), 'b');
    assert.equal(q.len(), 0);
    q.shutDown();
  });

  test('2 processing/dirty: a key added while processed is requeued only after done', async () => {
    const q = new WorkQueue({ bucket: false });
    q.add('a');
    const k = await getNow(q);
    q.add('a');
    q.add('a');
    assert.equal(q.len(), 0, 'not queued while it is being processed');
    let second: string | undefined;
    const waiting = q.get().then((v) => (second = v));
    await new Promise((r) => setImmediate(r));
    assert.equal(second, undefined, 'a second worker does not get the key being processed');
    q.done(k!);
    await waiting;
    assert.equal(second, 'a', 'queued again after done, once');
    q.done('a');
    assert.equal(q.len(), 0);
    q.shutDown();
  });

  test('3 done without a re-add does not requeue', async () => {
    const q = new WorkQueue({ bucket: false });
    q.add('a');
    q.done((await getNow(q))!);
    assert.equal(q.len(), 0);
    q.shutDown();
  });

  test('3b a long queue keeps FIFO order while keys are taken and added in turn', async () => {
    // Long enough that the taken prefix is cut off several times.
    const q = new WorkQueue<number>({ bucket: false });
    for (let i = 0; i < 5000; i++) q.add(i);
    const got: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const k = (await getNow(q))!;
      got.push(k);
      q.done(k);
      if (i % 2 === 0) q.add(5000 + i / 2);
      assert.equal(q.len(), 5000 - (i + 1) + Math.floor(i / 2) + 1, `length after ${i + 1} taken`);
    }
    while (q.len() > 0) {
      const k = (await getNow(q))!;
      got.push(k);
      q.done(k);
    }
    assert.deepEqual(got, Array.from({ length: 7500 }, (_, i) => i));
    q.shutDown();
  });

  test('4 shutDown: queued keys are still handed out, then undefined; adds are ignored', async () => {
    const q = new WorkQueue({ bucket: false });
    q.add('a');
    const idle = q.get();
    const idle2 = q.get();
    assert.equal(await idle, 'a');
    q.shutDown();
    assert.equal(await idle2, undefined, 'a waiting getter is released');
    q.add('b');
    assert.equal(q.len(), 0);
    assert.equal(await q.get(), undefined);
  });

  test('5 shutDown cancels delayed adds', async () => {
    const q = new WorkQueue({ bucket: false });
    q.addAfter('late', 30);
    q.shutDown();
    const keepAlive = setTimeout(() => {}, 200);
    await new Promise((r) => setTimeout(r, 60));
    clearTimeout(keepAlive);
    assert.equal(q.len(), 0);
  });

  test('6 addAfter: the key appears after the delay; the earlier of two delays wins', async () => {
    const q = new WorkQueue({ bucket: false });
    const keepAlive = setInterval(() => {}, 1000);
    try {
      const t0 = Date.now();
      q.addAfter('a', 10_000);
      q.addAfter('a', 40);
      assert.equal(q.len(), 0);
      assert.equal(await q.get(), 'a');
      assert.ok(Date.now() - t0 >= 35, `came after ${Date.now() - t0} ms`);
      q.done('a');
      q.addAfter('now', 0);
      assert.equal(q.len(), 1, 'a delay of 0 adds at once');
    } finally {
      clearInterval(keepAlive);
      q.shutDown();
    }
  });

  test('7 per-key backoff doubles from the base, is capped, and forget resets it', () => {
    const l = new ItemExponentialRateLimiter<string>(5, 100);
    assert.deepEqual([l.when('a'), l.when('a'), l.when('a'), l.when('a'), l.when('a'), l.when('a')], [5, 10, 20, 40, 80, 100]);
    assert.equal(l.when('b'), 5, 'keys back off independently');
    assert.equal(l.numRequeues('a'), 6);
    l.forget('a');
    assert.equal(l.numRequeues('a'), 0);
    assert.equal(l.when('a'), 5);
  });

  test('8 the default limiter is capped at 1000 s and never overflows', () => {
    const l = new ItemExponentialRateLimiter<string>();
    let last = 0;
    for (let i = 0; i < 2000; i++) last = l.when('k');
    assert.equal(last, 1_000_000);
  });

  test('9 token bucket: burst free, then 1/qps apart', () => {
    let now = 0;
    const b = new BucketRateLimiter<string>(10, 3, () => now);
    assert.deepEqual([b.when('a'), b.when('b'), b.when('c')], [0, 0, 0]);
    assert.equal(Math.round(b.when('d')), 100);
    assert.equal(Math.round(b.when('e')), 200);
    now = 1000;
    assert.equal(b.when('f'), 0, 'refilled after a second');
  });

  test('10 addRateLimited counts requeues; forget resets; the overall bucket delays bursts', async () => {
    const q = new WorkQueue({ baseDelayMs: 1, maxDelayMs: 4, bucket: { qps: 1, burst: 2 } });
    const keepAlive = setInterval(() => {}, 1000);
    try {
      q.addRateLimited('a');
      q.addRateLimited('a');
      assert.equal(q.numRequeues('a'), 2);
      assert.equal(await q.get(), 'a');
      q.done('a');
      q.forget('a');
      assert.equal(q.numRequeues('a'), 0);
      // Bucket empty now: the third rate-limited add waits about a second.
      q.addRateLimited('b');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(q.len(), 0, 'held back by the token bucket');
    } finally {
      clearInterval(keepAlive);
      q.shutDown();
    }
  });
});

describe('runWorkers', () => {
  test('11 success forgets, failure requeues with backoff, conflict requeues quietly, abort stops', async () => {
    const q = new WorkQueue<string>({ baseDelayMs: 1, maxDelayMs: 10, bucket: false });
    const ac = new AbortController();
    const calls: string[] = [];
    const errors: string[] = [];
    let failFirst = 3;
    let conflictOnce = true;
    const done = runWorkers(
      q,
      2,
      async (key) => {
        calls.push(key);
        if (key === 'flaky' && failFirst-- > 0) throw new Error('boom');
        if (key === 'conflict' && conflictOnce) {
          conflictOnce = false;
          throw new ApiError(409, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Conflict', code: 409 }, '');
        }
      },
      { signal: ac.signal, logger: silentLogger(), onError: (key, err) => errors.push(`${key}: ${err.message}`) },
    );
    q.add('ok');
    q.add('flaky');
    q.add('conflict');
    await waitFor('flaky synced four times, conflict twice', () => calls.filter((c) => c === 'flaky').length === 4 && calls.filter((c) => c === 'conflict').length === 2);
    await waitFor('flaky forgotten after success', () => q.numRequeues('flaky') === 0);
    assert.deepEqual(errors, ['flaky: boom', 'flaky: boom', 'flaky: boom'], 'conflicts do not reach onError');
    assert.equal(calls.filter((c) => c === 'ok').length, 1);
    ac.abort();
    await done;
    assert.equal(q.shuttingDown, true);
  });

  test('12 one key is never synced by two workers at once', async () => {
    const q = new WorkQueue<string>({ bucket: false });
    const ac = new AbortController();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const done = runWorkers(
      q,
      4,
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        runs++;
      },
      { signal: ac.signal, logger: silentLogger() },
    );
    for (let i = 0; i < 20; i++) {
      q.add('same');
      await new Promise((r) => setTimeout(r, 1));
    }
    await waitFor('queue drained', () => q.len() === 0 && active === 0);
    ac.abort();
    await done;
    assert.equal(maxActive, 1);
    assert.ok(runs >= 2 && runs < 20, `re-adds during processing collapse (${runs} runs)`);
  });

  // A resync queues every object, and syncing one that is already as it should be needs no I/O:
  // without a turn now and then the queue drains in one go while sockets and timers wait.
  const yieldRows: { name: string; workers: number }[] = [
    { name: 'one worker', workers: 1 },
    { name: 'sixteen workers', workers: 16 },
  ];
  for (const row of yieldRows) {
    test(`13 ${row.name} draining 200,000 keys that need no I/O let a timer run before the queue is empty`, async () => {
      const q = new WorkQueue<number>({ bucket: false });
      const ac = new AbortController();
      const total = 200_000;
      let synced = 0;
      const done = runWorkers(
        q,
        row.workers,
        async () => {
          synced++;
        },
        { signal: ac.signal, logger: silentLogger() },
      );
      for (let i = 0; i < total; i++) q.add(i);
      const syncedWhenTimerRan = await new Promise<number>((resolve) => setTimeout(() => resolve(synced), 0));
      await waitFor('queue drained', () => synced === total);
      ac.abort();
      await done;
      assert.ok(syncedWhenTimerRan < total, `the timer ran only after all ${total} syncs`);
    });
  }
});
