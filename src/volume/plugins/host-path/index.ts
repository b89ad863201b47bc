export { checkHostPathType, HOST_PATH_PLUGIN_NAME, HostPathPlugin, HostPathTypeError } from './host-path.ts';
export type { HostFileType, HostPathType } from './host-path.ts';
