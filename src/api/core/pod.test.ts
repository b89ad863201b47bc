import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { newInvalid } from '../../apimachinery/index.ts';
import { computePodQOS, imageTag, podDef } from './pod.ts';

const NOW = new Date('2024-05-01T12:00:00Z');
const CREATED = '2024-05-01T09:00:00Z';

function pod(spec: Record<string, unknown>, status?: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject {
  const obj: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', creationTimestamp: CREATED, ...meta },
    spec: structuredClone(spec),
  };
  if (status !== undefined) obj.status = structuredClone(status);
  return obj;
}

const oneContainer = { containers: [{ name: 'app', image: 'nginx:1.25' }] };

function running(name: string, ready = true, restartCount = 0, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, ready, restartCount, state: { running: { startedAt: CREATED } }, ...extra };
}

/** The message kubectl would print for the validation errors of `obj`. */
function invalidMessage(obj: KubeObject, old?: KubeObject): string | undefined {
  const errs = podDef.validate?.(obj, old) ?? [];
  return errs.length === 0 ? undefined : newInvalid({ group: '', kind: 'Pod' }, 'p', errs).message;
}

function defaulted(spec: Record<string, unknown>): KubeObject {
  const p = pod(spec);
  podDef.defaults?.(p);
  return p;
}

describe('pod table row (printers.go printPod)', () => {
  const rows: { name: string; spec?: Record<string, unknown>; status: Record<string, unknown>; meta?: Record<string, unknown>; ready: string; status_: string; restarts: string }[] = [
    { name: '1-1 pending without statuses', status: { phase: 'Pending' }, ready: '0/1', status_: 'Pending', restarts: '0' },
    {
      name: '1-2 creating container',
      status: { phase: 'Pending', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] },
      ready: '0/1',
      status_: 'ContainerCreating',
      restarts: '0',
    },
    { name: '1-3 running and ready', status: { phase: 'Running', containerStatuses: [running('app')] }, ready: '1/1', status_: 'Running', restarts: '0' },
    {
      name: '1-4 crash loop with last termination time',
      status: {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'app',
            ready: false,
            restartCount: 3,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 1, finishedAt: '2024-05-01T11:55:00Z' } },
          },
        ],
      },
      ready: '0/1',
      status_: 'CrashLoopBackOff',
      restarts: '3 (5m ago)',
    },
    {
      name: '1-5 terminating while running',
      status: { phase: 'Running', containerStatuses: [running('app')] },
      meta: { deletionTimestamp: '2024-05-01T11:59:00Z' },
      ready: '1/1',
      status_: 'Terminating',
      restarts: '0',
    },
    {
      name: '1-6 node lost while deleting',
      status: { phase: 'Running', reason: 'NodeLost' },
      meta: { deletionTimestamp: '2024-05-01T11:59:00Z' },
      ready: '0/1',
      status_: 'Unknown',
      restarts: '0',
    },
    {
      name: '1-7 succeeded pod being deleted keeps Completed',
      status: { phase: 'Succeeded', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] },
      meta: { deletionTimestamp: '2024-05-01T11:59:00Z' },
      ready: '0/1',
      status_: 'Completed',
      restarts: '0',
    },
    {
      name: '1-8 terminated without reason shows the exit code',
      status: { phase: 'Failed', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 137 } } }] },
      ready: '0/1',
      status_: 'ExitCode:137',
      restarts: '0',
    },
    {
      name: '1-9 waiting init container',
      spec: { initContainers: [{ name: 'init', image: 'busybox' }], containers: [{ name: 'app', image: 'nginx:1.25' }] },
      status: {
        phase: 'Pending',
        initContainerStatuses: [{ name: 'init', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }],
      },
      ready: '0/1',
      status_: 'Init:0/1',
      restarts: '0',
    },
    {
      name: '1-10 failed init container',
      spec: { initContainers: [{ name: 'init', image: 'busybox' }], containers: [{ name: 'app', image: 'nginx:1.25' }] },
      status: {
        phase: 'Pending',
        initContainerStatuses: [{ name: 'init', ready: false, restartCount: 2, state: { terminated: { exitCode: 1, reason: 'Error' } } }],
      },
      ready: '0/1',
      status_: 'Init:Error',
      restarts: '2',
    },
    {
      name: '1-11 sidecar counts toward READY',
      spec: {
        initContainers: [{ name: 'sidecar', image: 'envoy', restartPolicy: 'Always' }],
        containers: [{ name: 'app', image: 'nginx:1.25' }],
      },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Initialized', status: 'True' }],
        initContainerStatuses: [{ ...running('sidecar'), started: true }],
        containerStatuses: [running('app')],
      },
      ready: '2/2',
      status_: 'Running',
      restarts: '0',
    },
    {
      name: '1-12 scheduling gated',
      status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] },
      ready: '0/1',
      status_: 'SchedulingGated',
      restarts: '0',
    },
    {
      name: '1-13 one container completed, one running and ready',
      spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }, running('b')],
      },
      ready: '1/2',
      status_: 'Running',
      restarts: '0',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const cells = podDef.table.row(pod(row.spec ?? oneContainer, row.status, row.meta ?? {}), NOW);
      assert.equal(cells.length, podDef.table.columns.length);
      assert.deepEqual(cells.slice(0, 5), ['p', row.ready, row.status_, row.restarts, '3h']);
    });
  }

  it('fills the wide cells with <none> placeholders and the first pod IP', () => {
    const bare = podDef.table.row(pod(oneContainer, { phase: 'Pending' }), NOW);
    assert.deepEqual(bare.slice(5), ['<none>', '<none>', '<none>', '<none>']);
    const placed = podDef.table.row(
      pod(
        { ...oneContainer, nodeName: 'node-1', readinessGates: [{ conditionType: 'a' }, { conditionType: 'b' }] },
        { phase: 'Running', podIPs: [{ ip: '10.0.0.5' }, { ip: 'fd00::5' }], nominatedNodeName: 'node-2', conditions: [{ type: 'a', status: 'True' }] },
      ),
      NOW,
    );
    assert.deepEqual(placed.slice(5), ['10.0.0.5', 'node-1', 'node-2', '1/2']);
  });

  it('has the nine columns of a 1.32 apiserver, four of them wide', () => {
    assert.deepEqual(
      podDef.table.columns.map((c) => [c.name, c.priority]),
      [['Name', 0], ['Ready', 0], ['Status', 0], ['Restarts', 0], ['Age', 0], ['IP', 1], ['Node', 1], ['Nominated Node', 1], ['Readiness Gates', 1]],
    );
  });
});

describe('pod defaults', () => {
  it('fills the pod-level defaults of core/v1 and admission', () => {
    const spec = defaulted(oneContainer).spec as Record<string, unknown>;
    assert.equal(spec.restartPolicy, 'Always');
    assert.equal(spec.dnsPolicy, 'ClusterFirst');
    assert.equal(spec.schedulerName, 'default-scheduler');
    assert.equal(spec.terminationGracePeriodSeconds, 30);
    assert.equal(spec.enableServiceLinks, true);
    assert.deepEqual(spec.securityContext, {});
    assert.equal(spec.serviceAccountName, 'default');
  });

  it('keeps values the user set, including zero grace period', () => {
    const spec = defaulted({ ...oneContainer, restartPolicy: 'Never', terminationGracePeriodSeconds: 0, enableServiceLinks: false }).spec as Record<string, unknown>;
    assert.equal(spec.restartPolicy, 'Never');
    assert.equal(spec.terminationGracePeriodSeconds, 0);
    assert.equal(spec.enableServiceLinks, false);
  });

  const pullRows: [string, string][] = [
    ['nginx', 'Always'],
    ['nginx:latest', 'Always'],
    ['nginx:1.25', 'IfNotPresent'],
    ['registry:5000/team/nginx', 'Always'],
    ['registry:5000/team/nginx:v2', 'IfNotPresent'],
    ['nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'IfNotPresent'],
  ];
  for (const [image, policy] of pullRows) {
    it(`image ${image} gets imagePullPolicy ${policy}`, () => {
      const spec = defaulted({ containers: [{ name: 'c', image }] }).spec as { containers: Record<string, unknown>[] };
      assert.equal(spec.containers[0].imagePullPolicy, policy);
      assert.equal(spec.containers[0].terminationMessagePath, '/dev/termination-log');
      assert.equal(spec.containers[0].terminationMessagePolicy, 'File');
      assert.deepEqual(spec.containers[0].resources, {});
    });
  }

  it('parses tags after the last path element only', () => {
    assert.equal(imageTag('localhost:5000/app'), 'latest');
    assert.equal(imageTag('app:1.0'), '1.0');
  });

  it('defaults volumes: sources, modes and hostPath type', () => {
    const spec = defaulted({
      containers: [{ name: 'c', image: 'x:1' }],
      volumes: [
        { name: 'scratch' },
        { name: 'cfg', configMap: { name: 'cm' } },
        { name: 'sec', secret: { secretName: 's', defaultMode: 256 } },
        { name: 'host', hostPath: { path: '/data' } },
        { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '1024Mi' } },
        { name: 'eph', ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1024Mi' } } } } } },
      ],
    }).spec as { volumes: Record<string, Record<string, unknown>>[] };
    assert.deepEqual(spec.volumes[0].emptyDir, {});
    assert.equal(spec.volumes[1].configMap.defaultMode, 420);
    assert.equal(spec.volumes[2].secret.defaultMode, 256);
    assert.equal(spec.volumes[3].hostPath.type, '');
    assert.deepEqual(spec.volumes[4].emptyDir, { medium: 'Memory', sizeLimit: '1Gi' });
    const claim = (spec.volumes[5].ephemeral.volumeClaimTemplate as { spec: Record<string, unknown> }).spec;
    assert.equal(claim.volumeMode, 'Filesystem');
    assert.deepEqual(claim.resources, { requests: { storage: '1Gi' } });
  });

  it('copies limits into missing requests and canonicalises quantities', () => {
    const spec = defaulted({
      containers: [{ name: 'c', image: 'x:1', resources: { limits: { cpu: '500m', memory: '1024Mi' }, requests: { cpu: '0.1' } } }],
    }).spec as { containers: { resources: Record<string, unknown> }[] };
    assert.deepEqual(spec.containers[0].resources, { limits: { cpu: '500m', memory: '1Gi' }, requests: { cpu: '100m', memory: '1Gi' } });
  });
});

describe('pod status on create', () => {
  const qosRows: [string, Record<string, unknown> | undefined, string][] = [
    ['no resources → BestEffort', undefined, 'BestEffort'],
    ['requests only → Burstable', { requests: { cpu: '100m' } }, 'Burstable'],
    ['cpu and memory limits (requests defaulted) → Guaranteed', { limits: { cpu: '1', memory: '1Gi' } }, 'Guaranteed'],
    ['limits equal to requests in another notation → Guaranteed', { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1000m', memory: '1024Mi' } }, 'Guaranteed'],
    ['memory limit only → Burstable', { limits: { memory: '1Gi' } }, 'Burstable'],
    ['zero requests do not count → BestEffort', { requests: { cpu: '0' } }, 'BestEffort'],
  ];
  for (const [name, resources, qos] of qosRows) {
    it(name, () => {
      const p = pod({ containers: [{ name: 'c', image: 'x:1', ...(resources ? { resources } : {}) }] }, { phase: 'Running', podIP: '1.2.3.4' });
      podDef.defaults?.(p);
      podDef.prepareForCreate?.(p);
      assert.deepEqual(p.status, { phase: 'Pending', qosClass: qos });
      assert.equal(computePodQOS(p), qos);
    });
  }

  it('a gated pod is created with the SchedulingGated condition', () => {
    const p = pod({ ...oneContainer, schedulingGates: [{ name: 'wait' }] });
    podDef.prepareForCreate?.(p);
    const conditions = (p.status as { conditions: { reason: string }[] }).conditions;
    assert.equal(conditions[0].reason, 'SchedulingGated');
    assert.equal(podDef.table.row(p, NOW)[2], 'SchedulingGated');
  });

  it('a main-resource update keeps the stored status', () => {
    const old = pod(oneContainer, { phase: 'Running' });
    const next = pod(oneContainer, { phase: 'Failed' });
    podDef.prepareForUpdate?.(next, old);
    assert.deepEqual(next.status, { phase: 'Running' });
  });
});

describe('pod validation messages', () => {
  const rows: { name: string; spec: Record<string, unknown>; want: string | undefined }[] = [
    { name: '2-1 a valid pod', spec: oneContainer, want: undefined },
    { name: '2-2 no containers', spec: { containers: [] }, want: 'Pod "p" is invalid: spec.containers: Required value' },
    {
      name: '2-3 container without image',
      spec: { containers: [{ name: 'app' }] },
      want: 'Pod "p" is invalid: spec.containers[0].image: Required value',
    },
    {
      name: '2-4 duplicate container names',
      spec: { containers: [{ name: 'app', image: 'x' }, { name: 'app', image: 'y' }] },
      want: 'Pod "p" is invalid: spec.containers[1].name: Duplicate value: "app"',
    },
    {
      name: '2-5 mount of a missing volume',
      spec: { containers: [{ name: 'app', image: 'x', volumeMounts: [{ name: 'data', mountPath: '/data' }] }] },
      want: 'Pod "p" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "data"',
    },
    {
      name: '2-6 duplicate volume names',
      spec: { ...oneContainer, volumes: [{ name: 'v', emptyDir: {} }, { name: 'v', emptyDir: {} }] },
      want: 'Pod "p" is invalid: spec.volumes[1].name: Duplicate value: "v"',
    },
    {
      name: '2-7 PVC volume without a claim name',
      spec: { ...oneContainer, volumes: [{ name: 'v', persistentVolumeClaim: {} }] },
      want: 'Pod "p" is invalid: spec.volumes[0].persistentVolumeClaim.claimName: Required value',
    },
    {
      name: '2-8 two sources in one volume',
      spec: { ...oneContainer, volumes: [{ name: 'v', hostPath: { path: '/x' }, emptyDir: {} }] },
      want: 'Pod "p" is invalid: spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type',
    },
    {
      name: '2-9 block device from a non-PVC volume',
      spec: { containers: [{ name: 'app', image: 'x', volumeDevices: [{ name: 'v', devicePath: '/dev/xvda' }] }], volumes: [{ name: 'v', emptyDir: {} }] },
      want: 'Pod "p" is invalid: spec.containers[0].volumeDevices[0].name: Invalid value: "v": can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode',
    },
    {
      name: '2-10 unsupported restart policy',
      spec: { ...oneContainer, restartPolicy: 'Sometimes' },
      want: 'Pod "p" is invalid: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    },
    {
      name: '2-11 several errors are bracketed',
      spec: { containers: [{ name: 'Bad_Name' }] },
      want:
        'Pod "p" is invalid: [spec.containers[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\', and must start and end with an alphanumeric character (e.g. \'my-name\',  or \'123-abc\', regex used for validation is \'[a-z0-9]([-a-z0-9]*[a-z0-9])?\'), spec.containers[0].image: Required value]',
    },
    {
      name: '2-12 request above limit',
      spec: { containers: [{ name: 'app', image: 'x', resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }] },
      want: 'Pod "p" is invalid: spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(invalidMessage(defaulted(row.spec)), row.want);
    });
  }
});

describe('pod updates (ValidatePodUpdate)', () => {
  function update(change: (spec: Record<string, unknown>) => void): string | undefined {
    const old = defaulted({ ...oneContainer, tolerations: [{ key: 'a', operator: 'Exists', effect: 'NoSchedule' }] });
    old.metadata.resourceVersion = '5';
    const next = structuredClone(old);
    change(next.spec as Record<string, unknown>);
    return invalidMessage(next, old);
  }
  const spec = (s: Record<string, unknown>): { containers: Record<string, unknown>[]; tolerations: unknown[] } =>
    s as { containers: Record<string, unknown>[]; tolerations: unknown[] };

  it('3-1 an image change is allowed', () => {
    assert.equal(update((s) => (spec(s).containers[0].image = 'nginx:1.26')), undefined);
  });
  it('3-2 adding a toleration is allowed', () => {
    assert.equal(update((s) => spec(s).tolerations.push({ key: 'b', operator: 'Exists' })), undefined);
  });
  it('3-3 setting activeDeadlineSeconds is allowed', () => {
    assert.equal(update((s) => (s.activeDeadlineSeconds = 60)), undefined);
  });
  it('3-4 changing the restart policy is forbidden with the upstream message', () => {
    const msg = update((s) => (s.restartPolicy = 'Never'));
    assert.ok(
      msg?.startsWith(
        'Pod "p" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n',
      ),
      msg,
    );
    assert.match(msg ?? '', /spec\.restartPolicy/);
  });
  it('3-5 removing a toleration is forbidden', () => {
    assert.equal(
      update((s) => (spec(s).tolerations = [])),
      'Pod "p" is invalid: spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds',
    );
  });
  it('3-6 adding a container is forbidden', () => {
    assert.equal(
      update((s) => spec(s).containers.push({ name: 'two', image: 'x:1' })),
      'Pod "p" is invalid: spec.containers: Forbidden: pod updates may not add or remove containers',
    );
  });
});

describe('pod field selectors', () => {
  it('are the custom family with the spec.host alias', () => {
    const fs = podDef.fieldSelector;
    assert.equal(fs.family, 'custom');
    assert.equal(fs.aliases?.['spec.host'], 'spec.nodeName');
    const p = defaulted({ ...oneContainer, nodeName: 'n1' });
    p.status = { phase: 'Running', podIP: '10.1.1.1' };
    const get = (f: string): string | undefined => fs.fields?.[f]?.(p);
    assert.equal(get('spec.nodeName'), 'n1');
    assert.equal(get('spec.hostNetwork'), 'false');
    assert.equal(get('spec.restartPolicy'), 'Always');
    assert.equal(get('status.phase'), 'Running');
    assert.equal(get('status.podIP'), '10.1.1.1');
    assert.equal(get('metadata.namespace'), 'default');
    assert.equal(get('spec.foo'), undefined);
  });
});
