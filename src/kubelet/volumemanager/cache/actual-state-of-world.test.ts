import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActualStateOfWorld, type ActualVolumeInput, type VolumeMountState } from './actual-state-of-world.ts';

const vol = (outerName: string, podUid = 'p1'): ActualVolumeInput => ({
  podUid, outerName, innerName: outerName, pluginName: 'kubernetes.io/empty-dir', path: `/x/${outerName}`, readOnly: false, contentVersion: '', setUpAt: 0,
});

type Step = (asw: ActualStateOfWorld) => void;

describe('ActualStateOfWorld', () => {
  const rows: { name: string; steps: Step[]; want: Record<string, VolumeMountState>; changes: number }[] = [
    { name: '1 mounted is recorded', steps: [(a) => a.markVolumeAsMounted(vol('a'))], want: { a: 'Mounted' }, changes: 1 },
    { name: '2 uncertain is recorded, not absent', steps: [(a) => a.markVolumeMountAsUncertain(vol('a'))], want: { a: 'Uncertain' }, changes: 1 },
    {
      name: '3 uncertain then mounted becomes mounted',
      steps: [(a) => a.markVolumeMountAsUncertain(vol('a')), (a) => a.markVolumeAsMounted(vol('a'))],
      want: { a: 'Mounted' }, changes: 2,
    },
    {
      name: '4 a failed remount leaves a mounted volume mounted (no-op)',
      steps: [(a) => a.markVolumeAsMounted(vol('a')), (a) => a.markVolumeMountAsUncertain(vol('a'))],
      want: { a: 'Mounted' }, changes: 1,
    },
    {
      name: '5 unmounted forgets the volume; again is a no-op',
      steps: [(a) => a.markVolumeAsMounted(vol('a')), (a) => a.markVolumeAsUnmounted('p1', 'a'), (a) => a.markVolumeAsUnmounted('p1', 'a')],
      want: {}, changes: 2,
    },
    { name: '6 unmounting an unknown volume is a no-op', steps: [(a) => a.markVolumeAsUnmounted('p9', 'zz')], want: {}, changes: 0 },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const asw = new ActualStateOfWorld();
      let changes = 0;
      const sub = asw.onChange(() => changes++);
      for (const step of row.steps) step(asw);
      sub.dispose();
      assert.deepEqual(Object.fromEntries(asw.allVolumes().map((v) => [v.outerName, v.state])), row.want);
      assert.equal(changes, row.changes);
      assert.equal(asw.volumesForPod('p1').length, Object.keys(row.want).length);
    });
  }

  it('7 a device is kept per unique name: mounted, uncertain, used by pods, forgotten', () => {
    const asw = new ActualStateOfWorld();
    let changes = 0;
    const sub = asw.onChange(() => changes++);
    const dev = { uniqueVolumeName: 'flexvolume-v/d/x', pluginName: 'v/d', devicePath: '/dev/loop9', deviceMountPath: '/g/x' };
    asw.markDeviceAsUncertain(dev);
    assert.equal(asw.getDevice(dev.uniqueVolumeName)?.deviceMountState, 'DeviceMountUncertain');
    asw.markDeviceAsMounted(dev);
    asw.markDeviceAsMounted(dev);
    assert.equal(changes, 2, 'marking the same state again is no change');
    assert.equal(asw.getDevice(dev.uniqueVolumeName)?.deviceMountState, 'DeviceGloballyMounted');
    assert.equal(asw.isDeviceUsedByPods(dev.uniqueVolumeName), false);
    asw.markVolumeAsMounted({ ...vol('a'), uniqueVolumeName: dev.uniqueVolumeName });
    assert.equal(asw.isDeviceUsedByPods(dev.uniqueVolumeName), true);
    asw.markVolumeAsUnmounted('p1', 'a');
    asw.markDeviceAsUnmounted(dev.uniqueVolumeName);
    asw.markDeviceAsUnmounted(dev.uniqueVolumeName);
    sub.dispose();
    assert.deepEqual(asw.allDevices(), []);
    assert.equal(changes, 5);
  });
});
