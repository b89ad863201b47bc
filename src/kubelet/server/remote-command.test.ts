import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeClientFrame,
  encodeFrame,
  ExecRequestError,
  exitCodeOf,
  exitCodeStatus,
  internalErrorStatus,
  negotiateProtocol,
  offeredProtocols,
  parseExecOptions,
  STREAM_PROTOCOL_V4,
  STREAM_PROTOCOL_V5,
  successStatus,
  type ClientFrame,
  type StreamProtocol,
} from './remote-command.ts';

describe('channel framing', () => {
  it('frame-1 a frame is the channel byte followed by the payload', () => {
    assert.deepEqual([...encodeFrame(1, 'hi')], [1, 0x68, 0x69]);
    assert.deepEqual([...encodeFrame(3, new Uint8Array([7, 8]))], [3, 7, 8]);
    assert.deepEqual([...encodeFrame(255)], [255]);
  });

  const rows: { name: string; message: number[]; protocol: StreamProtocol; want: ClientFrame['kind']; check?: (f: ClientFrame) => void }[] = [
    {
      name: 'frame-2 channel 0 is stdin data',
      message: [0, 0x61, 0x62],
      protocol: STREAM_PROTOCOL_V5,
      want: 'stdin',
      check: (f) => assert.equal(f.kind === 'stdin' && f.data.toString(), 'ab'),
    },
    {
      name: 'frame-3 channel 4 is a terminal resize (kubectl appends a newline)',
      message: [4, ...Buffer.from('{"Width":80,"Height":24}\n')],
      protocol: STREAM_PROTOCOL_V5,
      want: 'resize',
      check: (f) => assert.deepEqual(f.kind === 'resize' && f.size, { width: 80, height: 24 }),
    },
    { name: 'frame-4 a malformed resize is ignored', message: [4, ...Buffer.from('{nope')], protocol: STREAM_PROTOCOL_V5, want: 'ignored' },
    {
      name: 'frame-5 v5 close signal for stdin',
      message: [255, 0],
      protocol: STREAM_PROTOCOL_V5,
      want: 'close',
      check: (f) => assert.equal(f.kind === 'close' && f.channel, 0),
    },
    { name: 'frame-6 the close signal does not exist in v4', message: [255, 0], protocol: STREAM_PROTOCOL_V4, want: 'ignored' },
    { name: 'frame-7 server channels from a client are ignored', message: [1, 0x61], protocol: STREAM_PROTOCOL_V5, want: 'ignored' },
    { name: 'frame-8 an empty message is ignored', message: [], protocol: STREAM_PROTOCOL_V5, want: 'ignored' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const frame = decodeClientFrame(Buffer.from(row.message), row.protocol);
      assert.equal(frame.kind, row.want);
      row.check?.(frame);
    });
  }
});

describe('protocol negotiation', () => {
  const rows: { name: string; header: string | string[] | undefined; want: StreamProtocol | undefined }[] = [
    { name: 'proto-1 kubectl offers only v5', header: 'v5.channel.k8s.io', want: STREAM_PROTOCOL_V5 },
    {
      name: 'proto-2 client-node offers v5 first and gets it',
      header: 'v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io',
      want: STREAM_PROTOCOL_V5,
    },
    { name: 'proto-3 a v4-only client gets v4', header: ['v4.channel.k8s.io', 'v3.channel.k8s.io'], want: STREAM_PROTOCOL_V4 },
    { name: 'proto-4 nothing we speak', header: 'v3.channel.k8s.io,base64.channel.k8s.io', want: undefined },
    { name: 'proto-5 no header', header: undefined, want: undefined },
  ];
  for (const row of rows) {
    it(row.name, () => assert.equal(negotiateProtocol(offeredProtocols(row.header)), row.want));
  }
});

describe('exec options', () => {
  const q = (s: string): URLSearchParams => new URLSearchParams(s);
  it('opts-1 flags as the API server forwards them ("1") and as clients send them ("true")', () => {
    assert.deepEqual(parseExecOptions(q('command=ls&command=-l&stdin=1&stdout=true&stderr=1')), {
      command: ['ls', '-l'],
      stdin: true,
      stdout: true,
      stderr: true,
      tty: false,
    });
  });
  it('opts-2 a terminal drops stderr instead of failing', () => {
    assert.equal(parseExecOptions(q('command=sh&stdin=1&stdout=1&stderr=1&tty=1')).stderr, false);
  });
  it('opts-3 no stream at all is refused', () => {
    assert.throws(() => parseExecOptions(q('command=ls&stdout=false')), (e: unknown) => e instanceof ExecRequestError && /at least 1 of stdin, stdout, stderr/.test(e.message));
  });
  it('opts-4 no command is refused', () => {
    assert.throws(() => parseExecOptions(q('stdout=1')), ExecRequestError);
  });
});

describe('status on channel 3', () => {
  it('status-1 success is a bare Status', () => {
    assert.equal(JSON.stringify(successStatus()), '{"metadata":{},"status":"Success"}');
    assert.equal(exitCodeOf(successStatus()), 0);
  });
  it('status-2 a non-zero exit code in the shape kubectl decodes', () => {
    const s = exitCodeStatus(['sh', '-c', 'exit 3'], 3);
    assert.deepEqual(JSON.parse(JSON.stringify(s)), {
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
    assert.equal(exitCodeOf(s), 3);
  });
  it('status-3 a command that could not run is an internal error without an exit code', () => {
    const s = internalErrorStatus(new Error('container abc not running'));
    assert.equal(s.reason, 'InternalError');
    assert.equal(s.message, 'Internal error occurred: error executing command in container: container abc not running');
    assert.equal(exitCodeOf(s), undefined);
  });
});
