export { startApiServer, type ApiServer, type ApiServerOptions } from './server.ts';
export type { Authenticator, ServingCertificates, UserInfo } from './authn/types.ts';
