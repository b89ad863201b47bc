// Event recording throughput: how many events per second one EventRecorder
// (src/client/events.ts) takes in and turns into API writes, against a real
// server. The recorder lives in this process, as it lives in a controller;
// its client counts the requests it sends, so "API writes" is exact.
//
// (a) 10,000 identical events about one object. The correlator deduplicates
//     them into one Event whose count climbs to 10,000: a create, then
//     patches of the count, each queued patch superseded by the next until
//     it is sent. Measured until flush() resolved, and checked on the
//     server: exactly one Event, count 10,000.
//     The spam filter (client-go's: a burst of 25 per object, then one more
//     every 5 minutes) would drop all but 25 of them on a real clock, so this
//     run gives the recorder a clock that advances 310 s per event (ending
//     at the present) — every event then passes the filter and is counted.
//     A second run on the real clock shows what the filter keeps.
// (b) 5,000 distinct events: 10 reasons about each of 500 objects, so no
//     two aggregate or deduplicate and each becomes an Event of its own.
//     The default queue (1,000 pending writes) would drop the rest of a
//     5,000-event burst, so this recorder may queue 5,000.
//
// Each event is recorded on its own turn of the event loop, as events from
// a controller's sync calls arrive, so the writer interleaves with them.
//
// Run alone: node bench/events.ts

import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { KubeObject } from '../src/apimachinery/index.ts';
import { silentLogger } from '../src/base/index.ts';
import { EventRecorder, loadKubeconfig, RestClient, type CoreEvent, type RequestOptions } from '../src/client/index.ts';
import { ensureNamespace } from './fixtures.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';
import { nowMs } from './stats.ts';

export interface EventsOptions {
  namespace?: string;
  identical?: number;
  objects?: number;
  reasonsPerObject?: number;
}

export interface EventRun {
  /** Events handed to the recorder. */
  events: number;
  /** From the first event to flush() resolving, s. */
  seconds: number;
  eventsPerSecond: number;
  /** Requests the recorder sent. */
  apiWrites: number;
  writesPerSecond: number;
}

export interface EventsResult {
  identical: EventRun & { serverCount: number; serverEvents: number };
  /** The same burst on the real clock: what the spam filter lets through. */
  identicalRealClock: EventRun & { serverCount: number };
  distinct: EventRun & { objects: number; serverEvents: number };
}

/** A RestClient that counts the requests made through request() (all the recorder uses). */
class CountingClient extends RestClient {
  requests = 0;
  override request<T = KubeObject>(method: string, path: string, opts?: RequestOptions): Promise<T> {
    this.requests++;
    return super.request<T>(method, path, opts);
  }
}

/** The benchmark's result did not come out as the recorder promises. */
export class EventsCheckError extends Error {
  override readonly name = 'EventsCheckError';
  constructor(message: string) {
    super(message);
  }
}

function involved(namespace: string, name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, uid: randomUUID() } };
}

async function record(
  server: ServerProcess,
  component: string,
  clock: (() => number) | undefined,
  maxPending: number | undefined,
  emit: (recorder: EventRecorder, i: number) => void,
  count: number,
): Promise<EventRun> {
  const client = new CountingClient(loadKubeconfig(server.kubeconfigPath));
  const recorder = new EventRecorder({ client, component, host: 'bench-host', logger: silentLogger(), ...(clock === undefined ? {} : { now: clock }), ...(maxPending === undefined ? {} : { maxPending }) });
  try {
    const t0 = nowMs();
    for (let i = 0; i < count; i++) {
      emit(recorder, i);
      await nextTurn();
    }
    await recorder.flush();
    const seconds = (nowMs() - t0) / 1000;
    return { events: count, seconds, eventsPerSecond: count / seconds, apiWrites: client.requests, writesPerSecond: client.requests / seconds };
  } finally {
    await recorder.dispose();
    client.close();
  }
}

async function eventsOf(client: RestClient, namespace: string, component: string): Promise<CoreEvent[]> {
  const list = await client.get<{ items: CoreEvent[] }>(`/api/v1/namespaces/${namespace}/events`);
  return list.items.filter((e) => e.source?.component === component);
}

export async function benchEvents(server: ServerProcess, options: EventsOptions = {}): Promise<EventsResult> {
  const namespace = options.namespace ?? 'bench-events';
  const identicalCount = options.identical ?? 10_000;
  const objects = options.objects ?? 500;
  const reasons = options.reasonsPerObject ?? 10;
  const client = server.client();
  try {
    await ensureNamespace(client, namespace);

    // (a) one object, one message; a clock that refills the spam filter's bucket each event.
    const stepMs = 310_000;
    let virtual = Date.now() - identicalCount * stepMs;
    const flapping = involved(namespace, 'flapping');
    const identicalRun = await record(
      server,
      'bench-identical',
      () => virtual,
      undefined,
      (recorder) => {
        virtual += stepMs;
        recorder.event(flapping, 'Warning', 'BackOff', 'Back-off restarting failed container');
      },
      identicalCount,
    );
    const identicalEvents = await eventsOf(client, namespace, 'bench-identical');
    const serverCount = identicalEvents.reduce((max, e) => Math.max(max, e.count), 0);
    if (identicalEvents.length !== 1 || serverCount !== identicalCount) {
      throw new EventsCheckError(`after ${identicalCount} identical events the server holds ${identicalEvents.length} Events with counts ${identicalEvents.map((e) => e.count).join(', ')}, want 1 with count ${identicalCount}`);
    }

    // The same on the real clock.
    const flappingReal = involved(namespace, 'flapping-real-clock');
    const realRun = await record(
      server,
      'bench-identical-real-clock',
      undefined,
      undefined,
      (recorder) => recorder.event(flappingReal, 'Warning', 'BackOff', 'Back-off restarting failed container'),
      identicalCount,
    );
    const realCount = (await eventsOf(client, namespace, 'bench-identical-real-clock')).reduce((max, e) => Math.max(max, e.count), 0);

    // (b) distinct reasons about many objects.
    const targets = Array.from({ length: objects }, (_, o) => involved(namespace, `object-${o}`));
    const distinctCount = objects * reasons;
    const distinctRun = await record(
      server,
      'bench-distinct',
      undefined,
      distinctCount,
      (recorder, i) => {
        const o = i % objects;
        const r = Math.floor(i / objects);
        recorder.event(targets[o]!, 'Normal', `Reason${r}`, `step ${r} of object-${o} done`);
      },
      distinctCount,
    );
    const distinctEvents = (await eventsOf(client, namespace, 'bench-distinct')).length;
    if (distinctEvents !== distinctCount) {
      throw new EventsCheckError(`after ${distinctCount} distinct events the server holds ${distinctEvents} of them`);
    }

    return {
      identical: { ...identicalRun, serverCount, serverEvents: identicalEvents.length },
      identicalRealClock: { ...realRun, serverCount: realCount },
      distinct: { ...distinctRun, objects, serverEvents: distinctEvents },
    };
  } finally {
    client.close();
  }
}

if (import.meta.main) {
  const server = await startServerProcess();
  try {
    const r = await benchEvents(server);
    const show = (x: EventRun): string =>
      `${x.events} events in ${x.seconds.toFixed(2)} s = ${Math.round(x.eventsPerSecond)} events/s; ${x.apiWrites} API writes = ${Math.round(x.writesPerSecond)} writes/s`;
    console.log(`identical (count ${r.identical.serverCount}): ${show(r.identical)}`);
    console.log(`identical, real clock (count ${r.identicalRealClock.serverCount}): ${show(r.identicalRealClock)}`);
    console.log(`distinct (${r.distinct.serverEvents} Events): ${show(r.distinct)}`);
  } finally {
    await server.stop();
  }
}
