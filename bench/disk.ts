// How long a small fdatasync takes on the disk the benchmarks write to. Every
// durable write waits for one (shared by a group commit), so this is the
// floor under the store and create figures, and its tail shows up in theirs.

import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarize, type Summary } from './stats.ts';

/** Times `count` appends of 4 KiB each followed by fdatasync, in a temporary directory. */
export function fsyncLatency(count = 300): Summary {
  const dir = mkdtempSync(join(tmpdir(), 'volplane-bench-disk-'));
  try {
    const fd = openSync(join(dir, 'probe'), 'w');
    try {
      const block = Buffer.alloc(4096, 0x5a);
      const times: number[] = [];
      for (let i = 0; i < count; i++) {
        writeSync(fd, block);
        const t0 = performance.now();
        fdatasyncSync(fd);
        times.push(performance.now() - t0);
      }
      return summarize(times);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
