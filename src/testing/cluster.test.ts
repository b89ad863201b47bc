import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import { KubectlError, hasKubectl, startTestCluster } from './index.ts';

test('startTestCluster', { skip: !hasKubectl() && 'kubectl is not installed' }, async (t) => {
  const cluster = await startTestCluster();
  t.after(() => cluster.close());

  await t.test('kubectl talks to the cluster with its own kubeconfig', async () => {
    const { stdout } = await cluster.kubectl(['get', 'namespaces', '-o', 'name']);
    assert.match(stdout, /^namespace\/default$/m);
  });

  await t.test('kubectl caches discovery inside the cluster directory, not in the real HOME', async () => {
    const entries = await readdir(`${cluster.dataDir}/../kube-cache`);
    assert.ok(entries.length > 0, 'expected a discovery cache in the test directory');
  });

  await t.test('input is passed on stdin', async () => {
    const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'from-stdin' } });
    await cluster.kubectl(['create', '--validate=false', '-f', '-'], { input: manifest });
    const { stdout } = await cluster.kubectl(['get', 'namespace', 'from-stdin', '-o', 'jsonpath={.metadata.name}']);
    assert.equal(stdout, 'from-stdin');
  });

  await t.test('a failing command throws KubectlError unless allowed', async () => {
    await assert.rejects(cluster.kubectl(['get', 'namespace', 'no-such-namespace']), (err: unknown) => {
      assert.ok(err instanceof KubectlError);
      assert.match(err.result.stderr, /NotFound/);
      return true;
    });
    const result = await cluster.kubectl(['get', 'namespace', 'no-such-namespace'], { allowFail: true });
    assert.notEqual(result.code, 0);
  });

  await t.test('restart keeps the data, the port and the kubeconfig', async () => {
    const before = cluster.url;
    await cluster.restart();
    assert.equal(cluster.url, before);
    const { stdout } = await cluster.kubectl(['get', 'namespace', 'from-stdin', '-o', 'name']);
    assert.equal(stdout.trim(), 'namespace/from-stdin');
  });

  await t.test('close removes the temporary directory', async () => {
    await cluster.close();
    await cluster.close();
    await assert.rejects(access(cluster.dataDir), /ENOENT/);
  });
});
