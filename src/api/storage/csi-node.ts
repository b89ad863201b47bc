// storage.k8s.io/v1 CSINode: the CSI drivers registered on one node (written
// by the kubelet's plugin manager when a driver's registrar announces itself),
// with the driver's node ID, topology keys and attach limit.
//
// Validation follows kube-apiserver 1.32 with its strategy's options (node IDs
// up to 256 characters): driver names are CSI driver names and unique, node
// IDs are required, topology keys are qualified names without repeats, and an
// existing driver entry may not be changed (drivers may be added or removed).

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell, TableColumn } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import type { JsonObject } from '../core/common.ts';
import { ALL_VERBS, arr, defaultFieldSelector, rec, str, verbs } from '../core/common.ts';
import { child, dedupeErrors, index, structEqual, validateCSIDriverName, validateMeta, validateQualifiedName } from '../core/persistent-volume.ts';

const MAX_NODE_ID_LENGTH = 256;

function validateDriver(driver: JsonObject, seen: Set<string>, path: string): FieldError[] {
  const name = str(driver.name);
  const errs = validateCSIDriverName(name, child(path, 'name'));

  const nodeID = str(driver.nodeID);
  const nodeIDPath = child(path, 'nodeID');
  if (nodeID === '') errs.push(fieldErrors.required(nodeIDPath));
  if (nodeID.length > MAX_NODE_ID_LENGTH) {
    errs.push(fieldErrors.invalid(nodeIDPath, nodeID, `must be ${MAX_NODE_ID_LENGTH} characters or less`));
  }
  const count = rec(driver.allocatable)?.count;
  if (typeof count === 'number' && count < 0) {
    errs.push(fieldErrors.invalid(child(child(path, 'allocatable'), 'count'), count, 'must be greater than or equal to 0'));
  }

  if (seen.has(name)) errs.push(fieldErrors.duplicate(child(path, 'name'), name));
  seen.add(name);

  // Upstream reports topology key problems at the driver's own path.
  const keys = new Set<string>();
  for (const k of arr(driver.topologyKeys).map((v) => str(v))) {
    if (k === '') errs.push(fieldErrors.required(path));
    if (keys.has(k)) errs.push(fieldErrors.duplicate(path, k));
    keys.add(k);
    errs.push(...validateQualifiedName(k, path));
  }
  return errs;
}

/** ValidateCSINode (+ ValidateCSINodeUpdate's rule that existing driver entries stay as they are). */
function validateCSINode(node: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = validateMeta(node, false);
  const drivers = arr(rec(node.spec)?.drivers).map((d) => rec(d) ?? {});
  const seen = new Set<string>();
  drivers.forEach((d, i) => errs.push(...validateDriver(d, seen, index('spec.drivers', i))));
  if (old !== undefined) {
    for (const oldDriver of arr(rec(old.spec)?.drivers).map((d) => rec(d) ?? {})) {
      for (const driver of drivers) {
        if (str(driver.name) === str(oldDriver.name) && !structEqual(driver, oldDriver)) {
          errs.push(fieldErrors.invalid('spec.drivers', driver, 'field is immutable'));
        }
      }
    }
  }
  return dedupeErrors(errs);
}

const csiNodeColumns: readonly TableColumn[] = [
  nameColumn,
  column('Drivers', 'integer', 'Drivers indicates the number of CSI drivers registered on the node'),
  ageColumn,
];

function csiNodeRow(node: KubeObject, now: Date): TableCell[] {
  return [nameCell(node), arr(rec(node.spec)?.drivers).length, ageCell(node, now)];
}

export const csiNodeDef: ResourceDef = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'CSINode',
  listKind: 'CSINodeList',
  resource: 'csinodes',
  singular: 'csinode',
  namespaced: false,
  shortNames: [],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1CSINode',
  fieldSelector: defaultFieldSelector(),
  table: { columns: csiNodeColumns, row: csiNodeRow },

  validate: validateCSINode,
};

