// volplane's CSI driver (Identity, Controller, Node). Serve it with
// serveCsiDriver() from src/csi.
export { createVolplaneDriver, type VolplaneDriver, type VolplaneDriverOptions } from './driver.ts';
export { DriverState, StateFileError, type SnapshotRecord, type VolumeKind, type VolumeRecord } from './state.ts';
export { HostCommandError } from './host.ts';
export { registeredNodeIds, type NodeRegistration } from './nodes.ts';
export { CONTEXT_EPHEMERAL, CONTEXT_PATH, DRIVER_NAME, DRIVER_VERSION, TOPOLOGY_KEY, type DriverMode } from './volumes.ts';
