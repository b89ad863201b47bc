// Who was busy during a benchmark: the server's CPU time (from
// /proc/<pid>/stat), this process's CPU time, how late its event loop ran,
// and how long each main thread sat runnable waiting for a CPU (from
// /proc/<pid>/schedstat). When a latency target is missed, these say whether
// the server, the load generator or the rest of the machine was the
// bottleneck — on two shared cores all three happen.

import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoadReport {
  /** Server CPU time over wall time: 1 means one core fully busy. */
  serverCores: number;
  /** The same for this (client) process. */
  clientCores: number;
  /** p99 of this process's event-loop delay, ms. */
  clientLoopDelayP99Ms: number;
  /** Share of wall time the server's main thread was runnable but had no CPU. */
  serverRunQueueShare: number;
  /** The same for this process's main thread. */
  clientRunQueueShare: number;
}

/** Nanoseconds the main thread of `pid` has spent runnable but not running (second field of schedstat). */
function runQueueNs(pid: number | 'self'): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
}

// Linux reports utime and stime in clock ticks; 100 per second on every common configuration.
const CLOCK_TICKS = 100;

export function serverCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after the closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Starts measuring; the returned function stops and reports. */
export function monitorLoad(serverPid: number): () => LoadReport {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const wall0 = performance.now();
  const server0 = serverCpuSeconds(serverPid);
  const client0 = process.cpuUsage();
  const serverWait0 = runQueueNs(serverPid);
  const clientWait0 = runQueueNs('self');
  return () => {
    histogram.disable();
    const wall = (performance.now() - wall0) / 1000;
    const client = process.cpuUsage(client0);
    return {
      serverCores: (serverCpuSeconds(serverPid) - server0) / wall,
      clientCores: (client.user + client.system) / 1e6 / wall,
      clientLoopDelayP99Ms: histogram.percentile(99) / 1e6,
      serverRunQueueShare: (runQueueNs(serverPid) - serverWait0) / 1e9 / wall,
      clientRunQueueShare: (runQueueNs('self') - clientWait0) / 1e9 / wall,
    };
  };
}

/**
 * Resolves once the server has used less than `maxShare` of a core over a
 * whole `windowMs` (it has worked off what an earlier phase queued), or
 * rejects when `deadlineMs` passes first. Returns how long it waited, ms.
 */
export async function waitForQuietServer(pid: number, { maxShare = 0.2, windowMs = 500, deadlineMs = 120_000 } = {}): Promise<number> {
  const start = performance.now();
  for (;;) {
    const before = serverCpuSeconds(pid);
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const share = (serverCpuSeconds(pid) - before) / ((performance.now() - t0) / 1000);
    if (share < maxShare) return performance.now() - start;
    if (performance.now() - start > deadlineMs) throw new Error(`the server stayed busy (${(share * 100).toFixed(0)} % of a core) for ${deadlineMs / 1000} s`);
  }
}
