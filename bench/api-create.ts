// API create latency under a steady load: ConfigMap creates at a fixed rate
// (200/s by default, one every 5 ms) in an open loop, each latency measured
// from the create's scheduled send time to the end of its response. Every
// create goes through the whole path — TLS, authentication, decoding,
// defaulting, validation, the durable SQLite write (group commit) and the
// watch cache — so this is the figure a controller writing at that rate sees.
// A one-second warm-up at the same rate (JIT, TLS sessions, connection pool)
// is run first and not counted.
//
// Run alone: node bench/api-create.ts

import { ensureNamespace, configMap, describeError } from './fixtures.ts';
import { monitorLoad, type LoadReport } from './load-monitor.ts';
import { openLoop } from './open-loop.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';
import { nowMs, summarize, type Summary } from './stats.ts';

export interface ApiCreateOptions {
  rate?: number;
  durationMs?: number;
  warmupMs?: number;
  namespace?: string;
}

export interface ApiCreateResult {
  rate: number;
  durationMs: number;
  sent: number;
  errors: number;
  firstError: string | undefined;
  /** Latency of the successful creates, ms from scheduled send to full response. */
  latency: Summary;
  /** Largest lag of this process behind the schedule, ms (large values mean the client, not the server, was slow). */
  maxStartLagMs: number;
  /** CPU use of server and client and the client's event-loop delay during the measured phase. */
  load: LoadReport;
}

export async function benchApiCreate(server: ServerProcess, options: ApiCreateOptions = {}): Promise<ApiCreateResult> {
  const rate = options.rate ?? 200;
  const durationMs = options.durationMs ?? 10_000;
  const warmupMs = options.warmupMs ?? 1_000;
  const namespace = options.namespace ?? 'bench-create';
  const client = server.client();
  try {
    await ensureNamespace(client, namespace);
    const path = `/api/v1/namespaces/${namespace}/configmaps`;
    const payload = { payload: 'x'.repeat(256) };
    const run = async (phase: string, ms: number) => {
      const latencies: number[] = [];
      let errors = 0;
      let firstError: string | undefined;
      const report = await openLoop({ rate, durationMs: ms }, async (i, scheduled) => {
        try {
          await client.create(path, configMap(`${phase}-${i}`, payload));
          latencies.push(nowMs() - scheduled);
        } catch (err) {
          errors++;
          firstError ??= describeError(err);
        }
      });
      return { latencies, errors, firstError, report };
    };
    await run('warmup', warmupMs);
    const stopMonitor = monitorLoad(server.pid);
    const measured = await run('create', durationMs);
    const load = stopMonitor();
    if (measured.latencies.length === 0) throw new Error(`every create failed: ${measured.firstError}`);
    return {
      rate,
      durationMs,
      sent: measured.report.sent,
      errors: measured.errors,
      firstError: measured.firstError,
      latency: summarize(measured.latencies),
      maxStartLagMs: measured.report.maxStartLagMs,
      load,
    };
  } finally {
    client.close();
  }
}

if (import.meta.main) {
  const server = await startServerProcess();
  try {
    const r = await benchApiCreate(server);
    console.log(
      `create at ${r.rate}/s: p50 ${r.latency.p50.toFixed(1)} ms, p99 ${r.latency.p99.toFixed(1)} ms, ` +
        `max ${r.latency.max.toFixed(1)} ms, ${r.errors} errors of ${r.sent}`,
    );
  } finally {
    await server.stop();
  }
}
