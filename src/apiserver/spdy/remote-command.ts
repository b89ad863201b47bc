// kubectl exec over SPDY, bridged onto the kubelet's WebSocket channels.
//
// A SPDY remote-command client (kubectl before 1.30, or with
// KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) opens one stream per purpose and
// names it in a `streamType` header; the kubelet here speaks only the
// WebSocket channel protocol, where one connection carries numbered channels.
// Upstream's StreamTranslatorProxy turns WebSocket clients into SPDY towards
// the kubelet; this is the reverse:
//
//   SPDY stream (streamType)   WebSocket channel   direction
//   stdin                      0                   client → kubelet; FIN → v5 close signal [255, 0]
//   stdout                     1                   kubelet → client
//   stderr                     2                   kubelet → client
//   error                      3                   kubelet → client: the final metav1.Status
//   resize                     4                   client → kubelet: {"Width":…,"Height":…} lines
//
// As the kubelet's own SPDY server does, nothing flows until the client has
// opened every stream the request implies (error; stdin, stdout, stderr as
// asked, stderr never with a tty; resize with a tty from v3 on); until then
// what the kubelet sends is kept in order (and its socket paused once that
// passes 1 MiB; it is not paused before, so its close is still seen).
// When the kubelet closes, the output streams and the error stream are
// half-closed and the session ends with GOAWAY.
//
// v4.channel.k8s.io carries the Status as JSON on the error stream; v3 and v2
// carry only the message of a failure as plain text. v1 (`channel.k8s.io`,
// no error stream of its kind) is not offered.

import type { WebSocket, RawData } from 'ws';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../base/index.ts';
import { RstStatus } from './frames.ts';
import { SpdySession, type SpdyStream } from './session.ts';

export const SPDY_STREAM_PROTOCOL_V4 = 'v4.channel.k8s.io';
export const SPDY_STREAM_PROTOCOL_V3 = 'v3.channel.k8s.io';
export const SPDY_STREAM_PROTOCOL_V2 = 'v2.channel.k8s.io';
export type SpdyStreamProtocol = typeof SPDY_STREAM_PROTOCOL_V4 | typeof SPDY_STREAM_PROTOCOL_V3 | typeof SPDY_STREAM_PROTOCOL_V2;
/** What we accept over SPDY. v5 is a WebSocket-only revision; SPDY clients that offer it also offer v4. */
export const SUPPORTED_SPDY_STREAM_PROTOCOLS: readonly SpdyStreamProtocol[] = [SPDY_STREAM_PROTOCOL_V4, SPDY_STREAM_PROTOCOL_V3, SPDY_STREAM_PROTOCOL_V2];

/** The protocols the kubelet is offered for the bridged connection: v5 can signal stdin EOF. */
export const KUBELET_WEBSOCKET_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

export const STREAM_TYPE_HEADER = 'streamtype';
export type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';
const STREAM_TYPES: readonly StreamType[] = ['error', 'stdin', 'stdout', 'stderr', 'resize'];

const CHANNEL_STDIN = 0;
const CHANNEL_STDOUT = 1;
const CHANNEL_STDERR = 2;
const CHANNEL_ERROR = 3;
const CHANNEL_RESIZE = 4;
const CHANNEL_CLOSE = 255;

/** How long the client gets to open its streams after the upgrade (the kubelet's default too). */
export const DEFAULT_STREAM_CREATION_TIMEOUT_MS = 30_000;
/** Stdin bytes waiting in the kubelet socket before we stop reading from the client. */
const KUBELET_HIGH_WATER = 1024 * 1024;

/** Splits `X-Stream-Protocol-Version` values (repeated headers arrive joined with commas). */
export function offeredStreamProtocols(header: string | string[] | undefined): string[] {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values.flatMap((v) => v.split(',')).map((p) => p.trim()).filter((p) => p !== '');
}

/** The first of the client's offers (in its order of preference) that we speak, as upstream's handshake picks. */
export function negotiateSpdyProtocol(offered: readonly string[]): SpdyStreamProtocol | undefined {
  for (const p of offered) {
    const found = SUPPORTED_SPDY_STREAM_PROTOCOLS.find((s) => s === p);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** upstream's wording when nothing matches. */
export function negotiationFailureMessage(offered: readonly string[]): string {
  return `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server supports [${SUPPORTED_SPDY_STREAM_PROTOCOLS.join(' ')}]`;
}

export interface ExecStreamFlags {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** The streams a client opens for these flags, as the kubelet's SPDY server expects them. */
export function expectedStreamTypes(protocol: SpdyStreamProtocol, flags: ExecStreamFlags): Set<StreamType> {
  const types = new Set<StreamType>(['error']);
  if (flags.stdin) types.add('stdin');
  if (flags.stdout) types.add('stdout');
  // A terminal merges stderr into stdout; clients do not open the stream then.
  if (flags.stderr && !flags.tty) types.add('stderr');
  if (flags.tty && protocol !== SPDY_STREAM_PROTOCOL_V2) types.add('resize');
  return types;
}

interface StatusShape {
  status?: string;
  message?: string;
}

/**
 * What goes on the error stream for a Status from channel 3: v4 takes it as it is; v2/v3 take
 * the message of a failure as text and nothing for success. undefined: write nothing.
 */
export function errorStreamPayload(protocol: SpdyStreamProtocol, statusJson: Buffer): Buffer | undefined {
  if (protocol === SPDY_STREAM_PROTOCOL_V4) return statusJson;
  let status: StatusShape;
  try {
    status = JSON.parse(statusJson.toString('utf8')) as StatusShape;
  } catch {
    return statusJson.length === 0 ? undefined : statusJson;
  }
  if (status.status === 'Success') return undefined;
  return Buffer.from(status.message ?? 'error executing remote command', 'utf8');
}

/** A Status for the error stream when the kubelet went away without sending one. */
function lostKubeletStatus(protocol: SpdyStreamProtocol, detail: string): Buffer | undefined {
  const message = `error executing remote command: the connection to the kubelet ended without an exit status (${detail})`;
  const json = Buffer.from(
    JSON.stringify({ metadata: {}, status: 'Failure', message, reason: 'InternalError', details: { causes: [{ message }] }, code: 500 }),
    'utf8',
  );
  return errorStreamPayload(protocol, json);
}

/** The client did not open its streams in time. */
export class StreamCreationTimeoutError extends Error {
  override readonly name = 'StreamCreationTimeoutError';
  readonly missing: readonly StreamType[];
  constructor(missing: readonly StreamType[]) {
    super(`timed out waiting for the client to create streams (missing: ${missing.join(', ')})`);
    this.missing = missing;
  }
}

export interface SpdyExecBridgeOptions {
  /** The client's socket, already answered with 101 Upgrade: SPDY/3.1. */
  socket: Duplex;
  /** Bytes that came with the upgrade request. */
  head?: Buffer;
  /**
   * The open WebSocket to the kubelet's exec endpoint, paused in its 'open' handler: `ws` emits
   * messages that arrive with the handshake before an awaiting caller could listen.
   */
  kubelet: WebSocket;
  protocol: SpdyStreamProtocol;
  flags: ExecStreamFlags;
  logger: Logger;
  streamCreationTimeoutMs?: number;
}

export interface SpdyExecResult {
  /** The Status the kubelet sent on channel 3, if any (raw JSON). */
  status: Buffer | undefined;
  /** Why the bridge ended early, if it did. */
  error?: Error;
}

/**
 * Runs one exec session to the end. Resolves when both the client's socket and the kubelet's
 * WebSocket are closed; never rejects (failures end both sides and are reported in the result).
 */
export function bridgeSpdyExec(options: SpdyExecBridgeOptions): Promise<SpdyExecResult> {
  const { kubelet, protocol, logger } = options;
  const expected = expectedStreamTypes(protocol, options.flags);
  const streams = new Map<StreamType, SpdyStream>();
  const early: Buffer[] = [];
  let ready = false;
  let status: Buffer | undefined;
  let failure: Error | undefined;
  let kubeletClosed = kubelet.readyState === kubelet.CLOSED;
  /** Output streams whose write() said wait; the kubelet stays paused while any is. */
  const blocked = new Set<StreamType>();
  let creationTimer: NodeJS.Timeout | undefined;
  let earlyBytes = 0;
  // A kubelet that is gone already counts as one that vanished without a status.
  let kubeletClose: { code: number; reason: string } | undefined = kubeletClosed ? { code: 1006, reason: 'closed before the bridge started' } : undefined;
  let finished = false;
  const kubeletSpeaksV5 = kubelet.protocol === KUBELET_WEBSOCKET_PROTOCOLS[0];

  /** Once the kubelet is done and the streams exist: the last words, FINs and GOAWAY. */
  function finishIfDone(): void {
    if (finished || kubeletClose === undefined || !ready) return;
    finished = true;
    const { code, reason } = kubeletClose;
    if (status === undefined && code !== 1000) {
      const lost = lostKubeletStatus(protocol, `close code ${code}${reason === '' ? '' : `: ${reason}`}`);
      if (lost !== undefined) writeOut('error', lost);
    }
    for (const type of ['stdout', 'stderr', 'error'] as const) streams.get(type)?.end();
    session.close();
  }

  const session = new SpdySession(options.socket, {
    logger,
    head: options.head,
    onStream: (stream) => {
      const type = stream.header(STREAM_TYPE_HEADER);
      if (type === undefined || !STREAM_TYPES.includes(type as StreamType)) {
        logger.debug({ streamType: type }, 'spdy exec stream of unknown type refused');
        stream.reset(RstStatus.REFUSED_STREAM);
        return;
      }
      const t = type as StreamType;
      if (streams.has(t) && !streams.get(t)!.closed) {
        stream.reset(RstStatus.PROTOCOL_ERROR);
        return;
      }
      streams.set(t, stream);
      stream.reply();
      wireClientStream(t, stream);
      if (!ready && [...expected].every((e) => streams.has(e))) {
        ready = true;
        clearTimeout(creationTimer);
        for (const message of early.splice(0)) fromKubelet(message);
        earlyBytes = 0;
        if (blocked.size === 0 && !kubeletClosed) kubelet.resume();
        finishIfDone();
      }
    },
  });

  creationTimer = setTimeout(() => {
    const missing = [...expected].filter((e) => !streams.has(e));
    failure = new StreamCreationTimeoutError(missing);
    logger.info({ missing }, 'spdy exec: client did not create its streams');
    session.destroy();
  }, options.streamCreationTimeoutMs ?? DEFAULT_STREAM_CREATION_TIMEOUT_MS);
  creationTimer.unref();

  function toKubelet(channel: number, data: Buffer): void {
    if (kubelet.readyState !== kubelet.OPEN) return;
    const message = Buffer.allocUnsafe(data.length + 1);
    message[0] = channel;
    data.copy(message, 1);
    kubelet.send(message, { binary: true }, () => {
      if (kubelet.bufferedAmount < KUBELET_HIGH_WATER / 4) session.resumeInput();
    });
    if (kubelet.bufferedAmount > KUBELET_HIGH_WATER) session.pauseInput();
  }

  function wireClientStream(type: StreamType, stream: SpdyStream): void {
    switch (type) {
      case 'stdin':
        stream.on('data', (data) => toKubelet(CHANNEL_STDIN, data));
        // Only v5 can tell the command its input is over; with v4 the stdin stays open.
        stream.on('end', () => {
          if (kubeletSpeaksV5) toKubelet(CHANNEL_CLOSE, Buffer.from([CHANNEL_STDIN]));
        });
        return;
      case 'resize':
        stream.on('data', (data) => toKubelet(CHANNEL_RESIZE, data));
        return;
      case 'stdout':
      case 'stderr':
      case 'error':
        // Output streams: whatever the client writes on them is meaningless and dropped.
        stream.on('drain', () => {
          blocked.delete(type);
          if (blocked.size === 0 && ready && !kubeletClosed) kubelet.resume();
        });
        stream.on('close', () => {
          blocked.delete(type);
          if (blocked.size === 0 && ready && !kubeletClosed) kubelet.resume();
        });
        return;
    }
  }

  function writeOut(type: StreamType, data: Buffer): void {
    const stream = streams.get(type);
    if (stream === undefined || stream.closed) return;
    if (!stream.write(data)) {
      blocked.add(type);
      kubelet.pause();
    }
  }

  function fromKubelet(message: Buffer): void {
    if (message.length === 0) return;
    const payload = message.subarray(1);
    switch (message[0]) {
      case CHANNEL_STDOUT:
        writeOut('stdout', payload);
        return;
      case CHANNEL_STDERR:
        writeOut('stderr', payload);
        return;
      case CHANNEL_ERROR: {
        status = Buffer.from(payload);
        const out = errorStreamPayload(protocol, status);
        if (out !== undefined) writeOut('error', out);
        return;
      }
      default:
        // 255 (the kubelet's own close signals) and anything unknown: nothing for a SPDY client.
        return;
    }
  }

  kubelet.on('message', (data: RawData, isBinary: boolean) => {
    if (!isBinary) return;
    const message = toBuffer(data);
    if (ready) {
      fromKubelet(message);
      return;
    }
    early.push(message);
    earlyBytes += message.length;
    if (earlyBytes > KUBELET_HIGH_WATER) kubelet.pause();
  });
  // Listening now: let through what the caller held back since the handshake.
  kubelet.resume();

  const kubeletDone = new Promise<void>((resolve) => {
    if (kubeletClosed) {
      resolve();
      return;
    }
    kubelet.on('close', (code: number, reason: Buffer) => {
      kubeletClosed = true;
      kubeletClose = { code, reason: reason.toString('utf8') };
      // A quick command can be over before the client has opened its streams; the end then
      // waits for them (or for the creation timeout), like the output does.
      finishIfDone();
      resolve();
    });
    kubelet.on('error', (err: Error) => {
      logger.debug({ err: err.message }, 'spdy exec: kubelet websocket error');
      failure ??= err;
    });
  });

  const clientDone = session.closed.then(() => {
    clearTimeout(creationTimer);
    // The client went away (or the session failed): the command is of no use to anyone now.
    // Resumed first, or a paused socket would never read the kubelet's answer to our close.
    if (!kubeletClosed) {
      kubelet.resume();
      kubelet.close(1000);
    }
  });

  return Promise.all([kubeletDone, clientDone]).then(() => (failure === undefined ? { status } : { status, error: failure }));
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
