// The control-plane CSI sidecars (external-provisioner with its capacity
// publisher, external-attacher), run as API clients beside a driver's
// controller service. Each takes the controller context plus the driver's CSI
// client and name, and runs until its signal aborts.
export { startExternalProvisioner, ProvisioningError, type ExternalProvisionerOptions } from './provisioner.ts';
export { startExternalAttacher, AttachError, type ExternalAttacherOptions } from './attacher.ts';
export {
  ANN_DELETION_SECRET_NAME,
  ANN_DELETION_SECRET_NAMESPACE,
  PROVISIONER_FINALIZER,
  SecretReferenceError,
  attacherFinalizer,
  errorText,
  type CSIDriver,
  type CSINode,
  type CSIStorageCapacity,
  type SidecarContext,
  type VolumeAttachment,
  type VolumeError,
} from './types.ts';
export {
  startCapacityPublisher,
  DRIVER_NAME_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type CapacityPublisherOptions,
} from './capacity.ts';
