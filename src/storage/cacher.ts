// The watch cache: the API server reads and watches through this, never the
// backend, the way the Kubernetes apiserver reads through its cacher.
//
// It owns a decoded copy of every live object (kept current by the backend's
// subscription) and a ring of the most recent events. Because the backend
// calls subscribers before a write's promise resolves, the copy is never
// behind a write its caller has seen complete: after `await backend.update()`
// `get()` returns the new value.
//
// A watch first replays every event after the requested revision, from the
// ring when it reaches back far enough, else from the backend, then continues
// with live events. While an asynchronous replay is in flight the watcher
// buffers live events; each watcher remembers the last revision it delivered
// and drops anything at or below it, so the hand-over from replay to live has
// neither a gap nor a duplicate.
//
// Objects handed out (CachedObject.obj, CacheEvent.obj/prevObj) are shared by
// every reader and watcher: treat them as immutable.

import { silentLogger, toDisposable, toError, type Disposable, type Logger } from '../base/index.ts';
import { EventRing } from './event-ring.ts';
import { CompactedError, type Backend, type KeyValue, type StoreEvent } from './interface.ts';
import { SortedKeyIndex } from './sorted-key-index.ts';

export { CompactedError };

export interface CachedObject<T> {
  readonly key: string;
  readonly obj: T;
  readonly modRevision: number;
  readonly createRevision: number;
}

export type CacheEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent<T> {
  readonly type: CacheEventType;
  readonly key: string;
  /** The new object; for DELETED, the last value as of the delete's revision. */
  readonly obj: T;
  /** The object before this event; absent for ADDED. */
  readonly prevObj?: T;
  readonly revision: number;
}

export type CacheListener<T> = (events: CacheEvent<T>[]) => void;

export interface CacherOptions<T> {
  /** Turns a stored value into the cached object; called once per value, not per reader. */
  decode(kv: KeyValue): T;
  /** How many recent events to keep for replaying watches (default 10000). */
  historyLimit?: number;
  logger?: Logger;
}

export type CacherState = 'new' | 'starting' | 'running' | 'stopped';

/** Thrown when the cache is read or watched before start() finished or after stop(). */
export class CacherNotRunningError extends Error {
  override readonly name = 'CacherNotRunningError';
  readonly state: CacherState;
  constructor(state: CacherState) {
    super(`watch cache is ${state}, not running`);
    this.state = state;
  }
}

const DEFAULT_HISTORY_LIMIT = 10_000;

export class Cacher<T> {
  readonly #backend: Backend;
  readonly #decode: (kv: KeyValue) => T;
  readonly #historyLimit: number;
  readonly #log: Logger;

  #state: CacherState = 'new';
  #revision = 0;
  readonly #objects = new Map<string, CachedObject<T>>();
  readonly #index = new SortedKeyIndex();
  #history: EventRing<CacheEvent<T>> | undefined;
  readonly #watchers = new Set<Watcher<T>>();
  #subscription: Disposable | undefined;
  #started: Promise<void> | undefined;

  constructor(backend: Backend, options: CacherOptions<T>) {
    const limit = options.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`historyLimit must be an integer >= 0, got ${limit}`);
    this.#backend = backend;
    this.#decode = options.decode;
    this.#historyLimit = limit;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'cacher' });
  }

  get state(): CacherState {
    return this.#state;
  }

  /** Loads every object and follows the backend from then on. A second call returns the first one's promise. */
  start(): Promise<void> {
    if (this.#state === 'stopped') return Promise.reject(new CacherNotRunningError(this.#state));
    this.#started ??= this.#start().catch((err: unknown) => {
      this.#started = undefined;
      throw err;
    });
    return this.#started;
  }

  async #start(): Promise<void> {
    this.#state = 'starting';
    // Subscribe before listing so that nothing committed in between is missed;
    // what the list already covers is skipped by revision in #apply.
    const early: (readonly StoreEvent[])[] = [];
    this.#subscription = this.#backend.subscribe((events) => {
      if (this.#state === 'running') this.#apply(events);
      else if (this.#state === 'starting') early.push(events);
    });
    let listed;
    try {
      listed = await this.#backend.list('');
    } catch (err) {
      this.#subscription.dispose();
      this.#subscription = undefined;
      this.#state = 'new';
      throw err;
    }
    if (this.#state !== 'starting') return; // stopped while listing
    for (const kv of listed.kvs) {
      const obj = this.#tryDecode(kv);
      if (obj === undefined) continue;
      this.#objects.set(kv.key, { key: kv.key, obj: obj.value, modRevision: kv.modRevision, createRevision: kv.createRevision });
      this.#index.insert(kv.key);
    }
    this.#revision = listed.revision;
    this.#history = new EventRing(this.#historyLimit, listed.revision);
    this.#state = 'running';
    for (const events of early) this.#apply(events);
  }

  /** Stops following the backend; watchers receive nothing more. Idempotent. */
  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#subscription?.dispose();
    this.#subscription = undefined;
    for (const w of this.#watchers) w.close();
    this.#watchers.clear();
  }

  /** The revision the cache reflects. */
  revision(): number {
    return this.#revision;
  }

  get(key: string): CachedObject<T> | undefined {
    this.#assertRunning();
    return this.#objects.get(key);
  }

  /** The objects whose keys start with `prefix`, in key order. */
  list(prefix: string): CachedObject<T>[] {
    this.#assertRunning();
    const out: CachedObject<T>[] = [];
    for (const key of this.#index.keys(prefix)) {
      const obj = this.#objects.get(key);
      if (obj !== undefined) out.push(obj);
    }
    return out;
  }

  /**
   * Delivers every event under `prefix` with revision > `afterRevision`, then live
   * ones, until the returned Disposable is disposed. The replay has been delivered by
   * the time the promise resolves. Throws CompactedError when the backend no longer
   * has the history after `afterRevision`.
   */
  async watch(prefix: string, afterRevision: number, listener: CacheListener<T>): Promise<Disposable> {
    this.#assertRunning();
    const history = this.#history as EventRing<CacheEvent<T>>;
    // The answer must not depend on how much the ring happens to hold: a
    // revision the backend has compacted away is refused even if the ring has it.
    const compacted = this.#backend.compactRevision();
    if (afterRevision < compacted) throw new CompactedError(afterRevision, compacted);

    const watcher = new Watcher(prefix, afterRevision, listener, this.#log);
    this.#watchers.add(watcher);
    const handle = toDisposable(() => {
      watcher.close();
      this.#watchers.delete(watcher);
    });

    if (afterRevision >= history.floor) {
      watcher.finishReplay(history.since(afterRevision));
      return handle;
    }
    // The ring starts too late: read the gap from the backend. Live events that
    // arrive meanwhile are buffered by the watcher and de-duplicated by revision.
    let replay: CacheEvent<T>[];
    try {
      const events = await this.#backend.eventsSince(prefix, afterRevision);
      replay = [];
      for (const event of events) {
        const decoded = this.#toCacheEvent(event, undefined);
        if (decoded !== undefined) replay.push(decoded);
      }
    } catch (err) {
      handle.dispose();
      throw err;
    }
    if (this.#state !== 'running') {
      handle.dispose();
      throw new CacherNotRunningError(this.#state);
    }
    watcher.finishReplay(replay);
    return handle;
  }

  #assertRunning(): void {
    if (this.#state !== 'running') throw new CacherNotRunningError(this.#state);
  }

  #apply(events: readonly StoreEvent[]): void {
    const history = this.#history as EventRing<CacheEvent<T>>;
    const out: CacheEvent<T>[] = [];
    for (const event of events) {
      const revision = event.kv.modRevision;
      if (revision <= this.#revision) continue; // already in the initial list
      this.#revision = revision;
      const key = event.kv.key;
      const cached = this.#objects.get(key);
      const decoded = this.#toCacheEvent(event, cached);
      if (event.type === 'delete') {
        this.#objects.delete(key);
        this.#index.remove(key);
      } else if (decoded !== undefined) {
        this.#objects.set(key, { key, obj: decoded.obj, modRevision: revision, createRevision: event.kv.createRevision });
        if (cached === undefined) this.#index.insert(key);
      } else if (cached !== undefined) {
        // Undecodable new value: serving the stale one would be a lie.
        this.#objects.delete(key);
        this.#index.remove(key);
      }
      if (decoded === undefined) continue;
      history.push(decoded);
      out.push(decoded);
    }
    if (out.length === 0) return;
    for (const watcher of [...this.#watchers]) watcher.offer(out);
  }

  /** Builds the cache event, reusing the cached object for prevObj when it is the same revision. */
  #toCacheEvent(event: StoreEvent, cached: CachedObject<T> | undefined): CacheEvent<T> | undefined {
    const obj = this.#tryDecode(event.kv);
    if (obj === undefined) return undefined;
    const key = event.kv.key;
    const revision = event.kv.modRevision;
    if (event.type === 'create') return { type: 'ADDED', key, obj: obj.value, revision };
    let prevObj: T | undefined;
    if (event.prevKv !== undefined) {
      prevObj =
        cached !== undefined && cached.modRevision === event.prevKv.modRevision
          ? cached.obj
          : this.#tryDecode(event.prevKv)?.value;
    }
    return { type: event.type === 'delete' ? 'DELETED' : 'MODIFIED', key, obj: obj.value, prevObj, revision };
  }

  #tryDecode(kv: KeyValue): { value: T } | undefined {
    try {
      return { value: this.#decode(kv) };
    } catch (err) {
      this.#log.error({ err: toError(err), key: kv.key, revision: kv.modRevision }, 'cannot decode stored value');
      return undefined;
    }
  }
}

/** One watch: its prefix, where it is in the event stream, and its replay buffer. */
class Watcher<T> {
  readonly #prefix: string;
  readonly #listener: CacheListener<T>;
  readonly #log: Logger;
  #lastDelivered: number;
  #replaying = true;
  #buffered: CacheEvent<T>[] = [];
  #closed = false;

  constructor(prefix: string, afterRevision: number, listener: CacheListener<T>, log: Logger) {
    this.#prefix = prefix;
    this.#lastDelivered = afterRevision;
    this.#listener = listener;
    this.#log = log;
  }

  offer(events: readonly CacheEvent<T>[]): void {
    if (this.#closed) return;
    if (this.#replaying) {
      for (const e of events) if (e.key.startsWith(this.#prefix)) this.#buffered.push(e);
      return;
    }
    this.#deliver(events);
  }

  finishReplay(replay: readonly CacheEvent<T>[]): void {
    this.#deliver(replay);
    this.#replaying = false;
    const buffered = this.#buffered;
    this.#buffered = [];
    this.#deliver(buffered);
  }

  close(): void {
    this.#closed = true;
    this.#buffered = [];
  }

  #deliver(events: readonly CacheEvent<T>[]): void {
    if (this.#closed) return;
    const fresh: CacheEvent<T>[] = [];
    for (const e of events) {
      if (e.revision > this.#lastDelivered && e.key.startsWith(this.#prefix)) {
        fresh.push(e);
        this.#lastDelivered = e.revision;
      }
    }
    if (fresh.length === 0) return;
    try {
      this.#listener(fresh);
    } catch (err) {
      this.#log.error({ err: toError(err), prefix: this.#prefix }, 'watch listener threw');
    }
  }
}
