// The volume layer: the node-side plugin contract and its plugin manager, the
// host mount utility, the atomic writer, safe subPath preparation and the
// in-tree plugins (emptyDir, hostPath, configMap, secret, downwardAPI,
// projected, local, nfs). Provisioners (provisioner.ts, provisioners/) are
// the control-plane side and have their own entry points.

import type { VolumeHost, VolumePlugin } from './plugin.ts';
import { ConfigMapPlugin } from './plugins/config-map/index.ts';
import { DownwardAPIPlugin } from './plugins/downward-api/index.ts';
import { EmptyDirPlugin } from './plugins/empty-dir/index.ts';
import { HostPathPlugin } from './plugins/host-path/index.ts';
import { LocalVolumePlugin } from './plugins/local/index.ts';
import { NFSPlugin } from './plugins/nfs/index.ts';
import { ProjectedPlugin, type ServiceAccountTokenSource } from './plugins/projected/index.ts';
import { SecretPlugin } from './plugins/secret/index.ts';

export * from './plugin.ts';
export * from './plugin-manager.ts';
export type * from './types.ts';
export * from './mount/index.ts';
export {
  AtomicWriter,
  cleanPayload,
  DATA_DIR_NAME,
  InvalidPayloadPathError,
  timestampDirPrefix,
  validatePayloadPath,
  type FileProjection,
  type Payload,
  type WriteOptions,
} from './util/atomic-writer.ts';
export {
  cleanSubPaths,
  CONTAINER_SUBPATH_DIRECTORY_NAME,
  pathWithinBase,
  prepareSubPath,
  safeMakeDir,
  SubPathError,
  subPathBindTarget,
  validateSubPath,
  type SubPath,
} from './util/subpath.ts';
export { requiresPermissionChange, setVolumeOwnership, type FsGroupChangePolicy } from './util/volume-ownership.ts';
export { MissingKeyError, ObjectNotFoundError, DEFAULT_PROJECTION_MODE } from './util/projection-mounter.ts';
export * from './plugins/empty-dir/index.ts';
export * from './plugins/host-path/index.ts';
export * from './plugins/config-map/index.ts';
export * from './plugins/secret/index.ts';
export * from './plugins/downward-api/index.ts';
export * from './plugins/projected/index.ts';
export * from './plugins/local/index.ts';
export * from './plugins/nfs/index.ts';

export interface BuiltinPluginOptions {
  /** Bound service account tokens for projected volumes; without it those sources fail. */
  tokens?: ServiceAccountTokenSource;
}

/** One instance of every in-tree node plugin, for a VolumePluginManager. */
export function builtinVolumePlugins(host: VolumeHost, options: BuiltinPluginOptions = {}): VolumePlugin[] {
  return [
    new EmptyDirPlugin(host),
    new HostPathPlugin(host),
    new ConfigMapPlugin(host),
    new SecretPlugin(host),
    new DownwardAPIPlugin(host),
    new ProjectedPlugin(host, options.tokens),
    new LocalVolumePlugin(host),
    new NFSPlugin(host),
  ];
}
export * from './plugins/flexvolume/index.ts';
export * from './plugins/csi/index.ts';
