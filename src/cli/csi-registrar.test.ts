import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CsiRegistrarUsageError, parseCsiRegistrarArgs } from './csi-registrar.ts';

describe('volplane csi-registrar command', () => {
  it('1: flags parse, with upstream defaults for the CSI address and the timeout', () => {
    assert.deepEqual(parseCsiRegistrarArgs(['--kubelet-registration-path', '/k/csi.sock', '--plugin-registration-dir', '/r']), {
      csiAddress: '/run/csi/socket',
      kubeletRegistrationPath: '/k/csi.sock',
      pluginRegistrationDir: '/r',
      timeoutMs: 1000,
    });
    assert.deepEqual(
      parseCsiRegistrarArgs(['--csi-address', 'unix:///d.sock', '--kubelet-registration-path', '/k', '--plugin-registration-path', '/r', '--timeout', '250ms', '--log-level', 'debug']),
      { csiAddress: 'unix:///d.sock', kubeletRegistrationPath: '/k', pluginRegistrationDir: '/r', timeoutMs: 250, logLevel: 'debug' },
    );
    assert.equal(parseCsiRegistrarArgs(['--help']), undefined);
  });

  const bad: [string, string[]][] = [
    ['2: no kubelet registration path', ['--plugin-registration-dir', '/r']],
    ['3: no registration dir', ['--kubelet-registration-path', '/k']],
    ['4: a timeout without a unit', ['--kubelet-registration-path', '/k', '--plugin-registration-dir', '/r', '--timeout', '5']],
    ['5: an unknown flag', ['--mode', 'kubelet-registration-probe']],
  ];
  for (const [name, argv] of bad) {
    it(`${name} is a usage error`, () => {
      assert.throws(() => parseCsiRegistrarArgs(argv), CsiRegistrarUsageError);
    });
  }
});
