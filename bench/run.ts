// The benchmark suite: runs every benchmark in turn against one volplane
// server started as its own process, prints a summary and writes
// docs/benchmarks.md. Targets are reported, never asserted — the run fails
// (exit 1) only when a benchmark could not run at all.
//
// The two latency benchmarks run three rounds each and are judged on the
// median round: on a machine shared with other work one stall of another
// process (or of the disk) can decide a single round's p99, and the table
// shows all three rounds so such a round stays visible.
//
// Order matters: the store benchmark runs before the server starts (it needs
// the disk and a core to itself); idle RSS is taken before any load; the
// RSS "after" figure is taken after create, LIST and watch, with 10,000 PVs
// in the watch cache. Apply and event recording then run on the same server;
// provisioning and each size of the binding benchmark get a fresh server of
// their own (their figures depend on what the controllers hold), and so do
// pod start-up and the CSI end-to-end run, whose servers also run the
// in-process node (and with it volplane's CSI driver and sidecars).
//
// The suite should finish in about eight minutes on a 2-core machine. The
// binding benchmark runs 1,000 and 10,000 claims, estimates the larger sizes
// from the 10,000 run, and runs the largest of 100,000 / 50,000 / 20,000 that
// fits what is left of BENCH_TIME_BUDGET_S (default 480 s); the doc says
// which ran and what the others would take. BENCH_BINDING_SIZES=1000,100000
// runs exactly the sizes given, whatever they take. A latency variant then
// creates 2,000 claims at 200/s (below the bind rate), about 15 s more.
//
// Run: npm run bench   (or node bench/run.ts)

import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchApiCreate, type ApiCreateResult } from './api-create.ts';
import { benchApply, type ApplyResult } from './apply.ts';
import { benchBindingFresh, estimateBindingSeconds, poolBindingRuns, type BindingResult } from './binding.ts';
import { benchCsiDriver, CSI_STEPS, type CsiDriverResult, type CsiKindResult } from './csi-driver.ts';
import { benchCsiE2eFresh, type CsiE2eResult } from './csi-e2e.ts';
import { fsyncLatency } from './disk.ts';
import { benchEvents, type EventRun, type EventsResult } from './events.ts';
import { describeError } from './fixtures.ts';
import { benchFlexVolume, type FlexVolumeResult } from './flexvolume.ts';
import type { LoadReport } from './load-monitor.ts';
import { benchList, type ListResult } from './list.ts';
import { benchPodsFresh, type PodsResult } from './pods.ts';
import { benchProvisioningFresh, type ProvisioningResult } from './provisioning.ts';
import { idleRss, readRss, type Rss } from './rss.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';
import { nowMs, percentile, type Summary } from './stats.ts';
import { benchStore } from './store.ts';
import { benchWatch, type WatchResult } from './watch.ts';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const DOC = join(REPO, 'docs', 'benchmarks.md');
const STEP_TIMEOUT_MS = 120_000;
const ROUNDS = 3;
const SUITE_BUDGET_S = Number(process.env.BENCH_TIME_BUDGET_S ?? 480);
/** Binding sizes always run, then the largest of the optional ones that fits the budget. */
const BINDING_SIZES = [1_000, 10_000] as const;
const BINDING_LARGE_SIZES = [100_000, 50_000, 20_000] as const;
/** The binding latency variant: claims created open-loop at a rate below the bind rate, so p99 is one bind, not a queue. */
const BINDING_LATENCY = { count: 2_000, claimRate: 200 } as const;
/**
 * The growth target: the same 1,000 claims, created at 200/s, bound against 1,000 and then 100,000 volumes — the p99 of
 * one bind as the index grows (with all N claims created at once, p99 is the queue, ≈ N / binds/s, and grows with N).
 */
const BINDING_INDEX = { claims: 1_000, claimRate: 200, sizes: [1_000, 100_000], repeats: 3 } as const;

const TARGET = {
  storeWriters16: 3_600,
  createP99Ms: 20,
  listP50Ms: 300,
  watchP99Ms: 50,
  rssMB: 150,
  bindsPerSecond: 500,
  /** p99 create→Bound at the largest N within this factor of p99 at N = 1,000. */
  bindP99Growth: 2,
  provisionSeconds: 5,
  podStartP50Ms: 150,
  /** p50 with a pre-bound local PV over p50 without volumes. */
  podVolumeRatio: 1.2,
  wffcAddedP50Ms: 100,
  /** Median of a directory-backed CSI volume's whole lifecycle (create → stage → publish → unpublish → unstage → delete). */
  csiDirectoryLifecycleP50Ms: 24,
  /** Loop-backed ext4 CSI volumes provisioned to Bound per second (500 in ≤ 30 s). */
  csiLoopVolumesPerSecond: 20,
} as const;

/** A benchmark's value, or why it has none. */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

interface Report {
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; date: string; loadAverage: number; cpuPressure: number | undefined };
  fsync: Outcome<Summary>;
  store: Outcome<{ writers1: number; writers16: number }>;
  idleRss: Outcome<Rss>;
  create: Outcome<ApiCreateResult[]>;
  list: Outcome<ListResult>;
  watch: Outcome<WatchResult[]>;
  finalRss: Outcome<Rss>;
  apply: Outcome<ApplyResult>;
  events: Outcome<EventsResult>;
  provisioning: Outcome<ProvisioningResult>;
  pods: Outcome<PodsResult>;
  binding: BindingReport;
  csiDriver: Outcome<CsiDriverResult>;
  csiE2e: Outcome<CsiE2eResult>;
  flexVolume: Outcome<FlexVolumeResult>;
}

interface BindingReport {
  runs: { count: number; outcome: Outcome<BindingResult> }[];
  /** Sizes left out to keep the suite within its time budget, with what they were estimated to take. */
  skipped: { count: number; estimateSeconds: number }[];
  /** Seconds of the suite's budget that were left when the large size was chosen (undefined with BENCH_BINDING_SIZES). */
  budgetLeftSeconds: number | undefined;
  /** The latency variant (BINDING_LATENCY), run after the sizes. */
  latency: Outcome<BindingResult>;
  /** BINDING_INDEX: the same claims at a fixed rate against each number of volumes. */
  index: { count: number; outcome: Outcome<BindingResult> }[];
}

class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
  readonly step: string;
  constructor(step: string, ms: number) {
    super(`${step} did not finish within ${ms / 1000} s`);
    this.step = step;
  }
}

async function step<T>(name: string, fn: () => Promise<T>, timeoutMs = STEP_TIMEOUT_MS): Promise<Outcome<T>> {
  process.stdout.write(`• ${name} … `);
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StepTimeoutError(name, timeoutMs)), timeoutMs);
    });
    const value = await Promise.race([fn(), timeout]);
    console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { ok: true, value };
  } catch (err) {
    console.log(`FAILED: ${describeError(err)}`);
    return { ok: false, error: describeError(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Share of the last minute in which some runnable task waited for a CPU (Linux PSI), or undefined without PSI. */
function cpuPressureAvg60(): number | undefined {
  try {
    const m = /^some .*avg60=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m === null ? undefined : Number(m[1]) / 100;
  } catch {
    return undefined;
  }
}

async function rounds<T>(fn: (round: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let k = 0; k < ROUNDS; k++) out.push(await fn(k));
  return out;
}

/** The middle value (the lower middle for an even count). */
function median(values: readonly number[]): number {
  return percentile(values, 50);
}

const podsLabel = 'pod start-up on the in-process node (fresh server with its node)';
const csiE2eLabel = 'CSI end to end: 500 loop-backed ext4 claims to Bound, then 20 pods each with a new claim (fresh server with its node)';

const notRun: Outcome<never> = { ok: false, error: 'not run: the server did not start' };

/** Sizes from BENCH_BINDING_SIZES, or undefined to use the budgeted default. */
function bindingSizesFromEnv(): number[] | undefined {
  const raw = process.env.BENCH_BINDING_SIZES;
  if (raw === undefined || raw.trim() === '') return undefined;
  const sizes = raw.split(',').map((v) => Number(v.trim()));
  if (sizes.some((v) => !Number.isInteger(v) || v <= 0)) throw new Error(`BENCH_BINDING_SIZES must list positive integers, got ${JSON.stringify(raw)}`);
  return sizes;
}

/** A step timeout for a binding run of `count`: twice the estimate (or 20 ms a claim) and a minute more. */
function bindingTimeoutMs(count: number, estimate: number | undefined): number {
  return Math.max(STEP_TIMEOUT_MS, (estimate ?? count / 50) * 2_000 + 60_000);
}

async function runBinding(suiteStart: number): Promise<BindingReport> {
  const sizes = await runBindingSizes(suiteStart);
  const { count, claimRate } = BINDING_LATENCY;
  const latency = await step(
    `binding latency: ${int(count)} claims created at ${claimRate}/s to ${int(count)} volumes (fresh server)`,
    () => benchBindingFresh({ count, claimRate, deadline: nowMs() + STEP_TIMEOUT_MS - 15_000 }),
    STEP_TIMEOUT_MS,
  );
  const index: BindingReport['index'] = [];
  if (process.env.BENCH_BINDING_INDEX !== '0') {
    for (const count of BINDING_INDEX.sizes) {
      const timeoutMs = bindingTimeoutMs(count, undefined);
      const outcome = await step(
        `binding against a growing index: ${int(BINDING_INDEX.claims)} claims at ${BINDING_INDEX.claimRate}/s to ${int(count)} volumes, ${BINDING_INDEX.repeats} times (a fresh server each)`,
        async () => {
          const deadline = nowMs() + timeoutMs * BINDING_INDEX.repeats - 15_000;
          const runs: BindingResult[] = [];
          for (let i = 0; i < BINDING_INDEX.repeats; i++) {
            runs.push(await benchBindingFresh({ count, claims: BINDING_INDEX.claims, claimRate: BINDING_INDEX.claimRate, deadline }));
          }
          return poolBindingRuns(runs);
        },
        timeoutMs * BINDING_INDEX.repeats,
      );
      index.push({ count, outcome });
    }
  }
  return { ...sizes, latency, index };
}

async function runBindingSizes(suiteStart: number): Promise<Omit<BindingReport, 'latency' | 'index'>> {
  const runs: BindingReport['runs'] = [];
  const runOne = async (count: number, estimate?: number, capMs = Number.POSITIVE_INFINITY): Promise<Outcome<BindingResult>> => {
    const label = `static binding of ${int(count)} claims to ${int(count)} volumes (fresh server)${estimate === undefined ? '' : `, estimated ${estimate.toFixed(0)} s`}`;
    const timeoutMs = Math.min(bindingTimeoutMs(count, estimate), capMs);
    // The run gives up on its own a little before the step's timeout, so its server is stopped before the suite moves on.
    const outcome = await step(label, () => benchBindingFresh({ count, deadline: nowMs() + timeoutMs - 15_000 }), timeoutMs);
    runs.push({ count, outcome });
    return outcome;
  };
  const explicit = bindingSizesFromEnv();
  if (explicit !== undefined) {
    let last: BindingResult | undefined;
    for (const count of explicit) {
      const o = await runOne(count, last === undefined ? undefined : estimateBindingSeconds(last, count));
      if (o.ok) last = o.value;
    }
    return { runs, skipped: [], budgetLeftSeconds: undefined };
  }
  let base: BindingResult | undefined;
  for (const count of BINDING_SIZES) {
    const o = await runOne(count);
    if (o.ok) base = o.value;
  }
  const left = SUITE_BUDGET_S - (performance.now() - suiteStart) / 1000;
  const skipped: BindingReport['skipped'] = [];
  if (base === undefined) return { runs, skipped, budgetLeftSeconds: left };
  const measured = base;
  const fits = BINDING_LARGE_SIZES.find((count) => estimateBindingSeconds(measured, count) <= left);
  for (const count of BINDING_LARGE_SIZES) {
    if (count === fits) break;
    skipped.push({ count, estimateSeconds: estimateBindingSeconds(measured, count) });
  }
  if (fits === undefined) {
    console.log(`• larger binding sizes skipped: ${skipped.map((s) => `${int(s.count)} ≈ ${s.estimateSeconds.toFixed(0)} s`).join(', ')}; ${left.toFixed(0)} s of the budget left`);
  } else {
    // At most a minute past the budget: a run slower than its estimate fails instead of doubling the suite.
    await runOne(fits, estimateBindingSeconds(measured, fits), (left + 60) * 1000);
  }
  return { runs, skipped, budgetLeftSeconds: left };
}

async function runAll(suiteStart: number): Promise<Report> {
  const machine = {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    // Other work on the machine moves the latency figures; the 1-minute load at the start says how much there was.
    loadAverage: loadavg()[0] ?? 0,
    cpuPressure: cpuPressureAvg60(),
  };
  const fsync = await step('fdatasync latency of the data disk', async () => fsyncLatency());
  const store = await step('durable store writes/s (1 and 16 writers)', benchStore);
  // Before any server starts: the driver's steps are short and spawn mount/losetup/mkfs, so they want a quiet machine.
  const csiDriver = await step('CSI driver volume lifecycle over its unix socket (100 directory, 20 ext4 loop volumes)', () => benchCsiDriver());
  // Likewise quiet-machine work: every driver call is a shell process spawning losetup/mount.
  const flexVolume = await step('FlexVolume mount and unmount with the example loop driver (20 ext4 volumes)', () => benchFlexVolume());

  let server: ServerProcess | undefined;
  const stopOnSignal = (): void => {
    void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const started = await step('start the server', startServerProcess);
    if (!started.ok) {
      const provisioning = await step('provisioning of 500 hostpath claims (fresh server)', () => benchProvisioningFresh());
      const pods = await step(podsLabel, () => benchPodsFresh());
      const csiE2e = await step(csiE2eLabel, () => benchCsiE2eFresh());
      const binding = await runBinding(suiteStart);
      return { machine, fsync, store, idleRss: started, create: notRun, list: notRun, watch: notRun, finalRss: notRun, apply: notRun, events: notRun, provisioning, pods, binding, csiDriver, csiE2e, flexVolume };
    }
    server = started.value;
    const srv = server;
    const idle = await step('idle RSS (3 s after start)', () => idleRss(srv.pid, 3_000));
    const create = await step(`API create latency at 200 writes/s, ${ROUNDS} rounds`, () =>
      rounds((k) => benchApiCreate(srv, { namespace: `bench-create-${k}` })),
    );
    const list = await step('LIST of 10,000 PVs', () => benchList(srv));
    const watch = await step(`watch delivery to 10 watchers at 1,000 events/s, ${ROUNDS} rounds`, () =>
      rounds((k) => benchWatch(srv, { namespace: `bench-watch-${k}` })),
    );
    const finalRss = await step('RSS after the benchmarks', async () => readRss(srv.pid));
    const apply = await step('server-side apply and strategic-merge patch of a 50-object manifest', () => benchApply(srv));
    const events = await step('event recording (10,000 identical, 5,000 distinct)', () => benchEvents(srv));
    await server.stop();
    server = undefined;
    const provisioning = await step('provisioning of 500 hostpath claims (fresh server)', () => benchProvisioningFresh());
    const pods = await step(podsLabel, () => benchPodsFresh());
    const csiE2e = await step(csiE2eLabel, () => benchCsiE2eFresh());
    const binding = await runBinding(suiteStart);
    return { machine, fsync, store, idleRss: idle, create, list, watch, finalRss, apply, events, provisioning, pods, binding, csiDriver, csiE2e, flexVolume };
  } finally {
    await server?.stop();
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }
}

interface Row {
  measurement: string;
  result: string;
  target: string;
  met: string;
}

const ms = (v: number): string => `${v.toFixed(1)} ms`;
const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const mb = (v: number): string => `${v.toFixed(0)} MB`;
const yes = (b: boolean): string => (b ? 'yes' : '**no**');
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
const errorsText = (n: number, what: string): string => (n > 0 ? ` (${int(n)} ${what})` : '');
/** "**7.6 ms** (rounds 7.6 / 48.8 / 5.4)": the median round first, then every round in order. */
const perRound = (values: readonly number[]): string =>
  `**${ms(median(values))}** (rounds ${values.map((v) => v.toFixed(1)).join(' / ')})`;

function rows(r: Report): Row[] {
  const out: Row[] = [];
  const add = <T>(o: Outcome<T>, measurement: string, target: string, show: (v: T) => string, met?: (v: T) => boolean): void => {
    if (!o.ok) out.push({ measurement, result: `failed: ${o.error.split('\n')[0]}`, target, met: target === '—' ? '—' : '**no**' });
    else out.push({ measurement, result: show(o.value), target, met: met === undefined ? '—' : yes(met(o.value)) });
  };
  add(r.store, 'durable store writes/s, 1 writer', '—', (v) => int(v.writers1));
  add(r.store, 'durable store writes/s, 16 writers', `≥ ${int(TARGET.storeWriters16)}`, (v) => int(v.writers16), (v) => v.writers16 >= TARGET.storeWriters16);
  add(r.create, 'API create p50 at 200 writes/s', '—', (v) => perRound(v.map((c) => c.latency.p50)));
  add(r.create, 'API create p99 at 200 writes/s', `≤ ${TARGET.createP99Ms} ms`, (v) => `${perRound(v.map((c) => c.latency.p99))}${errorsText(sum(v.map((c) => c.errors)), 'errors')}`, (v) => median(v.map((c) => c.latency.p99)) <= TARGET.createP99Ms && v.every((c) => c.errors === 0));
  add(r.list, 'LIST 10,000 PVs as JSON, p50', `≤ ${TARGET.listP50Ms} ms`, (v) => `${ms(v.json.p50)} (${(v.json.bytes / 1e6).toFixed(1)} MB)`, (v) => v.json.p50 <= TARGET.listP50Ms);
  add(r.list, 'LIST 10,000 PVs as Table, p50', `≤ ${TARGET.listP50Ms} ms`, (v) => `${ms(v.table.p50)} (${(v.table.bytes / 1e6).toFixed(1)} MB)`, (v) => v.table.p50 <= TARGET.listP50Ms);
  add(r.watch, 'watch delivery p50, 10 watchers at 1,000 events/s', '—', (v) => perRound(v.map((w) => w.latency.p50)));
  add(r.watch, 'watch delivery p99, 10 watchers at 1,000 events/s', `≤ ${TARGET.watchP99Ms} ms`, (v) => `${perRound(v.map((w) => w.latency.p99))}${errorsText(sum(v.map((w) => w.missed)), 'events missed')}${errorsText(sum(v.map((w) => w.writeErrors)), 'write errors')}`, (v) => median(v.map((w) => w.latency.p99)) <= TARGET.watchP99Ms && v.every((w) => w.missed === 0 && w.writeErrors === 0));
  add(r.idleRss, 'server RSS, idle after start', `≤ ${TARGET.rssMB} MB`, (v) => mb(v.rssMB), (v) => v.rssMB <= TARGET.rssMB);
  add(r.finalRss, 'server RSS after the benchmarks (10,000 PVs held)', `≤ ${TARGET.rssMB} MB`, (v) => `${mb(v.rssMB)} (peak ${mb(v.hwmMB)})`, (v) => v.rssMB <= TARGET.rssMB);
  const p50p99 = (x: Summary): string => `${ms(x.p50)} / ${ms(x.p99)}`;
  const warmupText = (v: BindingResult): string => (v.warmup === undefined ? '' : `; after ${int(v.warmup.count)} warm-up claims at ${p50p99(v.warmup)}`);
  add(r.apply, 'server-side apply, first apply (create), p50 / p99', '—', (v) => `${p50p99(v.ssaCreate)} (${int(v.ssaCreate.count)} requests)${errorsText(v.errors, 'errors')}`);
  add(r.apply, 'server-side apply, re-apply with one field changed, p50 / p99', '—', (v) => `${p50p99(v.ssaUpdate)} (${int(v.ssaUpdate.count)} requests)`);
  add(r.apply, 'strategic-merge patch of one field, p50 / p99', '—', (v) => `${p50p99(v.smp)} (${int(v.smp.count)} requests)`);
  const eventsText = (e: EventRun): string => `${int(e.eventsPerSecond)} events/s; ${int(e.apiWrites)} API writes (${int(e.writesPerSecond)}/s)`;
  add(r.events, 'events: 10,000 identical on one object → 1 Event, count 10,000', '—', (v) => eventsText(v.identical));
  add(r.events, 'events: 5,000 distinct on 500 objects → 5,000 Events', '—', (v) => eventsText(v.distinct));
  for (const { count, outcome } of r.binding.runs) {
    add(
      outcome,
      `static binding, ${int(count)} claims to ${int(count)} PVs: binds/s`,
      `≥ ${int(TARGET.bindsPerSecond)}`,
      (v) => `${int(v.bindsPerSecond)} (create→Bound p50 ${seconds(v.latency.p50)}, p99 ${seconds(v.latency.p99)}; server RSS ${mb(v.rss.rssMB)})`,
      (v) => v.bindsPerSecond >= TARGET.bindsPerSecond,
    );
  }
  add(
    r.binding.latency,
    `binding latency: claims created at ${BINDING_LATENCY.claimRate}/s, create→Bound p50 / p99`,
    '—',
    (v) => `${p50p99(v.latency)} (${int(v.count)} claims, ${int(v.bindsPerSecond)} binds/s${warmupText(v)})`,
  );
  for (const { count, outcome } of r.binding.index) {
    add(outcome, `binding ${int(BINDING_INDEX.claims)} claims created at ${BINDING_INDEX.claimRate}/s against ${int(count)} PVs: create→Bound p50 / p99`, '—', (v) => `${p50p99(v.latency)} (${int(v.bindsPerSecond)} binds/s; server RSS ${mb(v.rss.rssMB)}${warmupText(v)})`);
  }
  const growth = bindingIndexGrowth(r.binding);
  if (growth !== undefined) {
    out.push({
      measurement: `binding: p99 create→Bound with ${int(growth.count)} PVs vs with 1,000 (the same claims at ${BINDING_INDEX.claimRate}/s, ${BINDING_INDEX.repeats} runs each)`,
      result: `${growth.factor.toFixed(1)}× (${ms(growth.p99)} vs ${ms(growth.baseP99)})`,
      target: `≤ ${TARGET.bindP99Growth}× at 100,000`,
      met: yes(growth.count >= 100_000 && growth.factor <= TARGET.bindP99Growth),
    });
  }
  const queueGrowth = bindingGrowth(r.binding);
  if (queueGrowth !== undefined) {
    out.push({
      measurement: `static binding, all claims created at once: p99 create→Bound at ${int(queueGrowth.count)} vs at 1,000 (the queue: ≈ N / binds/s)`,
      result: `${queueGrowth.factor.toFixed(1)}× (${seconds(queueGrowth.p99)} vs ${seconds(queueGrowth.baseP99)})`,
      target: '—',
      met: '—',
    });
  }
  add(r.provisioning, `provisioning: 500 hostpath claims to Bound`, `≤ ${TARGET.provisionSeconds} s`, (v) => `${v.bindSeconds.toFixed(2)} s (create→Bound p50 ${seconds(v.latency.p50)}, p99 ${seconds(v.latency.p99)})`, (v) => v.bindSeconds <= TARGET.provisionSeconds);
  add(r.provisioning, 'provisioning: delete the 500 claims → every PV and directory gone', '—', (v) => `${v.deleteSeconds.toFixed(2)} s`);
  add(r.pods, 'pod with a pre-bound local PV: create → Running and Ready, p50 / p99', `≤ ${TARGET.podStartP50Ms} ms p50`, (v) => `${p50p99(v.withVolume)} (${v.count} pods)`, (v) => v.withVolume.p50 <= TARGET.podStartP50Ms);
  add(r.pods, 'the same pod without volumes, p50 / p99; ratio of p50s with / without', `≤ ${TARGET.podVolumeRatio}×`, (v) => `${p50p99(v.withoutVolume)}; ${v.volumeRatio.toFixed(2)}×`, (v) => v.volumeRatio <= TARGET.podVolumeRatio);
  add(
    r.pods,
    'pod with a new WaitForFirstConsumer hostpath claim vs. Immediate (pod created once Bound): claim create → Running, p50 difference',
    `≤ ${TARGET.wffcAddedP50Ms} ms`,
    (v) => `${ms(v.wffcAddedP50Ms)} (${ms(v.wffc.p50)} vs ${ms(v.immediateBoundFirst.p50)}; Immediate with the pod created at once ${ms(v.immediate.p50)})`,
    (v) => v.wffcAddedP50Ms <= TARGET.wffcAddedP50Ms,
  );
  add(
    r.csiDriver,
    'CSI driver, directory-backed volume: whole lifecycle over the unix socket, p50 / p99',
    `≤ ${TARGET.csiDirectoryLifecycleP50Ms} ms p50`,
    (v) => `${p50p99(v.directory.lifecycle)} (${v.directory.count} volumes)`,
    (v) => v.directory.lifecycle.p50 <= TARGET.csiDirectoryLifecycleP50Ms,
  );
  add(r.csiDriver, 'CSI driver, ext4 loop volume of 16 MiB: whole lifecycle, p50 / p99', '—', (v) => `${p50p99(v.loop.lifecycle)} (${v.loop.count} volumes)`);
  add(
    r.csiE2e,
    'CSI provisioning: 500 loop-backed ext4 claims (Immediate) to Bound through the external provisioner, volumes/s',
    `≥ ${TARGET.csiLoopVolumesPerSecond}/s (500 in ≤ 30 s)`,
    (v) => `${v.volumesPerSecond.toFixed(1)}/s (${int(v.count)} in ${v.bindSeconds.toFixed(2)} s; create→Bound p50 ${seconds(v.bindLatency.p50)}, p99 ${seconds(v.bindLatency.p99)})`,
    (v) => v.volumesPerSecond >= TARGET.csiLoopVolumesPerSecond,
  );
  add(r.csiE2e, 'pod with a new volplane-csi claim (WaitForFirstConsumer, loop ext4): claim create → Running and Ready, p50 / p99', '—', (v) => `${p50p99(v.podStart)} (${v.podStart.count} pods)`);
  add(r.flexVolume, 'FlexVolume mount, volplane/loop ext4 (waitforattach → mountdevice → setUp), p50 / p99', '—', (v) => `${p50p99(v.mount)} (${v.count} volumes)`);
  add(r.flexVolume, 'FlexVolume unmount, volplane/loop ext4 (tearDown → unmountdevice), p50 / p99', '—', (v) => `${p50p99(v.unmount)} (${v.count} volumes)`);
  return out;
}

const seconds = (msValue: number): string => (msValue < 1_000 ? ms(msValue) : `${(msValue / 1000).toFixed(1)} s`);

/** p99 at the largest N measured against p99 at 1,000, when both ran. */
function bindingGrowth(b: BindingReport): { count: number; p99: number; baseP99: number; factor: number } | undefined {
  const ok = b.runs.flatMap((x) => (x.outcome.ok ? [x.outcome.value] : []));
  const base = ok.find((x) => x.count === 1_000);
  const largest = ok.reduce<BindingResult | undefined>((m, x) => (m === undefined || x.count > m.count ? x : m), undefined);
  if (base === undefined || largest === undefined || largest.count === base.count) return undefined;
  return { count: largest.count, p99: largest.latency.p99, baseP99: base.latency.p99, factor: largest.latency.p99 / base.latency.p99 };
}

/** p99 with the largest index against p99 with 1,000 volumes, the same claims at the same rate. */
function bindingIndexGrowth(b: BindingReport): { count: number; p99: number; baseP99: number; factor: number } | undefined {
  const ok = b.index.flatMap((x) => (x.outcome.ok ? [x.outcome.value] : []));
  const base = ok.find((x) => x.count === 1_000);
  const largest = ok.reduce<BindingResult | undefined>((m, x) => (m === undefined || x.count > m.count ? x : m), undefined);
  if (base === undefined || largest === undefined || largest.count === base.count) return undefined;
  return { count: largest.count, p99: largest.latency.p99, baseP99: base.latency.p99, factor: largest.latency.p99 / base.latency.p99 };
}

function table(rs: Row[]): string {
  const lines = ['| measurement | result | target | met |', '|---|---|---|---|'];
  for (const r of rs) lines.push(`| ${r.measurement} | ${r.result.replaceAll('|', '\\|')} | ${r.target} | ${r.met} |`);
  return lines.join('\n');
}

const pct = (share: number): string => `${(share * 100).toFixed(0)} %`;
const loadText = (l: LoadReport): string =>
  `server CPU ${pct(l.serverCores)} of a core, client CPU ${pct(l.clientCores)}, client event-loop delay p99 ${ms(l.clientLoopDelayP99Ms)}; ` +
  `waiting for a CPU: server ${pct(l.serverRunQueueShare)}, client ${pct(l.clientRunQueueShare)} of the time`;

function details(r: Report): string[] {
  const out: string[] = [];
  if (r.create.ok) {
    for (const [k, c] of r.create.value.entries()) out.push(`- API create, round ${k + 1}: ${int(c.sent)} creates, min ${ms(c.latency.min)}, p90 ${ms(c.latency.p90)}, max ${ms(c.latency.max)}, ${c.errors} errors${c.firstError === undefined ? '' : ` (first: ${c.firstError})`}; client lag behind schedule at most ${ms(c.maxStartLagMs)}; ${loadText(c.load)}.`);
  }
  if (r.list.ok) {
    const l = r.list.value;
    out.push(`- LIST: filled at ${int(l.createRate)} creates/s (32 in flight); JSON min ${ms(l.json.min)} max ${ms(l.json.max)}, Table min ${ms(l.table.min)} max ${ms(l.table.max)} over ${l.json.count} runs each.`);
  }
  if (r.watch.ok) {
    for (const [k, w] of r.watch.value.entries()) out.push(`- Watch, round ${k + 1}: ${int(w.writes)} patches, ${int(w.latency.count)} deliveries, p90 ${ms(w.latency.p90)}, max ${ms(w.latency.max)}, ${int(w.missed)} missed, ${w.writeErrors} write errors${w.firstWriteError === undefined ? '' : ` (first: ${w.firstWriteError})`}; writer lag behind schedule at most ${ms(w.maxStartLagMs)}; ${loadText(w.load)}.`);
  }
  if (r.apply.ok) {
    const a = r.apply.value;
    const tail = (x: Summary): string => `p90 ${ms(x.p90)}, max ${ms(x.max)}`;
    out.push(`- Apply: ${a.objects} objects, ${a.rounds} rounds; first apply ${tail(a.ssaCreate)}; re-apply ${tail(a.ssaUpdate)}; strategic-merge patch ${tail(a.smp)}; ${a.errors} errors${a.firstError === undefined ? '' : ` (first: ${a.firstError})`}.`);
  }
  if (r.events.ok) {
    const e = r.events.value;
    const run = (x: EventRun): string => `${int(x.events)} events in ${x.seconds.toFixed(2)} s, ${int(x.apiWrites)} API writes`;
    out.push(`- Events, identical: ${run(e.identical)}; the server holds ${e.identical.serverEvents} Event with count ${int(e.identical.serverCount)}.`);
    out.push(`- Events, identical on the real clock (spam filter on): ${run(e.identicalRealClock)}; the server's Event ends at count ${int(e.identicalRealClock.serverCount)} — the rest were dropped by the filter, as client-go drops them.`);
    out.push(`- Events, distinct: ${run(e.distinct)} (${int(e.distinct.objects)} objects); the server holds ${int(e.distinct.serverEvents)} of them.`);
  }
  for (const { count, outcome } of r.binding.runs) {
    if (!outcome.ok) {
      const [first, ...rest] = outcome.error.split('\n');
      out.push(`- Binding, N = ${int(count)}: **failed** — ${first}.${rest.length === 0 ? '' : `\n\n  \`\`\`\n${rest.map((l) => `  ${l.slice(0, 400)}`).join('\n')}\n  \`\`\`\n`}`);
      continue;
    }
    const b = outcome.value;
    out.push(
      `- Binding, N = ${int(count)}: PVs created at ${int(b.pvCreateRate)}/s, all Available ${b.pvAvailableSeconds.toFixed(1)} s after the first create; ` +
        `claims created at ${int(b.pvcCreateRate)}/s; last claim Bound ${b.bindSeconds.toFixed(1)} s after the first claim create ` +
        `(${ms(1000 / b.bindsPerSecond)} per bind); create→Bound p90 ${seconds(b.latency.p90)}, max ${seconds(b.latency.max)}; ` +
        `server RSS ${mb(b.rss.rssMB)} (peak ${mb(b.rss.hwmMB)}); ${loadText(b.load)}; ${b.totalSeconds.toFixed(0)} s in all.`,
    );
  }
  if (r.binding.latency.ok) {
    const b = r.binding.latency.value;
    out.push(
      `- Binding latency, N = ${int(b.count)} created at ${b.claimRate ?? 0}/s (open loop; the generator fell behind by up to ${ms(b.createLagMs)}): ` +
        `create→Bound p50 ${ms(b.latency.p50)}, p90 ${ms(b.latency.p90)}, p99 ${ms(b.latency.p99)}, max ${ms(b.latency.max)}; ${loadText(b.load)}.`,
    );
  } else {
    out.push(`- Binding latency: **failed** — ${r.binding.latency.error.split('\n')[0]}.`);
  }
  for (const s of r.binding.skipped) {
    out.push(`- Binding, N = ${int(s.count)}: not run — estimated ${(s.estimateSeconds / 60).toFixed(1)} min at the rate of the 10,000 run, more than the ${Math.max(0, r.binding.budgetLeftSeconds ?? 0).toFixed(0)} s left of the suite's ${SUITE_BUDGET_S} s budget (run it with \`BENCH_BINDING_SIZES=1000,${s.count} node bench/run.ts\` or \`node bench/binding.ts ${s.count}\`).`);
  }
  if (r.provisioning.ok) {
    const p = r.provisioning.value;
    out.push(
      `- Provisioning: ${int(p.count)} claims, ${int(p.directories)} directories made; create→Bound p90 ${seconds(p.latency.p90)}, max ${seconds(p.latency.max)}; ` +
        `while provisioning ${loadText(p.provisionLoad)}. Delete: every PV gone after ${p.pvsGoneSeconds.toFixed(2)} s, every directory after ${p.deleteSeconds.toFixed(2)} s; ${loadText(p.deleteLoad)}.`,
    );
  }
  if (r.csiDriver.ok) {
    const stepsText = (k: CsiKindResult): string => CSI_STEPS.map((s) => `${s} ${ms(k.steps[s].p50)} / ${ms(k.steps[s].p99)}`).join(', ');
    out.push(`- CSI driver, directory volumes, p50 / p99 per step: ${stepsText(r.csiDriver.value.directory)}.`);
    out.push(`- CSI driver, ext4 loop volumes, p50 / p99 per step: ${stepsText(r.csiDriver.value.loop)}.`);
  }
  if (r.csiE2e.ok) {
    const c = r.csiE2e.value;
    out.push(
      `- CSI end to end: ${int(c.count)} claims, ${int(c.images)} image files made; create→Bound p90 ${seconds(c.bindLatency.p90)}, max ${seconds(c.bindLatency.max)}; while provisioning ${loadText(c.provisionLoad)}. ` +
        `Delete: every PV and image gone after ${c.deleteSeconds.toFixed(2)} s; ${loadText(c.deleteLoad)}. Pods with a new claim: p90 ${ms(c.podStart.p90)}, max ${ms(c.podStart.max)}; ${loadText(c.podLoad)}.`,
    );
  }
  if (r.flexVolume.ok) {
    const f = r.flexVolume.value;
    const p50p99 = (x: Summary): string => `${ms(x.p50)} / ${ms(x.p99)}`;
  const warmupText = (v: BindingResult): string => (v.warmup === undefined ? '' : `; after ${int(v.warmup.count)} warm-up claims at ${p50p99(v.warmup)}`);
    out.push(`- FlexVolume, volplane/loop, p50 / p99: first mount (mountdevice formats) ${p50p99(f.firstMount)}; attach ${p50p99(f.attach)}; detach ${p50p99(f.detach)}.`);
  }
  if (r.pods.ok) {
    const p = r.pods.value;
    const tail = (x: Summary): string => `p90 ${ms(x.p90)}, max ${ms(x.max)}`;
    out.push(
      `- Pods on node \`${p.node}\`, ${p.count} of each kind: local PV ${tail(p.withVolume)}; no volume ${tail(p.withoutVolume)}; ` +
        `WFFC claim p99 ${ms(p.wffc.p99)}; Immediate claim, pod at once p99 ${ms(p.immediate.p99)}, pod after Bound p99 ${ms(p.immediateBoundFirst.p99)}; ` +
        `delete with grace 0 → gone p50 ${ms(p.deleteGone.p50)}, p99 ${ms(p.deleteGone.p99)}; ${loadText(p.load)}.`,
    );
  }
  return out;
}

function fsyncText(o: Outcome<Summary>): string {
  if (!o.ok) return `fdatasync probe failed (${o.error})`;
  return `a 4 KiB append + fdatasync in the temp directory takes p50 ${ms(o.value.p50)}, p99 ${ms(o.value.p99)}, max ${ms(o.value.max)}`;
}

function markdown(r: Report, totalSeconds: number): string {
  const m = r.machine;
  return `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts) on ${m.date}: ${m.cpus} CPUs (\`nproc\`; ${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB memory, Node ${m.node};
load average ${m.loadAverage.toFixed(1)}${m.cpuPressure === undefined ? '' : ` and CPU pressure ${(m.cpuPressure * 100).toFixed(0)} % (PSI "some", last minute)`} when the run started; ${fsyncText(r.fsync)}.
The server runs as its own process (\`volplane up\`, SQLite store, TLS on 127.0.0.1) and the load comes from another process, so each
has a core; on a machine shared with other work the figures move by tens of percent from run to run. Targets are goals, not test assertions.
The whole run took ${(totalSeconds / 60).toFixed(1)} min.

${table(rows(r))}

## Method

- **Store**: bench/store.ts against the SQLite backend directly — each writer updates its own key, awaiting each durable write, for 2 s.
  With 16 writers the writes queued together share one commit and fsync.
- **API create**: ConfigMap creates over HTTPS in an open loop, one every 5 ms for 10 s after a 1 s warm-up; each latency runs from the
  create's *scheduled* send time to the end of its response, so a server that falls behind is charged for the queueing it causes.
- **Rounds**: the create and watch benchmarks run ${ROUNDS} rounds each; the bold figure is the median round, which the target is
  judged on, followed by every round. The details below give, per round, CPU use of both processes, how far the load generator
  fell behind its schedule, and the share of time each process's main thread was ready to run but waited for a CPU
  (/proc/<pid>/schedstat): a high share means other work on the machine, not volplane, set the tail.
- **LIST**: 10,000 PVs created with 32 requests in flight, then \`GET /api/v1/persistentvolumes\` as JSON and as a Table
  (\`Accept: application/json;as=Table;v=v1;g=meta.k8s.io\`); one warm-up GET each (which also checks every object is there),
  then the p50 of 10 timed GETs, each timed until the whole body has been read.
- **Watch**: 10 watch streams on the ConfigMaps of one namespace; a writer merge-patches 50 ConfigMaps round-robin at 1,000/s
  (open loop) for 5 s after a 0.5 s warm-up, stamping each patch's send time (monotonic clock) into \`data.t\`; each watcher records
  receive − send for every event. An event that never arrives counts as missed and the target as not met.
- **RSS**: VmRSS from /proc/<pid>/status of the server process (MB = 10^6 bytes), 3 s after it became ready, and again after all
  the above; the peak is VmHWM.
- **Apply** (bench/apply.ts, same server): a manifest of 50 objects (5 StorageClasses, 12 ConfigMaps, 10 Secrets, 10 PVCs,
  8 Deployments, 5 StatefulSets), sent one request at a time like \`kubectl apply --server-side\`: PATCH
  \`application/apply-patch+yaml\` with \`fieldManager=bench\` (JSON bodies, as kubectl sends), the first apply creating each object,
  then 5 rounds re-applying the whole manifest with one field changed per object (data of ConfigMaps and Secrets, a label of PVCs
  and StorageClasses, the container image of workloads); then 5 rounds of \`application/strategic-merge-patch+json\` changing one
  field per object (the image through the containers list's merge key). Latency per request, send to end of response; afterwards
  every object is read back and must hold the last patch and a \`bench\` Apply entry in managedFields. A one-object-per-kind
  warm-up in another namespace is not counted. With 50 first applies, their p99 is the slowest but one.
- **Events** (bench/events.ts, same server): one EventRecorder in the benchmark process, its client counting the requests it sends
  (the API writes). Each event is handed over on its own turn of the event loop; the time runs until \`flush()\` resolves.
  10,000 identical events about one object must end as one Event with count 10,000 on the server; because the recorder's spam
  filter (client-go's: burst 25 per object, then one per 5 minutes) would let only 25 through on a real clock, that run gives the
  recorder a clock that moves 310 s per event — the details show the real-clock run too. 5,000 distinct events (10 reasons ×
  500 objects) must end as 5,000 Events; that recorder may queue 5,000 writes (the default queue of 1,000 would drop the rest).
- **Binding** (bench/binding.ts, a fresh server per N): N PVs (hostPath, 1Gi, RWO, class \`bench-N\`) created 64 at a time; once a
  watch has seen every one Available, N claims of that class, again 64 at a time. A watch on the namespace notes when each claim
  turns Bound; latency runs from the claim's create returning to that moment, binds/s is N over the time from the first claim
  create to the last Bound. Claims are created much faster than they are bound, so the latency is mostly time waiting in the
  PV controller's queue and grows with N. The server's RSS is read when the last claim is Bound.
  ${bindingSizesText(r.binding)}
  The latency variant creates ${int(BINDING_LATENCY.count)} claims open-loop at ${BINDING_LATENCY.claimRate}/s, below the bind rate, so its create→Bound
  is the time of one bind (four writes) plus the watch, not a place in a queue (\`node bench/binding.ts --rate=${BINDING_LATENCY.claimRate} ${BINDING_LATENCY.count}\`).
  Both latency runs first bind 50 warm-up claims at the same rate (against 50 extra volumes) and report them apart: the first
  claims of a fresh server pay for compiling the write paths (30–45 ms each, against 4 ms after), which would otherwise be the p99.
  The growth target compares the p99 of one bind as the index grows: the same ${int(BINDING_INDEX.claims)} claims, created at ${BINDING_INDEX.claimRate}/s, against
  ${BINDING_INDEX.sizes.map((n) => int(n)).join(' and then ')} volumes, each in a fresh server (\`node bench/binding.ts --rate=${BINDING_INDEX.claimRate} --claims=${BINDING_INDEX.claims} 1000 100000\`;
  \`BENCH_BINDING_INDEX=0\` skips it). Each size runs ${BINDING_INDEX.repeats} times, a fresh server each time, and its p50 / p99 are taken over the claims
  of all runs (${int(BINDING_INDEX.claims * BINDING_INDEX.repeats)}): the p99 of one run's ${int(BINDING_INDEX.claims)} claims is its 10th-slowest, and ranged from 10 to 35 ms
  between runs with 1,000 volumes alone.
- **Provisioning** (bench/provisioning.ts, a fresh server): a StorageClass of \`volplane.io/hostpath\` (Immediate, reclaim Delete),
  500 claims created 64 at a time; the time from the first create to the last claim seen Bound, and per claim from its create
  returning to Bound. Then every claim is deleted (64 at a time) and the clock runs until a watch has seen every PV DELETED and
  \`<data-dir>/hostpath-volumes\` holds no volume directory and no metadata file.
- **Pods** (bench/pods.ts, a fresh server started with its in-process node, as root): busybox pods running \`sleep 86400\`,
  created one after another; each is deleted with \`gracePeriodSeconds: 0\` and the next created only once a watch has seen it gone.
  A watch on the pods gives the moment each is first seen \`Running\` with \`Ready\` True; latency runs from just before the create
  request. Pods mounting a claim pre-bound to a \`local\` PV (a directory under the data dir, node affinity to the node) alternate
  with the same pod without volumes. Then pods that each bring a new claim of a \`volplane.io/hostpath\` class: WaitForFirstConsumer,
  Immediate with the pod created right after its claim, and Immediate with the pod created once the claim is Bound — in turn, timed
  from the claim's create; each claim is deleted after its pod and its PV must be gone before the next. The scheduler rejects a pod whose
  Immediate claim is still unbound and retries it after its 1 s initial backoff, so the WFFC figure is judged against the
  bound-first Immediate run. One warm-up pod of each kind is not counted. Afterwards every object is deleted, nothing may be
  mounted under the data dir (\`findmnt\`), and the server's stop checks that again.
- **CSI driver** (bench/csi-driver.ts, as root, before any server starts): volplane's CSI driver served on a unix socket in the
  benchmark process, driven through our CSI client one volume at a time: CreateVolume → NodeStageVolume → NodePublishVolume →
  NodeUnpublishVolume → NodeUnstageVolume → DeleteVolume, each step timed from the call to its answer, the lifecycle from the
  first call to the last answer. 100 directory volumes (mount access, bind-mounted at the target), then 20 ext4 loop volumes of
  16 MiB (sparse image, loop device, mkfs.ext4 on stage, device released on unstage); one warm-up lifecycle of each is not counted.
  Afterwards nothing may be mounted or attached under its temp dir.
- **FlexVolume** (bench/flexvolume.ts, as root, before any server starts): the example driver examples/flexvolume/volplane~loop
  through the FlexVolume plugin as the node's volume manager and the attach/detach controller call it (not the full pod path: no
  API server, container or volume-manager bookkeeping). Per volume: attach (a sparse 16 MiB image on a loop device), a first mount
  (waitforattach → mountdevice, which formats ext4 → setUp, the plugin's bind of the global path into the pod directory because
  the driver's \`mount\` answers "Not supported"), unmount (tearDown → unmountdevice), the same mount again on the formatted
  volume (the "mount" figure), unmount, detach. Every driver call is its own shell process; one warm-up volume is not counted.
- Percentiles are nearest-rank over the measured samples (bench/stats.ts).

## Details per round

${details(r).join('\n')}

## Investigating a miss

Each benchmark also runs alone (\`node bench/watch.ts\`, \`bench/api-create.ts\`, \`bench/list.ts\`, \`bench/store.ts\`, \`bench/apply.ts\`,
\`bench/events.ts\`, \`bench/provisioning.ts\`, \`bench/pods.ts\` (as root), \`bench/binding.ts [N ...]\`,
\`bench/csi-driver.ts [directory-count] [loop-count]\` (as root), \`bench/flexvolume.ts [count]\` (as root)).
\`BENCH_SERVER_NODE_ARGS\` passes Node flags to the server process: \`--cpu-prof --cpu-prof-dir=/tmp/prof\` writes a CPU profile
when the server stops (self time of the synchronous SQLite commit, \`writeBatch\`, is time the event loop was blocked on fsync);
\`--trace-gc-verbose --trace-gc\` prints, per V8 space, how much heap is live and how much is only committed.
${bindingTimeText(r)}`;
}

function bindingSizesText(b: BindingReport): string {
  const ran = b.runs.map((x) => int(x.count)).join(', ');
  if (b.budgetLeftSeconds === undefined) return `Sizes run: ${ran} (from BENCH_BINDING_SIZES).`;
  const skipped = b.skipped.map((x) => `${int(x.count)} (≈ ${(x.estimateSeconds / 60).toFixed(0)} min)`).join(', ');
  return (
    `Sizes run: ${ran}. The larger sizes are estimated from the 10,000 run (linearly, so a lower bound) and only the largest of\n` +
    `  100,000 / 50,000 / 20,000 that fits the rest of the suite's ${SUITE_BUDGET_S} s budget runs${skipped === '' ? '' : `; not run this time: ${skipped}`}.`
  );
}

/** Where a bind's time goes, from the measured rate: each bind is four writes in order, several claims' binds side by side. */
function bindingTimeText(r: Report): string {
  const ok = r.binding.runs.flatMap((x) => (x.outcome.ok ? [x.outcome.value] : []));
  if (ok.length === 0) return '';
  const perBind = ok.map((b) => `${ms(1000 / b.bindsPerSecond)} at ${int(b.count)} (server CPU ${pct(b.load.serverCores)} of a core)`).join(', ');
  return `
Where a bind's time goes: the PV controller (inside the server process, a client of its own API over HTTPS) runs 16 claim
workers, each binding a different claim, and each bind is four writes in a row — PV \`spec.claimRef\`, PV status Bound, PVC
\`spec.volumeName\`, PVC status Bound — each a full request with a durable commit before the next starts. With 16 binds in flight
the store batches their commits, so the server's CPU, not the round trips, is the limit: 500 binds/s leaves 2 ms of server CPU
per bind, 0.5 ms per write, controller and watch traffic included. This run took ${perBind} per bind.
A run that lasts longer than the controller's resync period (15 s) also carries the full resync, which queues every claim and
every volume again each period — the claim workers then walk the Bound claims between the ones still waiting. Provisioning
ends in the same bind (the provisioned PV is saved pre-bound to its claim and a claim worker does the four writes), so 500
provisioned claims cost at least 500 binds' time, on top of the directory and the PV create. A CPU profile of the server
during a 3,000-claim run (taken with BENCH_SERVER_NODE_ARGS, not part of this run) showed both its main thread and the SQLite
writer thread idle about half the time, the writer's busy time almost all in the synchronous commit (\`writeBatch\`, one fsync
per write when nothing else is queued), and the main thread's in handing rows to that thread (\`postMessage\`,
\`structuredClone\`) and in TLS/HTTP on both ends of the controller's own requests. On a loaded machine the share of time the
server waits for a CPU (details above) adds to every one of those four round trips.
`;
}

if (import.meta.main) {
  const t0 = performance.now();
  const report = await runAll(t0);
  const rs = rows(report);
  console.log(`\n${fsyncText(report.fsync)}\n\n${table(rs)}\n`);
  for (const line of details(report)) console.log(line);
  writeFileSync(DOC, markdown(report, (performance.now() - t0) / 1000));
  console.log(`\nwrote ${DOC} in ${((performance.now() - t0) / 1000).toFixed(0)} s total`);
  const failed = [
    report.fsync,
    report.store,
    report.idleRss,
    report.create,
    report.list,
    report.watch,
    report.finalRss,
    report.apply,
    report.events,
    report.provisioning,
    report.pods,
    report.csiDriver,
    report.csiE2e,
    report.flexVolume,
    ...report.binding.runs.map((b) => b.outcome),
    report.binding.latency,
    ...report.binding.index.map((b) => b.outcome),
  ].some((o) => !o.ok);
  process.exitCode = failed ? 1 : 0;
}
