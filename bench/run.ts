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
// RSS "after" figure is taken last, with 10,000 PVs in the watch cache.
//
// Run: npm run bench   (or node bench/run.ts)

import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchApiCreate, type ApiCreateResult } from './api-create.ts';
import { fsyncLatency } from './disk.ts';
import { describeError } from './fixtures.ts';
import type { LoadReport } from './load-monitor.ts';
import { benchList, type ListResult } from './list.ts';
import { idleRss, readRss, type Rss } from './rss.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';
import { percentile, type Summary } from './stats.ts';
import { benchStore } from './store.ts';
import { benchWatch, type WatchResult } from './watch.ts';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const DOC = join(REPO, 'docs', 'benchmarks.md');
const STEP_TIMEOUT_MS = 120_000;
const ROUNDS = 3;

const TARGET = {
  storeWriters16: 3_600,
  createP99Ms: 20,
  listP50Ms: 300,
  watchP99Ms: 50,
  rssMB: 150,
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
}

class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
  readonly step: string;
  constructor(step: string, ms: number) {
    super(`${step} did not finish within ${ms / 1000} s`);
    this.step = step;
  }
}

async function step<T>(name: string, fn: () => Promise<T>): Promise<Outcome<T>> {
  process.stdout.write(`• ${name} … `);
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StepTimeoutError(name, STEP_TIMEOUT_MS)), STEP_TIMEOUT_MS);
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

const notRun: Outcome<never> = { ok: false, error: 'not run: the server did not start' };

async function runAll(): Promise<Report> {
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

  let server: ServerProcess | undefined;
  const stopOnSignal = (): void => {
    void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const started = await step('start the server', startServerProcess);
    if (!started.ok) return { machine, fsync, store, idleRss: started, create: notRun, list: notRun, watch: notRun, finalRss: notRun };
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
    return { machine, fsync, store, idleRss: idle, create, list, watch, finalRss };
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
  return out;
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
  return out;
}

function fsyncText(o: Outcome<Summary>): string {
  if (!o.ok) return `fdatasync probe failed (${o.error})`;
  return `a 4 KiB append + fdatasync in the temp directory takes p50 ${ms(o.value.p50)}, p99 ${ms(o.value.p99)}, max ${ms(o.value.max)}`;
}

function markdown(r: Report): string {
  const m = r.machine;
  return `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts) on ${m.date}: ${m.cpus} CPUs (\`nproc\`; ${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB memory, Node ${m.node};
load average ${m.loadAverage.toFixed(1)}${m.cpuPressure === undefined ? '' : ` and CPU pressure ${(m.cpuPressure * 100).toFixed(0)} % (PSI "some", last minute)`} when the run started; ${fsyncText(r.fsync)}.
The server runs as its own process (\`volplane up\`, SQLite store, TLS on 127.0.0.1) and the load comes from another process, so each
has a core; on a machine shared with other work the figures move by tens of percent from run to run. Targets are goals, not test assertions.

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
- Percentiles are nearest-rank over the measured samples (bench/stats.ts).

## Details per round

${details(r).join('\n')}

## Investigating a miss

Each benchmark also runs alone (\`node bench/watch.ts\`, \`bench/api-create.ts\`, \`bench/list.ts\`, \`bench/store.ts\`).
\`BENCH_SERVER_NODE_ARGS\` passes Node flags to the server process: \`--cpu-prof --cpu-prof-dir=/tmp/prof\` writes a CPU profile
when the server stops (self time of the synchronous SQLite commit, \`writeBatch\`, is time the event loop was blocked on fsync);
\`--trace-gc-verbose --trace-gc\` prints, per V8 space, how much heap is live and how much is only committed.
`;
}

if (import.meta.main) {
  const t0 = performance.now();
  const report = await runAll();
  const rs = rows(report);
  console.log(`\n${fsyncText(report.fsync)}\n\n${table(rs)}\n`);
  for (const line of details(report)) console.log(line);
  writeFileSync(DOC, markdown(report));
  console.log(`\nwrote ${DOC} in ${((performance.now() - t0) / 1000).toFixed(0)} s total`);
  const failed = [report.fsync, report.store, report.idleRss, report.create, report.list, report.watch, report.finalRss].some((o) => !o.ok);
  process.exitCode = failed ? 1 : 0;
}
