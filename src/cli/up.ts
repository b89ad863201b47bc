// `volplane up`: wires the all-in-one volplane together and starts it.
//
// This is the one place components meet (design.md: "cli — the only place
// components are wired together"). Start order: data directory and its lock
// → PKI (CA kept across restarts, so kubeconfigs stay valid) → SQLite store →
// API server → admin kubeconfig → controller manager → node and volplane's
// CSI driver with its sidecars (when asked). The kubeconfig is written last, so a file
// that exists names a server that was listening. Whatever started is stopped
// in reverse order by close(), and also when a later step fails, so a failed
// start leaves no open database, no listener and no lock behind.
//
// startVolplane() is in-process on purpose: tests start the whole thing with
// port 0 in a temporary directory (src/testing) exactly as the command does.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { DisposableStore, silentLogger, type Logger } from '../base/index.ts';
import { SqliteBackend } from '../storage/index.ts';
import { startApiServer } from '../apiserver/index.ts';
import { defaultNodeIP } from '../kubelet/machine-info.ts';
import {
  ADMIN_USER,
  createAuthenticator,
  ensurePki,
  issueServingCertificate,
  loadTokenFile,
  writeKubeconfig,
  type UserInfo,
} from '../apiserver/authn/index.ts';
import { startControllerManager } from './controller-manager.ts';
import { JOIN_TOKEN_USER, NODES_GROUP } from './defaults.ts';
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
  /**
   * Run a node (kubelet, runtime, volume manager) in-process, named after the
   * host, with its root at `<dataDir>/node`. Default false here; the command
   * turns it on unless --no-node. Needs root: without it a warning says why
   * and volplane runs without a node.
   */
  node?: boolean;
  /**
   * With the node: also run volplane's CSI driver, its sidecars, its
   * CSIDriver and the StorageClasses (csi-stack.ts). Default false here; the
   * command turns it on with the node.
   */
  csi?: boolean;
  /** Deadline of each FlexVolume driver call, on the node and in the AD controller (default 2 minutes). */
  flexVolumeCallTimeoutMs?: number;
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
    // Nodes join with this token (`volplane node --token`); made once, kept across restarts.
    const joinToken = await ensureJoinToken(join(dataDir, 'join-token'));
    tokens = new Map(tokens ?? []);
    tokens.set(joinToken, { name: JOIN_TOKEN_USER, groups: [NODES_GROUP] });

    const backend = new SqliteBackend({ path: join(dataDir, 'state.db'), logger });
    await backend.start();
    resources.add({ dispose: () => backend.close() });

    const apiServer = await startApiServer({
      backend,
      host,
      port: requestedPort,
      certificates: pki.servingCertificates,
      authenticator: createAuthenticator({ caCert: pki.ca.cert, ...(tokens === undefined ? {} : { tokens }) }),
      kubeletClient: { cert: pki.apiserverKubeletClient.cert, key: pki.apiserverKubeletClient.key, ca: pki.ca.cert },
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
    const adminClient = { server: url, caCert: pki.ca.cert, clientCert: pki.admin.cert, clientKey: pki.admin.key };
    if (options.controllers === undefined || options.controllers.length > 0) {
      // The AD controller runs FlexVolume drivers' attach/detach from the node's plugin directory.
      const flexVolumePluginDir = options.node === true ? join(dataDir, 'node', 'flexvolume') : undefined;
      if (options.node === true) await mkdir(join(dataDir, 'node'), { recursive: true, mode: 0o750 });
      const manager = startControllerManager({
        client: adminClient,
        dataDir,
        logger,
        controllers: options.controllers,
        ...(flexVolumePluginDir === undefined ? {} : { flexVolumePluginDir }),
        ...(options.flexVolumeCallTimeoutMs === undefined ? {} : { flexVolumeCallTimeoutMs: options.flexVolumeCallTimeoutMs }),
      });
      resources.add({ dispose: () => manager.stop() });
    }
    if (options.node === true) {
      const nodeName = hostname().toLowerCase();
      let nodeRoot: string | undefined;
      try {
        // The node's kubelet serves logs and exec to the API server with a certificate from the cluster CA.
        const kubeletServing = await issueServingCertificate(pki.ca, {
          commonName: `system:node:${nodeName}`,
          dnsNames: [nodeName],
          ips: [defaultNodeIP()],
        });
        // The node (runtime, volume plugins) is loaded only when this process runs one.
        const { startNode } = await import('./node.ts');
        const node = await startNode({
          client: adminClient,
          nodeName,
          root: join(dataDir, 'node'),
          logger,
          ...(options.flexVolumeCallTimeoutMs === undefined ? {} : { flexVolumeCallTimeoutMs: options.flexVolumeCallTimeoutMs }),
          port: 0,
          serving: { cert: kubeletServing.cert, key: kubeletServing.key, ca: pki.ca.cert },
        });
        resources.add({ dispose: () => node.stop() });
        nodeRoot = join(dataDir, 'node');
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err), node: nodeName }, 'running without a node: it could not start');
      }
      if (nodeRoot !== undefined && options.csi === true) {
        try {
          // volplane's CSI driver; the node finds it through its plugins_registry, like any driver.
          const { startCsiStack } = await import('./csi-stack.ts');
          const csi = await startCsiStack({ client: adminClient, dataDir, nodeName, registrationDir: join(nodeRoot, 'plugins_registry'), logger });
          resources.add({ dispose: () => csi.stop() });
        } catch (err) {
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'running without the volplane CSI driver: it could not start');
        }
      }
    }
    log.info(
      { join: `volplane node --server ${url} --token $(cat ${join(dataDir, 'join-token')}) --ca-cert ${join(pki.dir, 'ca.crt')} --name <node>` },
      'other machines join as nodes with',
    );
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

/** The join token in `path`, created (random, mode 0600) when missing. */
async function ensureJoinToken(path: string): Promise<string> {
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing !== '') return existing;
  } catch (err) {
    if (!hasErrorCode(err, 'ENOENT')) throw err;
  }
  const token = randomBytes(24).toString('hex');
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  return token;
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
