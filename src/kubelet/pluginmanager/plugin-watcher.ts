// Finds registration sockets in the plugin directory (upstream's
// pluginmanager/pluginwatcher) and keeps the desired state of the world equal
// to what is there: sockets at any depth, names starting with "." ignored,
// other files ignored.
//
// Unlike upstream, each watch event does not carry the change itself: it only
// triggers a rescan of the directory, and a periodic rescan catches what
// fs.watch misses (events dropped under load, a directory replaced). The
// rescan is cheap — a plugin directory holds a handful of sockets — and makes
// the result independent of the order and number of events.
import { watch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { toError, type Logger } from '../../base/index.ts';
import type { DesiredStateOfWorld } from './desired-state-of-world.ts';

export interface PluginWatcherOptions {
  /** The directory to watch, e.g. `<root>/plugins_registry`; created when missing. */
  path: string;
  dsw: DesiredStateOfWorld;
  logger: Logger;
  rescanIntervalMs: number;
  /** Called after a scan changed the desired state. */
  onChange: () => void;
}

export type PluginWatcherState = 'new' | 'running' | 'stopped';

export class PluginWatcher {
  readonly #o: PluginWatcherOptions;
  #state: PluginWatcherState = 'new';
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #again = false;

  constructor(options: PluginWatcherOptions) {
    this.#o = options;
  }

  get state(): PluginWatcherState {
    return this.#state;
  }

  /** Creates the directory, scans it once, then watches it. Throws when the directory cannot be created. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`plugin watcher already ${this.#state}`);
    this.#state = 'running';
    await mkdir(this.#o.path, { recursive: true, mode: 0o755 });
    await this.scan();
    if (this.#state !== 'running') return;
    try {
      this.#watcher = watch(this.#o.path, { recursive: true }, () => this.#schedule());
      this.#watcher.on('error', (err) => this.#o.logger.warn({ err: toError(err).message, path: this.#o.path }, 'plugin directory watch failed; relying on rescans'));
    } catch (err) {
      this.#o.logger.warn({ err: toError(err).message, path: this.#o.path }, 'cannot watch the plugin directory; relying on rescans');
    }
    this.#timer = setInterval(() => this.#schedule(), this.#o.rescanIntervalMs);
    this.#timer.unref();
  }

  /** Scans the directory now (waits for a scan already running, then scans again). */
  async scan(): Promise<void> {
    this.#schedule();
    while (this.#scanning !== undefined) await this.#scanning;
  }

  /** Stops watching; waits for a scan in progress. Idempotent. */
  async dispose(): Promise<void> {
    this.#state = 'stopped';
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    while (this.#scanning !== undefined) await this.#scanning;
  }

  #schedule(): void {
    if (this.#state !== 'running') return;
    if (this.#scanning !== undefined) {
      this.#again = true;
      return;
    }
    this.#scanning = (async () => {
      try {
        do {
          this.#again = false;
          await this.#scanOnce();
        } while (this.#again && this.#state === 'running');
      } catch (err) {
        this.#o.logger.warn({ err: toError(err).message, path: this.#o.path }, 'scanning the plugin directory failed');
      } finally {
        this.#scanning = undefined;
      }
    })();
  }

  async #scanOnce(): Promise<void> {
    const found = new Map<string, string>();
    await this.#walk(this.#o.path, found, true);
    const { dsw } = this.#o;
    let changed = false;
    for (const [socketPath, timestamp] of found) {
      if (dsw.addOrUpdatePlugin(socketPath, timestamp)) {
        this.#o.logger.debug({ socket: socketPath }, 'registration socket found');
        changed = true;
      }
    }
    for (const { socketPath } of dsw.getPluginsToRegister()) {
      if (!found.has(socketPath)) {
        dsw.removePlugin(socketPath);
        this.#o.logger.debug({ socket: socketPath }, 'registration socket gone');
        changed = true;
      }
    }
    if (changed) this.#o.onChange();
  }

  async #walk(dir: string, found: Map<string, string>, isRoot: boolean): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      // The root gone means no plugins; a subdirectory may vanish between readdir and here.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (isRoot) throw err;
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await this.#walk(path, found, false);
      } else if (entry.isSocket()) {
        try {
          const st = await lstat(path, { bigint: true });
          if (st.isSocket()) found.set(path, `${st.ino}-${st.mtimeNs}`);
        } catch {
          // Removed since readdir: not there.
        }
      }
    }
  }
}
