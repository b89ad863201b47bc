// An open-loop load generator: the i-th operation is due at start + i·interval
// and is sent then, whether or not earlier ones have finished. A closed loop
// (send, await, send) slows down when the server does and so hides exactly
// the queueing a latency target is about; here a slow server shows up as
// latency measured from the scheduled time. If this process itself falls
// behind (a busy event loop), overdue operations are sent at once and their
// lateness still counts, because callers measure from `scheduledMs`.

import { nowMs } from './stats.ts';

export interface OpenLoopOptions {
  /** Operations per second. */
  rate: number;
  durationMs: number;
}

export interface OpenLoopReport {
  /** Operations started. */
  sent: number;
  /** The largest delay between an operation's scheduled time and its actual start, in ms. */
  maxStartLagMs: number;
}

/**
 * Calls `op(i, scheduledMs)` at a fixed rate for `durationMs` and resolves after every
 * operation has settled. `op` must handle its own errors; a rejection is a bug and rethrown.
 */
export async function openLoop(
  options: OpenLoopOptions,
  op: (i: number, scheduledMs: number) => Promise<void>,
): Promise<OpenLoopReport> {
  const intervalMs = 1000 / options.rate;
  const total = Math.round((options.durationMs / 1000) * options.rate);
  const inFlight: Promise<void>[] = [];
  const start = nowMs() + 1;
  let next = 0;
  let maxStartLagMs = 0;
  while (next < total) {
    const now = nowMs();
    while (next < total && start + next * intervalMs <= now) {
      const scheduled = start + next * intervalMs;
      maxStartLagMs = Math.max(maxStartLagMs, now - scheduled);
      inFlight.push(op(next, scheduled));
      next++;
    }
    if (next < total) {
      const wait = start + next * intervalMs - nowMs();
      // setTimeout sleeps at least 1 ms; anything shorter is served on the next turn.
      await new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, Math.floor(wait))));
    }
  }
  await Promise.all(inFlight);
  return { sent: total, maxStartLagMs };
}
