// The host mount utility: mount, bind-mount, unmount and the kernel's mount table.
export { DEFAULT_MOUNT_TIMEOUT_MS, HostMountUtil } from './mount-util.ts';
export type { CommandOptions, HostMountUtilOptions, MountCommandOptions, MountUtil, UnmountOptions } from './mount-util.ts';
export { parseMountInfo, unescapeMountField, type MountInfo } from './mount-info.ts';
export { MountError, MountTimeoutError } from './errors.ts';
