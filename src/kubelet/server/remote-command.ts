// The kubelet's end of the remote-command (exec) stream protocol over WebSocket.
//
// kubectl ≥ 1.30 and client-node speak `v5.channel.k8s.io` (v4 plus a close
// signal) and client-node also offers v4. Each binary message starts with a
// channel byte: 0 stdin (client → us), 1 stdout, 2 stderr, 3 the final
// metav1.Status as JSON, 4 terminal resize (client → us), 255 "this channel is
// closed" (v5 only; the client sends [255, 0] when its stdin hits EOF).
// Nothing is sent before the first output, and the session ends with the
// status on channel 3 followed by a normal close (1000) — kubectl reads its
// output until the connection closes and only then decodes the status.
//
// Everything here is pure framing and bookkeeping except serveExec(), which
// binds one accepted WebSocket to the runtime's exec streams.

import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { WebSocket, RawData } from 'ws';
import type { Logger } from '../../base/index.ts';
import type { ExecStreams } from '../runtime/types.ts';

export const STREAM_PROTOCOL_V5 = 'v5.channel.k8s.io';
export const STREAM_PROTOCOL_V4 = 'v4.channel.k8s.io';
export type StreamProtocol = typeof STREAM_PROTOCOL_V5 | typeof STREAM_PROTOCOL_V4;
/** What we speak, best first. v1–v3 (plain-text error channel) and base64 variants are not offered. */
export const SUPPORTED_STREAM_PROTOCOLS: readonly StreamProtocol[] = [STREAM_PROTOCOL_V5, STREAM_PROTOCOL_V4];

export const CHANNEL_STDIN = 0;
export const CHANNEL_STDOUT = 1;
export const CHANNEL_STDERR = 2;
export const CHANNEL_ERROR = 3;
export const CHANNEL_RESIZE = 4;
export const CHANNEL_CLOSE = 255;

/** The exit-code cause and reason the remote-command protocol uses (remotecommand/constants.go). */
export const NON_ZERO_EXIT_CODE_REASON = 'NonZeroExitCode';
export const EXIT_CODE_CAUSE = 'ExitCode';

/** The best protocol of ours that the client offered, or undefined. */
export function negotiateProtocol(offered: Iterable<string>): StreamProtocol | undefined {
  const set = new Set([...offered].map((p) => p.trim()));
  return SUPPORTED_STREAM_PROTOCOLS.find((p) => set.has(p));
}

/** Splits a `Sec-WebSocket-Protocol` header into its entries. */
export function offeredProtocols(header: string | string[] | undefined): string[] {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values.flatMap((v) => v.split(',')).map((p) => p.trim()).filter((p) => p !== '');
}

/** One binary message: the channel byte, then the payload. */
export function encodeFrame(channel: number, payload: Uint8Array | string = new Uint8Array(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const frame = Buffer.allocUnsafe(body.length + 1);
  frame[0] = channel;
  frame.set(body, 1);
  return frame;
}

export interface TerminalSize {
  width: number;
  height: number;
}

/** What a message from the client means. */
export type ClientFrame =
  | { kind: 'stdin'; data: Buffer }
  | { kind: 'resize'; size: TerminalSize }
  /** v5: the client will send nothing more on `channel` (0 = stdin EOF). */
  | { kind: 'close'; channel: number }
  /** Empty messages, unknown channels, malformed resize payloads: ignored, as the upstream reader does. */
  | { kind: 'ignored'; why: string };

export function decodeClientFrame(message: Buffer, protocol: StreamProtocol): ClientFrame {
  if (message.length === 0) return { kind: 'ignored', why: 'empty message' };
  const channel = message[0];
  const payload = message.subarray(1);
  switch (channel) {
    case CHANNEL_STDIN:
      return { kind: 'stdin', data: payload };
    case CHANNEL_RESIZE: {
      const size = parseResize(payload);
      return size === undefined ? { kind: 'ignored', why: 'malformed resize' } : { kind: 'resize', size };
    }
    case CHANNEL_CLOSE:
      if (protocol !== STREAM_PROTOCOL_V5) return { kind: 'ignored', why: 'close signal before v5' };
      if (payload.length === 0) return { kind: 'ignored', why: 'close signal without a channel' };
      return { kind: 'close', channel: payload[0] };
    default:
      return { kind: 'ignored', why: `channel ${channel} is not written by clients` };
  }
}

/** `{"Width":80,"Height":24}` (kubectl appends a newline); several may arrive in one message. */
function parseResize(payload: Buffer): TerminalSize | undefined {
  let last: TerminalSize | undefined;
  for (const part of payload.toString('utf8').split('\n')) {
    if (part.trim() === '') continue;
    try {
      const v = JSON.parse(part) as { Width?: unknown; Height?: unknown };
      if (typeof v.Width !== 'number' || typeof v.Height !== 'number') return undefined;
      last = { width: v.Width, height: v.Height };
    } catch {
      return undefined;
    }
  }
  return last;
}

// ---- the final status (channel 3) --------------------------------------------------------------

/** metav1.Status as the protocol writes it: no kind/apiVersion, `metadata: {}`. */
export interface ExecStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
  code?: number;
}

export function successStatus(): ExecStatus {
  return { metadata: {}, status: 'Success' };
}

/** kubectl prints `command terminated with exit code N` and exits N from this. */
export function exitCodeStatus(command: readonly string[], exitCode: number): ExecStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
    reason: NON_ZERO_EXIT_CODE_REASON,
    details: { causes: [{ reason: EXIT_CODE_CAUSE, message: String(exitCode) }] },
  };
}

/** The runtime could not run the command at all; kubectl prints the message as the error. */
export function internalErrorStatus(err: Error): ExecStatus {
  const message = `error executing command in container: ${err.message}`;
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/** The exit code a channel-3 status stands for: 0, N for NonZeroExitCode, undefined for other failures. */
export function exitCodeOf(status: ExecStatus): number | undefined {
  if (status.status === 'Success') return 0;
  if (status.reason !== NON_ZERO_EXIT_CODE_REASON) return undefined;
  const cause = status.details?.causes?.find((c) => c.reason === EXIT_CODE_CAUSE);
  const code = Number(cause?.message);
  return Number.isInteger(code) ? code : undefined;
}

// ---- request options ----------------------------------------------------------------------------

export interface ExecOptions {
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** A bad exec request, answered 400 with the message as plain text (as the kubelet does). */
export class ExecRequestError extends Error {
  override readonly name = 'ExecRequestError';
}

/** The apiserver forwards `stdin=1`, kubectl/client-node send `stdin=true`; both mean yes. */
function flag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  return v === '1' || v === 'true' || v === 'True' || v === 'TRUE' || v === 't' || v === 'T';
}

export function parseExecOptions(query: URLSearchParams): ExecOptions {
  const command = query.getAll('command');
  const tty = flag(query, 'tty');
  const stdin = flag(query, 'stdin');
  const stdout = flag(query, 'stdout');
  // A terminal merges stderr into stdout; the kubelet drops the flag rather than failing.
  const stderr = flag(query, 'stderr') && !tty;
  if (command.length === 0) throw new ExecRequestError('you must specify at least one command for the container');
  if (!stdin && !stdout && !stderr) throw new ExecRequestError('you must specify at least 1 of stdin, stdout, stderr');
  return { command, stdin, stdout, stderr, tty };
}

// ---- one session --------------------------------------------------------------------------------

/** Runs the command with the given streams; resolves with its exit code, rejects when it could not run. */
export type ExecRunner = (streams: ExecStreams, signal: AbortSignal) => Promise<number>;

/** A writable whose chunks become messages on `channel`; write callbacks wait for the socket. */
class ChannelWriter extends Writable {
  readonly #ws: WebSocket;
  readonly #channel: number;
  constructor(ws: WebSocket, channel: number) {
    super();
    this.#ws = ws;
    this.#channel = channel;
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // Once the client is gone output has nowhere to go; swallowing it lets the command finish or be killed.
    if (this.#ws.readyState !== this.#ws.OPEN || chunk.length === 0) {
      callback();
      return;
    }
    this.#ws.send(encodeFrame(this.#channel, chunk), { binary: true }, () => callback());
  }
}

async function endWriter(w: Writable | undefined): Promise<void> {
  if (w === undefined) return;
  if (!w.writableEnded) w.end();
  await finished(w).catch(() => {});
}

/**
 * Serves one accepted exec WebSocket: feeds channel 0 into the command's stdin, sends its
 * output on channels 1/2, and finishes with the status on channel 3 and a 1000 close. The
 * command is aborted when the client goes away. Resolves when the session is over; never rejects.
 */
export async function serveExec(
  ws: WebSocket,
  protocol: StreamProtocol,
  options: ExecOptions,
  run: ExecRunner,
  logger: Logger,
): Promise<void> {
  const abort = new AbortController();
  const stdin = options.stdin ? new PassThrough() : undefined;
  const stdout = options.stdout ? new ChannelWriter(ws, CHANNEL_STDOUT) : undefined;
  const stderr = options.stderr ? new ChannelWriter(ws, CHANNEL_STDERR) : undefined;

  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (!isBinary) {
      // Text frames are a protocol error for the binary channel protocols.
      ws.close(1003, 'binary messages only');
      return;
    }
    const frame = decodeClientFrame(toBuffer(data), protocol);
    switch (frame.kind) {
      case 'stdin':
        if (stdin === undefined || stdin.writableEnded) return;
        // Back-pressure: stop reading the socket until the command has taken its input.
        if (!stdin.write(frame.data)) {
          ws.pause();
          stdin.once('drain', () => ws.resume());
        }
        return;
      case 'close':
        if (frame.channel === CHANNEL_STDIN) stdin?.end();
        return;
      case 'resize':
        // The runtime contract has no terminal resize yet; the size is only logged.
        logger.debug({ size: frame.size }, 'exec resize ignored');
        return;
      case 'ignored':
        logger.debug({ why: frame.why }, 'exec message ignored');
        return;
    }
  });
  ws.on('close', () => {
    stdin?.end();
    abort.abort();
  });
  ws.on('error', (err) => logger.debug({ err: err.message }, 'exec websocket error'));

  let status: ExecStatus;
  try {
    const exitCode = await run({ stdin, stdout, stderr, tty: options.tty }, abort.signal);
    status = exitCode === 0 ? successStatus() : exitCodeStatus(options.command, exitCode);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    logger.info({ err: e.message, command: options.command }, 'exec failed');
    status = internalErrorStatus(e);
  }
  // Output still queued in the writers must reach the client before the status does.
  await Promise.all([endWriter(stdout), endWriter(stderr)]);
  stdin?.destroy();
  if (ws.readyState !== ws.OPEN) return;
  await new Promise<void>((resolve) => ws.send(encodeFrame(CHANNEL_ERROR, JSON.stringify(status)), { binary: true }, () => resolve()));
  ws.close(1000);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
