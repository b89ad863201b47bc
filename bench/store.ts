// Durable write throughput of the SQLite backend: one writer (every write pays
// its own fsync) against sixteen concurrent writers (group commit shares one
// fsync among the writes queued together). Each writer updates its own key in
// a loop, awaiting every write, for about two seconds.
//
// Run alone: node bench/store.ts

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '../src/storage/index.ts';

const RUN_MS = 2_000;

async function writesPerSecond(writers: number, dir: string): Promise<number> {
  const backend = new SqliteBackend({ path: join(dir, `bench-${writers}.db`) });
  await backend.start();
  try {
    const value = JSON.stringify({ kind: 'ConfigMap', data: { payload: 'x'.repeat(512) } });
    const deadline = performance.now() + RUN_MS;
    const started = performance.now();
    let writes = 0;
    const writer = async (i: number): Promise<void> => {
      let kv = await backend.create(`/registry/configmaps/bench/w${i}`, value);
      while (performance.now() < deadline) {
        kv = await backend.update(kv.key, value, kv.modRevision);
        writes++;
      }
    };
    await Promise.all(Array.from({ length: writers }, (_, i) => writer(i)));
    return writes / ((performance.now() - started) / 1000);
  } finally {
    await backend.close();
  }
}

export async function benchStore(): Promise<{ writers1: number; writers16: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'volplane-bench-store-'));
  try {
    const writers1 = await writesPerSecond(1, dir);
    const writers16 = await writesPerSecond(16, dir);
    return { writers1: Math.round(writers1), writers16: Math.round(writers16) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const result = await benchStore();
  console.log(`durable writes/s: 1 writer ${result.writers1}, 16 writers ${result.writers16}`);
}
