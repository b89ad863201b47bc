// Waiting on a benchmark phase without a fixed deadline: a run of 500 claims
// may take a minute on a slow machine and that is a result, not a failure; a
// phase in which nothing has moved for a while is a failure. So a phase is
// polled until done and fails only when its progress string stops changing
// for `stallMs`, or when `failed` (a broken watch, say) rejects.
import { nowMs } from './stats.ts';

/** The error a benchmark throws for a stalled phase, from its phase, the last progress and the stall limit. */
export type StalledErrorClass = new (phase: string, detail: string, stallMs: number) => Error;

/** Polls `done` every 20 ms until true; throws `Stalled` once `progress()` has not changed for `stallMs`. */
export async function untilDoneOrStalled(
  phase: string,
  done: () => Promise<boolean> | boolean,
  progress: () => string,
  stallMs: number,
  failed: Promise<never>,
  Stalled: StalledErrorClass,
): Promise<void> {
  let last = '';
  let lastChange = nowMs();
  for (;;) {
    if (await done()) return;
    const now = progress();
    if (now !== last) {
      last = now;
      lastChange = nowMs();
    } else if (nowMs() - lastChange > stallMs) {
      throw new Stalled(phase, now, stallMs);
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 20)), failed]);
  }
}
