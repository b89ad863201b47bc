import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeFrame,
  FrameDecoder,
  GoAwayStatus,
  MAX_CONTROL_PAYLOAD,
  RstStatus,
  spdyHeaders,
  SpdySessionError,
  type DecodedItem,
  type SpdyFrame,
} from './frames.ts';
import { encodeHeaderBlock, HeaderCompressor } from './header-compression.ts';

const roundTrips: { name: string; frame: SpdyFrame }[] = [
  {
    name: 'frame-1 SYN_STREAM with headers, priority and FIN',
    frame: { type: 'SYN_STREAM', streamId: 1, associatedStreamId: 0, priority: 3, slot: 0, fin: true, unidirectional: false, headers: spdyHeaders({ streamtype: 'error' }) },
  },
  {
    name: 'frame-2 SYN_STREAM unidirectional with the largest id',
    frame: { type: 'SYN_STREAM', streamId: 0x7fffffff, associatedStreamId: 5, priority: 7, slot: 2, fin: false, unidirectional: true, headers: spdyHeaders({ a: ['1', '2'] }) },
  },
  { name: 'frame-3 SYN_REPLY without headers', frame: { type: 'SYN_REPLY', streamId: 3, fin: false, headers: new Map() } },
  { name: 'frame-4 RST_STREAM', frame: { type: 'RST_STREAM', streamId: 3, status: RstStatus.CANCEL } },
  {
    name: 'frame-5 SETTINGS with two entries and CLEAR',
    frame: { type: 'SETTINGS', clear: true, settings: [{ id: 7, flags: 1, value: 1 << 20 }, { id: 4, flags: 0, value: 100 }] },
  },
  { name: 'frame-6 PING', frame: { type: 'PING', id: 0xfffffffe } },
  { name: 'frame-7 GOAWAY', frame: { type: 'GOAWAY', lastGoodStreamId: 9, status: GoAwayStatus.PROTOCOL_ERROR } },
  { name: 'frame-8 HEADERS with FIN', frame: { type: 'HEADERS', streamId: 5, fin: true, headers: spdyHeaders({ x: 'y' }) } },
  { name: 'frame-9 WINDOW_UPDATE', frame: { type: 'WINDOW_UPDATE', streamId: 0, delta: 0x7fffffff } },
  { name: 'frame-10 DATA with FIN', frame: { type: 'DATA', streamId: 7, fin: true, data: Buffer.from('hello') } },
  { name: 'frame-11 empty DATA', frame: { type: 'DATA', streamId: 7, fin: false, data: Buffer.alloc(0) } },
];

function frames(items: DecodedItem[]): SpdyFrame[] {
  return items.map((i) => {
    assert.equal(i.kind, 'frame', i.kind === 'stream-error' ? i.error.message : '');
    return (i as { frame: SpdyFrame }).frame;
  });
}

describe('frame codec round trips', () => {
  for (const row of roundTrips) {
    it(row.name, () => {
      const wire = encodeFrame(row.frame, new HeaderCompressor());
      assert.deepEqual(frames(new FrameDecoder().push(wire)), [row.frame]);
    });
  }

  it('frame-12 all frames in one buffer, then fed byte by byte, share one compression stream', () => {
    const c = new HeaderCompressor();
    const wire = Buffer.concat(roundTrips.map((r) => encodeFrame(r.frame, c)));
    assert.deepEqual(frames(new FrameDecoder().push(wire)), roundTrips.map((r) => r.frame));
    const d = new FrameDecoder();
    const got: DecodedItem[] = [];
    for (let i = 0; i < wire.length; i++) got.push(...d.push(wire.subarray(i, i + 1)));
    assert.deepEqual(frames(got), roundTrips.map((r) => r.frame));
    assert.equal(d.pendingBytes, 0);
  });

  it('frame-13 the control bit, version and flags sit where SPDY/3 puts them', () => {
    const wire = encodeFrame({ type: 'PING', id: 1 }, new HeaderCompressor());
    assert.deepEqual([...wire], [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1]);
    const data = encodeFrame({ type: 'DATA', streamId: 1, fin: true, data: Buffer.from('a') }, new HeaderCompressor());
    assert.deepEqual([...data], [0, 0, 0, 1, 0x01, 0, 0, 1, 0x61]);
  });
});

/** A control frame with any payload. */
function control(type: number, payload: Buffer, flags = 0, version = 3): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | version, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([h, payload]);
}

const u32s = (...v: number[]): Buffer => {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32BE(x >>> 0, 4 * i));
  return b;
};

describe('malformed frames', () => {
  const sessionErrors: { name: string; wire: () => Buffer; want: RegExp }[] = [
    { name: 'bad-1 SPDY/2 control frame', wire: () => control(6, u32s(1), 0, 2), want: /version 2/ },
    { name: 'bad-2 PING of 8 bytes', wire: () => control(6, u32s(1, 2)), want: /payload of 8 bytes/ },
    { name: 'bad-3 RST_STREAM with status 0', wire: () => control(3, u32s(1, 0)), want: /status 0/ },
    { name: 'bad-4 RST_STREAM on stream 0', wire: () => control(3, u32s(0, 5)), want: /stream 0/ },
    { name: 'bad-5 SETTINGS whose count does not match its length', wire: () => control(4, u32s(2, 7, 100)), want: /2 entries/ },
    { name: 'bad-6 DATA on stream 0', wire: () => Buffer.concat([u32s(0, 1), Buffer.from('x')]), want: /stream 0/ },
    { name: 'bad-7 WINDOW_UPDATE of 0 for the session', wire: () => control(9, u32s(0, 0)), want: /WINDOW_UPDATE of 0/ },
    { name: 'bad-8 a control frame too large to buffer', wire: () => control(1, Buffer.alloc(MAX_CONTROL_PAYLOAD + 1)), want: /larger than/ },
    { name: 'bad-9 SYN_STREAM whose header block is not zlib', wire: () => control(1, Buffer.concat([u32s(1, 0), Buffer.from([0, 0]), Buffer.from('plain text')])), want: /zlib/ },
    { name: 'bad-10 SYN_STREAM shorter than its fixed part', wire: () => control(1, Buffer.alloc(6)), want: /payload of 6 bytes/ },
    { name: 'bad-11 GOAWAY of 12 bytes', wire: () => control(7, u32s(1, 0, 0)), want: /payload of 12 bytes/ },
  ];
  for (const row of sessionErrors) {
    it(row.name, () => {
      const d = new FrameDecoder();
      assert.throws(() => d.push(row.wire()), (err: unknown) => err instanceof SpdySessionError && row.want.test(err.message));
      // A failed decoder stays failed rather than guessing where the next frame starts.
      assert.throws(() => d.push(Buffer.alloc(0)), SpdySessionError);
    });
  }

  it('bad-12 an invalid header name resets only its stream; the next frame still decodes', () => {
    const c = new HeaderCompressor();
    const badBlock = c.compress(Buffer.concat([u32s(1, 1), Buffer.from('A'), u32s(1), Buffer.from('b')]));
    const bad = control(1, Buffer.concat([u32s(3, 0), Buffer.from([0, 0]), badBlock]));
    const good = encodeFrame({ type: 'SYN_STREAM', streamId: 5, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: spdyHeaders({ streamtype: 'stdout' }) }, c);
    const items = new FrameDecoder().push(Buffer.concat([bad, good]));
    assert.equal(items.length, 2);
    assert.equal(items[0].kind, 'stream-error');
    if (items[0].kind === 'stream-error') {
      assert.equal(items[0].error.streamId, 3);
      assert.equal(items[0].error.status, RstStatus.PROTOCOL_ERROR);
    }
    assert.equal(items[1].kind === 'frame' && items[1].frame.type === 'SYN_STREAM' && items[1].frame.headers.get('streamtype')?.[0], 'stdout');
  });

  it('bad-13 a stream WINDOW_UPDATE of 0 is a stream error', () => {
    const items = new FrameDecoder().push(control(9, u32s(3, 0)));
    assert.equal(items[0].kind === 'stream-error' && items[0].error.status, RstStatus.PROTOCOL_ERROR);
  });

  it('bad-14 unknown control frames (NOOP, CREDENTIAL, type 99) are skipped', () => {
    const ping = encodeFrame({ type: 'PING', id: 3 }, new HeaderCompressor());
    const items = new FrameDecoder().push(Buffer.concat([control(5, Buffer.alloc(0)), control(10, Buffer.alloc(12)), control(99, Buffer.from('xyz')), ping]));
    assert.deepEqual(frames(items), [{ type: 'PING', id: 3 }]);
  });

  it('bad-15 an incomplete frame waits for the rest', () => {
    const wire = encodeFrame({ type: 'DATA', streamId: 1, fin: false, data: Buffer.from('abcdef') }, new HeaderCompressor());
    const d = new FrameDecoder();
    assert.deepEqual(d.push(wire.subarray(0, 10)), []);
    assert.equal(d.pendingBytes, 10);
    assert.equal(frames(d.push(wire.subarray(10))).length, 1);
  });

  it('bad-16 the 4-byte GOAWAY of SPDY/2-era peers reads as OK', () => {
    assert.deepEqual(frames(new FrameDecoder().push(control(7, u32s(5)))), [{ type: 'GOAWAY', lastGoodStreamId: 5, status: 0 }]);
  });
});
