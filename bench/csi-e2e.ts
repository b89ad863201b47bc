// End-to-end CSI through volplane's own driver, on a server of its own
// started WITH its node (so `volplane up` also runs the driver, its external
// provisioner and attacher, and the CSIDriver; needs root). Two figures:
//
//  1. Provisioning: an Immediate StorageClass of the driver with loop-backed
//     ext4 volumes (`kind: loop`, fstype ext4), then `count` claims (64
//     creates in flight). Each goes PV controller → external provisioner →
//     CreateVolume (a sparse image file in the driver's data dir) → PV with a
//     csi source → bind. The figure is first claim create → last claim seen
//     Bound by a watch, as volumes/s, and each claim's create → Bound. The
//     issue's target is ≥ 20 volumes/s (500 in ≤ 30 s), where upstream's
//     external-provisioner at its defaults manages 2.4 operations/s
//     (kubernetes-csi/external-provisioner#447). Then every claim is deleted
//     and the clock runs until every PV is gone and the driver holds no image.
//  2. A pod with a new claim of `volplane-csi` (WaitForFirstConsumer, loop
//     ext4) to Running and Ready, one after another: claim create → scheduler
//     picks the node → CreateVolume → VolumeAttachment → ControllerPublish →
//     NodeStage (losetup, mkfs.ext4, mount) → NodePublish → container. Each
//     pod is deleted (grace 0), then its claim, and the next starts once the
//     PV is gone. A warm-up pod is not counted.
//
// Times come from watch events. At the end nothing may be mounted under the
// data dir or attached to a loop device from it.
//
// Run alone (as root): node bench/csi-e2e.ts
// BENCH_CSI_E2E_COUNT=N provisions N claims instead of 500; BENCH_CSI_E2E_PODS=N
// measures N pods instead of 20.

import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject } from '../src/apimachinery/index.ts';
import type { RestClient, WatchEvent } from '../src/client/index.ts';
import { forEachConcurrent } from './concurrent.ts';
import { createOrFail, deleteOrFail, ensureNamespace, persistentVolumeClaim, sleeperPod } from './fixtures.ts';
import { monitorLoad, type LoadReport } from './load-monitor.ts';
import { mountsUnder, withServerProcess, type ServerProcess } from './server-process.ts';
import { untilDoneOrStalled } from './progress.ts';
import { nowMs, summarize, type Summary } from './stats.ts';
import { watchFromNow, type WithPhase } from './watch-stream.ts';

const DRIVER = 'csi.volplane.io';
/** The class `volplane up` makes for loop-backed ext4 volumes (WaitForFirstConsumer). */
const WFFC_CLASS = 'volplane-csi';
const IMMEDIATE_CLASS = 'bench-csi-loop-immediate';
/** ext4 needs 16 MiB at least; the image files are sparse either way. */
const CLAIM_SIZE = '64Mi';

export interface CsiE2eOptions {
  /** Claims to provision (default 500). */
  count?: number;
  /** Claim creates and deletes in flight (default 64). */
  concurrency?: number;
  /** Pods to start one after another (default 20). */
  pods?: number;
  namespace?: string;
  /** Give up when nothing moves for this long (default 60 s). */
  stallMs?: number;
}

export interface CsiE2eResult {
  node: string;
  count: number;
  /** First claim create → last claim Bound, s. */
  bindSeconds: number;
  volumesPerSecond: number;
  /** Claim create returned → claim seen Bound, ms. */
  bindLatency: Summary;
  /** Image files in the driver's volumes dir once every claim was Bound (should equal count). */
  images: number;
  /** First claim delete → every PV gone and every image removed, s. */
  deleteSeconds: number;
  provisionLoad: LoadReport;
  deleteLoad: LoadReport;
  /** Claim create → pod Running and Ready, a new volplane-csi claim per pod, ms. */
  podStart: Summary;
  podLoad: LoadReport;
}

/** Nothing changed for `stallMs` while waiting for `phase`. */
export class CsiE2eStalledError extends Error {
  override readonly name = 'CsiE2eStalledError';
  readonly phase: string;
  constructor(phase: string, detail: string, stallMs: number) {
    super(`${phase}: no progress for ${stallMs / 1000} s (${detail})`);
    this.phase = phase;
  }
}

/** Mounts or loop devices of the data dir left after everything was deleted. */
export class CsiE2eLeftoverError extends Error {
  override readonly name = 'CsiE2eLeftoverError';
  readonly leftovers: readonly string[];
  constructor(leftovers: readonly string[]) {
    super(`left after every pod and claim was deleted: ${leftovers.slice(0, 5).join(', ')}${leftovers.length > 5 ? ', …' : ''}`);
    this.leftovers = leftovers;
  }
}

type Obj = KubeObject & WithPhase & { spec?: { volumeName?: string }; status?: { phase?: string; conditions?: { type: string; status: string }[] } };

/** The latest object of each name from one watch, with the arrival time of the first event that met a test. */
class Seen {
  readonly latest = new Map<string, Obj>();
  readonly gone = new Set<string>();
  readonly #first = new Map<string, number>();
  readonly #test: (o: Obj) => boolean;
  constructor(test: (o: Obj) => boolean) {
    this.#test = test;
  }
  onEvent = (e: WatchEvent<Obj>): void => {
    const name = e.object.metadata.name;
    if (name === undefined) return;
    if (e.type === 'DELETED') {
      this.latest.delete(name);
      this.gone.add(name);
      return;
    }
    if (e.type !== 'ADDED' && e.type !== 'MODIFIED') return;
    this.latest.set(name, e.object);
    this.gone.delete(name);
    if (!this.#first.has(name) && this.#test(e.object)) this.#first.set(name, nowMs());
  };
  firstAt(name: string): number | undefined {
    return this.#first.get(name);
  }
  get metCount(): number {
    return this.#first.size;
  }
}

const bound = (o: Obj): boolean => o.status?.phase === 'Bound';
const runningAndReady = (o: Obj): boolean => o.status?.phase === 'Running' && (o.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Polls `done` until true; fails when `progress` has not changed for `stallMs` or a watch broke. */
function until(phase: string, done: () => Promise<boolean> | boolean, progress: () => string, stallMs: number, failed: Promise<never>): Promise<void> {
  return untilDoneOrStalled(phase, done, progress, stallMs, failed, CsiE2eStalledError);
}

/** The image files the driver holds in `<data-dir>/csi/volumes`. */
async function imageCount(dataDir: string): Promise<number> {
  try {
    return (await readdir(join(dataDir, 'csi', 'volumes'))).filter((f) => f.endsWith('.img')).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** `losetup -a` lines that name a file under `dir` (none when losetup is missing). */
function loopDevicesUnder(dir: string): Promise<string[]> {
  return new Promise((resolve) => {
    execFile('losetup', ['-a'], { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => {
      resolve(err === null ? stdout.split('\n').filter((l) => l.includes(`${dir}/`)) : []);
    });
  });
}

export async function benchCsiE2e(server: ServerProcess, options: CsiE2eOptions = {}): Promise<CsiE2eResult> {
  const count = options.count ?? 500;
  const concurrency = options.concurrency ?? 64;
  const podCount = options.pods ?? 20;
  const namespace = options.namespace ?? 'bench-csi';
  const stallMs = options.stallMs ?? 60_000;
  const node = server.nodeName;
  if (node === undefined) throw new Error('benchCsiE2e needs a server started with { node: true }');
  const pvcsPath = `/api/v1/namespaces/${namespace}/persistentvolumeclaims`;
  const podsPath = `/api/v1/namespaces/${namespace}/pods`;
  const forceDelete = { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 };

  const client = server.client({ maxSockets: concurrency });
  const watchClient = server.client({ maxSockets: 4 });
  const abort = new AbortController();
  const streams: Promise<void>[] = [];
  const claims = new Seen(bound);
  const volumes = new Seen(() => true);
  const pods = new Seen(runningAndReady);
  try {
    await ensureNamespace(client, namespace);
    await createOrFail(client, '/apis/storage.k8s.io/v1/storageclasses', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: IMMEDIATE_CLASS },
      provisioner: DRIVER,
      parameters: { kind: 'loop', 'csi.storage.k8s.io/fstype': 'ext4' },
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    });
    const failures: Promise<never>[] = [];
    for (const [seen, path] of [
      [claims, pvcsPath],
      [volumes, '/api/v1/persistentvolumes'],
      [pods, podsPath],
    ] as const) {
      const w = await watchFromNow(watchClient, path, seen.onEvent, abort.signal);
      streams.push(w.done);
      failures.push(w.failed);
    }
    const failed = Promise.race(failures);
    failed.catch(() => undefined);

    /** Deletes claims by name and waits until their PVs are gone and the driver holds no image. */
    const deleteClaims = async (names: readonly string[], phase: string): Promise<void> => {
      const pvs = names.map((n) => claims.latest.get(n)?.spec?.volumeName).filter((v): v is string => v !== undefined);
      await Promise.race([forEachConcurrent(names.length, concurrency, (i) => deleteOrFail(client, `${pvcsPath}/${names[i]}`, `claim ${names[i]}`)), failed]);
      let images = -1;
      await until(
        phase,
        async () => {
          images = await imageCount(server.dataDir);
          return pvs.every((pv) => volumes.gone.has(pv)) && images === 0;
        },
        () => `${pvs.filter((pv) => volumes.gone.has(pv)).length} of ${pvs.length} PVs gone, ${images} images left`,
        stallMs,
        failed,
      );
    };

    // Warm-up: the sidecars hold their lease and the driver has served a call before the clock starts.
    await createOrFail(client, pvcsPath, persistentVolumeClaim('warm-up', IMMEDIATE_CLASS, { storage: CLAIM_SIZE }));
    await until('the warm-up claim Bound', () => claims.firstAt('warm-up') !== undefined, () => claims.latest.get('warm-up')?.status?.phase ?? 'absent', stallMs, failed);
    await deleteClaims(['warm-up'], 'the warm-up volume deleted');

    // 1. Provisioning.
    const createdAt = new Map<string, number>();
    const names = Array.from({ length: count }, (_, i) => `claim-${String(i).padStart(3, '0')}`);
    let stopMonitor = monitorLoad(server.pid);
    const start = nowMs();
    await Promise.race([
      forEachConcurrent(count, concurrency, async (i) => {
        await createOrFail(client, pvcsPath, persistentVolumeClaim(names[i], IMMEDIATE_CLASS, { storage: CLAIM_SIZE }));
        createdAt.set(names[i], nowMs());
      }),
      failed,
    ]);
    const boundCount = (): number => names.filter((n) => claims.firstAt(n) !== undefined).length;
    await until('claims becoming Bound', () => boundCount() >= count, () => `${boundCount()} of ${count} Bound`, stallMs, failed);
    let lastBound = 0;
    for (const n of names) lastBound = Math.max(lastBound, claims.firstAt(n) ?? 0);
    const provisionLoad = stopMonitor();
    const images = await imageCount(server.dataDir);
    const bindLatency = summarize(names.map((n) => Math.max(0, (claims.firstAt(n) ?? Number.NaN) - (createdAt.get(n) ?? Number.NaN))));

    stopMonitor = monitorLoad(server.pid);
    const deleteStart = nowMs();
    await deleteClaims(names, 'volumes and images going away');
    const deleteSeconds = (nowMs() - deleteStart) / 1000;
    const deleteLoad = stopMonitor();

    // 2. Pods, each with a new claim of the WaitForFirstConsumer class.
    const runPod = async (name: string): Promise<number> => {
      const t0 = nowMs();
      await createOrFail(client, pvcsPath, persistentVolumeClaim(name, WFFC_CLASS, { storage: CLAIM_SIZE }));
      await createOrFail(client, podsPath, sleeperPod(name, name));
      await until(`pod ${name} Running and Ready`, () => pods.firstAt(name) !== undefined, () => pods.latest.get(name)?.status?.phase ?? 'absent', stallMs, failed);
      const latency = (pods.firstAt(name) ?? Number.NaN) - t0;
      await deleteOrFail(client, `${podsPath}/${name}`, `pod ${name}`, forceDelete);
      await until(`pod ${name} gone`, () => pods.gone.has(name), () => pods.latest.get(name)?.status?.phase ?? 'absent', stallMs, failed);
      await deleteClaims([name], `the volume of ${name} deleted`);
      return latency;
    };
    await runPod('warm-pod');
    stopMonitor = monitorLoad(server.pid);
    const podLatencies: number[] = [];
    for (let i = 0; i < podCount; i++) podLatencies.push(await runPod(`pod-${String(i).padStart(2, '0')}`));
    const podLoad = stopMonitor();

    await deleteOrFail(client, `/apis/storage.k8s.io/v1/storageclasses/${IMMEDIATE_CLASS}`, `StorageClass ${IMMEDIATE_CLASS}`);
    const leftovers = [...(await mountsUnder(server.dataDir)).map((m) => `mount ${m}`), ...(await loopDevicesUnder(server.dataDir)).map((l) => `loop ${l}`)];
    if (leftovers.length > 0) throw new CsiE2eLeftoverError(leftovers);

    const bindSeconds = (lastBound - start) / 1000;
    return {
      node,
      count,
      bindSeconds,
      volumesPerSecond: count / bindSeconds,
      bindLatency,
      images,
      deleteSeconds,
      provisionLoad,
      deleteLoad,
      podStart: summarize(podLatencies),
      podLoad,
    };
  } finally {
    abort.abort();
    await Promise.allSettled(streams);
    client.close();
    watchClient.close();
  }
}

/** benchCsiE2e in a server of its own, started with its node (and so the CSI stack); stopping it fails if mounts are left. */
export async function benchCsiE2eFresh(options: CsiE2eOptions = {}): Promise<CsiE2eResult> {
  return withServerProcess({ node: true }, (server) => benchCsiE2e(server, options));
}

if (import.meta.main) {
  const env = (name: string): number | undefined => {
    const n = Number(process.env[name] ?? '');
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };
  const count = env('BENCH_CSI_E2E_COUNT');
  const pods = env('BENCH_CSI_E2E_PODS');
  const r = await benchCsiE2eFresh({ ...(count === undefined ? {} : { count }), ...(pods === undefined ? {} : { pods }) });
  const f = (s: Summary): string => `p50 ${s.p50.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms`;
  console.log(
    `node ${r.node}: ${r.count} loop-backed ext4 claims Bound in ${r.bindSeconds.toFixed(2)} s = ${r.volumesPerSecond.toFixed(1)} volumes/s ` +
      `(create → Bound ${f(r.bindLatency)}; ${r.images} images; server CPU ${(r.provisionLoad.serverCores * 100).toFixed(0)} %); ` +
      `deleted, every PV and image gone after ${r.deleteSeconds.toFixed(2)} s\n` +
      `pod with a new volplane-csi claim, claim create → Running and Ready: ${f(r.podStart)} (${r.podStart.count} pods)`,
  );
}
