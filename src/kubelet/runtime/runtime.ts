// The node's container runtime: containers are real processes in their own
// mount, PID, UTS and IPC namespaces, with a root filesystem from the image
// store and the pod's volumes bind-mounted at their mount paths.
//
// How a container runs (a chain, each link owning one thing):
//
//   kubelet ──spawn, detached──▶ shim (node, own session: logs, exit status)
//     └▶ unshare --mount --uts --ipc --pid --propagation private
//          sh -c '… & wait'  (reaps PID 1 and reports 128+signal)
//          └▶ container-init.sh  = PID 1 of the new namespaces: overlay rootfs,
//             /proc, /dev, volumes, hostname, records its host pid, drops the
//             host mounts it copied, then execs env -i … unshare --root … cmd
//
// A volumeDevice (raw block volume) is one more bind mount: an empty file at
// its devicePath, with the volume's published device node bound onto it. The
// container's /dev is a fresh tmpfs without nodev, and a bind mount keeps the
// flags of its source (the driver's bind of /dev/loopN), so the node opens
// as the device. There is no device cgroup: a root container may read and
// write it, and readOnly cannot be enforced for device I/O.
//
// A container is "running" once PID 1 *is* its command, not merely once the
// init script has finished: the script writes `started` and then execs
// through env and unshare, so the runtime waits out those two execs (a
// glance at PID 1's argv, see inInitChain) before it reports the start. An
// exec or a status read right after a start then sees the command.
//
// All mounts happen inside the private mount namespace: the host's mount
// table never shows a container mount, and everything is torn down by the
// kernel when the container's PID 1 dies. The kubelet is not part of the
// chain, so it may restart at will: state lives in
// `<root>/containers/<id>/` (state.json, started, exit.json), and a new
// runtime on the same root adopts what is still running (pid + start time
// match) and reports what ended while it was away.
//
// Exit observation is a poll of that directory (cheap stats), not a child
// 'exit' event, because adopted containers are nobody's children.

import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  type FSWatcher,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { constants } from 'node:os';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CancelledError, TimeoutError, delay, toError, type Logger } from '../../base/index.ts';
import {
  ContainerNotFoundError,
  type ContainerState,
  type ExecStreams,
  type Runtime,
  type RuntimeContainer,
  type RuntimeContainerSpec,
  type RuntimeMount,
} from './types.ts';
import { createImageStore } from './image-store.ts';
import {
  findTool,
  hostMountsUnder,
  isAlive,
  locatorFor,
  processArgv,
  processStartTime,
  resolveInContainer,
  runTool,
  signalProcess,
  type ProcessIdentity,
} from './host.ts';
import {
  EXIT_FILE,
  SETUP_ERROR_FILE,
  SHIM_CONFIG_FILE,
  STARTED_FILE,
  type ExitRecord,
  type ShimConfig,
} from './shim.ts';

export interface RuntimeOptions {
  /** The node root, e.g. `<dataDir>/node`: images, containers and pod logs live under it. */
  root: string;
  logger: Logger;
  /** The static busybox `busybox` images are built from (default /usr/bin/busybox). */
  busyboxPath?: string;
  /** How a container's writable root is made: overlayfs, a private copy, or whichever works (default). */
  rootfsMode?: 'auto' | 'overlay' | 'copy';
  /** How often running containers are checked for an exit (default 200 ms). */
  pollIntervalMs?: number;
}

export class RuntimeUnavailableError extends Error {
  override readonly name = 'RuntimeUnavailableError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export class InvalidContainerSpecError extends Error {
  override readonly name = 'InvalidContainerSpecError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

export class ContainerNotRunningError extends Error {
  override readonly name = 'ContainerNotRunningError';
  readonly id: string;
  constructor(id: string) {
    super(`container ${id} is not running`);
    this.id = id;
  }
}

export class ContainerBusyError extends Error {
  override readonly name = 'ContainerBusyError';
  readonly id: string;
  readonly mounts: string[];
  constructor(id: string, mounts: string[]) {
    super(`refusing to remove container ${id}: ${mounts.join(', ')} still mounted on the host`);
    this.id = id;
    this.mounts = mounts;
  }
}

export class RuntimeClosedError extends Error {
  override readonly name = 'RuntimeClosedError';
  constructor() {
    super('the container runtime is closed');
  }
}

/** What `<root>/containers/<id>/state.json` holds. */
interface ContainerRecord {
  version: 1;
  id: string;
  podUid: string;
  podName: string;
  podNamespace: string;
  name: string;
  image: string;
  restartCount: number;
  hostname: string;
  /** The process environment, kept for exec (which sees what the container sees). */
  env: { name: string; value: string }[];
  /** The container's working directory, where exec starts too. */
  workingDir: string;
  logPath: string;
  createdAt: string;
  shim?: ProcessIdentity;
  /** The container's PID 1, as the host sees it. */
  init?: ProcessIdentity;
  status: ContainerState | { state: 'created' };
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const HOST_ENV = { PATH: DEFAULT_PATH };
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const START_TIMEOUT_MS = 60_000;
const UNKNOWN_EXIT = 137;

// The first child forked after `unshare --pid` is PID 1 of the new namespace.
const WAIT_FOR_INIT = '/bin/sh "$0" "$@" & wait $!';
const INIT_SCRIPT = fileURLToPath(new URL('./container-init.sh', import.meta.url));
const SHIM_SCRIPT = fileURLToPath(new URL('./shim.ts', import.meta.url));

interface Tools {
  sh: string;
  unshare: string;
  nsenter: string;
  env: string;
  cp: string;
}

export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const root = posix.resolve(options.root);
  const logger = options.logger.child({ component: 'runtime' });
  if (process.getuid?.() !== 0) {
    throw new RuntimeUnavailableError('the container runtime needs root (mount, PID and UTS namespaces, mounts)');
  }
  let tools: Tools;
  try {
    tools = { sh: '/bin/sh', unshare: findTool('unshare'), nsenter: findTool('nsenter'), env: findTool('env'), cp: findTool('cp') };
    findTool('mount');
    findTool('hostname');
  } catch (err) {
    throw new RuntimeUnavailableError(`the container runtime cannot run: ${toError(err).message}`, { cause: err });
  }

  const containersDir = posix.join(root, 'containers');
  mkdirSync(containersDir, { recursive: true, mode: 0o700 });
  const images = createImageStore({
    dir: posix.join(root, 'images'),
    busyboxPath: options.busyboxPath ?? '/usr/bin/busybox',
    logger,
  });
  // What container-init.sh and exec still run from the host after the
  // container's namespace has dropped its copies of the host mounts.
  const keepPaths = [tools.env, tools.unshare, tools.sh, '/lib', '/lib64', '/usr/lib', '/usr/lib64']
    .filter((p) => existsSync(p))
    .map((p) => realpathSync(p));
  const rootfsMode = await chooseRootfsMode(options.rootfsMode ?? 'auto', root, containersDir, tools, logger);
  const pollMs = options.pollIntervalMs ?? 200;
  // Node's compile cache keeps the type-stripped and compiled shim between
  // starts: without it every container start pays for loading the
  // TypeScript stripper (tens of ms of CPU) before the shim runs a line.
  const shimEnv = { ...HOST_ENV, NODE_COMPILE_CACHE: posix.join(root, 'compile-cache') };

  const records = new Map<string, ContainerRecord>();
  const listeners = new Set<(c: RuntimeContainer) => void>();
  const stopping = new Map<string, Promise<void>>();
  /** Containers a startContainer call is still bringing up; it reports them itself. */
  const starting = new Set<string>();
  let closed = false;

  const dirOf = (id: string): string => posix.join(containersDir, id);

  /**
   * Whether `init` is still on its way from container-init.sh to the
   * container's command: the script itself, or one of the two programs it
   * execs through (`env -i …`, then `unshare --root=<this rootfs> …`). Read
   * from its argv — no command of a pod starts with our init script or our
   * rootfs path; no argv at all is the middle of an exec — and false once
   * the process is gone (or a zombie): an exit is the shim's to report.
   */
  const inInitChain = (id: string, init: ProcessIdentity): boolean => {
    const argv = processArgv(init.pid);
    if (argv === undefined || !isAlive(init)) return false;
    if (argv.length === 0) return true;
    const [file, first] = argv;
    return (
      (file === tools.sh && first === INIT_SCRIPT) ||
      (posix.basename(file) === 'env' && first === '-i') ||
      (file === tools.unshare && first === `--root=${posix.join(dirOf(id), 'rootfs')}`)
    );
  };
  const logPath = (podUid: string, containerName: string, restartCount: number): string =>
    posix.join(root, 'pods', podUid, 'containers', containerName, `${restartCount}.log`);

  const save = (rec: ContainerRecord): void => {
    const file = posix.join(dirOf(rec.id), 'state.json');
    writeFileSync(file + '.tmp', JSON.stringify(rec, null, 2) + '\n', { mode: 0o600 });
    renameSync(file + '.tmp', file);
  };

  const emit = (rec: ContainerRecord): void => {
    const view = toView(rec);
    if (view === undefined) return;
    for (const listener of listeners) {
      try {
        listener(view);
      } catch (err) {
        logger.error({ err: toError(err), id: rec.id }, 'runtime change listener threw');
      }
    }
  };

  /**
   * Reads what the shim and the init script left on disk and moves the
   * record forward (created → running → exited). Never moves it back.
   * Returns whether anything changed.
   */
  const refresh = (rec: ContainerRecord): boolean => {
    if (rec.status.state === 'exited') return false;
    const dir = dirOf(rec.id);
    let changed = false;
    // exit.json first: a command that already ended did start, however
    // briefly — whether PID 1 was still execing a moment ago is moot then.
    const exit = readJson<ExitRecord>(posix.join(dir, EXIT_FILE));
    if (rec.status.state === 'created') {
      const started = readStarted(dir);
      if (started !== undefined && (exit !== undefined || !inInitChain(rec.id, started.init))) {
        rec.init = started.init;
        rec.status = { state: 'running', pid: started.init.pid, startedAt: started.at };
        changed = true;
      }
    }
    const startedAt = rec.status.state === 'running' ? rec.status.startedAt : rec.createdAt;
    if (exit !== undefined) {
      const setupError = readText(posix.join(dir, SETUP_ERROR_FILE));
      rec.status =
        setupError !== undefined || rec.status.state === 'created'
          ? {
              state: 'exited',
              exitCode: exit.exitCode,
              startedAt,
              finishedAt: exit.finishedAt,
              reason: 'ContainerCannotRun',
              message: setupError?.trim() ?? 'the container exited before it started',
            }
          : {
              state: 'exited',
              exitCode: exit.exitCode,
              ...(exit.signal !== undefined ? { signal: exit.signal } : {}),
              startedAt,
              finishedAt: exit.finishedAt,
              reason: exit.exitCode === 0 ? 'Completed' : 'Error',
            };
      return true;
    }
    if (!isAlive(rec.init) && !isAlive(rec.shim)) {
      // Both the container and the shim that would have recorded its exit are gone.
      rec.status = {
        state: 'exited',
        exitCode: UNKNOWN_EXIT,
        startedAt,
        finishedAt: new Date().toISOString(),
        reason: rec.status.state === 'created' ? 'ContainerCannotRun' : 'Error',
        message: 'the container process ended while unobserved; its exit status is unknown',
      };
      return true;
    }
    return changed;
  };

  const refreshAndPublish = (rec: ContainerRecord): void => {
    if (!refresh(rec)) return;
    save(rec);
    if (rec.status.state === 'exited') {
      logger.info({ id: rec.id, pod: `${rec.podNamespace}/${rec.podName}`, container: rec.name, status: rec.status }, 'container exited');
    }
    emit(rec);
  };

  // Adopt what a previous runtime on this root left behind.
  for (const id of readdirSync(containersDir)) {
    if (id.startsWith('.')) continue;
    const rec = readJson<ContainerRecord>(posix.join(dirOf(id), 'state.json'));
    if (rec === undefined || rec.version !== 1 || rec.id !== id) {
      logger.warn({ id }, 'ignoring a container directory without a readable state');
      continue;
    }
    records.set(id, rec);
    const before = rec.status.state;
    if (refresh(rec)) save(rec);
    if (rec.status.state === 'created' && readStarted(dirOf(id)) === undefined && isAlive(rec.shim) && rec.shim !== undefined) {
      // Interrupted half-way through a start: nobody is waiting for it any more.
      // (With `started` written it is only execing into its command: the poll adopts it.)
      killGroup(rec.shim);
    }
    logger.info({ id, container: rec.name, was: before, now: rec.status.state }, 'found container from an earlier run');
  }

  const timer = setInterval(() => {
    for (const rec of records.values()) {
      if (starting.has(rec.id)) continue;
      try {
        refreshAndPublish(rec);
      } catch (err) {
        logger.error({ err: toError(err), id: rec.id }, 'observing a container failed');
      }
    }
  }, pollMs);
  timer.unref();

  const getRecord = (id: string): ContainerRecord => {
    const rec = records.get(id);
    if (rec === undefined) throw new ContainerNotFoundError(id);
    return rec;
  };

  /** Polls until the container has exited; false when `timeoutMs` passed first. */
  const waitExited = async (rec: ContainerRecord, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      refreshAndPublish(rec);
      if (rec.status.state === 'exited') return true;
      if (Date.now() >= deadline) return false;
      await delay(20);
    }
  };

  const startContainer = async (spec: RuntimeContainerSpec, signal?: AbortSignal): Promise<RuntimeContainer> => {
    if (closed) throw new RuntimeClosedError();
    if (signal?.aborted) throw new CancelledError();
    const lower = images.rootfs(spec.image);
    validateSpec(spec);

    const argv = spec.command.length > 0 ? [...spec.command, ...spec.args] : spec.args.length > 0 ? [...spec.args] : ['sh'];
    const id = randomBytes(32).toString('hex');
    const dir = dirOf(id);
    const rootfs = posix.join(dir, 'rootfs');
    mkdirSync(dir, { mode: 0o700 });
    for (const sub of ['upper', 'work', 'rootfs']) mkdirSync(posix.join(dir, sub));

    const env = containerEnv(spec);
    const workingDir = spec.workingDir !== undefined && spec.workingDir !== '' ? spec.workingDir : '/';
    const log = logPath(spec.podUid, spec.name, spec.restartCount);
    mkdirSync(posix.dirname(log), { recursive: true });
    const rec: ContainerRecord = {
      version: 1,
      id,
      podUid: spec.podUid,
      podName: spec.podName,
      podNamespace: spec.podNamespace,
      name: spec.name,
      image: spec.image,
      restartCount: spec.restartCount,
      hostname: spec.hostname,
      env,
      workingDir,
      logPath: log,
      createdAt: new Date().toISOString(),
      status: { state: 'created' },
    };
    save(rec);
    records.set(id, rec);
    starting.add(id);

    try {
      if (rootfsMode === 'copy') await runTool(tools.cp, ['-a', '--', lower + '/.', rootfs + '/']);

      // Kubelet-managed files, mounted like volumes (unless the pod mounts its own).
      writeFileSync(posix.join(dir, 'hosts'), hostsFile(spec.hostname));
      writeFileSync(posix.join(dir, 'hostname'), spec.hostname + '\n');
      // Devices go in the same list: each is a bind mount of a device node
      // onto a file, placed in depth order like any mount.
      const wanted: (RuntimeMount & { device?: true })[] = [...spec.mounts, ...(spec.devices ?? []).map((d) => ({ ...d, device: true as const }))].sort(
        (a, b) => depth(a.containerPath) - depth(b.containerPath),
      );
      for (const [file, at] of [['hosts', '/etc/hosts'], ['hostname', '/etc/hostname']] as const) {
        if (!wanted.some((m) => posix.normalize(m.containerPath) === at)) {
          wanted.push({ hostPath: posix.join(dir, file), containerPath: at, readOnly: false });
        }
      }

      // Each target is resolved through the image and the mounts before it,
      // so no symlink can point a mount (or a mkdir) at the host.
      const placed: { containerPath: string; hostPath: string }[] = [];
      const mountArgs: string[] = [];
      for (const m of wanted) {
        const target = resolveInContainer(posix.normalize(m.containerPath), locatorFor(lower, placed));
        if (target === '/') throw new InvalidContainerSpecError('mounts', `${m.containerPath} resolves to the container root`);
        const kind = m.device === true ? 'dev' : statSync(m.hostPath).isDirectory() ? 'dir' : 'file';
        mountArgs.push(m.hostPath, kind, m.readOnly ? 'ro' : 'rw', target);
        placed.push({ containerPath: target, hostPath: m.hostPath });
      }
      const wdOnHost = resolveInContainer(posix.normalize(workingDir), locatorFor(lower, placed));

      const initArgs = [
        dir,
        rootfsMode,
        lower,
        rootfs,
        spec.hostname,
        wdOnHost,
        keepPaths.join('\n'),
        String(wanted.length),
        ...mountArgs,
        ...env.map((e) => `${e.name}=${e.value}`),
        tools.unshare,
        `--root=${rootfs}`,
        `--wd=${workingDir}`,
        '--',
        ...argv,
      ];
      const shimConfig: ShimConfig = {
        stateDir: dir,
        logPath: log,
        file: tools.unshare,
        // No `unshare --fork`: it reports a SIGKILLed child as exit 1 (and says so
        // on stderr). A shell's `wait` gives 128+signal, as Kubernetes expects.
        args: ['--mount', '--uts', '--ipc', '--pid', '--propagation', 'private', '--', tools.sh, '-c', WAIT_FOR_INIT, INIT_SCRIPT, ...initArgs],
      };
      const configPath = posix.join(dir, SHIM_CONFIG_FILE);
      writeFileSync(configPath, JSON.stringify(shimConfig), { mode: 0o600 });

      const shimLog = openSync(posix.join(dir, 'shim.log'), 'a', 0o600);
      let shimPid: number | undefined;
      try {
        const child = spawn(process.execPath, [SHIM_SCRIPT, configPath], {
          detached: true,
          stdio: ['ignore', shimLog, shimLog],
          env: shimEnv,
        });
        child.on('error', (err) => logger.error({ err, id }, 'cannot start the container shim'));
        child.on('exit', () => {
          if (!closed) refreshAndPublish(rec);
        });
        child.unref();
        shimPid = child.pid;
      } finally {
        closeSync(shimLog);
      }
      if (shimPid !== undefined) {
        const startTime = processStartTime(shimPid);
        if (startTime !== undefined) rec.shim = { pid: shimPid, startTime };
      }
      save(rec);
      logger.debug({ id, shimPid }, 'shim started');

      // The init script renames `started` into place (or the shim writes
      // exit.json): a directory watch sees it at once; the short poll stays
      // as the fallback should a notification be missed.
      const deadline = Date.now() + START_TIMEOUT_MS;
      let changed: (() => void) | undefined;
      let watcher: FSWatcher | undefined;
      try {
        watcher = watch(dir, () => changed?.());
        watcher.on('error', () => watcher?.close());
      } catch {
        // no inotify: polling alone will do
      }
      try {
        while (rec.status.state === 'created') {
          refresh(rec);
          if (rec.status.state !== 'created') break;
          if (Date.now() > deadline) throw new TimeoutError(`container ${id} to start`, START_TIMEOUT_MS);
          // Once `started` is there, what is left is two execs (no file
          // event comes of those): look again almost at once.
          const execsLeft = readStarted(dir) !== undefined;
          await new Promise<void>((resolve) => {
            changed = resolve;
            delay(execsLeft ? 1 : 10, signal).then(resolve, resolve);
          });
          changed = undefined;
          if (signal?.aborted) throw new CancelledError();
        }
      } finally {
        watcher?.close();
      }
      save(rec);
      logger.info(
        { id, pod: `${spec.podNamespace}/${spec.podName}`, container: spec.name, image: spec.image, state: rec.status.state },
        'started container',
      );
      emit(rec);
      return toView(rec) as RuntimeContainer;
    } catch (err) {
      // Leave nothing half-started: kill what runs, record why it cannot run.
      if (rec.init !== undefined) signalProcess(rec.init, 'SIGKILL');
      if (rec.shim !== undefined) killGroup(rec.shim);
      if (rec.status.state !== 'exited') {
        rec.status = {
          state: 'exited',
          exitCode: 128,
          startedAt: rec.createdAt,
          finishedAt: new Date().toISOString(),
          reason: 'ContainerCannotRun',
          message: toError(err).message,
        };
      }
      save(rec);
      emit(rec);
      throw err;
    } finally {
      starting.delete(id);
    }
  };

  const stopContainer = async (id: string, graceSeconds: number): Promise<void> => {
    const rec = getRecord(id);
    refreshAndPublish(rec);
    if (rec.status.state === 'exited') return;
    const inFlight = stopping.get(id);
    if (inFlight !== undefined) return inFlight;
    const p = (async () => {
      logger.info({ id, container: rec.name, graceSeconds }, 'stopping container');
      if (rec.init !== undefined) signalProcess(rec.init, 'SIGTERM');
      else if (rec.shim !== undefined) killGroup(rec.shim); // still starting: nothing to be graceful with
      if (await waitExited(rec, Math.max(0, graceSeconds) * 1000)) return;
      if (rec.init !== undefined) signalProcess(rec.init, 'SIGKILL');
      if (rec.shim !== undefined && rec.init === undefined) killGroup(rec.shim);
      if (!(await waitExited(rec, 30_000))) throw new TimeoutError(`container ${id} to exit after SIGKILL`, 30_000);
    })().finally(() => stopping.delete(id));
    stopping.set(id, p);
    return p;
  };

  const removeContainer = async (id: string): Promise<void> => {
    const rec = records.get(id);
    if (rec === undefined) return; // already gone: removing twice is fine
    if (rec.status.state !== 'exited') await stopContainer(id, 0);
    const dir = dirOf(id);
    const mounted = hostMountsUnder(dir);
    if (mounted.length > 0) {
      // Never recurse into a mounted tree: that would delete a volume's data.
      throw new ContainerBusyError(id, mounted);
    }
    rmSync(dir, { recursive: true, force: true });
    records.delete(id);
  };

  const exec = async (id: string, command: string[], streams: ExecStreams, signal?: AbortSignal): Promise<number> => {
    const rec = getRecord(id);
    refreshAndPublish(rec);
    if (rec.status.state !== 'running' || rec.init === undefined) throw new ContainerNotRunningError(id);
    if (command.length === 0) throw new InvalidContainerSpecError('command', 'must not be empty');
    if (command.some((a) => a.includes('\0'))) throw new InvalidContainerSpecError('command', 'contains a NUL byte');
    if (signal?.aborted) throw new CancelledError();
    const args = [
      '-i',
      '--',
      ...rec.env.map((e) => `${e.name}=${e.value}`),
      tools.nsenter,
      '--target',
      String(rec.init.pid),
      '--mount',
      '--uts',
      '--ipc',
      '--pid',
      '--',
      // Inside the mount namespace the container root is the overlay at this
      // path; entering it like the container did beats trusting the target's
      // current root, and works for any container process.
      tools.unshare,
      `--root=${posix.join(dirOf(rec.id), 'rootfs')}`,
      `--wd=${rec.workingDir}`,
      '--',
      ...command,
    ];
    return new Promise<number>((resolve, reject) => {
      const child = spawn(tools.env, args, {
        detached: true, // its own process group, so an abort reaches the forked child too
        stdio: [streams.stdin ? 'pipe' : 'ignore', streams.stdout ? 'pipe' : 'ignore', streams.stderr ? 'pipe' : 'ignore'],
        env: HOST_ENV,
      });
      if (streams.stdin && child.stdin) {
        child.stdin.on('error', () => {}); // the command may exit without reading its input
        streams.stdin.pipe(child.stdin);
      }
      if (streams.stdout && child.stdout) child.stdout.pipe(streams.stdout, { end: false });
      if (streams.stderr && child.stderr) child.stderr.pipe(streams.stderr, { end: false });
      const onAbort = (): void => {
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        reject(new CancelledError('exec cancelled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      });
      child.on('close', (code, sig) => {
        signal?.removeEventListener('abort', onAbort);
        if (streams.stdin && child.stdin) streams.stdin.unpipe(child.stdin);
        resolve(code ?? 128 + (sig !== null ? constants.signals[sig] : 0));
      });
    });
  };

  return {
    images,
    startContainer,
    stopContainer,
    removeContainer,
    listContainers() {
      const out: RuntimeContainer[] = [];
      for (const rec of records.values()) {
        if (!starting.has(rec.id)) refreshAndPublish(rec);
        const view = toView(rec);
        if (view !== undefined) out.push(view);
      }
      return out;
    },
    onChange(listener) {
      listeners.add(listener);
      return { dispose: () => void listeners.delete(listener) };
    },
    exec,
    logPath,
    async close() {
      // Containers keep running: the next runtime on this root adopts them.
      closed = true;
      clearInterval(timer);
      listeners.clear();
    },
  };
}

function toView(rec: ContainerRecord): RuntimeContainer | undefined {
  if (rec.status.state === 'created') return undefined;
  return {
    id: rec.id,
    podUid: rec.podUid,
    name: rec.name,
    image: rec.image,
    restartCount: rec.restartCount,
    status: { ...rec.status },
  };
}

function validateSpec(spec: RuntimeContainerSpec): void {
  if (!SAFE_NAME.test(spec.podUid)) throw new InvalidContainerSpecError('podUid', `"${spec.podUid}" is not a safe directory name`);
  if (!SAFE_NAME.test(spec.name)) throw new InvalidContainerSpecError('name', `"${spec.name}" is not a safe directory name`);
  if (!Number.isInteger(spec.restartCount) || spec.restartCount < 0) throw new InvalidContainerSpecError('restartCount', 'must be a non-negative integer');
  if (spec.hostname === '' || spec.hostname.length > 64 || !/^[A-Za-z0-9.-]+$/.test(spec.hostname)) {
    throw new InvalidContainerSpecError('hostname', `"${spec.hostname}" is not a valid hostname`);
  }
  for (const [field, list] of [['command', spec.command], ['args', spec.args]] as const) {
    if (list.some((a) => a.includes('\0'))) throw new InvalidContainerSpecError(field, 'contains a NUL byte');
  }
  for (const e of spec.env) {
    if (e.name === '' || e.name.includes('=') || e.name.includes('\0') || e.value.includes('\0')) {
      throw new InvalidContainerSpecError('env', `invalid variable ${JSON.stringify(e.name)}`);
    }
  }
  if (spec.workingDir !== undefined && spec.workingDir !== '' && !spec.workingDir.startsWith('/')) {
    throw new InvalidContainerSpecError('workingDir', 'must be an absolute path');
  }
  const seen = new Set<string>();
  const checkTarget = (field: 'mounts' | 'devices', containerPath: string): string => {
    const at = posix.normalize(containerPath);
    if (!containerPath.startsWith('/') || containerPath.includes('\0') || at === '/' || at.split('/').includes('..')) {
      throw new InvalidContainerSpecError(field, `${field === 'mounts' ? 'mount' : 'device'} path ${JSON.stringify(containerPath)} must be absolute, below /, without ".."`);
    }
    if (seen.has(at)) throw new InvalidContainerSpecError(field, `${at} is mounted twice`);
    seen.add(at);
    return at;
  };
  for (const m of spec.mounts) {
    const at = checkTarget('mounts', m.containerPath);
    if (!m.hostPath.startsWith('/') || !existsSync(m.hostPath)) {
      throw new InvalidContainerSpecError('mounts', `host path ${JSON.stringify(m.hostPath)} of ${at} does not exist`);
    }
  }
  const devicePaths: string[] = [];
  for (const d of spec.devices ?? []) {
    const at = checkTarget('devices', d.containerPath);
    let isBlock = false;
    try {
      isBlock = d.hostPath.startsWith('/') && statSync(d.hostPath).isBlockDevice();
    } catch {
      // missing: refused below
    }
    if (!isBlock) throw new InvalidContainerSpecError('devices', `host path ${JSON.stringify(d.hostPath)} of ${at} is not a block device`);
    devicePaths.push(at);
  }
  // A device node is a leaf: nothing can be mounted below it.
  for (const at of seen) {
    const under = devicePaths.find((d) => at.startsWith(d + '/'));
    if (under !== undefined) throw new InvalidContainerSpecError('devices', `${at} is below the device ${under}`);
  }
}

/** Docker's defaults (PATH, HOSTNAME, HOME) under the pod's variables; a later duplicate wins. */
function containerEnv(spec: RuntimeContainerSpec): { name: string; value: string }[] {
  const env = new Map<string, string>([
    ['PATH', DEFAULT_PATH],
    ['HOSTNAME', spec.hostname],
    ['HOME', '/root'],
  ]);
  for (const e of spec.env) {
    env.delete(e.name);
    env.set(e.name, e.value);
  }
  return [...env].map(([name, value]) => ({ name, value }));
}

function hostsFile(hostname: string): string {
  return ['# Kubernetes-managed hosts file.', '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `127.0.1.1\t${hostname}`, ''].join('\n');
}

function depth(p: string): number {
  return posix.normalize(p).split('/').filter((s) => s !== '').length;
}

function readStarted(dir: string): { init: ProcessIdentity; at: string } | undefined {
  const file = posix.join(dir, STARTED_FILE);
  let text: string;
  let at: string;
  try {
    text = readFileSync(file, 'utf8');
    at = statSync(file).mtime.toISOString();
  } catch {
    return undefined;
  }
  const [pid, startTime] = text.trim().split(' ').map(Number);
  if (!Number.isInteger(pid) || !Number.isInteger(startTime)) return undefined;
  return { init: { pid, startTime }, at };
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function readJson<T>(file: string): T | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** SIGKILL to a shim's whole session group (shim, unshare and, through PID 1's death, the container). */
function killGroup(shim: ProcessIdentity): void {
  if (!isAlive(shim)) return;
  try {
    process.kill(-shim.pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/**
 * overlayfs where the kernel and the filesystem under `root` allow it (tried
 * once, in a throwaway mount namespace), else a private copy per container.
 */
async function chooseRootfsMode(
  wanted: 'auto' | 'overlay' | 'copy',
  root: string,
  containersDir: string,
  tools: Tools,
  logger: Logger,
): Promise<'overlay' | 'copy'> {
  if (wanted === 'copy') return 'copy';
  // Overlay options are comma- and colon-separated; such paths cannot be expressed.
  if (/[,:\\]/.test(root)) {
    if (wanted === 'overlay') throw new RuntimeUnavailableError(`overlayfs cannot use the root ${root} (it contains , : or \\)`);
    logger.warn({ root }, 'root path cannot be given to overlayfs; containers get a private copy of the image');
    return 'copy';
  }
  const probe = posix.join(containersDir, `.probe-${randomBytes(4).toString('hex')}`);
  try {
    for (const sub of ['lower', 'upper', 'work', 'merged']) mkdirSync(posix.join(probe, sub), { recursive: true });
    const script = 'mount -t overlay overlay -o "lowerdir=$1/lower,upperdir=$1/upper,workdir=$1/work" "$1/merged"';
    await runTool(tools.unshare, ['--mount', '--propagation', 'private', '--', tools.sh, '-c', script, 'probe', probe], 10_000);
    return 'overlay';
  } catch (err) {
    if (wanted === 'overlay') throw new RuntimeUnavailableError('overlayfs is not available here', { cause: err });
    logger.warn({ err: toError(err).message }, 'overlayfs unavailable; containers get a private copy of the image (slower starts)');
    return 'copy';
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
