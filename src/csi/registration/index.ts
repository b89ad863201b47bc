// Kubelet plugin registration (pluginregistration v1): the server a driver or
// its registrar runs on a socket in the kubelet's plugins_registry directory,
// the client the kubelet's plugin manager calls it with, and registrar mode.
export * from './types.ts';
export {
  registrationSocketName,
  RegistrationSocketInUseError,
  serveRegistration,
  type RegistrationServerHandle,
  type ServeRegistrationOptions,
} from './server.ts';
export {
  createRegistrationClient,
  GET_INFO_TIMEOUT_MS,
  NOTIFY_TIMEOUT_MS,
  type RegistrationCallOptions,
  type RegistrationClient,
} from './client.ts';
export { startRegistrar, type RegistrarOptions, type RunningRegistrar } from './registrar.ts';
