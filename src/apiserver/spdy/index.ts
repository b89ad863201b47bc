// SPDY/3.1 for the API server: the framing and header compression, a server
// session, and the exec bridge that carries a SPDY remote-command client onto
// the kubelet's WebSocket channels (kubectl before 1.30 speaks only SPDY).
export {
  encodeFrame,
  FrameDecoder,
  FrameType,
  GoAwayStatus,
  RstStatus,
  spdyHeaders,
  SpdySessionError,
  SpdyStreamError,
  SPDY_VERSION,
  type DecodedItem,
  type GoAwayStatusCode,
  type RstStatusCode,
  type SpdyFrame,
  type SpdySetting,
} from './frames.ts';
export {
  decodeHeaderBlock,
  encodeHeaderBlock,
  HeaderCompressionError,
  HeaderCompressor,
  HeaderDecompressor,
  InvalidHeaderBlockError,
  type SpdyHeaders,
} from './header-compression.ts';
export { SPDY3_HEADER_DICTIONARY } from './dictionary.ts';
export { DEFAULT_WINDOW, SpdySession, SpdyStream, type FlowControlMode, type SpdySessionOptions } from './session.ts';
export {
  bridgeSpdyExec,
  expectedStreamTypes,
  errorStreamPayload,
  KUBELET_WEBSOCKET_PROTOCOLS,
  negotiateSpdyProtocol,
  negotiationFailureMessage,
  offeredStreamProtocols,
  SPDY_STREAM_PROTOCOL_V2,
  SPDY_STREAM_PROTOCOL_V3,
  SPDY_STREAM_PROTOCOL_V4,
  StreamCreationTimeoutError,
  STREAM_TYPE_HEADER,
  SUPPORTED_SPDY_STREAM_PROTOCOLS,
  type ExecStreamFlags,
  type SpdyExecBridgeOptions,
  type SpdyExecResult,
  type SpdyStreamProtocol,
  type StreamType,
} from './remote-command.ts';
