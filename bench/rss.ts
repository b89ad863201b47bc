// Resident memory of the server process, read from /proc/<pid>/status:
// VmRSS is what it holds now, VmHWM the most it ever held. Linux only, which
// is where volplane runs.

import { readFileSync } from 'node:fs';
import { delay } from '../src/base/index.ts';

export interface Rss {
  /** Resident set size now, in MiB. */
  rssMiB: number;
  /** Peak resident set size ("high water mark"), in MiB. */
  hwmMiB: number;
}

/** Reads VmRSS and VmHWM of `pid`. */
export function readRss(pid: number): Rss {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (m === null) throw new Error(`/proc/${pid}/status has no ${field} line`);
    return Number(m[1]);
  };
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

/** RSS of `pid` after it has been left alone for `idleMs` (start-up garbage settles, timers run once). */
export async function idleRss(pid: number, idleMs = 3_000): Promise<Rss> {
  await delay(idleMs);
  return readRss(pid);
}
