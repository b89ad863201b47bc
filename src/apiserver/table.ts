// Server-side printing: meta.k8s.io/v1 Tables built from a ResourceDef's
// TableConvertor. The server always sends every cell (wide ones included) and
// a PartialObjectMetadata per row, as kube-apiserver does (compat §5.2).

import type { ResourceDef, TableCell, TableColumn } from '../api/index.ts';
import type { KubeObject, ObjectMeta } from '../apimachinery/index.ts';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface TableRow {
  cells: TableCell[];
  object?: KubeObject;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: readonly TableColumn[] | null;
  rows: TableRow[];
}

export function parseIncludeObject(value: string | null): IncludeObject {
  if (value === 'None' || value === 'Object') return value;
  return 'Metadata';
}

function partialMetadata(meta: ObjectMeta): KubeObject {
  const { managedFields: _mf, ...rest } = meta;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: rest };
}

export function tableRow(def: ResourceDef, obj: KubeObject, include: IncludeObject, now: Date): TableRow {
  const row: TableRow = { cells: def.table.row(obj, now) };
  if (include === 'Metadata') row.object = partialMetadata(obj.metadata);
  else if (include === 'Object') row.object = obj;
  if (def.group === '' && def.resource === 'pods') {
    const phase = (obj.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      row.conditions = [
        { type: 'Completed', status: 'True', reason: phase, message: 'The pod has completed successfully.' },
      ];
    }
  }
  return row;
}

export function toTable(
  def: ResourceDef,
  objects: readonly KubeObject[],
  metadata: Table['metadata'],
  include: IncludeObject,
  now: Date,
  withColumns = true,
): Table {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: withColumns ? def.table.columns : null,
    rows: objects.map((o) => tableRow(def, o, include, now)),
  };
}
