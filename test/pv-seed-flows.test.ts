// End to end: the PersistentVolume flows of seed 001 §2 run against `volplane up` with every
// controller, driven and observed only through the real kubectl, the way a reader of the seed
// would type them.
//
//   §2.1–2.2  the static NFS PV `nfs-pv` (its `label:` typo fixed) and the claim that selects it;
//   §2.1      "PV 的生命周期": what each reclaim policy does once the claim is deleted;
//   §2.3.1    delayed binding: a WaitForFirstConsumer class and a local PV pinned to a node; the
//             claim waits until someone (later: the scheduler) writes the selected node;
//   §2.3.2    dynamic provisioning: the seed's StatefulSet `web` over a default class served by the
//             in-tree `volplane.io/hostpath` provisioner, with archiveOnDelete.
//
// There is no scheduler and no kubelet yet, so the tests play both parts: they set the
// selected-node annotation, and they mark pods Running/Ready through the status subresource so
// the StatefulSet controller moves on to the next ordinal.
//
// Every row gets a cluster of its own (startup is cheap): rows share names like `default/nfs-pvc`
// and §2.3.2 installs a default StorageClass that would provision for everybody else's claims.

import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../src/base/index.ts';
import { findLeaks, hasKubectl, startTestCluster, type KubectlOptions, type KubectlResult, type TestCluster } from '../src/testing/index.ts';

const kubectlAvailable = hasKubectl();
const skip = kubectlAvailable ? false : 'kubectl is not installed';

/** How long the controllers get to react to one change. Generous: the machine is shared. */
const REACT_MS = 30_000;

const seedFile = (name: string): string => fileURLToPath(new URL(`./fixtures/seed001/${name}`, import.meta.url));

// ---------------------------------------------------------------------------
// Cluster per row, torn down (and checked for leaks) after each test.

const clusters: TestCluster[] = [];
const scratch: string[] = [];

async function newCluster(): Promise<TestCluster> {
  const cluster = await startTestCluster({ controllers: true });
  clusters.push(cluster);
  return cluster;
}

async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

afterEach(async () => {
  const dirs = clusters.map((c) => c.dataDir);
  await Promise.all(clusters.splice(0).map((c) => c.close()));
  await Promise.all(scratch.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  const leaks = (await findLeaks()).filter((l) => dirs.some((d) => l.includes(d)));
  assert.deepEqual(leaks, []);
});

after(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.close()));
});

// ---------------------------------------------------------------------------
// kubectl helpers

async function kubectl(cluster: TestCluster, args: readonly string[], options?: KubectlOptions): Promise<string> {
  return (await cluster.kubectl(args, options)).stdout;
}

function apply(cluster: TestCluster, manifest: string): Promise<KubectlResult> {
  return cluster.kubectl(['apply', '-f', '-'], { input: manifest });
}

type Row = Record<string, string>;

/**
 * Parses kubectl's default table output. Columns are aligned by tabwriter, so every value starts
 * where its header starts; headers may contain one space (`ACCESS MODES`, `RECLAIM POLICY`).
 * An empty cell is ''.
 */
function parseTable(stdout: string): Row[] {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const header = lines[0]!;
  const columns: { name: string; start: number }[] = [];
  for (const m of header.matchAll(/\S+(?: \S+)*/g)) columns.push({ name: m[0], start: m.index });
  return lines.slice(1).map((line) => {
    const row: Row = {};
    columns.forEach((col, i) => {
      const end = i + 1 < columns.length ? columns[i + 1]!.start : line.length;
      row[col.name] = line.slice(col.start, end).trim();
    });
    return row;
  });
}

async function getTable(cluster: TestCluster, args: readonly string[]): Promise<Row[]> {
  return parseTable(await kubectl(cluster, ['get', ...args]));
}

async function getRow(cluster: TestCluster, kind: string, name: string, namespaced = true): Promise<Row | undefined> {
  const res = await cluster.kubectl(['get', kind, name, ...(namespaced ? ['-n', 'default'] : [])], { allowFail: true });
  if (res.code !== 0) {
    if (/NotFound|not found/.test(res.stderr)) return undefined;
    throw new Error(`kubectl get ${kind} ${name}: ${res.stderr}`);
  }
  return parseTable(res.stdout)[0];
}

/** A jsonpath field of one object, or undefined when the object does not exist. */
async function field(cluster: TestCluster, kind: string, name: string, jsonpath: string): Promise<string | undefined> {
  const res = await cluster.kubectl(['get', kind, name, '-o', `jsonpath=${jsonpath}`], { allowFail: true });
  if (res.code !== 0) {
    if (/NotFound|not found/.test(res.stderr)) return undefined;
    throw new Error(`kubectl get ${kind} ${name}: ${res.stderr}`);
  }
  return res.stdout;
}

/** Polls `kubectl get <kind> <name>` until the STATUS column reads `status`; returns the row. */
async function waitForStatus(cluster: TestCluster, kind: 'pv' | 'pvc', name: string, status: string): Promise<Row> {
  let last: Row | undefined;
  try {
    return await waitFor(
      `${kind} ${name} to be ${status}`,
      async () => {
        last = await getRow(cluster, kind, name, kind === 'pvc');
        return last?.STATUS === status ? last : undefined;
      },
      { timeoutMs: REACT_MS, intervalMs: 100 },
    );
  } catch (err) {
    throw new Error(`${kind} ${name} never became ${status}; last seen ${JSON.stringify(last)}`, { cause: err });
  }
}

async function waitForGone(cluster: TestCluster, kind: string, name: string): Promise<void> {
  await waitFor(`${kind} ${name} to be gone`, async () => (await field(cluster, kind, name, '{.metadata.name}')) === undefined, {
    timeoutMs: REACT_MS,
    intervalMs: 100,
  });
}

/** The Events section of `kubectl describe`, one parsed row per event. */
function describeEvents(describe: string): Row[] {
  const at = describe.indexOf('\nEvents:');
  if (at < 0) return [];
  const section = describe.slice(at + '\nEvents:'.length);
  if (section.trim() === '<none>') return [];
  // The section is a table indented by two spaces, with a `----` underline row.
  const lines = section.split('\n').map((l) => l.replace(/^ {2}/, '')).filter((l) => l.trim() !== '' && !/^-+(\s+-+)*\s*$/.test(l));
  return parseTable(lines.join('\n'));
}

// ---------------------------------------------------------------------------
// Manifests

const NFS_PV = `# Seed 001 §2.1, with \`label:\` fixed to \`labels:\`.
apiVersion: v1
kind: PersistentVolume
metadata:
  name: nfs-pv
  labels:
    app: nfs
spec:
  capacity:
    storage: 5Gi
  volumeMode: Filesystem
  accessModes:
    - ReadWriteOnce
  persistentVolumeReclaimPolicy: Recycle
  storageClassName: slow
  mountOptions:
    - hard
    - nfsvers=4.2
  nfs:
    path: /mnt/nfs_share
    server: 192.168.3.103
`;

const NFS_PVC = `# Seed 001 §2.2, verbatim.
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: nfs-pvc
spec:
  accessModes:
    - ReadWriteOnce
  volumeMode: Filesystem
  resources:
    requests:
      storage: 5Gi
  storageClassName: slow
  selector:
    matchLabels:
      app: nfs
`;

function hostPathPv(name: string, path: string, policy: string, className: string): string {
  return `apiVersion: v1
kind: PersistentVolume
metadata:
  name: ${name}
spec:
  capacity:
    storage: 1Gi
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: ${policy}
  storageClassName: ${className}
  hostPath:
    path: ${path}
`;
}

function claim(name: string, className: string, size = '1Gi'): string {
  return `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${name}
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: ${size}
  storageClassName: ${className}
`;
}

function hostPathClass(name: string, options: { reclaimPolicy?: string; archiveOnDelete?: boolean; isDefault?: boolean } = {}): string {
  return `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${name}
${options.isDefault === true ? `  annotations:\n    storageclass.kubernetes.io/is-default-class: "true"\n` : ''}provisioner: volplane.io/hostpath
reclaimPolicy: ${options.reclaimPolicy ?? 'Delete'}
mountOptions:
  - hard
  - nfsvers=4.2
parameters:
  archiveOnDelete: "${options.archiveOnDelete === true ? 'true' : 'false'}"
`;
}

const hostpathRoot = (cluster: TestCluster): string => join(cluster.dataDir, 'hostpath-volumes');

// ---------------------------------------------------------------------------

describe('seed 001 §2.1–2.2: the static NFS PV and the claim that selects it', { skip }, () => {
  it('2.2-1 nfs-pvc binds to nfs-pv by label selector, class, size and access mode', async () => {
    const cluster = await newCluster();
    // A decoy that fits everything but the selector: the selector must be what picks nfs-pv.
    await apply(cluster, NFS_PV);
    await apply(cluster, hostPathPv('decoy-pv', '/tmp/volplane-decoy', 'Retain', 'slow').replace('1Gi', '5Gi'));
    await apply(cluster, NFS_PVC);

    const pvc = await waitForStatus(cluster, 'pvc', 'nfs-pvc', 'Bound');
    assert.equal(pvc.NAME, 'nfs-pvc');
    assert.equal(pvc.VOLUME, 'nfs-pv');
    assert.equal(pvc.CAPACITY, '5Gi');
    assert.equal(pvc['ACCESS MODES'], 'RWO');
    assert.equal(pvc.STORAGECLASS, 'slow');

    const pv = await waitForStatus(cluster, 'pv', 'nfs-pv', 'Bound');
    assert.equal(pv.CLAIM, 'default/nfs-pvc');
    assert.equal(pv.CAPACITY, '5Gi');
    assert.equal(pv['ACCESS MODES'], 'RWO');
    assert.equal(pv['RECLAIM POLICY'], 'Recycle');
    assert.equal(pv.STORAGECLASS, 'slow');

    const decoy = await getRow(cluster, 'pv', 'decoy-pv', false);
    assert.equal(decoy?.STATUS, 'Available', 'the PV the selector does not match stays unclaimed');
    assert.equal(decoy?.CLAIM, '');

    // The whole listing, as the seed's reader would look at it.
    const pvs = await getTable(cluster, ['pv']);
    assert.deepEqual(
      pvs.map((r) => [r.NAME, r.STATUS, r.CLAIM]),
      [
        ['decoy-pv', 'Available', ''],
        ['nfs-pv', 'Bound', 'default/nfs-pvc'],
      ],
    );
  });
});

interface ReclaimRow {
  name: string;
  policy: 'Retain' | 'Delete' | 'Recycle';
  /** Creates the volume (and whatever it needs); returns the PV's name and its directory. */
  setup(cluster: TestCluster): Promise<{ pv: string; dir: string }>;
  /** What must hold once the claim is gone. */
  after(cluster: TestCluster, pv: string, dir: string): Promise<void>;
}

const reclaimRows: ReclaimRow[] = [
  {
    name: '2.1-1 Retain: the PV is Released once its claim is deleted, keeps its data and stays Released',
    policy: 'Retain',
    async setup(cluster) {
      const dir = await scratchDir('volplane-retain-');
      await writeFile(join(dir, 'index.html'), '<h1>kept</h1>');
      await apply(cluster, hostPathPv('retain-pv', dir, 'Retain', 'manual'));
      return { pv: 'retain-pv', dir };
    },
    async after(cluster, pv, dir) {
      const row = await waitForStatus(cluster, 'pv', pv, 'Released');
      assert.equal(row.CLAIM, 'default/data', 'a Released PV still names the claim it had');
      // "Stays so": a new claim that would fit must not get it, and the controller must not move it on.
      await apply(cluster, claim('data2', 'manual'));
      await waitFor('data2 to be seen Pending', async () => (await getRow(cluster, 'pvc', 'data2'))?.STATUS === 'Pending', { timeoutMs: REACT_MS });
      // Only once the controller has looked at data2 and found nothing (class `manual` names no
      // StorageClass object, so it cannot provision either) is "still Released" meaningful.
      await waitFor(
        'the controller to report that nothing fits data2',
        async () => describeEvents(await kubectl(cluster, ['describe', 'pvc', 'data2'])).some((e) => e.Reason === 'ProvisioningFailed'),
        { timeoutMs: REACT_MS, intervalMs: 200 },
      );
      assert.equal((await getRow(cluster, 'pv', pv, false))?.STATUS, 'Released');
      assert.equal((await getRow(cluster, 'pvc', 'data2'))?.STATUS, 'Pending');
      assert.equal(await readFile(join(dir, 'index.html'), 'utf8'), '<h1>kept</h1>', 'Retain keeps the data');
    },
  },
  {
    name: '2.1-2 Delete: the provisioned PV and its directory are removed once its claim is deleted',
    policy: 'Delete',
    async setup(cluster) {
      await apply(cluster, hostPathClass('manual', { reclaimPolicy: 'Delete' }));
      return { pv: '', dir: '' }; // provisioned: known once the claim is bound
    },
    async after(cluster, pv, dir) {
      await waitForGone(cluster, 'pv', pv);
      await waitFor(`${dir} to be removed`, () => !existsSync(dir), { timeoutMs: REACT_MS });
      const left = (await readdir(hostpathRoot(cluster))).filter((e) => e !== '.volplane');
      assert.deepEqual(left, [], 'no directory and no archive is left under hostpath-volumes');
      assert.deepEqual(await readdir(join(hostpathRoot(cluster), '.volplane')), [], "the provisioner's record of the volume is gone too");
    },
  },
  {
    name: '2.1-3 Recycle: the hostPath volume is scrubbed (hidden files too) and the PV is Available again',
    policy: 'Recycle',
    async setup(cluster) {
      const dir = await scratchDir('volplane-recycle-');
      await writeFile(join(dir, 'index.html'), '<h1>old tenant</h1>');
      await writeFile(join(dir, '.hidden'), 'secret');
      await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
      await writeFile(join(dir, 'sub', 'deeper', 'file'), 'x');
      await apply(cluster, hostPathPv('recycle-pv', dir, 'Recycle', 'manual'));
      return { pv: 'recycle-pv', dir };
    },
    async after(cluster, pv, dir) {
      const row = await waitForStatus(cluster, 'pv', pv, 'Available');
      assert.equal(row.CLAIM, '', 'a recycled PV is claimable again');
      assert.ok(existsSync(dir), 'the volume directory itself is kept');
      assert.deepEqual(await readdir(dir), [], 'everything inside it is gone');
      const events = describeEvents(await kubectl(cluster, ['describe', 'pv', pv]));
      assert.ok(
        events.some((e) => e.Reason === 'VolumeRecycled'),
        `a VolumeRecycled event on the PV; got ${JSON.stringify(events)}`,
      );
      // And it is really reusable: a new claim binds to it.
      await apply(cluster, claim('data2', 'manual'));
      const again = await waitForStatus(cluster, 'pvc', 'data2', 'Bound');
      assert.equal(again.VOLUME, pv);
    },
  },
];

describe('seed 001 §2.1: a PV\'s life after its claim is deleted, per reclaim policy', { skip }, () => {
  for (const row of reclaimRows) {
    it(row.name, async () => {
      const cluster = await newCluster();
      let { pv, dir } = await row.setup(cluster);
      await apply(cluster, claim('data', 'manual'));
      const bound = await waitForStatus(cluster, 'pvc', 'data', 'Bound');
      if (pv === '') {
        // Provisioned: the PV is named after the claim's uid, its directory after the PV.
        const uid = await field(cluster, 'pvc', 'data', '{.metadata.uid}');
        pv = `pvc-${uid}`;
        dir = join(hostpathRoot(cluster), pv);
        assert.ok(existsSync(dir), `the provisioner made ${dir}`);
      }
      assert.equal(bound.VOLUME, pv);
      const pvRow = await waitForStatus(cluster, 'pv', pv, 'Bound');
      assert.equal(pvRow['RECLAIM POLICY'], row.policy);
      assert.equal(pvRow.CLAIM, 'default/data');

      await kubectl(cluster, ['delete', 'pvc', 'data', '--timeout=60s']);
      await row.after(cluster, pv, dir);
    });
  }
});

describe('seed 001 §2.3.1: delayed binding with a local PV pinned to a node', { skip }, () => {
  interface DelayRow {
    name: string;
    /** What the scheduler would write into the claim. */
    selectedNode: string;
    /** Checks the outcome after the annotation is set. */
    expect(cluster: TestCluster): Promise<void>;
  }

  const delayRows: DelayRow[] = [
    {
      name: '2.3.1-1 the claim waits for its first consumer, then binds to the local PV on the selected node',
      selectedNode: 'k8s-node01',
      async expect(cluster) {
        const pvc = await waitForStatus(cluster, 'pvc', 'nginx-pvc', 'Bound');
        assert.equal(pvc.VOLUME, 'nginx-pv');
        assert.equal(pvc.CAPACITY, '5Gi');
        assert.equal(pvc['ACCESS MODES'], 'RWO');
        assert.equal(pvc.STORAGECLASS, 'local-storage');
        const pv = await waitForStatus(cluster, 'pv', 'nginx-pv', 'Bound');
        assert.equal(pv.CLAIM, 'default/nginx-pvc');
      },
    },
    {
      name: '2.3.1-2 a node the local PV is not pinned to gets nothing: no-provisioner cannot make a volume there',
      selectedNode: 'k8s-node02',
      async expect(cluster) {
        // The controller looked (and said why nothing came of it) — only then is "still Pending" meaningful.
        const events = await waitFor(
          'a ProvisioningFailed event on nginx-pvc',
          async () => {
            const ev = describeEvents(await kubectl(cluster, ['describe', 'pvc', 'nginx-pvc']));
            return ev.some((e) => e.Reason === 'ProvisioningFailed') ? ev : undefined;
          },
          { timeoutMs: REACT_MS, intervalMs: 200 },
        );
        const failed = events.find((e) => e.Reason === 'ProvisioningFailed');
        assert.equal(failed?.Type, 'Warning');
        assert.match(failed?.Message ?? '', /no volume plugin matched name: kubernetes\.io\/no-provisioner/);
        assert.equal((await getRow(cluster, 'pvc', 'nginx-pvc'))?.STATUS, 'Pending');
        const pv = await getRow(cluster, 'pv', 'nginx-pv', false);
        assert.equal(pv?.STATUS, 'Available');
        assert.equal(pv?.CLAIM, '');
      },
    },
  ];

  for (const row of delayRows) {
    it(row.name, async () => {
      const cluster = await newCluster();
      await cluster.kubectl(['apply', '-f', seedFile('delay-bound-storage.yml')]);

      const classes = await getTable(cluster, ['storageclasses']);
      assert.deepEqual(
        classes.map((c) => [c.NAME, c.PROVISIONER, c.RECLAIMPOLICY, c.VOLUMEBINDINGMODE, c.ALLOWVOLUMEEXPANSION]),
        [['local-storage', 'kubernetes.io/no-provisioner', 'Delete', 'WaitForFirstConsumer', 'false']],
      );

      // The seed's Step 3: Pending, and the describe output says why.
      const describe = await waitFor(
        'the WaitForFirstConsumer event on nginx-pvc',
        async () => {
          const text = await kubectl(cluster, ['describe', 'pvc', 'nginx-pvc']);
          return describeEvents(text).some((e) => e.Reason === 'WaitForFirstConsumer') ? text : undefined;
        },
        { timeoutMs: REACT_MS, intervalMs: 200 },
      );
      assert.match(describe, /^Status:\s+Pending$/m);
      assert.match(describe, /^StorageClass:\s+local-storage$/m);
      assert.match(describe, /^Finalizers:\s+\[kubernetes\.io\/pvc-protection\]$/m);
      const waiting = describeEvents(describe).find((e) => e.Reason === 'WaitForFirstConsumer');
      assert.equal(waiting?.Type, 'Normal');
      assert.equal(waiting?.Message, 'waiting for first consumer to be created before binding');

      const pvc = await getRow(cluster, 'pvc', 'nginx-pvc');
      assert.deepEqual([pvc?.STATUS, pvc?.VOLUME, pvc?.CAPACITY, pvc?.STORAGECLASS], ['Pending', '', '', 'local-storage']);
      const pv = await getRow(cluster, 'pv', 'nginx-pv', false);
      assert.deepEqual([pv?.STATUS, pv?.CLAIM, pv?.['RECLAIM POLICY']], ['Available', '', 'Delete']);

      // What the scheduler will do once a pod uses the claim.
      await kubectl(cluster, ['annotate', 'pvc', 'nginx-pvc', `volume.kubernetes.io/selected-node=${row.selectedNode}`]);
      await row.expect(cluster);

      // Checked last so that a wrong source does not hide the rest of the flow: the seed's
      // describe output names upstream's event source for the PV controller.
      assert.equal(waiting?.From, 'persistentvolume-controller', 'the event source of the PV controller');
    });
  }
});

describe('seed 001 §2.3.2: dynamic provisioning for the StatefulSet web', { skip }, () => {
  it('2.3.2-1 three claims are provisioned, bound and shown like the seed; deleting them archives the data', async () => {
    const cluster = await newCluster();
    // The seed's default class, served by the in-tree provisioner instead of nfs-client.
    await apply(cluster, hostPathClass('nfs-storage', { isDefault: true, archiveOnDelete: true, reclaimPolicy: 'Delete' }));
    await cluster.kubectl(['apply', '-f', seedFile('nfs-nginx-deploy.yml')]);

    // OrderedReady: web-N+1 only comes once web-N is Running and Ready; the test plays kubelet.
    for (let i = 0; i < 3; i++) {
      const pod = `web-${i}`;
      await waitFor(`pod ${pod} to be created`, async () => (await field(cluster, 'pod', pod, '{.metadata.name}')) === pod, {
        timeoutMs: REACT_MS,
        intervalMs: 100,
      });
      await kubectl(cluster, [
        'patch',
        'pod',
        pod,
        '--subresource=status',
        '--type=merge',
        '-p',
        '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}',
      ]);
    }
    await waitFor('statefulset web to report 3 ready replicas', async () => (await field(cluster, 'statefulset', 'web', '{.status.readyReplicas}')) === '3', {
      timeoutMs: REACT_MS,
      intervalMs: 100,
    });

    const uids = new Map<string, string>();
    for (let i = 0; i < 3; i++) {
      const name = `data-web-${i}`;
      await waitForStatus(cluster, 'pvc', name, 'Bound');
      uids.set(name, (await field(cluster, 'pvc', name, '{.metadata.uid}')) ?? '');
    }

    const pvcs = await getTable(cluster, ['pvc']);
    assert.deepEqual(
      pvcs.map((r) => [r.NAME, r.STATUS, r.VOLUME, r.CAPACITY, r['ACCESS MODES'], r.STORAGECLASS]),
      [0, 1, 2].map((i) => [`data-web-${i}`, 'Bound', `pvc-${uids.get(`data-web-${i}`)}`, '1Gi', 'RWO', 'nfs-storage']),
    );

    const pvs = await waitFor(
      'all three PVs Bound',
      async () => {
        const rows = await getTable(cluster, ['pv']);
        return rows.length === 3 && rows.every((r) => r.STATUS === 'Bound') ? rows : undefined;
      },
      { timeoutMs: REACT_MS, intervalMs: 100 },
    );
    // kubectl sorts by name; the names are random, so compare as sets keyed by name.
    const expectedPvs = [0, 1, 2]
      .map((i) => [`pvc-${uids.get(`data-web-${i}`)}`, '1Gi', 'RWO', 'Delete', 'Bound', `default/data-web-${i}`, 'nfs-storage'])
      .sort((a, b) => a[0]!.localeCompare(b[0]!));
    assert.deepEqual(
      pvs.map((r) => [r.NAME, r.CAPACITY, r['ACCESS MODES'], r['RECLAIM POLICY'], r.STATUS, r.CLAIM, r.STORAGECLASS]),
      expectedPvs,
    );
    const provisioned = describeEvents(await kubectl(cluster, ['describe', 'pvc', 'data-web-0'])).find((e) => e.Reason === 'ProvisioningSucceeded');
    assert.equal(provisioned?.Message, `Successfully provisioned volume pvc-${uids.get('data-web-0')} using volplane.io/hostpath`);
    for (const uid of uids.values()) {
      assert.ok(existsSync(join(hostpathRoot(cluster), `pvc-${uid}`)), `directory for pvc-${uid}`);
    }
    // A file in a volume, to see that the archive keeps it.
    await writeFile(join(hostpathRoot(cluster), `pvc-${uids.get('data-web-0')}`, 'index.html'), '<h1>hello storage class</h1>');

    await kubectl(cluster, ['delete', 'statefulset', 'web', '--timeout=60s']);
    await waitFor('the pods of web to be gone', async () => (await getTable(cluster, ['pods'])).length === 0, { timeoutMs: REACT_MS, intervalMs: 200 });
    await kubectl(cluster, ['delete', 'pvc', 'data-web-0', 'data-web-1', 'data-web-2', '--timeout=60s']);

    await waitFor('every PV to be deleted', async () => (await getTable(cluster, ['pv'])).length === 0, { timeoutMs: REACT_MS, intervalMs: 200 });
    const entries = (await readdir(hostpathRoot(cluster))).filter((e) => e !== '.volplane').sort();
    assert.deepEqual(entries, [...uids.values()].map((uid) => `archived-pvc-${uid}`).sort(), 'archiveOnDelete renames each directory');
    assert.equal(
      await readFile(join(hostpathRoot(cluster), `archived-pvc-${uids.get('data-web-0')}`, 'index.html'), 'utf8'),
      '<h1>hello storage class</h1>',
    );
  });
});
