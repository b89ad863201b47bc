// The attach/detach controller against a real in-process API server. Each
// row builds its own world — a node, CSIDrivers, PVs with spec.csi, bound
// claims and scheduled pods — and walks through steps: an action, then the
// state the VolumeAttachments, the node's status and the pods' events must
// reach. The test plays the external attacher by writing VolumeAttachment
// status, and the kubelet by writing the node's status.volumesInUse.
//
// "Stays" claims (no VolumeAttachment, not detached, not re-created) are
// only made after the controller provably acted on something that happened
// at the same time or later: a sentinel volume on the same node.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import { resourcePath, resources, type RestClient } from '../../client/index.ts';
import { startControllerEnv, waitForState, type ControllerEnv } from '../../testing/index.ts';
import { attachmentName, csiVolumeName } from './index.ts';
import { createNode, createPod, createPodWithPV, deletePod, setVolumesInUse, startController, type RunningController } from './test-framework.ts';

interface VA extends KubeObject {
  spec: { attacher: string; nodeName: string; source: { persistentVolumeName?: string } };
  status?: { attached?: boolean; attachError?: { message?: string; time?: string } | null };
}
interface NodeObj extends KubeObject {
  status?: { volumesAttached?: { name: string; devicePath: string }[]; volumesInUse?: string[] };
}
interface EventObj extends KubeObject {
  involvedObject: { name: string; kind?: string };
  reason: string;
  message: string;
  type: string;
  count?: number;
}

/** What a step sees: every VolumeAttachment, the row's node, the events in the row's namespace. */
interface Observed {
  vas: Map<string, VA>;
  node: NodeObj;
  events: EventObj[];
}

interface World {
  env: ControllerEnv;
  client: RestClient;
  ns: string;
  node: string;
  controller: RunningController;
  /** Facts a row remembers between steps (uids, resourceVersions). */
  memo: Map<string, string>;
}

interface Step {
  what: string;
  act?: (w: World) => Promise<void>;
  /** '' or undefined when right, else what is wrong. */
  want: (o: Observed, w: World) => string | undefined;
}

interface Row {
  name: string;
  setup: (w: World) => Promise<void>;
  steps: Step[];
}

// ---------------------------------------------------------------------------
// Building blocks

async function createDriver(w: World, name: string, attachRequired: boolean): Promise<void> {
  await w.client.create(resourcePath(resources.csiDrivers), { metadata: { name }, spec: { attachRequired } });
}

async function setPodPhase(w: World, name: string, phase: string): Promise<void> {
  await w.client.patch(resourcePath(resources.pods, w.ns, name, 'status'), { status: { phase } });
}

/** The external attacher's answer. */
async function setAttachmentStatus(w: World, vaName: string, status: VA['status']): Promise<void> {
  await w.client.patch(resourcePath(resources.volumeAttachments, undefined, vaName, 'status'), { status });
}

/** The upstream name of `handle`'s attachment on the row's node. */
const va = (w: World, handle: string, driver: string): string => attachmentName(handle, driver, w.node);
const volName = (driver: string, handle: string): string => csiVolumeName(driver, handle);

async function observe(w: World): Promise<Observed> {
  const vas = await w.client.get<KubeList<VA>>(resourcePath(resources.volumeAttachments));
  const node = await w.client.get<NodeObj>(resourcePath(resources.nodes, undefined, w.node));
  const events = await w.client.get<KubeList<EventObj>>(resourcePath(resources.events, w.ns));
  return { vas: new Map((vas.items ?? []).map((v) => [v.metadata.name ?? '', v])), node, events: events.items ?? [] };
}

// ---------------------------------------------------------------------------
// Checks: each returns '' when right.

function hasVA(name: string, want: { driver: string; pv: string; node: string }): (o: Observed) => string {
  return (o) => {
    const v = o.vas.get(name);
    if (v === undefined) return `no VolumeAttachment ${name}`;
    if (v.spec.attacher !== want.driver || v.spec.nodeName !== want.node || v.spec.source.persistentVolumeName !== want.pv) {
      return `VolumeAttachment ${name} has spec ${JSON.stringify(v.spec)}`;
    }
    return '';
  };
}

const noVA = (name: string) => (o: Observed): string => (o.vas.has(name) ? `VolumeAttachment ${name} exists` : '');

function volumesAttached(want: string[]): (o: Observed) => string {
  return (o) => {
    const have = (o.node.status?.volumesAttached ?? []).map((v) => `${v.name}|${v.devicePath}`);
    const expected = want.map((n) => `${n}|`);
    return JSON.stringify(have) === JSON.stringify(expected) ? '' : `volumesAttached ${JSON.stringify(have)}, want ${JSON.stringify(expected)}`;
  };
}

function eventOn(pod: string, type: string, reason: string, message: string, count = 1): (o: Observed) => string {
  return (o) => {
    // The recorder folds repeats into one Event with a count: count occurrences, not objects.
    const found = o.events
      .filter((e) => e.involvedObject.name === pod && e.reason === reason && e.type === type && e.message === message)
      .reduce((sum, e) => sum + (e.count ?? 1), 0);
    if (found === count) return '';
    const seen = o.events.filter((e) => e.involvedObject.name === pod).map((e) => `${e.reason}: ${e.message}`);
    return `${count} × ${type} ${reason} "${message}" on ${pod} wanted, ${found} found (seen: ${JSON.stringify(seen)})`;
  };
}

const all =
  (...checks: ((o: Observed, w: World) => string)[]) =>
  (o: Observed, w: World): string =>
    checks
      .map((c) => c(o, w))
      .filter((m) => m !== '')
      .join('; ');

// ---------------------------------------------------------------------------
// The rows

const D = 'attach.csi.volplane.io';
const NO_ATTACH = 'noattach.csi.volplane.io';
const NO_OBJECT = 'unregistered.csi.volplane.io';

const rows: Row[] = [
  {
    name: '1-1 pod with an attachable CSI volume: VolumeAttachment with the upstream name, attached → node status and SuccessfulAttachVolume',
    setup: async (w) => {
      await createPodWithPV(w, 'p1', { csi: { driver: D, volumeHandle: 'h-1-1' } });
    },
    steps: [
      {
        what: 'VolumeAttachment created, nothing reported yet',
        want: (o, w) => all(hasVA(va(w, 'h-1-1', D), { driver: D, pv: `${w.ns}-p1-pv`, node: w.node }), volumesAttached([]))(o, w),
      },
      {
        what: 'attached: listed in volumesAttached, pod told',
        act: (w) => setAttachmentStatus(w, va(w, 'h-1-1', D), { attached: true }),
        want: (o, w) =>
          all(
            volumesAttached([volName(D, 'h-1-1')]),
            eventOn('p1', 'Normal', 'SuccessfulAttachVolume', `AttachVolume.Attach succeeded for volume "${w.ns}-p1-pv"`),
          )(o, w),
      },
    ],
  },
  {
    name: '1-2 attachRequired false: no VolumeAttachment',
    setup: async (w) => {
      await createPodWithPV(w, 'p1', { csi: { driver: NO_ATTACH, volumeHandle: 'h-1-2' } });
      await createPodWithPV(w, 'sentinel', { csi: { driver: D, volumeHandle: 'h-1-2-s' } });
    },
    steps: [
      {
        what: 'the sentinel is attached, the attachRequired=false volume is not',
        want: (o, w) => all(hasVA(va(w, 'h-1-2-s', D), { driver: D, pv: `${w.ns}-sentinel-pv`, node: w.node }), noVA(va(w, 'h-1-2', NO_ATTACH)))(o, w),
      },
    ],
  },
  {
    name: '1-3 no CSIDriver object: attach required, VolumeAttachment created',
    setup: async (w) => {
      await createPodWithPV(w, 'p1', { csi: { driver: NO_OBJECT, volumeHandle: 'h-1-3' } });
    },
    steps: [{ what: 'VolumeAttachment created', want: (o, w) => hasVA(va(w, 'h-1-3', NO_OBJECT), { driver: NO_OBJECT, pv: `${w.ns}-p1-pv`, node: w.node })(o) }],
  },
  {
    name: '1-4 inline CSI volume: not attachable',
    setup: async (w) => {
      await createPod(w, 'inline', [{ name: 'i', csi: { driver: D, volumeAttributes: { size: '1Mi' } } }]);
      await createPodWithPV(w, 'sentinel', { csi: { driver: D, volumeHandle: 'h-1-4-s' } });
    },
    steps: [
      {
        what: 'only the sentinel has a VolumeAttachment on the node',
        want: (o, w) => {
          const onNode = [...o.vas.values()].filter((v) => v.spec.nodeName === w.node).map((v) => v.metadata.name);
          return JSON.stringify(onNode) === JSON.stringify([va(w, 'h-1-4-s', D)]) ? '' : `attachments on the node: ${JSON.stringify(onNode)}`;
        },
      },
    ],
  },
  {
    name: '2-1 pod deleted while the node reports the volume in use: kept until volumesInUse drops it, then detached',
    setup: async (w) => {
      await createPodWithPV(w, 'p1', { csi: { driver: D, volumeHandle: 'h-2-1' } });
      await createPodWithPV(w, 'sentinel', { csi: { driver: D, volumeHandle: 'h-2-1-s' } });
    },
    steps: [
      {
        what: 'both attached, the node mounts p1',
        act: async (w) => {
          await waitForState('both VolumeAttachments', () => observe(w), (o) => all(hasVA(va(w, 'h-2-1', D), { driver: D, pv: `${w.ns}-p1-pv`, node: w.node }), hasVA(va(w, 'h-2-1-s', D), { driver: D, pv: `${w.ns}-sentinel-pv`, node: w.node }))(o, w));
          await setAttachmentStatus(w, va(w, 'h-2-1', D), { attached: true });
          await setAttachmentStatus(w, va(w, 'h-2-1-s', D), { attached: true });
          await setVolumesInUse(w, [volName(D, 'h-2-1')]);
        },
        want: volumesAttached([volName(D, 'h-2-1'), volName(D, 'h-2-1-s')]),
      },
      {
        what: 'both pods deleted: the unmounted sentinel is detached, the mounted volume stays',
        act: async (w) => {
          await deletePod(w, 'p1');
          await deletePod(w, 'sentinel');
        },
        want: (o, w) => all(noVA(va(w, 'h-2-1-s', D)), hasVA(va(w, 'h-2-1', D), { driver: D, pv: `${w.ns}-p1-pv`, node: w.node }), volumesAttached([volName(D, 'h-2-1')]))(o, w),
      },
      {
        what: 'the node unmounts it: detached, volumesAttached emptied',
        act: (w) => setVolumesInUse(w, []),
        want: (o, w) => all(noVA(va(w, 'h-2-1', D)), volumesAttached([]))(o, w),
      },
    ],
  },
  {
    name: '2-2 pod terminated (Succeeded): its volume is detached',
    setup: async (w) => {
      await createPodWithPV(w, 'p1', { csi: { driver: D, volumeHandle: 'h-2-2' } });
    },
    steps: [
      {
        what: 'attached',
        act: async (w) => {
          await waitForState('VolumeAttachment', () => observe(w), (o) => noVA(va(w, 'h-2-2', D))(o) === '' ? 'not yet' : '');
          await setAttachmentStatus(w, va(w, 'h-2-2', D), { attached: true });
        },
        want: volumesAttached([volName(D, 'h-2-2')]),
      },
      {
        what: 'pod Succeeded: detached',
        act: (w) => setPodPhase(w, 'p1', 'Succeeded'),
        want: (o, w) => all(noVA(va(w, 'h-2-2', D)), volumesAttached([]))(o, w),
      },
    ],
  },
  {
    name: '3-1 attachError: FailedAttachVolume with the attacher\'s message, then success once attached',
    setup: async (w) => {
      await createPodWithPV(w, 'p1', { csi: { driver: D, volumeHandle: 'h-3-1' } });
    },
    steps: [
      {
        what: 'FailedAttachVolume on the pod, nothing reported',
        act: async (w) => {
          await waitForState('VolumeAttachment', () => observe(w), (o) => noVA(va(w, 'h-3-1', D))(o) === '' ? 'not yet' : '');
          await setAttachmentStatus(w, va(w, 'h-3-1', D), { attached: false, attachError: { message: 'rpc error: code = Internal desc = disk on fire', time: new Date().toISOString() } });
        },
        want: (o, w) =>
          all(
            eventOn('p1', 'Warning', 'FailedAttachVolume', `AttachVolume.Attach failed for volume "${w.ns}-p1-pv" : rpc error: code = Internal desc = disk on fire`),
            volumesAttached([]),
          )(o, w),
      },
      {
        what: 'the attacher succeeds on retry: reported and SuccessfulAttachVolume',
        act: (w) => setAttachmentStatus(w, va(w, 'h-3-1', D), { attached: true, attachError: null }),
        want: (o, w) =>
          all(volumesAttached([volName(D, 'h-3-1')]), eventOn('p1', 'Normal', 'SuccessfulAttachVolume', `AttachVolume.Attach succeeded for volume "${w.ns}-p1-pv"`))(o, w),
      },
    ],
  },
  {
    name: '4-1 controller restart: actual state rebuilt, nothing re-created, detached or rewritten',
    setup: async (w) => {
      await createPodWithPV(w, 'p1', { csi: { driver: D, volumeHandle: 'h-4-1' } });
    },
    steps: [
      {
        what: 'attached and reported before the restart',
        act: async (w) => {
          await waitForState('VolumeAttachment', () => observe(w), (o) => noVA(va(w, 'h-4-1', D))(o) === '' ? 'not yet' : '');
          await setAttachmentStatus(w, va(w, 'h-4-1', D), { attached: true });
        },
        want: (o, w) => all(volumesAttached([volName(D, 'h-4-1')]), eventOn('p1', 'Normal', 'SuccessfulAttachVolume', `AttachVolume.Attach succeeded for volume "${w.ns}-p1-pv"`))(o, w),
      },
      {
        what: 'restarted; a sentinel pod proves the new controller reconciles',
        act: async (w) => {
          const o = await observe(w);
          w.memo.set('vaUid', o.vas.get(va(w, 'h-4-1', D))?.metadata.uid ?? '');
          w.memo.set('vaRv', o.vas.get(va(w, 'h-4-1', D))?.metadata.resourceVersion ?? '');
          w.memo.set('nodeRv', o.node.metadata.resourceVersion ?? '');
          await w.controller.stop();
          w.controller = startController(w.env);
          await createPodWithPV(w, 'sentinel', { csi: { driver: D, volumeHandle: 'h-4-1-s' } });
        },
        want: (o, w) => {
          const v = o.vas.get(va(w, 'h-4-1', D));
          return all(
            hasVA(va(w, 'h-4-1-s', D), { driver: D, pv: `${w.ns}-sentinel-pv`, node: w.node }),
            () => (v === undefined ? 'the attached volume was detached' : ''),
            () => (v !== undefined && v.metadata.uid !== w.memo.get('vaUid') ? 'the VolumeAttachment was re-created' : ''),
            () => (v !== undefined && v.metadata.resourceVersion !== w.memo.get('vaRv') ? 'the VolumeAttachment was written' : ''),
            volumesAttached([volName(D, 'h-4-1')]),
            () => (o.node.metadata.resourceVersion !== w.memo.get('nodeRv') ? 'the node status was rewritten' : ''),
            // Still one success event: the rebuild tells nobody anything.
            eventOn('p1', 'Normal', 'SuccessfulAttachVolume', `AttachVolume.Attach succeeded for volume "${w.ns}-p1-pv"`),
          )(o, w);
        },
      },
      {
        what: 'the rebuilt controller still detaches when the pod goes',
        act: async (w) => {
          await setVolumesInUse(w, []);
          await deletePod(w, 'p1');
        },
        want: (o, w) => all(noVA(va(w, 'h-4-1', D)), volumesAttached([]))(o, w),
      },
    ],
  },
  {
    name: '5-1 ReadWriteOnce volume still attached to another node: Multi-Attach error, attached there once detached here',
    setup: async (w) => {
      await createPodWithPV(w, 'p1', { csi: { driver: D, volumeHandle: 'h-5-1' } });
      await createNode(w, `${w.node}-b`);
    },
    steps: [
      {
        what: 'attached to the first node',
        act: async (w) => {
          await waitForState('VolumeAttachment', () => observe(w), (o) => noVA(va(w, 'h-5-1', D))(o) === '' ? 'not yet' : '');
          await setAttachmentStatus(w, va(w, 'h-5-1', D), { attached: true });
        },
        want: volumesAttached([volName(D, 'h-5-1')]),
      },
      {
        what: 'a second pod on node b: Multi-Attach error naming p1, no attachment there',
        act: (w) => createPod(w, 'p2', [{ name: 'data', persistentVolumeClaim: { claimName: 'p1-claim' } }], `${w.node}-b`),
        want: (o, w) =>
          all(
            eventOn('p2', 'Warning', 'FailedAttachVolume', `Multi-Attach error for volume "${w.ns}-p1-pv" Volume is already used by pod(s) p1`),
            noVA(attachmentName('h-5-1', D, `${w.node}-b`)),
          )(o, w),
      },
      {
        what: 'p1 gone and detached: attached to node b',
        act: async (w) => {
          await setVolumesInUse(w, []);
          await deletePod(w, 'p1');
        },
        want: (o, w) =>
          all(noVA(va(w, 'h-5-1', D)), hasVA(attachmentName('h-5-1', D, `${w.node}-b`), { driver: D, pv: `${w.ns}-p1-pv`, node: `${w.node}-b` }))(o, w),
      },
    ],
  },
];

// ---------------------------------------------------------------------------

describe('attach/detach controller', () => {
  let env: ControllerEnv;
  before(async () => {
    env = await startControllerEnv();
    const w = { client: env.client } as World;
    await createDriver(w, D, true);
    await createDriver(w, NO_ATTACH, false);
  });
  after(async () => {
    await env?.close();
  });

  let n = 0;
  for (const row of rows) {
    it(row.name, async () => {
      n++;
      const w: World = { env, client: env.client, ns: `ad-${n}`, node: `node-${n}`, controller: startController(env), memo: new Map() };
      try {
        await env.createNamespace(w.ns);
        await createNode(w);
        await row.setup(w);
        for (const step of row.steps) {
          await step.act?.(w);
          await waitForState(`${row.name}: ${step.what}`, () => observe(w), (o) => step.want(o, w) ?? '', { timeoutMs: 15_000, intervalMs: 50 });
        }
      } finally {
        await w.controller.stop();
      }
    });
  }

  it('0-1 attachment names are upstream\'s: csi- + hex sha256(handle + driver + node)', () => {
    // printf 'vol-1drvnode-a' | sha256sum
    assert.equal(attachmentName('vol-1', 'drv', 'node-a'), 'csi-5ed64a17a5478ee39a9251186aa170c5a44e4bc43057644aea88bba0f36cd411');
    assert.match(attachmentName('h', 'd', 'n'), /^csi-[0-9a-f]{64}$/);
    assert.equal(csiVolumeName('drv', 'vol-1'), 'kubernetes.io/csi/drv^vol-1');
  });
});
