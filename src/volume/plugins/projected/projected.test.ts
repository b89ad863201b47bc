import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../../apimachinery/index.ts';
import { lsL, makeTempDir, mapObjectSource, mountsUnder, removeTempDir, testHost, testPod } from '../../test-framework.ts';
import type { PodVolume } from '../../types.ts';
import { ProjectedPlugin } from './index.ts';

const signal = new AbortController().signal;
const cm: KubeObject = { metadata: { name: 'app-config', namespace: 'default' }, data: { 'app.yaml': 'debug: true\n' } };
const secret: KubeObject = { metadata: { name: 'app-secret', namespace: 'default' }, data: { token: Buffer.from('t0k').toString('base64') } };

describe('projected volume', () => {
  let root = '';
  before(async () => {
    root = await makeTempDir('projected');
  });
  after(async () => {
    await removeTempDir(root);
  });

  it('1 secret, configMap, downwardAPI and token sources merged into one tmpfs-backed directory', async () => {
    const host = testHost(root, mapObjectSource({ configMaps: [cm], secrets: [secret] }));
    const plugin = new ProjectedPlugin(host, { getToken: async (req) => `token-for-${req.serviceAccountName}` });
    const pod = testPod();
    const volume: PodVolume = {
      name: 'all-in-one',
      projected: {
        defaultMode: 0o440,
        sources: [
          { secret: { name: 'app-secret', items: [{ key: 'token', path: 'secret/token', mode: 0o400 }] } },
          { configMap: { name: 'app-config' } },
          { downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
          { serviceAccountToken: { path: 'sa-token' } },
        ],
      },
    };
    const m = plugin.newMounter({ volume, readOnly: false }, pod);
    try {
      await m.setUp({ signal });
      assert.deepEqual((await lsL(m.getPath())).filter((e) => !e.name.startsWith('..')).map((e) => `${e.name} -> ${e.target}`), [
        'app.yaml -> ..data/app.yaml',
        'name -> ..data/name',
        'sa-token -> ..data/sa-token',
        'secret -> ..data/secret',
      ]);
      assert.equal(await readFile(join(m.getPath(), 'secret/token'), 'utf8'), 't0k');
      assert.equal((await stat(join(m.getPath(), 'secret/token'))).mode & 0o777, 0o400);
      assert.equal((await stat(join(m.getPath(), 'app.yaml'))).mode & 0o777, 0o440);
      assert.equal(await readFile(join(m.getPath(), 'name'), 'utf8'), 'pod-1');
      assert.equal(await readFile(join(m.getPath(), 'sa-token'), 'utf8'), 'token-for-default');
      const mounts = (await host.mountUtil.listMounts()).filter((x) => x.mountPoint === m.getPath());
      assert.deepEqual(mounts.map((x) => x.fsType), ['tmpfs']);
    } finally {
      await plugin.newUnmounter('all-in-one', pod.metadata.uid!).tearDown(signal);
    }
    assert.deepEqual(await mountsUnder(root), []);
  });

  it('2 errors of several sources are reported together; optional sources may be missing', async () => {
    const plugin = new ProjectedPlugin(testHost(root, mapObjectSource({})));
    const volume: PodVolume = {
      name: 'broken',
      projected: {
        sources: [
          { configMap: { name: 'gone' } },
          { secret: { name: 'gone-too' } },
          { configMap: { name: 'maybe', optional: true } },
        ],
      },
    };
    const m = plugin.newMounter({ volume, readOnly: false }, testPod());
    await assert.rejects(m.setUp({ signal }), { name: 'VolumeSetupError', message: '[configmap "gone" not found, secret "gone-too" not found]' });
    assert.deepEqual(await mountsUnder(root), []);
  });
});
