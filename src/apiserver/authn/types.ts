// Authentication contract of the API server. An authenticator looks at a request
// (its TLS client certificate or its bearer token) and says who sent it.

import type { IncomingMessage } from 'node:http';

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
}

export interface Authenticator {
  /** The user behind `req`, or undefined when it carries no valid credentials (→ 401). */
  authenticate(req: IncomingMessage): UserInfo | undefined;
}

/** The TLS material the server listens with. PEM text. */
export interface ServingCertificates {
  /** CA that signed the serving and client certificates; clients are verified against it. */
  caCert: string;
  servingCert: string;
  servingKey: string;
}
