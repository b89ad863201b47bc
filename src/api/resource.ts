// What the API server needs to know about one served resource: its names for
// discovery, how objects are defaulted, validated and printed, and which field
// selectors it accepts. One ResourceDef per group/version/resource.

import type { FieldError, KubeObject } from '../apimachinery/index.ts';

export type TableColumnType = 'string' | 'integer' | 'number' | 'boolean' | 'date';

export interface TableColumn {
  /** Header text as the apiserver sends it (`Access Modes`); kubectl upper-cases it. */
  name: string;
  type: TableColumnType;
  /** `name` for the first column; otherwise usually empty. */
  format: string;
  description: string;
  /** 0 = always shown, 1 = only with `-o wide`. Every row still carries every cell. */
  priority: 0 | 1;
}

export type TableCell = string | number | boolean | null;

export interface TableConvertor {
  columns: readonly TableColumn[];
  /** One cell per column, wide cells included. `now` is for AGE-like cells. */
  row(obj: KubeObject, now: Date): TableCell[];
}

/** A subresource shown in discovery (`pods/log`, `deployments/scale`). */
export interface SubresourceDef {
  name: string;
  /** The kind the subresource answers with, if not the parent's. */
  responseKind?: { group: string; version: string; kind: string };
  verbs: string[];
}

/**
 * Field selectors: `custom` kinds (pods, nodes, namespaces, secrets, events) list their
 * fields and reject others with `field label not supported: X`; `default` kinds accept
 * only metadata.name / metadata.namespace and reject others with
 * `"X" is not a known field selector: only "metadata.name", "metadata.namespace"`.
 */
export interface FieldSelectorDef {
  family: 'custom' | 'default';
  /** Extra fields (custom family). Each returns the field's value as a string ('' if unset). */
  fields?: Record<string, (obj: KubeObject) => string>;
  /** Accepted aliases, e.g. `spec.host` → `spec.nodeName`. */
  aliases?: Record<string, string>;
}

/** How an alternate view (events.k8s.io Event) maps onto the stored kind (core Event). */
export interface StorageView {
  /** The resource whose storage is shared (`events` in group ''). */
  storageGroup: string;
  storageResource: string;
  /** Stored object → this view's shape. */
  fromStorage(stored: KubeObject): KubeObject;
  /** This view's shape → stored object. */
  toStorage(obj: KubeObject): KubeObject;
}

export interface ResourceDef {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  /** Plural lower-case resource name (`persistentvolumes`). */
  resource: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  /** Subresources listed in discovery; `status` here means writes to the main resource ignore status. */
  subresources: SubresourceDef[];
  /** True when the kind has a status subresource (spec and status written separately). */
  hasStatus: boolean;
  /** True when metadata.generation tracks spec changes. */
  hasGeneration: boolean;
  /**
   * Model name in @kubernetes/client-node's type map for strict decoding
   * (`V1PersistentVolume`).
   */
  schemaType: string;
  fieldSelector: FieldSelectorDef;
  table: TableConvertor;
  /** Present when this resource is a second view of another resource's storage. */
  view?: StorageView;

  /** Fills defaults in place (after decoding, before validation), on create and update. */
  defaults?(obj: KubeObject): void;
  /** Adjusts a new object before it is stored (status reset, protection finalizers...). */
  prepareForCreate?(obj: KubeObject): void;
  /** Adjusts an update (e.g. keeps the old status on a main-resource write). */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /**
   * Adjusts a write to the status subresource before validation, after the old spec
   * was kept (e.g. a PV's status.lastPhaseTransitionTime follows phase changes).
   */
  prepareForStatusUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Validation errors for a create (`old` undefined) or an update. Field paths from the object root. */
  validate?(obj: KubeObject, old: KubeObject | undefined): FieldError[];
  /** Validation of a status-subresource update. */
  validateStatus?(obj: KubeObject, old: KubeObject): FieldError[];
}
