// Helpers for building the server-side Table of a kind: column definitions in
// the apiserver's spelling and the cells every kind shares (name, age).

import type { KubeObject } from '../apimachinery/index.ts';
import { age } from '../apimachinery/duration.ts';
import type { TableColumn, TableColumnType } from './resource.ts';

const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
const AGE_DESCRIPTION =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

export function column(name: string, type: TableColumnType, description: string, priority: 0 | 1 = 0): TableColumn {
  return { name, type, format: '', description, priority };
}

export function wideColumn(name: string, type: TableColumnType, description: string): TableColumn {
  return column(name, type, description, 1);
}

export const nameColumn: TableColumn = { name: 'Name', type: 'string', format: 'name', description: NAME_DESCRIPTION, priority: 0 };
export const ageColumn: TableColumn = { name: 'Age', type: 'string', format: '', description: AGE_DESCRIPTION, priority: 0 };

export function nameCell(obj: KubeObject): string {
  return obj.metadata.name ?? '';
}

export function ageCell(obj: KubeObject, now: Date): string {
  return age(obj.metadata.creationTimestamp, now);
}

/** Reads a nested field without caring about intermediate absence. */
export function field(obj: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

export function stringField(obj: unknown, ...path: (string | number)[]): string {
  const v = field(obj, ...path);
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}
