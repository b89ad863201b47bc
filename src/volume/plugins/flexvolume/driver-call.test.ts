import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CancelledError } from '../../../base/index.ts';
import { makeTempDir, removeTempDir } from '../../test-framework.ts';
import {
  defaultCapabilities,
  encodeDriverOptions,
  FlexDriver,
  FlexDriverCallError,
  FlexDriverMissingError,
  FlexDriverNotSupportedError,
  FlexDriverOutputError,
  FlexDriverTimeoutError,
  MAX_OUTPUT_IN_ERROR,
  parseDriverOutput,
  redactDriverOptions,
} from './index.ts';
import { processesWith, recordedCalls, recordingDriver, writeDriver } from './test-drivers.ts';

describe('parseDriverOutput', () => {
  const rows: { name: string; stdout: string; want: Record<string, unknown> | string }[] = [
    {
      name: '1 a full Success answer',
      stdout: '{"status":"Success","message":"ok","device":"/dev/loop3","volumeName":"v","attached":true}\n',
      want: { status: 'Success', message: 'ok', device: '/dev/loop3', volumeName: 'v', attached: true },
    },
    {
      name: '2 capabilities a driver leaves out keep upstream defaults',
      stdout: '{"status":"Success","capabilities":{"attach":false}}',
      want: { capabilities: { ...defaultCapabilities(), attach: false } },
    },
    {
      name: '3 keys match case-insensitively, as Go decodes them',
      stdout: '{"Status":"Success","Capabilities":{"Attach":false,"supportsmetrics":true}}',
      want: { capabilities: { ...defaultCapabilities(), attach: false, supportsMetrics: true } },
    },
    { name: '4 Failure is parsed (the caller turns it into an error)', stdout: '{"status":"Failure","message":"no disk"}', want: { message: 'no disk' } },
    { name: '5 garbage', stdout: 'mounted!\n', want: 'not JSON' },
    { name: '6 empty output', stdout: '  \n', want: 'no output' },
    { name: '7 a JSON array', stdout: '[]', want: 'not a JSON object' },
    { name: '8 an unknown status', stdout: '{"status":"Failed"}', want: '"status" must be "Success", "Failure" or "Not supported", got "Failed"' },
    { name: '9 a missing status', stdout: '{"message":"x"}', want: '"status" must be "Success", "Failure" or "Not supported", got null' },
    { name: '10 a non-boolean attached', stdout: '{"status":"Success","attached":"yes"}', want: '"attached" must be a boolean' },
    { name: '11 a non-string device', stdout: '{"status":"Success","device":3}', want: '"device" must be a string' },
    { name: '12 a non-boolean capability', stdout: '{"status":"Success","capabilities":{"fsGroup":1}}', want: '"capabilities.fsGroup" must be a boolean' },
    { name: '13 two JSON objects', stdout: '{"status":"Success"}{"status":"Success"}', want: 'not JSON' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const got = parseDriverOutput(row.stdout);
      if (typeof row.want === 'string') {
        assert.deepEqual(got, { ok: false, reason: row.want });
      } else {
        assert.equal(got.ok, true);
        if (got.ok) assert.partialDeepStrictEqual(got.result, row.want.status === undefined ? row.want : { ...row.want, status: 'Success' });
      }
    });
  }
});

describe('encodeDriverOptions', () => {
  it('1 sorts keys and escapes <, >, & as Go does', () => {
    assert.equal(
      encodeDriverOptions({ b: 'x<y>&z', 'kubernetes.io/fsType': 'ext4', a: 'q"\\' }),
      '{"a":"q\\"\\\\","b":"x\\u003cy\\u003e\\u0026z","kubernetes.io/fsType":"ext4"}',
    );
  });
  it('2 redaction replaces secret values only', () => {
    assert.deepEqual(redactDriverOptions({ 'kubernetes.io/secret/password': 'c2VjcmV0', dir: '/x' }), {
      'kubernetes.io/secret/password': '[redacted]',
      dir: '/x',
    });
  });
});

describe('FlexDriver.call (real processes)', () => {
  let dir = '';
  before(async () => {
    dir = await makeTempDir('flex-call');
  });
  after(async () => {
    await removeTempDir(dir);
  });

  const driver = async (dirName: string, body: string, timeoutMs = 5_000): Promise<FlexDriver> => {
    const execPath = await writeDriver(dir, dirName, body);
    return new FlexDriver({ name: dirName.replace('~', '/'), execPath, timeoutMs });
  };

  it('1 passes the command and arguments as argv, the options as one JSON argument', async () => {
    const log = join(dir, 'argv-1.log');
    const d = await driver('t~argv', recordingDriver(log, '{"status":"Success","device":"/dev/loop9"}'));
    const status = await d.call('attach', [{ options: { z: '1', a: 'two words' } }, 'node-1']);
    assert.equal(status.device, '/dev/loop9');
    assert.deepEqual(await recordedCalls(log), [['attach', '{"a":"two words","z":"1"}', 'node-1']]);
  });

  type Want = { cls: new (...args: never[]) => Error; check?: (err: Error) => void };
  const rows: { name: string; body: string; want: Want }[] = [
    {
      name: '2 Failure with exit 1 is a FlexDriverCallError carrying the driver message',
      body: `echo '{"status":"Failure","message":"disk d-1 is busy"}'; exit 1`,
      want: {
        cls: FlexDriverCallError,
        check: (err) => {
          assert.ok(err instanceof FlexDriverCallError);
          assert.equal(err.driverMessage, 'disk d-1 is busy');
          assert.equal(err.exitCode, 1);
          assert.equal(err.message, 'mount command failed, status: Failure, reason: disk d-1 is busy');
        },
      },
    },
    {
      name: '3 a non-zero exit without JSON is a FlexDriverCallError with stderr as message',
      body: `echo 'losetup: no free device' >&2; exit 3`,
      want: {
        cls: FlexDriverCallError,
        check: (err) => {
          assert.ok(err instanceof FlexDriverCallError);
          assert.equal(err.exitCode, 3);
          assert.equal(err.message, 'mount command failed, status: exit status 3, reason: losetup: no free device');
        },
      },
    },
    {
      name: '4 garbage on stdout with exit 0 is a FlexDriverOutputError with the output truncated',
      body: `i=0; while [ $i -lt 100 ]; do printf 'garbage-garbage-garbage-'; i=$((i+1)); done; echo`,
      want: {
        cls: FlexDriverOutputError,
        check: (err) => {
          assert.ok(err instanceof FlexDriverOutputError);
          assert.equal(err.reason, 'not JSON');
          assert.ok(err.output.startsWith('garbage-garbage'));
          assert.ok(err.output.length < MAX_OUTPUT_IN_ERROR + 40, `output kept ${err.output.length} chars`);
          assert.match(err.output, /more characters\)$/);
        },
      },
    },
    {
      name: '5 Success with a non-zero exit is a driver bug: FlexDriverCallError',
      body: `echo '{"status":"Success"}'; exit 2`,
      want: { cls: FlexDriverCallError, check: (err) => assert.match(err.message, /status: exit status 2, reason: driver bug/) },
    },
    {
      name: '6 a status outside the three is a FlexDriverOutputError',
      body: `echo '{"status":"OK"}'`,
      want: { cls: FlexDriverOutputError },
    },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const d = await driver(`t~r${row.name.split(' ')[0]}`, row.body);
      await assert.rejects(d.call('mount', ['/mnt/x', { options: {} }]), (err: Error) => {
        assert.ok(err instanceof row.want.cls, `${err.name}: ${err.message}`);
        row.want.check?.(err);
        return true;
      });
    });
  }

  it('7 Not supported is remembered: the driver is not asked again until reset', async () => {
    const log = join(dir, 'ns.log');
    const d = await driver('t~ns', recordingDriver(log, '{"status":"Not supported"}'));
    await assert.rejects(d.call('getvolumename', [{ options: {} }]), FlexDriverNotSupportedError);
    await assert.rejects(d.call('getvolumename', [{ options: {} }]), FlexDriverNotSupportedError);
    assert.equal((await recordedCalls(log)).length, 1);
    assert.equal(d.isUnsupported('getvolumename'), true);
    d.resetUnsupported();
    await assert.rejects(d.call('getvolumename', [{ options: {} }]), FlexDriverNotSupportedError);
    assert.equal((await recordedCalls(log)).length, 2);
  });

  it('8 a hanging driver is killed with its children at the deadline', async () => {
    const marker = `volplane-flex-hang-${process.pid}`;
    // The script forks a sleep that holds stdout: only a process-group kill ends the call.
    const d = await driver('t~hang', `exec 3>&1; sh -c 'sleep 30; echo ${marker}' ; echo '{"status":"Success"}'`, 300);
    const started = Date.now();
    await assert.rejects(d.call('mount', ['/x', { options: {} }]), (err: Error) => {
      assert.ok(err instanceof FlexDriverTimeoutError, err.message);
      assert.equal(err.afterMs, 300);
      assert.equal(err.command, 'mount');
      return true;
    });
    assert.ok(Date.now() - started < 5_000, 'returned promptly');
    assert.deepEqual(await processesWith(marker), [], 'nothing of the driver is left running');
  });

  it('9 a per-call deadline overrides the driver default', async () => {
    const d = await driver('t~slow', `sleep 30`, 60_000);
    await assert.rejects(d.call('waitforattach', ['/dev/x', { options: {} }], { timeoutMs: 200 }), FlexDriverTimeoutError);
  });

  it('10 a missing executable is a FlexDriverMissingError', async () => {
    const d = new FlexDriver({ name: 'gone/driver', execPath: join(dir, 'gone~driver', 'driver') });
    await assert.rejects(d.call('init', []), (err: Error) => {
      assert.ok(err instanceof FlexDriverMissingError);
      assert.equal(err.code, 'ENOENT');
      return true;
    });
  });

  it('11 an abort kills the driver and rejects with CancelledError', async () => {
    const d = await driver('t~abort', `sleep 30`);
    const ac = new AbortController();
    const p = d.call('mount', ['/x', { options: {} }], { signal: ac.signal });
    ac.abort();
    await assert.rejects(p, CancelledError);
  });
});
