// Authentication for the API server: the cluster PKI, the authenticator that
// turns a request into a user, and the kubeconfig files handed to users.
export * from './types.ts';
export {
  ADMIN_GROUPS,
  ADMIN_USER,
  KUBELET_CLIENT_USER,
  PKI_FILES,
  PkiError,
  createCertificateAuthority,
  defaultServingNames,
  ensurePki,
  issueClientCertificate,
  issueServingCertificate,
  servingNames,
} from './pki.ts';
export type {
  CertificateAndKey,
  CertificateAuthorityOptions,
  ClientCertificateOptions,
  EnsurePkiOptions,
  Pki,
  ServingCertificateOptions,
} from './pki.ts';
export { AUTHENTICATED_GROUP, TokenFileError, bearerToken, createAuthenticator, loadTokenFile } from './authenticator.ts';
export type { AuthenticatorOptions } from './authenticator.ts';
export { buildKubeconfig, renderKubeconfig, writeKubeconfig } from './kubeconfig.ts';
export type { Kubeconfig, KubeconfigOptions } from './kubeconfig.ts';
