// Public entry of the protobuf body decoder (see decoder.ts for the design).
export {
  PROTOBUF_CONTENT_TYPE,
  PROTOBUF_MAGIC,
  ProtobufDecodeError,
  UnsupportedProtobufKindError,
  decodeKubernetesProtobuf,
  supportedProtobufKinds,
} from './decoder.ts';
export type { DecodedProtobufObject, ProtobufDecodeReason } from './decoder.ts';
