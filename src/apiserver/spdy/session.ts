// The server end of one SPDY/3.1 session on an upgraded socket: the streams
// the client opens, their data in both directions, PING, GOAWAY, SETTINGS and
// flow control. It knows nothing about exec; remote-command.ts gives the
// streams their meaning.
//
// Flow control. SPDY/3.1 gives every stream and the session a send window of
// 64 KiB that the receiver tops up with WINDOW_UPDATE. kubectl's SPDY library
// (moby/spdystream) never sends WINDOW_UPDATE and never checks windows (seen
// with kubectl 1.32: a 2 MiB output brings none), and upstream's own server
// end, the kubelet's spdystream, ignores them too; holding kubectl to 64 KiB
// would stall every large output forever. So the session starts by counting
// windows without knowing whether the peer keeps them:
//   - a peer that sends WINDOW_UPDATE or SETTINGS(INITIAL_WINDOW_SIZE) keeps
//     windows: from then on we never send beyond them ('enforced');
//   - when a window runs out before the peer said anything, we hold the data
//     and send a PING. Frames are processed in order, so by the time the PING
//     comes back a window-keeping peer has had its chance to top the window
//     up; if it did not, it is a spdystream peer and windows are ignored from
//     then on ('ignored'), which costs one round trip per session. Should a
//     WINDOW_UPDATE still come later, the peer keeps windows after all and
//     they are enforced from then on.
// In every mode TCP back-pressure applies: a stream's write() returns false
// while its queue or the socket is full, and 'drain' follows.
//
// Our receive side sends WINDOW_UPDATE as data is handed over, so a
// window-keeping client can keep sending stdin; we do not police the peer's
// use of our windows (spdystream clients ignore them), the socket is paused
// instead when our consumer is slow (pauseInput()).

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../base/index.ts';
import {
  encodeFrame,
  FrameDecoder,
  GoAwayStatus,
  MAX_STREAM_ID,
  RstStatus,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SpdySessionError,
  SpdyStreamError,
  type GoAwayStatusCode,
  type RstStatusCode,
  type SpdyFrame,
} from './frames.ts';
import { HeaderCompressor, type SpdyHeaders } from './header-compression.ts';

/** SPDY/3.1's initial stream and session window. */
export const DEFAULT_WINDOW = 64 * 1024;
const MAX_WINDOW = 0x7fffffff;
/** The biggest DATA frame we send; smaller frames keep streams interleaving fairly. */
const MAX_DATA_FRAME = 32 * 1024;
/** Bytes queued on a stream before write() asks the writer to wait. */
const STREAM_HIGH_WATER = 256 * 1024;
/** We return window to the peer in steps of this much consumed data. */
const WINDOW_UPDATE_THRESHOLD = DEFAULT_WINDOW / 2;

export type FlowControlMode = 'unknown' | 'enforced' | 'ignored';

export interface SpdySessionOptions {
  logger: Logger;
  /**
   * A stream the client opened. The handler attaches its listeners synchronously and must
   * reply() or reset() it; data may be emitted right after it returns.
   */
  onStream(stream: SpdyStream): void;
  /** Bytes that arrived with the upgrade request. */
  head?: Buffer;
  /** Streams open at once before new ones are refused. Default 32. */
  maxConcurrentStreams?: number;
  /** After our GOAWAY, how long the peer gets to close before the socket is destroyed. Default 10 s. */
  closeTimeoutMs?: number;
}

type StreamEvents = {
  /** Data from the peer. */
  data: [Buffer];
  /** The peer half-closed the stream (FIN): no more data. */
  end: [];
  /** The stream was reset, by the peer (its status) or because the session ended (CANCEL). */
  reset: [number];
  /** The stream can take more writes after write() returned false. */
  drain: [];
  /** Both halves are closed or the stream was reset; it is gone from the session. */
  close: [];
};

export class SpdyStream extends EventEmitter<StreamEvents> {
  readonly id: number;
  readonly headers: SpdyHeaders;
  readonly #session: SpdySession;
  /** Set by the session; read by it when flushing. */
  sendWindow: number;
  #replied = false;
  #localFinished: boolean;
  #endRequested = false;
  #remoteFinished = false;
  #closed = false;
  #queue: Buffer[] = [];
  #queued = 0;
  #needDrain = false;
  #unacknowledged = 0;

  constructor(session: SpdySession, id: number, headers: SpdyHeaders, sendWindow: number, unidirectional: boolean) {
    super();
    this.#session = session;
    this.id = id;
    this.headers = headers;
    this.sendWindow = sendWindow;
    // A unidirectional stream is half-closed on our side from the start.
    this.#localFinished = unidirectional;
  }

  /** The first value of a header, or undefined. */
  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  get closed(): boolean {
    return this.#closed;
  }

  get remoteEnded(): boolean {
    return this.#remoteFinished;
  }

  /** Accepts the stream (SYN_REPLY). Data written before this waits for it. No-op once replied or closed. */
  reply(headers: SpdyHeaders = new Map(), fin = false): void {
    if (this.#replied || this.#closed) return;
    this.#replied = true;
    this.#session.sendFrame({ type: 'SYN_REPLY', streamId: this.id, fin, headers });
    if (fin) {
      this.#localFinished = true;
      this.#endRequested = true;
      this.#maybeClose();
      return;
    }
    this.#session.flushStream(this);
  }

  /**
   * Queues data for the peer. Returns false when the caller should wait for 'drain'. Writes on a
   * closed or ended stream are dropped (the peer has gone or will get nothing more) and return
   * true: there is nothing to wait for.
   */
  write(data: Buffer): boolean {
    if (this.#closed || this.#endRequested || this.#localFinished) return true;
    if (data.length > 0) {
      this.#queue.push(data);
      this.#queued += data.length;
      this.#session.flushStream(this);
    }
    const ok = this.#queued < STREAM_HIGH_WATER && this.#session.socketWritable;
    if (!ok) this.#needDrain = true;
    return ok;
  }

  /** Half-closes our side (FIN) once the queued data is sent. Idempotent. */
  end(): void {
    if (this.#closed || this.#endRequested) return;
    this.#endRequested = true;
    this.#session.flushStream(this);
  }

  /** Aborts the stream (RST_STREAM). No-op when already closed. */
  reset(status: RstStatusCode = RstStatus.CANCEL): void {
    if (this.#closed) return;
    this.#session.sendFrame({ type: 'RST_STREAM', streamId: this.id, status });
    this.#close();
  }

  // ---- for the session -----------------------------------------------------------------------

  /** Sends what the windows allow; returns true when the stream ran out of window with data left. */
  flushInto(send: (frame: SpdyFrame) => void, allowance: () => number, spend: (n: number) => void): boolean {
    if (!this.#replied || this.#closed) return false;
    while (this.#queue.length > 0) {
      const allowed = Math.min(allowance(), MAX_DATA_FRAME);
      if (allowed <= 0) return true;
      const head = this.#queue[0];
      const n = Math.min(head.length, allowed);
      const chunk = head.subarray(0, n);
      if (n === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
      this.#queued -= n;
      spend(n);
      send({ type: 'DATA', streamId: this.id, fin: false, data: chunk });
    }
    if (this.#endRequested && !this.#localFinished) {
      this.#localFinished = true;
      send({ type: 'DATA', streamId: this.id, fin: true, data: Buffer.alloc(0) });
      this.#maybeClose();
    }
    return false;
  }

  get queuedBytes(): number {
    return this.#queued;
  }

  /** The socket drained or the queue shrank: tell a waiting writer. */
  notifyDrain(socketWritable: boolean): void {
    if (this.#needDrain && this.#queued < STREAM_HIGH_WATER && socketWritable && !this.#closed) {
      this.#needDrain = false;
      this.emit('drain');
    }
  }

  /** Data from the peer; returns how many bytes of window to give back now (0 for not yet). */
  receive(data: Buffer, fin: boolean): number {
    if (data.length > 0) this.emit('data', data);
    this.#unacknowledged += data.length;
    if (fin) {
      this.remoteEnd();
      return 0;
    }
    if (this.#unacknowledged < WINDOW_UPDATE_THRESHOLD) return 0;
    const n = this.#unacknowledged;
    this.#unacknowledged = 0;
    return n;
  }

  remoteEnd(): void {
    if (this.#remoteFinished || this.#closed) return;
    this.#remoteFinished = true;
    this.emit('end');
    this.#maybeClose();
  }

  /** The peer reset the stream, or the session is over. */
  aborted(status: number): void {
    if (this.#closed) return;
    this.emit('reset', status);
    this.#close();
  }

  #maybeClose(): void {
    if (this.#localFinished && this.#remoteFinished) this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    this.#session.forget(this);
    this.emit('close');
  }
}

type SessionEvents = {
  /** The peer sent GOAWAY: it opens no more streams. */
  goaway: [number];
  /** The socket is closed; every stream is closed. */
  close: [];
};

export class SpdySession extends EventEmitter<SessionEvents> {
  readonly #socket: Duplex;
  readonly #log: Logger;
  readonly #onStream: (stream: SpdyStream) => void;
  readonly #maxStreams: number;
  readonly #closeTimeoutMs: number;
  readonly #decoder = new FrameDecoder();
  readonly #compressor = new HeaderCompressor();
  readonly #streams = new Map<number, SpdyStream>();
  readonly closed: Promise<void>;
  #lastPeerStreamId = 0;
  #initialSendWindow = DEFAULT_WINDOW;
  #sessionSendWindow = DEFAULT_WINDOW;
  #sessionUnacknowledged = 0;
  #flow: FlowControlMode = 'unknown';
  #probePingId: number | undefined;
  #nextPingId = 2;
  #goAwaySent = false;
  #closing = false;
  #socketClosed = false;

  constructor(socket: Duplex, options: SpdySessionOptions) {
    super();
    this.#socket = socket;
    this.#log = options.logger;
    this.#onStream = options.onStream;
    this.#maxStreams = options.maxConcurrentStreams ?? 32;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#socketClosed = true;
        for (const stream of [...this.#streams.values()]) stream.aborted(RstStatus.CANCEL);
        this.emit('close');
        resolve();
      });
    });
    socket.on('error', (err: Error) => this.#log.debug({ err: err.message }, 'spdy socket error'));
    socket.on('drain', () => this.#flushAll());
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    // The peer half-closed TCP: it will send nothing more, so neither will we.
    socket.on('end', () => this.destroy());
    if (options.head !== undefined && options.head.length > 0) {
      const head = options.head;
      // After the constructor returns, so the caller holds the session before streams arrive.
      queueMicrotask(() => this.#receive(head));
    }
  }

  get flowControl(): FlowControlMode {
    return this.#flow;
  }

  get socketWritable(): boolean {
    return !this.#socketClosed && !this.#socket.destroyed && !this.#socket.writableNeedDrain;
  }

  /** Stops reading from the peer (our consumer is behind). */
  pauseInput(): void {
    this.#socket.pause();
  }

  resumeInput(): void {
    this.#socket.resume();
  }

  /**
   * Ends the session politely: once every stream's queued data is on the wire, GOAWAY(OK) and a
   * TCP half-close; the socket is destroyed if the peer does not close within closeTimeoutMs.
   */
  close(): void {
    if (this.#closing || this.#socketClosed) return;
    this.#closing = true;
    // A peer that keeps windows but stops opening them must not hold the session forever.
    setTimeout(() => this.#goAway(GoAwayStatus.OK), this.#closeTimeoutMs).unref();
    this.#maybeFinishClose();
  }

  /** Ends the session now. */
  destroy(): void {
    this.#socket.destroy();
  }

  // ---- for streams -------------------------------------------------------------------------

  sendFrame(frame: SpdyFrame): void {
    if (this.#socketClosed || this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#socket.write(encodeFrame(frame, this.#compressor));
  }

  flushStream(stream: SpdyStream): void {
    this.#flush(stream);
    stream.notifyDrain(this.socketWritable);
    this.#maybeFinishClose();
  }

  forget(stream: SpdyStream): void {
    this.#streams.delete(stream.id);
    this.#maybeFinishClose();
  }

  // ---- sending -------------------------------------------------------------------------------

  #flush(stream: SpdyStream): void {
    if (!this.socketWritable) return;
    const starved = stream.flushInto(
      (frame) => this.sendFrame(frame),
      () => {
        if (!this.socketWritable) return 0;
        if (this.#flow === 'ignored') return Number.MAX_SAFE_INTEGER;
        return Math.min(stream.sendWindow, this.#sessionSendWindow);
      },
      (n) => {
        stream.sendWindow -= n;
        this.#sessionSendWindow -= n;
      },
    );
    if (starved && this.#flow === 'unknown' && this.socketWritable) this.#probe();
  }

  #flushAll(): void {
    for (const stream of [...this.#streams.values()]) this.#flush(stream);
    for (const stream of [...this.#streams.values()]) stream.notifyDrain(this.socketWritable);
    this.#maybeFinishClose();
  }

  /** Asks whether the peer keeps windows at all (see the top of the file). */
  #probe(): void {
    if (this.#probePingId !== undefined) return;
    this.#probePingId = this.#nextPingId;
    this.#nextPingId = this.#nextPingId >= MAX_STREAM_ID - 1 ? 2 : this.#nextPingId + 2;
    this.sendFrame({ type: 'PING', id: this.#probePingId });
  }

  #maybeFinishClose(): void {
    if (!this.#closing || this.#goAwaySent || this.#socketClosed) return;
    for (const stream of this.#streams.values()) if (stream.queuedBytes > 0) return;
    this.#goAway(GoAwayStatus.OK);
  }

  #goAway(status: GoAwayStatusCode): void {
    if (this.#goAwaySent || this.#socketClosed) return;
    this.#goAwaySent = true;
    this.sendFrame({ type: 'GOAWAY', lastGoodStreamId: this.#lastPeerStreamId, status });
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), this.#closeTimeoutMs).unref();
  }

  // ---- receiving -----------------------------------------------------------------------------

  #receive(chunk: Buffer): void {
    if (this.#socketClosed) return;
    let items;
    try {
      items = this.#decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof SpdySessionError)) throw err;
      this.#sessionError(err);
      return;
    }
    for (const item of items) {
      if (this.#socketClosed) return;
      try {
        if (item.kind === 'stream-error') this.#streamError(item.error);
        else this.#frame(item.frame);
      } catch (err) {
        if (err instanceof SpdySessionError) {
          this.#sessionError(err);
          return;
        }
        if (err instanceof SpdyStreamError) {
          this.#streamError(err);
          continue;
        }
        // A handler failed: ours is the bug, but the peer still gets a clean end.
        this.#log.error({ err }, 'spdy frame handling failed');
        this.#sessionError(new SpdySessionError(err instanceof Error ? err.message : String(err), GoAwayStatus.INTERNAL_ERROR));
        return;
      }
    }
  }

  #sessionError(err: SpdySessionError): void {
    this.#log.info({ err: err.message, status: err.status }, 'spdy session error; sending GOAWAY');
    this.#socket.pause();
    this.#goAway(err.status);
    for (const stream of [...this.#streams.values()]) stream.aborted(RstStatus.CANCEL);
  }

  #streamError(err: SpdyStreamError): void {
    this.#log.debug({ err: err.message, streamId: err.streamId, status: err.status }, 'spdy stream error');
    const stream = this.#streams.get(err.streamId);
    if (stream !== undefined) {
      stream.reset(err.status);
      return;
    }
    this.sendFrame({ type: 'RST_STREAM', streamId: err.streamId, status: err.status });
  }

  #frame(frame: SpdyFrame): void {
    switch (frame.type) {
      case 'SYN_STREAM':
        return this.#synStream(frame);
      case 'DATA': {
        const stream = this.#streams.get(frame.streamId);
        if (stream === undefined) throw new SpdyStreamError(frame.streamId, RstStatus.INVALID_STREAM, 'data for a stream that is not open');
        if (stream.remoteEnded) throw new SpdyStreamError(frame.streamId, RstStatus.STREAM_ALREADY_CLOSED, 'data after FIN');
        const giveBack = stream.receive(frame.data, frame.fin);
        if (giveBack > 0 && !stream.closed) this.sendFrame({ type: 'WINDOW_UPDATE', streamId: stream.id, delta: giveBack });
        this.#sessionUnacknowledged += frame.data.length;
        if (this.#sessionUnacknowledged >= WINDOW_UPDATE_THRESHOLD) {
          this.sendFrame({ type: 'WINDOW_UPDATE', streamId: 0, delta: this.#sessionUnacknowledged });
          this.#sessionUnacknowledged = 0;
        }
        return;
      }
      case 'SYN_REPLY':
        // We never open streams, so there is nothing a SYN_REPLY could answer.
        throw new SpdyStreamError(frame.streamId, RstStatus.INVALID_STREAM, 'SYN_REPLY for a stream we did not open');
      case 'HEADERS': {
        const stream = this.#streams.get(frame.streamId);
        if (stream === undefined) throw new SpdyStreamError(frame.streamId, RstStatus.INVALID_STREAM, 'HEADERS for a stream that is not open');
        if (frame.fin) stream.remoteEnd();
        return;
      }
      case 'RST_STREAM':
        this.#streams.get(frame.streamId)?.aborted(frame.status);
        return;
      case 'SETTINGS':
        for (const setting of frame.settings) {
          if (setting.id !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
          if (setting.value > MAX_WINDOW) throw new SpdySessionError(`initial window of ${setting.value} is too large`);
          const delta = setting.value - this.#initialSendWindow;
          this.#initialSendWindow = setting.value;
          for (const stream of this.#streams.values()) stream.sendWindow += delta;
          this.#flow = 'enforced';
        }
        this.#flushAll();
        return;
      case 'PING':
        if (frame.id % 2 === 1) {
          // The client's ping: answer with the same id.
          this.sendFrame({ type: 'PING', id: frame.id });
        } else if (frame.id === this.#probePingId) {
          this.#probePingId = undefined;
          if (this.#flow === 'unknown') {
            this.#flow = 'ignored';
            this.#log.debug('spdy peer keeps no flow-control windows; relying on TCP back-pressure');
          }
          this.#flushAll();
        }
        return;
      case 'GOAWAY':
        this.emit('goaway', frame.status);
        return;
      case 'WINDOW_UPDATE':
        this.#flow = 'enforced';
        if (frame.streamId === 0) {
          if (this.#sessionSendWindow + frame.delta > MAX_WINDOW) throw new SpdySessionError('session window overflow');
          this.#sessionSendWindow += frame.delta;
        } else {
          const stream = this.#streams.get(frame.streamId);
          // A window for a stream that has just finished is normal; ignore it.
          if (stream === undefined) return;
          if (stream.sendWindow + frame.delta > MAX_WINDOW) {
            throw new SpdyStreamError(frame.streamId, RstStatus.FLOW_CONTROL_ERROR, 'stream window overflow');
          }
          stream.sendWindow += frame.delta;
        }
        this.#flushAll();
        return;
    }
  }

  #synStream(frame: Extract<SpdyFrame, { type: 'SYN_STREAM' }>): void {
    const id = frame.streamId;
    if (id <= this.#lastPeerStreamId) throw new SpdySessionError(`stream id ${id} is not above ${this.#lastPeerStreamId}`);
    this.#lastPeerStreamId = id;
    // Client-initiated streams are odd; an even one would collide with ids a server would use.
    if (id % 2 === 0) throw new SpdyStreamError(id, RstStatus.PROTOCOL_ERROR, 'a client stream id must be odd');
    if (this.#closing || this.#goAwaySent) throw new SpdyStreamError(id, RstStatus.REFUSED_STREAM, 'session is closing');
    if (this.#streams.size >= this.#maxStreams) throw new SpdyStreamError(id, RstStatus.REFUSED_STREAM, 'too many streams');
    const stream = new SpdyStream(this, id, frame.headers, this.#initialSendWindow, frame.unidirectional);
    this.#streams.set(id, stream);
    this.#onStream(stream);
    if (frame.fin) stream.remoteEnd();
  }
}
