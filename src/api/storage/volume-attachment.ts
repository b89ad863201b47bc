// storage.k8s.io/v1 VolumeAttachment: the AD controller's request that an
// attacher (a CSI driver's external-attacher) attach a volume to a node; the
// attacher answers in status.
//
// As in kube-apiserver 1.32: the status is reset on create (to attached: false,
// the field is not omitempty in v1) and kept on main writes; the spec is
// immutable; creates also get the v1-only checks (attacher a CSI driver name,
// persistentVolumeName a PV name). A status write is validated like an update.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import { isDNS1123Subdomain } from '../../apimachinery/validation.ts';
import type { ResourceDef, TableCell, TableColumn } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import { ALL_VERBS, defaultFieldSelector, keepOldStatus, rec, statusSubresource, str, verbs } from '../core/common.ts';
import {
  child,
  dedupeErrors,
  invalidFrom,
  isSet,
  structEqual,
  validateCSIDriverName,
  validateMeta,
  validatePersistentVolumeSpec,
} from '../core/persistent-volume.ts';

const MAX_ATTACHED_VOLUME_METADATA_SIZE = 256 * 1024;
const MAX_VOLUME_ERROR_MESSAGE_SIZE = 1024;
const EXACTLY_ONE_SOURCE = 'must specify exactly one of inlineVolumeSpec and persistentVolumeName';

function validateSource(spec: Record<string, unknown>, path: string): FieldError[] {
  const source = rec(spec.source) ?? {};
  const hasInline = isSet(source.inlineVolumeSpec);
  const hasPV = isSet(source.persistentVolumeName);
  if (!hasInline && !hasPV) return [fieldErrors.required(path, EXACTLY_ONE_SOURCE)];
  if (hasInline && hasPV) return [fieldErrors.forbidden(path, EXACTLY_ONE_SOURCE)];
  if (hasPV) {
    return str(source.persistentVolumeName) === ''
      ? [fieldErrors.required(child(path, 'persistentVolumeName'), 'must specify non empty persistentVolumeName')]
      : [];
  }
  return validatePersistentVolumeSpec(rec(source.inlineVolumeSpec) ?? {}, child(path, 'inlineVolumeSpec'), {
    pvName: '',
    inline: true,
    nodeSelector: { allowInvalidLabelValue: false },
  });
}

function validateVolumeError(value: unknown, path: string): FieldError[] {
  if (!isSet(value)) return [];
  const e = rec(value) ?? {};
  // Upstream reports the metadata limit in this message, not the 1024 it checks.
  if (str(e.message).length > MAX_VOLUME_ERROR_MESSAGE_SIZE) {
    return [fieldErrors.tooLong(child(path, 'message'), '', MAX_ATTACHED_VOLUME_METADATA_SIZE)];
  }
  return [];
}

/** ValidateVolumeAttachment: metadata, spec and status. */
function validateVolumeAttachment(va: KubeObject): FieldError[] {
  const spec = rec(va.spec) ?? {};
  const status = rec(va.status) ?? {};
  const errs = validateMeta(va, false);
  if (str(spec.attacher) === '') errs.push(fieldErrors.required('spec.attacher'));
  errs.push(...validateSource(spec, 'spec.source'));
  const nodeName = str(spec.nodeName);
  errs.push(...invalidFrom('spec.nodeName', nodeName, isDNS1123Subdomain(nodeName)));

  let metadataSize = 0;
  for (const [k, v] of Object.entries(rec(status.attachmentMetadata) ?? {})) {
    metadataSize += Buffer.byteLength(k, 'utf8') + Buffer.byteLength(str(v), 'utf8');
  }
  if (metadataSize > MAX_ATTACHED_VOLUME_METADATA_SIZE) {
    errs.push(fieldErrors.tooLong('status.attachmentMetadata', '', MAX_ATTACHED_VOLUME_METADATA_SIZE));
  }
  errs.push(...validateVolumeError(status.attachError, 'status.attachError'));
  errs.push(...validateVolumeError(status.detachError, 'status.detachError'));
  return errs;
}

/** ValidateVolumeAttachmentV1: the tighter checks only new v1 objects get. */
function validateVolumeAttachmentV1(va: KubeObject): FieldError[] {
  const spec = rec(va.spec) ?? {};
  const errs = validateCSIDriverName(str(spec.attacher), 'spec.attacher');
  const source = rec(spec.source) ?? {};
  if (isSet(source.persistentVolumeName)) {
    const pvName = str(source.persistentVolumeName);
    errs.push(...invalidFrom('spec.source.persistentVolumeName', pvName, isDNS1123Subdomain(pvName)));
  }
  return errs;
}

const volumeAttachmentColumns: readonly TableColumn[] = [
  nameColumn,
  // Upstream marks this column as a name too.
  { ...column('Attacher', 'string', 'attacher indicates the name of the volume driver that MUST handle this request.'), format: 'name' },
  column('PV', 'string', 'persistentVolumeName represents the name of the persistent volume to attach.'),
  column('Node', 'string', 'nodeName represents the node that the volume should be attached to.'),
  column('Attached', 'boolean', 'attached indicates the volume is successfully attached.'),
  ageColumn,
];

function volumeAttachmentRow(va: KubeObject, now: Date): TableCell[] {
  const spec = rec(va.spec) ?? {};
  const source = rec(spec.source) ?? {};
  return [
    nameCell(va),
    str(spec.attacher),
    str(source.persistentVolumeName),
    str(spec.nodeName),
    rec(va.status)?.attached === true,
    ageCell(va, now),
  ];
}

function validateUpdate(va: KubeObject, old: KubeObject): FieldError[] {
  const errs = validateVolumeAttachment(va);
  if (!structEqual(va.spec, old.spec)) errs.push(fieldErrors.invalid('spec', va.spec ?? null, 'field is immutable'));
  return dedupeErrors(errs);
}

export const volumeAttachmentDef: ResourceDef = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'VolumeAttachment',
  listKind: 'VolumeAttachmentList',
  resource: 'volumeattachments',
  singular: 'volumeattachment',
  namespaced: false,
  shortNames: [],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [statusSubresource()],
  hasStatus: true,
  // The spec cannot change, so upstream never tracks a generation.
  hasGeneration: false,
  schemaType: 'V1VolumeAttachment',
  fieldSelector: defaultFieldSelector(),
  table: { columns: volumeAttachmentColumns, row: volumeAttachmentRow },

  defaults(va) {
    // v1 writes `attached` even when false (no omitempty), so a status always carries it.
    const status = rec(va.status);
    if (status === undefined) va.status = { attached: false };
    else if (typeof status.attached !== 'boolean') status.attached = false;
  },
  prepareForCreate(va) {
    va.status = { attached: false };
  },
  prepareForUpdate(va, old) {
    keepOldStatus(va, old);
  },
  validate(va, old) {
    if (old !== undefined) return validateUpdate(va, old);
    return dedupeErrors([...validateVolumeAttachment(va), ...validateVolumeAttachmentV1(va)]);
  },
  validateStatus(va, old) {
    return validateUpdate(va, old);
  },
};
