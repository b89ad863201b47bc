// The in-tree provisioner contract: what the PV controller calls to create
// and delete the storage behind a dynamically provisioned PersistentVolume.
// (Upstream's ProvisionableVolumePlugin/Provisioner/Deleter, reduced to the
// two calls the controller makes.) A provisioner knows storage, not the API:
// it returns the volume source and size, and the controller writes the PV.

import type {
  PersistentVolume,
  PersistentVolumeClaim,
  StorageClass,
  VolumeNodeAffinity,
  VolumeSources,
} from '../api/core/volume-types.ts';

export interface ProvisionOptions {
  /** The PV's name (`pvc-<claim uid>`): stable, so a retried provision finds its earlier work. */
  pvName: string;
  claim: PersistentVolumeClaim;
  storageClass: StorageClass;
  /** The node the scheduler chose (`volume.kubernetes.io/selected-node`), if any. */
  selectedNode?: string;
}

/** What the controller needs to write the PV: the source, the real size and where it can be used. */
export interface ProvisionedVolume {
  source: VolumeSources;
  /** The size actually provided, as a quantity (e.g. `1Gi`). */
  capacity: string;
  nodeAffinity?: VolumeNodeAffinity;
}

export interface Provisioner {
  /** The provisioner name a StorageClass refers to (e.g. `volplane.io/hostpath`). */
  readonly name: string;
  /**
   * Creates the storage for a claim. Repeating a call that succeeded returns
   * the same volume. Throws ProvisionError (or CancelledError on abort).
   */
  provision(options: ProvisionOptions, signal: AbortSignal): Promise<ProvisionedVolume>;
  /**
   * Deletes (or archives) the storage behind `pv`. A volume already gone is
   * success. Throws DeleteError (or CancelledError on abort).
   */
  delete(pv: PersistentVolume, signal: AbortSignal): Promise<void>;
  /**
   * The PV names this provisioner holds storage for, with the volume source each
   * PV would carry. Optional: lets the controller find storage provisioned for a
   * claim whose PV was never saved (a crash in between) and delete it.
   */
  listVolumes?(signal: AbortSignal): Promise<{ pvName: string; source: VolumeSources }[]>;
}

/** The provisioner could not create the volume; the message goes into the ProvisioningFailed event. */
export class ProvisionError extends Error {
  override readonly name = 'ProvisionError';
  readonly provisioner: string;
  constructor(provisioner: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.provisioner = provisioner;
  }
}

/** The provisioner could not delete the volume; the message goes into the VolumeFailedDelete event. */
export class DeleteError extends Error {
  override readonly name = 'DeleteError';
  readonly provisioner: string;
  readonly volume: string;
  constructor(provisioner: string, volume: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.provisioner = provisioner;
    this.volume = volume;
  }
}
