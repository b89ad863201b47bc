import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';
import { adler32, SPDY3_HEADER_DICTIONARY } from './dictionary.ts';
import {
  decodeHeaderBlock,
  encodeHeaderBlock,
  HeaderCompressionError,
  HeaderCompressor,
  HeaderDecompressor,
  InvalidHeaderBlockError,
  type SpdyHeaders,
} from './header-compression.ts';

const headers = (pairs: [string, string[]][]): SpdyHeaders => new Map(pairs);

/** What Go's framer does: one zlib stream primed with the dictionary, a sync flush after every block. */
async function goStyleCompress(blocks: Buffer[], dictionary: Buffer = SPDY3_HEADER_DICTIONARY): Promise<Buffer[]> {
  const deflate: Deflate = createDeflate({ dictionary, level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const pieces: Buffer[] = [];
  for (const block of blocks) {
    deflate.write(block);
    await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    pieces.push(Buffer.concat(out.splice(0)));
  }
  deflate.destroy();
  return pieces;
}

/** What Go's reader does: one continuous inflater over the blocks in order. */
async function goStyleDecompress(pieces: Buffer[]): Promise<Buffer[]> {
  const inflate: Inflate = createInflate({ dictionary: SPDY3_HEADER_DICTIONARY });
  const out: Buffer[] = [];
  inflate.on('data', (c: Buffer) => out.push(c));
  const blocks: Buffer[] = [];
  for (const piece of pieces) {
    inflate.write(piece);
    await new Promise<void>((resolve) => inflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    blocks.push(Buffer.concat(out.splice(0)));
  }
  inflate.destroy();
  return blocks;
}

const kubectlStreams = ['error', 'stdin', 'stdout', 'stderr', 'resize'].map((t) =>
  encodeHeaderBlock(headers([['streamtype', [t]]])),
);

describe('the SPDY/3 dictionary', () => {
  it('dict-1 is byte for byte the one spdystream primes with (1423 bytes, pinned digest)', () => {
    assert.equal(SPDY3_HEADER_DICTIONARY.length, 1423);
    assert.equal(
      createHash('sha256').update(SPDY3_HEADER_DICTIONARY).digest('hex'),
      '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02',
    );
    assert.equal(SPDY3_HEADER_DICTIONARY.subarray(-6).toString('latin1'), 'enq=0.');
  });

  it('dict-2 adler32 matches zlib', () => {
    assert.equal(adler32(Buffer.from('Wikipedia')), 0x11e60398);
    assert.equal(adler32(Buffer.alloc(0)), 1);
    // Long enough to cross the 5552-byte reduction step.
    assert.equal(adler32(Buffer.alloc(20_000, 0xff)), 0x9f51d664); // value from Python's zlib.adler32
  });
});

describe('header block compression', () => {
  it('comp-1 blocks compressed as Go does decompress in order', async () => {
    const pieces = await goStyleCompress(kubectlStreams);
    const d = new HeaderDecompressor();
    assert.deepEqual(pieces.map((p) => d.decompress(p)), kubectlStreams);
  });

  it('comp-2 our blocks decompress with one continuous inflater primed with the dictionary', async () => {
    const c = new HeaderCompressor();
    const pieces = kubectlStreams.map((b) => c.compress(b));
    assert.deepEqual(await goStyleDecompress(pieces), kubectlStreams);
    // The stream header names the dictionary.
    assert.deepEqual([...pieces[0].subarray(0, 2)], [0x78, 0xf9]);
    assert.equal(pieces[0].readUInt32BE(2), adler32(SPDY3_HEADER_DICTIONARY));
  });

  it('comp-3 later blocks use earlier ones: a repeated block shrinks', () => {
    const c = new HeaderCompressor();
    const block = encodeHeaderBlock(headers([['x-some-long-header-name', ['a value that is not in the dictionary at all']]]));
    const first = c.compress(block);
    const second = c.compress(block);
    assert.ok(second.length < first.length - 6, `${second.length} vs ${first.length}`);
    const d = new HeaderDecompressor();
    assert.deepEqual(d.decompress(first), block);
    assert.deepEqual(d.decompress(second), block);
  });

  it('comp-4 windows slide past 32 KiB and stay in step', async () => {
    const blocks = Array.from({ length: 12 }, (_, i) => encodeHeaderBlock(headers([[`h${i}`, ['v'.repeat(5000) + String(i)]]])));
    const pieces = await goStyleCompress(blocks);
    const d = new HeaderDecompressor();
    for (let i = 0; i < blocks.length; i++) assert.deepEqual(d.decompress(pieces[i]), blocks[i], `block ${i}`);
    const c = new HeaderCompressor();
    assert.deepEqual(await goStyleDecompress(blocks.map((b) => c.compress(b))), blocks);
  });

  const refusals: { name: string; input: () => Promise<Buffer> | Buffer; want: RegExp }[] = [
    { name: 'comp-5 another dictionary is refused by its id', input: async () => (await goStyleCompress(kubectlStreams.slice(0, 1), Buffer.from('other')))[0], want: /another dictionary/ },
    { name: 'comp-6 no zlib header', input: () => Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), want: /zlib stream header/ },
    { name: 'comp-7 garbage after a valid header', input: () => Buffer.concat([Buffer.from([0x78, 0xf9]), u32(adler32(SPDY3_HEADER_DICTIONARY)), Buffer.from([0xff, 0xff, 0xff, 0xff])]), want: /does not decompress/ },
    { name: 'comp-8 too short for a header', input: () => Buffer.from([0x78]), want: /too short/ },
  ];
  for (const row of refusals) {
    it(row.name, async () => {
      const input = await row.input();
      assert.throws(() => new HeaderDecompressor().decompress(input), (err: unknown) => err instanceof HeaderCompressionError && row.want.test(err.message));
    });
  }

  it('comp-9 a decompression bomb is refused', async () => {
    const [piece] = await goStyleCompress([Buffer.alloc(1024 * 1024)]);
    assert.throws(() => new HeaderDecompressor().decompress(piece), HeaderCompressionError);
  });
});

describe('name/value header blocks', () => {
  it('block-1 round trip, with several values joined by NUL', () => {
    const h = headers([
      ['streamtype', ['stdout']],
      ['x-multi', ['a', 'b', '']],
    ]);
    const block = encodeHeaderBlock(h);
    assert.deepEqual(decodeHeaderBlock(block), h);
    assert.deepEqual(decodeHeaderBlock(encodeHeaderBlock(new Map())), new Map());
  });

  it('block-2 names are lower-cased on the way out', () => {
    assert.deepEqual(decodeHeaderBlock(encodeHeaderBlock(headers([['StreamType', ['error']]]))), headers([['streamtype', ['error']]]));
  });

  const raw = (...entries: [string, string][]): Buffer =>
    Buffer.concat([u32(entries.length), ...entries.flatMap(([n, v]) => [u32(Buffer.byteLength(n)), Buffer.from(n), u32(Buffer.byteLength(v)), Buffer.from(v)])]);

  const rows: { name: string; block: Buffer; error: typeof HeaderCompressionError | typeof InvalidHeaderBlockError; want: RegExp }[] = [
    { name: 'block-3 an upper-case name spoils the stream', block: raw(['StreamType', 'error']), error: InvalidHeaderBlockError, want: /not lower case/ },
    { name: 'block-4 a repeated name spoils the stream', block: raw(['a', '1'], ['a', '2']), error: InvalidHeaderBlockError, want: /appears twice/ },
    { name: 'block-5 an empty name spoils the stream', block: raw(['', 'x']), error: InvalidHeaderBlockError, want: /empty header name/ },
    { name: 'block-6 a count larger than the block', block: Buffer.concat([u32(3), raw(['a', '1']).subarray(4)]), error: HeaderCompressionError, want: /cut short/ },
    { name: 'block-7 a length past the end', block: Buffer.concat([u32(1), u32(100), Buffer.from('ab')]), error: HeaderCompressionError, want: /cut short/ },
    { name: 'block-8 bytes after the last header', block: Buffer.concat([raw(['a', '1']), Buffer.from([0])]), error: HeaderCompressionError, want: /after the last header/ },
    { name: 'block-9 empty', block: Buffer.alloc(0), error: HeaderCompressionError, want: /cut short/ },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.throws(() => decodeHeaderBlock(row.block), (err: unknown) => err instanceof row.error && row.want.test((err as Error).message));
    });
  }
});

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}
