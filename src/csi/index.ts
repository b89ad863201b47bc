// The CSI toolkit: the csi.v1 protocol (types), a typed client and the
// server scaffold that drivers run behind.
export * from './types.ts';
export {
  createCsiClient,
  type CsiCallOptions,
  type CsiClient,
  type CsiClientOptions,
  type CsiServiceClient,
} from './client.ts';
export {
  EndpointInUseError,
  lockKeys,
  redactSecrets,
  serveCsiDriver,
  validateRequired,
  type CsiServerHandle,
  type ServeCsiDriverOptions,
} from './server.ts';
export { socketPath } from './proto.ts';
