// The actual state's contracts: the attaching → attached → detaching life of
// an attachment, what the node's status reports, and mounted-by-node.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ActualStateOfWorld, UnknownAttachmentError, type AttachmentInfo } from './actual-state-of-world.ts';

const info = (name: string, node = 'n1'): AttachmentInfo => ({
  attachmentName: name,
  nodeName: node,
  pvName: `pv-${name}`,
  driver: 'd',
  volumeName: `kubernetes.io/csi/d^${name}`,
});

const reported = (asw: ActualStateOfWorld, node = 'n1'): string[] => asw.getVolumesToReportAttached(node).map((v) => v.name);

describe('ActualStateOfWorld', () => {
  const rows: { name: string; run: (asw: ActualStateOfWorld) => void; reported: string[]; flagged: string[] }[] = [
    { name: '1 attaching is not reported and flags nothing', run: (a) => a.markVolumeAsAttaching(info('a')), reported: [], flagged: [] },
    {
      name: '2 attached is reported, flags the node, and a second confirmation is a no-op',
      run: (a) => {
        assert.equal(a.markVolumeAsAttached(info('a')), true);
        assert.equal(a.markVolumeAsAttached(info('a')), false);
      },
      reported: ['kubernetes.io/csi/d^a'],
      flagged: ['n1'],
    },
    {
      name: '3 detaching leaves the report; a confirmation while detaching is ignored',
      run: (a) => {
        a.markVolumeAsAttached(info('a'));
        a.takeNodesToUpdate();
        a.markVolumeAsDetaching('a');
        assert.equal(a.markVolumeAsAttached(info('a')), false);
      },
      reported: [],
      flagged: ['n1'],
    },
    {
      name: '4 cancelDetach reports it again',
      run: (a) => {
        a.markVolumeAsAttached(info('a'));
        a.markVolumeAsDetaching('a');
        a.takeNodesToUpdate();
        a.cancelDetach('a');
      },
      reported: ['kubernetes.io/csi/d^a'],
      flagged: ['n1'],
    },
    {
      name: '5 deleteVolumeNode forgets it; unknown names are no-ops',
      run: (a) => {
        a.markVolumeAsAttached(info('a'));
        a.markVolumeAsAttached(info('b'));
        a.takeNodesToUpdate();
        a.deleteVolumeNode('a');
        a.deleteVolumeNode('zzz');
        a.cancelDetach('zzz');
      },
      reported: ['kubernetes.io/csi/d^b'],
      flagged: ['n1'],
    },
    { name: '6 an attachment without a known volume name is never reported', run: (a) => a.markVolumeAsAttached({ ...info('a'), volumeName: undefined }), reported: [], flagged: [] },    {
      name: '7 a FlexVolume attachment is reported with the device path its attach returned; an uncertain (failed) attach is not',
      run: (a) => {
        const flex = (n: string): AttachmentInfo => ({ ...info(n), volumeName: `flexvolume-v/d/${n}`, flex: { driverVolumeName: n } });
        a.markVolumeAsAttaching(flex('u'));
        assert.equal(a.markVolumeAsAttached(flex('f'), '/dev/loop7'), true);
        assert.deepEqual(a.getVolumesToReportAttached('n1'), [{ name: 'flexvolume-v/d/f', devicePath: '/dev/loop7' }]);
      },
      reported: ['flexvolume-v/d/f'],
      flagged: ['n1'],
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const asw = new ActualStateOfWorld();
      row.run(asw);
      assert.deepEqual(reported(asw), row.reported);
      assert.deepEqual(asw.takeNodesToUpdate(), row.flagged);
    });
  }

  it('7 mountedByNode: assumed until the node reports, then follows volumesInUse of that node only', () => {
    const asw = new ActualStateOfWorld();
    asw.markVolumeAsAttached(info('a'));
    asw.markVolumeAsAttached(info('b', 'n2'));
    assert.equal(asw.get('a')?.mountedByNode, true);
    asw.setVolumesMountedByNode('n1', new Set());
    assert.equal(asw.get('a')?.mountedByNode, false);
    assert.equal(asw.get('b')?.mountedByNode, true);
    asw.setVolumesMountedByNode('n1', new Set(['kubernetes.io/csi/d^a']));
    assert.equal(asw.get('a')?.mountedByNode, true);
  });

  it('8 detach request time: set once, measured from the first call, reset when wanted again', () => {
    const asw = new ActualStateOfWorld();
    asw.markVolumeAsAttaching(info('a'));
    assert.equal(asw.setDetachRequestTime('a', 1000), 0);
    assert.equal(asw.setDetachRequestTime('a', 4000), 3000);
    asw.resetDetachRequestTime('a');
    assert.equal(asw.setDetachRequestTime('a', 5000), 0);
    assert.throws(() => asw.setDetachRequestTime('zzz', 0), UnknownAttachmentError);
    assert.throws(() => asw.markVolumeAsDetaching('zzz'), UnknownAttachmentError);
  });

  it('9 each attach error is told once', () => {
    const asw = new ActualStateOfWorld();
    asw.markVolumeAsAttaching(info('a'));
    assert.equal(asw.setAttachError('a', 't1/boom'), true);
    assert.equal(asw.setAttachError('a', 't1/boom'), false);
    assert.equal(asw.setAttachError('a', 't2/boom'), true);
    assert.equal(asw.setAttachError('zzz', 't1/boom'), false);
  });
});
