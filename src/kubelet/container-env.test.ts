// The raw-block half of a container's configuration: which claims the pod
// uses and upstream's volumeMode refusals (volumeMounts need a filesystem,
// volumeDevices a block volume).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimVolumes, volumeDevicesOf, volumeModeErrors, type VolumeMode } from './container-env.ts';
import type { Container, Pod } from './types.ts';

function pod(containers: Partial<Container>[], volumes: { name: string; [source: string]: unknown }[], initContainers: Partial<Container>[] = []): Pod {
  const full = (c: Partial<Container>, i: number): Container => ({ name: `c${i}`, image: 'busybox', ...c });
  return {
    metadata: { name: 'p', namespace: 'default', uid: 'u' },
    spec: { containers: containers.map(full), ...(initContainers.length > 0 ? { initContainers: initContainers.map(full) } : {}), volumes },
  };
}

const claim = (name: string, claimName: string) => ({ name, persistentVolumeClaim: { claimName } });

test('volumeModeErrors: upstream refusals by how a volume is used', () => {
  const rows: { name: string; pod: Pod; modes: Record<string, VolumeMode | undefined>; want: Record<string, string> }[] = [
    {
      name: '1 a Block claim in volumeDevices is fine',
      pod: pod([{ volumeDevices: [{ name: 'data', devicePath: '/dev/xvda' }] }], [claim('data', 'c')]),
      modes: { data: 'Block' },
      want: {},
    },
    {
      name: '2 a Filesystem claim in volumeMounts is fine',
      pod: pod([{ volumeMounts: [{ name: 'data', mountPath: '/data' }] }], [claim('data', 'c')]),
      modes: { data: 'Filesystem' },
      want: {},
    },
    {
      name: '3 a Block claim in volumeMounts is refused',
      pod: pod([{ volumeMounts: [{ name: 'data', mountPath: '/data' }] }], [claim('data', 'c')]),
      modes: { data: 'Block' },
      want: { data: 'volume data has volumeMode Block, but is specified in volumeMounts' },
    },
    {
      name: '4 a Filesystem claim in volumeDevices is refused',
      pod: pod([{ volumeDevices: [{ name: 'data', devicePath: '/dev/xvda' }] }], [claim('data', 'c')]),
      modes: { data: 'Filesystem' },
      want: { data: 'volume data has volumeMode Filesystem, but is specified in volumeDevices' },
    },
    {
      name: '5 an init container counts too',
      pod: pod([{}], [claim('data', 'c')], [{ volumeMounts: [{ name: 'data', mountPath: '/data' }] }]),
      modes: { data: 'Block' },
      want: { data: 'volume data has volumeMode Block, but is specified in volumeMounts' },
    },
    {
      name: '6 a volume of unknown mode (claim unreadable) is not judged',
      pod: pod([{ volumeDevices: [{ name: 'data', devicePath: '/dev/xvda' }] }], [claim('data', 'c')]),
      modes: { data: undefined },
      want: {},
    },
    {
      name: '7 a volume no container uses is not judged',
      pod: pod([{}], [claim('data', 'c')]),
      modes: { data: 'Block' },
      want: {},
    },
  ];
  for (const row of rows) {
    assert.deepEqual(Object.fromEntries(volumeModeErrors(row.pod, (n) => row.modes[n])), row.want, row.name);
  }
});

test('claimVolumes: the claims and ephemeral templates of used volumes', () => {
  const p = pod(
    [{ volumeMounts: [{ name: 'fs', mountPath: '/fs' }], volumeDevices: [{ name: 'blk', devicePath: '/dev/b' }, { name: 'eph', devicePath: '/dev/e' }] }],
    [
      claim('fs', 'fs-claim'),
      claim('blk', 'blk-claim'),
      claim('unused', 'unused-claim'),
      { name: 'eph', ephemeral: { volumeClaimTemplate: { spec: { volumeMode: 'Block' } } } },
      { name: 'scratch', emptyDir: {} },
    ],
  );
  const { claims, ephemeral } = claimVolumes(p);
  assert.deepEqual(Object.fromEntries(claims), { fs: 'fs-claim', blk: 'blk-claim' });
  assert.deepEqual(Object.fromEntries(ephemeral), { eph: 'Block' });
});

test('volumeDevicesOf: only well-formed entries', () => {
  const c: Container = { name: 'c', image: 'busybox', volumeDevices: [{ name: 'a', devicePath: '/dev/a' }, { name: 'b' }, 'junk', null] };
  assert.deepEqual(volumeDevicesOf(c), [{ name: 'a', devicePath: '/dev/a' }]);
  assert.deepEqual(volumeDevicesOf({ name: 'c', image: 'busybox' }), []);
});
