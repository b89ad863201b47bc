import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { newInvalid } from '../../apimachinery/index.ts';
import { eventDef } from '../core/event.ts';
import { eventFromStorage, eventToStorage, eventsEventDef } from './event.ts';

const NOW = new Date('2024-05-01T12:00:00Z');
const meta = { name: 'e1', namespace: 'default', uid: 'u', resourceVersion: '42', creationTimestamp: '2024-05-01T11:00:00Z' };

function core(fields: Record<string, unknown>): KubeObject {
  const e: KubeObject = { apiVersion: 'v1', kind: 'Event', metadata: structuredClone(meta), ...structuredClone(fields) };
  eventDef.defaults?.(e);
  return e;
}

const oldStyle = {
  involvedObject: { kind: 'PersistentVolumeClaim', namespace: 'default', name: 'data', uid: 'c1', apiVersion: 'v1', resourceVersion: '7' },
  reason: 'ExternalProvisioning',
  message: 'Waiting for a volume to be created',
  source: { component: 'persistentvolume-controller' },
  firstTimestamp: '2024-05-01T11:00:00Z',
  lastTimestamp: '2024-05-01T11:30:00Z',
  count: 4,
  type: 'Normal',
};

const newStyle = {
  involvedObject: { kind: 'Pod', namespace: 'default', name: 'web-0' },
  reason: 'Scheduled',
  message: 'Successfully assigned default/web-0 to node-1',
  type: 'Normal',
  eventTime: '2024-05-01T11:59:00.000000Z',
  action: 'Binding',
  reportingComponent: 'default-scheduler',
  reportingInstance: 'default-scheduler-node-1',
  series: { count: 2, lastObservedTime: '2024-05-01T11:59:30.000000Z' },
  related: { kind: 'Node', name: 'node-1' },
};

describe('events.k8s.io view of core events', () => {
  it('1-1 an old-style event converts with the renamed fields and a null eventTime', () => {
    assert.deepEqual(eventFromStorage(core(oldStyle)), {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: meta,
      eventTime: null,
      reason: 'ExternalProvisioning',
      regarding: oldStyle.involvedObject,
      note: 'Waiting for a volume to be created',
      type: 'Normal',
      deprecatedSource: { component: 'persistentvolume-controller' },
      deprecatedFirstTimestamp: '2024-05-01T11:00:00Z',
      deprecatedLastTimestamp: '2024-05-01T11:30:00Z',
      deprecatedCount: 4,
    });
  });

  const roundTrips: [string, Record<string, unknown>][] = [
    ['1-2 old-style', oldStyle],
    ['1-3 new-style with series and related', newStyle],
  ];
  for (const [name, fields] of roundTrips) {
    it(`${name}: core → view → core is the identity`, () => {
      const stored = core(fields);
      assert.deepEqual(eventToStorage(eventFromStorage(stored)), stored);
    });
    it(`${name}: view → core → view is the identity`, () => {
      const view = eventFromStorage(core(fields));
      assert.deepEqual(eventFromStorage(eventToStorage(view)), view);
    });
  }

  it('1-4 conversion does not alias the input', () => {
    const stored = core(newStyle);
    const view = eventFromStorage(stored);
    (view.regarding as Record<string, unknown>).name = 'changed';
    assert.equal((stored.involvedObject as Record<string, unknown>).name, 'web-0');
  });

  it('1-5 shares storage with core events', () => {
    assert.deepEqual(
      { group: eventsEventDef.view?.storageGroup, resource: eventsEventDef.view?.storageResource },
      { group: '', resource: 'events' },
    );
  });

  it('1-6 prints the same row from either shape', () => {
    const stored = core(newStyle);
    const row = eventDef.table.row(stored, NOW);
    assert.deepEqual(eventsEventDef.table.row(eventFromStorage(stored), NOW), row);
    assert.deepEqual(eventsEventDef.table.row(stored, NOW), row);
    assert.equal(row.length, eventsEventDef.table.columns.length);
  });

  it('1-7 field selectors use regarding.* and reportingController, not involvedObject.*', () => {
    const f = eventsEventDef.fieldSelector.fields ?? {};
    const view = eventFromStorage(core(newStyle));
    assert.equal(f['regarding.name'](view), 'web-0');
    assert.equal(f['regarding.name'](core(newStyle)), 'web-0');
    assert.equal(f.reportingController(view), 'default-scheduler');
    assert.equal(f.source(view), 'default-scheduler');
    assert.equal(f['involvedObject.name'], undefined);
  });

  it('1-8 writes through this group are validated strictly', () => {
    const view: KubeObject = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'e1', namespace: 'default' },
      regarding: { kind: 'Pod', name: 'web-0', namespace: 'default' },
      reason: 'Scheduled',
      type: 'Nice',
    };
    eventsEventDef.defaults?.(view);
    const errs = eventsEventDef.validate?.(view, undefined) ?? [];
    assert.equal(
      newInvalid({ group: 'events.k8s.io', kind: 'Event' }, 'e1', errs).message,
      'Event.events.k8s.io "e1" is invalid: [eventTime: Required value, type: Invalid value: "": has invalid value: Nice]',
    );
    const good = { ...view, type: 'Normal', eventTime: '2024-05-01T11:59:00.000000Z', reportingController: 'volplane/scheduler', reportingInstance: 'i', action: 'Binding' };
    assert.deepEqual(eventsEventDef.validate?.(good, undefined), []);
  });
});
