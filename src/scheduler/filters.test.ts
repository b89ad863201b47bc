// Pure rows for the scheduler's decisions: each node filter, volume binding's
// pre-filter and per-node filter, checkBindings, the FitError text and the
// queue's backoff. No server; objects are built by the helpers below.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VolumeIndex } from '../api/core/volume-matching.ts';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/core/volume-types.ts';
import { fitErrorMessage, type Diagnosis } from './fit-error.ts';
import {
  filterCsiVolumeLimits,
  filterNodeAffinity,
  filterNodeName,
  filterNodeUnschedulable,
  filterReadWriteOncePod,
  filterTaintToleration,
  nodeInfoOf,
  type FilterStatus,
} from './filters.ts';
import { SchedulingQueue } from './scheduling-queue.ts';
import type { CSINode, Node, Pod, PodSpec } from './types.ts';
import { checkBindings, findPodVolumes, getPodVolumeClaims, VolumeBindingError, type PodVolumes, type VolumeLookup } from './volume-binding.ts';

// ---------------------------------------------------------------------------
// Builders

function node(name: string, opts: { labels?: Record<string, string>; ready?: 'True' | 'False' | 'Unknown' | 'none'; unschedulable?: boolean; taints?: Node['spec'] extends infer S ? S extends { taints?: infer T } ? T : never : never } = {}): Node {
  const ready = opts.ready ?? 'True';
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(opts.labels ?? {}) } },
    spec: { ...(opts.unschedulable === true ? { unschedulable: true } : {}), ...(opts.taints === undefined ? {} : { taints: opts.taints }) },
    status: { conditions: ready === 'none' ? [] : [{ type: 'Ready', status: ready }] },
  };
}

function pod(name: string, spec: Partial<PodSpec> = {}, uid = `uid-${name}`): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } };
}

function claimPod(name: string, ...claims: string[]): Pod {
  return pod(name, { volumes: claims.map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } })) });
}

function pvc(name: string, opts: { klass?: string; size?: string; modes?: string[]; volumeName?: string; bound?: boolean; ann?: Record<string, string>; rv?: string } = {}): PersistentVolumeClaim {
  const annotations = { ...(opts.bound === true ? { 'pv.kubernetes.io/bind-completed': 'yes' } : {}), ...(opts.ann ?? {}) };
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, annotations, resourceVersion: opts.rv ?? '10' },
    spec: {
      accessModes: (opts.modes ?? ['ReadWriteOnce']) as PersistentVolumeClaim['spec']['accessModes'],
      resources: { requests: { storage: opts.size ?? '1Gi' } },
      storageClassName: opts.klass ?? 'local',
      ...(opts.volumeName === undefined ? {} : { volumeName: opts.volumeName }),
    },
    status: { phase: opts.bound === true ? 'Bound' : 'Pending' },
  };
}

function pv(name: string, opts: { klass?: string; size?: string; onNode?: string; claim?: string; phase?: 'Available' | 'Bound'; csi?: string; rv?: string } = {}): PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, resourceVersion: opts.rv ?? '5' },
    spec: {
      capacity: { storage: opts.size ?? '5Gi' },
      accessModes: ['ReadWriteOnce'],
      storageClassName: opts.klass ?? 'local',
      ...(opts.csi === undefined ? { local: { path: `/data/${name}` } } : { csi: { driver: opts.csi, volumeHandle: name } }),
      ...(opts.onNode === undefined
        ? {}
        : { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In' as const, values: [opts.onNode] }] }] } } }),
      ...(opts.claim === undefined ? {} : { claimRef: { namespace: 'default', name: opts.claim, uid: `uid-${opts.claim}` } }),
    },
    status: { phase: opts.phase ?? (opts.claim === undefined ? 'Available' : 'Bound') },
  };
}

function sc(name: string, provisioner: string, mode: 'Immediate' | 'WaitForFirstConsumer' = 'WaitForFirstConsumer', allowedHosts?: string[]): StorageClass {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name },
    provisioner,
    volumeBindingMode: mode,
    ...(allowedHosts === undefined ? {} : { allowedTopologies: [{ matchLabelExpressions: [{ key: 'kubernetes.io/hostname', values: allowedHosts }] }] }),
  };
}

function lookup(claims: PersistentVolumeClaim[], volumes: PersistentVolume[], classes: StorageClass[]): VolumeLookup {
  const index = new VolumeIndex();
  for (const v of volumes) index.put(v);
  return {
    claim: (ns, name) => claims.find((c) => c.metadata.namespace === ns && c.metadata.name === name),
    storageClass: (name) => classes.find((c) => c.metadata.name === name),
    volumes: index,
  };
}

const CLASSES = [
  sc('local', 'kubernetes.io/no-provisioner'),
  sc('hostpath', 'volplane.io/hostpath'),
  sc('only-b', 'volplane.io/hostpath', 'WaitForFirstConsumer', ['node-b']),
  sc('immediate', 'volplane.io/hostpath', 'Immediate'),
];

// ---------------------------------------------------------------------------
// Node filters

interface FilterRow {
  name: string;
  filter: (p: Pod, n: Node) => FilterStatus | undefined;
  pod: Pod;
  node: Node;
  /** The expected reason, or undefined when the node fits. */
  want: string | undefined;
}

const filterRows: FilterRow[] = [
  { name: '1-1 NodeName: no nodeName fits every node', filter: filterNodeName, pod: pod('p'), node: node('a'), want: undefined },
  { name: '1-2 NodeName: another node is rejected', filter: filterNodeName, pod: pod('p', { nodeName: 'b' }), node: node('a'), want: "node(s) didn't match the requested node name" },
  { name: '1-3 NodeUnschedulable: a cordoned node is rejected', filter: filterNodeUnschedulable, pod: pod('p'), node: node('a', { unschedulable: true }), want: 'node(s) were unschedulable' },
  {
    name: '1-4 NodeUnschedulable: tolerating the unschedulable taint admits it',
    filter: filterNodeUnschedulable,
    pod: pod('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }),
    node: node('a', { unschedulable: true }),
    want: undefined,
  },
  { name: '1-5 NodeAffinity: nodeSelector matches', filter: filterNodeAffinity, pod: pod('p', { nodeSelector: { disk: 'ssd' } }), node: node('a', { labels: { disk: 'ssd' } }), want: undefined },
  {
    name: '1-6 NodeAffinity: nodeSelector mismatch',
    filter: filterNodeAffinity,
    pod: pod('p', { nodeSelector: { disk: 'ssd' } }),
    node: node('a', { labels: { disk: 'hdd' } }),
    want: "node(s) didn't match Pod's node affinity/selector",
  },
  ...(
    [
      ['In', { key: 'zone', operator: 'In', values: ['z1', 'z2'] }, true],
      ['NotIn', { key: 'zone', operator: 'NotIn', values: ['z1'] }, false],
      ['Exists', { key: 'zone', operator: 'Exists' }, true],
      ['DoesNotExist', { key: 'gpu', operator: 'DoesNotExist' }, true],
      ['Gt', { key: 'cores', operator: 'Gt', values: ['4'] }, true],
      ['Lt', { key: 'cores', operator: 'Lt', values: ['8'] }, false],
    ] as const
  ).map(([op, expr, fits], i): FilterRow => ({
    name: `1-${7 + i} NodeAffinity: matchExpressions ${op} ${fits ? 'matches' : 'does not match'}`,
    filter: filterNodeAffinity,
    pod: pod('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ ...expr, values: 'values' in expr ? [...expr.values] : undefined }] }] } } } }),
    node: node('a', { labels: { zone: 'z1', cores: '8' } }),
    want: fits ? undefined : "node(s) didn't match Pod's node affinity/selector",
  })),
  {
    name: '1-13 NodeAffinity: matchFields metadata.name, terms ORed',
    filter: filterNodeAffinity,
    pod: pod('p', {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['nowhere'] }] }, { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a'] }] }],
          },
        },
      },
    }),
    node: node('a'),
    want: undefined,
  },
  {
    name: '1-14 NodeAffinity: matchFields metadata.name names another node',
    filter: filterNodeAffinity,
    pod: pod('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['b'] }] }] } } } }),
    node: node('a'),
    want: "node(s) didn't match Pod's node affinity/selector",
  },
  {
    name: '1-15 TaintToleration: an untolerated NoSchedule taint',
    filter: filterTaintToleration,
    pod: pod('p'),
    node: node('a', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }),
    want: 'node(s) had untolerated taint {dedicated: db}',
  },
  {
    name: '1-16 TaintToleration: Equal toleration with the same value',
    filter: filterTaintToleration,
    pod: pod('p', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] }),
    node: node('a', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }),
    want: undefined,
  },
  {
    name: '1-17 TaintToleration: Equal toleration with another value does not tolerate',
    filter: filterTaintToleration,
    pod: pod('p', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'web' }] }),
    node: node('a', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] }),
    want: 'node(s) had untolerated taint {dedicated: db}',
  },
  {
    name: '1-18 TaintToleration: a toleration for another effect does not tolerate',
    filter: filterTaintToleration,
    pod: pod('p', { tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }] }),
    node: node('a', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }),
    want: 'node(s) had untolerated taint {dedicated: db}',
  },
  {
    name: '1-19 TaintToleration: PreferNoSchedule is not a filter',
    filter: filterTaintToleration,
    pod: pod('p'),
    node: node('a', { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] }),
    want: undefined,
  },
  { name: '1-20 TaintToleration: a not-ready node', filter: filterTaintToleration, pod: pod('p'), node: node('a', { ready: 'False' }), want: 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }' },
  { name: '1-21 TaintToleration: a node without conditions is not ready', filter: filterTaintToleration, pod: pod('p'), node: node('a', { ready: 'none' }), want: 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }' },
  { name: '1-22 TaintToleration: Ready Unknown is unreachable', filter: filterTaintToleration, pod: pod('p'), node: node('a', { ready: 'Unknown' }), want: 'node(s) had untolerated taint {node.kubernetes.io/unreachable: }' },
  {
    name: '1-23 TaintToleration: an empty key with Exists tolerates not-ready',
    filter: filterTaintToleration,
    pod: pod('p', { tolerations: [{ operator: 'Exists' }] }),
    node: node('a', { ready: 'False' }),
    want: undefined,
  },
];

describe('scheduler node filters', () => {
  for (const row of filterRows) {
    it(row.name, () => {
      const got = row.filter(row.pod, row.node);
      assert.deepEqual(got?.reasons, row.want === undefined ? undefined : [row.want]);
    });
  }

  it('1-24 VolumeRestrictions: a ReadWriteOncePod claim used by another pod conflicts; unused, or RWO, does not', () => {
    const rwop = pvc('shared', { modes: ['ReadWriteOncePod'] });
    const got = filterReadWriteOncePod([rwop], (k) => (k === 'default/shared' ? 1 : 0));
    assert.deepEqual(got, { plugin: 'VolumeRestrictions', code: 'Unschedulable', reasons: ['node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode'] });
    assert.equal(filterReadWriteOncePod([rwop], () => 0), undefined);
    assert.equal(filterReadWriteOncePod([pvc('shared')], () => 3), undefined);
  });

  it('1-25 NodeVolumeLimits: attached plus new CSI volumes beyond allocatable.count', () => {
    const csiNode: CSINode = { metadata: { name: 'a' }, spec: { drivers: [{ name: 'csi.example', allocatable: { count: 2 } }] } };
    const attached = new Map([['csi.example/v1', 'csi.example'], ['csi.example/v2', 'csi.example']]);
    assert.deepEqual(filterCsiVolumeLimits(new Map([['csi.example/v3', 'csi.example']]), attached, csiNode)?.reasons, ['node(s) exceed max volume count']);
    // Already attached to the node: it costs no new slot.
    assert.equal(filterCsiVolumeLimits(new Map([['csi.example/v2', 'csi.example']]), attached, csiNode), undefined);
    // No CSINode, or another driver: no limit.
    assert.equal(filterCsiVolumeLimits(new Map([['csi.example/v3', 'csi.example']]), attached, undefined), undefined);
    assert.equal(filterCsiVolumeLimits(new Map([['other/v3', 'other']]), attached, csiNode), undefined);
  });
});

// ---------------------------------------------------------------------------
// Volume binding

interface BindingRow {
  name: string;
  pod: Pod;
  claims: PersistentVolumeClaim[];
  volumes: PersistentVolume[];
  node: Node;
  /** A pre-filter message, or the per-node reasons, or the chosen volumes. */
  preFilter?: string;
  reasons?: string[];
  staticBindings?: [pv: string, pvc: string][];
  provisions?: string[];
}

const nodeA = node('node-a');
const nodeB = node('node-b');

const bindingRows: BindingRow[] = [
  {
    name: '2-1 a missing claim rejects the pod everywhere',
    pod: claimPod('p', 'nope'),
    claims: [],
    volumes: [],
    node: nodeA,
    preFilter: 'persistentvolumeclaim "nope" not found',
  },
  {
    name: '2-2 a missing ephemeral claim waits for the ephemeral volume controller',
    pod: pod('p', { volumes: [{ name: 'scratch', ephemeral: { volumeClaimTemplate: {} } }] }),
    claims: [],
    volumes: [],
    node: nodeA,
    preFilter: 'waiting for ephemeral volume controller to create the persistentvolumeclaim "p-scratch"',
  },
  {
    name: '2-3 an unbound Immediate claim makes the pod wait',
    pod: claimPod('p', 'c'),
    claims: [pvc('c', { klass: 'immediate' })],
    volumes: [],
    node: nodeA,
    preFilter: 'pod has unbound immediate PersistentVolumeClaims',
  },
  {
    name: '2-4 a bound claim whose PV is on another node: volume node affinity conflict',
    pod: claimPod('p', 'c'),
    claims: [pvc('c', { bound: true, volumeName: 'pv-b' })],
    volumes: [pv('pv-b', { onNode: 'node-b', claim: 'c' })],
    node: nodeA,
    reasons: ['node(s) had volume node affinity conflict'],
  },
  {
    name: '2-5 a bound claim whose PV is on this node fits',
    pod: claimPod('p', 'c'),
    claims: [pvc('c', { bound: true, volumeName: 'pv-b' })],
    volumes: [pv('pv-b', { onNode: 'node-b', claim: 'c' })],
    node: nodeB,
    reasons: [],
  },
  {
    name: '2-6 a bound claim whose PV is gone',
    pod: claimPod('p', 'c'),
    claims: [pvc('c', { bound: true, volumeName: 'gone' })],
    volumes: [],
    node: nodeA,
    reasons: ['node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)'],
  },
  {
    name: '2-7 WaitForFirstConsumer, a local PV on this node: static binding',
    pod: claimPod('p', 'c'),
    claims: [pvc('c')],
    volumes: [pv('pv-b', { onNode: 'node-b' })],
    node: nodeB,
    reasons: [],
    staticBindings: [['pv-b', 'c']],
  },
  {
    name: '2-8 WaitForFirstConsumer, the local PV is on another node, no provisioner',
    pod: claimPod('p', 'c'),
    claims: [pvc('c')],
    volumes: [pv('pv-b', { onNode: 'node-b' })],
    node: nodeA,
    reasons: ["node(s) didn't find available persistent volumes to bind"],
  },
  {
    name: '2-9 WaitForFirstConsumer with a provisioner: provision on any node',
    pod: claimPod('p', 'c'),
    claims: [pvc('c', { klass: 'hostpath' })],
    volumes: [],
    node: nodeA,
    reasons: [],
    provisions: ['c'],
  },
  {
    name: '2-10 allowedTopologies leave this node out',
    pod: claimPod('p', 'c'),
    claims: [pvc('c', { klass: 'only-b' })],
    volumes: [],
    node: nodeA,
    reasons: ["node(s) didn't find available persistent volumes to bind"],
  },
  {
    name: '2-11 a claim with another selected node fits only that node',
    pod: claimPod('p', 'c'),
    claims: [pvc('c', { klass: 'hostpath', ann: { 'volume.kubernetes.io/selected-node': 'node-b' } })],
    volumes: [],
    node: nodeA,
    reasons: ["node(s) didn't find available persistent volumes to bind"],
  },
  {
    name: '2-12 two claims never get the same PV; the smaller claim chooses first',
    pod: claimPod('p', 'big', 'small'),
    claims: [pvc('big', { size: '4Gi' }), pvc('small', { size: '1Gi' })],
    volumes: [pv('pv-2g', { size: '2Gi', onNode: 'node-a' }), pv('pv-5g', { size: '5Gi', onNode: 'node-a' })],
    node: nodeA,
    reasons: [],
    staticBindings: [['pv-2g', 'small'], ['pv-5g', 'big']],
  },
  {
    name: '2-13 two claims, one PV: the second finds nothing',
    pod: claimPod('p', 'one', 'two'),
    claims: [pvc('one'), pvc('two')],
    volumes: [pv('pv-a', { onNode: 'node-a' })],
    node: nodeA,
    reasons: ["node(s) didn't find available persistent volumes to bind"],
  },
];

describe('scheduler volume binding', () => {
  for (const row of bindingRows) {
    it(row.name, () => {
      const l = lookup(row.claims, row.volumes, CLASSES);
      const pre = getPodVolumeClaims(row.pod, l);
      if (row.preFilter !== undefined) {
        assert.ok('status' in pre, 'expected a pre-filter failure');
        assert.deepEqual(pre.status.reasons, [row.preFilter]);
        assert.equal(pre.status.code, 'UnschedulableAndUnresolvable');
        return;
      }
      assert.ok('claims' in pre, `unexpected pre-filter failure: ${'status' in pre ? pre.status.reasons.join() : ''}`);
      const got = findPodVolumes(pre.claims, nodeInfoOf(row.node), l);
      assert.deepEqual(got.reasons, row.reasons);
      if (row.staticBindings !== undefined) {
        assert.deepEqual(got.podVolumes.staticBindings.map((b) => [b.pv.metadata.name, b.pvc.metadata.name]), row.staticBindings);
      }
      if (row.provisions !== undefined) assert.deepEqual(got.podVolumes.dynamicProvisions.map((c) => c.metadata.name), row.provisions);
    });
  }
});

// ---------------------------------------------------------------------------
// checkBindings

describe('scheduler checkBindings', () => {
  const claim = pvc('c', { rv: '20' });
  const reserved = pv('pv-b', { onNode: 'node-b', claim: 'c', rv: '30' });
  const podVolumes: PodVolumes = { staticBindings: [{ pv: reserved, pvc: claim }], dynamicProvisions: [] };
  const info = nodeInfoOf(nodeB);
  const rows: { name: string; volume: PersistentVolume | undefined; claim: PersistentVolumeClaim; podExists?: boolean; want: boolean | string }[] = [
    { name: '3-1 the informer has not seen our write yet: wait', volume: pv('pv-b', { onNode: 'node-b', rv: '29' }), claim, want: false },
    { name: '3-2 reserved, the claim not bound yet: wait', volume: reserved, claim, want: false },
    { name: '3-3 the claim is fully bound: done', volume: reserved, claim: pvc('c', { bound: true, volumeName: 'pv-b', rv: '40' }), want: true },
    { name: '3-4 the PV lost its claimRef: fail', volume: pv('pv-b', { onNode: 'node-b', rv: '31' }), claim, want: 'ClaimRef got reset for pv "pv-b"' },
    { name: '3-5 the pod is gone: fail', volume: reserved, claim, podExists: false, want: 'pod does not exist any more' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const l = { claim: () => row.claim, volume: () => row.volume, podExists: () => row.podExists ?? true };
      if (typeof row.want === 'string') {
        assert.throws(() => checkBindings('default/p', info, podVolumes, l), (err: unknown) => err instanceof VolumeBindingError && err.message === row.want);
      } else {
        assert.equal(checkBindings('default/p', info, podVolumes, l), row.want);
      }
    });
  }

  it('3-6 provisioning: the selected node cleared by the provisioner fails the attempt', () => {
    const written = pvc('c', { klass: 'hostpath', rv: '20', ann: { 'volume.kubernetes.io/selected-node': 'node-b' } });
    const l = { claim: () => pvc('c', { klass: 'hostpath', rv: '21' }), volume: () => undefined, podExists: () => true };
    assert.throws(() => checkBindings('default/p', info, { staticBindings: [], dynamicProvisions: [written] }, l), /provisioning failed for PVC "c"/);
  });
});

// ---------------------------------------------------------------------------
// FitError

describe('scheduler FitError message', () => {
  const st = (code: FilterStatus['code'], reason: string): FilterStatus => ({ plugin: 'x', code, reasons: [reason] });
  const rows: { name: string; d: Diagnosis; want: string }[] = [
    {
      name: '4-1 reasons counted and sorted; unresolvable nodes make preemption not helpful',
      d: {
        numAllNodes: 2,
        nodeStatuses: new Map([
          ['a', st('UnschedulableAndUnresolvable', 'node(s) had volume node affinity conflict')],
          ['b', st('UnschedulableAndUnresolvable', "node(s) didn't match Pod's node affinity/selector")],
        ]),
      },
      want: "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had volume node affinity conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    },
    {
      name: '4-2 counts order before text',
      d: {
        numAllNodes: 3,
        nodeStatuses: new Map([
          ['a', st('UnschedulableAndUnresolvable', "node(s) didn't match Pod's node affinity/selector")],
          ['b', st('UnschedulableAndUnresolvable', "node(s) didn't match Pod's node affinity/selector")],
          ['c', st('UnschedulableAndUnresolvable', 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }')],
        ]),
      },
      want: "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    },
    {
      name: '4-3 a pre-filter failure replaces the histogram',
      d: { numAllNodes: 1, preFilter: st('UnschedulableAndUnresolvable', 'pod has unbound immediate PersistentVolumeClaims'), nodeStatuses: new Map() },
      want: '0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.',
    },
    {
      name: '4-4 resolvable rejections: no preemption victims',
      d: { numAllNodes: 2, nodeStatuses: new Map([['a', st('Unschedulable', 'node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode')], ['b', st('Unschedulable', 'node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode')]]) },
      want: '0/2 nodes are available: 2 node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
    },
    { name: '4-5 no nodes at all', d: { numAllNodes: 0, nodeStatuses: new Map() }, want: 'no nodes available to schedule pods' },
  ];
  for (const row of rows) it(row.name, () => assert.equal(fitErrorMessage(row.d), row.want));
});

// ---------------------------------------------------------------------------
// Queue

describe('scheduler queue', () => {
  it('5-1 unschedulable pods wait for a cluster change; a change during the cycle sends them to backoff', async () => {
    let now = 1_000_000;
    const q = new SchedulingQueue({ initialBackoffMs: 1000, maxBackoffMs: 10_000, maxUnschedulableMs: 300_000, now: () => now });
    q.add('default/p');
    assert.equal(await q.active.get(), 'default/p');
    q.active.done('default/p');
    q.addUnschedulable('default/p', q.moveRequestCycle);
    assert.ok(q.isUnschedulable('default/p'));
    q.add('default/p'); // our own status write echoes back: ignored
    assert.equal(q.active.len(), 0);
    now += 2000; // past the 1 s backoff
    q.moveAllToActiveOrBackoff();
    assert.equal(q.active.len(), 1);
    assert.equal(await q.active.get(), 'default/p');
    q.active.done('default/p');
    const cycle = q.moveRequestCycle;
    q.moveAllToActiveOrBackoff();
    q.addUnschedulable('default/p', cycle);
    assert.ok(q.isBackingOff('default/p') && !q.isUnschedulable('default/p'));
    assert.equal(q.backoffMs('default/p'), 2000);
    q.shutDown();
  });
});
