// `kubectl logs` and `kubectl exec` end to end: the real kubectl → the volplane API server
// (pods/log, pods/exec) → a kubelet server → a runtime.
//
// The runtime here is a stand-in at the process boundary (HostProcessRuntime, below, only in
// this file): containers are entries in a table, their logs are CRI files the test writes, and
// exec runs the command as an ordinary host process. Everything between kubectl and that
// boundary is real: TLS with the cluster CA both ways, the API server's kubelet-client
// certificate, the WebSocket channel protocol spliced through the API server, chunked log
// streams. A Node object points the API server at the kubelet server; pods get a status that
// says Running, as a node agent would report.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { WebSocket } from 'ws';
import { issueClientCertificate, issueServingCertificate, KUBELET_CLIENT_USER } from '../src/apiserver/authn/index.ts';
import { silentLogger, waitFor } from '../src/base/index.ts';
import {
  allowClientCommonName,
  exitCodeOf,
  startKubeletServer,
  type ExecStatus,
  type FoundContainer,
  type KubeletServer,
} from '../src/kubelet/server/index.ts';
import type { ExecStreams, ImageStore, Runtime, RuntimeContainer } from '../src/kubelet/runtime/types.ts';
import { createRuntime } from '../src/kubelet/runtime/index.ts';
import { findLeaks, hasKubectl, kubectlPath, startTestCluster, type KubectlResult, type TestCluster } from '../src/testing/index.ts';
import { call, endpointFromKubeconfig, expectStatus, type Endpoint } from './raw-client.ts';

const kubectlAvailable = hasKubectl();
const isRoot = process.getuid?.() === 0;

// ---- the stand-in runtime ---------------------------------------------------------------------

class StandInNotSupportedError extends Error {
  override readonly name = 'StandInNotSupportedError';
}

/** A stateful fake at the process boundary: a container table, CRI log files, exec as host processes. */
class HostProcessRuntime implements Runtime {
  readonly #root: string;
  readonly #containers = new Map<string, RuntimeContainer>();
  readonly #listeners = new Set<(c: RuntimeContainer) => void>();
  readonly images: ImageStore = {
    has: () => false,
    rootfs: (image) => {
      throw new StandInNotSupportedError(`no images in the stand-in runtime (${image})`);
    },
    import: () => Promise.reject(new StandInNotSupportedError('no images in the stand-in runtime')),
    list: () => [],
  };
  /** Every exec command seen, for assertions. */
  readonly execs: string[][] = [];

  constructor(root: string) {
    this.#root = root;
  }

  addRunning(id: string, podUid: string, name: string, restartCount: number): void {
    this.#containers.set(id, {
      id,
      podUid,
      name,
      image: 'busybox',
      restartCount,
      status: { state: 'running', pid: process.pid, startedAt: new Date().toISOString() },
    });
  }

  exit(id: string, exitCode: number): void {
    const c = this.#containers.get(id);
    assert.ok(c !== undefined && c.status.state === 'running', `container ${id} is not running`);
    const next: RuntimeContainer = {
      ...c,
      status: {
        state: 'exited',
        exitCode,
        startedAt: c.status.startedAt,
        finishedAt: new Date().toISOString(),
        reason: exitCode === 0 ? 'Completed' : 'Error',
      },
    };
    this.#containers.set(id, next);
    for (const l of this.#listeners) l(next);
  }

  /** Appends one CRI log line to a container attempt's log. */
  log(podUid: string, name: string, restartCount: number, stream: 'stdout' | 'stderr', content: string, at = new Date()): void {
    const path = this.logPath(podUid, name, restartCount);
    mkdirSync(dirname(path), { recursive: true });
    const time = at.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
    appendFileSync(path, `${time} ${stream} F ${content}\n`);
  }

  startContainer(): Promise<RuntimeContainer> {
    return Promise.reject(new StandInNotSupportedError('the stand-in runtime does not start containers'));
  }
  stopContainer(): Promise<void> {
    return Promise.resolve();
  }
  removeContainer(id: string): Promise<void> {
    this.#containers.delete(id);
    return Promise.resolve();
  }
  listContainers(): RuntimeContainer[] {
    return [...this.#containers.values()];
  }
  onChange(listener: (c: RuntimeContainer) => void): { dispose(): void } {
    this.#listeners.add(listener);
    return { dispose: () => this.#listeners.delete(listener) };
  }
  logPath(podUid: string, containerName: string, restartCount: number): string {
    return join(this.#root, 'pods', podUid, 'containers', containerName, `${restartCount}.log`);
  }

  exec(id: string, command: string[], streams: ExecStreams, signal?: AbortSignal): Promise<number> {
    const c = this.#containers.get(id);
    if (c === undefined || c.status.state !== 'running') return Promise.reject(new Error(`container ${id} is not running`));
    this.execs.push(command);
    return new Promise((resolve, reject) => {
      const child = spawn(command[0], command.slice(1), {
        cwd: this.#root,
        stdio: [streams.stdin ? 'pipe' : 'ignore', streams.stdout ? 'pipe' : 'ignore', streams.stderr ? 'pipe' : 'ignore'],
      });
      if (streams.stdin !== undefined && child.stdin !== null) {
        child.stdin.on('error', () => {});
        (streams.stdin as Readable).pipe(child.stdin);
      }
      if (streams.stdout !== undefined && child.stdout !== null) child.stdout.pipe(streams.stdout as Writable, { end: false });
      if (streams.stderr !== undefined && child.stderr !== null) child.stderr.pipe(streams.stderr as Writable, { end: false });
      const onAbort = (): void => {
        child.kill('SIGKILL');
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      });
      child.on('close', (code) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(code ?? 137);
      });
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

// ---- helpers --------------------------------------------------------------------------------------

interface PodSetup {
  name: string;
  node?: string;
  containers: string[];
  phase: string;
  containerStatuses: Record<string, unknown>[];
}

function runningStatus(name: string, restartCount: number, previous: boolean): Record<string, unknown> {
  const status: Record<string, unknown> = {
    name,
    ready: true,
    restartCount,
    image: 'busybox',
    imageID: 'busybox',
    containerID: `volplane://${name}-${restartCount}`,
    started: true,
    state: { running: { startedAt: new Date().toISOString() } },
    lastState: {},
  };
  if (previous) {
    status.lastState = {
      terminated: { exitCode: 1, reason: 'Error', startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), containerID: `volplane://${name}-${restartCount - 1}` },
    };
  }
  return status;
}

async function createPod(ep: Endpoint, ns: string, pod: PodSetup): Promise<string> {
  const created = await call(ep, 'POST', `/api/v1/namespaces/${ns}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name },
    spec: { nodeName: pod.node ?? 'node-a', containers: pod.containers.map((name) => ({ name, image: 'busybox', command: ['sleep', '3600'] })) },
  });
  expectStatus(created, 201, `create pod ${pod.name}`);
  const obj = created.json() as { metadata: { uid: string }; status?: Record<string, unknown> };
  const updated = await call(ep, 'PUT', `/api/v1/namespaces/${ns}/pods/${pod.name}/status`, {
    ...obj,
    status: { ...(obj.status ?? {}), phase: pod.phase, containerStatuses: pod.containerStatuses },
  });
  expectStatus(updated, 200, `status of pod ${pod.name}`);
  return obj.metadata.uid;
}

/** One exec over the API server's WebSocket as client-node does it (several protocols offered). */
function rawExec(
  ep: Endpoint,
  path: string,
  protocols: string[],
  input?: string,
): Promise<{ protocol: string; stdout: string; stderr: string; status: ExecStatus | undefined; httpStatus?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(new URL(path, ep.server), protocols, { ca: ep.ca, cert: ep.cert, key: ep.key });
    let stdout = '';
    let stderr = '';
    let status: ExecStatus | undefined;
    ws.on('open', () => {
      if (input !== undefined) {
        ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(input)]));
        ws.send(Buffer.from([255, 0]));
      }
    });
    ws.on('message', (data: Buffer) => {
      const payload = data.subarray(1).toString('utf8');
      if (data[0] === 1) stdout += payload;
      else if (data[0] === 2) stderr += payload;
      else if (data[0] === 3) status = JSON.parse(payload) as ExecStatus;
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ protocol: '', stdout, stderr, status, httpStatus: res.statusCode, body }));
    });
    ws.on('close', () => resolve({ protocol: ws.protocol, stdout, stderr, status }));
    ws.on('error', reject);
  });
}

// ---- the suite ------------------------------------------------------------------------------------

describe('kubectl logs and exec through the API server and a kubelet', { skip: !kubectlAvailable && 'kubectl not installed' }, () => {
  let cluster: TestCluster;
  let ep: Endpoint;
  let kubelet: KubeletServer;
  let runtime: HostProcessRuntime;
  let work: string;
  const ns = 'default';
  const found = new Map<string, FoundContainer>();
  const uids = new Map<string, string>();

  const kubectl = (args: string[], input?: string): Promise<KubectlResult> => cluster.kubectl(args, { allowFail: true, ...(input === undefined ? {} : { input }) });

  /** kubectl as a child process, for commands that keep running (logs -f). */
  const spawnKubectl = (args: string[]): { child: ChildProcess; out: () => string; err: () => string } => {
    const child = spawn(kubectlPath()!, ['--cache-dir', join(work, 'cache'), ...args], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath, HOME: work },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    return { child, out: () => out, err: () => err };
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'volplane-exec-logs-'));
    cluster = await startTestCluster();
    ep = endpointFromKubeconfig(cluster.kubeconfigPath);
    const pki = join(cluster.dataDir, 'pki');
    const ca = { cert: await readFile(join(pki, 'ca.crt'), 'utf8'), key: await readFile(join(pki, 'ca.key'), 'utf8') };
    const serving = await issueServingCertificate(ca);
    runtime = new HostProcessRuntime(join(work, 'runtime'));
    kubelet = await startKubeletServer({
      runtime,
      nodeName: 'node-a',
      host: '127.0.0.1',
      port: 0,
      tls: { cert: serving.cert, key: serving.key, ca: ca.cert },
      authorize: allowClientCommonName(KUBELET_CLIENT_USER),
      logger: silentLogger(),
      findContainer: (namespace, pod, container) => found.get(`${namespace}/${pod}/${container}`),
    });
    const node = await call(ep, 'POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-a' },
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: 'node-a' }],
        daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } },
      },
    });
    expectStatus(node, 201, 'create node');

    // one: a single container in its second attempt (restart 1), with a previous attempt's log.
    uids.set('one', await createPod(ep, ns, { name: 'one', containers: ['main'], phase: 'Running', containerStatuses: [runningStatus('main', 1, true)] }));
    // two: two containers, no previous attempts.
    uids.set('two', await createPod(ep, ns, {
      name: 'two',
      containers: ['main', 'side'],
      phase: 'Running',
      containerStatuses: [runningStatus('main', 0, false), runningStatus('side', 0, false)],
    }));
    // three: still being created.
    uids.set('three', await createPod(ep, ns, {
      name: 'three',
      containers: ['c'],
      phase: 'Pending',
      containerStatuses: [{ name: 'c', ready: false, restartCount: 0, image: 'busybox', imageID: '', state: { waiting: { reason: 'ContainerCreating' } } }],
    }));
    // done: finished.
    uids.set('done', await createPod(ep, ns, { name: 'done', containers: ['main'], phase: 'Succeeded', containerStatuses: [] }));

    const one = uids.get('one')!;
    runtime.addRunning('one-main-1', one, 'main', 1);
    found.set(`${ns}/one/main`, { id: 'one-main-1', podUid: one, restartCount: 1, previousRestartCount: 0 });
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    runtime.log(one, 'main', 0, 'stdout', 'from the previous attempt', twoHoursAgo);
    runtime.log(one, 'main', 1, 'stdout', 'an old line', twoHoursAgo);
    for (let i = 1; i <= 4; i++) runtime.log(one, 'main', 1, i === 3 ? 'stderr' : 'stdout', `line ${i}`);

    const two = uids.get('two')!;
    for (const c of ['main', 'side']) {
      runtime.addRunning(`two-${c}-0`, two, c, 0);
      found.set(`${ns}/two/${c}`, { id: `two-${c}-0`, podUid: two, restartCount: 0 });
      runtime.log(two, c, 0, 'stdout', `hello from ${c}`);
    }
  });

  after(async () => {
    await kubelet?.close();
    await cluster?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  // ---- logs ----

  const logRows: { name: string; args: string[]; code: number; stdout?: string; stderr?: RegExp }[] = [
    { name: 'logs-1 whole log of the only container, stdout and stderr', args: ['logs', 'one'], code: 0, stdout: 'an old line\nline 1\nline 2\nline 3\nline 4\n' },
    { name: 'logs-2 --tail keeps the last lines', args: ['logs', 'one', '--tail=2'], code: 0, stdout: 'line 3\nline 4\n' },
    { name: 'logs-3 --since drops older lines', args: ['logs', 'one', '--since=1h'], code: 0, stdout: 'line 1\nline 2\nline 3\nline 4\n' },
    { name: 'logs-4 --limit-bytes cuts the stream', args: ['logs', 'one', '--limit-bytes=15'], code: 0, stdout: 'an old line\nlin' },
    { name: 'logs-5 --previous reads the previous attempt', args: ['logs', 'one', '--previous'], code: 0, stdout: 'from the previous attempt\n' },
    { name: 'logs-6 -c picks a container', args: ['logs', 'two', '-c', 'side'], code: 0, stdout: 'hello from side\n' },
    {
      name: 'logs-7 --previous without a previous attempt',
      args: ['logs', 'two', '-c', 'main', '--previous'],
      code: 1,
      stderr: /previous terminated container "main" in pod "two" not found/,
    },
    { name: 'logs-8 unknown container', args: ['logs', 'two', '-c', 'nope'], code: 1, stderr: /container nope is not valid for pod two/ },
    { name: 'logs-9 container not started yet', args: ['logs', 'three'], code: 1, stderr: /container "c" in pod "three" is waiting to start: ContainerCreating/ },
    { name: 'logs-10 unknown pod', args: ['logs', 'nopod'], code: 1, stderr: /pods "nopod" not found/ },
  ];
  for (const row of logRows) {
    it(row.name, async () => {
      const r = await kubectl(row.args);
      assert.equal(r.code, row.code, `exit code; stderr: ${r.stderr}`);
      if (row.stdout !== undefined) assert.equal(r.stdout, row.stdout);
      if (row.stderr !== undefined) assert.match(r.stderr, row.stderr);
    });
  }

  it('logs-11 --timestamps prefixes each line with its RFC 3339 time', async () => {
    const r = await kubectl(['logs', 'one', '--timestamps', '--tail=1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z line 4\n$/);
  });

  it('logs-12 the API server asks for a container when the pod has several', async () => {
    const r = await call(ep, 'GET', `/api/v1/namespaces/${ns}/pods/two/log`);
    expectStatus(r, 400, 'log without container');
    assert.equal((r.json() as { message: string }).message, 'a container name must be specified for pod two, choose one of: [main side]');
  });

  it('logs-13 -f streams lines appended later and ends when the container exits', async () => {
    const one = uids.get('one')!;
    const follow = spawnKubectl(['logs', '-f', 'one']);
    try {
      await waitFor('the existing lines', () => follow.out().includes('line 4\n'), { timeoutMs: 20_000 });
      runtime.log(one, 'main', 1, 'stdout', 'line 5, written later');
      await waitFor('the appended line', () => follow.out().includes('line 5, written later\n'), { timeoutMs: 10_000 });
      const exited = new Promise<number | null>((resolve) => follow.child.on('exit', (code) => resolve(code)));
      runtime.log(one, 'main', 1, 'stdout', 'last words');
      runtime.exit('one-main-1', 0);
      assert.equal(await exited, 0, follow.err());
      assert.ok(follow.out().endsWith('line 5, written later\nlast words\n'), follow.out());
    } finally {
      follow.child.kill('SIGKILL');
    }
    runtime.addRunning('one-main-1', one, 'main', 1);
  });

  // ---- exec ----

  it('exec-1 prints the output and exits with the command exit code', async () => {
    const r = await kubectl(['exec', 'one', '--', 'sh', '-c', 'echo hi; exit 3']);
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /command terminated with exit code 3/);
  });

  it('exec-2 keeps stdout and stderr apart', async () => {
    const r = await kubectl(['exec', 'two', '-c', 'side', '--', 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.match(r.stderr, /^err$/m);
  });

  it('exec-3 -i passes stdin through and closes it at EOF', async () => {
    const r = await kubectl(['exec', '-i', 'one', '--', 'sh', '-c', 'tr a-z A-Z; echo done'], 'hello stdin\nsecond line\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'HELLO STDIN\nSECOND LINE\ndone\n');
  });

  const execErrorRows: { name: string; args: string[]; stderr: RegExp }[] = [
    { name: 'exec-4 unknown container (reported by the SPDY retry)', args: ['exec', 'two', '-c', 'nope', '--', 'true'], stderr: /container nope is not valid for pod two/ },
    { name: 'exec-5 unknown pod', args: ['exec', 'nopod', '--', 'true'], stderr: /pods "nopod" not found/ },
    { name: 'exec-6 completed pod', args: ['exec', 'done', '--', 'true'], stderr: /cannot exec into a container in a completed pod; current phase is Succeeded/ },
  ];
  for (const row of execErrorRows) {
    it(row.name, async () => {
      const r = await kubectl(row.args);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, row.stderr);
    });
  }

  it('exec-7 a kubelet failure reaches kubectl through the SPDY retry', async () => {
    runtime.exit('two-main-0', 0);
    try {
      const r = await kubectl(['exec', 'two', '-c', 'main', '--', 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /container "main" in pod "two" is not running/);
    } finally {
      runtime.addRunning('two-main-0', uids.get('two')!, 'main', 0);
    }
  });

  it('exec-8 v4 as client-node offers it: status on channel 3 carries the exit code', async () => {
    const path = `/api/v1/namespaces/${ns}/pods/one/exec?command=sh&command=-c&command=echo%20v4;exit%205&container=main&stdin=false&stdout=true&stderr=true&tty=false`;
    const r = await rawExec(ep, path, ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'].slice(1));
    assert.equal(r.protocol, 'v4.channel.k8s.io');
    assert.equal(r.stdout, 'v4\n');
    assert.ok(r.status !== undefined);
    assert.equal(r.status.message, 'command terminated with non-zero exit code: error executing command [sh -c echo v4;exit 5], exit code 5');
    assert.equal(exitCodeOf(r.status), 5);
  });

  it('exec-9 v5 over a raw WebSocket: exit status decodes to the exit code', async () => {
    const path = `/api/v1/namespaces/${ns}/pods/one/exec?command=sh&command=-c&command=cat;exit%205&container=main&stdin=true&stdout=true&stderr=true`;
    const r = await rawExec(ep, path, ['v5.channel.k8s.io'], 'piped');
    assert.equal(r.protocol, 'v5.channel.k8s.io');
    assert.equal(r.stdout, 'piped');
    assert.ok(r.status !== undefined);
    assert.equal(exitCodeOf(r.status), 5);
    assert.deepEqual(r.status.details?.causes, [{ reason: 'ExitCode', message: '5' }]);
  });

  it('exec-10 the WebSocket answer to a bad request is a Status, not a 101', async () => {
    const r = await rawExec(ep, `/api/v1/namespaces/${ns}/pods/two/exec?command=true&container=nope&stdout=true`, ['v5.channel.k8s.io']);
    assert.equal(r.httpStatus, 400);
    assert.equal((JSON.parse(r.body ?? '{}') as { message?: string }).message, 'container nope is not valid for pod two');
  });

  it('exec-11 without a connection upgrade the server explains that it needs one', async () => {
    const r = await call(ep, 'POST', `/api/v1/namespaces/${ns}/pods/one/exec?command=true&container=main&stdout=true`, undefined, {
      'X-Stream-Protocol-Version': 'v4.channel.k8s.io',
    });
    expectStatus(r, 400, 'exec without an upgrade');
    assert.match((r.json() as { message: string }).message, /needs a connection upgrade/);
  });

  // ---- the kubelet's own door ----

  it('kubelet-1 only the API server identity gets in', async () => {
    const pki = join(cluster.dataDir, 'pki');
    const ca = { cert: await readFile(join(pki, 'ca.crt'), 'utf8'), key: await readFile(join(pki, 'ca.key'), 'utf8') };
    const stranger = await issueClientCertificate(ca, { user: 'someone-else' });
    const get = (creds: { cert?: string; key?: string }): Promise<number> =>
      call(
        { server: new URL(`https://127.0.0.1:${kubelet.port}`), ca: ca.cert, cert: creds.cert ?? '', key: creds.key ?? '' } as Endpoint,
        'GET',
        `/containerLogs/${ns}/one/main`,
      ).then((r) => r.status);
    assert.equal(await get({}), 401);
    assert.equal(await get(stranger), 403);
  });

  it('exec-12 stopping the API server ends an open exec session instead of waiting for it', async () => {
    const before = runtime.execs.length;
    const session = rawExec(ep, `/api/v1/namespaces/${ns}/pods/one/exec?command=sleep&command=60&container=main&stdout=true`, ['v5.channel.k8s.io']);
    await waitFor('the exec to start', () => runtime.execs.length > before);
    const started = Date.now();
    await cluster.restart();
    const r = await session;
    assert.ok(Date.now() - started < 20_000, 'restart waited for the exec');
    assert.equal(r.status, undefined, 'no exit status: the session was cut');
    // The restarted server serves exec again.
    const again = await kubectl(['exec', 'one', '--', 'echo', 'back']);
    assert.equal(again.stdout, 'back\n', again.stderr);
  });
});

describe('kubectl logs and exec with the real runtime and a busybox container', {
  skip: (!kubectlAvailable && 'kubectl not installed') || (!isRoot && 'the container runtime needs root'),
}, () => {
  let cluster: TestCluster;
  let ep: Endpoint;
  let kubelet: KubeletServer;
  let runtime: Runtime;
  let work: string;
  let containerId: string;
  const kubectl = (args: string[], input?: string): Promise<KubectlResult> => cluster.kubectl(args, { allowFail: true, ...(input === undefined ? {} : { input }) });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'volplane-exec-logs-busybox-'));
    cluster = await startTestCluster();
    ep = endpointFromKubeconfig(cluster.kubeconfigPath);
    const pki = join(cluster.dataDir, 'pki');
    const ca = { cert: await readFile(join(pki, 'ca.crt'), 'utf8'), key: await readFile(join(pki, 'ca.key'), 'utf8') };
    const serving = await issueServingCertificate(ca);
    runtime = await createRuntime({ root: join(work, 'node'), logger: silentLogger() });
    let found: FoundContainer | undefined;
    kubelet = await startKubeletServer({
      runtime,
      nodeName: 'node-b',
      host: '127.0.0.1',
      port: 0,
      tls: { cert: serving.cert, key: serving.key, ca: ca.cert },
      authorize: allowClientCommonName(KUBELET_CLIENT_USER),
      logger: silentLogger(),
      findContainer: (namespace, pod, container) => (namespace === 'default' && pod === 'bb' && container === 'main' ? found : undefined),
    });
    expectStatus(
      await call(ep, 'POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'node-b' },
        status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } } },
      }),
      201,
      'create node',
    );
    const uid = await createPod(ep, 'default', { name: 'bb', node: 'node-b', containers: ['main'], phase: 'Running', containerStatuses: [runningStatus('main', 0, false)] });
    const c = await runtime.startContainer({
      podUid: uid,
      podName: 'bb',
      podNamespace: 'default',
      hostname: 'bb',
      name: 'main',
      image: 'busybox',
      command: ['sh', '-c', 'echo started in busybox; sleep 3600'],
      args: [],
      env: [],
      mounts: [],
      restartCount: 0,
    });
    containerId = c.id;
    found = { id: c.id, podUid: uid, restartCount: 0 };
  });

  after(async () => {
    await kubelet?.close();
    if (runtime !== undefined) {
      if (containerId !== undefined) {
        await runtime.stopContainer(containerId, 1);
        await runtime.removeContainer(containerId);
      }
      await runtime.close();
    }
    await cluster?.close();
    if (work !== undefined) {
      await rm(work, { recursive: true, force: true });
      assert.deepEqual((await findLeaks()).filter((l) => l.includes(work)), []);
    }
  });

  it('busybox-1 logs show what the container wrote', async () => {
    await waitFor('the first log line', async () => (await kubectl(['logs', 'bb'])).stdout === 'started in busybox\n', { timeoutMs: 10_000 });
  });

  it('busybox-2 exec runs inside the container and returns its exit code', async () => {
    const r = await kubectl(['exec', 'bb', '--', 'sh', '-c', 'echo hi; hostname; exit 3']);
    assert.equal(r.stdout, 'hi\nbb\n');
    assert.equal(r.code, 3, r.stderr);
  });

  it('busybox-3 exec -i feeds stdin', async () => {
    const r = await kubectl(['exec', '-i', 'bb', '--', 'sh', '-c', 'tr a-z A-Z'], 'through the pipe\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'THROUGH THE PIPE\n');
  });
});
