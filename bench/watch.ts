// Watch fan-out latency: 10 watch streams on the ConfigMaps of one namespace
// while a writer patches those ConfigMaps 1,000 times a second (open loop)
// for five seconds. Each patch stamps its send time into `data.t` (monotonic
// clock, ms); each watcher takes receive − send for every MODIFIED event.
// The figure therefore spans the write path (durable commit included), the
// watch cache, the per-watcher serialisation and the TLS stream. Patches are
// spread over 50 ConfigMaps so that two in-flight patches rarely touch the
// same object. A short warm-up at the same rate is not counted, and every
// watcher must have seen a sentinel event before the writer starts.
//
// Run alone: node bench/watch.ts

import type { KubeObject } from '../src/apimachinery/index.ts';
import type { RestClient, WatchEvent } from '../src/client/index.ts';
import { waitFor } from '../src/base/index.ts';
import { configMap, describeError, ensureNamespace } from './fixtures.ts';
import { monitorLoad, type LoadReport } from './load-monitor.ts';
import { openLoop } from './open-loop.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';
import { nowMs, summarize, type Summary } from './stats.ts';

export interface WatchOptions {
  watchers?: number;
  rate?: number;
  durationMs?: number;
  warmupMs?: number;
  objects?: number;
  namespace?: string;
}

export interface WatchResult {
  watchers: number;
  rate: number;
  durationMs: number;
  /** Patches sent and accepted in the measured phase. */
  writes: number;
  writeErrors: number;
  firstWriteError: string | undefined;
  /** Events every watcher together should have received (writes × watchers) and did not. */
  missed: number;
  /** Delivery latency over all watchers, ms. */
  latency: Summary;
  maxStartLagMs: number;
  /** CPU use of server and client and the client's event-loop delay during the measured phase. */
  load: LoadReport;
}

interface Watcher {
  latencies: number[];
  sawSentinel: boolean;
  done: Promise<void>;
}

export async function benchWatch(server: ServerProcess, options: WatchOptions = {}): Promise<WatchResult> {
  const watchers = options.watchers ?? 10;
  const rate = options.rate ?? 1_000;
  const durationMs = options.durationMs ?? 5_000;
  const warmupMs = options.warmupMs ?? 500;
  const objects = options.objects ?? 50;
  const namespace = options.namespace ?? 'bench-watch';
  const path = `/api/v1/namespaces/${namespace}/configmaps`;

  const writer = server.client();
  const watchClient = server.client({ maxSockets: watchers + 2 });
  const abort = new AbortController();
  const streams: Watcher[] = [];
  try {
    await ensureNamespace(writer, namespace);
    for (let i = 0; i < objects; i++) await writer.create(path, configMap(`watched-${i}`, { t: '0' }));
    const list = await writer.get<{ metadata: { resourceVersion?: string } }>(path);
    const rv = list.metadata.resourceVersion ?? '';

    // Only stamps written in the measured phase count; the warm-up's are ignored.
    let measureFrom = Number.POSITIVE_INFINITY;
    for (let w = 0; w < watchers; w++) {
      const watcher: Watcher = { latencies: [], sawSentinel: false, done: Promise.resolve() };
      const onEvent = (event: WatchEvent<KubeObject>): void => {
        if (event.type !== 'MODIFIED') return;
        const data = event.object.data as Record<string, string> | undefined;
        if (data?.sentinel !== undefined) watcher.sawSentinel = true;
        const sent = Number(data?.t);
        if (sent >= measureFrom) watcher.latencies.push(nowMs() - sent);
      };
      watcher.done = watchClient
        .watch(`${path}?watch=true&resourceVersion=${encodeURIComponent(rv)}`, onEvent, { signal: abort.signal })
        .catch((err: unknown) => {
          if (!abort.signal.aborted) throw err;
        });
      streams.push(watcher);
    }
    const failed = Promise.race(streams.map((s) => s.done.then(() => {
      if (!abort.signal.aborted) throw new Error('a watch stream ended early');
    })));
    // Handled from the start so a stream dying between two guarded steps is not an unhandled rejection.
    failed.catch(() => undefined);
    // Surface a stream that dies while we wait, instead of waiting for the deadline.
    const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, failed.then(() => p)]);

    await writer.patch(`${path}/watched-0`, { data: { sentinel: 'ready' } });
    await guard(waitFor('every watcher to see the sentinel event', () => streams.every((s) => s.sawSentinel), { timeoutMs: 10_000 }));

    const run = async (ms: number) => {
      let ok = 0;
      let errors = 0;
      let firstError: string | undefined;
      const report = await openLoop({ rate, durationMs: ms }, async (i) => {
        try {
          await writer.patch(`${path}/watched-${i % objects}`, { data: { t: String(nowMs()) } });
          ok++;
        } catch (err) {
          errors++;
          firstError ??= describeError(err);
        }
      });
      return { ok, errors, firstError, report };
    };
    await guard(run(warmupMs));
    measureFrom = nowMs();
    const stopMonitor = monitorLoad(server.pid);
    const measured = await guard(run(durationMs));
    const load = stopMonitor();
    const expected = measured.ok;
    // Every accepted write must reach every watcher; give stragglers a few seconds.
    await guard(
      waitFor('every watcher to receive every event', () => streams.every((s) => s.latencies.length >= expected), {
        timeoutMs: 5_000,
      }).catch(() => undefined),
    );
    const all = streams.flatMap((s) => s.latencies);
    if (all.length === 0) throw new Error(`no watch event arrived (first write error: ${measured.firstError ?? 'none'})`);
    return {
      watchers,
      rate,
      durationMs,
      writes: measured.ok,
      writeErrors: measured.errors,
      firstWriteError: measured.firstError,
      missed: Math.max(0, expected * watchers - all.length),
      latency: summarize(all),
      maxStartLagMs: measured.report.maxStartLagMs,
      load,
    };
  } finally {
    abort.abort();
    await Promise.allSettled(streams.map((s) => s.done));
    writer.close();
    watchClient.close();
  }
}

if (import.meta.main) {
  const server = await startServerProcess();
  try {
    const r = await benchWatch(server);
    console.log(
      `watch delivery to ${r.watchers} watchers at ${r.rate}/s: p50 ${r.latency.p50.toFixed(1)} ms, ` +
        `p99 ${r.latency.p99.toFixed(1)} ms, max ${r.latency.max.toFixed(1)} ms; ` +
        `${r.writes} writes, ${r.writeErrors} write errors, ${r.missed} events missed; ` +
        `server ${(r.load.serverCores * 100).toFixed(0)} % CPU, client ${(r.load.clientCores * 100).toFixed(0)} % CPU, client loop delay p99 ${r.load.clientLoopDelayP99Ms.toFixed(1)} ms`,
    );
  } finally {
    await server.stop();
  }
}
