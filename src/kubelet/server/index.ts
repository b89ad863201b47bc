// The kubelet's HTTPS server (container logs and exec for the API server's
// proxy), and the pieces of it other parts of the node may reuse.
export {
  KubeletRequestError,
  allowClientCommonName,
  parseLogOptions,
  startKubeletServer,
  type FoundContainer,
  type KubeletServer,
  type KubeletServerOptions,
  type KubeletServerTls,
  type LogOptions,
} from './server.ts';
export {
  STREAM_PROTOCOL_V4,
  STREAM_PROTOCOL_V5,
  SUPPORTED_STREAM_PROTOCOLS,
  exitCodeOf,
  type ExecStatus,
  type StreamProtocol,
} from './remote-command.ts';
