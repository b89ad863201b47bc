// The kubelet's plugin manager (upstream's pkg/kubelet/pluginmanager): drivers
// announce themselves by putting a registration socket in
// `<root>/plugins_registry/`; the watcher turns the directory into the
// desired state of the world, the reconciler registers and unregisters
// through the operation executor, and the handler for the plugin's type does
// the type's work — for "CSIPlugin", NodeGetInfo and the CSINode entry.
//
//   plugins_registry/  ──watch + rescan──▶  desired state
//                                              │ reconciler (teardown first)
//   registration socket ◀──GetInfo/Notify──  operation executor ──▶ handler
//                                              │
//                                           actual state
//
// Stopping the manager does not deregister anything: as upstream, a
// restarted kubelet finds the sockets again and re-registers them (the
// CSINode entry is then already right and is left alone).
//
// startNodePluginManager() is what a node runs: the manager over
// `<root>/plugins_registry` with the CSI handler, plus the kubelet's own
// empty CSINode (upstream creates it at start, retrying until the Node exists).
import { join } from 'node:path';
import { delay, toError, type Logger } from '../../base/index.ts';
import type { RestClient } from '../../client/index.ts';
import type { CsiClient } from '../../csi/index.ts';
import { CSI_PLUGIN_TYPE, type RegistrationClient } from '../../csi/registration/index.ts';
import { ActualStateOfWorld } from './actual-state-of-world.ts';
import { CsiRegistrationHandler, type CsiDriverRegistrySink } from './csi-handler.ts';
import { DesiredStateOfWorld } from './desired-state-of-world.ts';
import { NodeInfoManager } from './node-info-manager.ts';
import { OperationExecutor } from './operation-executor.ts';
import { PluginWatcher } from './plugin-watcher.ts';
import { Reconciler } from './reconciler.ts';
import { DEFAULT_PLUGIN_MANAGER_TIMING, type PluginHandler, type PluginManagerTiming, type RegisteredPlugin } from './types.ts';

/** The directory below the kubelet root where plugins put registration sockets. */
export const PLUGINS_REGISTRY_DIR = 'plugins_registry';

export interface PluginManagerOptions {
  /** The directory to watch, e.g. `<root>/plugins_registry`. */
  socketDir: string;
  logger: Logger;
  timing?: Partial<PluginManagerTiming>;
  /** Tests substitute the registration client. */
  connect?: (socketPath: string) => RegistrationClient;
}

export type PluginManagerState = 'new' | 'running' | 'stopped';

export class PluginManager {
  readonly socketDir: string;
  readonly #logger: Logger;
  readonly #stop = new AbortController();
  readonly #handlers = new Map<string, PluginHandler>();
  readonly #dsw = new DesiredStateOfWorld();
  readonly #asw = new ActualStateOfWorld();
  readonly #executor: OperationExecutor;
  readonly #reconciler: Reconciler;
  readonly #watcher: PluginWatcher;
  #state: PluginManagerState = 'new';
  #loop: Promise<void> | undefined;
  #disposing: Promise<void> | undefined;

  constructor(options: PluginManagerOptions) {
    const timing = { ...DEFAULT_PLUGIN_MANAGER_TIMING, ...options.timing };
    this.socketDir = options.socketDir;
    this.#logger = options.logger.child({ component: 'plugin-manager' });
    this.#executor = new OperationExecutor({
      logger: this.#logger,
      timing,
      signal: this.#stop.signal,
      onSettled: () => this.#reconciler.kick(),
      ...(options.connect === undefined ? {} : { connect: options.connect }),
    });
    this.#reconciler = new Reconciler({ dsw: this.#dsw, asw: this.#asw, executor: this.#executor, handlers: this.#handlers, loopSleepMs: timing.reconcileIntervalMs });
    this.#watcher = new PluginWatcher({
      path: options.socketDir,
      dsw: this.#dsw,
      logger: this.#logger,
      rescanIntervalMs: timing.rescanIntervalMs,
      onChange: () => this.#reconciler.kick(),
    });
  }

  get state(): PluginManagerState {
    return this.#state;
  }

  /** Handles plugins of `pluginType` with `handler` from the next reconcile pass on. */
  addHandler(pluginType: string, handler: PluginHandler): void {
    this.#handlers.set(pluginType, handler);
  }

  /** Creates the directory, scans it and starts watching and reconciling. Throws when the directory cannot be created. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`plugin manager already ${this.#state}`);
    this.#state = 'running';
    await this.#watcher.start();
    this.#loop = this.#reconciler.run(this.#stop.signal);
    this.#logger.info({ path: this.socketDir }, 'plugin manager watching for registration sockets');
  }

  /** The plugins registered (or being registered) now. */
  registeredPlugins(): RegisteredPlugin[] {
    return this.#asw.getRegisteredPlugins();
  }

  /** Why the last registration at `socketPath` failed, while it waits to be retried. */
  lastError(socketPath: string): string | undefined {
    return this.#executor.lastError(socketPath);
  }

  /** Rescans the directory now (a test or an operator need not wait for the periodic rescan). */
  rescan(): Promise<void> {
    return this.#watcher.scan();
  }

  /** Stops watching, cancels running registrations and waits for them; registered plugins stay registered. Idempotent. */
  dispose(): Promise<void> {
    this.#disposing ??= (async () => {
      this.#state = 'stopped';
      this.#stop.abort();
      await this.#watcher.dispose();
      await this.#loop;
      await this.#executor.idle();
    })();
    return this.#disposing;
  }
}

export interface NodePluginManagerOptions {
  client: RestClient;
  nodeName: string;
  /** The kubelet root; sockets are looked for in `<root>/plugins_registry`. */
  root: string;
  /** The node's CsiDriverRegistry (src/volume/plugins/csi). */
  registry: CsiDriverRegistrySink;
  logger: Logger;
  timing?: Partial<PluginManagerTiming>;
  /** Deadline of NodeGetInfo during registration (default 2 min, upstream's csiTimeout). */
  nodeGetInfoTimeoutMs?: number;
  /** Tests substitute the clients. */
  connectRegistration?: (socketPath: string) => RegistrationClient;
  connectCsi?: (endpoint: string) => CsiClient;
}

export interface NodePluginManager {
  readonly pluginManager: PluginManager;
  readonly nodeInfo: NodeInfoManager;
  readonly socketDir: string;
  /** Resolves once this node's CSINode exists (created at start when missing). */
  csiNodeInitialized(): Promise<void>;
  /** Stops the manager and the CSINode initialisation. Idempotent. */
  dispose(): Promise<void>;
}

/** Starts the plugin manager a node runs, with the CSI handler, and creates the node's CSINode. */
export async function startNodePluginManager(options: NodePluginManagerOptions): Promise<NodePluginManager> {
  const logger = options.logger;
  const socketDir = join(options.root, PLUGINS_REGISTRY_DIR);
  const nodeInfo = new NodeInfoManager({ client: options.client, nodeName: options.nodeName, logger });
  const handler = new CsiRegistrationHandler({
    registry: options.registry,
    nodeInfo,
    logger,
    ...(options.nodeGetInfoTimeoutMs === undefined ? {} : { nodeGetInfoTimeoutMs: options.nodeGetInfoTimeoutMs }),
    ...(options.connectCsi === undefined ? {} : { connect: options.connectCsi }),
  });
  const pluginManager = new PluginManager({
    socketDir,
    logger,
    ...(options.timing === undefined ? {} : { timing: options.timing }),
    ...(options.connectRegistration === undefined ? {} : { connect: options.connectRegistration }),
  });
  pluginManager.addHandler(CSI_PLUGIN_TYPE, handler);

  const stop = new AbortController();
  // The Node may not be registered yet (the kubelet registers it in parallel), so keep trying.
  const initialized = (async () => {
    let pauseMs = 100;
    for (let attempt = 0; !stop.signal.aborted; attempt++) {
      try {
        await nodeInfo.initializeCSINode(stop.signal);
        return;
      } catch (err) {
        if (stop.signal.aborted) return;
        if (attempt % 5 === 0) logger.warn({ err: toError(err).message, node: options.nodeName }, 'initializing the CSINode failed, will retry');
        await delay(pauseMs, stop.signal).catch(() => {});
        pauseMs = Math.min(pauseMs * 2, 30_000);
      }
    }
  })();

  try {
    await pluginManager.start();
  } catch (err) {
    stop.abort();
    await initialized;
    await pluginManager.dispose();
    throw err;
  }
  let disposing: Promise<void> | undefined;
  return {
    pluginManager,
    nodeInfo,
    socketDir,
    csiNodeInitialized: () => initialized,
    dispose() {
      disposing ??= (async () => {
        stop.abort();
        await initialized;
        await pluginManager.dispose();
      })();
      return disposing;
    },
  };
}
