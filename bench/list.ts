// LIST of many objects: 10,000 PersistentVolumes are created (32 requests in
// flight), then `GET /api/v1/persistentvolumes` is timed as JSON and as a
// Table (what `kubectl get pv` asks for), from sending the request to having
// read the whole body. The first GET of each kind is a warm-up that also
// checks the answer holds every object; the p50 of the next runs is reported.
// A LIST is served from the watch cache, so this measures sorting, filtering
// and serialising, not the disk.
//
// Run alone: node bench/list.ts

import { describeError, persistentVolume } from './fixtures.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';
import { nowMs, summarize, type Summary } from './stats.ts';
import type { RestClient } from '../src/client/index.ts';

export const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io';

export interface ListOptions {
  count?: number;
  concurrency?: number;
  runs?: number;
}

export interface ListTiming extends Summary {
  /** Size of one answer in bytes. */
  bytes: number;
}

export interface ListResult {
  count: number;
  /** Creates per second while filling the store. */
  createRate: number;
  json: ListTiming;
  table: ListTiming;
}

export class ListBenchError extends Error {
  override readonly name = 'ListBenchError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export async function benchList(server: ServerProcess, options: ListOptions = {}): Promise<ListResult> {
  const count = options.count ?? 10_000;
  const concurrency = options.concurrency ?? 32;
  const runs = options.runs ?? 10;
  const client = server.client();
  try {
    const started = nowMs();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        const name = `pv-bench-${String(i).padStart(5, '0')}`;
        try {
          await client.create('/api/v1/persistentvolumes', persistentVolume(name));
        } catch (err) {
          throw new ListBenchError(`creating ${name}: ${describeError(err)}`, { cause: err });
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const createRate = count / ((nowMs() - started) / 1000);

    const json = await timeList(client, 'application/json', runs, (body) => {
      const items = (JSON.parse(body) as { items?: unknown[] }).items;
      return items?.length ?? -1;
    }, count);
    const table = await timeList(client, TABLE_ACCEPT, runs, (body) => {
      const rows = (JSON.parse(body) as { kind?: string; rows?: unknown[] }).rows;
      return rows?.length ?? -1;
    }, count);
    return { count, createRate, json, table };
  } finally {
    client.close();
  }
}

async function timeList(
  client: RestClient,
  accept: string,
  runs: number,
  countEntries: (body: string) => number,
  want: number,
): Promise<ListTiming> {
  const path = '/api/v1/persistentvolumes';
  const warm = await client.raw('GET', path, { accept });
  if (warm.code !== 200) throw new ListBenchError(`GET ${path} (${accept}) answered ${warm.code}: ${warm.text.slice(0, 200)}`);
  const got = countEntries(warm.text);
  if (got < want) throw new ListBenchError(`GET ${path} (${accept}) returned ${got} entries, want at least ${want}`);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = nowMs();
    const r = await client.raw('GET', path, { accept });
    times.push(nowMs() - t0);
    if (r.code !== 200) throw new ListBenchError(`GET ${path} (${accept}) answered ${r.code}`);
  }
  return { ...summarize(times), bytes: Buffer.byteLength(warm.text) };
}

if (import.meta.main) {
  const server = await startServerProcess();
  try {
    const r = await benchList(server);
    console.log(`created ${r.count} PVs at ${Math.round(r.createRate)}/s`);
    console.log(`LIST JSON  p50 ${r.json.p50.toFixed(1)} ms (${(r.json.bytes / 1e6).toFixed(1)} MB)`);
    console.log(`LIST Table p50 ${r.table.p50.toFixed(1)} ms (${(r.table.bytes / 1e6).toFixed(1)} MB)`);
  } finally {
    await server.stop();
  }
}
