// The registry of volume plugins a component (kubelet, controllers) works
// with: upstream's VolumePluginMgr without probing, since every plugin here
// is in-tree. A spec must be claimed by exactly one plugin: none means the
// volume type is not supported on this node, several means two plugins
// disagree about ownership — both are configuration errors worth an event.

import type { VolumePlugin, VolumeSpec } from './plugin.ts';
import { volumeSpecName } from './plugin.ts';

/** No registered plugin supports the spec. */
export class NoVolumePluginError extends Error {
  override readonly name = 'NoVolumePluginError';
  readonly volumeName: string;
  constructor(volumeName: string) {
    super('no volume plugin matched');
    this.volumeName = volumeName;
  }
}

/** More than one registered plugin supports the spec. */
export class MultipleVolumePluginsError extends Error {
  override readonly name = 'MultipleVolumePluginsError';
  readonly volumeName: string;
  readonly plugins: readonly string[];
  constructor(volumeName: string, plugins: readonly string[]) {
    super(`multiple volume plugins matched: ${plugins.join(',')}`);
    this.volumeName = volumeName;
    this.plugins = plugins;
  }
}

/** findPluginByName found nothing with that name. */
export class VolumePluginNotFoundError extends Error {
  override readonly name = 'VolumePluginNotFoundError';
  readonly pluginName: string;
  constructor(pluginName: string) {
    super(`no volume plugin matched name: ${pluginName}`);
    this.pluginName = pluginName;
  }
}

/** Two plugins were registered under one name. */
export class DuplicateVolumePluginError extends Error {
  override readonly name = 'DuplicateVolumePluginError';
  readonly pluginName: string;
  constructor(pluginName: string) {
    super(`volume plugin ${JSON.stringify(pluginName)} was registered more than once`);
    this.pluginName = pluginName;
  }
}

export class VolumePluginManager {
  readonly #plugins = new Map<string, VolumePlugin>();

  constructor(plugins: readonly VolumePlugin[] = []) {
    for (const p of plugins) this.register(p);
  }

  /** Adds a plugin. Throws DuplicateVolumePluginError when its name is taken. */
  register(plugin: VolumePlugin): void {
    if (this.#plugins.has(plugin.name)) throw new DuplicateVolumePluginError(plugin.name);
    this.#plugins.set(plugin.name, plugin);
  }

  /** Registered plugin names, sorted. */
  pluginNames(): string[] {
    return [...this.#plugins.keys()].sort();
  }

  /** The one plugin supporting `spec`. Throws NoVolumePluginError or MultipleVolumePluginsError. */
  findPluginBySpec(spec: VolumeSpec): VolumePlugin {
    const matches = [...this.#plugins.values()].filter((p) => p.canSupport(spec));
    if (matches.length === 0) throw new NoVolumePluginError(volumeSpecName(spec));
    if (matches.length > 1) throw new MultipleVolumePluginsError(volumeSpecName(spec), matches.map((p) => p.name).sort());
    return matches[0];
  }

  /** The plugin registered as `name`. Throws VolumePluginNotFoundError. */
  findPluginByName(name: string): VolumePlugin {
    const p = this.#plugins.get(name);
    if (p === undefined) throw new VolumePluginNotFoundError(name);
    return p;
  }
}
