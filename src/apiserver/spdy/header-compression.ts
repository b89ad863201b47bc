// SPDY/3 name/value header blocks and their compression.
//
// Each direction of a session is one zlib stream primed with the SPDY/3
// dictionary; every header block is a sync-flushed piece of it, so a block
// always ends on a byte boundary and the next one starts a fresh deflate
// block. The only state one block hands to the next is the 32 KiB window of
// what was already decompressed (the dictionary, then earlier blocks). That
// lets both sides work synchronously, one block at a time, with Node's
// one-shot raw deflate/inflate: the window is passed in as the preset
// dictionary, which is exactly what a continuous inflater would hold. The
// zlib stream header (CMF, FLG and the dictionary's Adler-32) comes only in
// front of the first block.

import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { adler32, SPDY3_HEADER_DICTIONARY } from './dictionary.ts';

/** Header names (lower case) to their values; SPDY joins several values of one name with NUL. */
export type SpdyHeaders = Map<string, string[]>;

const WINDOW_SIZE = 32 * 1024;
/** A decompressed block bigger than this is refused (nothing in exec comes close). */
export const MAX_HEADER_BLOCK_BYTES = 256 * 1024;

/** The header block could not be decompressed or decoded: a session error (GOAWAY PROTOCOL_ERROR). */
export class HeaderCompressionError extends Error {
  override readonly name = 'HeaderCompressionError';
}

/** The block decoded but breaks SPDY's rules (upper-case or repeated names): a stream error. */
export class InvalidHeaderBlockError extends Error {
  override readonly name = 'InvalidHeaderBlockError';
}

function slideWindow(window: Buffer, added: Buffer): Buffer {
  const joined = Buffer.concat([window, added]);
  return joined.length <= WINDOW_SIZE ? joined : joined.subarray(joined.length - WINDOW_SIZE);
}

/** One direction's compressor. Blocks must be sent in the order they were compressed. */
export class HeaderCompressor {
  #window: Buffer = SPDY3_HEADER_DICTIONARY;
  #started = false;

  compress(block: Buffer): Buffer {
    const deflated = deflateRawSync(block, { dictionary: this.#window, level: 9, finishFlush: constants.Z_SYNC_FLUSH });
    this.#window = slideWindow(this.#window, block);
    if (this.#started) return deflated;
    this.#started = true;
    return Buffer.concat([zlibStreamHeader(), deflated]);
  }
}

/** 0x78 0xF9: deflate, 32 KiB window, best compression, a preset dictionary follows. */
function zlibStreamHeader(): Buffer {
  const header = Buffer.alloc(6);
  header[0] = 0x78;
  header[1] = 0xf9;
  header.writeUInt32BE(adler32(SPDY3_HEADER_DICTIONARY), 2);
  return header;
}

/** The other direction's decompressor; blocks must be fed in arrival order. */
export class HeaderDecompressor {
  #window: Buffer = SPDY3_HEADER_DICTIONARY;
  #started = false;

  /** Throws HeaderCompressionError; after that the stream is out of step and the session must end. */
  decompress(compressed: Buffer): Buffer {
    let body = compressed;
    if (!this.#started) {
      body = this.#stripStreamHeader(compressed);
      this.#started = true;
    }
    let block: Buffer;
    try {
      block = inflateRawSync(body, {
        dictionary: this.#window,
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: MAX_HEADER_BLOCK_BYTES,
      });
    } catch (err) {
      throw new HeaderCompressionError(`header block does not decompress: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.#window = slideWindow(this.#window, block);
    return block;
  }

  #stripStreamHeader(data: Buffer): Buffer {
    if (data.length < 2) throw new HeaderCompressionError('header block too short for a zlib stream header');
    const cmf = data[0];
    const flg = data[1];
    if ((cmf & 0x0f) !== 8 || (cmf >> 4) > 7 || ((cmf << 8) | flg) % 31 !== 0) {
      throw new HeaderCompressionError('header block does not start with a zlib stream header');
    }
    if ((flg & 0x20) === 0) return data.subarray(2);
    if (data.length < 6) throw new HeaderCompressionError('header block too short for the dictionary id');
    const id = data.readUInt32BE(2);
    if (id !== adler32(SPDY3_HEADER_DICTIONARY)) {
      throw new HeaderCompressionError(`header block was compressed with another dictionary (id ${id.toString(16)})`);
    }
    return data.subarray(6);
  }
}

/** The uncompressed block: a 32-bit count, then each name and value behind a 32-bit length. */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [u32(headers.size)];
  for (const [name, values] of headers) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(values.join('\u0000'), 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/**
 * Reads an uncompressed block. Throws HeaderCompressionError when the block is cut short or
 * overlong (the compression state may be fine, but the framing is not) and InvalidHeaderBlockError
 * for rule violations that only spoil this one stream.
 */
export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  let offset = 0;
  const read32 = (what: string): number => {
    if (offset + 4 > block.length) throw new HeaderCompressionError(`header block cut short in ${what}`);
    const v = block.readUInt32BE(offset);
    offset += 4;
    return v;
  };
  const readBytes = (length: number, what: string): Buffer => {
    if (offset + length > block.length) throw new HeaderCompressionError(`header block cut short in ${what}`);
    const b = block.subarray(offset, offset + length);
    offset += length;
    return b;
  };
  const count = read32('the header count');
  const headers: SpdyHeaders = new Map();
  let problem: string | undefined;
  for (let i = 0; i < count; i++) {
    const name = readBytes(read32('a name length'), 'a name').toString('utf8');
    const value = readBytes(read32('a value length'), 'a value').toString('utf8');
    if (name === '') problem ??= 'empty header name';
    if (name !== name.toLowerCase()) problem ??= `header name ${JSON.stringify(name)} is not lower case`;
    const key = name.toLowerCase();
    if (headers.has(key)) problem ??= `header ${JSON.stringify(key)} appears twice`;
    headers.set(key, value.split('\u0000'));
  }
  if (offset !== block.length) throw new HeaderCompressionError(`${block.length - offset} bytes after the last header`);
  if (problem !== undefined) throw new InvalidHeaderBlockError(problem);
  return headers;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}
