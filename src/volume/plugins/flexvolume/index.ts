// FlexVolume: out-of-tree volume plugins as executables on the node —
// discovery (FlexVolumeProber), the driver-call contract (FlexDriver) and one
// VolumePlugin per driver (FlexVolumePlugin, with its AttachableFlexVolume part).
export {
  DEFAULT_FLEX_VOLUME_PLUGIN_DIR,
  driverExecutablePath,
  driverNameFromDir,
  FLEX_VOLUME_PLUGIN_NAME,
  flexMountsDir,
  flexUniqueVolumeName,
  FlexVolumePlugin,
  type AttachableFlexVolume,
  type FlexPluginState,
  type FlexVolumePluginOptions,
  type NodeExpandArgs,
} from './flexvolume.ts';
export {
  DEFAULT_DRIVER_CALL_TIMEOUT_MS,
  defaultCapabilities,
  encodeDriverOptions,
  FlexDriver,
  parseDriverOutput,
  redactDriverOptions,
  STATUS_FAILURE,
  STATUS_NOT_SUPPORTED,
  STATUS_SUCCESS,
  type CallOptions,
  type DriverArg,
  type DriverCapabilities,
  type DriverOptions,
  type DriverStatus,
  type DriverStatusValue,
  type FlexDriverOptions,
  type ParsedOutput,
} from './driver-call.ts';
export {
  FlexDriverCallError,
  FlexDriverError,
  FlexDriverMissingError,
  FlexDriverNotSupportedError,
  FlexDriverOutputError,
  FlexDriverTimeoutError,
  MAX_OUTPUT_IN_ERROR,
  type FlexDriverCommand,
} from './errors.ts';
export {
  addSecretsToOptions,
  FlexSecretError,
  newOptionsForDriver,
  OPTION_FS_GROUP,
  OPTION_FS_TYPE,
  OPTION_KEY_POD_NAME,
  OPTION_KEY_POD_NAMESPACE,
  OPTION_KEY_POD_UID,
  OPTION_KEY_SECRET,
  OPTION_KEY_SERVICE_ACCOUNT_NAME,
  OPTION_PV_OR_VOLUME_NAME,
  OPTION_READ_WRITE,
  type FlexPersistentVolumeSource,
  type FlexVolumeSource,
} from './options.ts';
export { UnformattedReadOnlyDeviceError } from './format.ts';
export {
  driverDirFor,
  FlexVolumeProber,
  type FlexProbeEvent,
  type FlexProberState,
  type FlexVolumeProberOptions,
} from './probe.ts';
