// The kubelet's plugin manager: watches `<root>/plugins_registry` for
// registration sockets and registers CSI drivers with the node (CSINode entry,
// Node labels and node ID annotation, the node's CsiDriverRegistry).
// See plugin-manager.ts.
export {
  PLUGINS_REGISTRY_DIR,
  PluginManager,
  startNodePluginManager,
  type NodePluginManager,
  type NodePluginManagerOptions,
  type PluginManagerOptions,
  type PluginManagerState,
} from './plugin-manager.ts';
export { CSI_TIMEOUT_MS, CsiRegistrationHandler, highestSupportedVersion, type CsiDriverRegistrySink, type CsiRegistrationHandlerOptions, type CsiVersion } from './csi-handler.ts';
export {
  ANNOTATION_KEY_NODE_ID,
  NodeIdAnnotationError,
  NodeInfoManager,
  NodeInfoUpdateError,
  TopologyCollisionError,
  type CSINode,
  type CSINodeDriver,
  type NodeInfoManagerOptions,
} from './node-info-manager.ts';
export { PluginRegistrationError } from './operation-executor.ts';
export { DEFAULT_PLUGIN_MANAGER_TIMING, type PluginHandler, type PluginManagerTiming, type PluginToRegister, type RegisteredPlugin } from './types.ts';
