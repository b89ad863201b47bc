// Resident memory of the server process, read from /proc/<pid>/status:
// VmRSS is what it holds now, VmHWM the most it ever held. Linux only, which
// is where volplane runs. The kernel's "kB" there is KiB.

import { readFileSync } from 'node:fs';
import { delay } from '../src/base/index.ts';

export interface Rss {
  /** Resident set size now, in MB (10^6 bytes). */
  rssMB: number;
  /** Peak resident set size ("high water mark"), in MB. */
  hwmMB: number;
}

/** Reads VmRSS and VmHWM of `pid`. */
export function readRss(pid: number): Rss {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (m === null) throw new Error(`/proc/${pid}/status has no ${field} line`);
    return Number(m[1]);
  };
  return { rssMB: (kib('VmRSS') * 1024) / 1e6, hwmMB: (kib('VmHWM') * 1024) / 1e6 };
}

/** RSS of `pid` after it has been left alone for `idleMs` (start-up garbage settles, timers run once). */
export async function idleRss(pid: number, idleMs = 3_000): Promise<Rss> {
  await delay(idleMs);
  return readRss(pid);
}
