import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { newInvalid } from '../../apimachinery/index.ts';
import { deploymentDef } from './deployment.ts';
import { replicaSetDef } from './replica-set.ts';

const NOW = new Date('2024-05-01T12:00:00Z');

function deployment(spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
  const d: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-05-01T11:55:00Z', resourceVersion: '3' },
    spec: structuredClone(spec),
  };
  if (status) d.status = status;
  deploymentDef.defaults?.(d);
  return d;
}

const template = {
  metadata: { labels: { app: 'web', tier: 'front' } },
  spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }, { name: 'sidecar', image: 'busybox' }] },
};
const valid = { selector: { matchLabels: { app: 'web' } }, template };

function message(d: KubeObject, old?: KubeObject): string | undefined {
  const errs = deploymentDef.validate?.(d, old) ?? [];
  return errs.length === 0 ? undefined : newInvalid({ group: 'apps', kind: 'Deployment' }, 'web', errs).message;
}

describe('deployment', () => {
  it('1-1 defaults of apps/v1 and of the pod template', () => {
    const spec = deployment(valid).spec as Record<string, unknown>;
    assert.equal(spec.replicas, 1);
    assert.deepEqual(spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
    assert.equal(spec.revisionHistoryLimit, 10);
    assert.equal(spec.progressDeadlineSeconds, 600);
    const podSpec = (spec.template as { spec: Record<string, unknown> }).spec;
    assert.equal(podSpec.restartPolicy, 'Always');
    assert.equal(podSpec.enableServiceLinks, undefined, 'enableServiceLinks is a pod default, not a template default');
    assert.equal((podSpec.containers as Record<string, unknown>[])[1].imagePullPolicy, 'Always');
  });

  it('1-2 Recreate gets no rollingUpdate; explicit replicas 0 stays', () => {
    const spec = deployment({ ...valid, replicas: 0, strategy: { type: 'Recreate' } }).spec as Record<string, unknown>;
    assert.deepEqual(spec.strategy, { type: 'Recreate' });
    assert.equal(spec.replicas, 0);
  });

  it('1-3 table row: every cell, wide ones included', () => {
    const d = deployment({ ...valid, replicas: 3 }, { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 });
    assert.deepEqual(deploymentDef.table.row(d, NOW), ['web', '2/3', 3, 2, '5m', 'nginx,sidecar', 'nginx:1.25,busybox', 'app=web']);
    assert.deepEqual(deploymentDef.table.columns.map((c) => c.name), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers', 'Images', 'Selector']);
  });

  it('1-4 status is reset on create and kept on update', () => {
    const d = deployment(valid, { replicas: 5 });
    deploymentDef.prepareForCreate?.(d);
    assert.deepEqual(d.status, {});
    const next = deployment(valid, { replicas: 9 });
    deploymentDef.prepareForUpdate?.(next, deployment(valid, { replicas: 5 }));
    assert.deepEqual(next.status, { replicas: 5 });
  });

  const rows: { name: string; spec: Record<string, unknown>; want: string | undefined }[] = [
    { name: '2-1 valid', spec: valid, want: undefined },
    { name: '2-2 missing selector', spec: { template }, want: 'Deployment.apps "web" is invalid: spec.selector: Required value' },
    {
      name: '2-3 selector does not match the template',
      spec: { selector: { matchLabels: { app: 'api' } }, template },
      want: 'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web", "tier":"front"}: `selector` does not match template `labels`',
    },
    {
      name: '2-4 empty selector',
      spec: { selector: { matchLabels: {} }, template },
      want: 'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment',
    },
    {
      name: '2-5 maxUnavailable and maxSurge both zero',
      spec: { ...valid, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } } },
      want: 'Deployment.apps "web" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0',
    },
    {
      name: '2-6 template restart policy must be Always',
      spec: { ...valid, template: { ...template, spec: { ...template.spec, restartPolicy: 'Never' } } },
      want: 'Deployment.apps "web" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    },
    {
      name: '2-7 template without containers',
      spec: { ...valid, template: { metadata: template.metadata, spec: { containers: [] } } },
      want: 'Deployment.apps "web" is invalid: spec.template.spec.containers: Required value',
    },
    {
      name: '2-8 negative replicas',
      spec: { ...valid, replicas: -1 },
      want: 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(message(deployment(row.spec)), row.want);
    });
  }

  it('2-9 the selector is immutable', () => {
    const old = deployment(valid);
    const next = deployment({ ...valid, selector: { matchLabels: { app: 'web', tier: 'front' } } });
    assert.equal(
      message(next, old),
      'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"front"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    );
    assert.equal(message(deployment({ ...valid, replicas: 4 }), old), undefined);
  });
});

describe('replicaset', () => {
  function rs(spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
    const r: KubeObject = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-5d8', namespace: 'default', creationTimestamp: '2024-05-01T11:55:00Z' }, spec: structuredClone(spec) };
    if (status) r.status = status;
    replicaSetDef.defaults?.(r);
    return r;
  }

  it('1-1 table row with DESIRED/CURRENT/READY integers and the formatted selector', () => {
    assert.deepEqual(replicaSetDef.table.row(rs(valid, { replicas: 1, readyReplicas: 1 }), NOW), ['web-5d8', 1, 1, 1, '5m', 'nginx,sidecar', 'nginx:1.25,busybox', 'app=web']);
  });

  it('1-2 upstream calls an empty ReplicaSet selector invalid "for deployment"', () => {
    const errs = replicaSetDef.validate?.(rs({ selector: {}, template }), undefined) ?? [];
    assert.match(newInvalid({ group: 'apps', kind: 'ReplicaSet' }, 'web-5d8', errs).message, /empty selector is invalid for deployment$/);
  });
});
