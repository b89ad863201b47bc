// The messages of the kubelet plugin-registration API (proto/pluginregistration.proto)
// in the JS shape our loader options give them: snake_case fields, defaults filled in.

/** PluginInfo.type of a CSI driver. */
export const CSI_PLUGIN_TYPE = 'CSIPlugin';
/** PluginInfo.type of a device plugin (the kubelet has no handler for it here). */
export const DEVICE_PLUGIN_TYPE = 'DevicePlugin';
/** PluginInfo.type of a dynamic resource allocation plugin (no handler here either). */
export const DRA_PLUGIN_TYPE = 'DRAPlugin';

/** The CSI versions node-driver-registrar announces, and so do we. */
export const DEFAULT_CSI_VERSIONS: readonly string[] = ['1.0.0'];

export interface InfoRequest {}

export interface PluginInfo {
  type: string;
  name: string;
  endpoint: string;
  supported_versions: string[];
}

export interface RegistrationStatus {
  plugin_registered: boolean;
  error: string;
}

export interface RegistrationStatusResponse {}
