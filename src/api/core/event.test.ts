import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { newInvalid } from '../../apimachinery/index.ts';
import { eventDef, validateEvent } from './event.ts';

const NOW = new Date('2024-05-01T12:00:00Z');

function event(fields: Record<string, unknown>): KubeObject {
  const e: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'pvc-a.17c0', namespace: 'default', creationTimestamp: '2024-05-01T11:00:00Z' },
    involvedObject: { kind: 'PersistentVolumeClaim', namespace: 'default', name: 'pvc-a', uid: 'u1', apiVersion: 'v1', resourceVersion: '12' },
    ...fields,
  };
  eventDef.defaults?.(e);
  return e;
}

describe('event table row (printers.go printEvent)', () => {
  const rows: { name: string; fields: Record<string, unknown>; want: unknown[] }[] = [
    {
      name: '1-1 old-style event: all ten cells',
      fields: {
        reason: 'ProvisioningSucceeded',
        message: ' Successfully provisioned volume pvc-123 \n',
        type: 'Normal',
        source: { component: 'persistentvolume-controller' },
        firstTimestamp: '2024-05-01T11:50:00Z',
        lastTimestamp: '2024-05-01T11:58:00Z',
        count: 3,
      },
      want: ['2m', 'Normal', 'ProvisioningSucceeded', 'persistentvolumeclaim/pvc-a', '', 'persistentvolume-controller', 'Successfully provisioned volume pvc-123', '10m', 3, 'pvc-a.17c0'],
    },
    {
      name: '1-2 new-style event: eventTime (micro, truncated to 29s), reporting fields, count 1',
      fields: {
        reason: 'Scheduled',
        message: 'assigned',
        type: 'Normal',
        eventTime: '2024-05-01T11:59:30.123456Z',
        reportingComponent: 'default-scheduler',
        reportingInstance: 'default-scheduler-host1',
        action: 'Binding',
      },
      want: ['29s', 'Normal', 'Scheduled', 'persistentvolumeclaim/pvc-a', '', 'default-scheduler, default-scheduler-host1', 'assigned', '29s', 1, 'pvc-a.17c0'],
    },
    {
      name: '1-3 series: last seen and count from the series',
      fields: {
        reason: 'FailedMount',
        type: 'Warning',
        eventTime: '2024-05-01T11:00:00.000000Z',
        series: { count: 7, lastObservedTime: '2024-05-01T11:59:00.000000Z' },
        source: { component: 'kubelet', host: 'node-1' },
        involvedObject: { kind: 'Pod', name: 'web-0', namespace: 'default', fieldPath: 'spec.containers{app}' },
      },
      want: ['60s', 'Warning', 'FailedMount', 'pod/web-0', 'spec.containers{app}', 'kubelet, node-1', '', '60m', 7, 'pvc-a.17c0'],
    },
    {
      name: '1-4 kind without a name, no timestamps',
      fields: { reason: 'Starting', involvedObject: { kind: 'Node' } },
      want: ['<unknown>', '', 'Starting', 'node', '', '', '', '<unknown>', 1, 'pvc-a.17c0'],
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(eventDef.table.row(event(row.fields), NOW), row.want);
    });
  }

  it('1-5 column order and priorities match 1.32 (five narrow, ten in all)', () => {
    assert.deepEqual(
      eventDef.table.columns.map((c) => `${c.name}:${c.priority}`),
      ['Last Seen:0', 'Type:0', 'Reason:0', 'Object:0', 'Subobject:1', 'Source:1', 'Message:0', 'First Seen:1', 'Count:1', 'Name:1'],
    );
    assert.equal(eventDef.table.columns[9].format, 'name');
  });
});

describe('core event semantics', () => {
  it('2-1 defaults give the Go wire shape', () => {
    const e = event({ reason: 'x' });
    assert.deepEqual(
      { source: e.source, firstTimestamp: e.firstTimestamp, lastTimestamp: e.lastTimestamp, eventTime: e.eventTime, reportingComponent: e.reportingComponent, reportingInstance: e.reportingInstance },
      { source: {}, firstTimestamp: null, lastTimestamp: null, eventTime: null, reportingComponent: '', reportingInstance: '' },
    );
  });

  const rows: { name: string; fields: Record<string, unknown>; namespace?: string; want: string | undefined }[] = [
    { name: '3-1 old-style event in the object namespace', fields: { reason: 'x' }, want: undefined },
    {
      name: '3-2 namespace mismatch',
      fields: { reason: 'x' },
      namespace: 'other',
      want: 'Event "pvc-a.17c0" is invalid: involvedObject.namespace: Invalid value: "default": does not match event.namespace',
    },
    { name: '3-3 involved object required', fields: { involvedObject: {} }, want: 'Event "pvc-a.17c0" is invalid: involvedObject: Required value' },
    {
      name: '3-4 new-style core event needs reporting fields',
      fields: { eventTime: '2024-05-01T11:00:00.000000Z', reason: 'x' },
      want: 'Event "pvc-a.17c0" is invalid: [reportingComponent: Required value, reportingInstance: Required value, action: Required value]',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const e = event(row.fields);
      if (row.namespace) e.metadata.namespace = row.namespace;
      const errs = eventDef.validate?.(e, undefined) ?? [];
      assert.equal(errs.length === 0 ? undefined : newInvalid({ group: '', kind: 'Event' }, 'pvc-a.17c0', errs).message, row.want);
    });
  }

  it('3-5 strict mode (events.k8s.io) rejects old-style fields', () => {
    const e = event({ reason: 'x', count: 2, eventTime: '2024-05-01T11:00:00.000000Z', reportingComponent: 'c', reportingInstance: 'i', action: 'a', type: 'Normal', firstTimestamp: '2024-05-01T11:00:00Z' });
    assert.deepEqual(
      validateEvent(e, undefined, 'strict').map((x) => x.field),
      ['firstTimestamp', 'count'],
    );
  });

  it('3-6 field selectors: involvedObject.*, source falls back to reportingComponent', () => {
    const f = eventDef.fieldSelector.fields ?? {};
    const e = event({ reason: 'x', reportingComponent: 'csi-provisioner' });
    assert.equal(f['involvedObject.kind'](e), 'PersistentVolumeClaim');
    assert.equal(f['involvedObject.fieldPath'](e), '');
    assert.equal(f.source(e), 'csi-provisioner');
    assert.equal(f['regarding.kind'], undefined);
  });
});
