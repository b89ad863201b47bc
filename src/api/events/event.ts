// events.k8s.io/v1 Event as a second view of the core/v1 Events in storage.
// The apiserver stores one shape (core) and converts on the way in and out,
// so both groups list, watch and resourceVersion the same objects. The field
// renames (compat §11):
//
//   core/v1              events.k8s.io/v1
//   involvedObject   ↔   regarding
//   message          ↔   note
//   source           ↔   deprecatedSource
//   firstTimestamp   ↔   deprecatedFirstTimestamp
//   lastTimestamp    ↔   deprecatedLastTimestamp
//   count            ↔   deprecatedCount
//   reportingComponent ↔ reportingController
//   (reportingInstance, action, reason, type, related, series, eventTime: same)
//
// Each side serialises like its Go type: the view always carries `eventTime`,
// `regarding` and `deprecatedSource`, drops empty strings and a zero count.
// The hooks of this def accept either shape (they convert a core-shaped object
// first), so the apiserver may apply them before or after toStorage.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { deepCopy } from '../../apimachinery/index.ts';
import type { ResourceDef, StorageView, TableCell } from '../resource.ts';
import { ALL_VERBS, num, rec, str, verbs } from '../core/common.ts';
import { coreEventFields, coreEventRow, eventColumns, normalizeCoreEvent, validateEvent } from '../core/event.ts';

export const EVENTS_GROUP = 'events.k8s.io';
const VIEW_API_VERSION = 'events.k8s.io/v1';

function unsetToNull(v: unknown): unknown {
  return v === undefined || v === '' ? null : v;
}

function putString(out: KubeObject, key: string, value: unknown): void {
  if (typeof value === 'string' && value !== '') out[key] = value;
}

/** core/v1 Event → events.k8s.io/v1 Event. */
export function eventFromStorage(stored: KubeObject): KubeObject {
  const src = deepCopy(stored);
  const out: KubeObject = { apiVersion: VIEW_API_VERSION, kind: 'Event', metadata: src.metadata ?? {} };
  out.eventTime = unsetToNull(src.eventTime);
  if (rec(src.series) !== undefined) out.series = src.series;
  putString(out, 'reportingController', src.reportingComponent);
  putString(out, 'reportingInstance', src.reportingInstance);
  putString(out, 'action', src.action);
  putString(out, 'reason', src.reason);
  out.regarding = rec(src.involvedObject) ?? {};
  if (rec(src.related) !== undefined) out.related = src.related;
  putString(out, 'note', src.message);
  putString(out, 'type', src.type);
  out.deprecatedSource = rec(src.source) ?? {};
  out.deprecatedFirstTimestamp = unsetToNull(src.firstTimestamp);
  out.deprecatedLastTimestamp = unsetToNull(src.lastTimestamp);
  const count = num(src.count);
  if (count !== undefined && count !== 0) out.deprecatedCount = count;
  return out;
}

/** events.k8s.io/v1 Event → core/v1 Event (normalised as stored). */
export function eventToStorage(view: KubeObject): KubeObject {
  const src = deepCopy(view);
  const out: KubeObject = { apiVersion: 'v1', kind: 'Event', metadata: src.metadata ?? {} };
  out.involvedObject = rec(src.regarding) ?? {};
  putString(out, 'reason', src.reason);
  putString(out, 'message', src.note);
  out.source = rec(src.deprecatedSource) ?? {};
  out.firstTimestamp = unsetToNull(src.deprecatedFirstTimestamp);
  out.lastTimestamp = unsetToNull(src.deprecatedLastTimestamp);
  const count = num(src.deprecatedCount);
  if (count !== undefined && count !== 0) out.count = count;
  putString(out, 'type', src.type);
  out.eventTime = unsetToNull(src.eventTime);
  if (rec(src.series) !== undefined) out.series = src.series;
  putString(out, 'action', src.action);
  if (rec(src.related) !== undefined) out.related = src.related;
  out.reportingComponent = str(src.reportingController);
  out.reportingInstance = str(src.reportingInstance);
  normalizeCoreEvent(out);
  return out;
}

/** True when `obj` is in the events.k8s.io shape rather than the stored one. */
export function isViewShaped(obj: KubeObject): boolean {
  if (obj.apiVersion === VIEW_API_VERSION) return true;
  if (obj.apiVersion === 'v1') return false;
  return ['regarding', 'note', 'deprecatedSource', 'reportingController'].some((k) => k in obj);
}

function asStored(obj: KubeObject): KubeObject {
  if (isViewShaped(obj)) return eventToStorage(obj);
  const copy = deepCopy(obj);
  normalizeCoreEvent(copy);
  return copy;
}

export const eventsView: StorageView = {
  storageGroup: '',
  storageResource: 'events',
  fromStorage: eventFromStorage,
  toStorage: eventToStorage,
};

/** Field selector names of this group → the core names they select on (compat §5.6). */
const FIELD_MAP: Record<string, string> = {
  'metadata.name': 'metadata.name',
  'metadata.namespace': 'metadata.namespace',
  'regarding.kind': 'involvedObject.kind',
  'regarding.namespace': 'involvedObject.namespace',
  'regarding.name': 'involvedObject.name',
  'regarding.uid': 'involvedObject.uid',
  'regarding.apiVersion': 'involvedObject.apiVersion',
  'regarding.resourceVersion': 'involvedObject.resourceVersion',
  'regarding.fieldPath': 'involvedObject.fieldPath',
  reportingController: 'reportingComponent',
  reason: 'reason',
  source: 'source',
  type: 'type',
};

/** A core-shaped object to read from (no copy when it already is one). */
function readable(obj: KubeObject): KubeObject {
  return isViewShaped(obj) ? eventToStorage(obj) : obj;
}

function viewFields(): Record<string, (obj: KubeObject) => string> {
  const fields: Record<string, (obj: KubeObject) => string> = {};
  for (const [name, coreName] of Object.entries(FIELD_MAP)) {
    fields[name] = (obj) => coreEventFields(readable(obj))[coreName] ?? '';
  }
  return fields;
}

function normalizeView(obj: KubeObject): void {
  if (!isViewShaped(obj)) {
    normalizeCoreEvent(obj);
    return;
  }
  if (obj.eventTime === undefined || obj.eventTime === '') obj.eventTime = null;
  if (rec(obj.regarding) === undefined) obj.regarding = {};
  if (rec(obj.deprecatedSource) === undefined) obj.deprecatedSource = {};
  for (const f of ['deprecatedFirstTimestamp', 'deprecatedLastTimestamp']) {
    if (obj[f] === undefined || obj[f] === '') obj[f] = null;
  }
}

export const eventsEventDef: ResourceDef = {
  group: EVENTS_GROUP,
  version: 'v1',
  kind: 'Event',
  listKind: 'EventList',
  resource: 'events',
  singular: 'event',
  namespaced: true,
  shortNames: ['ev'],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'EventsV1Event',
  fieldSelector: { family: 'custom', fields: viewFields() },
  table: {
    columns: eventColumns,
    row: (obj: KubeObject, now: Date): TableCell[] => coreEventRow(readable(obj), now),
  },
  view: eventsView,
  defaults: normalizeView,
  validate: (obj: KubeObject, old: KubeObject | undefined): FieldError[] =>
    validateEvent(asStored(obj), old === undefined ? undefined : asStored(old), 'strict'),
};
