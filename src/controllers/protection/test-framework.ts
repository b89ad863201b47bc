// What the pvc-protection and pv-protection tests share: a row is a setup and
// steps; a step is an action, optionally a settle (wait until the controller
// has processed everything queued so far, before claiming that something
// "stays"), then checks that each say what is wrong ('' when right), polled
// until all of them hold.

import { waitForState } from '../../testing/index.ts';

/** '' when the world is right, else what is wrong. */
export type Check<W> = (w: W) => Promise<string>;

export interface Step<W> {
  what: string;
  act?: (w: W) => Promise<void>;
  /** Wait for the controller to process what is queued before checking (for "stays" claims). */
  settle?: boolean;
  want: Check<W>[];
}

export interface Row<W> {
  name: string;
  setup: (w: W) => Promise<void>;
  steps: Step<W>[];
}

/** Polls the step's checks until all of them hold; fails with the ones that did not. */
export function check<W>(w: W, step: Step<W>): Promise<string[]> {
  return waitForState(step.what, () => Promise.all(step.want.map((c) => c(w))), (problems) => problems, { timeoutMs: 15_000, intervalMs: 50 });
}

/** Runs a row's setup and steps against `w`; `settle` is the file's own way to wait for the queue to drain. */
export async function runRow<W>(w: W, row: Row<W>, settle: (w: W) => Promise<void>): Promise<void> {
  await row.setup(w);
  for (const step of row.steps) {
    await step.act?.(w);
    if (step.settle === true) await settle(w);
    await check(w, step);
  }
}
