import assert from 'node:assert/strict';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { waitFor } from '../../../base/index.ts';
import { NoVolumePluginError, VolumePluginManager } from '../../plugin-manager.ts';
import type { VolumeSpec } from '../../plugin.ts';
import { makeTempDir, removeTempDir, testHost } from '../../test-framework.ts';
import { FlexDriverOutputError, FlexVolumeProber, type FlexProbeEvent } from './index.ts';
import { installExample, writeDriver } from './test-drivers.ts';

const initAnswer = (attach: boolean): string =>
  `case "$1" in init) echo '{"status":"Success","capabilities":{"attach":${attach}}}';; *) echo '{"status":"Not supported"}';; esac`;

describe('FlexVolumeProber', () => {
  let root = '';
  let n = 0;
  let prober: FlexVolumeProber | undefined;
  before(async () => {
    root = await makeTempDir('flex-probe');
  });
  afterEach(async () => {
    await prober?.dispose();
    prober = undefined;
  });
  after(async () => {
    await removeTempDir(root);
  });

  /** A fresh plugin dir with `drivers` installed, and a started prober over it. */
  const start = async (drivers: Record<string, string>, opts: { callTimeoutMs?: number } = {}): Promise<{ dir: string; events: FlexProbeEvent[] }> => {
    const dir = join(root, `exec-${++n}`);
    await mkdir(dir, { recursive: true });
    for (const [dirName, body] of Object.entries(drivers)) await writeDriver(dir, dirName, body);
    prober = new FlexVolumeProber({ host: testHost(join(root, 'kubelet')), pluginDir: dir, debounceMs: 20, rescanIntervalMs: 0, ...opts });
    const events: FlexProbeEvent[] = [];
    prober.onDidChange((e) => events.push(e));
    await prober.start();
    return { dir, events };
  };

  it('1 finds the drivers present at start and records their capabilities; dot-dirs and non-executables are ignored', async () => {
    const { dir } = await start({ 'acme~block': initAnswer(true), 'acme~file': initAnswer(false), '.hidden~x': initAnswer(true) });
    await writeDriver(dir, 'acme~noexec', initAnswer(true));
    await chmod(join(dir, 'acme~noexec', 'noexec'), 0o644);
    await prober!.rescan();
    assert.deepEqual(prober!.plugins().map((p) => p.name), ['acme/block', 'acme/file']);
    assert.equal(prober!.getPlugin('acme/block')!.capabilities.attach, true);
    assert.equal(prober!.getPlugin('acme/file')!.capabilities.attach, false);
    assert.equal(prober!.getPlugin('acme/file')!.attacher, undefined);
  });

  it('2 a driver added after start is found (watch, no explicit rescan) and init\'ed', async () => {
    const { dir, events } = await start({});
    assert.deepEqual(prober!.plugins(), []);
    await installExample(dir, 'volplane~loop');
    const p = await waitFor('volplane/loop to be probed', () => prober!.getPlugin('volplane/loop'), { timeoutMs: 5_000 });
    assert.equal(p.capabilities.attach, true);
    assert.deepEqual(events.map((e) => e.type), ['added']);
  });

  it('3 a changed driver is init\'ed again and its new capabilities used', async () => {
    const { dir } = await start({ 'acme~flip': initAnswer(true) });
    const p = prober!.getPlugin('acme/flip')!;
    assert.equal(p.capabilities.attach, true);
    await writeDriver(dir, 'acme~flip', initAnswer(false));
    await waitFor('new capabilities', () => p.capabilities.attach === false, { timeoutMs: 5_000 });
    assert.equal(prober!.getPlugin('acme/flip'), p, 'the same plugin object');
  });

  it('4 a removed driver is gone: not listed, supports no spec, and a manager no longer finds it', async () => {
    const { dir, events } = await start({ 'acme~gone': initAnswer(false) });
    const manager = new VolumePluginManager();
    prober!.registerWith(manager);
    const spec: VolumeSpec = { volume: { name: 'v', flexVolume: { driver: 'acme/gone' } }, readOnly: false };
    assert.equal(manager.findPluginBySpec(spec).name, 'acme/gone');
    await rm(join(dir, 'acme~gone'), { recursive: true });
    await waitFor('acme/gone to be removed', () => prober!.getPlugin('acme/gone') === undefined, { timeoutMs: 5_000 });
    assert.equal(prober!.getPluginAnyState('acme/gone')!.state, 'removed');
    assert.throws(() => manager.findPluginBySpec(spec), NoVolumePluginError);
    assert.deepEqual(events.map((e) => e.type), ['added', 'removed']);
    // Coming back revives the same registered object (no duplicate registration).
    await writeDriver(dir, 'acme~gone', initAnswer(false));
    await waitFor('acme/gone to return', () => prober!.getPlugin('acme/gone'), { timeoutMs: 5_000 });
    assert.equal(manager.findPluginBySpec(spec).name, 'acme/gone');
  });

  it('5 a driver whose init fails is reported and skipped; the others are unaffected', async () => {
    await start({ 'bad~garbage': `echo 'hello'`, 'good~one': initAnswer(false) });
    assert.deepEqual(prober!.plugins().map((p) => p.name), ['good/one']);
    const failures = prober!.failures();
    assert.ok(failures.get('bad~garbage') instanceof FlexDriverOutputError);
  });

  it('6 a driver whose init hangs delays nobody else\'s discovery and is dropped at its deadline', async () => {
    const { dir } = await start({}, { callTimeoutMs: 1_500 });
    await writeDriver(dir, 'slow~hang', `sleep 30`);
    const hung = prober!.rescan();
    await writeDriver(dir, 'fast~one', initAnswer(false));
    const started = Date.now();
    await waitFor('fast/one while slow/hang is still in init', () => prober!.getPlugin('fast/one'), { timeoutMs: 5_000 });
    assert.ok(Date.now() - started < 1_400, `found after ${Date.now() - started} ms`);
    await hung;
    assert.equal(prober!.getPlugin('slow/hang'), undefined);
    assert.equal(prober!.failures().get('slow~hang')?.name, 'FlexDriverTimeoutError');
  });

  it('7 dispose stops discovery', async () => {
    const { dir } = await start({});
    await prober!.dispose();
    assert.equal(prober!.state, 'stopped');
    await writeDriver(dir, 'late~one', initAnswer(false));
    await prober!.rescan();
    assert.equal(prober!.getPlugin('late/one'), undefined);
  });
});
