// Makes the actual state of the world follow the desired one (upstream's
// pluginmanager/reconciler). Each pass tears down before it sets up:
//
//  1. a registered plugin whose socket is gone, or was recreated (another
//     timestamp), is unregistered;
//  2. a socket not registered with its current timestamp is registered.
//
// Sockets with an operation already running or backing off are skipped
// quietly; the operation executor owns those rules. Passes run every
// reconcileIntervalMs and at once when the watcher reports a change.
import type { ActualStateOfWorld } from './actual-state-of-world.ts';
import type { DesiredStateOfWorld } from './desired-state-of-world.ts';
import type { OperationExecutor } from './operation-executor.ts';
import type { PluginHandler } from './types.ts';

export interface ReconcilerOptions {
  dsw: DesiredStateOfWorld;
  asw: ActualStateOfWorld;
  executor: OperationExecutor;
  handlers: ReadonlyMap<string, PluginHandler>;
  loopSleepMs: number;
}

export class Reconciler {
  readonly #o: ReconcilerOptions;
  #wake: (() => void) | undefined;
  #pending = false;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  /** Asks for a pass as soon as possible. */
  kick(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Runs passes until `signal` aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.#pending = false;
      this.reconcile();
      if (this.#pending) continue;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          this.#wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, this.#o.loopSleepMs);
        signal.addEventListener('abort', done, { once: true });
        this.#wake = done;
      });
    }
  }

  /** One pass. */
  reconcile(): void {
    const { dsw, asw, executor, handlers } = this.#o;
    const desired = dsw.getPluginsToRegister();
    for (const registered of asw.getRegisteredPlugins()) {
      const current = desired.find((p) => p.socketPath === registered.socketPath);
      if (current === undefined || current.timestamp !== registered.timestamp) {
        executor.unregisterPlugin(registered, asw);
      }
    }
    for (const plugin of desired) {
      if (!asw.pluginExistsWithCorrectTimestamp(plugin)) executor.registerPlugin(plugin, handlers, asw);
    }
    executor.forgetExcept(new Set(desired.map((p) => p.socketPath)));
  }
}
