// SPDY/3.1 framing: the frame types, an encoder and an incremental decoder.
//
//   control frame: 1 | version(15) = 3 | type(16) | flags(8) | length(24) | payload
//   data frame:    0 | stream id(31)               | flags(8) | length(24) | payload
//
// The decoder takes bytes as they arrive and returns whole frames. What it
// cannot accept comes in two strengths, as the protocol defines them: a
// session error (SpdySessionError: the peer is broken or out of step, answer
// GOAWAY and close) and a stream error (returned in line with the frames, as
// SpdyStreamError: answer RST_STREAM and carry on). Header blocks are
// decompressed in arrival order even when the frame is then refused, so the
// shared zlib state never falls out of step.

import {
  decodeHeaderBlock,
  encodeHeaderBlock,
  HeaderCompressionError,
  HeaderCompressor,
  HeaderDecompressor,
  InvalidHeaderBlockError,
  type SpdyHeaders,
} from './header-compression.ts';

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
export const FLAG_SETTINGS_CLEAR = 0x01;

/** RST_STREAM status codes. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;
export type RstStatusCode = (typeof RstStatus)[keyof typeof RstStatus];

/** GOAWAY status codes. */
export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;
export type GoAwayStatusCode = (typeof GoAwayStatus)[keyof typeof GoAwayStatus];

/** SETTINGS ids we read. */
export const SETTINGS_INITIAL_WINDOW_SIZE = 7;

export const MAX_STREAM_ID = 0x7fffffff;
/** 24-bit length field. */
export const MAX_FRAME_PAYLOAD = 0xffffff;
/** Control frames are small; anything bigger than this is refused rather than buffered. */
export const MAX_CONTROL_PAYLOAD = 256 * 1024;

export interface SpdySetting {
  id: number;
  flags: number;
  value: number;
}

export type SpdyFrame =
  | { type: 'SYN_STREAM'; streamId: number; associatedStreamId: number; priority: number; slot: number; fin: boolean; unidirectional: boolean; headers: SpdyHeaders }
  | { type: 'SYN_REPLY'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'RST_STREAM'; streamId: number; status: number }
  | { type: 'SETTINGS'; clear: boolean; settings: SpdySetting[] }
  | { type: 'PING'; id: number }
  | { type: 'GOAWAY'; lastGoodStreamId: number; status: number }
  | { type: 'HEADERS'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'WINDOW_UPDATE'; streamId: number; delta: number }
  | { type: 'DATA'; streamId: number; fin: boolean; data: Buffer };

/** The peer broke the protocol badly enough that the session cannot go on. */
export class SpdySessionError extends Error {
  override readonly name = 'SpdySessionError';
  readonly status: GoAwayStatusCode;
  constructor(message: string, status: GoAwayStatusCode = GoAwayStatus.PROTOCOL_ERROR) {
    super(message);
    this.status = status;
  }
}

/** One stream is unusable (answer RST_STREAM with `status`); the session carries on. */
export class SpdyStreamError extends Error {
  override readonly name = 'SpdyStreamError';
  readonly streamId: number;
  readonly status: RstStatusCode;
  constructor(streamId: number, status: RstStatusCode, message: string) {
    super(message);
    this.streamId = streamId;
    this.status = status;
  }
}

// ---- encoding ------------------------------------------------------------------------------------

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new RangeError(`control frame payload of ${payload.length} bytes does not fit`);
  const header = Buffer.alloc(8);
  header.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  header.writeUInt16BE(type, 2);
  // >>> 0: with a flag in the top byte the expression is negative, and writeUInt32BE wants it unsigned.
  header.writeUInt32BE((((flags & 0xff) << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([header, payload]);
}

function streamIdBytes(id: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(id & MAX_STREAM_ID);
  return b;
}

/**
 * Serialises a frame. Header-carrying frames go through `compressor`, whose state advances, so
 * frames must be written to the wire in the order they were encoded.
 */
export function encodeFrame(frame: SpdyFrame, compressor: HeaderCompressor): Buffer {
  switch (frame.type) {
    case 'SYN_STREAM': {
      const fixed = Buffer.alloc(10);
      fixed.writeUInt32BE(frame.streamId & MAX_STREAM_ID, 0);
      fixed.writeUInt32BE(frame.associatedStreamId & MAX_STREAM_ID, 4);
      fixed[8] = (frame.priority & 0x07) << 5;
      fixed[9] = frame.slot & 0xff;
      const flags = (frame.fin ? FLAG_FIN : 0) | (frame.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
      return controlFrame(FrameType.SYN_STREAM, flags, Buffer.concat([fixed, compressor.compress(encodeHeaderBlock(frame.headers))]));
    }
    case 'SYN_REPLY':
    case 'HEADERS': {
      const type = frame.type === 'SYN_REPLY' ? FrameType.SYN_REPLY : FrameType.HEADERS;
      const block = compressor.compress(encodeHeaderBlock(frame.headers));
      return controlFrame(type, frame.fin ? FLAG_FIN : 0, Buffer.concat([streamIdBytes(frame.streamId), block]));
    }
    case 'RST_STREAM': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(frame.streamId & MAX_STREAM_ID, 0);
      p.writeUInt32BE(frame.status >>> 0, 4);
      return controlFrame(FrameType.RST_STREAM, 0, p);
    }
    case 'SETTINGS': {
      const p = Buffer.alloc(4 + 8 * frame.settings.length);
      p.writeUInt32BE(frame.settings.length, 0);
      frame.settings.forEach((s, i) => {
        p.writeUInt32BE((((s.flags & 0xff) << 24) | (s.id & 0xffffff)) >>> 0, 4 + 8 * i);
        p.writeUInt32BE(s.value >>> 0, 8 + 8 * i);
      });
      return controlFrame(FrameType.SETTINGS, frame.clear ? FLAG_SETTINGS_CLEAR : 0, p);
    }
    case 'PING': {
      const p = Buffer.alloc(4);
      p.writeUInt32BE(frame.id >>> 0);
      return controlFrame(FrameType.PING, 0, p);
    }
    case 'GOAWAY': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(frame.lastGoodStreamId & MAX_STREAM_ID, 0);
      p.writeUInt32BE(frame.status >>> 0, 4);
      return controlFrame(FrameType.GOAWAY, 0, p);
    }
    case 'WINDOW_UPDATE': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(frame.streamId & MAX_STREAM_ID, 0);
      p.writeUInt32BE(frame.delta & 0x7fffffff, 4);
      return controlFrame(FrameType.WINDOW_UPDATE, 0, p);
    }
    case 'DATA': {
      if (frame.data.length > MAX_FRAME_PAYLOAD) throw new RangeError(`data frame payload of ${frame.data.length} bytes does not fit`);
      const header = Buffer.alloc(8);
      header.writeUInt32BE(frame.streamId & MAX_STREAM_ID, 0);
      header.writeUInt32BE((((frame.fin ? FLAG_FIN : 0) << 24) | frame.data.length) >>> 0, 4);
      return Buffer.concat([header, frame.data]);
    }
  }
}

// ---- decoding ------------------------------------------------------------------------------------

export type DecodedItem = { kind: 'frame'; frame: SpdyFrame } | { kind: 'stream-error'; error: SpdyStreamError };

/**
 * Turns the peer's byte stream into frames. push() returns every frame completed by the new
 * bytes; it throws SpdySessionError, after which the decoder must not be used again.
 */
export class FrameDecoder {
  readonly #decompressor = new HeaderDecompressor();
  #buffer: Buffer = Buffer.alloc(0);
  #failed = false;

  push(chunk: Buffer): DecodedItem[] {
    if (this.#failed) throw new SpdySessionError('decoder used after a session error');
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const out: DecodedItem[] = [];
    try {
      for (;;) {
        if (this.#buffer.length < 8) break;
        const isControl = (this.#buffer[0] & 0x80) !== 0;
        const flags = this.#buffer[4];
        const length = this.#buffer.readUInt32BE(4) & 0xffffff;
        if (isControl && length > MAX_CONTROL_PAYLOAD) {
          throw new SpdySessionError(`control frame of ${length} bytes is larger than ${MAX_CONTROL_PAYLOAD}`);
        }
        if (this.#buffer.length < 8 + length) break;
        const head = this.#buffer.subarray(0, 8);
        const payload = this.#buffer.subarray(8, 8 + length);
        this.#buffer = this.#buffer.subarray(8 + length);
        const item = isControl ? this.#control(head, flags, payload) : this.#data(head, flags, payload);
        if (item !== undefined) out.push(item);
      }
    } catch (err) {
      this.#failed = true;
      throw err;
    }
    // Keep the tail in a buffer of its own so one huge chunk is not retained by a small remainder.
    if (this.#buffer.length > 0 && this.#buffer.byteOffset !== 0) this.#buffer = Buffer.from(this.#buffer);
    return out;
  }

  /** Bytes received that do not yet make a whole frame. */
  get pendingBytes(): number {
    return this.#buffer.length;
  }

  #data(head: Buffer, flags: number, payload: Buffer): DecodedItem {
    const streamId = head.readUInt32BE(0) & MAX_STREAM_ID;
    if (streamId === 0) throw new SpdySessionError('data frame on stream 0');
    return { kind: 'frame', frame: { type: 'DATA', streamId, fin: (flags & FLAG_FIN) !== 0, data: Buffer.from(payload) } };
  }

  #control(head: Buffer, flags: number, p: Buffer): DecodedItem | undefined {
    const version = head.readUInt16BE(0) & 0x7fff;
    const type = head.readUInt16BE(2);
    if (version !== SPDY_VERSION) throw new SpdySessionError(`SPDY version ${version} is not supported`);
    const need = (min: number, exact = false): void => {
      if (exact ? p.length !== min : p.length < min) {
        throw new SpdySessionError(`control frame type ${type} has a payload of ${p.length} bytes`);
      }
    };
    switch (type) {
      case FrameType.SYN_STREAM: {
        need(10);
        const streamId = p.readUInt32BE(0) & MAX_STREAM_ID;
        const headers = this.#headers(streamId, p.subarray(10));
        if (streamId === 0) throw new SpdySessionError('SYN_STREAM for stream 0');
        if (headers instanceof SpdyStreamError) return { kind: 'stream-error', error: headers };
        return {
          kind: 'frame',
          frame: {
            type: 'SYN_STREAM',
            streamId,
            associatedStreamId: p.readUInt32BE(4) & MAX_STREAM_ID,
            priority: p[8] >> 5,
            slot: p[9],
            fin: (flags & FLAG_FIN) !== 0,
            unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
            headers,
          },
        };
      }
      case FrameType.SYN_REPLY:
      case FrameType.HEADERS: {
        need(4);
        const streamId = p.readUInt32BE(0) & MAX_STREAM_ID;
        const headers = this.#headers(streamId, p.subarray(4));
        if (streamId === 0) throw new SpdySessionError(`${type === FrameType.HEADERS ? 'HEADERS' : 'SYN_REPLY'} for stream 0`);
        if (headers instanceof SpdyStreamError) return { kind: 'stream-error', error: headers };
        const fin = (flags & FLAG_FIN) !== 0;
        return { kind: 'frame', frame: type === FrameType.HEADERS ? { type: 'HEADERS', streamId, fin, headers } : { type: 'SYN_REPLY', streamId, fin, headers } };
      }
      case FrameType.RST_STREAM: {
        need(8, true);
        const streamId = p.readUInt32BE(0) & MAX_STREAM_ID;
        const status = p.readUInt32BE(4);
        if (streamId === 0) throw new SpdySessionError('RST_STREAM for stream 0');
        if (status === 0) throw new SpdySessionError('RST_STREAM with status 0');
        return { kind: 'frame', frame: { type: 'RST_STREAM', streamId, status } };
      }
      case FrameType.SETTINGS: {
        need(4);
        const count = p.readUInt32BE(0);
        if (p.length !== 4 + 8 * count) throw new SpdySessionError(`SETTINGS says ${count} entries in ${p.length} bytes`);
        const settings: SpdySetting[] = [];
        for (let i = 0; i < count; i++) {
          const word = p.readUInt32BE(4 + 8 * i);
          settings.push({ flags: word >>> 24, id: word & 0xffffff, value: p.readUInt32BE(8 + 8 * i) });
        }
        return { kind: 'frame', frame: { type: 'SETTINGS', clear: (flags & FLAG_SETTINGS_CLEAR) !== 0, settings } };
      }
      case FrameType.PING:
        need(4, true);
        return { kind: 'frame', frame: { type: 'PING', id: p.readUInt32BE(0) } };
      case FrameType.GOAWAY:
        // SPDY/3 added the status word; accept the 4-byte form of older peers as OK.
        if (p.length !== 8 && p.length !== 4) need(8, true);
        return {
          kind: 'frame',
          frame: { type: 'GOAWAY', lastGoodStreamId: p.readUInt32BE(0) & MAX_STREAM_ID, status: p.length === 8 ? p.readUInt32BE(4) : GoAwayStatus.OK },
        };
      case FrameType.WINDOW_UPDATE: {
        need(8, true);
        const streamId = p.readUInt32BE(0) & MAX_STREAM_ID;
        const delta = p.readUInt32BE(4) & 0x7fffffff;
        if (delta === 0) {
          if (streamId === 0) throw new SpdySessionError('WINDOW_UPDATE of 0 for the session');
          return { kind: 'stream-error', error: new SpdyStreamError(streamId, RstStatus.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0') };
        }
        return { kind: 'frame', frame: { type: 'WINDOW_UPDATE', streamId, delta } };
      }
      default:
        // NOOP, CREDENTIAL and anything newer: the protocol says to ignore control frames we do not know.
        return undefined;
    }
  }

  /** Decompresses (always, to stay in step) and decodes a header block. */
  #headers(streamId: number, compressed: Buffer): SpdyHeaders | SpdyStreamError {
    let block: Buffer;
    try {
      block = this.#decompressor.decompress(compressed);
    } catch (err) {
      throw new SpdySessionError(err instanceof Error ? err.message : String(err));
    }
    try {
      return decodeHeaderBlock(block);
    } catch (err) {
      if (err instanceof InvalidHeaderBlockError) return new SpdyStreamError(streamId, RstStatus.PROTOCOL_ERROR, err.message);
      if (err instanceof HeaderCompressionError) throw new SpdySessionError(err.message);
      throw err;
    }
  }
}

/** Headers from plain pairs (names are lower-cased, as SPDY requires). */
export function spdyHeaders(pairs: Record<string, string | string[]>): SpdyHeaders {
  const h: SpdyHeaders = new Map();
  for (const [name, value] of Object.entries(pairs)) h.set(name.toLowerCase(), Array.isArray(value) ? value : [value]);
  return h;
}
