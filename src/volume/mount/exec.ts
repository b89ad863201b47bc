// The single place the mount utility starts host commands. argv arrays only
// (never a shell), a hard deadline, and the whole process group killed on
// timeout or abort: `mount -t nfs` forks mount.nfs, which is what actually
// hangs on a dead server, so killing only `mount` would leave it behind.

import { spawn } from 'node:child_process';
import { CancelledError } from '../../base/index.ts';
import { MountError, MountTimeoutError } from './errors.ts';

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

const MAX_OUTPUT = 64 * 1024;

/**
 * Runs `file args…` and resolves with its output when it exits 0. Throws
 * MountError (non-zero exit or not startable), MountTimeoutError or
 * CancelledError.
 */
export function runCommand(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new CancelledError());
      return;
    }
    // detached: the child leads its own process group, so kill(-pid) reaches its helpers too.
    const child = spawn(file, [...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, LC_ALL: 'C' },
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    let killedFor: 'timeout' | 'abort' | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += chunk;
    });
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      killedFor = 'timeout';
      killGroup();
    }, options.timeoutMs);
    const onAbort = (): void => {
      killedFor = 'abort';
      killGroup();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve({ stdout, stderr });
      else reject(err);
    };
    child.on('error', (err) => {
      finish(new MountError(file, args, undefined, err.message, { cause: err }));
    });
    child.on('close', (code) => {
      const output = (stdout + stderr).trim();
      if (killedFor === 'abort') finish(new CancelledError());
      else if (killedFor === 'timeout') finish(new MountTimeoutError(file, args, options.timeoutMs, output));
      else if (code === 0) finish(undefined);
      else finish(new MountError(file, args, code ?? undefined, output));
    });
  });
}
