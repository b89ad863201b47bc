// The desired state's contracts: what each method adds, removes, ignores and refuses.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { attachmentName, csiVolumeName, type AttachableVolume } from './csi-volumes.ts';
import { DesiredStateOfWorld, NodeNotManagedError } from './desired-state-of-world.ts';
import { flexAttachmentKey } from './flex-volumes.ts';

const vol = (handle: string): AttachableVolume => ({
  volumeName: csiVolumeName('d', handle),
  pvName: `pv-${handle}`,
  driver: 'd',
  volumeHandle: handle,
  multiAttachAllowed: false,
});
const pod = (name: string) => ({ namespace: 'ns', name, uid: `uid-${name}` });

/** What a row leaves behind: `node volumeHandle pod,pod` lines, sorted. */
function snapshot(dsw: DesiredStateOfWorld): string[] {
  return dsw
    .getVolumesToAttach()
    .map((v) => `${v.nodeName} ${v.volumeHandle} ${[...v.pods.values()].map((p) => p.name).sort().join(',')}`)
    .sort();
}

const rows: { name: string; act: (dsw: DesiredStateOfWorld) => void; want: string[]; throws?: new (nodeName: string) => Error }[] = [
  { name: '1 addPod on a managed node records the volume and the pod', act: (d) => (d.addNode('n1'), d.addPod(pod('a'), vol('v1'), 'n1')), want: ['n1 v1 a'] },
  {
    name: '2 addPod twice is a no-op; a second pod joins the volume',
    act: (d) => (d.addNode('n1'), d.addPod(pod('a'), vol('v1'), 'n1'), d.addPod(pod('a'), vol('v1'), 'n1'), d.addPod(pod('b'), vol('v1'), 'n1')),
    want: ['n1 v1 a,b'],
  },
  { name: '3 addPod on an unmanaged node fails', act: (d) => d.addPod(pod('a'), vol('v1'), 'n1'), want: [], throws: NodeNotManagedError },
  {
    name: '4 deletePod of the last pod removes the volume; of one of two keeps it',
    act: (d) => {
      d.addNode('n1');
      d.addPod(pod('a'), vol('v1'), 'n1');
      d.addPod(pod('b'), vol('v1'), 'n1');
      d.addPod(pod('a'), vol('v2'), 'n1');
      d.deletePod('uid-a', vol('v1').volumeName, 'n1');
      d.deletePod('uid-a', vol('v2').volumeName, 'n1');
    },
    want: ['n1 v1 b'],
  },
  { name: '5 deletePod of unknown node, volume or pod is a no-op', act: (d) => (d.addNode('n1'), d.addPod(pod('a'), vol('v1'), 'n1'), d.deletePod('uid-x', vol('v1').volumeName, 'n1'), d.deletePod('uid-a', vol('v9').volumeName, 'n1'), d.deletePod('uid-a', vol('v1').volumeName, 'n9')), want: ['n1 v1 a'] },
  { name: '6 deleteNode drops its volumes; unknown node is a no-op', act: (d) => (d.addNode('n1'), d.addNode('n2'), d.addPod(pod('a'), vol('v1'), 'n1'), d.addPod(pod('b'), vol('v1'), 'n2'), d.deleteNode('n1'), d.deleteNode('n9')), want: ['n2 v1 b'] },
  { name: '7 addNode twice keeps what the node has', act: (d) => (d.addNode('n1'), d.addPod(pod('a'), vol('v1'), 'n1'), d.addNode('n1')), want: ['n1 v1 a'] },
];

describe('DesiredStateOfWorld', () => {
  for (const row of rows) {
    it(row.name, () => {
      const dsw = new DesiredStateOfWorld();
      if (row.throws !== undefined) assert.throws(() => row.act(dsw), row.throws);
      else row.act(dsw);
      assert.deepEqual(snapshot(dsw), row.want);
    });
  }

  it('8 a desired volume carries the upstream attachment name and is found by it', () => {
    const dsw = new DesiredStateOfWorld();
    dsw.addNode('n1');
    dsw.addPod(pod('a'), vol('v1'), 'n1');
    const name = attachmentName('v1', 'd', 'n1');
    assert.equal(dsw.getByAttachmentName(name)?.volumeHandle, 'v1');
    assert.deepEqual(dsw.volumesForPod('uid-a', 'n1'), [vol('v1').volumeName]);
    assert.equal(dsw.volumeExists(vol('v1').volumeName, 'n1'), true);
    dsw.setMultiAttachError(vol('v1').volumeName, 'n1');
    assert.equal(dsw.getByAttachmentName(name)?.multiAttachErrorReported, true);
  });

  it('9 a FlexVolume volume is keyed by its unique name and node (there is no VolumeAttachment)', () => {
    const dsw = new DesiredStateOfWorld();
    dsw.addNode('n1');
    const flex: AttachableVolume = {
      volumeName: 'flexvolume-v/d/vol-1',
      pvName: '',
      driver: 'v/d',
      volumeHandle: 'vol-1',
      multiAttachAllowed: true,
      flex: { spec: { volume: { name: 'data', flexVolume: { driver: 'v/d' } }, readOnly: false }, specName: 'data' },
    };
    dsw.addPod(pod('a'), flex, 'n1');
    assert.equal(dsw.getByAttachmentName(flexAttachmentKey('flexvolume-v/d/vol-1', 'n1'))?.volumeHandle, 'vol-1');
    assert.equal(dsw.getByAttachmentName(attachmentName('vol-1', 'v/d', 'n1')), undefined);
  });
});
