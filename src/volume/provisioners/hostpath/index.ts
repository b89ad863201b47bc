export {
  HOSTPATH_PROVISIONER_NAME,
  HostPathProvisioner,
  UnsafeVolumeNameError,
  validateVolumeName,
  type HostPathProvisionerOptions,
} from './hostpath-provisioner.ts';
