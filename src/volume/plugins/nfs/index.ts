export { NFS_PLUGIN_NAME, NFSPlugin, nfsMountSource } from './nfs.ts';
