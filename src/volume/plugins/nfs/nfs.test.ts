import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { VolumeSetupError } from '../../plugin.ts';
import { makeTempDir, mountsUnder, removeTempDir, testHost, testPod } from '../../test-framework.ts';
import { NFSPlugin, nfsMountSource } from './index.ts';

describe('nfs volume', () => {
  let root = '';
  before(async () => {
    root = await makeTempDir('nfs');
  });
  after(async () => {
    await removeTempDir(root);
  });

  it('1 an unreachable server fails setUp within the mount timeout, with the command in the message, leaving nothing behind', async () => {
    const plugin = new NFSPlugin(testHost(root));
    // 192.0.2.0/24 is TEST-NET-1: never routed. Without kernel NFS support the mount fails at once instead.
    const m = plugin.newMounter({ volume: { name: 'data', nfs: { server: '192.0.2.1', path: '/mnt/nfs_share' } }, readOnly: false }, testPod(), {
      mountTimeoutMs: 3_000,
    });
    const started = Date.now();
    await assert.rejects(m.setUp({ signal: new AbortController().signal }), (err: unknown) => {
      assert.ok(err instanceof VolumeSetupError);
      assert.equal(err.reason, 'FailedMount');
      assert.match(err.message, /192\.0\.2\.1:\/mnt\/nfs_share/);
      return true;
    });
    assert.ok(Date.now() - started < 3_000 + 2_000, `took ${Date.now() - started} ms`);
    assert.deepEqual(await mountsUnder(root), []);
    await assert.rejects(stat(m.getPath()), { code: 'ENOENT' });
  });

  it('2 the mount source is server:path, an IPv6 server in brackets', () => {
    assert.equal(nfsMountSource('192.168.3.103', '/mnt/nfs_share'), '192.168.3.103:/mnt/nfs_share');
    assert.equal(nfsMountSource('fd00::1', '/export'), '[fd00::1]:/export');
  });
});
