import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VolumeSetupError } from '../../plugin.ts';
import { makeTempDir, mountsUnder, removeTempDir, testHost, testPod } from '../../test-framework.ts';
import { EmptyDirPlugin, sizeLimitBytes } from './index.ts';

const signal = new AbortController().signal;

describe('emptyDir', () => {
  let root = '';
  before(async () => {
    root = await makeTempDir('emptydir');
  });
  after(async () => {
    await removeTempDir(root);
  });

  it('1 disk: a 0777 directory under the pod volume dir; teardown deletes it', async () => {
    const plugin = new EmptyDirPlugin(testHost(root));
    const pod = testPod();
    const m = plugin.newMounter({ volume: { name: 'cache', emptyDir: {} }, readOnly: false }, pod);
    assert.equal(m.getPath(), join(root, 'pods', pod.metadata.uid!, 'volumes', 'kubernetes.io~empty-dir', 'cache'));
    await m.setUp({ signal });
    await m.setUp({ signal });
    assert.equal((await stat(m.getPath())).mode & 0o7777, 0o777);
    await writeFile(join(m.getPath(), 'abc.txt'), 'x');
    const u = plugin.newUnmounter('cache', pod.metadata.uid!);
    await u.tearDown(signal);
    await assert.rejects(stat(m.getPath()), { code: 'ENOENT' });
    await u.tearDown(signal);
  });

  it('2 memory with sizeLimit: a tmpfs of that size; writing past it fails with ENOSPC; teardown unmounts', async () => {
    const plugin = new EmptyDirPlugin(testHost(root));
    const pod = testPod({ metadata: { name: 'p2', namespace: 'default', uid: '11111111-2222-3333-4444-555555555555' } });
    const m = plugin.newMounter({ volume: { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }, readOnly: false }, pod);
    try {
      await m.setUp({ signal });
      await m.setUp({ signal }); // idempotent: no second tmpfs stacked on the first
      const mounts = (await testHost(root).mountUtil.listMounts()).filter((x) => x.mountPoint === m.getPath());
      assert.equal(mounts.length, 1);
      assert.equal(mounts[0].fsType, 'tmpfs');
      assert.ok(mounts[0].superOptions.includes('size=1024k'), mounts[0].superOptions.join(','));
      await writeFile(join(m.getPath(), 'fits'), Buffer.alloc(512 * 1024));
      // writeFile loops over short writes, so the kernel's "full" surfaces as ENOSPC.
      await assert.rejects(writeFile(join(m.getPath(), 'too-big'), Buffer.alloc(1024 * 1024)), { code: 'ENOSPC' });
    } finally {
      await plugin.newUnmounter('mem', pod.metadata.uid!).tearDown(signal);
    }
    assert.deepEqual(await mountsUnder(root), []);
    await assert.rejects(stat(m.getPath()), { code: 'ENOENT' });
  });

  it('3 fsGroup: the directory gets the group, setgid and group rw', async () => {
    const plugin = new EmptyDirPlugin(testHost(root));
    const pod = testPod({ metadata: { name: 'p3', namespace: 'default', uid: '33333333-2222-3333-4444-555555555555' } });
    const m = plugin.newMounter({ volume: { name: 'g', emptyDir: {} }, readOnly: false }, pod);
    await m.setUp({ signal, fsGroup: 2345 });
    const st = await stat(m.getPath());
    assert.equal(st.gid, 2345);
    assert.equal(st.mode & 0o2000, 0o2000);
    await plugin.newUnmounter('g', pod.metadata.uid!).tearDown(signal);
  });

  const limits: { name: string; in: string | undefined; want: bigint | undefined }[] = [
    { name: '4a 1Mi', in: '1Mi', want: 1048576n },
    { name: '4b 1.5M rounds up to whole bytes', in: '1.5M', want: 1500000n },
    { name: '4c 100m (fraction of a byte) rounds up to 1', in: '100m', want: 1n },
    { name: '4d none', in: undefined, want: undefined },
  ];
  for (const row of limits) {
    it(`${row.name}: sizeLimit in bytes`, () => assert.equal(sizeLimitBytes(row.in), row.want));
  }

  it('5 an unknown medium or an invalid sizeLimit is a VolumeSetupError', () => {
    const plugin = new EmptyDirPlugin(testHost(root));
    assert.throws(() => plugin.newMounter({ volume: { name: 'h', emptyDir: { medium: 'HugePages' } }, readOnly: false }, testPod()), VolumeSetupError);
    assert.throws(() => plugin.newMounter({ volume: { name: 'h', emptyDir: { sizeLimit: 'lots' } }, readOnly: false }, testPod()), VolumeSetupError);
  });
});
