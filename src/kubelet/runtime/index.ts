// The container runtime of a node: real processes in their own namespaces,
// an image store of root filesystems, CRI-format logs. See runtime.ts.
export * from './types.ts';
export {
  createRuntime,
  ContainerBusyError,
  ContainerNotRunningError,
  InvalidContainerSpecError,
  RuntimeClosedError,
  RuntimeUnavailableError,
  type RuntimeOptions,
} from './runtime.ts';
export { createImageStore, parseImageReference, InvalidImageReferenceError, type ImageReference, type ImageStoreOptions } from './image-store.ts';
export {
  readContainerLog,
  parseCriLogLine,
  formatRfc3339Nano,
  parseRfc3339Nano,
  CriLogWriter,
  ContainerLogNotFoundError,
  MAX_LOG_ENTRY_BYTES,
  type CriLogEntry,
  type LogLine,
  type LogStream,
  type ReadContainerLogOptions,
} from './cri-log.ts';
export { HostToolNotFoundError, HostCommandError, UnsafePathError } from './host.ts';
