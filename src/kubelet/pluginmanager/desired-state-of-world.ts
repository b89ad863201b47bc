// The registration sockets that exist in the plugin directory: written by the
// plugin watcher, read by the reconciler (upstream's
// pluginmanager/cache/desired_state_of_world.go).
import type { PluginToRegister } from './types.ts';

export class DesiredStateOfWorld {
  readonly #plugins = new Map<string, string>();

  /** Records the socket, or its new timestamp when it was recreated; returns whether anything changed. */
  addOrUpdatePlugin(socketPath: string, timestamp: string): boolean {
    if (this.#plugins.get(socketPath) === timestamp) return false;
    this.#plugins.set(socketPath, timestamp);
    return true;
  }

  /** Forgets the socket; a no-op (false) when it was not there. */
  removePlugin(socketPath: string): boolean {
    return this.#plugins.delete(socketPath);
  }

  pluginExists(socketPath: string): boolean {
    return this.#plugins.has(socketPath);
  }

  /** Every socket found, sorted by path so passes are deterministic. */
  getPluginsToRegister(): PluginToRegister[] {
    return [...this.#plugins]
      .map(([socketPath, timestamp]) => ({ socketPath, timestamp }))
      .sort((a, b) => (a.socketPath < b.socketPath ? -1 : a.socketPath > b.socketPath ? 1 : 0));
  }
}
