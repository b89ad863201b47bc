// The core/v1 storage kinds in one place, for the registry: PersistentVolume
// and PersistentVolumeClaim live in their own files with the helpers the
// storage.k8s.io kinds share.

export { persistentVolumeDef, createPersistentVolumeDef } from './persistent-volume.ts';
export type { PersistentVolumeDefOptions } from './persistent-volume.ts';
export { persistentVolumeClaimDef } from './persistent-volume-claim.ts';
