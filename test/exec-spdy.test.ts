// `kubectl exec` over SPDY/3.1, end to end: the real kubectl with
// KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false (so it goes straight to SPDY, as
// kubectl before 1.30 always does) → the volplane API server, which terminates
// SPDY and bridges the streams onto a WebSocket → the in-process node's
// kubelet → a busybox container of the real runtime.
//
// The kubectl rows prove the transport they used: kubectl runs with -v=6,
// which logs each request with its method and answer, and a SPDY exec is the
// only `POST …/exec?… 101` (a WebSocket exec is a GET). One cluster for the
// file; needs root (the node runs real containers) and kubectl.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../src/base/index.ts';
import { hasKubectl, kubectlPath, startTestCluster, type KubectlResult, type TestCluster } from '../src/testing/index.ts';
import { call, endpointFromKubeconfig, expectStatus } from './raw-client.ts';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root: the node runs real containers' : !hasKubectl() ? 'kubectl is not installed' : false;

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: spdy
spec:
  containers:
    - name: main
      image: busybox
      command: ["sleep", "86400"]
`;

/** kubectl's -v=6 line for an exec request: method, URL, answer. */
const EXEC_REQUEST = /\b(GET|POST) https:\/\/\S+\/api\/v1\/namespaces\/default\/pods\/spdy\/exec\?(\S+) (\d{3})/;

/** Older kubectl builds the machine may have (the gcloud SDK's); they speak only SPDY. */
const OLD_KUBECTLS = ['1.27', '1.29']
  .map((v) => ({ version: v, path: `/usr/lib/google-cloud-sdk/bin/kubectl.${v}` }))
  .filter((k) => existsSync(k.path));

/** util-linux `script` gives kubectl a terminal, the only way it really sends tty=true. */
const hasScript = spawnSync('script', ['--version']).status === 0;

describe('kubectl exec over SPDY/3.1 (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false)', { skip }, () => {
  let cluster: TestCluster;
  /** kubectl's HOME (its discovery cache): never the developer's own. */
  let home: string;

  interface ExecResult extends KubectlResult {
    /** The exec requests kubectl logged: "POST 101" is a SPDY upgrade, "GET 101" a WebSocket. */
    transport: string;
    /** Their query strings. */
    queries: string[];
  }

  /** kubectl exec with SPDY forced and request logging on. */
  async function exec(args: string[], input?: string, options: { env?: NodeJS.ProcessEnv; kubectl?: string } = {}): Promise<ExecResult> {
    const env = { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false', ...options.env };
    const r = await run(options.kubectl ?? kubectlPath()!, ['-v=6', 'exec', ...args], input, env);
    return withTransport(r);
  }

  function withTransport(r: KubectlResult): ExecResult {
    const lines = r.stderr.split('\n');
    const requests = lines.map((l) => EXEC_REQUEST.exec(l)).filter((m) => m !== null);
    // What the user would see: kubectl's own messages without the request log.
    const stderr = lines.filter((l) => !/^[IW]\d{4} /.test(l)).join('\n');
    return { ...r, stderr, transport: requests.map((m) => `${m[1]} ${m[3]}`).join(', '), queries: requests.map((m) => m[2]) };
  }

  /** cluster.kubectl cannot take extra environment or another binary; this can. */
  function run(command: string, args: string[], input: string | undefined, extraEnv: NodeJS.ProcessEnv): Promise<KubectlResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath, HOME: home, ...extraEnv },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 137, stdout, stderr });
      });
      child.stdin.on('error', () => {});
      child.stdin.end(input ?? '');
    });
  }

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'volplane-exec-spdy-'));
    cluster = await startTestCluster({ node: true, controllers: true });
    await cluster.kubectl(['apply', '--validate=false', '-f', '-'], { input: POD });
    await waitFor(
      'pod spdy Running',
      async () => (await cluster.kubectl(['get', 'pod', 'spdy', '-o', 'jsonpath={.status.phase}'])).stdout === 'Running',
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  });

  after(async () => {
    if (home !== undefined) await rm(home, { recursive: true, force: true });
    if (cluster === undefined) return;
    await cluster.kubectl(['delete', 'pod', 'spdy', '--grace-period=1', '--wait=true'], { allowFail: true, timeoutMs: 60_000 });
    await cluster.close();
  });

  it('spdy-1 echo prints its output, over SPDY', async () => {
    const r = await exec(['spdy', '--', 'echo', 'hi']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.transport, 'POST 101', 'kubectl used one SPDY upgrade');
  });

  it('spdy-2 stdin is piped through and its end reaches the command', async () => {
    const r = await exec(['-i', 'spdy', '--', 'cat'], 'data\nmore data\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'data\nmore data\n');
    assert.equal(r.transport, 'POST 101');
  });

  it('spdy-3 a non-zero exit code propagates', async () => {
    const r = await exec(['spdy', '--', 'sh', '-c', 'exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /command terminated with exit code 3/);
    assert.equal(r.transport, 'POST 101');
  });

  it('spdy-4 stdout and stderr stay apart', async () => {
    const r = await exec(['spdy', '--', 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.match(r.stderr, /^err$/m);
    assert.doesNotMatch(r.stdout, /err/);
    assert.equal(r.transport, 'POST 101');
  });

  it('spdy-5 -it in a terminal: tty=true, the resize stream is opened and the session works', { skip: !hasScript && 'util-linux script is not installed' }, async () => {
    // kubectl sends tty=true only when its stdin is a terminal; `script` gives it one (with a
    // size, which kubectl sends on the resize stream). The bridge waits for every stream the
    // request implies, resize included, so a missing one would hang here until the timeout.
    const command = `stty cols 123 rows 45; exec ${kubectlPath()!} -v=6 exec -it spdy -- sh -c 'echo tty-ok'`;
    const r = withTransport(await run('script', ['-qec', command, '/dev/null'], undefined, {
      KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false',
    }));
    assert.equal(r.code, 0, r.stdout);
    // script merges kubectl's stdout and stderr into its own stdout.
    const all = withTransport({ ...r, stderr: r.stdout });
    assert.match(all.stderr, /tty-ok/);
    assert.equal(all.transport, 'POST 101');
    assert.match(all.queries[0], /(^|&)tty=true(&|$)/);
  });

  it('spdy-6 a large output is not held back by flow control', async () => {
    // 2 MiB, thirty times SPDY's initial 64 KiB window; kubectl never sends WINDOW_UPDATE.
    const r = await exec(['spdy', '--', 'sh', '-c', 'head -c 2097152 /dev/zero | tr "\\0" a']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, 2 * 1024 * 1024);
    assert.match(r.stdout, /^a+$/);
    assert.equal(r.transport, 'POST 101');
  });

  it('spdy-7 a large input reaches the command whole', async () => {
    const input = 'x'.repeat(1024 * 1024);
    const r = await exec(['-i', 'spdy', '--', 'wc', '-c'], input);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), String(input.length));
    assert.equal(r.transport, 'POST 101');
  });

  it('spdy-8 errors before the upgrade come back as Statuses', async () => {
    const r = await exec(['spdy', '-c', 'nope', '--', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /container nope is not valid for pod spdy/);
    assert.equal(r.transport, 'POST 400');
  });

  it('spdy-9 without the variable kubectl 1.30+ still uses its WebSocket', async () => {
    const r = await exec(['spdy', '--', 'echo', 'ws'], undefined, { env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'true' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ws\n');
    assert.equal(r.transport, 'GET 101');
  });

  for (const old of OLD_KUBECTLS) {
    it(`spdy-old-${old.version} kubectl ${old.version}, which has no WebSocket exec: stdin, output and exit code`, async () => {
      const r = await exec(['-i', 'spdy', '--', 'sh', '-c', 'cat; echo err >&2; exit 4'], 'from an old kubectl\n', { kubectl: old.path, env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: '' } });
      assert.equal(r.code, 4, r.stderr);
      assert.equal(r.stdout, 'from an old kubectl\n');
      assert.match(r.stderr, /^err$/m);
      assert.match(r.stderr, /command terminated with exit code 4/);
      assert.equal(r.transport, 'POST 101');
    });
  }

  it('spdy-10 a SPDY client offering only protocols we do not speak is refused before the upgrade', async () => {
    const ep = endpointFromKubeconfig(cluster.kubeconfigPath);
    const r = await call(ep, 'POST', '/api/v1/namespaces/default/pods/spdy/exec?command=true&stdout=true', undefined, {
      Connection: 'Upgrade',
      Upgrade: 'SPDY/3.1',
      'X-Stream-Protocol-Version': 'channel.k8s.io',
    });
    expectStatus(r, 403, 'SPDY exec offering only v1');
    assert.match((r.json() as { message: string }).message, /unable to negotiate protocol: client supports \[channel\.k8s\.io\]/);
  });

  it('spdy-11 an exec without any upgrade is told what it needs', async () => {
    const ep = endpointFromKubeconfig(cluster.kubeconfigPath);
    const r = await call(ep, 'POST', '/api/v1/namespaces/default/pods/spdy/exec?command=true&stdout=true');
    expectStatus(r, 400, 'exec without an upgrade');
    assert.match((r.json() as { message: string }).message, /needs a connection upgrade: a WebSocket .* or SPDY\/3\.1/);
  });

  it('spdy-13 a SPDY exec without credentials is refused like any request', async () => {
    const ep = { ...endpointFromKubeconfig(cluster.kubeconfigPath), cert: '', key: '' };
    const r = await call(ep, 'POST', '/api/v1/namespaces/default/pods/spdy/exec?command=true&stdout=true', undefined, {
      Connection: 'Upgrade',
      Upgrade: 'SPDY/3.1',
      'X-Stream-Protocol-Version': 'v4.channel.k8s.io',
    });
    expectStatus(r, 401, 'SPDY exec without a client certificate');
  });

  // Last: it restarts the API server.
  it('spdy-12 stopping the API server ends an open SPDY session instead of waiting for it', async () => {
    const session = exec(['spdy', '--', 'sleep', '60']);
    await waitFor('the session to be open', async () => {
      const ps = await cluster.kubectl(['exec', 'spdy', '--', 'ps'], { allowFail: true });
      return /sleep 60/.test(ps.stdout);
    });
    const started = Date.now();
    await cluster.restart();
    const r = await session;
    assert.ok(Date.now() - started < 20_000, 'the restart waited for the session');
    assert.notEqual(r.code, 0, 'no exit status: the session was cut');
    const again = await exec(['spdy', '--', 'echo', 'back']);
    assert.equal(again.stdout, 'back\n', again.stderr);
    assert.equal(again.transport, 'POST 101');
  });
});
