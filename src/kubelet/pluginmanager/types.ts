// The contracts between the plugin manager's parts and the handlers it feeds
// (upstream's pluginmanager/cache.PluginHandler and PluginInfo).

/**
 * What the plugin manager calls for each plugin type it knows ("CSIPlugin").
 * A handler is told of a plugin whose registration socket appeared and of
 * its disappearance; it keeps whatever state it needs about the plugin.
 */
export interface PluginHandler {
  /** Checks the plugin before anything is recorded; throws to refuse it (the plugin is told why). */
  validatePlugin(name: string, endpoint: string, versions: readonly string[]): void;
  /** Makes the plugin usable; throws to refuse it, leaving nothing of it behind. */
  registerPlugin(name: string, endpoint: string, versions: readonly string[], signal: AbortSignal): Promise<void>;
  /** The plugin's socket is gone: forget it. Never throws; failures are logged by the handler. */
  deRegisterPlugin(name: string): Promise<void>;
}

/** A registration socket found in the plugin directory. */
export interface PluginToRegister {
  socketPath: string;
  /**
   * What tells a socket recreated at the same path from the one registered
   * (inode and modification time; upstream uses the time of the fs event).
   */
  timestamp: string;
}

/** A plugin the manager registered (or is registering) with its handler. */
export interface RegisteredPlugin extends PluginToRegister {
  name: string;
  type: string;
  endpoint: string;
  handler: PluginHandler;
}

export interface PluginManagerTiming {
  /** How often the reconciler runs without being woken (upstream 1 s). */
  reconcileIntervalMs: number;
  /** How often the plugin directory is rescanned in case a watch event was missed. */
  rescanIntervalMs: number;
  /** First pause after a failed registration; it doubles up to backoffMaxMs (upstream 500 ms … 2 min 2 s). */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Deadline of GetInfo (upstream 1 s) and of NotifyRegistrationStatus (upstream 5 s). */
  getInfoTimeoutMs: number;
  notifyTimeoutMs: number;
}

export const DEFAULT_PLUGIN_MANAGER_TIMING: PluginManagerTiming = {
  reconcileIntervalMs: 1_000,
  rescanIntervalMs: 5_000,
  backoffInitialMs: 500,
  backoffMaxMs: 122_000,
  getInfoTimeoutMs: 1_000,
  notifyTimeoutMs: 5_000,
};
