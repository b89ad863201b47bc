// Keeps the store's history bounded, as kube-apiserver's periodic etcd
// compaction does: every interval it remembers the current revision, and
// compacts away history older than the revision it saw `retention` ago.
// Watchers that fall further behind than that get 410 Expired and relist.

import type { Disposable, Logger } from '../base/index.ts';
import type { Backend } from '../storage/index.ts';

export interface CompactorOptions {
  /** How often to look (default 60 s). */
  intervalMs?: number;
  /** How much history to keep (default 5 minutes). */
  retentionMs?: number;
}

export function startCompactor(backend: Backend, logger: Logger, options: CompactorOptions = {}): Disposable {
  const intervalMs = options.intervalMs ?? 60_000;
  const retentionMs = options.retentionMs ?? 5 * 60_000;
  const samples: { at: number; revision: number }[] = [];
  let running = false;
  const tick = (): void => {
    if (running) return;
    const now = Date.now();
    samples.push({ at: now, revision: backend.currentRevision() });
    let target = 0;
    while (samples.length > 0 && now - samples[0].at >= retentionMs) {
      target = samples.shift()!.revision;
    }
    if (target <= backend.compactRevision()) return;
    running = true;
    backend
      .compact(target)
      .then((rev) => logger.debug({ revision: rev }, 'compacted store history'))
      .catch((err: unknown) => logger.warn({ err }, 'compaction failed'))
      .finally(() => {
        running = false;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return { dispose: () => clearInterval(timer) };
}
