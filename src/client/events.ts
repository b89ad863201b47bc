// The event recorder: how controllers tell users what they decided, as
// core/v1 Events — client-go's record package (EventBroadcaster +
// EventCorrelator + recordToSink) in one small module.
//
// event() never throws and never waits: it correlates the event in memory
// and queues a write; one writer per process sends the writes in order.
// Correlation is client-go's, with its constants:
//   - aggregation: more than 10 distinct messages for the same object, type
//     and reason within 10 minutes turn into one event whose message is
//     "(combined from similar events): <latest message>";
//   - deduplication: an event identical to one already written (same source,
//     object, type, reason, message) PATCHes that Event's count and
//     lastTimestamp instead of creating another;
//   - spam filter: a token bucket per source+object (burst 25, one more
//     every 5 minutes) drops floods.
// All three caches are LRUs of 4096 entries. A queued write that is
// superseded before it is sent (the same Event counted again) is merged into
// the newer one, so a burst of identical events costs one create and at most
// a few patches.
//
// Sharing: one process builds one EventRecorder and hands components
// `recorder.withComponent('persistentvolume-controller')`; they share the
// correlator and the writer, as recorders from one client-go broadcaster do.

import { hostname } from 'node:os';
import type { KubeObject } from '../apimachinery/index.ts';
import { formatTime } from '../apimachinery/index.ts';
import type { Logger } from '../base/index.ts';
import { delay, toError } from '../base/index.ts';
import { resourcePath, resources } from './paths.ts';
import { ApiError, type RestClient } from './rest.ts';

export type EventType = 'Normal' | 'Warning';

/** The core/v1 Event the recorder writes. */
export interface CoreEvent extends KubeObject {
  involvedObject: { kind?: string; namespace?: string; name: string; uid?: string; apiVersion?: string; resourceVersion?: string };
  reason: string;
  message: string;
  source: { component: string; host: string };
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
  type: EventType;
  eventTime: null;
  reportingComponent: string;
  reportingInstance: string;
}

export interface EventRecorderOptions {
  client: RestClient;
  /** source.component and reportingComponent, e.g. `persistentvolume-controller`. */
  component: string;
  /** source.host and reportingInstance (default: this machine's hostname). */
  host?: string;
  logger: Logger;
  /** The clock, in ms (tests). */
  now?: () => number;
  /** Queued writes beyond this are dropped (default 1000, like client-go's broadcaster queue). */
  maxPending?: number;
  /** First retry delay of a write that failed to reach the server (default 500 ms, doubling to 10 s, 12 tries). */
  retryDelayMs?: number;
}

const LRU_SIZE = 4096;
const AGGREGATE_MAX_EVENTS = 10;
const AGGREGATE_INTERVAL_MS = 600_000;
const SPAM_BURST = 25;
const SPAM_QPS = 1 / 300;
const MAX_TRIES = 12;
const WRITE_TIMEOUT_MS = 10_000;

/** A Map that forgets its least recently used entry beyond `max`. */
class Lru<V> {
  readonly #map = new Map<string, V>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value!);
  }
  get size(): number {
    return this.#map.size;
  }
}

function eventKey(e: CoreEvent): string {
  const o = e.involvedObject;
  return [e.source.component, e.source.host, o.kind, o.namespace, o.name, o.uid, o.apiVersion, e.type, e.reason, e.message].join('\u0000');
}

function spamKey(e: CoreEvent): string {
  const o = e.involvedObject;
  return [e.source.component, e.source.host, o.kind, o.namespace, o.name, o.uid, o.apiVersion].join('\u0000');
}

/** Same object, type, reason and reporter; the message is what varies. */
function aggregateKey(e: CoreEvent): string {
  const o = e.involvedObject;
  return [e.source.component, e.source.host, o.kind, o.namespace, o.name, o.uid, o.apiVersion, e.type, e.reason, e.reportingComponent, e.reportingInstance].join('\u0000');
}

/** Event names: `<object name>.<nanoseconds in hex>`, kept strictly increasing within the process. */
let lastNano = 0n;
function eventName(objectName: string, nowMs: number): string {
  let n = BigInt(Math.floor(nowMs)) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (n <= lastNano) n = lastNano + 1n;
  lastNano = n;
  return `${objectName}.${n.toString(16).padStart(16, '0')}`;
}

interface Observation {
  count: number;
  firstTimestamp: string;
  name: string;
}

/** What the correlator decided: skip, create, or patch the Event already written. */
type Correlated = { skip: true } | { skip: false; event: CoreEvent; patch: boolean };

/** client-go's EventCorrelator: aggregate → observe (dedupe) → spam filter, in that order. */
class EventCorrelator {
  readonly #now: () => number;
  readonly #aggregates = new Lru<{ localKeys: Set<string>; last: number }>(LRU_SIZE);
  readonly #observed = new Lru<Observation>(LRU_SIZE);
  readonly #spam = new Lru<{ tokens: number; last: number }>(LRU_SIZE);

  constructor(now: () => number) {
    this.#now = now;
  }

  correlate(input: CoreEvent): Correlated {
    const now = this.#now();
    let event = input;
    let key = eventKey(event);

    const aggKey = aggregateKey(event);
    let record = this.#aggregates.get(aggKey);
    if (record === undefined || now - record.last > AGGREGATE_INTERVAL_MS) record = { localKeys: new Set(), last: now };
    record.localKeys.add(event.message);
    record.last = now;
    this.#aggregates.set(aggKey, record);
    if (record.localKeys.size >= AGGREGATE_MAX_EVENTS) {
      // Keep the set from growing past the threshold; any member will do.
      record.localKeys.delete(record.localKeys.values().next().value!);
      const ts = formatTime(new Date(now));
      event = {
        ...event,
        metadata: { name: eventName(event.involvedObject.name, now), namespace: event.metadata.namespace },
        message: `(combined from similar events): ${event.message}`,
        count: 1,
        firstTimestamp: ts,
        lastTimestamp: ts,
      };
      key = aggKey;
    }

    const last = this.#observed.get(key);
    let patch = false;
    if (last !== undefined && last.count > 0) {
      event = { ...event, metadata: { ...event.metadata, name: last.name }, firstTimestamp: last.firstTimestamp, count: last.count + 1 };
      patch = true;
    }
    this.#observed.set(key, { count: event.count, firstTimestamp: event.firstTimestamp, name: event.metadata.name! });

    const sk = spamKey(event);
    const bucket = this.#spam.get(sk) ?? { tokens: SPAM_BURST, last: now };
    bucket.tokens = Math.min(SPAM_BURST, bucket.tokens + ((now - bucket.last) / 1000) * SPAM_QPS);
    bucket.last = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.#spam.set(sk, bucket);
    if (!allowed) return { skip: true };
    return { skip: false, event, patch };
  }

  /** Learns what the server holds (never lowering a count observed since the write was queued). */
  updateState(event: CoreEvent): void {
    const key = eventKey(event);
    const cur = this.#observed.get(key);
    if (cur !== undefined && cur.count > event.count) return;
    this.#observed.set(key, { count: event.count, firstTimestamp: event.firstTimestamp, name: event.metadata.name! });
  }
}

interface PendingWrite {
  event: CoreEvent;
  patch: boolean;
}

/** The per-process writer: correlator, ordered write queue, one request at a time. */
class EventSink {
  readonly correlator: EventCorrelator;
  readonly now: () => number;
  readonly client: RestClient;
  readonly logger: Logger;
  readonly #maxPending: number;
  readonly #retryDelayMs: number;
  /** Pending writes by `namespace/name`, in queue order (Map keeps insertion order). */
  readonly #pending = new Map<string, PendingWrite>();
  readonly #idleWaiters: (() => void)[] = [];
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;
  #dropped = 0;
  #disposed = false;

  constructor(client: RestClient, logger: Logger, now: () => number, maxPending: number, retryDelayMs: number) {
    this.client = client;
    this.logger = logger;
    this.now = now;
    this.#maxPending = maxPending;
    this.#retryDelayMs = retryDelayMs;
    this.correlator = new EventCorrelator(now);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  enqueue(write: PendingWrite): void {
    if (this.#disposed) return;
    const id = `${write.event.metadata.namespace}/${write.event.metadata.name}`;
    const existing = this.#pending.get(id);
    if (existing !== undefined) {
      // Not sent yet: send the newer state instead (a pending create stays a create).
      existing.event = write.event;
    } else if (this.#pending.size >= this.#maxPending) {
      if (this.#dropped++ % 100 === 0) this.logger.warn({ dropped: this.#dropped }, 'event queue full, dropping events');
      return;
    } else {
      this.#pending.set(id, write);
    }
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
      for (const w of this.#idleWaiters.splice(0)) w();
    });
  }

  flush(): Promise<void> {
    if (this.#running === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops retrying and accepting writes; what is queued is tried once. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    this.#stop.abort();
    await this.flush();
  }

  async #drain(): Promise<void> {
    for (;;) {
      const next = this.#pending.entries().next();
      if (next.done === true) return;
      const [id, write] = next.value;
      this.#pending.delete(id);
      await this.#write(write);
    }
  }

  async #write(write: PendingWrite): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const saved = await this.#send(write);
        this.correlator.updateState(saved);
        return;
      } catch (err) {
        if (err instanceof ApiError) {
          // The server answered: retrying the same request will not change its mind.
          if (err.code === 409) this.logger.debug({ event: write.event.metadata.name }, 'event already exists');
          else this.logger.error({ event: write.event.metadata.name, err: err.message, code: err.code }, 'server rejected event (will not retry)');
          return;
        }
        if (attempt >= MAX_TRIES || this.#stop.signal.aborted) {
          this.logger.error({ event: write.event.metadata.name, err: toError(err).message, attempt }, 'unable to write event, giving up');
          return;
        }
        this.logger.debug({ event: write.event.metadata.name, err: toError(err).message, attempt }, 'unable to write event, will retry');
        try {
          await delay(Math.min(this.#retryDelayMs * 2 ** (attempt - 1), 10_000), this.#stop.signal);
        } catch {
          // Disposed while waiting: one last try (the loop gives up after it).
        }
      }
    }
  }

  async #send(write: PendingWrite): Promise<CoreEvent> {
    const { event } = write;
    const ns = event.metadata.namespace!;
    const signal = AbortSignal.timeout(WRITE_TIMEOUT_MS);
    if (write.patch) {
      try {
        const body = { count: event.count, lastTimestamp: event.lastTimestamp, message: event.message };
        return await this.client.request<CoreEvent>('PATCH', resourcePath(resources.events, ns, event.metadata.name), {
          body,
          contentType: 'application/merge-patch+json',
          signal,
        });
      } catch (err) {
        // Deleted (or never created) meanwhile: create it with the count we know.
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
    const { resourceVersion: _rv, ...metadata } = event.metadata;
    return await this.client.request<CoreEvent>('POST', resourcePath(resources.events, ns), { body: { ...event, metadata }, signal });
  }
}

/** Set by withComponent() for the constructor it calls: the child joins the parent's writer. */
let adoptSink: EventSink | undefined;

export class EventRecorder {
  readonly component: string;
  readonly host: string;
  readonly #sink: EventSink;
  readonly #logger: Logger;
  readonly #owner: boolean;
  #disposed = false;

  constructor(options: EventRecorderOptions) {
    this.component = options.component;
    this.host = options.host ?? hostname();
    this.#logger = options.logger.child({ component: 'event-recorder', source: options.component });
    const adopted = adoptSink;
    adoptSink = undefined;
    this.#owner = adopted === undefined;
    this.#sink =
      adopted ??
      new EventSink(options.client, options.logger.child({ component: 'event-recorder' }), options.now ?? Date.now, options.maxPending ?? 1000, options.retryDelayMs ?? 500);
  }

  /**
   * A recorder for another component (or host) that shares this one's
   * correlator and writer. Disposing it is a no-op; the original owns the writer.
   */
  withComponent(component: string, host?: string): EventRecorder {
    adoptSink = this.#sink;
    try {
      return new EventRecorder({ client: this.#sink.client, component, host: host ?? this.host, logger: this.#sink.logger });
    } finally {
      adoptSink = undefined;
    }
  }

  /**
   * Records an event about `obj` (which must carry kind, apiVersion and a
   * name). Never throws and never waits; the write happens in the background.
   */
  event(obj: KubeObject, type: EventType, reason: string, message: string): void {
    try {
      if (this.#disposed || this.#sink.disposed) return;
      const name = obj.metadata?.name;
      if (name === undefined || name === '') {
        this.#logger.warn({ reason }, 'event about an object without a name dropped');
        return;
      }
      const ns = obj.metadata.namespace ?? '';
      const ts = formatTime(new Date(this.#sink.now()));
      const involvedObject: CoreEvent['involvedObject'] = { kind: obj.kind, name };
      if (ns !== '') involvedObject.namespace = ns;
      if (obj.metadata.uid !== undefined) involvedObject.uid = obj.metadata.uid;
      if (obj.apiVersion !== undefined) involvedObject.apiVersion = obj.apiVersion;
      if (obj.metadata.resourceVersion !== undefined) involvedObject.resourceVersion = obj.metadata.resourceVersion;
      const event: CoreEvent = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: eventName(name, this.#sink.now()), namespace: ns === '' ? 'default' : ns },
        involvedObject,
        reason,
        message,
        source: { component: this.component, host: this.host },
        firstTimestamp: ts,
        lastTimestamp: ts,
        count: 1,
        type,
        eventTime: null,
        reportingComponent: this.component,
        reportingInstance: this.host,
      };
      const result = this.#sink.correlator.correlate(event);
      if (result.skip) {
        this.#logger.debug({ object: name, reason }, 'event dropped by the spam filter');
        return;
      }
      this.#sink.enqueue({ event: result.event, patch: result.patch });
    } catch (err) {
      this.#logger.error({ err: toError(err) }, 'recording an event failed');
    }
  }

  /** Resolves when every queued write has been sent (or given up). */
  flush(): Promise<void> {
    return this.#sink.flush();
  }

  /** Stops recording. The owner also stops the writer after one last try of what is queued. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#owner) await this.#sink.dispose();
  }
}
