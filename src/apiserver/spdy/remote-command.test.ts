import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { silentLogger } from '../../base/index.ts';
import { RstStatus } from './frames.ts';
import {
  bridgeSpdyExec,
  errorStreamPayload,
  expectedStreamTypes,
  negotiateSpdyProtocol,
  negotiationFailureMessage,
  offeredStreamProtocols,
  StreamCreationTimeoutError,
  type ExecStreamFlags,
  type SpdyExecResult,
  type SpdyStreamProtocol,
} from './remote-command.ts';
import { TestSpdyClient } from './test-client.ts';

describe('remote-command over SPDY: negotiation and stream sets', () => {
  const offers: { name: string; offered: string[]; want: string | undefined }[] = [
    {
      name: 'nego-1 kubectl 1.29+ offers v5 first; v5 is WebSocket-only, so v4',
      offered: ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'],
      want: 'v4.channel.k8s.io',
    },
    { name: 'nego-2 kubectl 1.20 offers v4 first', offered: ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'], want: 'v4.channel.k8s.io' },
    { name: 'nego-3 the client order decides', offered: ['v2.channel.k8s.io', 'v4.channel.k8s.io'], want: 'v2.channel.k8s.io' },
    { name: 'nego-4 v1 alone is not spoken', offered: ['channel.k8s.io'], want: undefined },
    { name: 'nego-5 no header at all', offered: [], want: undefined },
  ];
  for (const row of offers) {
    it(row.name, () => assert.equal(negotiateSpdyProtocol(row.offered), row.want));
  }

  it('nego-6 repeated headers arrive joined by commas and are split again', () => {
    assert.deepEqual(offeredStreamProtocols('v4.channel.k8s.io, v3.channel.k8s.io,v2.channel.k8s.io'), ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io']);
    assert.deepEqual(offeredStreamProtocols(['a', 'b, c']), ['a', 'b', 'c']);
    assert.deepEqual(offeredStreamProtocols(undefined), []);
  });

  it('nego-7 the refusal names both sides, as upstream does', () => {
    assert.equal(
      negotiationFailureMessage(['channel.k8s.io']),
      'unable to upgrade: unable to negotiate protocol: client supports [channel.k8s.io], server supports [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io]',
    );
  });

  const f = (stdin: boolean, stdout: boolean, stderr: boolean, tty: boolean): ExecStreamFlags => ({ stdin, stdout, stderr, tty });
  const sets: { name: string; protocol: SpdyStreamProtocol; flags: ExecStreamFlags; want: string[] }[] = [
    { name: 'streams-1 kubectl exec: error, stdout, stderr', protocol: 'v4.channel.k8s.io', flags: f(false, true, true, false), want: ['error', 'stdout', 'stderr'] },
    { name: 'streams-2 exec -i adds stdin', protocol: 'v4.channel.k8s.io', flags: f(true, true, true, false), want: ['error', 'stdin', 'stdout', 'stderr'] },
    { name: 'streams-3 a tty drops stderr and adds resize', protocol: 'v4.channel.k8s.io', flags: f(true, true, true, true), want: ['error', 'stdin', 'stdout', 'resize'] },
    { name: 'streams-4 v2 has no resize stream', protocol: 'v2.channel.k8s.io', flags: f(true, true, false, true), want: ['error', 'stdin', 'stdout'] },
  ];
  for (const row of sets) {
    it(row.name, () => assert.deepEqual([...expectedStreamTypes(row.protocol, row.flags)].sort(), [...row.want].sort()));
  }

  const failure = Buffer.from(JSON.stringify({ metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code: exit code 3' }));
  const success = Buffer.from(JSON.stringify({ metadata: {}, status: 'Success' }));
  const payloads: { name: string; protocol: SpdyStreamProtocol; status: Buffer; want: string | undefined }[] = [
    { name: 'status-1 v4 carries the Status as it is', protocol: 'v4.channel.k8s.io', status: failure, want: failure.toString() },
    { name: 'status-2 v4 success is written too', protocol: 'v4.channel.k8s.io', status: success, want: success.toString() },
    { name: 'status-3 v3 carries only the failure message', protocol: 'v3.channel.k8s.io', status: failure, want: 'command terminated with non-zero exit code: exit code 3' },
    { name: 'status-4 v2 success writes nothing', protocol: 'v2.channel.k8s.io', status: success, want: undefined },
  ];
  for (const row of payloads) {
    it(row.name, () => assert.equal(errorStreamPayload(row.protocol, row.status)?.toString(), row.want));
  }
});

// ---- the bridge, against a stand-in kubelet WebSocket server ------------------------------------

interface Kubelet {
  ws: WebSocket;
  /** Messages the bridge sent, as [channel, payload]. */
  received: [number, string][];
  closed: boolean;
}

const servers: WebSocketServer[] = [];
after(() => {
  for (const s of servers) s.close();
});

interface BridgeWorld {
  client: TestSpdyClient;
  kubelet: Kubelet;
  result: Promise<SpdyExecResult>;
}

/** A bridge between a SPDY test client and a stand-in kubelet speaking `kubeletProtocol`. */
async function bridgeWorld(
  protocol: SpdyStreamProtocol,
  flags: ExecStreamFlags,
  options: { kubeletProtocol?: string; streamCreationTimeoutMs?: number; onKubelet?: (k: Kubelet) => void } = {},
): Promise<BridgeWorld> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => options.kubeletProtocol ?? 'v5.channel.k8s.io' });
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const kubeletReady = new Promise<Kubelet>((resolve) => {
    server.once('connection', (ws) => {
      const k: Kubelet = { ws, received: [], closed: false };
      ws.on('message', (data: RawData) => {
        const b = data as Buffer;
        k.received.push([b[0], b.subarray(1).toString()]);
      });
      ws.on('close', () => (k.closed = true));
      options.onKubelet?.(k);
      resolve(k);
    });
  });
  const port = (server.address() as { port: number }).port;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/exec`, ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
  await new Promise<void>((resolve, reject) => {
    // Paused at once, as pod-proxy does: messages would otherwise be emitted before the bridge listens.
    ws.once('open', () => {
      ws.pause();
      resolve();
    });
    ws.once('error', reject);
  });
  const [serverSide, clientSide] = duplexPair();
  const result = bridgeSpdyExec({
    socket: serverSide,
    kubelet: ws,
    protocol,
    flags,
    logger: silentLogger(),
    ...(options.streamCreationTimeoutMs === undefined ? {} : { streamCreationTimeoutMs: options.streamCreationTimeoutMs }),
  });
  return { client: new TestSpdyClient(clientSide), kubelet: await kubeletReady, result };
}

const channel = (n: number, payload: string): Buffer => Buffer.concat([Buffer.from([n]), Buffer.from(payload)]);
const status3 = JSON.stringify({ metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', message: 'exit code 3', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });

describe('remote-command over SPDY: the bridge', () => {
  it('bridge-1 exec -i: stdin in with its EOF, output out on the right streams, status on error, then FINs and GOAWAY', async () => {
    const { client, kubelet, result } = await bridgeWorld('v4.channel.k8s.io', { stdin: true, stdout: true, stderr: true, tty: false }, {
      // Output before the client has its streams must wait for them, not be lost.
      onKubelet: (k) => k.ws.send(channel(1, 'early ')),
    });
    client.open(1, { streamtype: 'error' });
    client.open(3, { streamtype: 'stdin' });
    client.open(5, { streamtype: 'stdout' });
    client.open(7, { streamtype: 'stderr' });
    await client.waitFor('replies', () => [1, 3, 5, 7].every((id) => client.replied(id)));
    client.data(3, 'input', true);
    await client.waitFor('stdin and its end at the kubelet', () => kubelet.received.length === 2);
    assert.deepEqual(kubelet.received, [[0, 'input'], [255, '\u0000']]);
    kubelet.ws.send(channel(1, 'out'));
    kubelet.ws.send(channel(2, 'err'));
    kubelet.ws.send(channel(3, status3));
    kubelet.ws.close(1000);
    const r = await result;
    assert.equal(client.dataOf(5).toString(), 'early out');
    assert.equal(client.dataOf(7).toString(), 'err');
    assert.equal(client.dataOf(1).toString(), status3);
    assert.ok([1, 5, 7].every((id) => client.finished(id)), 'error, stdout and stderr half-closed');
    assert.equal(client.framesOf('GOAWAY')[0]?.status, 0);
    assert.equal(r.status?.toString(), status3);
    assert.equal(r.error, undefined);
  });

  it('bridge-2 a tty: the resize stream feeds channel 4', async () => {
    const { client, kubelet, result } = await bridgeWorld('v4.channel.k8s.io', { stdin: true, stdout: true, stderr: true, tty: true });
    for (const [id, type] of [[1, 'error'], [3, 'stdin'], [5, 'stdout'], [7, 'resize']] as const) client.open(id, { streamtype: type });
    client.data(7, '{"Width":100,"Height":40}\n');
    await client.waitFor('the resize at the kubelet', () => kubelet.received.find((m) => m[0] === 4));
    assert.deepEqual(kubelet.received.find((m) => m[0] === 4), [4, '{"Width":100,"Height":40}\n']);
    kubelet.ws.close(1000);
    await result;
  });

  it('bridge-3 nothing flows until every stream the request implies exists', async () => {
    const { client, kubelet, result } = await bridgeWorld('v4.channel.k8s.io', { stdin: true, stdout: true, stderr: false, tty: false });
    client.open(1, { streamtype: 'error' });
    client.open(3, { streamtype: 'stdout' });
    await client.waitFor('replies', () => client.replied(1) && client.replied(3));
    kubelet.ws.send(channel(1, 'held'));
    // The stdin stream is still missing: let the message arrive at the bridge and stay there.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(client.dataOf(3).length, 0);
    client.open(5, { streamtype: 'stdin' });
    await client.waitFor('the held output', () => client.dataOf(3).toString() === 'held');
    kubelet.ws.close(1000);
    await result;
  });

  it('bridge-4 a client that never opens its streams times out and the command is ended', async () => {
    const { client, kubelet, result } = await bridgeWorld('v4.channel.k8s.io', { stdin: false, stdout: true, stderr: true, tty: false }, { streamCreationTimeoutMs: 100 });
    client.open(1, { streamtype: 'error' });
    const r = await result;
    assert.ok(r.error instanceof StreamCreationTimeoutError);
    assert.deepEqual(r.error.missing, ['stdout', 'stderr']);
    await client.waitFor('the kubelet connection closed', () => kubelet.closed);
  });

  it('bridge-5 the client going away closes the kubelet connection (which ends the command)', async () => {
    const { client, kubelet, result } = await bridgeWorld('v4.channel.k8s.io', { stdin: false, stdout: true, stderr: false, tty: false });
    client.open(1, { streamtype: 'error' });
    client.open(3, { streamtype: 'stdout' });
    await client.waitFor('replies', () => client.replied(3));
    client.socket.destroy();
    await result;
    await client.waitFor('the kubelet connection closed', () => kubelet.closed);
  });

  it('bridge-6 a kubelet that vanishes without a status leaves a Failure on the error stream', async () => {
    const { client, kubelet, result } = await bridgeWorld('v4.channel.k8s.io', { stdin: false, stdout: true, stderr: false, tty: false });
    client.open(1, { streamtype: 'error' });
    client.open(3, { streamtype: 'stdout' });
    await client.waitFor('replies', () => client.replied(3));
    kubelet.ws.terminate();
    await result;
    const status = JSON.parse(client.dataOf(1).toString()) as { status: string; message: string };
    assert.equal(status.status, 'Failure');
    assert.match(status.message, /ended without an exit status \(close code 1006\)/);
    assert.ok(client.finished(1) && client.finished(3));
  });

  it('bridge-7 streams without a known streamType are refused', async () => {
    const { client, kubelet, result } = await bridgeWorld('v4.channel.k8s.io', { stdin: false, stdout: true, stderr: false, tty: false });
    client.open(1, { streamtype: 'video' });
    client.open(3, {});
    await client.waitFor('refusals', () => client.resetStatus(1) === RstStatus.REFUSED_STREAM && client.resetStatus(3) === RstStatus.REFUSED_STREAM);
    kubelet.ws.close(1000);
    client.socket.destroy();
    await result;
  });

  it('bridge-8 with a v4 kubelet the stdin EOF cannot be signalled and is not', async () => {
    const { client, kubelet, result } = await bridgeWorld('v4.channel.k8s.io', { stdin: true, stdout: true, stderr: false, tty: false }, { kubeletProtocol: 'v4.channel.k8s.io' });
    client.open(1, { streamtype: 'error' });
    client.open(3, { streamtype: 'stdin' });
    client.open(5, { streamtype: 'stdout' });
    client.data(3, 'x', true);
    await client.waitFor('stdin at the kubelet', () => kubelet.received.length >= 1);
    kubelet.ws.close(1000);
    await result;
    assert.deepEqual(kubelet.received, [[0, 'x']]);
  });

  it('bridge-9 v2: a failure reaches the error stream as text', async () => {
    const { client, kubelet, result } = await bridgeWorld('v2.channel.k8s.io', { stdin: false, stdout: true, stderr: false, tty: false });
    client.open(1, { streamtype: 'error' });
    client.open(3, { streamtype: 'stdout' });
    await client.waitFor('replies', () => client.replied(3));
    kubelet.ws.send(channel(3, status3));
    kubelet.ws.close(1000);
    await result;
    assert.equal(client.dataOf(1).toString(), 'exit code 3');
  });

  it('bridge-10 a large output gets through a client that keeps no windows', async () => {
    const chunk = 'z'.repeat(64 * 1024);
    const { client, kubelet, result } = await bridgeWorld('v4.channel.k8s.io', { stdin: false, stdout: true, stderr: false, tty: false });
    client.open(1, { streamtype: 'error' });
    client.open(3, { streamtype: 'stdout' });
    await client.waitFor('replies', () => client.replied(3));
    for (let i = 0; i < 16; i++) kubelet.ws.send(channel(1, chunk));
    kubelet.ws.close(1000);
    await result;
    assert.equal(client.dataOf(3).length, 16 * chunk.length);
  });

  it('bridge-11 a command that is over before the client opened its streams still delivers everything', async () => {
    const { client, kubelet, result } = await bridgeWorld('v4.channel.k8s.io', { stdin: false, stdout: true, stderr: true, tty: false }, {
      onKubelet: (k) => {
        k.ws.send(channel(1, 'out'));
        k.ws.send(channel(2, 'err'));
        k.ws.send(channel(3, status3));
        k.ws.close(1000);
      },
    });
    await client.waitFor('the kubelet to be done', () => kubelet.closed);
    // kubectl opens its streams one at a time, each after the previous reply.
    for (const [id, type] of [[1, 'error'], [3, 'stdout'], [5, 'stderr']] as const) {
      assert.equal(client.framesOf('GOAWAY').length, 0, `no GOAWAY while stream ${type} is still to come`);
      client.open(id, { streamtype: type });
      await client.waitFor(`reply ${id}`, () => client.replied(id));
    }
    await result;
    assert.equal(client.dataOf(3).toString(), 'out');
    assert.equal(client.dataOf(5).toString(), 'err');
    assert.equal(client.dataOf(1).toString(), status3);
    assert.ok([1, 3, 5].every((id) => client.finished(id)));
  });
});
