// The storage layer's public API: the Backend contract, its two
// implementations and the watch cache the API server reads through.
export * from './interface.ts';
export { SqliteBackend, type SqliteBackendOptions } from './sqlite-backend.ts';
export { MemoryBackend, type MemoryBackendOptions } from './memory-backend.ts';
export { StoreNotStartedError, type BackendStats } from './log-backend.ts';
export {
  Cacher,
  CacherNotRunningError,
  type CachedObject,
  type CacheEvent,
  type CacheEventType,
  type CacheListener,
  type CacherOptions,
  type CacherState,
} from './cacher.ts';
