// core/v1 Event: the record of what every controller decided (volplane's
// storage flow is read from these: Provisioning, ProvisioningSucceeded,
// SuccessfulAttachVolume, FailedMount...). Events are stored in this shape
// only; events.k8s.io/v1 (../events/event.ts) is a second view of the same
// stored objects, so this file also exports what that view reuses: the
// shape normalisation, the validation in its legacy (core) and strict
// (events.k8s.io) flavours, and the printer — both groups print the same row.
//
// The stored JSON mirrors what the Go types serialise: `involvedObject` and
// `source` always present, the three timestamps `null` when unset, and
// `reportingComponent`/`reportingInstance` always present as strings.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import { age } from '../../apimachinery/duration.ts';
import type { FieldSelectorDef, ResourceDef, TableCell, TableColumn } from '../resource.ts';
import { column, nameColumn, wideColumn } from '../table.ts';
import type { JsonObject } from './common.ts';
import { ALL_VERBS, metaNameField, metaNamespaceField, num, rec, semanticEqual, str, validateMeta, verbs } from './common.ts';

export const EVENT_TYPE_NORMAL = 'Normal';
export const EVENT_TYPE_WARNING = 'Warning';

const REPORTING_INSTANCE_LIMIT = 128;
const ACTION_LIMIT = 128;
const REASON_LIMIT = 128;
const NOTE_LIMIT = 1024;

function isUnset(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

/** Fills the fields the Go type always serialises (in place); see the header. */
export function normalizeCoreEvent(event: KubeObject): void {
  if (rec(event.involvedObject) === undefined) event.involvedObject = {};
  if (rec(event.source) === undefined) event.source = {};
  for (const f of ['firstTimestamp', 'lastTimestamp', 'eventTime']) if (isUnset(event[f])) event[f] = null;
  if (typeof event.reportingComponent !== 'string') event.reportingComponent = '';
  if (typeof event.reportingInstance !== 'string') event.reportingInstance = '';
}

// ---------------------------------------------------------------------------
// Validation (pkg/apis/core/validation/events.go)

export type EventValidationMode = 'legacy' | 'strict';

/**
 * Validates a core-shaped event. `legacy` is what core/v1 writes get (old-style
 * events pass almost anything); `strict` is what events.k8s.io/v1 writes get.
 */
export function validateEvent(event: KubeObject, old: KubeObject | undefined, mode: EventValidationMode): FieldError[] {
  const errs: FieldError[] = [];
  const namespace = event.metadata.namespace ?? '';
  // Upstream lets an event point at nothing; volplane requires it to name its object.
  const involved = rec(event.involvedObject);
  if (involved === undefined || Object.values(involved).every(isUnset)) {
    errs.push(fieldErrors.required(mode === 'legacy' ? 'involvedObject' : 'regarding'));
  }
  const involvedNamespace = str(involved?.namespace);
  const controllerField = mode === 'legacy' ? 'reportingComponent' : 'reportingController';
  if (isUnset(event.eventTime)) {
    // Old-style event: the namespace must agree with the object's (or be default for cluster objects).
    const ok = involvedNamespace === '' ? namespace === '' || namespace === 'default' : namespace === involvedNamespace;
    if (!ok) errs.push(fieldErrors.invalid('involvedObject.namespace', involvedNamespace, 'does not match event.namespace'));
  } else {
    if (involvedNamespace === '' && namespace !== 'default' && namespace !== 'kube-system') {
      errs.push(fieldErrors.invalid('involvedObject.namespace', involvedNamespace, 'does not match event.namespace'));
    }
    if (str(event.reportingComponent) === '') errs.push(fieldErrors.required(controllerField));
    const instance = str(event.reportingInstance);
    if (instance === '') errs.push(fieldErrors.required('reportingInstance'));
    if (instance.length > REPORTING_INSTANCE_LIMIT) {
      errs.push(fieldErrors.invalid('reportingInstance', '', `can have at most ${REPORTING_INSTANCE_LIMIT} characters`));
    }
    const action = str(event.action);
    if (action === '') errs.push(fieldErrors.required('action'));
    if (action.length > ACTION_LIMIT) errs.push(fieldErrors.invalid('action', '', `can have at most ${ACTION_LIMIT} characters`));
    const reason = str(event.reason);
    if (reason === '') errs.push(fieldErrors.required('reason'));
    if (reason.length > REASON_LIMIT) errs.push(fieldErrors.invalid('reason', '', `can have at most ${REASON_LIMIT} characters`));
    if (str(event.message).length > NOTE_LIMIT) errs.push(fieldErrors.invalid('message', '', `can have at most ${NOTE_LIMIT} characters`));
  }
  if (mode === 'legacy') return [...validateMeta(event, true, old), ...errs];

  // events.k8s.io/v1 and newer: new-style events only.
  errs.push(...validateMeta(event, true, old));
  const seriesChanged = old === undefined || !semanticEqual(event.series, old.series);
  const series = rec(event.series);
  if (series && seriesChanged) {
    if ((num(series.count) ?? 0) < 2) errs.push(fieldErrors.invalid('series.count', '', 'should be at least 2'));
    if (isUnset(series.lastObservedTime)) errs.push(fieldErrors.required('series.lastObservedTime'));
  }
  if (old === undefined) {
    if (isUnset(event.eventTime)) errs.push(fieldErrors.required('eventTime'));
    const type = str(event.type);
    if (type !== EVENT_TYPE_NORMAL && type !== EVENT_TYPE_WARNING) {
      errs.push(fieldErrors.invalid('type', '', `has invalid value: ${type}`));
    }
    if (!isUnset(event.firstTimestamp)) errs.push(fieldErrors.invalid('firstTimestamp', '', 'needs to be unset'));
    if (!isUnset(event.lastTimestamp)) errs.push(fieldErrors.invalid('lastTimestamp', '', 'needs to be unset'));
    if ((num(event.count) ?? 0) !== 0) errs.push(fieldErrors.invalid('count', '', 'needs to be unset'));
    const source = rec(event.source) ?? {};
    if (str(source.component) !== '' || str(source.host) !== '') errs.push(fieldErrors.invalid('source', '', 'needs to be unset'));
  } else {
    const immutable: [string, string][] = [
      ['involvedObject', 'involvedObject'],
      ['reason', 'reason'],
      ['type', 'type'],
      ['action', 'action'],
      ['related', 'related'],
      ['reportingComponent', 'reportingController'],
      ['reportingInstance', 'reportingInstance'],
    ];
    for (const [key, path] of immutable) {
      if (!semanticEqual(event[key], old[key])) errs.push(fieldErrors.immutable(path, event[key] ?? ''));
    }
  }
  return errs;
}

// ---------------------------------------------------------------------------
// Table (printers.go printEvent) — one printer for both groups.

export const eventColumns: readonly TableColumn[] = [
  column('Last Seen', 'string', 'The time at which the most recent occurrence of this event was recorded.'),
  column('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future'),
  column('Reason', 'string', "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
  column('Object', 'string', 'The object that this event is about.'),
  wideColumn('Subobject', 'string', 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: "spec.containers{name}" (where "name" refers to the name of the container that triggered the event) or if no container name is specified "spec.containers[2]" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.'),
  wideColumn('Source', 'string', 'The component reporting this event. Should be a short machine understandable string.'),
  column('Message', 'string', 'A human-readable description of the status of this operation.'),
  wideColumn('First Seen', 'string', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)'),
  wideColumn('Count', 'string', 'The number of times this event has occurred.'),
  { ...nameColumn, priority: 1 },
];

function firstNonEmpty(...values: unknown[]): string {
  for (const v of values) if (str(v) !== '') return str(v);
  return '';
}

/** The row of a core-shaped event (all ten cells, wide ones included). */
export function coreEventRow(event: KubeObject, now: Date): TableCell[] {
  const since = (t: unknown): string => age(isUnset(t) ? undefined : str(t), now);
  const firstSeen = isUnset(event.firstTimestamp) ? since(event.eventTime) : since(event.firstTimestamp);
  let lastSeen = isUnset(event.lastTimestamp) ? firstSeen : since(event.lastTimestamp);
  let count = num(event.count) ?? 0;
  const series = rec(event.series);
  if (series) {
    lastSeen = since(series.lastObservedTime);
    count = num(series.count) ?? 0;
  } else if (count === 0) {
    count = 1; // singleton events carry no count in the new API
  }
  const involved = rec(event.involvedObject) ?? {};
  const kind = str(involved.kind).toLowerCase();
  const target = str(involved.name) !== '' ? `${kind}/${str(involved.name)}` : kind;
  const source = rec(event.source) ?? {};
  const component = firstNonEmpty(source.component, event.reportingComponent);
  const instance = firstNonEmpty(source.host, event.reportingInstance);
  return [
    lastSeen,
    str(event.type),
    str(event.reason),
    target,
    str(involved.fieldPath),
    instance === '' ? component : `${component}, ${instance}`,
    str(event.message).trim(),
    firstSeen,
    Math.trunc(count),
    event.metadata.name ?? '',
  ];
}

// ---------------------------------------------------------------------------
// Field selectors (pkg/registry/core/event/strategy.go ToSelectableFields)

/** The selectable fields of a core-shaped event, by their core names. */
export function coreEventFields(event: KubeObject): Record<string, string> {
  const involved: JsonObject = rec(event.involvedObject) ?? {};
  const source = rec(event.source) ?? {};
  return {
    'metadata.name': event.metadata.name ?? '',
    'metadata.namespace': event.metadata.namespace ?? '',
    'involvedObject.kind': str(involved.kind),
    'involvedObject.namespace': str(involved.namespace),
    'involvedObject.name': str(involved.name),
    'involvedObject.uid': str(involved.uid),
    'involvedObject.apiVersion': str(involved.apiVersion),
    'involvedObject.resourceVersion': str(involved.resourceVersion),
    'involvedObject.fieldPath': str(involved.fieldPath),
    reason: str(event.reason),
    reportingComponent: str(event.reportingComponent),
    source: firstNonEmpty(source.component, event.reportingComponent),
    type: str(event.type),
  };
}

function coreEventFieldSelector(): FieldSelectorDef {
  const fields: Record<string, (obj: KubeObject) => string> = {
    'metadata.name': metaNameField,
    'metadata.namespace': metaNamespaceField,
  };
  for (const name of Object.keys(coreEventFields({ metadata: {} }))) {
    if (!(name in fields)) fields[name] = (obj) => coreEventFields(obj)[name] ?? '';
  }
  return { family: 'custom', fields };
}

export const eventDef: ResourceDef = {
  group: '',
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
  schemaType: 'CoreV1Event',
  fieldSelector: coreEventFieldSelector(),
  table: { columns: eventColumns, row: coreEventRow },
  defaults: normalizeCoreEvent,
  validate: (event, old) => validateEvent(event, old, 'legacy'),
};
