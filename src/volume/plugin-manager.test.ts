import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinVolumePlugins } from './index.ts';
import { HostMountUtil } from './mount/index.ts';
import {
  DuplicateVolumePluginError,
  MultipleVolumePluginsError,
  NoVolumePluginError,
  VolumePluginManager,
  VolumePluginNotFoundError,
} from './plugin-manager.ts';
import type { VolumePlugin, VolumeSpec } from './plugin.ts';
import { InvalidVolumePathError, podVolumeDir, pluginDir } from './plugin.ts';

const host = { rootDir: '/var/lib/volplane-kubelet', mountUtil: new HostMountUtil() };
const manager = new VolumePluginManager(builtinVolumePlugins(host));

describe('VolumePluginManager', () => {
  const rows: { name: string; spec: VolumeSpec; want: string }[] = [
    { name: '1 emptyDir', spec: { volume: { name: 'v', emptyDir: {} }, readOnly: false }, want: 'kubernetes.io/empty-dir' },
    { name: '2 hostPath pod volume', spec: { volume: { name: 'v', hostPath: { path: '/data' } }, readOnly: false }, want: 'kubernetes.io/host-path' },
    { name: '3 configMap', spec: { volume: { name: 'v', configMap: { name: 'c' } }, readOnly: false }, want: 'kubernetes.io/configmap' },
    { name: '4 secret', spec: { volume: { name: 'v', secret: { secretName: 's' } }, readOnly: false }, want: 'kubernetes.io/secret' },
    { name: '5 downwardAPI', spec: { volume: { name: 'v', downwardAPI: {} }, readOnly: false }, want: 'kubernetes.io/downward-api' },
    { name: '6 projected', spec: { volume: { name: 'v', projected: { sources: [] } }, readOnly: false }, want: 'kubernetes.io/projected' },
    { name: '7 nfs pod volume', spec: { volume: { name: 'v', nfs: { server: 's', path: '/e' } }, readOnly: false }, want: 'kubernetes.io/nfs' },
    {
      name: '8 local PV',
      spec: { persistentVolume: { metadata: { name: 'pv1' }, spec: { local: { path: '/mnt/disk1' } } }, readOnly: false },
      want: 'kubernetes.io/local-volume',
    },
    {
      name: '9 hostPath PV',
      spec: { persistentVolume: { metadata: { name: 'pv2' }, spec: { hostPath: { path: '/data' } } }, readOnly: false },
      want: 'kubernetes.io/host-path',
    },
  ];
  for (const row of rows) {
    it(`${row.name} is claimed by exactly ${row.want}`, () => {
      assert.equal(manager.findPluginBySpec(row.spec).name, row.want);
    });
  }

  it('10 a spec no plugin supports fails with NoVolumePluginError', () => {
    assert.throws(() => manager.findPluginBySpec({ volume: { name: 'v', cephfs: {} }, readOnly: false }), (err: unknown) => {
      assert.ok(err instanceof NoVolumePluginError);
      assert.equal(err.message, 'no volume plugin matched');
      assert.equal(err.volumeName, 'v');
      return true;
    });
  });

  it('11 a spec two plugins support fails with MultipleVolumePluginsError naming both', () => {
    const greedy: VolumePlugin = {
      name: 'example.com/greedy',
      canSupport: () => true,
      newMounter: () => assert.fail('not called'),
      newUnmounter: () => assert.fail('not called'),
    };
    const m = new VolumePluginManager([...builtinVolumePlugins(host), greedy]);
    assert.throws(() => m.findPluginBySpec({ volume: { name: 'v', emptyDir: {} }, readOnly: false }), (err: unknown) => {
      assert.ok(err instanceof MultipleVolumePluginsError);
      assert.equal(err.message, 'multiple volume plugins matched: example.com/greedy,kubernetes.io/empty-dir');
      return true;
    });
  });

  it('12 findPluginByName finds registered plugins and fails for others', () => {
    assert.equal(manager.findPluginByName('kubernetes.io/secret').name, 'kubernetes.io/secret');
    assert.throws(() => manager.findPluginByName('kubernetes.io/cephfs'), VolumePluginNotFoundError);
  });

  it('13 registering a name twice fails', () => {
    assert.throws(() => new VolumePluginManager([...builtinVolumePlugins(host), ...builtinVolumePlugins(host)]), DuplicateVolumePluginError);
  });
});

describe('pod directory layout', () => {
  it('1 a pod volume lives at pods/<uid>/volumes/kubernetes.io~<plugin>/<name>', () => {
    assert.equal(
      podVolumeDir('/var/lib/kubelet', 'uid-1', 'kubernetes.io/empty-dir', 'cache'),
      '/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~empty-dir/cache',
    );
  });
  it('2 global mounts live under plugins/kubernetes.io/<plugin>', () => {
    assert.equal(pluginDir('/var/lib/kubelet', 'kubernetes.io/nfs'), '/var/lib/kubelet/plugins/kubernetes.io/nfs');
  });
  for (const bad of ['..', '.', 'a/b', '']) {
    it(`3 volume name ${JSON.stringify(bad)} cannot leave its directory`, () => {
      assert.throws(() => podVolumeDir('/r', 'uid', 'kubernetes.io/empty-dir', bad), InvalidVolumePathError);
    });
  }
});
