import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { PersistentVolume } from '../../../api/core/volume-types.ts';
import type { KubeObject } from '../../../apimachinery/index.ts';
import { isDeviceMountable, VolumeSetupError, type VolumeSpec } from '../../plugin.ts';
import { makeTempDir, mapObjectSource, mountsUnder, removeTempDir, testHost, testPod } from '../../test-framework.ts';
import {
  defaultCapabilities,
  FlexDriverOutputError,
  FlexDriverTimeoutError,
  FlexSecretError,
  FlexVolumePlugin,
  type DriverCapabilities,
} from './index.ts';
import { installExample, recordedCalls, recordingDriver, writeDriver } from './test-drivers.ts';

const signal = new AbortController().signal;

function losetupJ(file: string): string {
  return execFileSync('losetup', ['-j', file], { encoding: 'utf8' }).trim();
}

function blkidUuid(device: string): string {
  return execFileSync('blkid', ['-p', '-s', 'UUID', '-o', 'value', device], { encoding: 'utf8' }).trim();
}

describe('FlexVolumePlugin', () => {
  let root = '';
  let pluginDir = '';
  let data = '';
  const attachedFiles: string[] = [];
  before(async () => {
    root = await makeTempDir('flex');
    pluginDir = join(root, 'exec');
    data = join(root, 'data');
    await mkdir(data, { recursive: true });
    process.env.VOLPLANE_LOOP_STATE_DIR = join(root, 'loop-state');
    await installExample(pluginDir, 'volplane~loop');
    await installExample(pluginDir, 'volplane~bind');
  });
  after(async () => {
    // Whatever a failed test left: pod and global mounts first, then loop devices.
    await removeTempDir(join(root, 'kubelet')).catch(() => {});
    for (const f of attachedFiles) {
      for (const line of losetupJ(f).split('\n').filter((l) => l !== '')) {
        execFileSync('losetup', ['-d', line.split(':')[0]]);
      }
    }
    await removeTempDir(root);
    assert.deepEqual(await mountsUnder(root), []);
  });

  const newPlugin = async (dirName: string, opts: { logger?: pino.Logger; callTimeoutMs?: number } = {}): Promise<FlexVolumePlugin> => {
    const host = testHost(join(root, 'kubelet'), mapObjectSource({ secrets: [] }));
    const p = new FlexVolumePlugin({ host, pluginDir, dirName, ...opts });
    await p.init();
    return p;
  };

  describe('init and capabilities', () => {
    const rows: { name: string; dirName: string; body?: string; want: DriverCapabilities; attachable: boolean }[] = [
      {
        name: '1 the loop example attaches',
        dirName: 'volplane~loop',
        want: { ...defaultCapabilities(), attach: true, selinuxRelabel: false },
        attachable: true,
      },
      {
        name: '2 the bind example is mount-only',
        dirName: 'volplane~bind',
        want: { ...defaultCapabilities(), attach: false, selinuxRelabel: false },
        attachable: false,
      },
      {
        name: '3 a bare Success keeps upstream defaults',
        dirName: 'test~bare',
        body: `echo '{"status":"Success"}'`,
        want: defaultCapabilities(),
        attachable: true,
      },
    ];
    for (const row of rows) {
      it(row.name, async () => {
        if (row.body !== undefined) await writeDriver(pluginDir, row.dirName, row.body);
        const p = await newPlugin(row.dirName);
        assert.equal(p.state, 'ready');
        assert.equal(p.name, row.dirName.replace('~', '/'));
        assert.deepEqual(p.capabilities, row.want);
        assert.equal(p.attacher !== undefined, row.attachable);
      });
    }

    it('4 canSupport: pod flexVolume and PV flexVolume naming this driver, nothing else', async () => {
      const p = await newPlugin('volplane~bind');
      const pv = (driver: string): VolumeSpec => ({
        persistentVolume: { metadata: { name: 'pv' }, spec: { flexVolume: { driver } } } as PersistentVolume,
        readOnly: false,
      });
      assert.equal(p.canSupport({ volume: { name: 'v', flexVolume: { driver: 'volplane/bind' } }, readOnly: false }), true);
      assert.equal(p.canSupport(pv('volplane/bind')), true);
      assert.equal(p.canSupport(pv('volplane/loop')), false);
      assert.equal(p.canSupport({ volume: { name: 'v', emptyDir: {} }, readOnly: false }), false);
      p.markRemoved();
      assert.equal(p.canSupport(pv('volplane/bind')), false);
    });
  });

  it('5 loop driver: attach → waitforattach → mountdevice → mount → unmount → unmountdevice → detach; data survives, no reformat', async () => {
    const p = await newPlugin('volplane~loop');
    const a = p.attacher!;
    const pvName = 'pv-loop-1';
    const file = join(data, `${pvName}.img`);
    attachedFiles.push(file);
    const spec: VolumeSpec = {
      persistentVolume: {
        metadata: { name: pvName },
        spec: { flexVolume: { driver: 'volplane/loop', fsType: 'ext4', options: { dir: data, size: '16Mi' } } },
      } as PersistentVolume,
      readOnly: false,
    };
    const pod = testPod();
    const device = await a.attach(spec, 'node-1', signal);
    assert.match(device, /^\/dev\/loop\d+$/);
    assert.equal((await stat(file)).size, 16 * 1024 * 1024);
    assert.equal(await a.attach(spec, 'node-1', signal), device, 'attach again reuses the loop device');
    assert.equal(await a.isAttached(spec, 'node-1', signal), true);
    assert.equal(await a.waitForAttach(spec, device, 10_000, signal), device);

    const global = await a.getDeviceMountPath(spec, signal);
    assert.equal(global, join(root, 'kubelet', 'plugins', 'kubernetes.io', 'flexvolume', 'volplane', 'loop', 'mounts', pvName));
    await a.mountDevice(spec, device, global, signal);
    const uuid = blkidUuid(device);
    assert.notEqual(uuid, '');

    const m = p.newMounter(spec, pod);
    assert.equal(m.getPath(), join(root, 'kubelet', 'pods', pod.metadata.uid!, 'volumes', 'volplane~loop', pvName));
    const u = p.newUnmounter(pvName, pod.metadata.uid!);
    try {
      await m.setUp({ signal });
      await m.setUp({ signal }); // mounted already: no second bind
      const host = testHost(root);
      assert.equal((await host.mountUtil.listMounts()).filter((x) => x.mountPoint === m.getPath()).length, 1);
      await writeFile(join(m.getPath(), 'hello.txt'), 'kept');
      await u.tearDown(signal);
      await assert.rejects(stat(m.getPath()), { code: 'ENOENT' });
      await m.setUp({ signal });
      assert.equal(await readFile(join(m.getPath(), 'hello.txt'), 'utf8'), 'kept');
      await u.tearDown(signal);

      await a.unmountDevice(global, signal);
      await assert.rejects(stat(global), { code: 'ENOENT' });
      // Mounting the device again must find the filesystem, not make a new one.
      await a.mountDevice(spec, device, global, signal);
      assert.equal(blkidUuid(device), uuid, 'mountdevice never reformats');
      await m.setUp({ signal });
      assert.equal(await readFile(join(m.getPath(), 'hello.txt'), 'utf8'), 'kept');
    } finally {
      await u.tearDown(signal);
      await a.unmountDevice(global, signal);
      await a.detach(pvName, 'node-1', signal);
    }
    assert.equal(losetupJ(file), '', 'the loop device is released');
    assert.equal(await a.isAttached(spec, 'node-1', signal), false);
    assert.deepEqual(await mountsUnder(join(root, 'kubelet')), []);
  });

  describe('bind driver (mount-only)', () => {
    const rows: { name: string; readOnly: boolean; noJq: boolean }[] = [
      { name: '6a read-write: the pod sees and writes the source', readOnly: false, noJq: false },
      { name: '6b read-only: the pod sees the source and cannot write', readOnly: true, noJq: false },
      { name: '6c read-write, options read by the sed fallback', readOnly: false, noJq: true },
      { name: '6d read-only, options read by the sed fallback', readOnly: true, noJq: true },
    ];
    for (const row of rows) {
      it(row.name, async (t) => {
        // The driver inherits our environment; the variable makes it skip jq.
        if (row.noJq) {
          process.env.VOLPLANE_FLEX_NO_JQ = '1';
          t.after(() => {
            delete process.env.VOLPLANE_FLEX_NO_JQ;
          });
        }
        const p = await newPlugin('volplane~bind');
        const src = join(data, `bind-src-${row.readOnly}-${row.noJq}`);
        await mkdir(src, { recursive: true });
        await writeFile(join(src, 'f'), 'from the node');
        const pod = testPod();
        const spec: VolumeSpec = { volume: { name: 'shared', flexVolume: { driver: 'volplane/bind', readOnly: row.readOnly, options: { path: src } } }, readOnly: false };
        const m = p.newMounter(spec, pod);
        const u = p.newUnmounter('shared', pod.metadata.uid!);
        try {
          await m.setUp({ signal });
          assert.equal(await readFile(join(m.getPath(), 'f'), 'utf8'), 'from the node');
          if (row.readOnly) await assert.rejects(writeFile(join(m.getPath(), 'g'), 'x'), { code: 'EROFS' });
          else await writeFile(join(m.getPath(), 'g'), 'x');
        } finally {
          await u.tearDown(signal);
        }
        await assert.rejects(stat(m.getPath()), { code: 'ENOENT' });
        assert.equal(await readFile(join(src, 'f'), 'utf8'), 'from the node');
      });
    }
  });

  it('7 a driver that disappears while mounted: teardown still unmounts via the default path', async () => {
    // The bind example under another name (the executable must match its directory's driver name).
    const body = (await readFile(join(pluginDir, 'volplane~bind', 'bind'), 'utf8')).replace(/^#!\/bin\/sh\n/, '');
    await writeDriver(pluginDir, 'volplane~gone', body);
    const p = await newPlugin('volplane~gone');
    const src = join(data, 'gone-src');
    await mkdir(src, { recursive: true });
    const pod = testPod();
    const m = p.newMounter({ volume: { name: 'g', flexVolume: { driver: 'volplane/gone', options: { path: src } } }, readOnly: false }, pod);
    await m.setUp({ signal });
    assert.equal(await testHost(root).mountUtil.isMountPoint(m.getPath()), true);
    await rm(join(pluginDir, 'volplane~gone'), { recursive: true });
    await p.newUnmounter('g', pod.metadata.uid!).tearDown(signal);
    await assert.rejects(stat(m.getPath()), { code: 'ENOENT' });
  });

  it('8 options JSON exactly as upstream: implicit keys, pod info, fsGroup, secrets base64 — and secrets never logged', async () => {
    const log = join(root, 'options.log');
    await writeDriver(pluginDir, 'test~record', `case "$1" in init) echo '{"status":"Success","capabilities":{"attach":false}}'; exit 0;; esac
${recordingDriver(log)}`);
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (b: Buffer) => lines.push(b.toString()));
    const logger = pino({ level: 'debug' }, stream);
    const secret: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', namespace: 'team-a' },
      type: 'test/record',
      data: { password: Buffer.from('hunter2-plain').toString('base64'), user: Buffer.from('admin').toString('base64') },
    };
    const host = testHost(join(root, 'kubelet'), mapObjectSource({ secrets: [secret] }));
    const p = new FlexVolumePlugin({ host, pluginDir, dirName: 'test~record', logger });
    await p.init();
    const pod = testPod({
      metadata: { name: 'web-0', namespace: 'team-a', uid: '8d6e1c52-0000-4000-8000-000000000001' },
      spec: { serviceAccountName: 'builder', containers: [{ name: 'c' }] },
    });
    const spec: VolumeSpec = {
      volume: { name: 'vol', flexVolume: { driver: 'test/record', fsType: 'xfs', secretRef: { name: 'creds' }, options: { share: 'a&b' } } },
      readOnly: false,
    };
    const m = p.newMounter(spec, pod);
    await m.setUp({ signal, fsGroup: 2000 });
    await p.newUnmounter('vol', pod.metadata.uid!).tearDown(signal);
    const calls = (await recordedCalls(log)).filter((c) => c[0] === 'mount');
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0], [
      'mount',
      m.getPath(),
      '{"kubernetes.io/fsType":"xfs","kubernetes.io/mounterArgs.FsGroup":"2000","kubernetes.io/pod.name":"web-0",' +
        '"kubernetes.io/pod.namespace":"team-a","kubernetes.io/pod.uid":"8d6e1c52-0000-4000-8000-000000000001",' +
        '"kubernetes.io/pvOrVolumeName":"vol","kubernetes.io/readwrite":"rw",' +
        `"kubernetes.io/secret/password":"${Buffer.from('hunter2-plain').toString('base64')}",` +
        `"kubernetes.io/secret/user":"${Buffer.from('admin').toString('base64')}",` +
        '"kubernetes.io/serviceAccount.name":"builder","share":"a\\u0026b"}',
    ]);
    const logged = lines.join('');
    assert.match(logged, /flexvolume driver call/, 'the call was logged');
    assert.doesNotMatch(logged, /hunter2/);
    assert.ok(!logged.includes(Buffer.from('hunter2-plain').toString('base64')), 'no base64 secret in the logs');
  });

  it('9 secretRef to a Secret of another type fails as upstream, before the driver runs', async () => {
    const log = join(root, 'options-9.log');
    await writeDriver(pluginDir, 'test~record9', `case "$1" in init) echo '{"status":"Success","capabilities":{"attach":false}}'; exit 0;; esac
${recordingDriver(log)}`);
    const secret: KubeObject = { metadata: { name: 'creds', namespace: 'default' }, type: 'Opaque', data: { k: 'dg==' } };
    const p = new FlexVolumePlugin({ host: testHost(join(root, 'kubelet'), mapObjectSource({ secrets: [secret] })), pluginDir, dirName: 'test~record9' });
    await p.init();
    const pod = testPod();
    const m = p.newMounter({ volume: { name: 'v9', flexVolume: { driver: 'test/record9', secretRef: { name: 'creds' } } }, readOnly: false }, pod);
    await assert.rejects(m.setUp({ signal }), (err: Error) => {
      assert.ok(err instanceof VolumeSetupError);
      assert.ok(err.cause instanceof FlexSecretError);
      assert.equal(err.message, "couldn't get secret default/creds err: cannot get secret of type test/record9");
      return true;
    });
    assert.deepEqual(await recordedCalls(log), []);
    await assert.rejects(stat(m.getPath()), { code: 'ENOENT' }, 'no pod dir left behind');
  });

  describe('misbehaving drivers fail only their own volumes', () => {
    const rows: { name: string; dirName: string; body: string; cause: new (...a: never[]) => Error }[] = [
      {
        name: '10a garbage on mount',
        dirName: 'bad~garbage',
        body: `case "$1" in init) echo '{"status":"Success","capabilities":{"attach":false}}';; *) echo 'Mounted OK';; esac`,
        cause: FlexDriverOutputError,
      },
      {
        name: '10b a hung mount is killed at the deadline',
        dirName: 'bad~hang',
        body: `case "$1" in init) echo '{"status":"Success","capabilities":{"attach":false}}';; *) sleep 30;; esac`,
        cause: FlexDriverTimeoutError,
      },
    ];
    for (const row of rows) {
      it(row.name, async () => {
        await writeDriver(pluginDir, row.dirName, row.body);
        const bad = await newPlugin(row.dirName, { callTimeoutMs: 400 });
        const good = await newPlugin('volplane~bind');
        const src = join(data, `good-${row.dirName}`);
        await mkdir(src, { recursive: true });
        const pod = testPod();
        const badMounter = bad.newMounter({ volume: { name: 'bad', flexVolume: { driver: row.dirName.replace('~', '/') } }, readOnly: false }, pod);
        const goodMounter = good.newMounter({ volume: { name: 'good', flexVolume: { driver: 'volplane/bind', options: { path: src } } }, readOnly: false }, pod);
        const started = Date.now();
        const [badResult] = await Promise.allSettled([badMounter.setUp({ signal }), goodMounter.setUp({ signal })]);
        try {
          assert.ok(Date.now() - started < 5_000);
          assert.equal(badResult.status, 'rejected');
          const err = (badResult as PromiseRejectedResult).reason as Error;
          assert.ok(err instanceof VolumeSetupError, err.message);
          assert.ok(err.cause instanceof row.cause, String(err.cause));
          await assert.rejects(stat(badMounter.getPath()), { code: 'ENOENT' }, 'the failed pod dir is removed');
          assert.equal(await testHost(root).mountUtil.isMountPoint(goodMounter.getPath()), true);
        } finally {
          await good.newUnmounter('good', pod.metadata.uid!).tearDown(signal);
        }
      });
    }
  });

  it('11 mount "Not supported" on a driver without attach binds the (missing) global path and fails cleanly', async () => {
    await writeDriver(pluginDir, 'test~nomount', `case "$1" in init) echo '{"status":"Success","capabilities":{"attach":false}}';; *) echo '{"status":"Not supported"}';; esac`);
    const p = await newPlugin('test~nomount');
    const pod = testPod();
    const m = p.newMounter({ volume: { name: 'nm', flexVolume: { driver: 'test/nomount' } }, readOnly: false }, pod);
    await assert.rejects(m.setUp({ signal }), VolumeSetupError);
    await assert.rejects(stat(m.getPath()), { code: 'ENOENT' });
  });

  it('12 mountdevice/unmountdevice "Not supported": Kubernetes formats a blank device once, mounts and unmounts it', async () => {
    // The loop example for attach/detach; everything else left to the defaults.
    const loop = join(pluginDir, 'volplane~loop', 'loop');
    await writeDriver(pluginDir, 'test~defaults', `case "$1" in
init|attach|waitforattach|detach|isattached) exec '${loop}' "$@";;
*) echo '{"status":"Not supported"}';;
esac`);
    const p = await newPlugin('test~defaults');
    const a = p.attacher!;
    const file = join(data, 'pv-defaults.img');
    attachedFiles.push(file);
    const spec: VolumeSpec = {
      persistentVolume: {
        metadata: { name: 'pv-defaults' },
        spec: { flexVolume: { driver: 'test/defaults', fsType: 'ext4', options: { dir: data, size: '16Mi' } } },
      } as PersistentVolume,
      readOnly: false,
    };
    const device = await a.attach(spec, 'node-1', signal);
    const global = await a.getDeviceMountPath(spec, signal);
    try {
      await a.mountDevice(spec, device, global, signal);
      const uuid = blkidUuid(device);
      assert.notEqual(uuid, '');
      await writeFile(join(global, 'x'), 'y');
      await a.unmountDevice(global, signal);
      await assert.rejects(stat(global), { code: 'ENOENT' });
      await a.mountDevice(spec, device, global, signal);
      assert.equal(blkidUuid(device), uuid, 'an existing filesystem is never reformatted');
      assert.equal(await readFile(join(global, 'x'), 'utf8'), 'y');
    } finally {
      await a.unmountDevice(global, signal);
      await a.detach('pv-defaults', 'node-1', signal);
    }
    assert.equal(losetupJ(file), '');
  });

  describe('as a DeviceMountableVolumePlugin (what the volume manager calls)', () => {
    const rows: { name: string; dirName: string; driver: string; attach: boolean }[] = [
      { name: '13a an attaching driver requires attach and a device mount', dirName: 'volplane~loop', driver: 'volplane/loop', attach: true },
      { name: '13b a mount-only driver requires neither', dirName: 'volplane~bind', driver: 'volplane/bind', attach: false },
    ];
    for (const row of rows) {
      it(row.name, async () => {
        const p = await newPlugin(row.dirName);
        const spec: VolumeSpec = { volume: { name: 'v1', flexVolume: { driver: row.driver, options: {} } }, readOnly: false };
        assert.equal(isDeviceMountable(p), true);
        assert.equal(await p.getUniqueVolumeName(spec, signal), `flexvolume-${row.driver}/v1`);
        assert.equal(await p.requiresAttach(spec, signal), row.attach);
        assert.equal(await p.requiresDeviceMount(spec, signal), row.attach);
      });
    }

    it('14 device mounter and unmounter run waitforattach/mountdevice/unmountdevice; reconstructDeviceMount finds the device mount from the pod bind', async () => {
      const p = await newPlugin('volplane~loop');
      const pvName = 'pv-loop-dm';
      const file = join(data, `${pvName}.img`);
      attachedFiles.push(file);
      const spec: VolumeSpec = {
        persistentVolume: {
          metadata: { name: pvName },
          spec: { flexVolume: { driver: 'volplane/loop', fsType: 'ext4', options: { dir: data, size: '16Mi' } } },
        } as PersistentVolume,
        readOnly: false,
      };
      const pod = testPod();
      const uid = pod.metadata.uid!;
      const device = await p.attacher!.attach(spec, 'node-1', signal);
      const dm = p.newDeviceMounter();
      const global = await dm.getDeviceMountPath(spec, signal);
      const m = p.newMounter(spec, pod);
      const u = p.newUnmounter(pvName, uid);
      const want = { uniqueVolumeName: `flexvolume-volplane/loop/${pvName}`, deviceMountPath: global };
      try {
        assert.equal(await p.reconstructDeviceMount(uid, pvName, signal), undefined, 'nothing on disk yet');
        assert.equal(await dm.waitForAttach(spec, device, pod, 10_000, signal), device);
        await dm.mountDevice(spec, device, global, signal);
        await m.setUp({ signal });
        assert.deepEqual(await p.reconstructDeviceMount(uid, pvName, signal), want, 'through the bind of the pod directory');
        await u.tearDown(signal);
        assert.deepEqual(await p.reconstructDeviceMount(uid, pvName, signal), want, 'by name, from the mounts dir');
        await p.newDeviceUnmounter().unmountDevice(global, signal);
        await assert.rejects(stat(global), { code: 'ENOENT' });
        assert.equal(await p.reconstructDeviceMount(uid, pvName, signal), undefined);
      } finally {
        await u.tearDown(signal);
        await p.newDeviceUnmounter().unmountDevice(global, signal);
        await p.attacher!.detach(pvName, 'node-1', signal);
      }
      assert.equal(losetupJ(file), '');
    });
  });
});
