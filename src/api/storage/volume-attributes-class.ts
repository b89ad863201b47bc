// storage.k8s.io/v1 VolumeAttributesClass: a named set of mutable volume
// attributes (IOPS, throughput...) a CSI driver applies through
// ControllerModifyVolume when a claim switches class.
//
// As in kube-apiserver: driverName is required and a qualified name, at least
// one parameter is required, and driverName and parameters never change after
// creation (a claim moves to another class instead).

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell, TableColumn } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import { ALL_VERBS, defaultFieldSelector, semanticEqual, str, verbs } from '../core/common.ts';
import { dedupeErrors, validateMeta } from '../core/persistent-volume.ts';
import { validateParameters, validateProvisioner } from './storage-class.ts';

/** Marks the class claims get when they name none (alpha, as printed by kubectl). */
export const IS_DEFAULT_VOLUME_ATTRIBUTES_CLASS_ANNOTATION = 'volumeattributesclass.alpha.kubernetes.io/is-default-class';

function validateVolumeAttributesClass(vac: KubeObject): FieldError[] {
  return [...validateMeta(vac, false), ...validateProvisioner(vac.driverName, 'driverName'), ...validateParameters(vac.parameters, false, 'parameters')];
}

/** ValidateVolumeAttributesClassUpdate: the immutability rules come first, then the object itself. */
function validateVolumeAttributesClassUpdate(vac: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  if (str(vac.driverName) !== str(old.driverName)) errs.push(fieldErrors.forbidden('driverName', 'updates to driverName are forbidden.'));
  if (!semanticEqual(vac.parameters, old.parameters)) errs.push(fieldErrors.forbidden('parameters', 'updates to parameters are forbidden.'));
  errs.push(...validateVolumeAttributesClass(vac));
  return errs;
}

const volumeAttributesClassColumns: readonly TableColumn[] = [
  nameColumn,
  column('DriverName', 'string', 'Name of the CSI driver This field is immutable.'),
  ageColumn,
];

function volumeAttributesClassRow(vac: KubeObject, now: Date): TableCell[] {
  const isDefault = vac.metadata?.annotations?.[IS_DEFAULT_VOLUME_ATTRIBUTES_CLASS_ANNOTATION] === 'true';
  return [isDefault ? `${nameCell(vac)} (default)` : nameCell(vac), str(vac.driverName), ageCell(vac, now)];
}

export const volumeAttributesClassDef: ResourceDef = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'VolumeAttributesClass',
  listKind: 'VolumeAttributesClassList',
  resource: 'volumeattributesclasses',
  singular: 'volumeattributesclass',
  namespaced: false,
  shortNames: ['vac'],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1VolumeAttributesClass',
  fieldSelector: defaultFieldSelector(),
  table: { columns: volumeAttributesClassColumns, row: volumeAttributesClassRow },

  validate(vac, old) {
    return dedupeErrors(old === undefined ? validateVolumeAttributesClass(vac) : validateVolumeAttributesClassUpdate(vac, old));
  },
};
