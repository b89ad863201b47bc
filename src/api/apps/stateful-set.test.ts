import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { newInvalid } from '../../apimachinery/index.ts';
import { statefulSetDef } from './stateful-set.ts';

const NOW = new Date('2024-05-01T12:00:00Z');

const base = {
  selector: { matchLabels: { app: 'db' } },
  serviceName: 'db',
  template: {
    metadata: { labels: { app: 'db' } },
    spec: { containers: [{ name: 'pg', image: 'postgres:16', volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql' }] }] },
  },
  volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1024Mi' } } } }],
};

function sts(spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
  const s: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'default', creationTimestamp: '2024-05-01T11:00:00Z', resourceVersion: '9' },
    spec: structuredClone(spec),
  };
  if (status) s.status = status;
  statefulSetDef.defaults?.(s);
  return s;
}

function message(s: KubeObject, old?: KubeObject): string | undefined {
  const errs = statefulSetDef.validate?.(s, old) ?? [];
  return errs.length === 0 ? undefined : newInvalid({ group: 'apps', kind: 'StatefulSet' }, 'db', errs).message;
}

describe('statefulset', () => {
  it('1-1 defaults, including each claim template as a PVC', () => {
    const spec = sts(base).spec as Record<string, unknown>;
    assert.equal(spec.replicas, 1);
    assert.equal(spec.podManagementPolicy, 'OrderedReady');
    assert.deepEqual(spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
    assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
    assert.equal(spec.revisionHistoryLimit, 10);
    assert.deepEqual((spec.volumeClaimTemplates as unknown[])[0], {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' },
      status: { phase: 'Pending' },
    });
  });

  it('1-2 OnDelete gets no rollingUpdate', () => {
    const spec = sts({ ...base, updateStrategy: { type: 'OnDelete' } }).spec as Record<string, unknown>;
    assert.deepEqual(spec.updateStrategy, { type: 'OnDelete' });
  });

  it('1-3 table row', () => {
    assert.deepEqual(statefulSetDef.table.row(sts({ ...base, replicas: 3 }, { readyReplicas: 1 }), NOW), ['db', '1/3', '60m', 'pg', 'postgres:16']);
  });

  it('2-1 mounts may name claim templates', () => {
    assert.equal(message(sts(base)), undefined);
  });

  it('2-2 a mount of neither a volume nor a claim template', () => {
    const bad = structuredClone(base);
    bad.template.spec.containers[0].volumeMounts[0].name = 'logs';
    assert.equal(message(sts(bad)), 'StatefulSet.apps "db" is invalid: spec.template.spec.containers[0].volumeMounts[0].name: Not found: "logs"');
  });

  it('2-3 empty selector wording says statefulset', () => {
    assert.match(message(sts({ ...base, selector: {} })) ?? '', /empty selector is invalid for statefulset$/);
  });

  it('2-4 claim template without access modes', () => {
    const bad = structuredClone(base);
    delete (bad.volumeClaimTemplates[0].spec as Record<string, unknown>).accessModes;
    assert.equal(message(sts(bad)), 'StatefulSet.apps "db" is invalid: spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required');
  });

  const updates: { name: string; change: (spec: Record<string, unknown>) => void; allowed: boolean }[] = [
    { name: '3-1 replicas', change: (s) => (s.replicas = 5), allowed: true },
    { name: '3-2 template image', change: (s) => ((s.template as typeof base.template).spec.containers[0].image = 'postgres:17'), allowed: true },
    { name: '3-3 revisionHistoryLimit', change: (s) => (s.revisionHistoryLimit = 3), allowed: true },
    { name: '3-4 retention policy', change: (s) => ((s.persistentVolumeClaimRetentionPolicy as Record<string, unknown>).whenDeleted = 'Delete'), allowed: true },
    { name: '3-5 serviceName', change: (s) => (s.serviceName = 'other'), allowed: false },
    { name: '3-6 claim template size', change: (s) => ((s.volumeClaimTemplates as typeof base.volumeClaimTemplates)[0].spec.resources.requests.storage = '2Gi'), allowed: false },
    { name: '3-7 podManagementPolicy', change: (s) => (s.podManagementPolicy = 'Parallel'), allowed: false },
  ];
  for (const row of updates) {
    it(`update of ${row.name} is ${row.allowed ? 'allowed' : 'forbidden'}`, () => {
      const old = sts(base);
      const next = structuredClone(old);
      row.change(next.spec as Record<string, unknown>);
      assert.equal(
        message(next, old),
        row.allowed
          ? undefined
          : "StatefulSet.apps \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
      );
    });
  }

  it('4-1 discovery: sts, category all, status and scale', () => {
    assert.deepEqual(statefulSetDef.shortNames, ['sts']);
    assert.deepEqual(statefulSetDef.categories, ['all']);
    assert.deepEqual(statefulSetDef.subresources.map((s) => [s.name, s.responseKind?.kind]), [['status', undefined], ['scale', 'Scale']]);
  });
});
