// The node lifecycle controller against a real API server and a real kubelet
// (with the kubelet's in-memory runtime and volume manager stand-ins).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourcePath, resources } from '../../client/index.ts';
import { startKubelet, type Kubelet } from '../../kubelet/index.ts';
import { FakeRuntime, FakeVolumeManager } from '../../kubelet/test-fakes.ts';
import { startControllerEnv, waitForState } from '../../testing/index.ts';
import { markConditionsUnknown, reconcileNoScheduleTaints, startNodeLifecycleController, TAINT_NODE_UNREACHABLE } from './index.ts';
import type { Node } from './node-lifecycle-controller.ts';

const NOW = new Date('2025-01-01T00:00:00Z');

function node(ready: 'True' | 'False' | 'Unknown' | undefined, taints: { key: string; effect: 'NoSchedule' | 'NoExecute' }[] = []): Node {
  return {
    metadata: { name: 'n' },
    spec: { taints },
    status: { conditions: ready === undefined ? [] : [{ type: 'Ready', status: ready, lastTransitionTime: '2024-01-01T00:00:00Z' }] },
  };
}

test('reconcileNoScheduleTaints', async (t) => {
  const rows: { name: string; node: Node; want: string[] | undefined }[] = [
    { name: '1 Ready=True without taints: nothing to do', node: node('True'), want: undefined },
    { name: '2 Ready=Unknown: unreachable', node: node('Unknown'), want: ['node.kubernetes.io/unreachable:NoSchedule'] },
    { name: '3 Ready=False: not-ready', node: node('False'), want: ['node.kubernetes.io/not-ready:NoSchedule'] },
    { name: '4 Ready=True again: our taint goes, others stay', node: node('True', [{ key: TAINT_NODE_UNREACHABLE, effect: 'NoSchedule' }, { key: 'dedicated', effect: 'NoExecute' }]), want: ['dedicated:NoExecute'] },
    { name: '5 already right: nothing to do', node: node('Unknown', [{ key: TAINT_NODE_UNREACHABLE, effect: 'NoSchedule' }]), want: undefined },
    { name: '6 no Ready condition yet: no taint', node: node(undefined), want: undefined },
  ];
  for (const r of rows) {
    await t.test(r.name, () => {
      assert.deepEqual(reconcileNoScheduleTaints(r.node, NOW)?.map((x) => `${x.key}:${x.effect}`), r.want);
    });
  }
});

test('markConditionsUnknown keeps heartbeats, moves transitions, adds missing conditions', () => {
  const n = node('True');
  n.status!.conditions![0].lastHeartbeatTime = '2024-06-01T00:00:00Z';
  const got = markConditionsUnknown(n, NOW)!;
  const ready = got.find((c) => c.type === 'Ready')!;
  assert.deepEqual(ready, {
    type: 'Ready',
    status: 'Unknown',
    reason: 'NodeStatusUnknown',
    message: 'Kubelet stopped posting node status.',
    lastHeartbeatTime: '2024-06-01T00:00:00Z',
    lastTransitionTime: '2025-01-01T00:00:00Z',
  });
  assert.deepEqual(got.map((c) => c.type).sort(), ['DiskPressure', 'MemoryPressure', 'PIDPressure', 'Ready']);
  assert.equal(markConditionsUnknown({ ...n, status: { conditions: got } }, NOW), undefined);
});

test('a node whose lease is not renewed becomes Unknown and unreachable; renewing brings it back', async (t) => {
  const env = await startControllerEnv((ctx, signal) => startNodeLifecycleController(ctx, signal, { gracePeriodMs: 1500, monitorPeriodMs: 200 }));
  const runtime = new FakeRuntime();
  const start = (): Promise<Kubelet> =>
    startKubelet({
      client: env.client,
      nodeName: 'n1',
      root: `${env.cluster.dataDir}/node`,
      runtime,
      volumeManager: new FakeVolumeManager(),
      logger: env.logger,
      recorder: env.recorder,
      timing: { nodeStatusUpdateFrequencyMs: 200, leaseRenewIntervalMs: 200 },
    });
  let kubelet = await start();
  t.after(async () => {
    await kubelet.stop();
    await env.close();
  });
  const path = resourcePath(resources.nodes, undefined, 'n1');
  const observe = (): Promise<Node> => env.client.get<Node>(path);
  const ready = (n: Node) => n.status?.conditions?.find((c) => c.type === 'Ready');
  const unreachable = (n: Node): boolean => (n.spec?.taints ?? []).some((x) => x.key === TAINT_NODE_UNREACHABLE && x.effect === 'NoSchedule');

  await t.test('1 a renewing kubelet stays Ready, untainted', async () => {
    await new Promise((r) => setTimeout(r, 2000));
    const n = await observe();
    assert.equal(ready(n)?.status, 'True');
    assert.equal(unreachable(n), false);
  });

  await t.test('2 the kubelet stops: Ready=Unknown with NodeStatusUnknown and the unreachable taint', async () => {
    await kubelet.stop();
    const n = await waitForState('unknown', observe, (n) => (ready(n)?.status === 'Unknown' && unreachable(n) ? undefined : `Ready=${ready(n)?.status} tainted=${unreachable(n)}`), { timeoutMs: 8000 });
    assert.equal(ready(n)?.reason, 'NodeStatusUnknown');
    assert.equal(ready(n)?.message, 'Kubelet stopped posting node status.');
    assert.deepEqual(n.status?.conditions?.map((c) => c.status), ['Unknown', 'Unknown', 'Unknown', 'Unknown']);
  });

  await t.test('3 the kubelet comes back: Ready=True and the taint removed', async () => {
    kubelet = await start();
    await waitForState('ready again', observe, (n) => (ready(n)?.status === 'True' && !unreachable(n) ? undefined : `Ready=${ready(n)?.status} tainted=${unreachable(n)}`), { timeoutMs: 8000 });
  });
});
