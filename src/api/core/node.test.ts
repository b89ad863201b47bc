import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { nodeDef } from './node.ts';

const NOW = new Date('2024-05-01T12:00:00Z');

function node(labels: Record<string, string>, spec: Record<string, unknown>, status: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1', labels, creationTimestamp: '2024-04-29T12:00:00Z' },
    spec,
    status,
  };
}

const ready = (s: string): Record<string, unknown> => ({ conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: s }] });

describe('node table row (printers.go printNode)', () => {
  const rows: { name: string; labels?: Record<string, string>; spec?: Record<string, unknown>; status: Record<string, unknown>; want: [string, string] }[] = [
    { name: '1-1 ready node without roles', status: ready('True'), want: ['Ready', '<none>'] },
    { name: '1-2 not ready', status: ready('False'), want: ['NotReady', '<none>'] },
    { name: '1-3 unknown Ready condition status is NotReady', status: ready('Unknown'), want: ['NotReady', '<none>'] },
    { name: '1-4 no Ready condition', status: {}, want: ['Unknown', '<none>'] },
    { name: '1-5 cordoned', spec: { unschedulable: true }, status: ready('True'), want: ['Ready,SchedulingDisabled', '<none>'] },
    {
      name: '1-6 roles from both label forms, sorted, empty names ignored',
      labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/': 'x', 'kubernetes.io/role': 'edge', 'node-role.kubernetes.io/worker': 'true' },
      status: ready('True'),
      want: ['Ready', 'control-plane,edge,worker'],
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const cells = nodeDef.table.row(node(row.labels ?? {}, row.spec ?? {}, row.status), NOW);
      assert.equal(cells.length, nodeDef.table.columns.length);
      assert.deepEqual(cells.slice(0, 4), ['n1', ...row.want, '2d']);
    });
  }

  it('fills version, addresses and node info, with placeholders when missing', () => {
    const full = node({}, {}, {
      ...ready('True'),
      addresses: [{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '192.168.1.10' }],
      nodeInfo: { kubeletVersion: 'v1.32.0', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0', containerRuntimeVersion: 'volplane://0.1.0' },
    });
    assert.deepEqual(nodeDef.table.row(full, NOW).slice(4), ['v1.32.0', '192.168.1.10', '<none>', 'Debian GNU/Linux 12 (bookworm)', '6.1.0', 'volplane://0.1.0']);
    assert.deepEqual(nodeDef.table.row(node({}, {}, {}), NOW).slice(4), ['', '<none>', '<none>', '<unknown>', '<unknown>', '<unknown>']);
  });
});

describe('node semantics', () => {
  it('keeps the status the kubelet registers with and defaults allocatable', () => {
    const n = node({}, {}, { capacity: { memory: '2048Mi', cpu: '2' } });
    nodeDef.defaults?.(n);
    nodeDef.prepareForCreate?.(n);
    assert.deepEqual(n.status, { capacity: { memory: '2Gi', cpu: '2' }, allocatable: { memory: '2Gi', cpu: '2' } });
  });

  it('field selectors: metadata.name and spec.unschedulable only', () => {
    const fields = nodeDef.fieldSelector.fields ?? {};
    assert.equal(nodeDef.fieldSelector.family, 'custom');
    assert.deepEqual(Object.keys(fields).sort(), ['metadata.name', 'spec.unschedulable']);
    assert.equal(fields['spec.unschedulable'](node({}, {}, {})), 'false');
    assert.equal(fields['spec.unschedulable'](node({}, { unschedulable: true }, {})), 'true');
  });

  it('rejects a taint with an unknown effect', () => {
    const errs = nodeDef.validate?.(node({}, { taints: [{ key: 'k', effect: 'Sometimes' }] }, {}), undefined) ?? [];
    assert.deepEqual(errs.map((e) => [e.field, e.type]), [['spec.taints[0].effect', 'FieldValueNotSupported']]);
  });
});
