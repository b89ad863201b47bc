import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { silentLogger } from '../../base/index.ts';
import { GoAwayStatus, RstStatus } from './frames.ts';
import { DEFAULT_WINDOW, SpdySession, type SpdyStream } from './session.ts';
import { TestSpdyClient } from './test-client.ts';

interface World {
  session: SpdySession;
  client: TestSpdyClient;
  streams: SpdyStream[];
}

/** A session over an in-memory socket pair; `accept` decides what happens to each new stream. */
function world(accept: (stream: SpdyStream) => void = (s) => s.reply(), options: { maxConcurrentStreams?: number } = {}): World {
  const [serverSide, clientSide] = duplexPair();
  const streams: SpdyStream[] = [];
  const session = new SpdySession(serverSide, {
    logger: silentLogger(),
    onStream: (s) => {
      streams.push(s);
      accept(s);
    },
    closeTimeoutMs: 2_000,
    ...options,
  });
  return { session, client: new TestSpdyClient(clientSide), streams };
}

describe('SPDY session: streams', () => {
  it('session-1 a stream opens, is replied to, carries data both ways and closes after both FINs', async () => {
    const { client, streams } = world();
    client.open(1, { streamtype: 'stdin' });
    await client.waitFor('the reply', () => client.replied(1));
    const got: Buffer[] = [];
    let ended = false;
    let closed = false;
    streams[0].on('data', (d) => got.push(d));
    streams[0].on('end', () => (ended = true));
    streams[0].on('close', () => (closed = true));
    assert.equal(streams[0].header('StreamType'), 'stdin');
    client.data(1, 'to the server', true);
    await client.waitFor('the FIN', () => ended);
    assert.equal(Buffer.concat(got).toString(), 'to the server');
    assert.equal(closed, false, 'half-closed only');
    streams[0].write(Buffer.from('to the client'));
    streams[0].end();
    await client.waitFor('our FIN', () => client.finished(1));
    assert.equal(client.dataOf(1).toString(), 'to the client');
    assert.equal(closed, true);
  });

  it('session-2 data written before the reply waits for it', async () => {
    let stream: SpdyStream | undefined;
    const { client } = world((s) => {
      stream = s;
      s.write(Buffer.from('early'));
    });
    client.open(1, {});
    await client.waitFor('the stream', () => stream);
    assert.equal(client.framesOf('DATA').length, 0);
    stream!.reply();
    await client.waitFor('the data', () => client.dataOf(1).length > 0);
    const order = client.received.map((f) => f.type);
    assert.deepEqual(order, ['SYN_REPLY', 'DATA']);
  });

  it('session-3 a client PING is answered with its id; a SYN_STREAM with FIN ends the stream at once', async () => {
    let ended = false;
    const { client } = world((s) => {
      s.on('end', () => (ended = true));
      s.reply();
    });
    client.send({ type: 'PING', id: 7 });
    client.open(1, {}, true);
    await client.waitFor('the pong', () => client.framesOf('PING').some((p) => p.id === 7));
    await client.waitFor('the end', () => ended);
  });

  const refusals: { name: string; act: (c: TestSpdyClient) => void; streamId: number; status: number }[] = [
    { name: 'session-4 an even stream id is refused', act: (c) => c.open(2, {}), streamId: 2, status: RstStatus.PROTOCOL_ERROR },
    { name: 'session-5 data for a stream never opened', act: (c) => c.data(9, 'x'), streamId: 9, status: RstStatus.INVALID_STREAM },
    {
      name: 'session-6 data after FIN',
      act: (c) => {
        c.open(1, {}, true);
        c.data(1, 'late');
      },
      streamId: 1,
      status: RstStatus.STREAM_ALREADY_CLOSED,
    },
    { name: 'session-7 a SYN_REPLY from the client', act: (c) => c.send({ type: 'SYN_REPLY', streamId: 1, fin: false, headers: new Map() }), streamId: 1, status: RstStatus.INVALID_STREAM },
  ];
  for (const row of refusals) {
    it(row.name, async () => {
      const { client, session } = world();
      row.act(client);
      await client.waitFor('the RST_STREAM', () => client.resetStatus(row.streamId) === row.status);
      // The session carries on.
      client.open(11, {});
      await client.waitFor('a later stream', () => client.replied(11));
      session.destroy();
    });
  }

  it('session-8 streams beyond the limit are refused', async () => {
    const { client } = world(undefined, { maxConcurrentStreams: 2 });
    client.open(1, {});
    client.open(3, {});
    client.open(5, {});
    await client.waitFor('the refusal', () => client.resetStatus(5) === RstStatus.REFUSED_STREAM);
    assert.ok(client.replied(1) && client.replied(3));
  });

  it('session-9 a client RST_STREAM resets our stream', async () => {
    let status: number | undefined;
    const { client, streams } = world((s) => {
      s.on('reset', (st) => (status = st));
      s.reply();
    });
    client.open(1, {});
    await client.waitFor('the reply', () => client.replied(1));
    client.send({ type: 'RST_STREAM', streamId: 1, status: RstStatus.CANCEL });
    await client.waitFor('the reset', () => status);
    assert.equal(status, RstStatus.CANCEL);
    assert.equal(streams[0].closed, true);
    assert.equal(streams[0].write(Buffer.from('x')), true, 'writes after a reset go nowhere, with nothing to wait for');
    assert.equal(streams[0].queuedBytes, 0);
  });
});

describe('SPDY session: session errors', () => {
  const rows: { name: string; act: (c: TestSpdyClient) => void; status: number }[] = [
    { name: 'goaway-1 garbage instead of a frame', act: (c) => c.raw(Buffer.from([0x80, 0x02, 0x00, 0x01, 0, 0, 0, 0])), status: GoAwayStatus.PROTOCOL_ERROR },
    {
      name: 'goaway-2 stream ids going backwards',
      act: (c) => {
        c.open(5, {});
        c.open(3, {});
      },
      status: GoAwayStatus.PROTOCOL_ERROR,
    },
    {
      name: 'goaway-3 a header block that does not decompress',
      act: (c) => c.raw(Buffer.concat([Buffer.from([0x80, 0x03, 0x00, 0x01, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0x78, 0x9c, 0xff, 0xff, 0xff, 0xff])])),
      status: GoAwayStatus.PROTOCOL_ERROR,
    },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      let reset = false;
      const { client, session } = world((s) => {
        s.on('reset', () => (reset = true));
        s.reply();
      });
      client.open(1, {});
      await client.waitFor('stream 1', () => client.replied(1));
      row.act(client);
      const goAway = await client.waitFor('GOAWAY', () => client.framesOf('GOAWAY')[0]);
      assert.equal(goAway.status, row.status);
      assert.ok(goAway.lastGoodStreamId >= 1);
      await client.waitFor('the server to end the connection', () => client.ended);
      assert.equal(reset, true, 'open streams learn the session is gone');
      client.socket.destroy();
      await session.closed;
    });
  }

  it('goaway-4 close() sends what is queued, then GOAWAY(OK), then ends the socket', async () => {
    const { client, session, streams } = world();
    client.open(1, {});
    await client.waitFor('stream', () => streams[0]);
    streams[0].write(Buffer.alloc(1000, 1));
    streams[0].end();
    session.close();
    await client.waitFor('GOAWAY', () => client.framesOf('GOAWAY')[0]);
    assert.equal(client.dataOf(1).length, 1000);
    assert.deepEqual(client.framesOf('GOAWAY')[0], { type: 'GOAWAY', lastGoodStreamId: 1, status: GoAwayStatus.OK });
    await client.waitFor('end', () => client.ended);
    client.socket.end();
    await session.closed;
  });

  it('goaway-5 the socket closing aborts every stream', async () => {
    let status: number | undefined;
    const { client, session } = world((s) => {
      s.on('reset', (st) => (status = st));
      s.reply();
    });
    client.open(1, {});
    await client.waitFor('stream', () => client.replied(1));
    client.socket.destroy();
    await session.closed;
    assert.equal(status, RstStatus.CANCEL);
  });
});

describe('SPDY session: flow control', () => {
  const big = Buffer.alloc(3 * DEFAULT_WINDOW + 123, 7);

  it('flow-1 a peer that keeps no windows (spdystream) gets a PING probe, then everything', async () => {
    const { client, session, streams } = world();
    client.open(1, {});
    await client.waitFor('stream', () => streams[0]);
    streams[0].write(big);
    streams[0].end();
    await client.waitFor('all data', () => client.finished(1));
    assert.equal(client.dataOf(1).length, big.length);
    const probes = client.framesOf('PING').filter((p) => p.id % 2 === 0);
    assert.equal(probes.length, 1, 'one probe per session');
    // Nothing past the first window went out before the probe came back.
    const probeAt = client.received.findIndex((f) => f.type === 'PING');
    const before = client.received.slice(0, probeAt).filter((f) => f.type === 'DATA').reduce((n, f) => n + (f.type === 'DATA' ? f.data.length : 0), 0);
    assert.equal(before, DEFAULT_WINDOW);
    assert.equal(session.flowControl, 'ignored');
  });

  it('flow-2 a peer that keeps windows is never sent more than it opened', async () => {
    const { client, session, streams } = world();
    client.answerPings = false;
    client.open(1, {});
    await client.waitFor('stream', () => streams[0]);
    // Saying anything about windows makes the session keep them.
    client.send({ type: 'WINDOW_UPDATE', streamId: 0, delta: 10 * DEFAULT_WINDOW });
    await client.waitFor('enforced', () => session.flowControl === 'enforced');
    streams[0].write(big);
    await client.waitFor('one window', () => client.dataOf(1).length === DEFAULT_WINDOW);
    // No more arrives without an update (the stream window is the limit; the session one is larger).
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(client.dataOf(1).length, DEFAULT_WINDOW);
    client.send({ type: 'WINDOW_UPDATE', streamId: 1, delta: 1000 });
    await client.waitFor('1000 more', () => client.dataOf(1).length === DEFAULT_WINDOW + 1000);
    client.send({ type: 'WINDOW_UPDATE', streamId: 1, delta: 10 * DEFAULT_WINDOW });
    streams[0].end();
    await client.waitFor('the rest', () => client.finished(1));
    assert.equal(client.dataOf(1).length, big.length);
  });

  it('flow-3 SETTINGS INITIAL_WINDOW_SIZE shrinks windows of open streams', async () => {
    const { client, session, streams } = world();
    client.answerPings = false;
    client.open(1, {});
    await client.waitFor('stream', () => streams[0]);
    client.send({ type: 'SETTINGS', clear: false, settings: [{ id: 7, flags: 0, value: 1000 }] });
    await client.waitFor('enforced', () => session.flowControl === 'enforced');
    streams[0].write(Buffer.alloc(5000));
    await client.waitFor('the small window', () => client.dataOf(1).length === 1000);
    client.send({ type: 'WINDOW_UPDATE', streamId: 1, delta: 4000 });
    await client.waitFor('the rest', () => client.dataOf(1).length === 5000);
  });

  it('flow-4 write() asks the writer to wait while data is held back, and drain follows', async () => {
    const { client, streams } = world();
    client.answerPings = false;
    client.open(1, {});
    await client.waitFor('stream', () => streams[0]);
    let drained = false;
    streams[0].on('drain', () => (drained = true));
    // More than the stream's high-water mark, with the probe unanswered: held back.
    assert.equal(streams[0].write(Buffer.alloc(512 * 1024)), false);
    const probe = await client.waitFor('the probe', () => client.framesOf('PING')[0]);
    assert.equal(drained, false);
    client.send(probe);
    await client.waitFor('drain', () => drained);
    await client.waitFor('all of it', () => client.dataOf(1).length === 512 * 1024);
  });

  it('flow-5 data we receive is acknowledged with WINDOW_UPDATE for the stream and the session', async () => {
    const { client, streams } = world();
    client.open(1, {});
    await client.waitFor('stream', () => streams[0]);
    for (let i = 0; i < 4; i++) client.data(1, Buffer.alloc(16 * 1024));
    const updates = await client.waitFor('updates', () => {
      const u = client.framesOf('WINDOW_UPDATE');
      return u.some((f) => f.streamId === 1) && u.some((f) => f.streamId === 0) ? u : undefined;
    });
    assert.equal(updates.filter((f) => f.streamId === 1).reduce((n, f) => n + f.delta, 0), 64 * 1024);
    assert.equal(updates.filter((f) => f.streamId === 0).reduce((n, f) => n + f.delta, 0), 64 * 1024);
  });

  it('flow-6 a window pushed past 2^31-1 resets the stream', async () => {
    const { client } = world();
    client.open(1, {});
    await client.waitFor('stream', () => client.replied(1));
    client.send({ type: 'WINDOW_UPDATE', streamId: 1, delta: 0x7fffffff });
    await client.waitFor('the reset', () => client.resetStatus(1) === RstStatus.FLOW_CONTROL_ERROR);
  });

  it('flow-7 a WINDOW_UPDATE after the probe concluded "no windows" turns enforcement on', async () => {
    const { client, session, streams } = world();
    client.open(1, {});
    await client.waitFor('stream', () => streams[0]);
    streams[0].write(Buffer.alloc(DEFAULT_WINDOW + 1));
    await client.waitFor('ignored', () => session.flowControl === 'ignored');
    client.send({ type: 'WINDOW_UPDATE', streamId: 0, delta: 1000 });
    client.send({ type: 'WINDOW_UPDATE', streamId: 1, delta: 10 });
    await client.waitFor('enforced', () => session.flowControl === 'enforced');
    // Both windows were overrun by one byte (65537 sent); the stream's is now 9, the session's 999.
    const before = client.dataOf(1).length;
    streams[0].write(Buffer.alloc(100));
    await client.waitFor('9 more bytes', () => client.dataOf(1).length === before + 9);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(client.dataOf(1).length, before + 9);
  });
});
