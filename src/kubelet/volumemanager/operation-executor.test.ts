import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../base/index.ts';
import { ExponentialBackoff, OperationExecutor, type OperationKey } from './operation-executor.ts';

describe('ExponentialBackoff', () => {
  it('1 doubles from the initial delay up to the maximum; a success resets it', () => {
    let now = 1000;
    const b = new ExponentialBackoff(500, 2000, () => now);
    assert.deepEqual([b.recordFailure('k'), b.recordFailure('k'), b.recordFailure('k'), b.recordFailure('k')], [500, 1000, 2000, 2000]);
    assert.equal(b.isBackingOff('k'), true);
    now += 2000;
    assert.equal(b.isBackingOff('k'), false);
    b.reset('k');
    assert.equal(b.recordFailure('k'), 500);
    assert.equal(b.isBackingOff('other'), false);
  });
});

describe('OperationExecutor', () => {
  it('2 one operation per key at a time; a failure backs off that kind only', async () => {
    let now = 0;
    let settled = 0;
    const ex = new OperationExecutor({ logger: silentLogger(), backoff: new ExponentialBackoff(500, 120_000, () => now), onSettled: () => settled++ });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    assert.equal(ex.run('p/a', 'mount', () => gate), true);
    assert.equal(ex.run('p/a', 'unmount', async () => {}), false, 'in flight');
    assert.equal(ex.run('p/b', 'mount', async () => {}), true, 'another volume runs');
    release();
    await ex.drain();
    assert.equal(settled, 2);
    assert.equal(ex.run('p/a', 'mount', async () => { throw new Error('boom'); }), true);
    await ex.drain();
    assert.equal(ex.isBackingOff('p/a', 'mount'), true);
    assert.equal(ex.run('p/a', 'mount', async () => {}), false, 'backing off');
    assert.equal(ex.run('p/a', 'unmount', async () => {}), true, 'unmount is not held up by failed mounts');
    await ex.drain();
    now += 500;
    assert.equal(ex.run('p/a', 'mount', async () => {}), true);
    await ex.drain();
  });

  const nested: { name: string; first: OperationKey | string; second: OperationKey | string; runs: boolean }[] = [
    { name: '3a a volume-wide op (device mount) holds off a pod op on that volume', first: { volume: 'u' }, second: { volume: 'u', pod: 'p1' }, runs: false },
    { name: '3b a pod op holds off a volume-wide op (UnmountDevice) on that volume', first: { volume: 'u', pod: 'p1' }, second: { volume: 'u' }, runs: false },
    { name: '3c pod ops of two pods on one volume run side by side', first: { volume: 'u', pod: 'p1' }, second: { volume: 'u', pod: 'p2' }, runs: true },
    { name: '3d the same pair twice is refused', first: { volume: 'u', pod: 'p1' }, second: { volume: 'u', pod: 'p1' }, runs: false },
    { name: '3e volume-wide ops of two volumes run side by side', first: { volume: 'u' }, second: { volume: 'v' }, runs: true },
    { name: '3f a plain string key is a volume-wide key', first: 'u', second: { volume: 'u', pod: 'p1' }, runs: false },
  ];
  for (const row of nested) {
    it(row.name, async () => {
      const ex = new OperationExecutor({ logger: silentLogger(), backoff: new ExponentialBackoff(), onSettled: () => {} });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      assert.equal(ex.run(row.first, 'mount', () => gate), true);
      assert.equal(ex.isPending(row.second), !row.runs);
      assert.equal(ex.run(row.second, 'unmount', async () => {}), row.runs);
      release();
      await ex.drain();
      assert.equal(ex.isPending(row.first), false);
      assert.equal(ex.run(row.second, 'unmount', async () => {}), true, 'free once the first settled');
      await ex.drain();
    });
  }
});
