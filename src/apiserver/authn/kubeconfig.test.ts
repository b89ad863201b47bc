import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { writeKubeconfig, type KubeconfigOptions } from './kubeconfig.ts';

const fromBase64 = (s: unknown): string => Buffer.from(String(s), 'base64').toString('utf8');

test('writeKubeconfig', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'volplane-kubeconfig-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const base: KubeconfigOptions = {
    server: 'https://127.0.0.1:6443',
    caCert: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
    clientCert: '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n',
    clientKey: '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n',
    user: 'admin',
  };

  const rows: { name: string; options: KubeconfigOptions; cluster: string; context: string }[] = [
    { name: 'defaults name the cluster and context volplane', options: base, cluster: 'volplane', context: 'volplane' },
    {
      name: 'cluster and context names can be chosen',
      options: { ...base, cluster: 'lab', context: 'lab-admin', server: 'https://[::1]:7443' },
      cluster: 'lab',
      context: 'lab-admin',
    },
  ];
  for (const [i, row] of rows.entries()) {
    await t.test(row.name, async () => {
      const path = join(dir, `kubeconfig-${i}`);
      await writeKubeconfig(path, row.options);
      assert.equal((await stat(path)).mode & 0o777, 0o600);

      const doc = parse(await readFile(path, 'utf8')) as Record<string, any>;
      assert.equal(doc.apiVersion, 'v1');
      assert.equal(doc.kind, 'Config');
      assert.equal(doc['current-context'], row.context);
      assert.deepEqual(doc.contexts, [{ name: row.context, context: { cluster: row.cluster, user: 'admin' } }]);
      assert.equal(doc.clusters.length, 1);
      assert.equal(doc.clusters[0].name, row.cluster);
      assert.equal(doc.clusters[0].cluster.server, row.options.server);
      assert.equal(fromBase64(doc.clusters[0].cluster['certificate-authority-data']), row.options.caCert);
      assert.equal(doc.users[0].name, 'admin');
      assert.equal(fromBase64(doc.users[0].user['client-certificate-data']), row.options.clientCert);
      assert.equal(fromBase64(doc.users[0].user['client-key-data']), row.options.clientKey);

      // The official client reads it the same way.
      const kc = new KubeConfig();
      kc.loadFromFile(path);
      assert.equal(kc.getCurrentCluster()?.server, row.options.server);
      assert.equal(fromBase64(kc.getCurrentUser()?.certData), row.options.clientCert);
    });
  }

  await t.test('rewriting replaces the file and keeps it private', async () => {
    const path = join(dir, 'rewritten');
    await writeKubeconfig(path, base);
    await writeKubeconfig(path, { ...base, server: 'https://127.0.0.1:1234' });
    const doc = parse(await readFile(path, 'utf8')) as Record<string, any>;
    assert.equal(doc.clusters[0].cluster.server, 'https://127.0.0.1:1234');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });
});
