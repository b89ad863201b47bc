// The storage layer's public API: the Backend contract, its two
// implementations and the watch cache the API server reads through.
export * from './interface.ts';
export { SqliteBackend, SqliteWorkerExitedError, type SqliteBackendOptions } from './sqlite-backend.ts';
export { SqliteFaults, SqliteWorkerError, InjectedCommitFailure } from './sqlite-protocol.ts';
export { MemoryBackend, type MemoryBackendOptions } from './memory-backend.ts';
export { StoreNotStartedError, StoreProtocolError, type BackendStats } from './log-backend.ts';
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
