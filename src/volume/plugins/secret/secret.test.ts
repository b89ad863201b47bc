import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../../apimachinery/index.ts';
import { makeTempDir, mapObjectSource, mountsUnder, removeTempDir, testHost, testPod } from '../../test-framework.ts';
import { makeSecretPayload, SecretPlugin } from './index.ts';

const signal = new AbortController().signal;
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const creds: KubeObject = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'creds', namespace: 'default' },
  data: { username: b64('admin'), password: b64('s3cr3t') },
};

describe('makeSecretPayload', () => {
  it('1 data values are written decoded, at defaultMode', () => {
    const p = makeSecretPayload(undefined, creds, 0o400, false);
    assert.equal(p.get('password')?.data.toString(), 's3cr3t');
    assert.equal(p.get('password')?.mode, 0o400);
  });
  it('2 a listed key that does not exist fails with upstream\'s message', () => {
    assert.throws(() => makeSecretPayload([{ key: 'token', path: 't' }], creds, undefined, false), {
      message: 'references non-existent secret key: token',
    });
  });
});

describe('secret volume', () => {
  let root = '';
  before(async () => {
    root = await makeTempDir('secret');
  });
  after(async () => {
    await removeTempDir(root);
  });

  it('1 lives on a tmpfs at the volume dir; teardown unmounts and removes it', async () => {
    const host = testHost(root, mapObjectSource({ secrets: [creds] }));
    const plugin = new SecretPlugin(host);
    const pod = testPod();
    const m = plugin.newMounter({ volume: { name: 'creds', secret: { secretName: 'creds', items: [{ key: 'password', path: 'db/password', mode: 0o600 }] } }, readOnly: false }, pod);
    try {
      await m.setUp({ signal });
      await m.setUp({ signal });
      const mounts = (await host.mountUtil.listMounts()).filter((x) => x.mountPoint === m.getPath());
      assert.deepEqual(mounts.map((x) => x.fsType), ['tmpfs']);
      assert.equal(await readFile(join(m.getPath(), 'db/password'), 'utf8'), 's3cr3t');
      assert.equal((await stat(join(m.getPath(), 'db/password'))).mode & 0o777, 0o600);
    } finally {
      await plugin.newUnmounter('creds', pod.metadata.uid!).tearDown(signal);
    }
    assert.deepEqual(await mountsUnder(root), []);
    await assert.rejects(stat(m.getPath()), { code: 'ENOENT' });
  });

  it('2 a missing secret fails with `secret "nope" not found` and leaves no mount', async () => {
    const plugin = new SecretPlugin(testHost(root, mapObjectSource({})));
    const m = plugin.newMounter({ volume: { name: 's', secret: { secretName: 'nope' } }, readOnly: false }, testPod());
    await assert.rejects(m.setUp({ signal }), { name: 'VolumeSetupError', message: 'secret "nope" not found' });
    assert.deepEqual(await mountsUnder(root), []);
  });
});
