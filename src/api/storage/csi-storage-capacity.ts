// storage.k8s.io/v1 CSIStorageCapacity: what a CSI driver's GetCapacity said
// about one storage class in one topology segment, published by the external
// provisioner for the scheduler's capacity check. Namespaced (it lives with the
// driver's deployment).
//
// As in kube-apiserver 1.32: capacity and maximumVolumeSize are canonical
// quantities, storageClassName must be a class name, the topology selector a
// valid label selector; both of those are fixed once written. The table has no
// AGE column upstream.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import { isDNS1123Subdomain } from '../../apimachinery/validation.ts';
import type { ResourceDef, TableCell, TableColumn } from '../resource.ts';
import { column, nameCell, nameColumn } from '../table.ts';
import { ALL_VERBS, defaultFieldSelector, str, verbs } from '../core/common.ts';
import { validateLabelSelector } from '../core/persistent-volume-claim.ts';
import {
  dedupeErrors,
  defaultQuantityField,
  invalidFrom,
  isSet,
  quantityOf,
  quantityText,
  structEqual,
  validateMeta,
  validateNonnegativeQuantity,
  validateQuantitySyntax,
} from '../core/persistent-volume.ts';

/** Quantities are written in canonical form (`1024Mi` → `1Gi`). */
export function defaultCSIStorageCapacity(capacity: KubeObject): void {
  defaultQuantityField(capacity, 'capacity');
  defaultQuantityField(capacity, 'maximumVolumeSize');
}

function validateCSIStorageCapacity(capacity: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = validateMeta(capacity, true);
  // Label values an older object already carries in its selector stay acceptable.
  const allowInvalidValues = old !== undefined && validateLabelSelector(old.nodeTopology, 'nodeTopology', false).length > 0;
  errs.push(...validateLabelSelector(capacity.nodeTopology, 'nodeTopology', allowInvalidValues));
  const className = str(capacity.storageClassName);
  errs.push(...invalidFrom('storageClassName', className, isDNS1123Subdomain(className)));
  if (isSet(capacity.capacity)) {
    const q = quantityOf(capacity.capacity);
    if (q === undefined) errs.push(...validateQuantitySyntax(capacity.capacity, 'capacity'));
    else errs.push(...validateNonnegativeQuantity(q, 'capacity'));
  }
  errs.push(...validateQuantitySyntax(capacity.maximumVolumeSize, 'maximumVolumeSize'));

  if (old !== undefined) {
    if (!structEqual(capacity.nodeTopology, old.nodeTopology)) {
      errs.push(fieldErrors.invalid('nodeTopology', capacity.nodeTopology ?? null, 'field is immutable'));
    }
    if (className !== str(old.storageClassName)) errs.push(fieldErrors.invalid('storageClassName', className, 'field is immutable'));
  }
  return dedupeErrors(errs);
}

const csiStorageCapacityColumns: readonly TableColumn[] = [
  nameColumn,
  column('StorageClassName', 'string', 'storageClassName represents the name of the StorageClass that the reported capacity applies to.'),
  column('Capacity', 'string', 'capacity is the value reported by the CSI driver in its GetCapacityResponse.'),
];

function csiStorageCapacityRow(capacity: KubeObject): TableCell[] {
  return [nameCell(capacity), str(capacity.storageClassName), isSet(capacity.capacity) ? quantityText(capacity.capacity) : '<unset>'];
}

export const csiStorageCapacityDef: ResourceDef = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'CSIStorageCapacity',
  listKind: 'CSIStorageCapacityList',
  resource: 'csistoragecapacities',
  singular: 'csistoragecapacity',
  namespaced: true,
  shortNames: [],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1CSIStorageCapacity',
  fieldSelector: defaultFieldSelector(),
  table: { columns: csiStorageCapacityColumns, row: csiStorageCapacityRow },

  defaults: defaultCSIStorageCapacity,
  validate: validateCSIStorageCapacity,
};
