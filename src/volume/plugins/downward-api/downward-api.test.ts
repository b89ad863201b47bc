import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeTempDir, testHost, testPod } from '../../test-framework.ts';
import type { Pod } from '../../types.ts';
import { collectDownwardAPIData, DownwardAPIPlugin, extractFieldPathAsString, extractResourceValue } from './index.ts';

const signal = new AbortController().signal;

/** The seed's dwapi-pod (§1.5), placed and running. */
const pod: Pod = testPod({
  metadata: {
    name: 'dwapi-pod',
    namespace: 'default',
    uid: '7f0c1e2d-3b4a-4c5d-8e9f-0a1b2c3d4e5f',
    labels: { version: '1.1', app: 'dnsutils' },
    annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '80', 'prometheus.io/scheme': 'http', note: 'say "hi"\n' },
  },
  spec: {
    nodeName: 'k8s-node02',
    serviceAccountName: 'default',
    containers: [{ name: 'dnsutils', resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '128Mi' } } }],
  },
  status: { podIP: '10.244.2.13', hostIP: '192.168.3.102' },
});

describe('downward API fields', () => {
  const rows: { name: string; path: string; want: string }[] = [
    { name: '1 labels as sorted key="value" lines', path: 'metadata.labels', want: 'app="dnsutils"\nversion="1.1"' },
    {
      name: '2 annotations sorted, values quoted as Go does',
      path: 'metadata.annotations',
      want: 'note="say \\"hi\\"\\n"\nprometheus.io/port="80"\nprometheus.io/scheme="http"\nprometheus.io/scrape="true"',
    },
    { name: '3 one label by subscript', path: "metadata.labels['app']", want: 'dnsutils' },
    { name: '4 metadata.name', path: 'metadata.name', want: 'dwapi-pod' },
    { name: '5 metadata.namespace', path: 'metadata.namespace', want: 'default' },
    { name: '6 metadata.uid', path: 'metadata.uid', want: '7f0c1e2d-3b4a-4c5d-8e9f-0a1b2c3d4e5f' },
    { name: '7 spec.nodeName', path: 'spec.nodeName', want: 'k8s-node02' },
    { name: '8 spec.serviceAccountName', path: 'spec.serviceAccountName', want: 'default' },
    { name: '9 status.podIP', path: 'status.podIP', want: '10.244.2.13' },
  ];
  for (const row of rows) it(row.name, () => assert.equal(extractFieldPathAsString(pod, row.path), row.want));

  it('10 an unsupported field is refused with upstream\'s message', () => {
    assert.throws(() => extractFieldPathAsString(pod, 'spec.hostname'), { message: 'unsupported fieldPath: spec.hostname' });
  });
});

describe('downward API resources', () => {
  const alloc = { cpu: '4', memory: '8Gi' };
  const rows: { name: string; resource: string; divisor?: string; want: string }[] = [
    { name: '1 requests.cpu in cores rounds up', resource: 'requests.cpu', want: '1' },
    { name: '2 requests.cpu with divisor 1m', resource: 'requests.cpu', divisor: '1m', want: '250' },
    { name: '3 limits.memory with divisor 1Mi', resource: 'limits.memory', divisor: '1Mi', want: '128' },
    { name: '4 requests.memory in bytes', resource: 'requests.memory', want: String(64 * 1024 * 1024) },
    { name: '5 limits.cpu unset: the node allocatable', resource: 'limits.cpu', want: '4' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(extractResourceValue({ containerName: 'dnsutils', resource: row.resource, divisor: row.divisor }, pod, alloc), row.want);
    });
  }
  it('6 an unknown resource and an unknown container are refused', () => {
    assert.throws(() => extractResourceValue({ containerName: 'dnsutils', resource: 'limits.gpu' }, pod, alloc), {
      message: 'unsupported container resource : limits.gpu',
    });
    assert.throws(() => extractResourceValue({ containerName: 'nope', resource: 'limits.cpu' }, pod, alloc), { message: 'container nope not found' });
  });
  it('7 several bad items are reported together', () => {
    assert.throws(
      () => collectDownwardAPIData([{ path: 'a', fieldRef: { fieldPath: 'x' } }, { path: 'b', fieldRef: { fieldPath: 'y' } }], pod, {}, undefined),
      { message: '[unsupported fieldPath: x, unsupported fieldPath: y]' },
    );
  });
});

describe('downwardAPI volume', () => {
  let root = '';
  before(async () => {
    root = await makeTempDir('downward');
  });
  after(async () => {
    await removeTempDir(root);
  });

  it('1 the seed\'s podinfo volume: labels and annotations files; a label change re-syncs', async () => {
    const plugin = new DownwardAPIPlugin(testHost(root));
    const spec = {
      volume: {
        name: 'podinfo',
        downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }] },
      },
      readOnly: false,
    };
    const m = plugin.newMounter(spec, pod);
    await m.setUp({ signal });
    assert.equal(await readFile(join(m.getPath(), 'labels'), 'utf8'), 'app="dnsutils"\nversion="1.1"');
    const relabelled: Pod = { ...pod, metadata: { ...pod.metadata, labels: { app: 'dnsutils', version: '1.2' } } };
    await plugin.newMounter(spec, relabelled).setUp({ signal });
    assert.equal(await readFile(join(m.getPath(), 'labels'), 'utf8'), 'app="dnsutils"\nversion="1.2"');
    await plugin.newUnmounter('podinfo', pod.metadata.uid!).tearDown(signal);
  });
});
