// The plugins the manager has registered with their handlers (upstream's
// pluginmanager/cache/actual_state_of_world.go). A plugin is added before its
// handler's registerPlugin runs, so a socket removed meanwhile is handled as a
// deregistration once the registration finishes; a registration that fails
// removes it again so that it is retried.
import type { PluginToRegister, RegisteredPlugin } from './types.ts';

export class ActualStateOfWorld {
  readonly #plugins = new Map<string, RegisteredPlugin>();

  /** Adds or replaces the plugin registered at `plugin.socketPath`. */
  addPlugin(plugin: RegisteredPlugin): void {
    this.#plugins.set(plugin.socketPath, { ...plugin });
  }

  /** A no-op when nothing is registered at the path. */
  removePlugin(socketPath: string): void {
    this.#plugins.delete(socketPath);
  }

  getRegisteredPlugins(): RegisteredPlugin[] {
    return [...this.#plugins.values()].map((p) => ({ ...p }));
  }

  /** Whether this socket, not an older one at the same path, is registered. */
  pluginExistsWithCorrectTimestamp(plugin: PluginToRegister): boolean {
    return this.#plugins.get(plugin.socketPath)?.timestamp === plugin.timestamp;
  }
}
