// storage.k8s.io/v1: the kinds that describe how volumes are provisioned,
// attached and published (StorageClass, VolumeAttachment, CSIDriver, CSINode,
// CSIStorageCapacity, VolumeAttributesClass). The core/v1 PersistentVolume and
// PersistentVolumeClaim live in ../core/storage-defs.ts.

import type { ResourceDef } from '../resource.ts';
import { csiDriverDef } from './csi-driver.ts';
import { csiNodeDef } from './csi-node.ts';
import { csiStorageCapacityDef } from './csi-storage-capacity.ts';
import { storageClassDef } from './storage-class.ts';
import { volumeAttachmentDef } from './volume-attachment.ts';
import { volumeAttributesClassDef } from './volume-attributes-class.ts';

export { csiDriverDef, csiNodeDef, csiStorageCapacityDef, storageClassDef, volumeAttachmentDef, volumeAttributesClassDef };
export {
  BETA_IS_DEFAULT_STORAGE_CLASS_ANNOTATION,
  IS_DEFAULT_STORAGE_CLASS_ANNOTATION,
  isDefaultStorageClass,
} from './storage-class.ts';
export type { VolumeBindingMode } from './storage-class.ts';
export type { FSGroupPolicy, VolumeLifecycleMode } from './csi-driver.ts';
export { IS_DEFAULT_VOLUME_ATTRIBUTES_CLASS_ANNOTATION } from './volume-attributes-class.ts';

/** Every storage.k8s.io/v1 kind volplane serves. */
export const storageResourceDefs: ResourceDef[] = [
  storageClassDef,
  volumeAttachmentDef,
  csiDriverDef,
  csiNodeDef,
  csiStorageCapacityDef,
  volumeAttributesClassDef,
];
