import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { limitRangeDef } from './limit-range.ts';
import { resourceQuotaDef } from './resource-quota.ts';
import { serviceAccountDef } from './service-account.ts';

const NOW = new Date('2024-05-01T12:00:00Z');
const meta = { name: 'q', namespace: 'default', creationTimestamp: '2024-05-01T11:00:00Z' };

describe('resource quota, limit range and service account (served for describe)', () => {
  it('1-1 quota row splits requests and limits.*, sorted, used/hard', () => {
    const q: KubeObject = {
      metadata: { ...meta },
      spec: { hard: { 'limits.memory': '2048Mi', pods: '10', 'requests.cpu': '2' } },
      status: { hard: { 'limits.memory': '2Gi', pods: '10', 'requests.cpu': '2' }, used: { pods: '3', 'requests.cpu': '500m' } },
    };
    resourceQuotaDef.defaults?.(q);
    assert.deepEqual((q.spec as { hard: unknown }).hard, { 'limits.memory': '2Gi', pods: '10', 'requests.cpu': '2' });
    assert.deepEqual(resourceQuotaDef.table.row(q, NOW), ['q', '60m', 'pods: 3/10, requests.cpu: 500m/2', 'limits.memory: 0/2Gi']);
  });

  it('1-2 quota status is reset on create', () => {
    const q: KubeObject = { metadata: { ...meta }, spec: { hard: { pods: '1' } }, status: { used: { pods: '9' } } };
    resourceQuotaDef.prepareForCreate?.(q);
    assert.deepEqual(q.status, {});
  });

  it('1-3 limit ranges print their creation time and reject duplicate types', () => {
    const lr: KubeObject = { metadata: { ...meta }, spec: { limits: [{ type: 'Container', max: { cpu: '1' } }, { type: 'Container' }] } };
    assert.deepEqual(limitRangeDef.table.row(lr, NOW), ['q', '2024-05-01T11:00:00Z']);
    assert.deepEqual((limitRangeDef.validate?.(lr, undefined) ?? []).map((e) => `${e.field} ${e.type}`), ['spec.limits[1].type FieldValueDuplicate']);
  });

  it('1-4 service accounts count their secrets', () => {
    assert.deepEqual(serviceAccountDef.table.row({ metadata: { ...meta }, secrets: [{ name: 'a' }] }, NOW), ['q', 1, '60m']);
    assert.deepEqual([resourceQuotaDef.shortNames, limitRangeDef.shortNames, serviceAccountDef.shortNames], [['quota'], ['limits'], ['sa']]);
  });
});
