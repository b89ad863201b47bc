// The per-container shim: a small detached process (its own session) that
// outlives the kubelet. It starts `unshare … container-init.sh …`, turns the
// container's stdout and stderr into CRI log entries, and writes the exit
// status to `<state>/exit.json` when the container's PID 1 is gone. Because
// the kubelet is not in this chain, a kubelet restart loses no log line and
// no exit code; the new kubelet reads both from disk.
//
// Usage: node shim.ts <state-dir>/shim.json

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';

export interface ShimConfig {
  stateDir: string;
  logPath: string;
  /** The program and arguments that create the namespaces and run container-init.sh. */
  file: string;
  args: string[];
}

/** What the shim records when the container ends. */
export interface ExitRecord {
  exitCode: number;
  signal?: string;
  finishedAt: string;
}

export const EXIT_FILE = 'exit.json';
export const STARTED_FILE = 'started';
export const SETUP_ERROR_FILE = 'setup-error';
export const SHIM_CONFIG_FILE = 'shim.json';

const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

async function main(configPath: string): Promise<void> {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as ShimConfig;
  const fd = openSync(config.logPath, 'a', 0o640);

  let recorded = false;
  const record = (exit: ExitRecord): void => {
    if (recorded) return;
    recorded = true;
    const tmp = `${config.stateDir}/${EXIT_FILE}.tmp`;
    writeFileSync(tmp, JSON.stringify(exit) + '\n');
    renameSync(tmp, `${config.stateDir}/${EXIT_FILE}`);
    closeSync(fd);
  };

  // The container's setup starts first; the log writer loads while it runs.
  // Nothing is lost meanwhile: the pipes stay paused until read, and `close`
  // cannot come before both are read to their end.
  const child = spawn(config.file, config.args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: HOST_PATH } });
  child.on('error', (err) => {
    writeFileSync(`${config.stateDir}/${SETUP_ERROR_FILE}`, `cannot start ${config.file}: ${err.message}\n`);
    record({ exitCode: 128, finishedAt: new Date().toISOString() });
  });
  let CriLogWriter: typeof import('./cri-log.ts').CriLogWriter;
  try {
    ({ CriLogWriter } = await import('./cri-log.ts'));
  } catch (err) {
    // No logs, no container: it must not run unobserved. The group is ours (a session of its own).
    writeFileSync(`${config.stateDir}/${SETUP_ERROR_FILE}`, `the shim cannot load its log writer: ${String(err)}\n`);
    record({ exitCode: 128, finishedAt: new Date().toISOString() });
    process.kill(-process.pid, 'SIGKILL');
    return;
  }
  const log = new CriLogWriter((entry) => {
    try {
      writeSync(fd, entry);
    } catch {
      // A full disk costs log lines, never the container.
    }
  });
  child.stdout.on('data', (chunk: Buffer) => log.push('stdout', chunk));
  child.stdout.on('end', () => log.end('stdout'));
  child.stderr.on('data', (chunk: Buffer) => log.push('stderr', chunk));
  child.stderr.on('end', () => log.end('stderr'));
  // `close` comes after both pipes ended: every line is in the log before the exit is.
  child.on('close', (code, signal) => {
    const exitCode = code ?? 128 + (signal !== null ? constants.signals[signal] : 0);
    record({ exitCode, ...(signal !== null ? { signal } : {}), finishedAt: new Date().toISOString() });
  });
}

if (process.argv[2] !== undefined && import.meta.filename === process.argv[1]) await main(process.argv[2]);
