export { EMPTY_DIR_PLUGIN_NAME, EmptyDirPlugin, STORAGE_MEDIUM_MEMORY, sizeLimitBytes } from './empty-dir.ts';
