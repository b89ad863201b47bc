// Registers and unregisters one plugin at a time per socket path (upstream's
// pluginmanager/operationexecutor with its nested pending operations and
// exponential backoff). The register operation is upstream's handshake:
//
//   GetInfo → a handler for the type? → validatePlugin → add to the actual
//   state → handler.registerPlugin → NotifyRegistrationStatus(true)
//
// and every refusal after GetInfo answered is sent back to the plugin as
// NotifyRegistrationStatus(false, why), in upstream's words. A failed
// operation makes the socket wait (500 ms, doubling up to about 2 min) before
// the reconciler may try it again; a socket recreated at the same path is
// tried at once. Operations never throw to the caller: they log and record.
import { toError, type Logger } from '../../base/index.ts';
import { createRegistrationClient, type RegistrationClient } from '../../csi/registration/index.ts';
import type { ActualStateOfWorld } from './actual-state-of-world.ts';
import type { PluginHandler, PluginManagerTiming, PluginToRegister, RegisteredPlugin } from './types.ts';

/** A registration that did not complete; the message is what upstream would log. */
export class PluginRegistrationError extends Error {
  override readonly name = 'PluginRegistrationError';
  readonly socketPath: string;
  constructor(socketPath: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.socketPath = socketPath;
  }
}

interface Backoff {
  timestamp: string;
  retryAt: number;
  durationMs: number;
  lastError: string;
}

export interface OperationExecutorOptions {
  logger: Logger;
  timing: PluginManagerTiming;
  /** Aborted when the plugin manager stops: in-flight calls are cancelled. */
  signal: AbortSignal;
  /** Tests substitute the registration client; default the gRPC one. */
  connect?: (socketPath: string) => RegistrationClient;
  /** Called after each operation ends, so the reconciler can follow up at once. */
  onSettled?: () => void;
}

export class OperationExecutor {
  readonly #o: OperationExecutorOptions;
  readonly #running = new Map<string, Promise<void>>();
  readonly #backoff = new Map<string, Backoff>();
  readonly #connect: (socketPath: string) => RegistrationClient;

  constructor(options: OperationExecutorOptions) {
    this.#o = options;
    this.#connect = options.connect ?? createRegistrationClient;
  }

  /** Whether an operation on the socket runs now. */
  isRunning(socketPath: string): boolean {
    return this.#running.has(socketPath);
  }

  /** The last failure of the socket still waiting out its backoff, if any (for status and tests). */
  lastError(socketPath: string): string | undefined {
    return this.#backoff.get(socketPath)?.lastError;
  }

  /**
   * Starts registering `plugin` unless an operation on its socket runs or the
   * socket is backing off from a failure; returns whether it started.
   */
  registerPlugin(plugin: PluginToRegister, handlers: ReadonlyMap<string, PluginHandler>, asw: ActualStateOfWorld): boolean {
    const backoff = this.#backoff.get(plugin.socketPath);
    if (backoff !== undefined && backoff.timestamp === plugin.timestamp && Date.now() < backoff.retryAt) return false;
    return this.#start(plugin.socketPath, plugin.timestamp, () => this.#register(plugin, handlers, asw));
  }

  /** Starts unregistering `plugin` unless an operation on its socket runs; returns whether it started. */
  unregisterPlugin(plugin: RegisteredPlugin, asw: ActualStateOfWorld): boolean {
    return this.#start(plugin.socketPath, plugin.timestamp, async () => {
      // Out of the actual state first, so a socket that reappears meanwhile registers afresh.
      asw.removePlugin(plugin.socketPath);
      await plugin.handler.deRegisterPlugin(plugin.name);
      this.#o.logger.info({ plugin: plugin.name, socket: plugin.socketPath }, 'plugin deregistered');
    });
  }

  /** Drops the backoff of sockets no longer in the directory (a socket coming back starts afresh). */
  forgetExcept(socketPaths: ReadonlySet<string>): void {
    for (const path of this.#backoff.keys()) if (!socketPaths.has(path)) this.#backoff.delete(path);
  }

  /** Resolves once no operation runs. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()]);
  }

  #start(socketPath: string, timestamp: string, op: () => Promise<void>): boolean {
    if (this.#running.has(socketPath)) return false;
    const run = (async () => {
      try {
        await op();
        this.#backoff.delete(socketPath);
      } catch (err) {
        const e = toError(err);
        const previous = this.#backoff.get(socketPath);
        const durationMs =
          previous === undefined || previous.timestamp !== timestamp
            ? this.#o.timing.backoffInitialMs
            : Math.min(previous.durationMs * 2, this.#o.timing.backoffMaxMs);
        this.#backoff.set(socketPath, { timestamp, retryAt: Date.now() + durationMs, durationMs, lastError: e.message });
        if (!this.#o.signal.aborted) this.#o.logger.warn({ socket: socketPath, err: e.message, retryInMs: durationMs }, 'plugin registration failed');
      } finally {
        this.#running.delete(socketPath);
        this.#o.onSettled?.();
      }
    })();
    this.#running.set(socketPath, run);
    return true;
  }

  async #register(plugin: PluginToRegister, handlers: ReadonlyMap<string, PluginHandler>, asw: ActualStateOfWorld): Promise<void> {
    const { socketPath } = plugin;
    const { timing, signal } = this.#o;
    const client = this.#connect(socketPath);
    const fail = (message: string, cause?: unknown): PluginRegistrationError =>
      new PluginRegistrationError(socketPath, message, cause === undefined ? undefined : { cause });
    /** Tells the plugin it was refused, then throws why. */
    const refuse = async (message: string, cause?: unknown): Promise<never> => {
      try {
        await client.notifyRegistrationStatus({ plugin_registered: false, error: message }, { timeoutMs: timing.notifyTimeoutMs, signal });
      } catch (err) {
        throw fail(`${message}: ${toError(err).message}`, err);
      }
      throw fail(message, cause);
    };
    try {
      let info;
      try {
        info = await client.getInfo({ timeoutMs: timing.getInfoTimeoutMs, signal });
      } catch (err) {
        throw fail(`RegisterPlugin error -- failed to get plugin info using RPC GetInfo at socket ${socketPath}, err: ${toError(err).message}`, err);
      }
      const handler = handlers.get(info.type);
      if (handler === undefined) {
        return await refuse(`RegisterPlugin error -- no handler registered for plugin type: ${info.type} at socket ${socketPath}`);
      }
      const endpoint = info.endpoint === '' ? socketPath : info.endpoint;
      try {
        handler.validatePlugin(info.name, endpoint, info.supported_versions);
      } catch (err) {
        return await refuse(`RegisterPlugin error -- plugin validation failed with err: ${toError(err).message}`, err);
      }
      asw.addPlugin({ ...plugin, name: info.name, type: info.type, endpoint, handler });
      try {
        await handler.registerPlugin(info.name, endpoint, info.supported_versions, signal);
      } catch (err) {
        // Unlike upstream, a refused plugin leaves the actual state so that it is retried after the backoff.
        asw.removePlugin(socketPath);
        return await refuse(`RegisterPlugin error -- plugin registration failed with err: ${toError(err).message}`, err);
      }
      this.#o.logger.info({ plugin: info.name, type: info.type, endpoint, socket: socketPath }, 'plugin registered');
      try {
        await client.notifyRegistrationStatus({ plugin_registered: true, error: '' }, { timeoutMs: timing.notifyTimeoutMs, signal });
      } catch (err) {
        // The plugin stays registered: it is usable, it only did not hear so.
        throw fail(`RegisterPlugin error -- failed to send registration status at socket ${socketPath}, err: ${toError(err).message}`, err);
      }
    } finally {
      client.close();
    }
  }
}
