// The namespace controller against a real in-process volplane. Each row
// fills a namespace, deletes it, and walks through steps: an optional action,
// then the state the namespace and its content must reach.

import { after, before, describe, it } from 'node:test';
import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import { ApiError, resourcePath, resources, type RestClient, type ResourceRef } from '../../client/index.ts';
import { startControllerEnv, waitForState, type ControllerEnv } from '../../testing/index.ts';
import { startNamespaceController } from './index.ts';

interface Content {
  ref: ResourceRef;
  name: string;
  body: Record<string, unknown>;
  finalizers?: string[];
}

const cm = (name: string, finalizers?: string[]): Content => ({ ref: resources.configMaps, name, body: { data: { k: 'v' } }, finalizers });
const secret = (name: string): Content => ({ ref: resources.secrets, name, body: { stringData: { k: 'v' } } });
const pod = (name: string): Content => ({ ref: resources.pods, name, body: { spec: { containers: [{ name: 'c', image: 'busybox' }] } } });
const pvc = (name: string): Content => ({
  ref: resources.persistentVolumeClaims,
  name,
  body: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
});

interface Namespace extends KubeObject {
  spec?: { finalizers?: string[] };
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

interface Check {
  /** undefined: the namespace must be gone. */
  namespace?: (ns: Namespace) => string | undefined;
  /** Objects still in the namespace, as `resource/name`, sorted. */
  left?: string[];
  /** An Event about the namespace with this reason whose message contains `message`. */
  event?: { reason: string; message: string };
}

interface Row {
  name: string;
  content: Content[];
  steps: { what: string; act?: (c: { client: RestClient; ns: string }) => Promise<void>; want: Check }[];
}

const terminating = (ns: Namespace): string | undefined => (ns.status?.phase === 'Terminating' ? undefined : `phase ${ns.status?.phase}`);

const condition = (type: string, status: string, message?: string) => (ns: Namespace): string | undefined => {
  const c = ns.status?.conditions?.find((x) => x.type === type);
  if (c === undefined) return `no ${type} condition`;
  if (c.status !== status) return `${type} is ${c.status}`;
  if (message !== undefined && c.message !== message) return `${type} message ${JSON.stringify(c.message)}`;
  return undefined;
};

const all = (...fs: ((ns: Namespace) => string | undefined)[]) => (ns: Namespace): string | undefined => {
  for (const f of fs) {
    const m = f(ns);
    if (m !== undefined) return m;
  }
  return undefined;
};

const rows: Row[] = [
  {
    name: '1 a namespace with configmaps, secrets, unscheduled pods and claims is emptied and removed',
    content: [cm('cm1'), cm('cm2'), secret('s1'), pod('p1'), pod('p2'), pvc('claim')],
    steps: [{ what: 'namespace gone and empty', want: { namespace: undefined, left: [] } }],
  },
  {
    name: '2 an object with a finalizer holds the namespace Terminating until the finalizer is removed',
    content: [cm('held', ['example.com/hold']), cm('free'), pod('p1')],
    steps: [
      {
        what: 'the rest deleted, namespace Terminating and saying what is left',
        want: {
          namespace: all(
            terminating,
            condition('NamespaceContentRemaining', 'True', 'Some resources are remaining: configmaps. has 1 resource instances'),
            condition('NamespaceFinalizersRemaining', 'True', 'Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances'),
            condition('NamespaceDeletionContentFailure', 'False'),
            (ns) => ((ns.spec?.finalizers ?? []).includes('kubernetes') ? undefined : 'kubernetes finalizer removed too early'),
          ),
          left: ['configmaps/held'],
          event: { reason: 'SomeFinalizersRemain', message: 'example.com/hold in 1 resource instances' },
        },
      },
      {
        what: 'finalizer removed: namespace gone',
        act: ({ client, ns }) => client.patch(resourcePath(resources.configMaps, ns, 'held'), { metadata: { finalizers: [] } }).then(() => undefined),
        want: { namespace: undefined, left: [] },
      },
    ],
  },
];

describe('namespace controller', () => {
  let testEnv: ControllerEnv;
  let client: RestClient;

  /** Why the rows cannot run on this server, if they cannot. */
  let unsupported: string | undefined;

  before(async () => {
    testEnv = await startControllerEnv(startNamespaceController, {
      clusterOptions: { controllers: ['pvc-protection'] },
      component: 'namespace-controller',
      beforeStart: async (env) => {
        unsupported = await probeFinalize(env.client);
      },
    });
    client = testEnv.client;
  });

  after(() => testEnv.close());

  rows.forEach((row, i) => {
    it(row.name, async (t) => {
      if (unsupported !== undefined) {
        t.skip(unsupported);
        return;
      }
      const ns = `ns-${i + 1}`;
      await testEnv.createNamespace(ns);
      for (const c of row.content) {
        await client.create(resourcePath(c.ref, ns), { metadata: { name: c.name, finalizers: c.finalizers }, ...c.body });
      }
      await client.delete(resourcePath(resources.namespaces, undefined, ns));

      const mismatch = async (want: Check): Promise<string[]> => {
        const out: string[] = [];
        let got: Namespace | undefined;
        try {
          got = await client.get<Namespace>(resourcePath(resources.namespaces, undefined, ns));
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
        if (want.namespace === undefined) {
          if (got !== undefined) out.push(`namespace still there (${JSON.stringify(got.status?.conditions?.filter((c) => c.status === 'True'))})`);
        } else if (got === undefined) {
          out.push('namespace gone');
        } else {
          const m = want.namespace(got);
          if (m !== undefined) out.push(m);
        }
        if (want.left !== undefined) {
          const left: string[] = [];
          for (const c of [resources.configMaps, resources.secrets, resources.pods, resources.persistentVolumeClaims]) {
            const list = await client.get<KubeList>(resourcePath(c, ns));
            for (const item of list.items) left.push(`${c.resource}/${item.metadata.name}`);
          }
          left.sort();
          if (JSON.stringify(left) !== JSON.stringify(want.left)) out.push(`left ${JSON.stringify(left)}`);
        }
        const wantEvent = want.event;
        if (wantEvent !== undefined) {
          const events = await client.get<KubeList<KubeObject & { reason?: string; message?: string; involvedObject?: { kind?: string; name?: string } }>>(
            resourcePath(resources.events, 'default'),
          );
          const found = events.items.some(
            (e) => e.involvedObject?.kind === 'Namespace' && e.involvedObject.name === ns && e.reason === wantEvent.reason && (e.message ?? '').includes(wantEvent.message),
          );
          if (!found) out.push(`no ${wantEvent.reason} event`);
        }
        return out;
      };

      for (const step of row.steps) {
        await step.act?.({ client, ns });
        await waitForState(step.what, () => mismatch(step.want), (problems) => problems, { timeoutMs: 15_000, intervalMs: 50 });
      }
    });
  });
});

/**
 * The controller's last step is PUT /finalize; when the server ignores the
 * new spec.finalizers there, no namespace can ever go, and the rows say so
 * instead of timing out.
 */
async function probeFinalize(client: RestClient): Promise<string | undefined> {
  const name = 'finalize-probe';
  await client.create(resourcePath(resources.namespaces), { metadata: { name } });
  await client.delete(resourcePath(resources.namespaces, undefined, name));
  const ns = await client.get<Namespace>(resourcePath(resources.namespaces, undefined, name));
  await client.update(resourcePath(resources.namespaces, undefined, name, 'finalize'), {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, resourceVersion: ns.metadata.resourceVersion },
    spec: { finalizers: [] },
  });
  try {
    const after = await client.get<Namespace>(resourcePath(resources.namespaces, undefined, name));
    return `the apiserver's PUT /finalize does not remove spec.finalizers (still ${JSON.stringify(after.spec?.finalizers)})`;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}
