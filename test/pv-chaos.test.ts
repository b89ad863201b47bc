// Chaos: `volplane up` is killed with SIGKILL at random moments while 200 claims are provisioned
// (and some of them deleted again) through the in-tree hostpath provisioner, and restarted on the
// same data directory and port each time. Whatever the kill interrupted — a create whose answer
// never came, a provisioned directory without its PV, a PV without its bind, a delete between the
// directory and the object — the restarted control plane must finish it. At the end:
//
//   - every claim that still exists is Bound, and the deleted ones are gone;
//   - no PV is bound to two claims, and no PV outlives its claim (the class reclaims with Delete);
//   - every PV has its directory under <data>/hostpath-volumes, and every directory there (but
//     the archives) belongs to a PV.
//
// The kills, their timing and which claims get deleted come from a seeded PRNG. The seed is in
// the test's name; replay a failure with VOLPLANE_CHAOS_SEED=<seed>. (Timing still varies from
// run to run — the seed fixes the plan, not the scheduler.)
//
// The server runs as a real child process (so SIGKILL is real), spawned as bench/server-process.ts
// does, and is ready when it prints its ready line on stdout. A kill is only interesting once the
// controllers run, and they run only while their process holds the `volplane-controller-manager`
// Lease: a restarted process has a new identity and, as upstream, waits out the dead holder's
// lease (15 s). So each kill comes at a random moment after the new process logged "became
// leader", and after every restart but the last the test deletes the dead holder's Lease (it knows
// the holder is dead: it killed it) so the next process leads within one retry period. The final
// restart takes over the honest way, by waiting for the lease to expire.
//
// The claims come in batches, one per server lifetime, each released once that server's
// controllers lead, so kills land among client requests, provisioning and reclaiming alike. The
// client rides out the outages with a retry helper: network errors and 5xx are retried with
// backoff until a deadline, and the two answers a retried request can legitimately get —
// AlreadyExists for a create that landed before the crash, NotFound for such a delete — count as
// success.
//
// On failure the message lists every broken invariant, and for an orphaned directory the claim it
// was made for, the server's log lines and the Events that mention it, and when each kill and
// each takeover happened.

import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PersistentVolume, PersistentVolumeClaim } from '../src/api/core/volume-types.ts';
import { delay, waitFor } from '../src/base/index.ts';
import { ApiError, RestClient, resourcePath, resources, type CoreEvent } from '../src/client/index.ts';
import { findLeaks } from '../src/testing/index.ts';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const MAIN = join(REPO, 'src', 'cli', 'main.ts');

const CLAIMS = 200;
const DELETE_FRACTION = 0.3;
const WORKERS = 4;
const CLASS = 'chaos-hostpath';
const NAMESPACE = 'default';
/** How long one request may keep retrying through outages. */
const REQUEST_DEADLINE_MS = 40_000;
const START_TIMEOUT_MS = 30_000;
/** How long the restarted control plane gets to converge. */
const CONVERGE_MS = 45_000;

const seed = process.env.VOLPLANE_CHAOS_SEED !== undefined ? Number(process.env.VOLPLANE_CHAOS_SEED) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;

/** mulberry32: small, fast, and enough to replay a plan from a 32-bit seed. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------
// The server process

/** The server exited during start, or never printed its ready line. */
class ServerStartError extends Error {
  override readonly name = 'ServerStartError';
  readonly output: string;
  constructor(message: string, output: string) {
    super(`${message}\n--- server output (last lines) ---\n${output.trimEnd().split('\n').slice(-30).join('\n')}`);
    this.output = output;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

interface RunningServer {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  isRunning(): boolean;
  /** Whether its controller manager logged that it became leader. */
  isLeading(): boolean;
}

/** Starts `volplane up` and resolves once it printed its ready line. */
async function startServer(dataDir: string, port: number, log: { output: string }): Promise<RunningServer> {
  const child = spawn(process.execPath, [MAIN, 'up', '--data-dir', dataDir, '--api-port', String(port), '--log-level', 'info'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let running = true;
  let leading = false;
  let tail = '';
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    log.output += text;
    if (log.output.length > 262_144) log.output = log.output.slice(-262_144);
  };
  child.stderr?.on('data', (chunk: Buffer) => {
    keep(chunk);
    // The log line may arrive split across chunks: look at the seam too.
    tail = (tail + chunk.toString('utf8')).slice(-4096);
    if (tail.includes('"msg":"became leader"')) leading = true;
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      log.output += `\n[test] server pid ${child.pid} exited (code ${code}, signal ${signal})\n`;
      resolve();
    });
    child.once('error', (err) => {
      running = false;
      log.output += `\n[test] spawn error: ${err.message}\n`;
      resolve();
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      keep(chunk);
      stdout += text;
      if (/^volplane is ready: /m.test(stdout)) resolve();
    });
    exited.then(() => reject(new ServerStartError('the server exited during start', log.output)), reject);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
  try {
    await ready;
  } catch (err) {
    await exited;
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { child, exited, isRunning: () => running, isLeading: () => leading };
}

async function killHard(server: RunningServer | undefined, log: { output: string }): Promise<void> {
  if (server === undefined || !server.isRunning()) return;
  // Epoch ms like the server's log lines, to line a kill up with what the server was doing.
  log.output += `\n[test] SIGKILL pid ${server.child.pid} at ${Date.now()}\n`;
  server.child.kill('SIGKILL');
  await server.exited;
}

// ---------------------------------------------------------------------------
// Requests that ride out the outages

/** A request that kept failing in a retryable way until its deadline. */
class RetryDeadlineError extends Error {
  override readonly name = 'RetryDeadlineError';
  readonly what: string;
  readonly attempts: number;
  constructor(what: string, attempts: number, cause: unknown) {
    super(`${what}: still failing after ${attempts} attempts`, { cause });
    this.what = what;
    this.attempts = attempts;
  }
}

/** Worth another try: the server is down or restarting (no HTTP answer), or answered 5xx/429. */
function isRetryable(err: unknown): boolean {
  if (err instanceof ApiError) return err.code >= 500 || err.code === 429;
  return err instanceof Error;
}

async function retry<T>(what: string, fn: () => Promise<T>, deadlineMs = REQUEST_DEADLINE_MS): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let backoff = 25;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err)) throw err;
      if (Date.now() + backoff > deadline) throw new RetryDeadlineError(what, attempt, err);
    }
    await delay(backoff);
    backoff = Math.min(backoff * 2, 500);
  }
}

const isCode = (err: unknown, code: number): boolean => err instanceof ApiError && err.code === code;

const pvcCollection = resourcePath(resources.persistentVolumeClaims, NAMESPACE);
const pvcPath = (name: string): string => resourcePath(resources.persistentVolumeClaims, NAMESPACE, name);
const pvCollection = resourcePath(resources.persistentVolumes);
const leasePath = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/volplane-controller-manager';

/** Creates the object; its uid, or undefined when an earlier attempt created it and the answer was lost. */
async function createIdempotent(client: RestClient, what: string, path: string, body: unknown): Promise<string | undefined> {
  return retry(what, async () => {
    try {
      return (await client.create(path, body)).metadata.uid;
    } catch (err) {
      // The first attempt landed and its answer was lost with the server.
      if (!isCode(err, 409)) throw err;
      return undefined;
    }
  });
}

async function deleteIdempotent(client: RestClient, what: string, path: string): Promise<void> {
  await retry(what, async () => {
    try {
      await client.delete(path);
    } catch (err) {
      if (!isCode(err, 404)) throw err;
    }
  });
}

function claimManifest(name: string): PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: NAMESPACE, labels: { 'test.volplane/chaos': 'true' } },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Mi' } }, storageClassName: CLASS },
  };
}

// ---------------------------------------------------------------------------
// The final state, and what is wrong with it

interface Snapshot {
  claims: PersistentVolumeClaim[];
  volumes: PersistentVolume[];
  dirs: string[];
}

async function snapshot(client: RestClient, volumesRoot: string): Promise<Snapshot> {
  const claims = (await retry('list claims', () => client.get<{ items: PersistentVolumeClaim[] }>(pvcCollection))).items;
  const volumes = (await retry('list volumes', () => client.get<{ items: PersistentVolume[] }>(pvCollection))).items;
  const dirs = existsSync(volumesRoot) ? (await readdir(volumesRoot)).filter((d) => d !== '.volplane') : [];
  return { claims, volumes, dirs };
}

/** Every broken invariant, one line each; empty when the state is the one we want. */
function problems(s: Snapshot, expected: ReadonlySet<string>, volumesRoot: string): string[] {
  const out: string[] = [];
  const claimsByName = new Map(s.claims.map((c) => [c.metadata.name ?? '', c]));
  const claimsByUid = new Map(s.claims.map((c) => [c.metadata.uid ?? '', c]));
  const volumesByName = new Map(s.volumes.map((v) => [v.metadata.name ?? '', v]));

  for (const name of expected) {
    const c = claimsByName.get(name);
    if (c === undefined) out.push(`claim ${name} is missing`);
    else if (c.status?.phase !== 'Bound') out.push(`claim ${name} is ${c.status?.phase ?? '(no phase)'}, not Bound`);
    else {
      const v = volumesByName.get(c.spec.volumeName ?? '');
      if (v === undefined) out.push(`claim ${name} is bound to ${c.spec.volumeName ?? '(nothing)'}, which does not exist`);
      else if (v.spec.claimRef?.uid !== c.metadata.uid) out.push(`claim ${name} points at ${v.metadata.name}, which points at ${v.spec.claimRef?.name}/${v.spec.claimRef?.uid}`);
    }
  }
  for (const c of s.claims) {
    const name = c.metadata.name ?? '';
    if (!expected.has(name)) out.push(`claim ${name} was deleted but still exists (finalizers ${JSON.stringify(c.metadata.finalizers ?? [])})`);
  }

  const owners = new Map<string, string>();
  for (const v of s.volumes) {
    const name = v.metadata.name ?? '';
    const uid = v.spec.claimRef?.uid ?? '';
    if (uid !== '') {
      const other = owners.get(uid);
      if (other !== undefined) out.push(`volumes ${other} and ${name} are both bound to claim uid ${uid}`);
      owners.set(uid, name);
    }
    if (!claimsByUid.has(uid)) {
      out.push(`volume ${name} (${v.status?.phase}, policy ${v.spec.persistentVolumeReclaimPolicy}) has no claim: claimRef ${v.spec.claimRef?.name ?? '(none)'}/${uid}`);
    }
    const path = v.spec.hostPath?.path ?? '';
    if (path !== join(volumesRoot, name)) out.push(`volume ${name} has hostPath ${JSON.stringify(path)}, expected ${join(volumesRoot, name)}`);
    else if (!existsSync(path)) out.push(`volume ${name} has no directory ${path}`);
  }
  for (const d of s.dirs) {
    if (d.startsWith('archived-')) continue;
    if (!volumesByName.has(d)) out.push(`directory ${d} belongs to no volume`);
  }
  return out;
}

// ---------------------------------------------------------------------------

let cleanup: (() => Promise<void>) | undefined;
after(async () => {
  await cleanup?.();
});

describe('PV provisioning survives SIGKILL of the control plane', () => {
  it(`chaos: ${CLAIMS} claims, 3–5 kills (seed ${seed}; replay with VOLPLANE_CHAOS_SEED=${seed})`, { timeout: 120_000 }, async (t: TestContext) => {
    const rand = prng(seed);
    const kills = 3 + Math.floor(rand() * 3);
    const killDelays = Array.from({ length: kills }, () => 50 + Math.floor(rand() * 1450));
    const names = Array.from({ length: CLAIMS }, (_, i) => `chaos-${String(i).padStart(3, '0')}`);
    const toDelete = new Set(names.filter(() => rand() < DELETE_FRACTION));
    const expected = new Set(names.filter((n) => !toDelete.has(n)));
    t.diagnostic(`seed ${seed}: ${kills} kills, ${killDelays.join(', ')} ms after each server led; ${toDelete.size} of ${CLAIMS} claims deleted`);

    const root = await mkdtemp(join(tmpdir(), 'volplane-chaos-'));
    const dataDir = join(root, 'data');
    const volumesRoot = join(dataDir, 'hostpath-volumes');
    const log = { output: '' };
    let server: RunningServer | undefined;
    let client: RestClient | undefined;
    cleanup = async () => {
      cleanup = undefined;
      client?.close();
      if (server?.isRunning() === true) {
        server.child.kill('SIGTERM');
        const hard = setTimeout(() => server?.child.kill('SIGKILL'), 5_000);
        await server.exited;
        clearTimeout(hard);
      }
      await rm(root, { recursive: true, force: true });
    };

    try {
      const port = await freePort();
      server = await startServer(dataDir, port, log);
      client = RestClient.fromKubeconfig(join(dataDir, 'kubeconfig'));
      const api = client;

      await createIdempotent(api, `create StorageClass ${CLASS}`, resourcePath(resources.storageClasses), {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: CLASS },
        provisioner: 'volplane.io/hostpath',
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'Immediate',
        parameters: { archiveOnDelete: 'false' },
      });

      // The workload, one batch per server lifetime. Within a batch a claim's delete is queued
      // behind whatever was queued when its create finished, so deletes meet claims at every
      // stage of provisioning.
      const claimOfUid = new Map<string, string>();
      let done = 0;
      const runBatch = async (batch: readonly string[]): Promise<void> => {
        const queue: { op: 'create' | 'delete'; name: string }[] = batch.map((name) => ({ op: 'create', name }));
        const worker = async (): Promise<void> => {
          for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
            const { op, name } = next;
            if (op === 'create') {
              const uid = await createIdempotent(api, `create claim ${name}`, pvcCollection, claimManifest(name));
              if (uid !== undefined) claimOfUid.set(uid, name);
              if (toDelete.has(name)) queue.push({ op: 'delete', name });
            } else {
              await deleteIdempotent(api, `delete claim ${name}`, pvcPath(name));
            }
            done++;
          }
        };
        await Promise.all(Array.from({ length: WORKERS }, () => worker()));
      };
      const batchSize = Math.ceil(CLAIMS / (kills + 1));
      const batches = Array.from({ length: kills + 1 }, (_, i) => names.slice(i * batchSize, (i + 1) * batchSize));
      const running: Promise<void>[] = [];
      const release = (i: number): void => {
        const p = runBatch(batches[i] ?? []);
        // Awaited below; keep a failure from being reported as unhandled meanwhile.
        p.catch(() => {});
        running.push(p);
      };

      // The chaos: once the controllers lead, release a batch, kill at a random moment, restart.
      for (const [i, wait] of killDelays.entries()) {
        const current = server;
        await waitFor(`server ${i + 1} to become leader`, () => current.isLeading() || !current.isRunning(), { timeoutMs: 30_000, intervalMs: 20 });
        release(i);
        await delay(wait);
        t.diagnostic(`kill ${i + 1}/${kills} ${wait} ms after it led (${done} operations done)`);
        await killHard(server, log);
        server = await startServer(dataDir, port, log);
        // The dead holder's lease would keep the new controllers idle for 15 s; the last restart waits it out.
        if (i + 1 < kills) await deleteIdempotent(api, 'delete the dead leader\'s Lease', leasePath);
      }
      release(kills);
      await Promise.all(running);
      t.diagnostic(`workload finished: ${done} operations`);

      let last: string[] = [];
      const convergeStart = Date.now();
      let nextReport = convergeStart + 5_000;
      try {
        await waitFor(
          'the control plane to converge',
          async () => {
            const snap = await snapshot(api, volumesRoot);
            for (const c of snap.claims) claimOfUid.set(c.metadata.uid ?? '', c.metadata.name ?? '');
            last = problems(snap, expected, volumesRoot);
            if (Date.now() >= nextReport && last.length > 0) {
              t.diagnostic(`${Math.round((Date.now() - convergeStart) / 1000)} s: ${last.length} problems, e.g. ${last.slice(0, 3).join('; ')}`);
              nextReport = Date.now() + 5_000;
            }
            return last.length === 0;
          },
          { timeoutMs: CONVERGE_MS, intervalMs: 500 },
        );
      } catch (err) {
        // What the controller said about the volumes in question (events outlive their claims).
        const events = await retry('list events', () => api.get<{ items: CoreEvent[] }>(resourcePath(resources.events, NAMESPACE)), 10_000)
          .then((l) => l.items)
          .catch((): CoreEvent[] => []);
        const eventsAbout = (uid: string): string[] =>
          events
            .filter((e) => e.involvedObject.uid === uid || (e.message ?? '').includes(uid) || (e.involvedObject.name ?? '').includes(uid))
            .map((e) => `${e.lastTimestamp ?? e.eventTime ?? ''} ${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${e.message ?? ''}`);
        // Name the claim an orphaned directory was made for, when its uid was ever seen.
        const explain = (line: string): string =>
          line.replace(/directory pvc-([0-9a-f-]{36}) belongs to no volume/, (m, uid: string) => {
            const claimName = claimOfUid.get(uid);
            const meta = existsSync(join(volumesRoot, '.volplane', `pvc-${uid}.json`)) ? 'with' : 'without';
            const mentions = log.output.split('\n').filter((l) => l.includes(uid)).slice(0, 5);
            return (
              `${m} (made for claim ${claimName ?? '(uid never seen)'}, ${claimName !== undefined && toDelete.has(claimName) ? 'deleted by the test' : 'not deleted'}; ` +
              `${meta} its .volplane record)${mentions.map((l) => `\n      log: ${l}`).join('')}${eventsAbout(uid).map((l) => `\n      event: ${l}`).join('')}`
            );
          });
        const shown = last.slice(0, 40).map(explain).join('\n  ');
        const markers = log.output
          .split('\n')
          .filter((l) => l.startsWith('[test]') || l.includes('"msg":"became leader"'))
          .map((l) => (l.startsWith('[test]') ? l : `[server] became leader at ${/"time":(\d+)/.exec(l)?.[1] ?? '?'}`));
        throw new Error(
          `seed ${seed}: ${last.length} problems after ${CONVERGE_MS} ms:\n  ${shown}\n--- kills and leaders ---\n${markers.join('\n')}`,
          { cause: err },
        );
      }

      t.diagnostic(`converged ${Date.now() - convergeStart} ms after the workload finished`);
      const final = await snapshot(api, volumesRoot);
      assert.equal(final.claims.length, expected.size);
      assert.equal(final.volumes.length, expected.size, 'one volume per surviving claim');
      assert.ok(server.isRunning(), 'the server is still running at the end');
    } finally {
      await cleanup?.();
    }
    assert.deepEqual((await findLeaks()).filter((l) => l.includes(root)), []);
  });
});
