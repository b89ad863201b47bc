// Driver discovery: upstream's flexVolumeProber (probe.go). The plugin
// directory holds one `<vendor>~<driver>/` directory per driver (names
// starting with "." are ignored); a driver is there when its executable
// `<vendor>~<driver>/<driver>` is a regular executable file.
//
// Changes are noticed without a restart: an fs.watch on the directory tree
// schedules a rescan (debounced, since copying a driver in fires many events),
// and a periodic rescan catches what a watch can miss (the directory itself
// recreated, an unsupported filesystem). A rescan compares each executable's
// identity (inode, size, mtime, ctime) with what it saw last time:
//   new      → FlexVolumePlugin created, `init` run; ready on success
//   changed  → `init` run again on the same plugin object (capabilities
//              refreshed, "Not supported" memory cleared); removed on failure
//   gone     → plugin marked removed (it keeps tearing down what it mounted)
// A failed `init` is remembered with the identity it failed on, so a broken
// driver is retried when it changes, not on every rescan.
//
// Each driver is probed by its own task: a driver whose `init` hangs until its
// deadline delays nobody else's discovery. Plugin objects are stable per
// driver name for the prober's lifetime, so a VolumePluginManager can hold
// them (registerWith) while drivers come and go underneath.

import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CancelledError, onUnexpectedError, silentLogger, toDisposable, type Disposable, type Logger } from '../../../base/index.ts';
import type { VolumeHost, VolumePlugin } from '../../plugin.ts';
import { DEFAULT_DRIVER_CALL_TIMEOUT_MS } from './driver-call.ts';
import { DEFAULT_FLEX_VOLUME_PLUGIN_DIR, driverExecutablePath, driverNameFromDir, FlexVolumePlugin } from './flexvolume.ts';

export interface FlexVolumeProberOptions {
  host: VolumeHost;
  /** Default DEFAULT_FLEX_VOLUME_PLUGIN_DIR; created when missing. */
  pluginDir?: string;
  /** Deadline of each driver call, `init` included (default 2 minutes). */
  callTimeoutMs?: number;
  /** Quiet time after the last watch event before rescanning (default 100 ms). */
  debounceMs?: number;
  /** Safety-net rescan period (default 10 s; 0 disables it). */
  rescanIntervalMs?: number;
  logger?: Logger;
}

export type FlexProbeEvent =
  | { type: 'added' | 'updated'; plugin: FlexVolumePlugin }
  | { type: 'removed'; plugin: FlexVolumePlugin }
  | { type: 'failed'; dirName: string; error: Error };

/** Running: watching and rescanning. Stopped: disposed. */
export type FlexProberState = 'new' | 'running' | 'stopped';

interface Identity {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

function sameIdentity(a: Identity | undefined, b: Identity | undefined): boolean {
  return a !== undefined && b !== undefined && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

interface DriverEntry {
  plugin: FlexVolumePlugin;
  /** Identity `init` last ran on (successfully or not). */
  probed: Identity | undefined;
  /** The last `init` failure on `probed`, if any. */
  error: Error | undefined;
  /** The probe task running for this driver, if any, and whether another change arrived meanwhile. */
  task: Promise<void> | undefined;
  again: boolean;
}

export class FlexVolumeProber {
  readonly pluginDir: string;
  readonly #host: VolumeHost;
  readonly #callTimeoutMs: number;
  readonly #debounceMs: number;
  readonly #rescanIntervalMs: number;
  readonly #log: Logger;
  readonly #drivers = new Map<string, DriverEntry>();
  readonly #listeners = new Set<(e: FlexProbeEvent) => void>();
  readonly #abort = new AbortController();
  #state: FlexProberState = 'new';
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #interval: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();

  constructor(options: FlexVolumeProberOptions) {
    this.#host = options.host;
    this.pluginDir = options.pluginDir ?? DEFAULT_FLEX_VOLUME_PLUGIN_DIR;
    this.#callTimeoutMs = options.callTimeoutMs ?? DEFAULT_DRIVER_CALL_TIMEOUT_MS;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#rescanIntervalMs = options.rescanIntervalMs ?? 10_000;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'flexvolume-prober' });
  }

  get state(): FlexProberState {
    return this.#state;
  }

  /**
   * Creates the plugin directory if needed, probes every driver in it
   * (resolving once each has answered `init` or failed), then keeps watching
   * until dispose(). Throws if the directory cannot be created or read.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`flexvolume prober is ${this.#state}`);
    this.#state = 'running';
    await mkdir(this.pluginDir, { recursive: true, mode: 0o755 });
    this.#startWatch();
    if (this.#rescanIntervalMs > 0) {
      this.#interval = setInterval(() => this.#schedule(0), this.#rescanIntervalMs);
      this.#interval.unref();
    }
    await this.rescan();
  }

  /** Stops watching. Plugins stay usable (their calls are independent processes); probe tasks are cancelled. */
  async dispose(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#abort.abort();
    clearTimeout(this.#debounce);
    clearInterval(this.#interval);
    this.#watcher?.close();
    this.#watcher = undefined;
    await Promise.allSettled([this.#chain, ...[...this.#drivers.values()].map((d) => d.task)]);
  }

  /** Ready plugins, sorted by name. */
  plugins(): FlexVolumePlugin[] {
    return [...this.#drivers.values()]
      .map((d) => d.plugin)
      .filter((p) => p.state === 'ready')
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The ready plugin named `<vendor>/<driver>`, or undefined. */
  getPlugin(name: string): FlexVolumePlugin | undefined {
    const p = [...this.#drivers.values()].find((d) => d.plugin.name === name)?.plugin;
    return p?.state === 'ready' ? p : undefined;
  }

  /** The plugin object for `name` whatever its state (e.g. to tear down after a driver was removed). */
  getPluginAnyState(name: string): FlexVolumePlugin | undefined {
    return [...this.#drivers.values()].find((d) => d.plugin.name === name)?.plugin;
  }

  /** Drivers whose last `init` failed: directory name → error. */
  failures(): Map<string, Error> {
    const out = new Map<string, Error>();
    for (const [dirName, d] of this.#drivers) if (d.error !== undefined) out.set(dirName, d.error);
    return out;
  }

  onDidChange(listener: (e: FlexProbeEvent) => void): Disposable {
    this.#listeners.add(listener);
    return toDisposable(() => this.#listeners.delete(listener));
  }

  /**
   * Registers every plugin object with `manager`, now and as drivers appear.
   * Each object is registered once; a removed driver's plugin stays
   * registered but supports no spec (canSupport is false) until it returns.
   */
  registerWith(manager: { register(plugin: VolumePlugin): void }): Disposable {
    const registered = new Set<FlexVolumePlugin>();
    const add = (p: FlexVolumePlugin): void => {
      if (registered.has(p)) return;
      registered.add(p);
      manager.register(p);
    };
    for (const d of this.#drivers.values()) if (d.plugin.state !== 'uninitialized') add(d.plugin);
    return this.onDidChange((e) => {
      if (e.type === 'added') add(e.plugin);
    });
  }

  /**
   * Compares the directory with what was seen and probes what changed.
   * Resolves when those probes have finished. Listings are serialised (they
   * are quick); probes are not, so a hanging `init` holds up only its caller.
   */
  async rescan(): Promise<void> {
    const listing = this.#chain.then(() => this.#scanOnce());
    this.#chain = listing.then(() => undefined, () => undefined);
    await Promise.allSettled(await listing);
  }

  #emit(e: FlexProbeEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        onUnexpectedError(err);
      }
    }
  }

  #schedule(delayMs: number): void {
    if (this.#state !== 'running') return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.rescan().catch((err: unknown) => {
        this.#log.warn({ err }, 'flexvolume rescan failed');
      });
    }, delayMs);
    this.#debounce.unref();
  }

  #startWatch(): void {
    if (this.#state !== 'running' || this.#watcher !== undefined) return;
    try {
      // Recursive: replacing `<vendor>~<driver>/<driver>` fires inside the driver's directory.
      const w = watch(this.pluginDir, { recursive: true, persistent: false }, () => this.#schedule(this.#debounceMs));
      w.on('error', (err) => {
        // The directory went away (or the watch broke): drop it; the next scan re-creates both.
        this.#log.debug({ err }, 'flexvolume plugin dir watch ended');
        w.close();
        if (this.#watcher === w) this.#watcher = undefined;
        this.#schedule(this.#debounceMs);
      });
      this.#watcher = w;
    } catch (err) {
      this.#log.warn({ err }, 'cannot watch the flexvolume plugin dir; relying on periodic rescans');
    }
  }

  /** One listing: updates removals at once and returns the probes it started. */
  async #scanOnce(): Promise<Promise<void>[]> {
    if (this.#state !== 'running') return [];
    await mkdir(this.pluginDir, { recursive: true, mode: 0o755 });
    this.#startWatch();
    const found = new Map<string, Identity>();
    for (const ent of await readdir(this.pluginDir, { withFileTypes: true })) {
      if (ent.name.startsWith('.') || !ent.isDirectory()) continue;
      const id = await executableIdentity(driverExecutablePath(this.pluginDir, ent.name));
      if (id !== undefined) found.set(ent.name, id);
    }
    const tasks: Promise<void>[] = [];
    for (const [dirName, id] of found) {
      let entry = this.#drivers.get(dirName);
      if (entry === undefined) {
        entry = {
          plugin: new FlexVolumePlugin({ host: this.#host, pluginDir: this.pluginDir, dirName, callTimeoutMs: this.#callTimeoutMs, logger: this.#log }),
          probed: undefined,
          error: undefined,
          task: undefined,
          again: false,
        };
        this.#drivers.set(dirName, entry);
      }
      if (sameIdentity(entry.probed, id) && (entry.plugin.state === 'ready' || entry.error !== undefined)) continue;
      tasks.push(this.#probe(dirName, entry));
    }
    for (const [dirName, entry] of this.#drivers) {
      if (found.has(dirName) || entry.probed === undefined) continue;
      const wasReady = entry.plugin.state === 'ready';
      entry.plugin.markRemoved();
      entry.probed = undefined;
      entry.error = undefined;
      if (wasReady) {
        this.#log.info({ driver: entry.plugin.name }, 'flexvolume driver removed');
        this.#emit({ type: 'removed', plugin: entry.plugin });
      }
    }
    return tasks;
  }

  /** Runs `init` for one driver; a second change while it runs probes again afterwards. */
  #probe(dirName: string, entry: DriverEntry): Promise<void> {
    if (entry.task !== undefined) {
      entry.again = true;
      return entry.task;
    }
    const run = async (): Promise<void> => {
      do {
        entry.again = false;
        const execPath = driverExecutablePath(this.pluginDir, dirName);
        const id = await executableIdentity(execPath);
        if (id === undefined || this.#state !== 'running') return;
        const before = entry.plugin.state;
        try {
          const caps = await entry.plugin.init({ signal: this.#abort.signal });
          entry.probed = id;
          entry.error = undefined;
          this.#log.info({ driver: entry.plugin.name, capabilities: caps }, 'flexvolume driver initialised');
          this.#emit({ type: before === 'ready' ? 'updated' : 'added', plugin: entry.plugin });
        } catch (err) {
          if (err instanceof CancelledError) return;
          const error = err instanceof Error ? err : new Error(String(err));
          entry.probed = id;
          entry.error = error;
          this.#log.warn({ driver: driverNameFromDir(dirName), err: { name: error.name, message: error.message } }, 'flexvolume driver init failed');
          if (before === 'ready') this.#emit({ type: 'removed', plugin: entry.plugin });
          this.#emit({ type: 'failed', dirName, error });
        }
      } while (entry.again && this.#state === 'running');
    };
    entry.task = run().finally(() => {
      entry.task = undefined;
    });
    return entry.task;
  }
}

/** Identity of a regular executable file; undefined when missing, not a file or not executable. */
async function executableIdentity(path: string): Promise<Identity | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile() || (st.mode & 0o111) === 0) return undefined;
    return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Joins a driver directory name for a `<vendor>/<driver>` name (for installers and tests). */
export function driverDirFor(pluginDirPath: string, driverName: string): string {
  return join(pluginDirPath, driverName.replaceAll('/', '~'));
}
