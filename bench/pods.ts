// Pod start-up on the in-process node: how long a pod takes from its create
// to `Running` with the `Ready` condition True, and what volumes add to it.
//
// Three measurements, on a server of their own started WITH its node (the
// kubelet runs busybox containers for real, so this needs root):
//
//  1. A pod mounting a claim that is already Bound to a `local` PV (a temp
//     directory under the data dir, node affinity to the node): nothing is
//     left for the control plane but scheduling, so this is kubelet + volume
//     manager + runtime.
//  2. The same pod without volumes, interleaved with (1) so that drift on a
//     shared machine hits both alike; the figure is the ratio of the p50s.
//  3. Pods that each bring a new claim of a `volplane.io/hostpath` class,
//     one class WaitForFirstConsumer and one Immediate, again interleaved;
//     the figure is the difference of the p50s, i.e. what the scheduler's
//     volume binding (pick a node, then provision) adds over provisioning
//     up front. The Immediate claim is measured two ways: the pod created
//     right after its claim (the scheduler rejects a pod whose Immediate
//     claim is still unbound and retries it after its 1 s initial backoff,
//     so this mostly measures that backoff), and the pod created once a
//     watch has seen the claim Bound (the baseline the target is judged on).
//
// Pods are created one after another; each is deleted with
// gracePeriodSeconds 0 and the next starts only once a watch has seen it
// gone. Every time is taken from watch events (no polling): latency runs
// from just before the create request (the claim's create for (3)) to the
// first event showing the pod Running and Ready. A warm-up pod of each kind,
// not counted, pays for the first image unpack and cold code paths.
//
// At the end everything is deleted, the node's mounts under the data dir
// must be gone (findmnt), and the server stops; its stop() checks the mount
// table once more and fails if anything is left.
//
// Run alone (as root): node bench/pods.ts
// BENCH_PODS_COUNT=N measures N pods per kind instead of 20 (a quick look on
// a busy machine).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject } from '../src/apimachinery/index.ts';
import type { RestClient, WatchEvent } from '../src/client/index.ts';
import { createOrFail, deleteOrFail, ensureNamespace, persistentVolumeClaim, sleeperPod } from './fixtures.ts';
import { monitorLoad, type LoadReport } from './load-monitor.ts';
import { mountsUnder, withServerProcess, type ServerProcess } from './server-process.ts';
import { nowMs, summarize, type Summary } from './stats.ts';
import { watchFromNow, type WithPhase } from './watch-stream.ts';

export interface PodsOptions {
  /** Pods per kind (default 20). */
  count?: number;
  namespace?: string;
  /** Give up on one wait after this long (default 60 s). */
  waitMs?: number;
}

export interface PodsResult {
  node: string;
  count: number;
  /** create → Running and Ready, pod with the pre-bound local PV, ms. */
  withVolume: Summary;
  /** The same pod without volumes, ms. */
  withoutVolume: Summary;
  /** p50 with / p50 without. */
  volumeRatio: number;
  /** Claim create → pod Running and Ready, WaitForFirstConsumer hostpath class, ms. */
  wffc: Summary;
  /** The same with an Immediate hostpath class, the pod created right after the claim, ms. */
  immediate: Summary;
  /** Immediate class, the pod created once the claim is Bound; claim create → pod Running and Ready, ms. */
  immediateBoundFirst: Summary;
  /** p50 WFFC − p50 Immediate bound first, ms (the judged figure). */
  wffcAddedP50Ms: number;
  /** p50 WFFC − p50 Immediate with the pod created at once, ms. */
  wffcVsImmediateAtOnceP50Ms: number;
  /** Pod delete (grace 0) → seen gone, every pod of the run, ms. */
  deleteGone: Summary;
  load: LoadReport;
}

/** A wait on the watched state did not end in time. */
export class PodsWaitError extends Error {
  override readonly name = 'PodsWaitError';
  readonly what: string;
  constructor(what: string, ms: number, last: string) {
    super(`${what}: not within ${ms / 1000} s (last seen: ${last})`);
    this.what = what;
  }
}

/** Mounts under the data dir still there after everything was deleted. */
export class PodsLeftoverMountsError extends Error {
  override readonly name = 'PodsLeftoverMountsError';
  readonly mounts: readonly string[];
  constructor(mounts: readonly string[]) {
    super(`${mounts.length} mount(s) left under the data dir after every pod was deleted: ${mounts.slice(0, 5).join(', ')}`);
    this.mounts = mounts;
  }
}

type Obj = KubeObject & WithPhase & { status?: { phase?: string; conditions?: { type: string; status: string }[] } };

interface Waiter {
  what: string;
  name: string;
  test: (o: Obj | undefined) => boolean;
  resolve: (at: number) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The latest state of each object of one watch, and promises for "object
 * `name` reaches a state", settled from the watch events themselves with the
 * time the event arrived. A deleted object is `undefined`.
 */
class Tracker {
  readonly latest = new Map<string, Obj>();
  private readonly waiters = new Set<Waiter>();
  private readonly waitMs: number;

  constructor(waitMs: number) {
    this.waitMs = waitMs;
  }

  onEvent = (e: WatchEvent<Obj>): void => {
    const at = nowMs();
    const name = e.object.metadata.name;
    if (name === undefined) return;
    if (e.type === 'DELETED') this.latest.delete(name);
    else if (e.type === 'ADDED' || e.type === 'MODIFIED') this.latest.set(name, e.object);
    else return;
    for (const w of this.waiters) {
      if (w.name === name && w.test(this.latest.get(name))) this.settle(w, () => w.resolve(at));
    }
  };

  /** Resolves with the arrival time of the first event that makes `test` true (now, if it already is). */
  until(what: string, name: string, test: (o: Obj | undefined) => boolean): Promise<number> {
    if (test(this.latest.get(name))) return Promise.resolve(nowMs());
    return new Promise<number>((resolve, reject) => {
      const w: Waiter = {
        what,
        name,
        test,
        resolve,
        reject,
        timer: setTimeout(() => this.settle(w, () => reject(new PodsWaitError(what, this.waitMs, describe(this.latest.get(name))))), this.waitMs),
      };
      this.waiters.add(w);
    });
  }

  /** Fails every pending wait (the watch broke). */
  failAll(err: Error): void {
    for (const w of this.waiters) this.settle(w, () => w.reject(err));
  }

  private settle(w: Waiter, fn: () => void): void {
    clearTimeout(w.timer);
    this.waiters.delete(w);
    fn();
  }
}

function describe(o: Obj | undefined): string {
  if (o === undefined) return 'absent';
  const conds = (o.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).join(',');
  return `phase ${o.status?.phase ?? '-'}${conds === '' ? '' : ` [${conds}]`}`;
}

const runningAndReady = (o: Obj | undefined): boolean =>
  o?.status?.phase === 'Running' && (o.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const gone = (o: Obj | undefined): boolean => o === undefined;
const bound = (o: Obj | undefined): boolean => o?.status?.phase === 'Bound';

function storageClass(name: string, provisioner: string, volumeBindingMode: 'Immediate' | 'WaitForFirstConsumer'): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name },
    provisioner,
    reclaimPolicy: 'Delete',
    volumeBindingMode,
  };
}

export async function benchPods(server: ServerProcess, options: PodsOptions = {}): Promise<PodsResult> {
  const count = options.count ?? 20;
  const namespace = options.namespace ?? 'bench-pods';
  const waitMs = options.waitMs ?? 60_000;
  const node = server.nodeName;
  if (node === undefined) throw new Error('benchPods needs a server started with { node: true }');
  const podsPath = `/api/v1/namespaces/${namespace}/pods`;
  const pvcsPath = `/api/v1/namespaces/${namespace}/persistentvolumeclaims`;
  const scPath = '/apis/storage.k8s.io/v1/storageclasses';
  const forceDelete = { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 };

  const client = server.client({ maxSockets: 4 });
  const watchClient = server.client({ maxSockets: 4 });
  const abort = new AbortController();
  const streams: Promise<void>[] = [];
  const pods = new Tracker(waitMs);
  const claims = new Tracker(waitMs);
  const volumes = new Tracker(waitMs);
  try {
    await ensureNamespace(client, namespace);
    for (const [tracker, path] of [
      [pods, podsPath],
      [claims, pvcsPath],
      [volumes, '/api/v1/persistentvolumes'],
    ] as const) {
      const w = await watchFromNow(watchClient, path, tracker.onEvent, abort.signal);
      streams.push(w.done);
      w.failed.catch((err: unknown) => tracker.failAll(err instanceof Error ? err : new Error(String(err))));
    }

    // The local volume: a directory under the data dir, reachable only from our node, and a claim pre-bound to it.
    const localDir = join(server.dataDir, 'bench-local-volume');
    await mkdir(localDir, { recursive: true });
    await createOrFail(client, scPath, storageClass('bench-local', 'kubernetes.io/no-provisioner', 'Immediate'));
    await createOrFail(client, scPath, storageClass('bench-hostpath-wffc', 'volplane.io/hostpath', 'WaitForFirstConsumer'));
    await createOrFail(client, scPath, storageClass('bench-hostpath-immediate', 'volplane.io/hostpath', 'Immediate'));
    await createOrFail(client, '/api/v1/persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'bench-local-pv', labels: { app: 'volplane-bench' } },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: 'bench-local',
        local: { path: localDir },
        nodeAffinity: {
          required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] },
        },
      },
    });
    await createOrFail(client, pvcsPath, persistentVolumeClaim('bench-local', 'bench-local', { volumeName: 'bench-local-pv' }));
    await claims.until('claim bench-local Bound', 'bench-local', bound);

    const deleteGone: number[] = [];
    /** Creates the pod (after `before`, whose start counts), waits for Running+Ready, deletes it, waits until gone. */
    const runPod = async (name: string, claimName: string | undefined, before?: () => Promise<void>): Promise<number> => {
      const t0 = nowMs();
      if (before !== undefined) await before();
      const ready = pods.until(`pod ${name} Running and Ready`, name, runningAndReady);
      ready.catch(() => undefined);
      await createOrFail(client, podsPath, sleeperPod(name, claimName));
      const t1 = await ready;
      const d0 = nowMs();
      const isGone = pods.until(`pod ${name} gone`, name, gone);
      isGone.catch(() => undefined);
      await deleteOrFail(client, `${podsPath}/${name}`, `pod ${name}`, forceDelete);
      deleteGone.push((await isGone) - d0);
      return t1 - t0;
    };
    /** A pod with a new claim of `className`; afterwards the claim is deleted and its PV (reclaim Delete) must go. */
    const runPodWithNewClaim = async (name: string, className: string, waitBound = false): Promise<number> => {
      const latency = await runPod(name, name, async () => {
        await createOrFail(client, pvcsPath, persistentVolumeClaim(name, className));
        if (waitBound) await claims.until(`claim ${name} Bound`, name, bound);
      });
      const spec = claims.latest.get(name)?.spec as { volumeName?: string } | undefined;
      const volumeName = spec?.volumeName;
      const claimGone = claims.until(`claim ${name} gone`, name, gone);
      claimGone.catch(() => undefined);
      await deleteOrFail(client, `${pvcsPath}/${name}`, `claim ${name}`);
      await claimGone;
      if (volumeName !== undefined) await volumes.until(`volume ${volumeName} gone`, volumeName, gone);
      return latency;
    };

    // Warm-up: one pod of each kind, not counted.
    await runPod('warm-volume', 'bench-local');
    await runPod('warm-plain', undefined);
    await runPodWithNewClaim('warm-wffc', 'bench-hostpath-wffc');
    await runPodWithNewClaim('warm-immediate', 'bench-hostpath-immediate');
    await runPodWithNewClaim('warm-bound', 'bench-hostpath-immediate', true);
    deleteGone.length = 0;

    const stopMonitor = monitorLoad(server.pid);
    const withVolume: number[] = [];
    const withoutVolume: number[] = [];
    const wffc: number[] = [];
    const immediate: number[] = [];
    const boundFirst: number[] = [];
    for (let i = 0; i < count; i++) {
      const n = String(i).padStart(2, '0');
      withVolume.push(await runPod(`local-${n}`, 'bench-local'));
      withoutVolume.push(await runPod(`plain-${n}`, undefined));
    }
    for (let i = 0; i < count; i++) {
      const n = String(i).padStart(2, '0');
      wffc.push(await runPodWithNewClaim(`wffc-${n}`, 'bench-hostpath-wffc'));
      immediate.push(await runPodWithNewClaim(`immediate-${n}`, 'bench-hostpath-immediate'));
      boundFirst.push(await runPodWithNewClaim(`bound-${n}`, 'bench-hostpath-immediate', true));
    }
    const load = stopMonitor();

    // Clean up what is left: the local claim, its PV and the classes; then the node's mounts must be gone.
    const localGone = claims.until('claim bench-local gone', 'bench-local', gone);
    localGone.catch(() => undefined);
    await deleteOrFail(client, `${pvcsPath}/bench-local`, 'claim bench-local');
    await localGone;
    const pvGone = volumes.until('volume bench-local-pv gone', 'bench-local-pv', gone);
    pvGone.catch(() => undefined);
    await deleteOrFail(client, '/api/v1/persistentvolumes/bench-local-pv', 'volume bench-local-pv');
    await pvGone;
    for (const sc of ['bench-local', 'bench-hostpath-wffc', 'bench-hostpath-immediate']) await deleteOrFail(client, `${scPath}/${sc}`, `StorageClass ${sc}`);
    if (pods.latest.size > 0) throw new PodsWaitError('every pod gone', 0, [...pods.latest.keys()].join(', '));
    const left = await mountsUnder(server.dataDir);
    if (left.length > 0) throw new PodsLeftoverMountsError(left);

    const w = summarize(withVolume);
    const wo = summarize(withoutVolume);
    const f = summarize(wffc);
    const im = summarize(immediate);
    const bf = summarize(boundFirst);
    return {
      node,
      count,
      withVolume: w,
      withoutVolume: wo,
      volumeRatio: w.p50 / wo.p50,
      wffc: f,
      immediate: im,
      immediateBoundFirst: bf,
      wffcAddedP50Ms: f.p50 - bf.p50,
      wffcVsImmediateAtOnceP50Ms: f.p50 - im.p50,
      deleteGone: summarize(deleteGone),
      load,
    };
  } finally {
    abort.abort();
    await Promise.allSettled(streams);
    client.close();
    watchClient.close();
  }
}

/** benchPods in a server of its own, started with its node; stopping it fails if mounts are left under its data dir. */
export async function benchPodsFresh(options: PodsOptions = {}): Promise<PodsResult> {
  return withServerProcess({ node: true }, (server) => benchPods(server, options));
}

if (import.meta.main) {
  const count = Number(process.env.BENCH_PODS_COUNT ?? '');
  const r = await benchPodsFresh(Number.isInteger(count) && count > 0 ? { count } : {});
  const f = (s: Summary): string => `p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms`;
  console.log(
    `node ${r.node}, ${r.count} pods per kind, create → Running and Ready:\n` +
      `  pre-bound local PV: ${f(r.withVolume)}\n` +
      `  no volume:          ${f(r.withoutVolume)}   (ratio of p50s ${r.volumeRatio.toFixed(2)})\n` +
      `  new claim, WFFC:      ${f(r.wffc)}\n` +
      `  new claim, Immediate, pod at once:     ${f(r.immediate)}   (WFFC − this: ${r.wffcVsImmediateAtOnceP50Ms.toFixed(1)} ms at p50)\n` +
      `  new claim, Immediate, pod after Bound: ${f(r.immediateBoundFirst)}   (WFFC adds ${r.wffcAddedP50Ms.toFixed(1)} ms at p50)\n` +
      `  delete (grace 0) → gone: ${f(r.deleteGone)}; server CPU ${(r.load.serverCores * 100).toFixed(0)} % of a core`,
  );
}
