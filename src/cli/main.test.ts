import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from '../base/index.ts';
import { parseCommand, readyLine, UsageError, type Command } from './main.ts';
import { defaultDataDir } from './data-dir.ts';

const LAUNCHER = resolve(import.meta.dirname, '../../bin/volplane.mjs');

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the real `volplane` executable. */
function volplane(args: string[]): Run {
  const child = spawn(process.execPath, [LAUNCHER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.on('close', (code, signal) => resolveExit({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

test('parseCommand', async (t) => {
  const up = (args: Partial<Extract<Command, { name: 'up' }>['args']> = {}): Command => ({
    name: 'up',
    args: { dataDir: resolve(defaultDataDir()), apiHost: '127.0.0.1', apiPort: 6443, ...args },
  });
  const rows: { name: string; argv: string[]; want: Command | 'usage' }[] = [
    { name: 'no command shows help', argv: [], want: { name: 'help' } },
    { name: 'help command', argv: ['help'], want: { name: 'help' } },
    { name: '--help flag wins over a command', argv: ['up', '--help'], want: { name: 'help' } },
    { name: '-h', argv: ['-h'], want: { name: 'help' } },
    { name: 'version', argv: ['version'], want: { name: 'version' } },
    { name: 'up with defaults', argv: ['up'], want: up() },
    {
      name: 'up with every flag (what `npm start -- …` passes through)',
      argv: ['up', '--data-dir', 'rel/dir', '--api-port', '7443', '--api-host', '0.0.0.0', '--log-level', 'debug', '--token-auth-file', 't.csv'],
      want: up({ dataDir: resolve('rel/dir'), apiPort: 7443, apiHost: '0.0.0.0', logLevel: 'debug', tokenAuthFile: resolve('t.csv') }),
    },
    { name: '--flag=value form', argv: ['up', '--api-port=0'], want: up({ apiPort: 0 }) },
    { name: 'unknown command', argv: ['down'], want: 'usage' },
    { name: 'unknown flag', argv: ['up', '--port', '1'], want: 'usage' },
    { name: 'extra argument', argv: ['up', 'now'], want: 'usage' },
    { name: 'port out of range', argv: ['up', '--api-port', '65536'], want: 'usage' },
    { name: 'port not a number', argv: ['up', '--api-port', '64k'], want: 'usage' },
    { name: 'negative port', argv: ['up', '--api-port=-1'], want: 'usage' },
    { name: 'unknown log level', argv: ['up', '--log-level', 'chatty'], want: 'usage' },
    { name: 'flag without its value', argv: ['up', '--data-dir'], want: 'usage' },
    { name: 'empty data dir', argv: ['up', '--data-dir='], want: 'usage' },
    {
      name: 'node with a kubelet port',
      argv: ['node', '--server', 'https://127.0.0.1:6443', '--token', 't', '--name', 'n1', '--root', '/tmp/n1', '--ca-cert', '/tmp/ca.crt', '--port', '0', '--no-csi-driver'],
      want: { name: 'node', args: { server: 'https://127.0.0.1:6443', token: 't', name: 'n1', root: '/tmp/n1', caCertFile: '/tmp/ca.crt', port: 0 } },
    },
    {
      name: 'node with the CSI driver for a given up data dir',
      argv: ['node', '--server', 'https://127.0.0.1:6443', '--token', 't', '--name', 'n1', '--root', '/tmp/n1', '--ca-cert', '/tmp/ca.crt', '--csi-controller-data-dir', '/tmp/up/csi'],
      want: { name: 'node', args: { server: 'https://127.0.0.1:6443', token: 't', name: 'n1', root: '/tmp/n1', caCertFile: '/tmp/ca.crt', csiControllerDataDir: '/tmp/up/csi' } },
    },
    {
      name: 'node with contradicting CSI driver flags',
      argv: ['node', '--server', 'https://x:1', '--token', 't', '--name', 'n1', '--csi-controller-data-dir', '/tmp/up/csi', '--no-csi-driver'],
      want: 'usage',
    },
    {
      name: 'up refuses a node flag for the CSI driver',
      argv: ['up', '--no-csi-driver'],
      want: 'usage',
    },
    { name: 'node with a bad kubelet port', argv: ['node', '--server', 'https://x:1', '--token', 't', '--name', 'n1', '--port', '70000'], want: 'usage' },
    { name: 'the kubelet port is a node flag', argv: ['up', '--port', '10250'], want: 'usage' },
  ];
  for (const row of rows) {
    await t.test(row.name, () => {
      if (row.want === 'usage') assert.throws(() => parseCommand(row.argv), UsageError);
      else assert.deepEqual(parseCommand(row.argv), row.want);
    });
  }
});

test('readyLine is one line that starts with the shell commands to run', () => {
  const line = readyLine({ url: 'https://127.0.0.1:6443', dataDir: '/d', kubeconfigPath: '/d/kubeconfig' });
  assert.ok(!line.includes('\n'));
  assert.ok(line.startsWith('volplane is ready: export KUBECONFIG=/d/kubeconfig; kubectl get pv,pvc,sc'), line);
  assert.match(line, /https:\/\/127\.0\.0\.1:6443/);
});

test('the volplane executable', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'volplane-cli-test-'));
  t.after(() => rm(root, { recursive: true, force: true }));

  const signalRows: { name: string; signals: NodeJS.Signals[] }[] = [
    { name: 'up prints one ready line on stdout and stops cleanly on SIGTERM', signals: ['SIGTERM'] },
    { name: 'a Ctrl-C that arrives twice (terminal and npm) still stops cleanly', signals: ['SIGINT', 'SIGINT'] },
  ];
  for (const [i, row] of signalRows.entries()) {
    await t.test(row.name, async () => {
      const dataDir = join(root, `data-${i}`);
      const run = volplane(['up', '--data-dir', dataDir, '--api-port', '0', '--log-level', 'warn']);
      try {
        await waitFor('the ready line', () => run.stdout().includes('\n') || run.child.exitCode !== null, { timeoutMs: 30_000 });
        assert.ok(
          run.stdout().startsWith(`volplane is ready: export KUBECONFIG=${join(dataDir, 'kubeconfig')}; kubectl get pv,pvc,sc`),
          `stdout: ${run.stdout()}\nstderr: ${run.stderr()}`,
        );
        for (const signal of row.signals) run.child.kill(signal);
        const { code, signal } = await run.exit;
        assert.deepEqual({ code, signal }, { code: 0, signal: null }, run.stderr());
        assert.equal(run.stdout().split('\n').filter((l) => l !== '').length, 1, run.stdout());
      } finally {
        run.child.kill('SIGKILL');
      }
    });
  }

  await t.test('up on a taken port exits 1 with a clear message', async () => {
    const blocker = createServer();
    await new Promise<void>((resolveListen) => blocker.listen(0, '127.0.0.1', resolveListen));
    t.after(() => blocker.close());
    const port = (blocker.address() as AddressInfo).port;
    const run = volplane(['up', '--data-dir', join(root, 'taken'), '--api-port', String(port), '--log-level', 'silent']);
    const { code } = await run.exit;
    assert.equal(code, 1);
    assert.equal(run.stdout(), '');
    assert.equal(run.stderr(), `volplane: cannot listen on 127.0.0.1:${port}: the port is already in use (another volplane or API server?); stop it or choose another port with --api-port\n`);
  });

  await t.test('a usage error exits 2', async () => {
    const run = volplane(['up', '--api-port', 'x']);
    assert.equal((await run.exit).code, 2);
    assert.match(run.stderr(), /--api-port must be a number/);
  });
});
