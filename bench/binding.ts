// Static binding at scale: N PersistentVolumes (hostPath, 1Gi, class
// `bench-N`) and then N claims of that class, all created as fast as the API
// takes them (64 requests in flight), and the PV controller left to pair
// them. Each claim's latency runs from the moment its create returned to the
// moment a watch on the namespace saw it `Bound`; binds/s is N over the time
// from the first claim create to the last Bound.
//
// The claims are created only once every volume is `Available`: the
// controller matches a claim against the volumes it already counts as
// Available, so a claim that arrives before its volume is ready waits for the
// next periodic resync (15 s) and the figure would measure that period, not
// binding. The time to make N volumes Available is reported separately.
// Then the claims wait until the server is quiet (under 20 % of a core for
// half a second): with 100,000 volumes it is still working off that phase
// for a while, and the claims would measure that backlog, not binding.
//
// Each N runs in a fresh server (fresh data directory) so that neither the
// store nor the controller's caches carry objects of another size; the
// server's RSS is read when the last claim is Bound.
//
// The latency variant (`claimRate`) creates the claims open-loop at a fixed
// rate below the bind rate (200/s by default in the suite) instead of all at
// once: with every claim created up front, create→Bound mostly measures the
// claim's place in the queue (p99 ≈ N / binds/s); at a rate the controller
// keeps up with, it measures one bind. Claims whose create is late count from
// when it returned, as in the throughput variant; `createLagMs` says how far
// the generator itself fell behind. The latency variant starts with a
// warm-up: `warmupClaims` more volumes are created, and as many claims named
// `warmup-…` are created at the same rate and bound before the measured
// claims start. The first claims of a fresh server pay for compiling the
// claim and bind write paths: the first ten took 30–45 ms against 4 ms after,
// with 1,000 volumes and with 100,000 alike, which made the p99 of 1,000
// claims the cost of a cold start rather than of one bind. Their latency is
// reported on its own (`warmup`), not mixed into `latency`.
//
// Run alone: node bench/binding.ts [--rate=R] [--claims=M] [N ...]   (default 1000 10000, or the
// comma-separated BENCH_BINDING_SIZES, the knob bench/run.ts reads too:
// BENCH_BINDING_SIZES=1000,100000 node bench/binding.ts runs the 100k case).
// Before a size above 10,000 it prints what that size is estimated to take.

import { forEachConcurrent } from './concurrent.ts';
import { openLoop } from './open-loop.ts';
import { BenchRequestError, ensureNamespace, persistentVolume, persistentVolumeClaim } from './fixtures.ts';
import { monitorLoad, waitForQuietServer, type LoadReport } from './load-monitor.ts';
import { readRss, type Rss } from './rss.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';
import { nowMs, summarize, type Summary } from './stats.ts';
import { watchFromNow } from './watch-stream.ts';

export interface BindingOptions {
  /** Volumes and claims to create (N). */
  count: number;
  /** Creates in flight (default 64). */
  concurrency?: number;
  namespace?: string;
  /** Give up when a phase makes no progress for this long (default 60 s). */
  stallMs?: number;
  /** Give up at this moment (monotonic ms, as nowMs()), progress or not: keeps a suite within its time budget. */
  deadline?: number;
  /**
   * Create the claims at this fixed rate (per second, open loop) instead of `concurrency`
   * at a time as fast as the API takes them: the latency variant.
   */
  claimRate?: number;
  /**
   * Claims to create (default `count`). Fewer claims than volumes measures
   * binding against a large index: with `claimRate`, the latency of one bind
   * when `count` volumes are there to choose from.
   */
  claims?: number;
  /**
   * Latency variant: claims created and bound before the measured ones, at the same rate,
   * against as many extra volumes (default 50; 0 for none). Ignored without `claimRate`.
   */
  warmupClaims?: number;
}

export interface BindingResult {
  count: number;
  /** Claims created and bound (≤ count). */
  claims: number;
  /** Creates per second while creating the volumes. */
  pvCreateRate: number;
  /** From the first volume create until every volume was seen Available, s. */
  pvAvailableSeconds: number;
  /** Then the wait until the server was quiet (under 20 % of a core for 0.5 s) before the first claim, ms. */
  settleMs: number;
  /** Creates per second while creating the claims. */
  pvcCreateRate: number;
  /** The fixed rate claims were created at (the latency variant), else undefined. */
  claimRate: number | undefined;
  /** Latency variant: the largest lag of a claim create behind its scheduled time, ms (0 otherwise). */
  createLagMs: number;
  /** From the first claim create until the last claim was seen Bound, s. */
  bindSeconds: number;
  bindsPerSecond: number;
  /** Claim create returned → claim seen Bound, ms. */
  latency: Summary;
  /** Every claim's create→Bound, ms, in no particular order (to pool runs). */
  latencies: number[];
  /** The same for the warm-up claims (latency variant), else undefined. */
  warmup: Summary | undefined;
  warmupLatencies: number[];
  /** CPU of both processes from the first claim create to the last Bound. */
  load: LoadReport;
  /** Server memory when the last claim was Bound. */
  rss: Rss;
  /** Wall time of the whole run, server start and stop excluded, s. */
  totalSeconds: number;
}

/** A phase stopped making progress. */
export class BindingStalledError extends Error {
  override readonly name = 'BindingStalledError';
  readonly phase: string;
  readonly done: number;
  readonly want: number;
  /** The server's warnings and errors logged by then (its last few), for the report. */
  serverLog = '';
  constructor(phase: string, done: number, want: number, stallMs: number, why: 'stalled' | 'deadline' = 'stalled') {
    super(why === 'stalled' ? `${phase}: stuck at ${done} of ${want} for ${stallMs / 1000} s` : `${phase}: ${done} of ${want} when the time allowed for the run was up`);
    this.phase = phase;
    this.done = done;
    this.want = want;
  }
}

/** The server's last warning and error lines (pino levels 40 and up). */
function serverProblems(server: ServerProcess, max = 8): string {
  const lines = server.output().split('\n').filter((l) => /"level":(40|50|60)\b/.test(l));
  return lines.slice(-max).join('\n');
}

/** Waits until `progress()` reaches `want`, failing when it stands still for `stallMs` or `deadline` passes. */
async function waitForProgress(phase: string, progress: () => number, want: number, stallMs: number, deadline: number, failed: Promise<never>): Promise<void> {
  let last = -1;
  let lastChange = nowMs();
  for (;;) {
    const done = progress();
    if (done >= want) return;
    if (done !== last) {
      last = done;
      lastChange = nowMs();
    } else if (nowMs() - lastChange > stallMs) {
      throw new BindingStalledError(phase, done, want, stallMs);
    }
    if (nowMs() > deadline) throw new BindingStalledError(phase, done, want, stallMs, 'deadline');
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 50)), failed]);
  }
}

export async function benchBinding(server: ServerProcess, options: BindingOptions): Promise<BindingResult> {
  const n = options.count;
  const m = Math.min(options.claims ?? n, n);
  const rate = options.claimRate;
  const w = rate === undefined ? 0 : Math.max(0, Math.floor(options.warmupClaims ?? 50));
  const concurrency = options.concurrency ?? 64;
  const namespace = options.namespace ?? 'bench-binding';
  const stallMs = options.stallMs ?? 60_000;
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const className = `bench-${n}`;
  const pad = String(n + w - 1).length;
  const name = (i: number): string => String(i).padStart(pad, '0');
  const pvcCollection = `/api/v1/namespaces/${namespace}/persistentvolumeclaims`;

  const client = server.client({ maxSockets: concurrency });
  const watchClient = server.client({ maxSockets: 4 });
  const abort = new AbortController();
  const streams: Promise<void>[] = [];
  const t0 = nowMs();
  try {
    await ensureNamespace(client, namespace);

    // Volumes, and a watch that notes each one becoming Available.
    const available = new Set<string>();
    const pvWatchAbort = new AbortController();
    const pvWatch = await watchFromNow(
      watchClient,
      '/api/v1/persistentvolumes',
      (e) => {
        if (e.object.status?.phase === 'Available' && e.object.metadata.name !== undefined) available.add(e.object.metadata.name);
      },
      AbortSignal.any([abort.signal, pvWatchAbort.signal]),
    );
    streams.push(pvWatch.done);
    const pvStart = nowMs();
    await Promise.race([
      forEachConcurrent(n + w, concurrency, async (i) => {
        try {
          await client.create('/api/v1/persistentvolumes', persistentVolume(`pv-${className}-${name(i)}`, className));
        } catch (err) {
          throw new BenchRequestError('creating', `volume ${i}`, err);
        }
      }),
      pvWatch.failed,
    ]);
    const pvCreateRate = (n + w) / ((nowMs() - pvStart) / 1000);
    await waitForProgress('volumes becoming Available', () => available.size, n + w, stallMs, deadline, pvWatch.failed);
    const pvAvailableSeconds = (nowMs() - pvStart) / 1000;
    pvWatchAbort.abort();
    // Every volume is Available, but the server may still be working off that phase (the controller's
    // syncs of N volume updates, the informers' backlog): the claims start once it has settled.
    const settleMs = await waitForQuietServer(server.pid);

    // Claims, and a watch that notes each one becoming Bound.
    const createdAt = new Map<string, number>();
    let warmingUp = w > 0;
    const boundAt = new Map<string, number>();
    const pvcWatch = await watchFromNow(
      watchClient,
      pvcCollection,
      (e) => {
        const claim = e.object.metadata.name;
        if (e.object.status?.phase !== 'Bound' || claim === undefined || boundAt.has(claim)) return;
        // A warm-up claim's late event after the warm-up must not count as a measured claim.
        if (!warmingUp && claim.startsWith('warmup-')) return;
        boundAt.set(claim, nowMs());
      },
      abort.signal,
    );
    streams.push(pvcWatch.done);
    const claimCreator =
      (prefix: string) =>
      async (i: number): Promise<void> => {
        const claim = `${prefix}-${name(i)}`;
        try {
          await client.create(pvcCollection, persistentVolumeClaim(claim, className));
        } catch (err) {
          throw new BenchRequestError('creating', `claim ${claim}`, err);
        }
        createdAt.set(claim, nowMs());
      };
    /** Creates `count` claims at `perSecond` (open loop); resolves with the generator's largest lag. */
    const createAtRate = async (count: number, perSecond: number, create: (i: number) => Promise<void>): Promise<number> => {
      // openLoop wants every operation to settle; the first failure is kept and rethrown after.
      let failure: unknown;
      const report = await Promise.race([
        openLoop({ rate: perSecond, durationMs: (count / perSecond) * 1000 }, (i) =>
          create(i).catch((err: unknown) => {
            failure ??= err;
          }),
        ),
        pvcWatch.failed,
      ]);
      if (failure !== undefined) throw failure;
      return report.maxStartLagMs;
    };
    let warmup: Summary | undefined;
    let warmupLatencies: number[] = [];
    if (rate !== undefined && w > 0) {
      await createAtRate(w, rate, claimCreator('warmup'));
      await waitForProgress('warm-up claims becoming Bound', () => boundAt.size, w, stallMs, deadline, pvcWatch.failed);
      warmingUp = false;
      warmupLatencies = takeLatencies(createdAt, boundAt);
      warmup = summarize(warmupLatencies);
    }

    const stopMonitor = monitorLoad(server.pid);
    const pvcStart = nowMs();
    const createClaim = claimCreator('pvc');
    let createLagMs = 0;
    if (rate === undefined) {
      await Promise.race([forEachConcurrent(m, concurrency, createClaim), pvcWatch.failed]);
    } else {
      createLagMs = await createAtRate(m, rate, createClaim);
    }
    const pvcCreateRate = m / ((nowMs() - pvcStart) / 1000);
    await waitForProgress('claims becoming Bound', () => boundAt.size, m, stallMs, deadline, pvcWatch.failed);
    // A loop, not Math.max(...values): 100,000 arguments can overflow the stack.
    let lastBound = 0;
    for (const t of boundAt.values()) lastBound = Math.max(lastBound, t);
    const load = stopMonitor();
    const rss = readRss(server.pid);

    const latencies = takeLatencies(createdAt, boundAt);
    const bindSeconds = (lastBound - pvcStart) / 1000;
    return {
      count: n,
      claims: m,
      pvCreateRate,
      pvAvailableSeconds,
      settleMs,
      pvcCreateRate,
      claimRate: rate,
      createLagMs,
      bindSeconds,
      bindsPerSecond: m / bindSeconds,
      latency: summarize(latencies),
      latencies,
      warmup,
      warmupLatencies,
      load,
      rss,
      totalSeconds: (nowMs() - t0) / 1000,
    };
  } catch (err) {
    // Whatever went wrong, what the server complained about says why; the first line stays the summary.
    const problems = serverProblems(server);
    if (err instanceof BindingStalledError) err.serverLog = problems;
    if (err instanceof Error && problems !== '') err.message += `\nlast server warnings and errors:\n${problems}`;
    throw err;
  } finally {
    abort.abort();
    await Promise.allSettled(streams);
    client.close();
    watchClient.close();
  }
}

/**
 * Create→Bound of every claim in `createdAt`, in ms; both maps are then cleared, so
 * the warm-up's claims are not counted again.
 */
function takeLatencies(createdAt: Map<string, number>, boundAt: Map<string, number>): number[] {
  // A Bound seen before the create's answer arrived (possible, not likely) counts as 0 ms.
  const latencies = [...createdAt].map(([claim, created]) => Math.max(0, (boundAt.get(claim) ?? Number.NaN) - created));
  createdAt.clear();
  boundAt.clear();
  return latencies;
}

/**
 * Runs pooled into one result: latency (and warm-up) percentiles over every
 * claim of every run, binds/s their mean, the largest RSS, the others' sums
 * or worst cases as in one run.
 */
export function poolBindingRuns(runs: readonly BindingResult[]): BindingResult {
  const first = runs[0];
  if (first === undefined) throw new RangeError('no runs to pool');
  const latencies = runs.flatMap((r) => r.latencies);
  const warmupLatencies = runs.flatMap((r) => r.warmupLatencies);
  const mean = (f: (r: BindingResult) => number): number => runs.reduce((sum, r) => sum + f(r), 0) / runs.length;
  return {
    ...first,
    claims: runs.reduce((sum, r) => sum + r.claims, 0),
    createLagMs: Math.max(...runs.map((r) => r.createLagMs)),
    bindsPerSecond: mean((r) => r.bindsPerSecond),
    latency: summarize(latencies),
    latencies,
    warmup: warmupLatencies.length === 0 ? undefined : summarize(warmupLatencies),
    warmupLatencies,
    rss: runs.reduce((m, r) => (r.rss.rssMB > m.rss.rssMB ? r : m), first).rss,
    totalSeconds: runs.reduce((sum, r) => sum + r.totalSeconds, 0),
  };
}

/** benchBinding in a server of its own, started for this N and stopped after. */
export async function benchBindingFresh(options: BindingOptions): Promise<BindingResult> {
  const server = await startServerProcess();
  try {
    return await benchBinding(server, options);
  } finally {
    await server.stop();
  }
}

/**
 * Seconds a run of `count` would take, extrapolated linearly from `measured`
 * (plus a few seconds to start and stop a server). Binding is not quite
 * linear — caches and the store grow — so treat it as a lower bound.
 */
export function estimateBindingSeconds(measured: BindingResult, count: number): number {
  return (measured.totalSeconds / measured.count) * count + 5;
}

/** `--rate=R` on the command line: the latency variant at R claims/s. */
function rateFromArgs(): number | undefined {
  const arg = process.argv.slice(2).find((a) => a.startsWith('--rate='));
  if (arg === undefined) return undefined;
  const rate = Number(arg.slice('--rate='.length));
  if (!(rate > 0)) throw new Error(`--rate must be a positive number, got ${JSON.stringify(arg)}`);
  return rate;
}

/** `--claims=M` on the command line: M claims against each size's N volumes. */
function claimsFromArgs(): number | undefined {
  const arg = process.argv.slice(2).find((a) => a.startsWith('--claims='));
  if (arg === undefined) return undefined;
  const claims = Number(arg.slice('--claims='.length));
  if (!Number.isInteger(claims) || claims <= 0) throw new Error(`--claims must be a positive whole number, got ${JSON.stringify(arg)}`);
  return claims;
}

/** Sizes from the command line, else from BENCH_BINDING_SIZES, else 1,000 and 10,000. */
function sizesToRun(): number[] {
  const parse = (values: string[]): number[] => values.map(Number).filter((v) => Number.isInteger(v) && v > 0);
  const fromArgs = parse(process.argv.slice(2).filter((a) => !a.startsWith('--')));
  if (fromArgs.length > 0) return fromArgs;
  const fromEnv = parse((process.env.BENCH_BINDING_SIZES ?? '').split(','));
  return fromEnv.length > 0 ? fromEnv : [1_000, 10_000];
}

if (import.meta.main) {
  let largestRun: BindingResult | undefined;
  const claimRate = rateFromArgs();
  const claims = claimsFromArgs();
  for (const count of sizesToRun()) {
    if (largestRun !== undefined && count > 10_000) {
      console.log(`N=${count}: estimated at least ${(estimateBindingSeconds(largestRun, count) / 60).toFixed(1)} min from the N=${largestRun.count} run`);
    }
    const r = await benchBindingFresh({ count, claimRate, ...(claims === undefined ? {} : { claims }) }).catch((err: unknown) => {
      if (err instanceof Error) console.error(err.message);
      throw err;
    });
    console.log(
      `N=${r.count}${r.claims === r.count ? '' : ` (${r.claims} claims)`}: volumes created at ${Math.round(r.pvCreateRate)}/s, all Available after ${r.pvAvailableSeconds.toFixed(1)} s, server quiet ${(r.settleMs / 1000).toFixed(1)} s later; ` +
        `claims created at ${Math.round(r.pvcCreateRate)}/s${r.claimRate === undefined ? '' : ` (open loop at ${r.claimRate}/s, generator lag up to ${r.createLagMs.toFixed(0)} ms)`}; ` +
        `${Math.round(r.bindsPerSecond)} binds/s (${r.bindSeconds.toFixed(1)} s); ` +
        `create→Bound p50 ${r.latency.p50.toFixed(0)} ms, p99 ${r.latency.p99.toFixed(0)} ms; ` +
        (r.warmup === undefined ? '' : `(after ${r.warmup.count} warm-up claims: p50 ${r.warmup.p50.toFixed(0)} ms, p99 ${r.warmup.p99.toFixed(0)} ms); `) +
        `server RSS ${r.rss.rssMB.toFixed(0)} MB, server CPU ${(r.load.serverCores * 100).toFixed(0)} % ` +
        `(${((r.load.serverCores * r.bindSeconds * 1000) / r.claims).toFixed(2)} ms of CPU per bind), waiting for a CPU ${(r.load.serverRunQueueShare * 100).toFixed(0)} % of the time; total ${r.totalSeconds.toFixed(0)} s`,
    );
    if (largestRun === undefined || r.count > largestRun.count) largestRun = r;
  }
}
