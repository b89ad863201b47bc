// The plugin side of kubelet plugin registration: a gRPC server on a unix
// socket in the kubelet's plugins_registry directory that answers GetInfo
// (who the plugin is and where its CSI socket is) and records the kubelet's
// NotifyRegistrationStatus verdict. This is what node-driver-registrar runs
// beside a driver; volplane's driver can serve it itself, and
// `volplane csi-registrar` serves it for any other driver.
//
// The socket file is the registration: the kubelet registers the plugin when
// the socket appears and deregisters it when the file disappears, so close()
// removes it. A failed verdict is logged and kept; unlike node-driver-registrar
// we do not exit on it, because the kubelet retries with backoff by itself.
import { chmod } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { toDisposable, type Disposable, type Logger } from '../../base/index.ts';
import { bindUnixSocket, prepareSocketPath, removeSocketFile, shutdownServer } from '../grpc-unix.ts';
import { registrationService } from './proto.ts';
import { CSI_PLUGIN_TYPE, DEFAULT_CSI_VERSIONS, type PluginInfo, type RegistrationStatus } from './types.ts';

export interface ServeRegistrationOptions {
  /** The registration socket, e.g. `<kubelet root>/plugins_registry/<driver>-reg.sock`. */
  socketPath: string;
  /** The CSI driver's name (GetPluginInfo's `name`). */
  driverName: string;
  /** The driver's CSI socket as the kubelet sees it (a path or `unix://` URL). */
  endpoint: string;
  /** CSI versions to announce (default `1.0.0`). */
  versions?: readonly string[];
  /** PluginInfo.type to announce (default `CSIPlugin`); only tests say otherwise. */
  pluginType?: string;
  logger: Logger;
}

export interface RegistrationServerHandle {
  readonly socketPath: string;
  /** Every NotifyRegistrationStatus received, oldest first. */
  statuses(): readonly RegistrationStatus[];
  /** Whether the last verdict was "registered". */
  readonly registered: boolean;
  /** Calls `listener` for each verdict from now on. */
  onStatus(listener: (status: RegistrationStatus) => void): Disposable;
  /** Stops serving and removes the socket (the kubelet then deregisters the plugin). Idempotent. */
  close(): Promise<void>;
}

/** The registration socket is served by a live process already. */
export class RegistrationSocketInUseError extends Error {
  override readonly name = 'RegistrationSocketInUseError';
  readonly path: string;
  constructor(path: string) {
    super(`registration socket ${path} is already served by another process`);
    this.path = path;
  }
}

/** node-driver-registrar's socket name: `<dir>/<driver name>-reg.sock`. */
export function registrationSocketName(driverName: string): string {
  return `${driverName}-reg.sock`;
}

/** Strips `unix://` so the kubelet gets a plain path, as node-driver-registrar passes it. */
function endpointPath(endpoint: string): string {
  if (endpoint.startsWith('unix://')) return endpoint.slice('unix://'.length);
  if (endpoint.startsWith('unix:')) return endpoint.slice('unix:'.length);
  return endpoint;
}

export async function serveRegistration(options: ServeRegistrationOptions): Promise<RegistrationServerHandle> {
  const path = options.socketPath;
  const logger = options.logger.child({ component: 'registration-server', driver: options.driverName, socket: path });
  const info: PluginInfo = {
    type: options.pluginType ?? CSI_PLUGIN_TYPE,
    name: options.driverName,
    endpoint: endpointPath(options.endpoint),
    supported_versions: [...(options.versions ?? DEFAULT_CSI_VERSIONS)],
  };
  const statuses: RegistrationStatus[] = [];
  const listeners = new Set<(s: RegistrationStatus) => void>();

  await prepareSocketPath(path, 'registration socket', (p) => new RegistrationSocketInUseError(p));
  const server = new grpc.Server();
  server.addService(registrationService().service, {
    GetInfo: (_call: grpc.ServerUnaryCall<object, PluginInfo>, callback: grpc.sendUnaryData<PluginInfo>) => {
      logger.debug('GetInfo from the kubelet');
      callback(null, { ...info, supported_versions: [...info.supported_versions] });
    },
    NotifyRegistrationStatus: (call: grpc.ServerUnaryCall<RegistrationStatus, object>, callback: grpc.sendUnaryData<object>) => {
      const status: RegistrationStatus = { plugin_registered: call.request.plugin_registered === true, error: String(call.request.error ?? '') };
      statuses.push(status);
      if (status.plugin_registered) logger.info('the kubelet registered the plugin');
      else logger.error({ error: status.error }, 'the kubelet refused the plugin registration');
      for (const l of [...listeners]) l(status);
      callback(null, {});
    },
  });
  await bindUnixSocket(server, path);
  // Only the kubelet (root) and the owner should talk to it, as node-driver-registrar's umask 077.
  await chmod(path, 0o600).catch(() => {});
  logger.info({ endpoint: info.endpoint }, 'registration socket serving');

  let closing: Promise<void> | undefined;
  return {
    socketPath: path,
    statuses: () => [...statuses],
    get registered() {
      return statuses.at(-1)?.plugin_registered === true;
    },
    onStatus(listener) {
      listeners.add(listener);
      return toDisposable(() => listeners.delete(listener));
    },
    close() {
      closing ??= (async () => {
        // The file goes first: the kubelet's watcher sees the plugin leave even if shutdown lingers.
        await removeSocketFile(path);
        await shutdownServer(server, 1_000);
      })();
      return closing;
    },
  };
}
