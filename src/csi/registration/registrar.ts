// Registrar mode (kubernetes-csi/node-driver-registrar) for a driver that
// only serves CSI: ask the driver its name (GetPluginInfo), then serve the
// registration socket `<registration dir>/<name>-reg.sock` that points the
// kubelet at the driver's socket. The driver may start after the registrar,
// so the name is asked again until the driver answers or the signal aborts.
import { join } from 'node:path';
import { CancelledError, delay, toError, type Logger } from '../../base/index.ts';
import { createCsiClient } from '../client.ts';
import { registrationSocketName, serveRegistration, type RegistrationServerHandle } from './server.ts';

export interface RegistrarOptions {
  /** The driver's CSI socket as this process reaches it (path or `unix://` URL). */
  csiAddress: string;
  /** The same socket as the kubelet sees it; announced in GetInfo. */
  kubeletRegistrationPath: string;
  /** The kubelet's plugins_registry directory (as this process sees it). */
  pluginRegistrationDir: string;
  /** CSI versions to announce (default `1.0.0`). */
  versions?: readonly string[];
  /** Deadline of each GetPluginInfo attempt (default 1 s, upstream's --timeout). */
  timeoutMs?: number;
  /** Pause between attempts while the driver does not answer (default 1 s). */
  retryIntervalMs?: number;
  signal?: AbortSignal;
  logger: Logger;
}

export interface RunningRegistrar extends RegistrationServerHandle {
  readonly driverName: string;
}

/** Resolves once the registration socket serves; rejects with CancelledError when `signal` aborts first. */
export async function startRegistrar(options: RegistrarOptions): Promise<RunningRegistrar> {
  const logger = options.logger.child({ component: 'csi-registrar' });
  const csi = createCsiClient(options.csiAddress, { defaultTimeoutMs: options.timeoutMs ?? 1_000 });
  let driverName: string;
  try {
    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted) throw new CancelledError('registrar stopped before the driver answered');
      try {
        const info = await csi.identity.GetPluginInfo({}, options.signal === undefined ? {} : { signal: options.signal });
        if (info.name === '') throw new Error('the driver returned an empty name from GetPluginInfo');
        driverName = info.name;
        break;
      } catch (err) {
        if (options.signal?.aborted) throw new CancelledError('registrar stopped before the driver answered');
        // One line now and then, not one a second, while a slow driver starts.
        if (attempt % 10 === 0) logger.warn({ csiAddress: options.csiAddress, err: toError(err).message }, 'waiting for the CSI driver to answer GetPluginInfo');
        await delay(options.retryIntervalMs ?? 1_000, options.signal).catch(() => {});
      }
    }
  } finally {
    csi.close();
  }
  logger.info({ driver: driverName }, 'CSI driver found');
  const handle = await serveRegistration({
    socketPath: join(options.pluginRegistrationDir, registrationSocketName(driverName)),
    driverName,
    endpoint: options.kubeletRegistrationPath,
    logger,
    ...(options.versions === undefined ? {} : { versions: options.versions }),
  });
  return Object.assign(handle, { driverName });
}
