import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { resourcePath, resources } from '../client/index.ts';
import { runSteps, startControllerEnv, waitForState, type ControllerEnv } from './index.ts';

describe('startControllerEnv', () => {
  it('1 runs the start function after beforeStart with the context, and close() stops it, then takes the cluster down (idempotent)', async () => {
    const order: string[] = [];
    let seenSignal: AbortSignal | undefined;
    const env = await startControllerEnv(
      (ctx, signal) => {
        order.push('start');
        seenSignal = signal;
        assert.ok(ctx.client !== undefined && ctx.informers !== undefined && ctx.recorder !== undefined && ctx.logger !== undefined);
        const controller = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })).then(() => {
          order.push('controller stopped');
        });
        return [controller, Promise.resolve()];
      },
      { beforeStart: () => void order.push('beforeStart') },
    );
    await env.createNamespace('made-by-env');
    const ns = await env.client.get(resourcePath(resources.namespaces, undefined, 'made-by-env'));
    assert.equal(ns.metadata.name, 'made-by-env');
    assert.equal(seenSignal, env.signal);

    const close = env.close();
    assert.equal(env.close(), close, 'a second close() returns the same promise');
    await close;
    order.push('closed');
    assert.deepEqual(order, ['beforeStart', 'start', 'controller stopped', 'closed']);
    assert.equal(env.signal.aborted, true);
    await assert.rejects(access(env.cluster.dataDir), 'the cluster directory is removed');
  });

  it('2 a failing beforeStart closes what was started and is thrown; the controllers never start', async () => {
    let captured: ControllerEnv | undefined;
    let started = false;
    await assert.rejects(
      startControllerEnv(
        () => {
          started = true;
          return Promise.resolve();
        },
        {
          beforeStart: (env) => {
            captured = env;
            throw new Error('probe failed');
          },
        },
      ),
      /probe failed/,
    );
    assert.equal(started, false);
    assert.ok(captured !== undefined);
    assert.equal(captured.signal.aborted, true);
    await assert.rejects(access(captured.cluster.dataDir));
  });
});

describe('waitForState', () => {
  it('1 returns the first observation without problems', async () => {
    let n = 0;
    const got = await waitForState('n reaches 3', async () => ++n, (v) => (v >= 3 ? undefined : `n is ${v}`), { intervalMs: 1 });
    assert.equal(got, 3);
  });

  it('2 empty strings and empty lists mean nothing is wrong', async () => {
    assert.deepEqual(await waitForState('no problems', async () => ['', ''], (v) => v), ['', '']);
    assert.equal(await waitForState('no problem', async () => '', (v) => v), '');
  });

  it('3 fails with what it waited for and the problems last found', async () => {
    await assert.rejects(
      waitForState('the impossible', async () => 1, () => ['first wrong', '', 'second wrong'], { timeoutMs: 30, intervalMs: 5 }),
      (err: unknown) => err instanceof assert.AssertionError && /^the impossible: first wrong; second wrong \(/.test(err.message),
    );
  });
});

describe('runSteps', () => {
  it('1 acts on the last observed world, then waits for each step in turn', async () => {
    let value = 0;
    const seen: number[] = [];
    await runSteps(
      { bump: (by: number) => (value += by) },
      [
        { what: 'starts at 0', want: (w: number) => (w === 0 ? undefined : `value ${w}`) },
        { what: 'bumped to 2', act: async (env, w) => void (seen.push(w), env.bump(2)), want: (w) => (w === 2 ? undefined : `value ${w}`) },
        { what: 'bumped to 5', act: async (env, w) => void (seen.push(w), env.bump(3)), want: (w) => (w === 5 ? undefined : `value ${w}`) },
      ],
      async () => value,
      { intervalMs: 1 },
    );
    assert.deepEqual(seen, [0, 2]);
  });

  it('2 a step that never holds fails the row with its name', async () => {
    await assert.rejects(
      runSteps({}, [{ what: 'never', want: () => 'still wrong' }], async () => 0, { timeoutMs: 20, intervalMs: 5 }),
      /^AssertionError.*never: still wrong/,
    );
  });
});
