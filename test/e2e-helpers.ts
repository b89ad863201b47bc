// What the end-to-end tests over real processes and the real kubectl share:
// host commands (losetup, findmnt, blkid), a child process whose output is
// kept for the failure message, the runtime's container records (containers
// outlive a killed node agent, so a test must end them itself), reads of a
// pod through kubectl, the CSI manifests an admin would apply, and the CSI
// control-plane sidecars a test runs against a driver socket the way a
// driver's Deployment would. One copy, so that a fix to the kill/stop
// sequence or the leak cleanup reaches every test that depends on it.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { silentLogger, waitFor } from '../src/base/index.ts';
import { EventRecorder, RestClient, SharedInformerFactory } from '../src/client/index.ts';
import { createCsiClient, type CsiClient } from '../src/csi/index.ts';
import { startExternalAttacher, startExternalProvisioner, type SidecarContext } from '../src/csi/sidecars/index.ts';
import { waitForState, type KubectlOptions, type KubectlResult, type TestCluster } from '../src/testing/index.ts';

/** The repository root and the `volplane` entry point a child process runs. */
export const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
export const MAIN = join(REPO, 'src', 'cli', 'main.ts');

/** stdout of a host command (findmnt, losetup, blkid); rejects on a non-zero exit. */
export function sh(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new Error(`${file} ${args.join(' ')}: ${err.message} ${stderr}`, { cause: err }));
    });
  });
}

/** `losetup -j FILE`: the loop devices backed by the file (none when the file is gone). */
export async function loopsOf(image: string): Promise<string[]> {
  const out = await sh('losetup', ['-j', image]).catch(() => '');
  return out.split('\n').filter((l) => l.trim() !== '');
}

/** A child process (server, node agent, driver) and the last of what it printed. */
export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  #output = '';
  #done = false;

  constructor(name: string, command: string, args: readonly string[]) {
    this.name = name;
    this.proc = spawn(command, [...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      this.#output += chunk.toString('utf8');
      if (this.#output.length > 262_144) this.#output = this.#output.slice(-262_144);
    };
    this.proc.stdout?.on('data', keep);
    this.proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', () => {
        this.#done = true;
        resolve();
      });
      this.proc.once('error', (err) => {
        this.#output += `\nspawn error: ${err.message}\n`;
        this.#done = true;
        resolve();
      });
    });
  }

  /** `volplane ARGS` run by this node binary. */
  static volplane(name: string, args: readonly string[]): Child {
    return new Child(name, process.execPath, [MAIN, ...args]);
  }

  get done(): boolean {
    return this.#done;
  }

  output(): string {
    return this.#output;
  }

  tail(lines = 25): string {
    return `--- ${this.name} (last lines) ---\n${this.#output.trimEnd().split('\n').slice(-lines).join('\n')}`;
  }

  /** Waits for a line of output matching `re`; fails early when the process exits. */
  async waitForLine(re: RegExp, timeoutMs = 30_000): Promise<void> {
    try {
      await waitFor(
        `${this.name} to print ${re}`,
        () => {
          if (re.test(this.#output)) return true;
          if (this.#done) throw new Error(`${this.name} exited (code ${this.proc.exitCode}, signal ${this.proc.signalCode})`);
          return false;
        },
        { timeoutMs, intervalMs: 50 },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.tail()}`, { cause: err });
    }
  }

  /** SIGKILL by default: no cleanup runs, the state a restarted process must recover from. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.#done) return;
    this.proc.kill(signal);
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (this.#done) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 8_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface ContainerState {
  id: string;
  podName: string;
  name: string;
  init?: { pid: number; startTime: number };
  shim?: { pid: number; startTime: number };
}

/** The runtime's records of the containers under a node root. */
export function containerStates(root: string): ContainerState[] {
  const dir = join(root, 'containers');
  if (!existsSync(dir)) return [];
  const out: ContainerState[] = [];
  for (const id of readdirSync(dir)) {
    try {
      out.push(JSON.parse(readFileSync(join(dir, id, 'state.json'), 'utf8')) as ContainerState);
    } catch {
      // Being written or removed.
    }
  }
  return out;
}

/** Field 22 of /proc/<pid>/stat; undefined when the process is gone. */
export function startTimeOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/**
 * SIGKILLs the PID 1 and shim of every container still running under a node
 * root (matched by start time, so a reused PID is left alone). Containers
 * outlive their node agent by design; true when any had to be killed.
 */
export function killContainersLeft(root: string): boolean {
  let killed = false;
  for (const c of containerStates(root)) {
    for (const p of [c.init, c.shim]) {
      if (p !== undefined && startTimeOf(p.pid) === p.startTime) {
        killed = true;
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
    }
  }
  return killed;
}

/** kubectl against a test cluster, returning stdout; rejects on a non-zero exit. */
export function kubectlOf(cluster: TestCluster): (args: readonly string[], input?: string) => Promise<string> {
  return async (args, input) => (await cluster.kubectl(args, input === undefined ? {} : { input })).stdout;
}

/** Best effort before teardown: pods, then claims, then a wait for their PVs to go. */
export async function deleteAllPodsAndClaims(cluster: TestCluster): Promise<void> {
  await cluster.kubectl(['delete', 'pod', '--all', '--grace-period=1', '--wait=true', '--timeout=30s'], { allowFail: true });
  await cluster.kubectl(['delete', 'pvc', '--all', '--wait=true', '--timeout=30s'], { allowFail: true });
  const kubectl = kubectlOf(cluster);
  await waitFor('PVs gone', async () => (await kubectl(['get', 'pv', '-o', 'name'])).trim() === '', { timeoutMs: 20_000, intervalMs: 200 }).catch(() => undefined);
}

/** Deletes a pod, waits for its VolumeAttachment to go, deletes its claim and waits for the PV to go. */
export async function deletePodAndClaim(kubectl: (args: readonly string[]) => Promise<string>, pod: string, claim: string): Promise<void> {
  await kubectl(['delete', 'pod', pod, '--grace-period=1', '--wait=true', '--timeout=30s']);
  await waitForState('the VolumeAttachment gone', () => kubectl(['get', 'volumeattachments', '-o', 'name']), (s) => (s.trim() === '' ? undefined : s), { timeoutMs: 30_000, intervalMs: 200 });
  await kubectl(['delete', 'pvc', claim, '--wait=true', '--timeout=30s']);
  await waitForState('the PV gone', () => kubectl(['get', 'pv', '-o', 'name']), (s) => (s.trim() === '' ? undefined : s), { timeoutMs: 30_000, intervalMs: 200 });
}

/** A CSIDriver that needs attaching and a loop-backed ext4 StorageClass of it, as an admin would create them. */
export const csiLoopClassManifest = (driver: string, storageClass: string): string => `apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: ${driver}
spec:
  attachRequired: true
  podInfoOnMount: true
  volumeLifecycleModes: [Persistent]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${storageClass}
provisioner: ${driver}
parameters:
  kind: loop
  csi.storage.k8s.io/fstype: ext4
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
`;

/** A 32Mi claim of `storageClass` and a busybox pod `pod` running `command` with it at /data. */
export const claimAndPodManifest = (o: { claim: string; pod: string; storageClass: string; command: string }): string => `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${o.claim}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ${o.storageClass}
  resources:
    requests:
      storage: 32Mi
---
apiVersion: v1
kind: Pod
metadata:
  name: ${o.pod}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', '${o.command}']
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: ${o.claim}
`;

/** The external provisioner and attacher of one driver, run in the test process against its socket. */
export interface CsiSidecars {
  readonly client: RestClient;
  readonly csi: CsiClient;
  /** Starts both sidecars and their informers; call once the driver serves. */
  start(): void;
  /** Stops the sidecars and closes the clients; safe before start(). */
  close(): Promise<void>;
}

export function createCsiSidecars(kubeconfigPath: string, endpoint: string, driverName: string): CsiSidecars {
  const client = RestClient.fromKubeconfig(kubeconfigPath);
  const csi = createCsiClient(endpoint, { defaultTimeoutMs: 60_000 });
  const stop = new AbortController();
  const informers = new SharedInformerFactory({ client, logger: silentLogger() });
  const recorder = new EventRecorder({ client, component: 'test-sidecars', host: hostname(), logger: silentLogger() });
  let running: Promise<unknown> = Promise.resolve();
  const ctx = (component: string): SidecarContext => ({ client, informers, recorder: recorder.withComponent(component), logger: silentLogger(), csi, driverName });
  return {
    client,
    csi,
    start() {
      running = Promise.allSettled([
        startExternalProvisioner(ctx(`${driverName}_external-provisioner`), stop.signal, { baseDelayMs: 100, maxDelayMs: 2_000 }),
        startExternalAttacher(ctx('external-attacher'), stop.signal, { baseDelayMs: 100, maxDelayMs: 2_000 }),
      ]);
      informers.start(stop.signal);
    },
    async close() {
      stop.abort();
      await running;
      recorder.dispose();
      csi.close();
      client.close();
    },
  };
}

/** A pod's event as the tests compare it. */
export interface EventRow {
  type: string;
  reason: string;
  message: string;
}

/** Reads of one pod through kubectl, as the node end-to-end tests make them. */
export interface PodQueries {
  /** The pod's `kubectl get pod --no-headers` row. */
  podRow(name: string): Promise<string>;
  describePod(name: string): Promise<string>;
  /** Waits for `kubectl get pod` to show READY `ready` and STATUS `status` with no restarts; returns the row. */
  waitForPodRow(name: string, ready: string, status: string): Promise<string>;
  /** The pod's UID; asserts it looks like one. */
  podUid(name: string): Promise<string>;
  /** The pod's events, oldest first. */
  eventsFor(name: string): Promise<EventRow[]>;
}

/**
 * PodQueries over `kubectl`. `reactMs` bounds waitForPodRow; with
 * `missingPodIsEmpty` a pod that does not exist (yet) reads as an empty row
 * instead of failing the kubectl call.
 */
export function podQueries(kubectl: (args: readonly string[], options?: KubectlOptions) => Promise<KubectlResult>, options: { reactMs: number; missingPodIsEmpty?: boolean }): PodQueries {
  const podRow = async (name: string): Promise<string> => (await kubectl(['get', 'pod', name, '--no-headers'], options.missingPodIsEmpty === true ? { allowFail: true } : {})).stdout.trim();
  const describePod = async (name: string): Promise<string> => (await kubectl(['describe', 'pod', name], { allowFail: true })).stdout;
  return {
    podRow,
    describePod,
    async waitForPodRow(name, ready, status) {
      const want = new RegExp(`^${name}\\s+${ready.replace('/', '\\/')}\\s+${status}\\s+0\\s`);
      let last = '';
      try {
        return await waitFor(
          `pod ${name} ${ready} ${status}`,
          async () => {
            last = await podRow(name);
            return want.test(last) ? last : undefined;
          },
          { timeoutMs: options.reactMs, intervalMs: 250 },
        );
      } catch (err) {
        assert.fail(`pod ${name} never showed ${ready} ${status}; last row: ${last}; ${await describePod(name)}\n(${String(err)})`);
      }
    },
    async podUid(name) {
      const uid = (await kubectl(['get', 'pod', name, '-o', 'jsonpath={.metadata.uid}'])).stdout.trim();
      assert.match(uid, /^[0-9a-f-]{36}$/);
      return uid;
    },
    async eventsFor(name) {
      const out = await kubectl(['get', 'events', '--field-selector', `involvedObject.kind=Pod,involvedObject.name=${name}`, '-o', 'json']);
      return (JSON.parse(out.stdout) as { items: EventRow[] }).items.map((e) => ({ type: e.type, reason: e.reason, message: e.message }));
    },
  };
}
