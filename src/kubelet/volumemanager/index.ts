// The kubelet's volume manager: desired and actual state of world, the
// populator, the reconciler and reconstruction. The kubelet uses
// createVolumeManager and the VolumeManager contract; the caches are exported
// for tests and for the kubelet's debugging endpoints.
export { createVolumeManager, VolumeManagerStateError, type VolumeManagerOptions, type VolumeManagerState } from './volume-manager.ts';
export { VolumeMountTimeoutError, VolumeUnmountTimeoutError, type MountedVolume, type VolumeManager } from './types.ts';
export {
  ActualStateOfWorld,
  type ActualDevice,
  type ActualDeviceInput,
  type ActualVolume,
  type ActualVolumeInput,
  type DeviceMountState,
  type VolumeMountState,
} from './cache/actual-state-of-world.ts';
export { DesiredStateOfWorld, podSpecVolumes, type DesiredDevice, type DesiredVolume } from './cache/desired-state-of-world.ts';
export { contentSources, VolumeSpecError } from './desired-state-of-world-populator.ts';
export { DEFAULT_INITIAL_BACKOFF_MS, DEFAULT_MAX_BACKOFF_MS, ExponentialBackoff, type OperationKey, type OperationKind } from './operation-executor.ts';
export { DEFAULT_WAIT_FOR_ATTACH_TIMEOUT_MS, DeviceOperationError, type NodeVolumes } from './reconciler.ts';
export { scanPodVolumeDirs, type PodVolumeDir } from './reconstruct.ts';
