import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../../apimachinery/index.ts';
import { ApiError, RestClient } from '../../../client/index.ts';
import { startTestCluster, type TestCluster } from '../../../testing/index.ts';
import type { ObjectSource } from '../../plugin.ts';
import { VolumeSetupError } from '../../plugin.ts';
import type { KeyToPath } from '../../types.ts';
import { lsL, makeTempDir, mapObjectSource, removeTempDir, testHost, testPod } from '../../test-framework.ts';
import { ConfigMapPlugin, makeConfigMapPayload } from './index.ts';

const signal = new AbortController().signal;

/** The seed's log-config ConfigMap (§1.4). */
const logConfig: KubeObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'log-config', namespace: 'default' },
  data: {
    log_level: 'INFO',
    'ui.properties': 'color.good=purple\ncolor.bad=yellow\nallow.textmode=true\nhow.nice.to.look=fairlyNice\n',
  },
  binaryData: { 'logo.bin': Buffer.from([0, 1, 2, 255]).toString('base64') },
};

describe('makeConfigMapPayload', () => {
  const rows: {
    name: string;
    items?: KeyToPath[];
    cm?: KubeObject;
    defaultMode?: number;
    optional?: boolean;
    want?: Record<string, { text?: string; bytes?: number[]; mode: number }>;
    error?: string;
  }[] = [
    {
      name: '1 no items: every data and binaryData key at defaultMode 0644',
      cm: logConfig,
      want: {
        log_level: { text: 'INFO', mode: 0o644 },
        'ui.properties': { text: (logConfig.data as Record<string, string>)['ui.properties'], mode: 0o644 },
        'logo.bin': { bytes: [0, 1, 2, 255], mode: 0o644 },
      },
    },
    {
      name: '2 items map keys to paths with per-item modes over defaultMode',
      cm: logConfig,
      defaultMode: 0o400,
      items: [{ key: 'log_level', path: 'conf/level' }, { key: 'ui.properties', path: 'ui', mode: 0o600 }],
      want: { 'conf/level': { text: 'INFO', mode: 0o400 }, ui: { text: (logConfig.data as Record<string, string>)['ui.properties'], mode: 0o600 } },
    },
    {
      name: '3 a listed key that does not exist fails with upstream\'s message',
      cm: logConfig,
      items: [{ key: 'x', path: 'x' }],
      error: 'configmap references non-existent config key: x',
    },
    { name: '4 optional: a missing key is skipped', cm: logConfig, optional: true, items: [{ key: 'x', path: 'x' }], want: {} },
    { name: '5 optional: a missing ConfigMap is an empty volume', optional: true, want: {} },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const run = (): ReturnType<typeof makeConfigMapPayload> => makeConfigMapPayload(row.items, row.cm, row.defaultMode, row.optional ?? false);
      if (row.error !== undefined) {
        assert.throws(run, { message: row.error });
        return;
      }
      const got = Object.fromEntries([...run()].map(([k, v]) => [k, { mode: v.mode, data: [...v.data] }]));
      const want = Object.fromEntries(Object.entries(row.want!).map(([k, v]) => [k, { mode: v.mode, data: v.bytes ?? [...Buffer.from(v.text!)] }]));
      assert.deepEqual(got, want);
    });
  }
});

describe('configMap volume (in-memory objects)', () => {
  let root = '';
  before(async () => {
    root = await makeTempDir('configmap');
  });
  after(async () => {
    await removeTempDir(root);
  });

  it('1 a missing ConfigMap fails setUp with `configmap "x" not found` and leaves no directory', async () => {
    const plugin = new ConfigMapPlugin(testHost(root, mapObjectSource({})));
    const m = plugin.newMounter({ volume: { name: 'cfg', configMap: { name: 'x' } }, readOnly: false }, testPod());
    await assert.rejects(m.setUp({ signal }), (err: unknown) => {
      assert.ok(err instanceof VolumeSetupError);
      assert.equal(err.message, 'configmap "x" not found');
      return true;
    });
    await assert.rejects(stat(m.getPath()), { code: 'ENOENT' });
  });

  it('2 fsGroup: files get the group and group read', async () => {
    const plugin = new ConfigMapPlugin(testHost(root, mapObjectSource({ configMaps: [logConfig] })));
    const pod = testPod();
    const m = plugin.newMounter({ volume: { name: 'cfg', configMap: { name: 'log-config' } }, readOnly: false }, pod);
    await m.setUp({ signal, fsGroup: 3456 });
    const st = await stat(join(m.getPath(), 'log_level'));
    assert.equal(st.gid, 3456);
    assert.equal(st.mode & 0o777, 0o644);
    await plugin.newUnmounter('cfg', pod.metadata.uid!).tearDown(signal);
    await assert.rejects(stat(m.getPath()), { code: 'ENOENT' });
  });
});

describe('configMap volume against a real API server', () => {
  let cluster: TestCluster;
  let client: RestClient;
  let root = '';
  const source: ObjectSource = {
    getConfigMap: (ns, name) => getOrUndefined(`/api/v1/namespaces/${ns}/configmaps/${name}`),
    getSecret: (ns, name) => getOrUndefined(`/api/v1/namespaces/${ns}/secrets/${name}`),
  };
  async function getOrUndefined(path: string): Promise<KubeObject | undefined> {
    try {
      return await client.get(path);
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }
  before(async () => {
    cluster = await startTestCluster();
    client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
    root = await makeTempDir('configmap-api');
  });
  after(async () => {
    client?.close();
    await cluster?.close();
    await removeTempDir(root);
  });

  it('1 the seed\'s configmap-pod: `ls -l /etc/config` shape and content; an update re-syncs on the next setUp', async () => {
    await client.create('/api/v1/namespaces/default/configmaps', { ...logConfig, binaryData: undefined });
    const plugin = new ConfigMapPlugin(testHost(root, source));
    const pod = testPod();
    const spec = {
      volume: {
        name: 'config-vol',
        configMap: { name: 'log-config', items: [{ key: 'log_level', path: 'log_level' }, { key: 'ui.properties', path: 'ui.properties' }] },
      },
      readOnly: false,
    };
    const m = plugin.newMounter(spec, pod);
    await m.setUp({ signal });
    const visible = (await lsL(m.getPath())).filter((e) => !e.name.startsWith('..'));
    assert.deepEqual(visible, [
      { name: 'log_level', type: 'l', target: '..data/log_level' },
      { name: 'ui.properties', type: 'l', target: '..data/ui.properties' },
    ]);
    assert.equal(await readFile(join(m.getPath(), 'log_level'), 'utf8'), 'INFO');
    assert.match(await readFile(join(m.getPath(), 'ui.properties'), 'utf8'), /^color\.good=purple\n/);

    await client.patch('/api/v1/namespaces/default/configmaps/log-config', { data: { log_level: 'DEBUG' } });
    await plugin.newMounter(spec, pod).setUp({ signal });
    assert.equal(await readFile(join(m.getPath(), 'log_level'), 'utf8'), 'DEBUG');
    await plugin.newUnmounter('config-vol', pod.metadata.uid!).tearDown(signal);
  });
});
