// An informer keeps a local, indexed copy of one resource (optionally one
// namespace, filtered by selectors) and tells handlers what changed — the
// list-and-watch loop of client-go's Reflector plus the store and handler
// fan-out of its shared informer, in one class.
//
// The loop: list (paged) → replace the cache, delivering the difference →
// watch from the list's resourceVersion with bookmarks → when the stream ends
// (server timeout, restart) watch again from the last resourceVersion seen
// (bookmarks advance it) → when the server says that version is gone (410 /
// ERROR Expired) list again and deliver the difference: deletes for objects
// that vanished, updates for those that changed. Connection errors back off
// exponentially (100 ms → 10 s) and keep the resourceVersion, so a server
// restart costs one re-watch and no relist. The loop never throws; only
// aborting its signal ends it.
//
// Handlers run synchronously, after the cache has been updated, in the order
// events arrive; they are expected to be cheap (enqueue a key). A handler
// added after the first list gets a synthetic onAdd for every cached object,
// as in client-go. onUpdate fires only when the resourceVersion changed, or
// on a periodic resync (with the same object twice) when `resyncMs` is set.
// An older resourceVersion never overwrites a newer one in the cache.
// Cached objects are shared: handlers and readers must not mutate them.

import type { KubeList, KubeObject, Status } from '../apimachinery/index.ts';
import { apiVersionOf } from '../apimachinery/index.ts';
import type { Disposable, Logger } from '../base/index.ts';
import { CancelledError, delay, toDisposable, toError } from '../base/index.ts';
import { objectKey, resourcePath, type ResourceRef } from './paths.ts';
import { ApiError, type RestClient, type WatchEvent } from './rest.ts';

export type InformerState = 'new' | 'listing' | 'watching' | 'backoff' | 'stopped';

export interface InformerEventHandler<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions {
  client: RestClient;
  resource: ResourceRef;
  /** Watch one namespace; unset or '' for all namespaces (or a cluster-scoped resource). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  logger: Logger;
  /** Every this many ms, onUpdate(obj, obj) for every cached object. Off when unset or 0. */
  resyncMs?: number;
  /** Reconnect backoff (default 100 ms doubling to 10 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** Page size of the list (default 500). */
  pageSize?: number;
}

/** run() was called on an informer that already ran. */
export class InformerAlreadyStartedError extends Error {
  override readonly name = 'InformerAlreadyStartedError';
  readonly resource: string;
  constructor(resource: string) {
    super(`informer for ${resource} was already started`);
    this.resource = resource;
  }
}

/** The result of one watch attempt. */
type WatchOutcome =
  | { kind: 'ended'; progress: boolean }
  | { kind: 'expired'; progress: boolean }
  | { kind: 'failed'; progress: boolean; relist: boolean; err: Error };

const WATCH_MIN_TIMEOUT_S = 300;

/** Compares resourceVersions as the integers they are; opaque strings compare as "different". */
function isOlder(rv: string | undefined, than: string | undefined): boolean {
  if (rv === undefined || than === undefined || !/^\d+$/.test(rv) || !/^\d+$/.test(than)) return false;
  return rv.length !== than.length ? rv.length < than.length : rv < than;
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly resource: ResourceRef;
  readonly namespace: string;
  readonly #client: RestClient;
  readonly #logger: Logger;
  readonly #labelSelector: string | undefined;
  readonly #fieldSelector: string | undefined;
  readonly #resyncMs: number;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #pageSize: number;

  readonly #items = new Map<string, T>();
  readonly #indexers = new Map<string, { fn: (obj: T) => string[]; index: Map<string, Set<string>> }>();
  readonly #handlers = new Set<InformerEventHandler<T>>();
  readonly #syncWaiters = new Set<{ resolve: () => void; reject: (err: Error) => void }>();
  #state: InformerState = 'new';
  #synced = false;
  #lastRv = '';

  constructor(options: InformerOptions) {
    this.#client = options.client;
    this.resource = options.resource;
    this.namespace = options.namespace ?? '';
    this.#labelSelector = options.labelSelector;
    this.#fieldSelector = options.fieldSelector;
    this.#resyncMs = options.resyncMs ?? 0;
    this.#backoff = options.backoff ?? { initialMs: 100, maxMs: 10_000 };
    this.#pageSize = options.pageSize ?? 500;
    this.#logger = options.logger.child({ component: 'informer', resource: this.#describe() });
    // Resolve the path now: a namespace on a cluster-scoped resource is a programming error.
    resourcePath(this.resource, this.namespace);
  }

  get state(): InformerState {
    return this.#state;
  }

  /** The resourceVersion the informer is current to ('' before the first list). */
  lastSyncResourceVersion(): string {
    return this.#lastRv;
  }

  /**
   * Registers handlers. If the informer has synced, onAdd is called at once
   * for every cached object. Disposing the result removes them.
   */
  addEventHandler(handler: InformerEventHandler<T>): Disposable {
    this.#handlers.add(handler);
    if (this.#synced && handler.onAdd !== undefined) {
      for (const obj of [...this.#items.values()]) this.#call(() => handler.onAdd?.(obj));
    }
    return toDisposable(() => this.#handlers.delete(handler));
  }

  /** Adds an index (`fn` returns the index values of an object); existing objects are indexed at once. */
  addIndexer(name: string, fn: (obj: T) => string[]): void {
    if (this.#indexers.has(name)) throw new Error(`indexer ${JSON.stringify(name)} already exists`);
    const entry = { fn, index: new Map<string, Set<string>>() };
    this.#indexers.set(name, entry);
    for (const [key, obj] of this.#items) this.#indexAdd(entry, key, obj);
  }

  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  list(): T[] {
    return [...this.#items.values()];
  }

  /** The objects whose index `name` contains `value`. Throws for an unknown index. */
  byIndex(name: string, value: string): T[] {
    const entry = this.#indexers.get(name);
    if (entry === undefined) throw new Error(`no indexer named ${JSON.stringify(name)}`);
    const keys = entry.index.get(value);
    if (keys === undefined) return [];
    const out: T[] = [];
    for (const k of keys) {
      const obj = this.#items.get(k);
      if (obj !== undefined) out.push(obj);
    }
    return out;
  }

  /** Whether the first list has been delivered (stays true afterwards). */
  hasSynced(): boolean {
    return this.#synced;
  }

  /**
   * Resolves once the first list has been delivered. Rejects with
   * CancelledError when `signal` aborts, or when the informer stops first.
   */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(new CancelledError());
    if (this.#state === 'stopped') return Promise.reject(new CancelledError(`informer for ${this.#describe()} stopped before it synced`));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#syncWaiters.delete(waiter);
        reject(new CancelledError());
      };
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      this.#syncWaiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Lists and watches until `signal` aborts, then resolves. Runs once per informer. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#state !== 'new') throw new InformerAlreadyStartedError(this.#describe());
    let resync: NodeJS.Timeout | undefined;
    let failures = 0;
    const backoff = async (): Promise<void> => {
      const base = Math.min(this.#backoff.initialMs * 2 ** failures, this.#backoff.maxMs);
      failures++;
      this.#state = 'backoff';
      // Jitter so that many informers do not reconnect in lockstep.
      await delay(base * (0.8 + Math.random() * 0.4), signal);
    };
    try {
      let needList = true;
      while (!signal.aborted) {
        if (needList) {
          this.#state = 'listing';
          try {
            await this.#listAndReplace(signal);
            needList = false;
          } catch (err) {
            if (signal.aborted) break;
            this.#logger.info({ err: toError(err).message, failures }, 'list failed, backing off');
            await backoff();
            continue;
          }
          if (!this.#synced) {
            this.#synced = true;
            for (const w of [...this.#syncWaiters]) w.resolve();
            this.#syncWaiters.clear();
            if (this.#resyncMs > 0) {
              resync = setInterval(() => this.#resync(), this.#resyncMs);
              resync.unref();
            }
          }
        }
        this.#state = 'watching';
        const outcome = await this.#watchOnce(signal);
        if (signal.aborted) break;
        if (outcome.progress) failures = 0;
        if (outcome.kind === 'expired') {
          this.#logger.debug({ rv: this.#lastRv }, 'resourceVersion expired, relisting');
          needList = true;
        } else if (outcome.kind === 'failed') {
          this.#logger.info({ err: outcome.err.message, failures, relist: outcome.relist }, 'watch failed');
          if (outcome.relist) needList = true;
        }
        // A watch that ended at once, with nothing delivered, must not turn into a hot loop.
        if (!outcome.progress) await backoff();
      }
    } catch (err) {
      if (!(err instanceof CancelledError && signal.aborted)) throw err;
    } finally {
      clearInterval(resync);
      this.#state = 'stopped';
      for (const w of [...this.#syncWaiters]) w.reject(new CancelledError(`informer for ${this.#describe()} stopped before it synced`));
      this.#syncWaiters.clear();
    }
  }

  #describe(): string {
    const r = this.resource.group === '' ? this.resource.resource : `${this.resource.resource}.${this.resource.group}`;
    return this.namespace === '' ? r : `${r} in ${this.namespace}`;
  }

  #query(extra: Record<string, string>): string {
    const q = new URLSearchParams();
    if (this.#labelSelector !== undefined && this.#labelSelector !== '') q.set('labelSelector', this.#labelSelector);
    if (this.#fieldSelector !== undefined && this.#fieldSelector !== '') q.set('fieldSelector', this.#fieldSelector);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return `${resourcePath(this.resource, this.namespace)}?${q.toString()}`;
  }

  /** Lists every page and replaces the cache with the result, delivering the difference. */
  async #listAndReplace(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let listRv = '';
    let kind = '';
    let cont = '';
    for (;;) {
      const extra: Record<string, string> = { limit: String(this.#pageSize) };
      if (cont !== '') extra.continue = cont;
      let page: KubeList<T>;
      try {
        page = await this.#client.get<KubeList<T>>(this.#query(extra), { signal });
      } catch (err) {
        if (cont !== '' && err instanceof ApiError && err.code === 410) {
          // The snapshot behind the continue token is gone: start over.
          items.length = 0;
          cont = '';
          listRv = '';
          continue;
        }
        throw err;
      }
      if (listRv === '') listRv = page.metadata?.resourceVersion ?? '';
      kind = page.kind?.replace(/List$/, '') ?? '';
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue ?? '';
      if (cont === '') break;
    }
    const apiVersion = apiVersionOf(this.resource);
    const seen = new Set<string>();
    for (const item of items) {
      // List items may come without type metadata; watch events and the event recorder need it.
      if (item.kind === undefined && kind !== '') item.kind = kind;
      if (item.apiVersion === undefined) item.apiVersion = apiVersion;
      const key = objectKey(item);
      seen.add(key);
      this.#upsert(key, item);
    }
    for (const [key, old] of [...this.#items]) {
      if (!seen.has(key)) this.#remove(key, old);
    }
    this.#lastRv = listRv;
  }

  async #watchOnce(signal: AbortSignal): Promise<WatchOutcome> {
    const timeoutS = Math.floor(WATCH_MIN_TIMEOUT_S * (1 + Math.random()));
    const path = this.#query({ watch: 'true', resourceVersion: this.#lastRv, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutS) });
    // A client-side deadline too: a connection that died silently must not hang the informer forever.
    const watchdog = new AbortController();
    const timer = setTimeout(() => watchdog.abort(), (timeoutS + 60) * 1000);
    timer.unref();
    const started = Date.now();
    let delivered = false;
    let expired = false;
    let errorStatus: Status | undefined;
    const watchSignal = AbortSignal.any([signal, watchdog.signal]);
    try {
      await this.#client.watch<T>(
        path,
        (event) => {
          if (expired || errorStatus !== undefined || watchSignal.aborted) return;
          if (event.type === 'ERROR') {
            const status = event.object as unknown as Status;
            if (status.code === 410) expired = true;
            else errorStatus = status;
            watchdog.abort();
            return;
          }
          delivered = true;
          this.#apply(event);
        },
        { signal: watchSignal },
      );
    } catch (err) {
      const progress = delivered || Date.now() - started >= 1000;
      if (signal.aborted || (watchdog.signal.aborted && (expired || errorStatus !== undefined))) {
        // Fall through to the outcome below.
      } else if (watchdog.signal.aborted) {
        return { kind: 'ended', progress };
      } else if (err instanceof ApiError && err.code === 410) {
        return { kind: 'expired', progress };
      } else {
        // An API answer (not 410) means the request itself is wrong for the server now: relist.
        return { kind: 'failed', progress, relist: err instanceof ApiError, err: toError(err) };
      }
    } finally {
      clearTimeout(timer);
    }
    const progress = delivered || Date.now() - started >= 1000;
    if (expired) return { kind: 'expired', progress };
    if (errorStatus !== undefined) {
      const err = new ApiError(errorStatus.code ?? 500, errorStatus, errorStatus.message ?? 'watch ERROR event');
      return { kind: 'failed', progress, relist: true, err };
    }
    return { kind: 'ended', progress };
  }

  #apply(event: WatchEvent<T>): void {
    const obj = event.object;
    const rv = obj.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (rv !== undefined && rv !== '') this.#lastRv = rv;
      return;
    }
    const key = objectKey(obj);
    if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      this.#upsert(key, obj);
    } else if (event.type === 'DELETED') {
      const old = this.#items.get(key);
      if (old !== undefined && !isOlder(rv, old.metadata.resourceVersion)) this.#remove(key, obj);
    }
    if (rv !== undefined && rv !== '' && !isOlder(rv, this.#lastRv)) this.#lastRv = rv;
  }

  #upsert(key: string, obj: T): void {
    const old = this.#items.get(key);
    if (old === undefined) {
      this.#store(key, obj, undefined);
      for (const h of [...this.#handlers]) if (h.onAdd !== undefined) this.#call(() => h.onAdd?.(obj));
      return;
    }
    const oldRv = old.metadata.resourceVersion;
    const newRv = obj.metadata.resourceVersion;
    if (oldRv === newRv || isOlder(newRv, oldRv)) return;
    this.#store(key, obj, old);
    for (const h of [...this.#handlers]) if (h.onUpdate !== undefined) this.#call(() => h.onUpdate?.(old, obj));
  }

  /** Removes `key`; handlers get `last`, the final state known (the DELETED event's object, or the cached one). */
  #remove(key: string, last: T): void {
    const old = this.#items.get(key);
    if (old === undefined) return;
    this.#items.delete(key);
    for (const entry of this.#indexers.values()) this.#indexRemove(entry, key, old);
    for (const h of [...this.#handlers]) if (h.onDelete !== undefined) this.#call(() => h.onDelete?.(last));
  }

  #store(key: string, obj: T, old: T | undefined): void {
    for (const entry of this.#indexers.values()) {
      if (old !== undefined) this.#indexRemove(entry, key, old);
      this.#indexAdd(entry, key, obj);
    }
    this.#items.set(key, obj);
  }

  #indexAdd(entry: { fn: (obj: T) => string[]; index: Map<string, Set<string>> }, key: string, obj: T): void {
    for (const value of this.#indexValues(entry, obj)) {
      let keys = entry.index.get(value);
      if (keys === undefined) entry.index.set(value, (keys = new Set()));
      keys.add(key);
    }
  }

  #indexRemove(entry: { fn: (obj: T) => string[]; index: Map<string, Set<string>> }, key: string, obj: T): void {
    for (const value of this.#indexValues(entry, obj)) {
      const keys = entry.index.get(value);
      keys?.delete(key);
      if (keys?.size === 0) entry.index.delete(value);
    }
  }

  #indexValues(entry: { fn: (obj: T) => string[] }, obj: T): string[] {
    try {
      return entry.fn(obj);
    } catch (err) {
      this.#logger.error({ err: toError(err), key: objectKey(obj) }, 'index function threw; object not indexed');
      return [];
    }
  }

  #resync(): void {
    for (const obj of [...this.#items.values()]) {
      for (const h of [...this.#handlers]) if (h.onUpdate !== undefined) this.#call(() => h.onUpdate?.(obj, obj));
    }
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#logger.error({ err: toError(err) }, 'event handler threw');
    }
  }
}
