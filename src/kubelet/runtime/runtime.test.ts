// Real containers: real namespaces, overlay mounts and processes. Needs root
// and /usr/bin/busybox; skipped otherwise. Each row stops and removes what it
// started; the suite ends with the project's leak check.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { silentLogger, waitFor } from '../../base/index.ts';
import { findLeaks } from '../../testing/leak-check.ts';
import {
  ContainerNotFoundError,
  ImageNotFoundError,
  type Runtime,
  type RuntimeContainer,
  type RuntimeContainerSpec,
} from './types.ts';
import { ContainerNotRunningError, InvalidContainerSpecError, createRuntime } from './runtime.ts';
import { parseCriLogLine, readContainerLog } from './cri-log.ts';

const canRun = process.getuid?.() === 0 && existsSync('/usr/bin/busybox');
const opts = { skip: canRun ? false : 'needs root and /usr/bin/busybox' };

let root: string;
let rt: Runtime;
const POD = '8d2f1c4e-0000-4000-8000-000000000001';

before(async () => {
  if (!canRun) return;
  root = mkdtempSync(join(tmpdir(), 'volplane-runtime-'));
  rt = await createRuntime({ root: join(root, 'node'), logger: silentLogger(), pollIntervalMs: 50 });
});

after(async () => {
  if (!canRun) return;
  await rt.close();
  assert.deepEqual((await findLeaks()).filter((l) => l.includes(root)), [], 'nothing of ours left mounted');
  rmSync(root, { recursive: true, force: true });
});

function spec(name: string, command: string[], extra: Partial<RuntimeContainerSpec> = {}): RuntimeContainerSpec {
  return {
    podUid: POD,
    podName: 'demo',
    podNamespace: 'default',
    hostname: 'demo',
    name,
    image: 'busybox',
    command,
    args: [],
    env: [],
    mounts: [],
    restartCount: 0,
    ...extra,
  };
}

/** Starts containers for one row and always stops and removes them afterwards. */
async function withContainers(r: Runtime, body: (start: (s: RuntimeContainerSpec) => Promise<RuntimeContainer>) => Promise<void>): Promise<void> {
  const started: string[] = [];
  try {
    await body(async (s) => {
      const c = await r.startContainer(s);
      started.push(c.id);
      return c;
    });
  } finally {
    for (const id of started) await r.removeContainer(id);
  }
}

function exited(r: Runtime, id: string): Promise<Extract<RuntimeContainer['status'], { state: 'exited' }>> {
  return waitFor(`container ${id} to exit`, () => {
    const s = r.listContainers().find((c) => c.id === id)?.status;
    return s?.state === 'exited' ? s : undefined;
  });
}

async function run(r: Runtime, id: string, command: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await r.exec(id, command, { stdout, stderr, tty: false });
  return { code, out, err };
}

function logText(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
}

test('1 a finished command logs both streams in CRI format and is Completed', opts, () =>
  withContainers(rt, async (start) => {
    const c = await start(spec('hello', ['sh', '-c', 'echo hi; echo err >&2']));
    const status = await exited(rt, c.id);
    assert.equal(status.exitCode, 0);
    assert.equal(status.reason, 'Completed');
    const lines = logText(rt.logPath(POD, 'hello', 0));
    assert.equal(rt.logPath(POD, 'hello', 0), join(root, 'node/pods', POD, 'containers/hello/0.log'));
    assert.deepEqual(
      lines.map(parseCriLogLine).map((e) => [e?.stream, e?.partial, e?.content]).sort(),
      [['stderr', false, 'err'], ['stdout', false, 'hi']],
    );
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (stdout|stderr) F /);
  }));

test('2 a non-zero exit is Error with the code', opts, () =>
  withContainers(rt, async (start) => {
    const c = await start(spec('fail', ['sh', '-c', 'exit 3']));
    const status = await exited(rt, c.id);
    assert.deepEqual([status.reason, status.exitCode], ['Error', 3]);
  }));

test('3 args without command run in the image; env and workingDir apply', opts, () =>
  withContainers(rt, async (start) => {
    const c = await start(
      spec('env', [], {
        args: ['sh', '-c', 'echo "$GREETING|$(pwd)|$HOSTNAME|$PATH"'],
        env: [{ name: 'GREETING', value: "it's a $test; rm -rf /" }],
        workingDir: '/work/dir',
      }),
    );
    await exited(rt, c.id);
    const [line] = logText(rt.logPath(POD, 'env', 0)).map((l) => parseCriLogLine(l)?.content);
    assert.equal(line, "it's a $test; rm -rf /|/work/dir|demo|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  }));

test('4 a long-running container is PID 1 of its own namespace with its own hostname', opts, () =>
  withContainers(rt, async (start) => {
    const c = await start(spec('sleeper', ['sleep', '86400'], { hostname: 'sleepy-pod' }));
    assert.equal(c.status.state, 'running');
    // "running" means PID 1 is the command already, not the init script on
    // its way there (it writes its marker, then execs through env and
    // unshare): looked at from the host at once, before any exec could let
    // the last execs finish.
    assert.equal(readFileSync(`/proc/${c.status.state === 'running' ? c.status.pid : 0}/cmdline`, 'utf8'), 'sleep\x0086400\x00');
    const cmdline = await run(rt, c.id, ['cat', '/proc/1/cmdline']);
    assert.equal(cmdline.out, 'sleep\x0086400\x00');
    const ps = await run(rt, c.id, ['ps', '-o', 'pid,comm']);
    assert.match(ps.out, /^\s*1\s+sleep$/m);
    assert.equal((await run(rt, c.id, ['hostname'])).out, 'sleepy-pod\n');
    assert.equal((await run(rt, c.id, ['cat', '/etc/hostname'])).out, 'sleepy-pod\n');
    assert.notEqual(execFileSync('hostname', { encoding: 'utf8' }).trim(), 'sleepy-pod', 'host keeps its name');
    await rt.stopContainer(c.id, 0);
  }));

test('5 volumes: a dir appears at its path, writes reach the host, readOnly refuses', opts, () =>
  withContainers(rt, async (start) => {
    const data = join(root, 'vol-data');
    const config = join(root, 'vol-config');
    mkdirSync(data);
    mkdirSync(config);
    writeFileSync(join(config, 'setting'), 'on\n');
    const c = await start(
      spec('vols', ['sleep', '86400'], {
        mounts: [
          { hostPath: data, containerPath: '/data', readOnly: false },
          { hostPath: config, containerPath: '/etc/config', readOnly: true },
        ],
      }),
    );
    assert.equal((await run(rt, c.id, ['sh', '-c', 'echo written > /data/file'])).code, 0);
    assert.equal(readFileSync(join(data, 'file'), 'utf8'), 'written\n');
    assert.equal((await run(rt, c.id, ['cat', '/etc/config/setting'])).out, 'on\n');
    const denied = await run(rt, c.id, ['touch', '/etc/config/new']);
    assert.notEqual(denied.code, 0);
    assert.match(denied.err, /Read-only file system/);
    assert.equal(existsSync(join(config, 'new')), false);
    // The image itself is never written: changes stay in the container's layer.
    assert.equal((await run(rt, c.id, ['touch', '/bin/new-file'])).code, 0);
    assert.equal(existsSync(join(rt.images.rootfs('busybox'), 'bin/new-file')), false);
    await rt.stopContainer(c.id, 0);
  }));

test('6 two containers of a pod share an emptyDir-style host dir', opts, () =>
  withContainers(rt, async (start) => {
    const shared = join(root, 'shared');
    mkdirSync(shared);
    const mounts = [{ hostPath: shared, containerPath: '/cache', readOnly: false }];
    const writer = await start(spec('writer', ['sh', '-c', 'echo from-writer > /cache/msg; sleep 86400'], { mounts }));
    const reader = await start(spec('reader', ['sleep', '86400'], { mounts }));
    await waitFor('the writer to write', () => existsSync(join(shared, 'msg')));
    assert.equal((await run(rt, reader.id, ['cat', '/cache/msg'])).out, 'from-writer\n');
    await Promise.all([rt.stopContainer(writer.id, 0), rt.stopContainer(reader.id, 0)]);
  }));

test('7 exec returns output and exit code; refuses exited and unknown containers', opts, () =>
  withContainers(rt, async (start) => {
    const c = await start(spec('exec', ['sleep', '86400'], { env: [{ name: 'FROM_POD', value: 'yes' }] }));
    const r = await run(rt, c.id, ['sh', '-c', 'echo out; echo err >&2; echo $FROM_POD; exit 4']);
    assert.deepEqual(r, { code: 4, out: 'out\nyes\n', err: 'err\n' });
    const stdin = new PassThrough();
    stdin.end('piped input\n');
    const stdout = new PassThrough();
    let text = '';
    stdout.on('data', (d: Buffer) => (text += d.toString()));
    assert.equal(await rt.exec(c.id, ['cat'], { stdin, stdout, tty: false }), 0);
    assert.equal(text, 'piped input\n');
    await rt.stopContainer(c.id, 0);
    await assert.rejects(rt.exec(c.id, ['true'], { tty: false }), ContainerNotRunningError);
    await assert.rejects(rt.exec('nope', ['true'], { tty: false }), ContainerNotFoundError);
  }));

test('8 stopContainer: SIGTERM first, SIGKILL after the grace period', opts, () =>
  withContainers(rt, async (start) => {
    // A process that handles SIGTERM ends within the grace period.
    const polite = await start(spec('polite', ['sh', '-c', 'trap "exit 0" TERM; echo trapped; while :; do sleep 0.1; done']));
    // The process runs before its shell has set the trap; a SIGTERM before that is ignored by PID 1.
    await waitFor('the TERM trap', () => existsSync(rt.logPath(POD, 'polite', 0)) && logText(rt.logPath(POD, 'polite', 0)).some((l) => parseCriLogLine(l)?.content === 'trapped'));
    let t0 = Date.now();
    await rt.stopContainer(polite.id, 30);
    assert.ok(Date.now() - t0 < 10_000, 'did not wait for the whole grace period');
    const p = rt.listContainers().find((c) => c.id === polite.id)?.status;
    assert.deepEqual([p?.state, p?.state === 'exited' && p.exitCode], ['exited', 0]);
    // PID 1 without a handler ignores SIGTERM: killed once the grace period ends.
    const stubborn = await start(spec('stubborn', ['sleep', '86400']));
    t0 = Date.now();
    await rt.stopContainer(stubborn.id, 1);
    assert.ok(Date.now() - t0 >= 900, 'waited for the grace period');
    const s = rt.listContainers().find((c) => c.id === stubborn.id)?.status;
    assert.deepEqual([s?.state, s?.state === 'exited' && s.exitCode, s?.state === 'exited' && s.reason], ['exited', 137, 'Error']);
    await rt.stopContainer(stubborn.id, 1); // stopping an exited container is a no-op
  }));

test('9 a restarted runtime adopts running containers and reports the ones that ended', opts, async () => {
  const nodeRoot = join(root, 'adopt');
  const first = await createRuntime({ root: nodeRoot, logger: silentLogger(), pollIntervalMs: 50 });
  const keeps = await first.startContainer(spec('keeps', ['sleep', '86400']));
  const dies = await first.startContainer(spec('dies', ['sleep', '86400']));
  const orphan = await first.startContainer(spec('orphan', ['sleep', '86400']));
  await first.close();
  assert.equal(keeps.status.state, 'running');
  // While no runtime watches: one container is killed, another loses its shim too.
  process.kill(dies.status.state === 'running' ? dies.status.pid : 0, 'SIGKILL');
  const orphanState = JSON.parse(readFileSync(join(nodeRoot, 'containers', orphan.id, 'state.json'), 'utf8')) as { shim: { pid: number } };
  process.kill(-orphanState.shim.pid, 'SIGKILL');
  await waitFor('the shim to record the kill', () => existsSync(join(nodeRoot, 'containers', dies.id, 'exit.json')));

  const second = await createRuntime({ root: nodeRoot, logger: silentLogger(), pollIntervalMs: 50 });
  try {
    const byName = new Map(second.listContainers().map((c) => [c.name, c]));
    assert.deepEqual(byName.get('keeps')?.status, keeps.status, 'still running, same pid');
    const d = byName.get('dies')?.status;
    assert.deepEqual([d?.state, d?.state === 'exited' && d.exitCode], ['exited', 137]);
    const o = await exited(second, orphan.id);
    assert.deepEqual([o.exitCode, o.reason], [137, 'Error']);
    assert.equal((await run(second, keeps.id, ['cat', '/proc/1/cmdline'])).out, 'sleep\x0086400\x00');
    const changes: RuntimeContainer[] = [];
    const sub = second.onChange((c) => changes.push(c));
    await second.stopContainer(keeps.id, 0);
    sub.dispose();
    assert.deepEqual(changes.map((c) => [c.name, c.status.state]), [['keeps', 'exited']]);
  } finally {
    for (const c of second.listContainers()) await second.removeContainer(c.id);
    await second.close();
  }
  assert.deepEqual(execFileSync('ls', [join(nodeRoot, 'containers')], { encoding: 'utf8' }), '', 'removed');
});

test('10 start failures are typed and leave nothing running', opts, () =>
  withContainers(rt, async (start) => {
    await assert.rejects(rt.startContainer(spec('x', ['true'], { image: 'nginx:1.25' })), ImageNotFoundError);
    await assert.rejects(
      rt.startContainer(spec('x', ['true'], { mounts: [{ hostPath: join(root, 'missing'), containerPath: '/m', readOnly: false }] })),
      InvalidContainerSpecError,
    );
    await assert.rejects(
      rt.startContainer(spec('x', ['true'], { mounts: [{ hostPath: root, containerPath: 'relative', readOnly: false }] })),
      InvalidContainerSpecError,
    );
    // Mounting over a file of the image cannot be set up: ContainerCannotRun with the reason.
    const c = await start(spec('cannot', ['true'], { mounts: [{ hostPath: root, containerPath: '/bin/busybox/sub', readOnly: false }] }));
    assert.equal(c.status.state, 'exited');
    assert.equal(c.status.state === 'exited' && c.status.reason, 'ContainerCannotRun');
    assert.match(c.status.state === 'exited' ? (c.status.message ?? '') : '', /busybox\/sub/);
  }));

test('11 a symlink in the image cannot send a mount to the host', opts, () =>
  withContainers(rt, async (start) => {
    const outside = join(root, 'outside');
    mkdirSync(outside);
    const img = join(root, 'evil-image');
    mkdirSync(img);
    execFileSync('cp', ['-a', rt.images.rootfs('busybox') + '/.', img]);
    symlinkSync(outside, join(img, 'escape'));
    await rt.images.import('evil:latest', img);
    const vol = join(root, 'evil-vol');
    mkdirSync(vol);
    const c = await start(spec('evil', ['sleep', '86400'], { image: 'evil', mounts: [{ hostPath: vol, containerPath: '/escape/here', readOnly: false }] }));
    assert.equal(c.status.state, 'running');
    assert.deepEqual(execFileSync('ls', [outside], { encoding: 'utf8' }), '', 'nothing created on the host');
    assert.equal((await run(rt, c.id, ['sh', '-c', 'touch /escape/here/x && ls /tmp/volplane-runtime-* 2>&1; true'])).code, 0);
    assert.ok(existsSync(join(vol, 'x')), 'the volume is mounted inside the container');
    await rt.stopContainer(c.id, 0);
  }));

test('12 the host mount table shows nothing of running containers; logs follow until exit', opts, () =>
  withContainers(rt, async (start) => {
    const vol = join(root, 'watch-vol');
    mkdirSync(vol);
    const c = await start(spec('ticker', ['sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.2; done'], { mounts: [{ hostPath: vol, containerPath: '/v', readOnly: true }] }));
    const mounted = execFileSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).split('\n').filter((t) => t.startsWith(root));
    assert.deepEqual(mounted, []);
    const seen: string[] = [];
    await readContainerLog(rt.logPath(POD, 'ticker', 0), {
      follow: true,
      pollMs: 20,
      isRunning: () => rt.listContainers().find((x) => x.id === c.id)?.status.state === 'running',
      onLine: (l) => void seen.push(l.text),
    });
    assert.deepEqual(seen, ['tick 1\n', 'tick 2\n', 'tick 3\n']);
  }));

test('13 without overlayfs a container gets a private copy of the image', opts, async () => {
  const copyRt = await createRuntime({ root: join(root, 'copy-mode'), logger: silentLogger(), rootfsMode: 'copy', pollIntervalMs: 50 });
  try {
    await withContainers(copyRt, async (start) => {
      const c = await start(spec('copy', ['sh', '-c', 'echo changed > /etc/hostname-copy; rm /bin/ls; echo done']));
      const status = await exited(copyRt, c.id);
      assert.equal(status.reason, 'Completed');
      assert.equal(logText(copyRt.logPath(POD, 'copy', 0)).map((l) => parseCriLogLine(l)?.content).join(), 'done');
      assert.ok(existsSync(join(copyRt.images.rootfs('busybox'), 'bin/ls')), 'image untouched');
    });
  } finally {
    await copyRt.close();
  }
});

test('14 the container namespace lets go of the host mounts it copied', opts, () =>
  withContainers(rt, async (start) => {
    const other = join(root, 'other-pod-volume');
    // mountinfo escapes the space (\040): the init script must decode it to let go.
    const spaced = join(root, 'other pod volume');
    mkdirSync(other);
    mkdirSync(spaced);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', other]);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', spaced]);
    try {
      const c = await start(spec('holder', ['sleep', '86400']));
      assert.equal(c.status.state, 'running');
      // The shell that waits for PID 1 lives in the container's mount namespace
      // without its chroot: its mountinfo is the whole namespace.
      const pid = c.status.state === 'running' ? c.status.pid : 0;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      const mounts = readFileSync(`/proc/${ppid}/mountinfo`, 'utf8');
      assert.ok(mounts.includes(join(root, 'node/containers', c.id, 'rootfs')), 'sees its own rootfs');
      assert.ok(!mounts.includes(other), 'holds no copy of the other volume');
      assert.ok(!mounts.includes('other\\040pod\\040volume'), 'holds no copy of the volume with a space in its path');
      assert.ok(!/ \/proc /.test(mounts), 'holds no copy of the host /proc');
      await rt.stopContainer(c.id, 0);
    } finally {
      execFileSync('umount', [other]);
      execFileSync('umount', [spaced]);
    }
  }));

/** A loop device over a fresh sparse file, bind-mounted onto a file the way a CSI driver publishes a block volume. */
function publishLoopDevice(dir: string, sizeBytes: number): { image: string; loop: string; published: string; release(): void } {
  mkdirSync(dir);
  const image = join(dir, 'disk.img');
  writeFileSync(image, '');
  execFileSync('truncate', ['-s', String(sizeBytes), image]);
  const loop = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
  const published = join(dir, 'published');
  writeFileSync(published, '');
  try {
    execFileSync('mount', ['--bind', loop, published]);
  } catch (err) {
    execFileSync('losetup', ['-d', loop]);
    throw err;
  }
  return {
    image,
    loop,
    published,
    release() {
      execFileSync('umount', [published]);
      execFileSync('losetup', ['-d', loop]);
    },
  };
}

test('15 devices: a published block device appears at its devicePath; writes reach the device', opts, async () => {
  const disk = publishLoopDevice(join(root, 'block-vol'), 4 << 20);
  try {
    await withContainers(rt, async (start) => {
      const c = await start(spec('blk', ['sleep', '86400'], { devices: [{ hostPath: disk.published, containerPath: '/dev/xvda', readOnly: false }] }));
      assert.equal(c.status.state, 'running');
      assert.match((await run(rt, c.id, ['stat', '-c', '%F %t:%T', '/dev/xvda'])).out, /^block special file 7:/);
      const write = await run(rt, c.id, ['sh', '-c', 'printf block-data | dd of=/dev/xvda bs=512 seek=2 conv=sync,fsync']);
      assert.equal(write.code, 0, write.err);
      assert.equal((await run(rt, c.id, ['dd', 'if=/dev/xvda', 'bs=512', 'skip=2', 'count=1'])).out.replace(/\0+$/, ''), 'block-data');
      const onHost = readFileSync(disk.image).subarray(1024, 1024 + 10).toString();
      assert.equal(onHost, 'block-data', 'the bytes are on the loop device\'s backing file');
      // Parents of a devicePath outside /dev are made as for any mount.
      const nested = await start(spec('blk-nested', ['sleep', '86400'], { devices: [{ hostPath: disk.published, containerPath: '/var/disks/data', readOnly: false }] }));
      assert.equal((await run(rt, nested.id, ['dd', 'if=/var/disks/data', 'bs=512', 'skip=2', 'count=1'])).out.replace(/\0+$/, ''), 'block-data');
      await Promise.all([rt.stopContainer(c.id, 0), rt.stopContainer(nested.id, 0)]);
    });
  } finally {
    disk.release();
  }
});

test('16 devices: what is not a block device, or a path taken or below a device, is refused before anything starts', opts, async () => {
  const disk = publishLoopDevice(join(root, 'block-refused'), 1 << 20);
  try {
    const rows: { name: string; extra: Partial<RuntimeContainerSpec>; want: RegExp }[] = [
      { name: 'a directory', extra: { devices: [{ hostPath: root, containerPath: '/dev/xvda', readOnly: false }] }, want: /devices: host path .* of \/dev\/xvda is not a block device/ },
      { name: 'a missing path', extra: { devices: [{ hostPath: join(root, 'nope'), containerPath: '/dev/xvda', readOnly: false }] }, want: /is not a block device/ },
      { name: 'a character device', extra: { devices: [{ hostPath: '/dev/null', containerPath: '/dev/xvda', readOnly: false }] }, want: /is not a block device/ },
      { name: 'a relative path', extra: { devices: [{ hostPath: disk.published, containerPath: 'dev/xvda', readOnly: false }] }, want: /device path "dev\/xvda" must be absolute/ },
      {
        name: 'the path of a mount',
        extra: { mounts: [{ hostPath: root, containerPath: '/data', readOnly: false }], devices: [{ hostPath: disk.published, containerPath: '/data', readOnly: false }] },
        want: /\/data is mounted twice/,
      },
      {
        name: 'a mount below a device',
        extra: { mounts: [{ hostPath: root, containerPath: '/dev/xvda/sub', readOnly: false }], devices: [{ hostPath: disk.published, containerPath: '/dev/xvda', readOnly: false }] },
        want: /\/dev\/xvda\/sub is below the device \/dev\/xvda/,
      },
    ];
    for (const row of rows) {
      const before = rt.listContainers().length;
      await assert.rejects(rt.startContainer(spec('refused', ['true'], row.extra)), (err: Error) => err instanceof InvalidContainerSpecError && row.want.test(err.message), row.name);
      assert.equal(rt.listContainers().length, before, `${row.name}: nothing recorded`);
    }
  } finally {
    disk.release();
  }
});
