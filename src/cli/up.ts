// `volplane up`: wires the all-in-one volplane together and starts it.
//
// This is the one place components meet (design.md: "cli — the only place
// components are wired together"). Start order: data directory and its lock
// → PKI (CA kept across restarts, so kubeconfigs stay valid) → SQLite store →
// API server → admin kubeconfig → controller manager. The kubeconfig is written last, so a file
// that exists names a server that was listening. Whatever started is stopped
// in reverse order by close(), and also when a later step fails, so a failed
// start leaves no open database, no listener and no lock behind.
//
// startVolplane() is in-process on purpose: tests start the whole thing with
// port 0 in a temporary directory (src/testing) exactly as the command does.

import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { DisposableStore, silentLogger, type Logger } from '../base/index.ts';
import { SqliteBackend } from '../storage/index.ts';
import { startApiServer } from '../apiserver/index.ts';
import {
  ADMIN_USER,
  createAuthenticator,
  ensurePki,
  loadTokenFile,
  writeKubeconfig,
  type UserInfo,
} from '../apiserver/authn/index.ts';
import { startControllerManager } from './controller-manager.ts';
import { ensureDataDir, lockDataDir } from './data-dir.ts';
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from './defaults.ts';
import { PortInUseError, hasErrorCode, hostPort } from './errors.ts';


export interface VolplaneOptions {
  /** Where state, PKI and the kubeconfig live; created if missing. */
  dataDir: string;
  /** Address the API listens on (default 127.0.0.1; 0.0.0.0 or :: for every interface). */
  apiHost?: string;
  /** Default 6443; 0 picks a free port. */
  apiPort?: number;
  /** A kube-apiserver style token file (`token,user,uid,"group1,group2"`) for bearer-token users. */
  tokenAuthFile?: string;
  /** Control-plane controllers to run (see controller-manager.ts); default all, `[]` for none. */
  controllers?: readonly string[];
  logger?: Logger;
}

export interface Volplane {
  /** The API's URL as written into the kubeconfig, e.g. https://127.0.0.1:6443. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The admin kubeconfig, `<dataDir>/kubeconfig`. */
  readonly kubeconfigPath: string;
  /** Stops the API server, then closes the store and releases the data directory. Idempotent. */
  close(): Promise<void>;
}

export async function startVolplane(options: VolplaneOptions): Promise<Volplane> {
  // Each part adds its own `component` binding to the root logger.
  const logger = options.logger ?? silentLogger();
  const log = logger.child({ component: 'volplane' });
  const host = options.apiHost ?? DEFAULT_API_HOST;
  const requestedPort = options.apiPort ?? DEFAULT_API_PORT;
  const dataDir = options.dataDir;
  const kubeconfigPath = join(dataDir, 'kubeconfig');

  const resources = new DisposableStore();
  try {
    await ensureDataDir(dataDir);
    const lock = await lockDataDir(dataDir);
    resources.add({ dispose: () => lock.release() });

    const pki = await ensurePki(join(dataDir, 'pki'), { ...servingNamesFor(host), logger });
    let tokens: Map<string, UserInfo> | undefined;
    if (options.tokenAuthFile !== undefined) tokens = await loadTokenFile(options.tokenAuthFile, log);

    const backend = new SqliteBackend({ path: join(dataDir, 'state.db'), logger });
    await backend.start();
    resources.add({ dispose: () => backend.close() });

    const apiServer = await startApiServer({
      backend,
      host,
      port: requestedPort,
      certificates: pki.servingCertificates,
      authenticator: createAuthenticator({ caCert: pki.ca.cert, ...(tokens === undefined ? {} : { tokens }) }),
      logger,
    }).catch((err: unknown) => {
      throw hasErrorCode(err, 'EADDRINUSE') ? new PortInUseError(host, requestedPort, { cause: err }) : err;
    });
    resources.add({ dispose: () => apiServer.close() });

    const url = `https://${hostPort(clientHost(host), apiServer.port)}`;
    await writeKubeconfig(kubeconfigPath, {
      server: url,
      caCert: pki.ca.cert,
      clientCert: pki.admin.cert,
      clientKey: pki.admin.key,
      user: ADMIN_USER,
    });
    if (options.controllers === undefined || options.controllers.length > 0) {
      const manager = startControllerManager({
        client: { server: url, caCert: pki.ca.cert, clientCert: pki.admin.cert, clientKey: pki.admin.key },
        dataDir,
        logger,
        controllers: options.controllers,
      });
      resources.add({ dispose: () => manager.stop() });
    }
    log.info({ url, dataDir, kubeconfig: kubeconfigPath }, 'volplane is ready');

    let closing: Promise<void> | undefined;
    return {
      url,
      port: apiServer.port,
      dataDir,
      kubeconfigPath,
      close() {
        closing ??= resources.dispose().then(() => log.info('volplane stopped'));
        return closing;
      },
    };
  } catch (err) {
    await resources.dispose().catch((cleanupErr: unknown) => log.error({ err: cleanupErr }, 'cleanup after a failed start failed'));
    throw err;
  }
}

/** The address a client on this machine should dial for a server listening on `host`. */
function clientHost(host: string): string {
  return isWildcard(host) ? '127.0.0.1' : host;
}

/** Whether listening on `host` means every interface. */
function isWildcard(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::';
}

/** Serving-certificate names for `host` beyond the defaults (loopback, localhost, host name). */
function servingNamesFor(host: string): { dnsNames: string[]; ips: string[] } {
  if (isWildcard(host)) {
    // Reachable on every interface: cover every address this machine has now.
    const ips = Object.values(networkInterfaces())
      .flatMap((addresses) => addresses ?? [])
      .filter((a) => !a.internal && !(a.family === 'IPv6' && a.address.startsWith('fe80:')))
      .map((a) => a.address);
    return { dnsNames: [], ips };
  }
  return isIP(host) === 0 ? { dnsNames: [host], ips: [] } : { dnsNames: [], ips: [host] };
}
