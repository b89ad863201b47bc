// Kubeconfig files for volplane's users: one cluster, one user, one context,
// with the CA and the client credentials embedded as base64 data so the file
// is self-contained (it can be copied to another machine). It is written with
// mode 0600 because it holds a private key, and through a rename so kubectl
// never reads half a file.

import { stringify } from 'yaml';
import { writeAtomic } from './atomic-write.ts';

export interface KubeconfigOptions {
  /** The API's URL, e.g. https://127.0.0.1:6443. */
  server: string;
  /** PEM of the CA that signed the serving certificate. */
  caCert: string;
  /** PEM client certificate and key of `user`. */
  clientCert: string;
  clientKey: string;
  /** Name of the user entry (by convention the certificate's CN). */
  user: string;
  cluster?: string;
  context?: string;
}

/** The kubeconfig document (apiVersion v1, kind Config) as a plain object. */
export interface Kubeconfig {
  apiVersion: 'v1';
  kind: 'Config';
  clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  'current-context': string;
  preferences: Record<string, never>;
}

export function buildKubeconfig(options: KubeconfigOptions): Kubeconfig {
  const cluster = options.cluster ?? 'volplane';
  const context = options.context ?? 'volplane';
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: options.server, 'certificate-authority-data': base64(options.caCert) } }],
    users: [
      {
        name: options.user,
        user: { 'client-certificate-data': base64(options.clientCert), 'client-key-data': base64(options.clientKey) },
      },
    ],
    contexts: [{ name: context, context: { cluster, user: options.user } }],
    'current-context': context,
    preferences: {},
  };
}

/** The kubeconfig as YAML text. */
export function renderKubeconfig(options: KubeconfigOptions): string {
  return stringify(buildKubeconfig(options));
}

/** Writes the kubeconfig to `path` (replacing it), readable by its owner only. */
export async function writeKubeconfig(path: string, options: KubeconfigOptions): Promise<void> {
  await writeAtomic(path, renderKubeconfig(options), 0o600);
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
