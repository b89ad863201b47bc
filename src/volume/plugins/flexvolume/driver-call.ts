// One FlexVolume driver executable and the calls made to it: upstream's
// DriverCall and handleCmdResponse (driver-call.go). Every call is its own
// process — the driver keeps no memory between calls — run with argv (never
// a shell), a deadline after which its whole process group is killed, and
// stdout parsed strictly as the driver-status JSON object.
//
// How a call ends (exit status × what stdout says):
//   stdout is the status JSON   "Success", exit 0        → the status
//                               "Success", exit ≠ 0      → FlexDriverCallError (a driver bug upstream logs too)
//                               "Failure", any exit      → FlexDriverCallError with the driver's message
//                               "Not supported", any exit→ FlexDriverNotSupportedError, remembered for this driver
//   stdout is not the JSON      exit 0                   → FlexDriverOutputError (raw output truncated)
//                               exit ≠ 0                 → FlexDriverCallError with stderr (or stdout) as message
//   no exit before the deadline                          → FlexDriverTimeoutError
//   not startable (removed)                              → FlexDriverMissingError
//
// Upstream parses stdout and stderr together; we parse stdout alone so a
// driver may log to stderr. Portable drivers keep stderr quiet anyway.
//
// The options JSON is encoded as Go's json.Marshal encodes a map[string]string
// (keys sorted, <, >, & and U+2028/9 escaped), so a driver sees the bytes a
// real kubelet would pass. Options are never logged as they are: secret
// values are replaced before anything reaches the logger.

import { spawn } from 'node:child_process';
import { CancelledError, silentLogger, type Logger } from '../../../base/index.ts';
import {
  FlexDriverCallError,
  FlexDriverMissingError,
  FlexDriverNotSupportedError,
  FlexDriverOutputError,
  FlexDriverTimeoutError,
  truncateOutput,
  type FlexDriverCommand,
} from './errors.ts';

/** Upstream's order of magnitude for a hung driver; callers can pass a shorter one. */
export const DEFAULT_DRIVER_CALL_TIMEOUT_MS = 120_000;

export const STATUS_SUCCESS = 'Success';
export const STATUS_FAILURE = 'Failure';
export const STATUS_NOT_SUPPORTED = 'Not supported';
export type DriverStatusValue = typeof STATUS_SUCCESS | typeof STATUS_FAILURE | typeof STATUS_NOT_SUPPORTED;

/** What `init` reports; fields a driver leaves out keep upstream's defaults. */
export interface DriverCapabilities {
  attach: boolean;
  selinuxRelabel: boolean;
  supportsMetrics: boolean;
  fsGroup: boolean;
  requiresFSResize: boolean;
}

export function defaultCapabilities(): DriverCapabilities {
  return { attach: true, selinuxRelabel: true, supportsMetrics: false, fsGroup: true, requiresFSResize: true };
}

/** A successful call's answer. String fields a driver leaves out are "". */
export interface DriverStatus {
  status: typeof STATUS_SUCCESS;
  message: string;
  /** `attach` / `waitforattach`: the device on this node, e.g. /dev/loop3. */
  device: string;
  /** `getvolumename`: the volume's cluster-wide unique name. */
  volumeName: string;
  /** `isattached`. */
  attached: boolean;
  capabilities: DriverCapabilities;
  /** `expandvolume`: the size in bytes after resizing, when the driver says. */
  volumeNewSize?: number;
}

/** The options JSON argument: a flat string map, as upstream's OptionsForDriver. */
export type DriverOptions = Record<string, string>;

/** An argument of a call: a plain string, or the options map (serialised as JSON). */
export type DriverArg = string | { readonly options: DriverOptions };

export const OPTION_KEY_SECRET_PREFIX = 'kubernetes.io/secret/';

/** Go's json.Marshal of a map[string]string: sorted keys, HTML-safe escapes. */
export function encodeDriverOptions(options: DriverOptions): string {
  const sorted = Object.keys(options).sort().map((k) => [k, options[k]] as const);
  return JSON.stringify(Object.fromEntries(sorted)).replace(/[<>&\u2028\u2029]/g, (ch) => {
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** The options with every secret value replaced, for logs. */
export function redactDriverOptions(options: DriverOptions): DriverOptions {
  const out: DriverOptions = {};
  for (const [k, v] of Object.entries(options)) out[k] = k.startsWith(OPTION_KEY_SECRET_PREFIX) ? '[redacted]' : v;
  return out;
}

const CAPABILITY_FIELDS = ['attach', 'selinuxRelabel', 'supportsMetrics', 'fsGroup', 'requiresFSResize'] as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Go's encoding/json matches keys case-insensitively (an exact match first),
 * and so do drivers written against it ("Capabilities" is common): find the
 * value for `field` that way. null counts as absent, as in Go.
 */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name] ?? undefined;
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k] ?? undefined;
  return undefined;
}

export type ParsedOutput =
  | { ok: true; status: DriverStatusValue; message: string; result: DriverStatus }
  | { ok: false; reason: string };

/** Parses a driver's stdout strictly. Never throws. */
export function parseDriverOutput(stdout: string): ParsedOutput {
  const text = stdout.trim();
  if (text === '') return { ok: false, reason: 'no output' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (!isPlainObject(value)) return { ok: false, reason: 'not a JSON object' };
  const status = field(value, 'status');
  if (status !== STATUS_SUCCESS && status !== STATUS_FAILURE && status !== STATUS_NOT_SUPPORTED) {
    return { ok: false, reason: `"status" must be "Success", "Failure" or "Not supported", got ${JSON.stringify(status ?? null)}` };
  }
  const result: DriverStatus = {
    status: STATUS_SUCCESS,
    message: '',
    device: '',
    volumeName: '',
    attached: false,
    capabilities: defaultCapabilities(),
  };
  for (const name of ['message', 'device', 'volumeName'] as const) {
    const v = field(value, name);
    if (v === undefined) continue;
    if (typeof v !== 'string') return { ok: false, reason: `"${name}" must be a string` };
    result[name] = v;
  }
  const attached = field(value, 'attached');
  if (attached !== undefined) {
    if (typeof attached !== 'boolean') return { ok: false, reason: '"attached" must be a boolean' };
    result.attached = attached;
  }
  const size = field(value, 'volumeNewSize');
  if (size !== undefined) {
    if (typeof size !== 'number' || !Number.isInteger(size)) return { ok: false, reason: '"volumeNewSize" must be an integer' };
    result.volumeNewSize = size;
  }
  const caps = field(value, 'capabilities');
  if (caps !== undefined) {
    if (!isPlainObject(caps)) return { ok: false, reason: '"capabilities" must be an object' };
    for (const name of CAPABILITY_FIELDS) {
      const v = field(caps, name);
      if (v === undefined) continue;
      if (typeof v !== 'boolean') return { ok: false, reason: `"capabilities.${name}" must be a boolean` };
      result.capabilities[name] = v;
    }
  }
  return { ok: true, status, message: result.message, result };
}

export interface FlexDriverOptions {
  /** `<vendor>/<driver>`. */
  name: string;
  /** The executable: `<plugin dir>/<vendor>~<driver>/<driver>`. */
  execPath: string;
  /** Deadline of every call that does not pass its own (default DEFAULT_DRIVER_CALL_TIMEOUT_MS). */
  timeoutMs?: number;
  logger?: Logger;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

interface ProcessResult {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  /** "exit status N", or "killed by SIGx" when something else killed it. */
  exit: string;
}

const MAX_CAPTURE = 256 * 1024;

/**
 * One driver executable and its per-driver memory: which calls it answered
 * "Not supported" (asked again only after the driver is re-initialised, as
 * upstream re-creates its plugin object on a change).
 */
export class FlexDriver {
  readonly name: string;
  readonly execPath: string;
  readonly timeoutMs: number;
  readonly #log: Logger;
  readonly #unsupported = new Set<FlexDriverCommand>();

  constructor(options: FlexDriverOptions) {
    this.name = options.name;
    this.execPath = options.execPath;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_DRIVER_CALL_TIMEOUT_MS;
    this.#log = (options.logger ?? silentLogger()).child({ flexDriver: options.name });
  }

  /** Whether `command` answered "Not supported" since the last reset. */
  isUnsupported(command: FlexDriverCommand): boolean {
    return this.#unsupported.has(command);
  }

  /** Forgets the "Not supported" answers (the executable changed). */
  resetUnsupported(): void {
    this.#unsupported.clear();
  }

  /**
   * Runs `<exec> <command> <args…>` and returns the Success status. Throws
   * FlexDriverNotSupportedError, FlexDriverCallError, FlexDriverOutputError,
   * FlexDriverTimeoutError, FlexDriverMissingError or CancelledError.
   */
  async call(command: FlexDriverCommand, args: readonly DriverArg[], opts: CallOptions = {}): Promise<DriverStatus> {
    if (this.#unsupported.has(command)) throw new FlexDriverNotSupportedError(this.name, command);
    const argv = [command, ...args.map((a) => (typeof a === 'string' ? a : encodeDriverOptions(a.options)))];
    const logArgs = args.map((a) => (typeof a === 'string' ? a : redactDriverOptions(a.options)));
    const timeoutMs = opts.timeoutMs !== undefined && opts.timeoutMs > 0 ? opts.timeoutMs : this.timeoutMs;
    this.#log.debug({ command, args: logArgs }, 'flexvolume driver call');
    const res = await this.#run(command, argv, timeoutMs, opts.signal);
    const parsed = parseDriverOutput(res.stdout);
    if (!parsed.ok) {
      if (res.exitCode !== 0) {
        const said = (res.stderr.trim() || res.stdout.trim()) || '(no output)';
        throw this.#failed(new FlexDriverCallError(this.name, command, res.exit, truncateOutput(said), res.exitCode), logArgs);
      }
      throw this.#failed(new FlexDriverOutputError(this.name, command, parsed.reason, res.stdout, res.exitCode), logArgs);
    }
    if (parsed.status === STATUS_NOT_SUPPORTED) {
      this.#unsupported.add(command);
      this.#log.debug({ command }, 'flexvolume driver call not supported');
      throw new FlexDriverNotSupportedError(this.name, command, parsed.message);
    }
    if (parsed.status === STATUS_FAILURE) {
      throw this.#failed(new FlexDriverCallError(this.name, command, STATUS_FAILURE, parsed.message, res.exitCode), logArgs);
    }
    if (res.exitCode !== 0) {
      const msg = parsed.message || `driver bug: ${res.exit} with status Success`;
      throw this.#failed(new FlexDriverCallError(this.name, command, res.exit, msg, res.exitCode), logArgs);
    }
    return parsed.result;
  }

  #failed<E extends Error>(err: E, logArgs: unknown[]): E {
    this.#log.warn({ args: logArgs, err: { name: err.name, message: err.message } }, 'flexvolume driver call failed');
    return err;
  }

  #run(command: FlexDriverCommand, argv: string[], timeoutMs: number, signal: AbortSignal | undefined): Promise<ProcessResult> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new CancelledError());
        return;
      }
      // detached: the driver leads its own process group, so a kill reaches
      // what a shell script forked (sleep, mount, losetup) as well.
      const child = spawn(this.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      let stderr = '';
      let killedFor: 'timeout' | 'abort' | undefined;
      let settled = false;
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        if (stdout.length < MAX_CAPTURE) stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        if (stderr.length < MAX_CAPTURE) stderr += chunk;
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
      }, timeoutMs);
      const onAbort = (): void => {
        killedFor = 'abort';
        killGroup();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (err: Error | undefined, result?: ProcessResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(result!);
      };
      child.on('error', (err: NodeJS.ErrnoException) => {
        finish(new FlexDriverMissingError(this.name, command, this.execPath, err.code, { cause: err }));
      });
      // 'close' waits for the pipes: a grandchild holding stdout open keeps
      // it from firing, which is why the timeout kills the whole group.
      child.on('close', (code, sig) => {
        if (killedFor === 'abort') finish(new CancelledError());
        else if (killedFor === 'timeout') finish(new FlexDriverTimeoutError(this.name, command, timeoutMs));
        else finish(undefined, { stdout, stderr, exitCode: code ?? undefined, exit: code === null ? `killed by ${sig}` : `exit status ${code}` });
      });
    });
  }
}
