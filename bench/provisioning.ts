// Dynamic provisioning through the in-tree `volplane.io/hostpath`
// provisioner: a StorageClass with Immediate binding and the Delete reclaim
// policy, then 500 claims of it (64 creates in flight). For each claim the
// PV controller makes a directory under `<data-dir>/hostpath-volumes`, saves
// a PV pre-bound to the claim and binds the two; the figure is the time from
// the first claim create to the last claim seen `Bound` by a watch, and each
// claim's latency from its create returning to that moment.
//
// Then every claim is deleted (again 64 in flight) and the clock runs until
// a watch has seen every PV DELETED and the provisioner's directory holds no
// volume directory and no metadata file — the whole reclaim path: claim
// gone → volume Released → provisioner delete → PV finalizers removed → PV
// gone.
//
// Run it in a fresh server: it reads the server's data directory.
// Run alone: node bench/provisioning.ts

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { forEachConcurrent } from './concurrent.ts';
import { BenchRequestError, ensureNamespace, persistentVolumeClaim } from './fixtures.ts';
import { monitorLoad, type LoadReport } from './load-monitor.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';
import { untilDoneOrStalled } from './progress.ts';
import { nowMs, summarize, type Summary } from './stats.ts';
import { watchFromNow } from './watch-stream.ts';

export interface ProvisioningOptions {
  count?: number;
  concurrency?: number;
  namespace?: string;
  className?: string;
  /** Give up when nothing moves for this long (default 60 s). */
  stallMs?: number;
}

export interface ProvisioningResult {
  count: number;
  /** First claim create → last claim Bound, s. */
  bindSeconds: number;
  /** Claim create returned → claim seen Bound, ms. */
  latency: Summary;
  /** Volume directories present when every claim was Bound (should equal count). */
  directories: number;
  /** First claim delete → every PV gone and every directory removed, s. */
  deleteSeconds: number;
  /** First claim delete → every PV gone (directories may lag), s. */
  pvsGoneSeconds: number;
  provisionLoad: LoadReport;
  deleteLoad: LoadReport;
}

export class ProvisioningStalledError extends Error {
  override readonly name = 'ProvisioningStalledError';
  readonly phase: string;
  constructor(phase: string, detail: string, stallMs: number) {
    super(`${phase}: no progress for ${stallMs / 1000} s (${detail})`);
    this.phase = phase;
  }
}

/** What the provisioner's root holds: volume directories and metadata files. */
async function hostpathEntries(root: string): Promise<{ directories: number; metadata: number }> {
  const list = async (dir: string): Promise<string[]> => {
    try {
      return await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  };
  const top = await list(root);
  return { directories: top.filter((e) => e !== '.volplane').length, metadata: (await list(join(root, '.volplane'))).length };
}

/** Polls `progress` (a string that changes when something happened) until `done()`; fails after `stallMs` without change. */
function untilDone(phase: string, done: () => Promise<boolean> | boolean, progress: () => string, stallMs: number, failed: Promise<never>): Promise<void> {
  return untilDoneOrStalled(phase, done, progress, stallMs, failed, ProvisioningStalledError);
}

export async function benchProvisioning(server: ServerProcess, options: ProvisioningOptions = {}): Promise<ProvisioningResult> {
  const count = options.count ?? 500;
  const concurrency = options.concurrency ?? 64;
  const namespace = options.namespace ?? 'bench-provisioning';
  const className = options.className ?? 'bench-hostpath';
  const stallMs = options.stallMs ?? 60_000;
  const root = join(server.dataDir, 'hostpath-volumes');
  const pvcCollection = `/api/v1/namespaces/${namespace}/persistentvolumeclaims`;

  const client = server.client({ maxSockets: concurrency });
  const watchClient = server.client({ maxSockets: 4 });
  const abort = new AbortController();
  const streams: Promise<void>[] = [];
  try {
    await ensureNamespace(client, namespace);
    await client.create('/apis/storage.k8s.io/v1/storageclasses', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: className },
      provisioner: 'volplane.io/hostpath',
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    });

    // One watch on the claims (Bound) and one on all volumes (which are ours, and when they go).
    const createdAt = new Map<string, number>();
    const boundAt = new Map<string, number>();
    const pvcWatch = await watchFromNow(
      watchClient,
      pvcCollection,
      (e) => {
        const name = e.object.metadata.name;
        if (e.object.status?.phase === 'Bound' && name !== undefined && !boundAt.has(name)) boundAt.set(name, nowMs());
      },
      abort.signal,
    );
    streams.push(pvcWatch.done);
    const volumes = new Set<string>();
    const gone = new Set<string>();
    const pvWatch = await watchFromNow(
      watchClient,
      '/api/v1/persistentvolumes',
      (e) => {
        const name = e.object.metadata.name;
        if (name === undefined) return;
        if (e.type === 'DELETED') gone.add(name);
        else volumes.add(name);
      },
      abort.signal,
    );
    streams.push(pvWatch.done);
    const failed = Promise.race([pvcWatch.failed, pvWatch.failed]);
    failed.catch(() => undefined);

    let stopMonitor = monitorLoad(server.pid);
    const start = nowMs();
    await Promise.race([
      forEachConcurrent(count, concurrency, async (i) => {
        const name = `claim-${String(i).padStart(3, '0')}`;
        try {
          await client.create(pvcCollection, persistentVolumeClaim(name, className));
        } catch (err) {
          throw new BenchRequestError('creating', `claim ${name}`, err);
        }
        createdAt.set(name, nowMs());
      }),
      failed,
    ]);
    await untilDone('claims becoming Bound', () => boundAt.size >= count, () => `${boundAt.size} of ${count} Bound`, stallMs, failed);
    // A loop, not Math.max(...values): 100,000 arguments can overflow the stack.
    let lastBound = 0;
    for (const t of boundAt.values()) lastBound = Math.max(lastBound, t);
    const provisionLoad = stopMonitor();
    const { directories } = await hostpathEntries(root);
    const latencies = [...createdAt].map(([name, created]) => Math.max(0, (boundAt.get(name) ?? Number.NaN) - created));

    stopMonitor = monitorLoad(server.pid);
    const deleteStart = nowMs();
    const names = [...createdAt.keys()];
    await Promise.race([
      forEachConcurrent(names.length, concurrency, async (i) => {
        try {
          await client.delete(`${pvcCollection}/${names[i]}`);
        } catch (err) {
          throw new BenchRequestError('deleting', `claim ${names[i]}`, err);
        }
      }),
      failed,
    ]);
    let pvsGone: number | undefined;
    let entries = { directories, metadata: directories };
    await untilDone(
      'volumes and directories going away',
      async () => {
        if (pvsGone === undefined && volumes.size >= count && gone.size >= volumes.size) pvsGone = nowMs();
        entries = await hostpathEntries(root);
        return pvsGone !== undefined && entries.directories === 0 && entries.metadata === 0;
      },
      () => `${gone.size} of ${volumes.size} PVs gone, ${entries.directories} directories and ${entries.metadata} metadata files left`,
      stallMs,
      failed,
    );
    const end = nowMs();
    const deleteLoad = stopMonitor();
    return {
      count,
      bindSeconds: (lastBound - start) / 1000,
      latency: summarize(latencies),
      directories,
      deleteSeconds: (end - deleteStart) / 1000,
      pvsGoneSeconds: ((pvsGone ?? end) - deleteStart) / 1000,
      provisionLoad,
      deleteLoad,
    };
  } finally {
    abort.abort();
    await Promise.allSettled(streams);
    client.close();
    watchClient.close();
  }
}

/** benchProvisioning in a server of its own. */
export async function benchProvisioningFresh(options: ProvisioningOptions = {}): Promise<ProvisioningResult> {
  const server = await startServerProcess();
  try {
    return await benchProvisioning(server, options);
  } finally {
    await server.stop();
  }
}

if (import.meta.main) {
  const r = await benchProvisioningFresh();
  console.log(
    `${r.count} claims provisioned and Bound in ${r.bindSeconds.toFixed(2)} s (create→Bound p50 ${r.latency.p50.toFixed(0)} ms, ` +
      `p99 ${r.latency.p99.toFixed(0)} ms; ${r.directories} directories); deleted: every PV gone after ${r.pvsGoneSeconds.toFixed(2)} s, ` +
      `every directory after ${r.deleteSeconds.toFixed(2)} s; server CPU ${(r.provisionLoad.serverCores * 100).toFixed(0)} % / ${(r.deleteLoad.serverCores * 100).toFixed(0)} %`,
  );
}
