// A SPDY client for tests of this folder: the peer end of a socket pair,
// recording every frame the server sends, able to send well-formed or broken
// frames. It behaves like spdystream unless told otherwise: it answers the
// server's PINGs and never sends WINDOW_UPDATE by itself.

import type { Duplex } from 'node:stream';
import { waitFor } from '../../base/index.ts';
import { encodeFrame, FrameDecoder, spdyHeaders, type DecodedItem, type SpdyFrame } from './frames.ts';
import { HeaderCompressor } from './header-compression.ts';

export class TestSpdyClient {
  readonly socket: Duplex;
  /** Everything the server sent, in order. */
  readonly received: SpdyFrame[] = [];
  readonly #decoder = new FrameDecoder();
  readonly #compressor = new HeaderCompressor();
  #ended = false;
  #closed = false;
  /** Answer the server's PINGs (spdystream does). */
  answerPings = true;

  constructor(socket: Duplex) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      let items: DecodedItem[];
      try {
        items = this.#decoder.push(chunk);
      } catch {
        return;
      }
      for (const item of items) {
        if (item.kind !== 'frame') continue;
        this.received.push(item.frame);
        if (item.frame.type === 'PING' && item.frame.id % 2 === 0 && this.answerPings) this.send(item.frame);
      }
    });
    socket.on('end', () => {
      // As spdystream does once the server has gone away: close our side too.
      this.#ended = true;
      socket.end();
    });
    socket.on('close', () => (this.#closed = true));
    socket.on('error', () => {});
  }

  get ended(): boolean {
    return this.#ended || this.#closed;
  }

  send(frame: SpdyFrame): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(frame, this.#compressor));
  }

  raw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  open(streamId: number, headers: Record<string, string>, fin = false): void {
    this.send({ type: 'SYN_STREAM', streamId, associatedStreamId: 0, priority: 0, slot: 0, fin, unidirectional: false, headers: spdyHeaders(headers) });
  }

  data(streamId: number, data: Buffer | string, fin = false): void {
    this.send({ type: 'DATA', streamId, fin, data: typeof data === 'string' ? Buffer.from(data) : data });
  }

  framesOf<T extends SpdyFrame['type']>(type: T): Extract<SpdyFrame, { type: T }>[] {
    return this.received.filter((f): f is Extract<SpdyFrame, { type: T }> => f.type === type);
  }

  /** The data the server sent on a stream so far. */
  dataOf(streamId: number): Buffer {
    return Buffer.concat(this.framesOf('DATA').filter((f) => f.streamId === streamId).map((f) => f.data));
  }

  /** Whether the server half-closed a stream (FIN on DATA or SYN_REPLY). */
  finished(streamId: number): boolean {
    return this.received.some((f) => (f.type === 'DATA' || f.type === 'SYN_REPLY') && f.streamId === streamId && f.fin);
  }

  replied(streamId: number): boolean {
    return this.framesOf('SYN_REPLY').some((f) => f.streamId === streamId);
  }

  resetStatus(streamId: number): number | undefined {
    return this.framesOf('RST_STREAM').find((f) => f.streamId === streamId)?.status;
  }

  async waitFor<T>(what: string, condition: () => T | undefined | false): Promise<T> {
    return waitFor(what, condition, { timeoutMs: 5_000, intervalMs: 5 });
  }
}
