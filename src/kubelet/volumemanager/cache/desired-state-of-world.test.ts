import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmptyDirPlugin, HostMountUtil, type Pod, type PodVolume } from '../../../volume/index.ts';
import { DesiredStateOfWorld, isAttachable, type DesiredVolume } from './desired-state-of-world.ts';

const plugin = new EmptyDirPlugin({ rootDir: '/nonexistent', mountUtil: new HostMountUtil() });
const pod = (volumes: string[]): Pod => ({
  metadata: { name: 'p', namespace: 'ns', uid: 'u1' },
  spec: { volumes: volumes.map((name): PodVolume => ({ name, emptyDir: {} })) },
});
const resolved = (outerName: string, podUid = 'u1'): DesiredVolume => ({
  podUid, outerName, innerName: outerName, spec: { volume: { name: outerName, emptyDir: {} }, readOnly: false }, plugin, contentVersion: '',
});

describe('DesiredStateOfWorld', () => {
  it('1 a resolved volume of a desired pod is to mount and referenced', () => {
    const dsw = new DesiredStateOfWorld();
    dsw.addPod('u1', pod(['a', 'b']));
    assert.equal(dsw.addPodVolume(resolved('a')), true);
    assert.deepEqual(dsw.volumesToMount().map((v) => v.outerName), ['a']);
    assert.equal(dsw.isVolumeReferenced('u1', 'b'), true, 'unresolved but named by the spec');
    assert.equal(dsw.isVolumeReferenced('u1', 'c'), false);
  });

  it('2 resolving for a removed pod or a volume the spec dropped records nothing', () => {
    const dsw = new DesiredStateOfWorld();
    assert.equal(dsw.addPodVolume(resolved('a')), false);
    dsw.addPod('u1', pod(['a']));
    assert.equal(dsw.addPodVolume(resolved('zz')), false);
    assert.deepEqual(dsw.volumesToMount(), []);
  });

  it('3 an updated pod keeps resolved volumes it still names and drops the others with their errors', () => {
    const dsw = new DesiredStateOfWorld();
    dsw.addPod('u1', pod(['a', 'b']));
    dsw.addPodVolume(resolved('a'));
    dsw.addPodVolume(resolved('b'));
    dsw.setVolumeError('u1', 'b', 'boom');
    dsw.addPod('u1', pod(['a']));
    assert.deepEqual(dsw.volumesToMount().map((v) => v.outerName), ['a']);
    assert.deepEqual(dsw.volumeErrors('u1'), new Map());
  });

  it('4 resolving clears the error; deletePod forgets everything and is a no-op twice', () => {
    const dsw = new DesiredStateOfWorld();
    dsw.addPod('u1', pod(['a']));
    dsw.setVolumeError('u1', 'a', 'PVC ns/c is not bound');
    assert.deepEqual(dsw.volumeErrors('u1'), new Map([['a', 'PVC ns/c is not bound']]));
    dsw.addPodVolume(resolved('a'));
    assert.deepEqual(dsw.volumeErrors('u1'), new Map());
    dsw.deletePod('u1');
    dsw.deletePod('u1');
    assert.equal(dsw.hasPod('u1'), false);
    assert.equal(dsw.isVolumeReferenced('u1', 'a'), false);
    dsw.setVolumeError('u1', 'a', 'ignored');
    assert.deepEqual(dsw.volumeErrors('u1'), new Map());
  });

  const withDevice = (outerName: string, pluginName: string, requiresAttach: boolean, requiresDeviceMount: boolean): DesiredVolume => ({
    ...resolved(outerName),
    plugin: { ...plugin, name: pluginName, canSupport: plugin.canSupport.bind(plugin), newMounter: plugin.newMounter.bind(plugin), newUnmounter: plugin.newUnmounter.bind(plugin) },
    device: { uniqueVolumeName: `${pluginName}/${outerName}`, requiresAttach, requiresDeviceMount },
  });
  const inUseRows: { name: string; volume: DesiredVolume; inUse: boolean }[] = [
    { name: 'an attaching FlexVolume driver', volume: withDevice('a', 'volplane/loop', true, true), inUse: true },
    { name: 'a mount-only FlexVolume driver', volume: withDevice('b', 'volplane/bind', false, false), inUse: false },
    { name: 'a CSI volume that is staged but not attached', volume: withDevice('c', 'kubernetes.io/csi', false, true), inUse: true },
    { name: 'a CSI volume with neither attach nor staging', volume: withDevice('d', 'kubernetes.io/csi', false, false), inUse: true },
    { name: 'a plugin without a device step', volume: resolved('e'), inUse: false },
  ];
  for (const row of inUseRows) {
    it(`5 volumesInUse reports ${row.name}: ${row.inUse}`, () => {
      assert.equal(isAttachable(row.volume), row.inUse);
      const dsw = new DesiredStateOfWorld();
      dsw.addPod('u1', pod([row.volume.outerName]));
      dsw.addPodVolume(row.volume);
      assert.equal(dsw.uniqueVolumeNames().size, row.inUse ? 1 : 0);
    });
  }
});
