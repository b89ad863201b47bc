// The capacity publisher against a real API server and the REAL volplane
// driver: objects per (class × topology segment) while the CSIDriver asks for
// them, kept in step with classes and the CSIDriver.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resourcePath, resources, type ResourceRef } from '../../client/index.ts';
import { TOPOLOGY_KEY } from '../../drivers/volplane/index.ts';
import { waitForState } from '../../testing/index.ts';
import { CAPACITY_NAMESPACE, DRIVER, NODE, OTHER_NODE, startSidecarEnv, type SidecarEnv } from './test-framework.ts';
import { DRIVER_NAME_LABEL, MANAGED_BY, MANAGED_BY_LABEL, type CSIStorageCapacity } from './index.ts';

const ref: ResourceRef = { group: 'storage.k8s.io', version: 'v1', resource: 'csistoragecapacities', namespaced: true };

/** `class@node → capacity` of every object in the namespace. */
async function published(s: SidecarEnv): Promise<Map<string, CSIStorageCapacity>> {
  const list = await s.env.client.get<{ items: CSIStorageCapacity[] }>(resourcePath(ref, CAPACITY_NAMESPACE));
  return new Map(list.items.map((c) => [`${c.storageClassName}@${c.nodeTopology?.matchLabels?.[TOPOLOGY_KEY] ?? '?'}`, c]));
}

function keysAre(want: string[]): (m: Map<string, CSIStorageCapacity>) => string | undefined {
  return (m) => {
    const got = [...m.keys()].sort();
    return JSON.stringify(got) === JSON.stringify([...want].sort()) ? undefined : `objects ${JSON.stringify(got)}`;
  };
}

describe('capacity publisher', () => {
  let s: SidecarEnv;
  before(async () => {
    s = await startSidecarEnv(false);
    const { client } = s.env;
    await client.create(resourcePath(resources.storageClasses), { metadata: { name: 'fast' }, provisioner: DRIVER, parameters: { kind: 'loop' } });
    await client.create(resourcePath(resources.storageClasses), { metadata: { name: 'foreign' }, provisioner: 'other.example.com' });
  });
  after(async () => {
    assert.deepEqual(await s.close(), []);
  });

  const steps: { name: string; act: () => Promise<void>; want: string[]; check?: (m: Map<string, CSIStorageCapacity>) => void }[] = [
    { name: '3-1 storageCapacity false: nothing published', act: async () => {}, want: [] },
    {
      name: '3-2 storageCapacity true: one object per class of the driver and segment, with the driver\'s numbers and our labels',
      act: async () => {
        await s.env.client.patch(resourcePath(resources.csiDrivers, undefined, DRIVER), { spec: { storageCapacity: true } });
      },
      want: [`fast@${NODE}`, `fast@${OTHER_NODE}`],
      check: (m) => {
        const a = m.get(`fast@${NODE}`)!;
        assert.notEqual(a.capacity, '0', 'the served node has free space');
        assert.equal(a.maximumVolumeSize, a.capacity);
        assert.equal(m.get(`fast@${OTHER_NODE}`)!.capacity, '0', 'the driver cannot reach node-b');
        assert.deepEqual(a.metadata.labels, { [DRIVER_NAME_LABEL]: DRIVER, [MANAGED_BY_LABEL]: MANAGED_BY });
        assert.match(a.metadata.name ?? '', /^csisc-/);
      },
    },
    {
      name: '3-3 a new class gets its objects',
      act: async () => {
        await s.env.client.create(resourcePath(resources.storageClasses), { metadata: { name: 'slow' }, provisioner: DRIVER });
      },
      want: [`fast@${NODE}`, `fast@${OTHER_NODE}`, `slow@${NODE}`, `slow@${OTHER_NODE}`],
    },
    {
      name: '3-4 a deleted class loses them',
      act: async () => {
        await s.env.client.delete(resourcePath(resources.storageClasses, undefined, 'fast'));
      },
      want: [`slow@${NODE}`, `slow@${OTHER_NODE}`],
    },
    {
      name: '3-5 storageCapacity false again: everything of ours removed',
      act: async () => {
        await s.env.client.patch(resourcePath(resources.csiDrivers, undefined, DRIVER), { spec: { storageCapacity: false } });
      },
      want: [],
    },
  ];
  for (const step of steps) {
    it(step.name, async () => {
      await step.act();
      const m = await waitForState(step.name, () => published(s), keysAre(step.want));
      step.check?.(m);
    });
  }
});
