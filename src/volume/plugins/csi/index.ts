// kubernetes.io/csi: the node's CSI volume plugin (CsiVolumePlugin) and the
// per-node registry of CSI drivers it reaches them through.
export { CsiVolumePlugin, CsiHostMissingError, type CsiVolumePluginOptions } from './csi-plugin.ts';
export { CsiAttachWaitError } from './csi-attacher.ts';
export {
  blockPublishPath,
  blockStagingPath,
  CSI_PLUGIN_NAME,
  csiAttachmentName,
  csiDeviceMountPath,
  CsiDriverNotRegisteredError,
  csiEphemeralVolumeName,
  csiInlineUniqueVolumeName,
  csiPodVolumeDir,
  CsiRpcError,
  CsiSpecError,
  csiUniqueVolumeName,
  CsiVolumeError,
  DEFAULT_CSI_TIMEOUT_MS,
  inlineVolumeHandle,
  isUncertainCsiError,
  POD_INFO_KEY,
  VOL_DATA_FILE_NAME,
  type CsiOperation,
} from './csi-util.ts';
export { CsiDriverRegistry, type CsiDriverRegistration, type CsiRegistryEvent } from './registry.ts';
