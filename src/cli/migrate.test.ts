// `volplane migrate flexvolume`: the plan's decisions as table rows (P*), the
// flags (F*), and end to end (M*) against a real test cluster (API server +
// PV binder + protection controllers), the real example FlexVolume driver
// examples/flexvolume/volplane~loop/loop called the way the kubelet calls it,
// and volplane's CSI driver served in-process on a temp socket. M-rows run in
// order on one volume: made and written by the FlexVolume driver, bound to a
// claim, refused while a pod uses it, planned by a dry run that changes
// nothing, migrated, then staged and published by the CSI driver, where the
// file written through FlexVolume must be. Everything mounted or attached is
// removed; the suite checks its temp dir is left with no mount or loop device.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PersistentVolume, PersistentVolumeClaim } from '../api/core/volume-types.ts';
import type { KubeObject } from '../apimachinery/index.ts';
import { silentLogger, waitFor } from '../base/index.ts';
import { ApiError, RestClient, resourcePath, resources } from '../client/index.ts';
import { createCsiClient, type CsiClient, type VolumeCapability } from '../csi/index.ts';
import { findLeaks, startTestCluster, type TestCluster } from '../testing/index.ts';
import { startCsiDriver, type RunningCsiDriver } from './csi-driver.ts';
import { MigrateUsageError, parseMigrateArgs, runMigration, type MigrateArguments } from './migrate.ts';
import {
  ANN_MIGRATED_FROM,
  MigrationRefusedError,
  VOLPLANE_LOOP_TO_CSI,
  planVolumeMigration,
  replacementVolume,
  type UsageWorld,
} from './migrate-plan.ts';

const LOOP_DRIVER = new URL('../../examples/flexvolume/volplane~loop/loop', import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;

// ----------------------------------------------------------------- the plan

const flexPv = (over: Partial<PersistentVolume['spec']> = {}, meta: Partial<PersistentVolume['metadata']> = {}): PersistentVolume => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name: 'data-1', uid: 'pv-uid', resourceVersion: '7', finalizers: ['kubernetes.io/pv-protection'], labels: { app: 'x' }, ...meta },
  spec: {
    capacity: { storage: '64Mi' },
    accessModes: ['ReadWriteOnce'],
    persistentVolumeReclaimPolicy: 'Delete',
    storageClassName: 'slow',
    mountOptions: ['noatime'],
    nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }] }] } },
    claimRef: { kind: 'PersistentVolumeClaim', namespace: 'default', name: 'data', uid: 'claim-uid', resourceVersion: '3' },
    flexVolume: { driver: 'volplane/loop', fsType: 'ext4', options: { dir: '/var/lib/loops', size: '64Mi' } },
    ...over,
  },
  status: { phase: 'Bound' },
});
const pod = (name: string, claim: string, phase = 'Running', namespace = 'default'): KubeObject => ({
  metadata: { name, namespace },
  spec: { volumes: [{ name: 'v', persistentVolumeClaim: { claimName: claim } }] },
  status: { phase },
});
const node = (name: string, status: Record<string, unknown>): KubeObject => ({ metadata: { name }, status });
const empty: UsageWorld = { pods: [], nodes: [] };

describe('migrate flexvolume: the plan', () => {
  const refused: { name: string; pv: PersistentVolume; world: UsageWorld; reason: RegExp }[] = [
    { name: 'P1: a PV that is not FlexVolume', pv: flexPv({ flexVolume: undefined, hostPath: { path: '/x' } }), world: empty, reason: /not a FlexVolume PV/ },
    { name: 'P2: a PV of another FlexVolume driver', pv: flexPv({ flexVolume: { driver: 'acme/nfs' } }), world: empty, reason: /acme\/nfs, not volplane\/loop/ },
    { name: 'P3: a PV whose claim a running pod uses, naming the pod', pv: flexPv(), world: { pods: [pod('web', 'data')], nodes: [] }, reason: /in use by pod default\/web;/ },
    { name: 'P4: a PV whose claim a pending pod uses', pv: flexPv(), world: { pods: [pod('a', 'data', 'Pending'), pod('b', 'data')], nodes: [] }, reason: /pods default\/a, default\/b/ },
    {
      name: 'P5: a PV a node still lists in volumesInUse',
      pv: flexPv(),
      world: { pods: [], nodes: [node('n1', { volumesInUse: ['flexvolume-volplane/loop/data-1'] })] },
      reason: /held by node n1 \(in use\)/,
    },
    {
      name: 'P6: a PV a node still has attached',
      pv: flexPv(),
      world: { pods: [], nodes: [node('n1', { volumesAttached: [{ name: 'flexvolume-volplane/loop/data-1', devicePath: '/dev/loop3' }] })] },
      reason: /held by node n1 \(attached\)/,
    },
    { name: 'P7: a PV with another controller\'s finalizer', pv: flexPv({}, { finalizers: ['kubernetes.io/pv-protection', 'example.com/keep'] }), world: empty, reason: /finalizer example\.com\/keep/ },
    { name: 'P8: a PV being deleted', pv: flexPv({}, { deletionTimestamp: '2026-01-01T00:00:00Z' }), world: empty, reason: /being deleted/ },
    { name: 'P9: a PV whose dir option is relative', pv: flexPv({ flexVolume: { driver: 'volplane/loop', options: { dir: 'loops' } } }), world: empty, reason: /absolute directory/ },
  ];
  for (const row of refused) {
    it(`${row.name} is refused`, () => {
      assert.throws(() => planVolumeMigration(row.pv, VOLPLANE_LOOP_TO_CSI, row.world), (err: unknown) => err instanceof MigrationRefusedError && row.reason.test(err.message));
    });
  }

  it('P10: pods that finished, pods of other claims or namespaces, and other volumes on nodes do not block', () => {
    const world: UsageWorld = {
      pods: [pod('done', 'data', 'Succeeded'), pod('crashed', 'data', 'Failed'), pod('other', 'logs'), pod('elsewhere', 'data', 'Running', 'prod')],
      nodes: [node('n1', { volumesInUse: ['flexvolume-volplane/loop/data-2'] })],
    };
    const plan = planVolumeMigration(flexPv(), VOLPLANE_LOOP_TO_CSI, world);
    assert.equal(plan.file, '/var/lib/loops/data-1.img');
    assert.deepEqual(plan.createVolume.parameters, { 'volplane.io/adopt-file': '/var/lib/loops/data-1.img', kind: 'loop' });
    assert.equal(plan.createVolume.name, 'data-1');
  });

  it('P11: the replacement keeps everything but the source, restores the reclaim policy and records the old source', () => {
    const plan = planVolumeMigration(flexPv(), VOLPLANE_LOOP_TO_CSI, empty);
    const pv = replacementVolume(plan, { volumeHandle: 'vol-1', fsType: 'ext4', volumeAttributes: { 'volplane.io/kind': 'loop' } });
    const old = flexPv();
    assert.deepEqual(pv.metadata.name, 'data-1');
    assert.equal(pv.metadata.uid, undefined);
    assert.equal(pv.metadata.resourceVersion, undefined);
    assert.equal(pv.metadata.finalizers, undefined);
    assert.deepEqual(pv.metadata.labels, { app: 'x' });
    assert.equal(pv.spec.flexVolume, undefined);
    assert.deepEqual(pv.spec.csi, { driver: 'csi.volplane.io', volumeHandle: 'vol-1', fsType: 'ext4', volumeAttributes: { 'volplane.io/kind': 'loop' } });
    for (const f of ['capacity', 'accessModes', 'storageClassName', 'mountOptions', 'nodeAffinity', 'persistentVolumeReclaimPolicy'] as const) {
      assert.deepEqual(pv.spec[f], old.spec[f], f);
    }
    assert.deepEqual(pv.spec.claimRef, { kind: 'PersistentVolumeClaim', namespace: 'default', name: 'data', uid: 'claim-uid' });
    const from = JSON.parse(pv.metadata.annotations?.[ANN_MIGRATED_FROM] ?? '{}') as { flexVolume: unknown; uid: string };
    assert.deepEqual(from, { flexVolume: old.spec.flexVolume, uid: 'pv-uid' });
    assert.equal(pv.status, undefined);
  });
});

describe('migrate flexvolume: flags', () => {
  it('F1: the flags parse, with defaults from KUBECONFIG', () => {
    const args = parseMigrateArgs(['flexvolume', '--driver', 'volplane/loop', '--to', 'csi.volplane.io', '--pv', 'a', '--pv', 'b', '--dry-run', '--csi-endpoint', 'unix:///x.sock', '--backup-dir', '/b', '--timeout', '5'], { KUBECONFIG: '/k/config:/k/other' });
    assert.deepEqual(args, {
      flexDriver: 'volplane/loop',
      csiDriver: 'csi.volplane.io',
      pvs: ['a', 'b'],
      dryRun: true,
      kubeconfig: '/k/config',
      csiEndpoint: 'unix:///x.sock',
      backupDir: '/b',
      timeoutMs: 5000,
    });
    assert.equal(parseMigrateArgs(['--help']), undefined);
  });
  const bad: [string, string[]][] = [
    ['F2: no migration named', ['--driver', 'volplane/loop', '--to', 'csi.volplane.io']],
    ['F3: an unknown migration', ['hostpath', '--driver', 'volplane/loop', '--to', 'csi.volplane.io']],
    ['F4: no --to', ['flexvolume', '--driver', 'volplane/loop']],
    ['F5: a pair without a translation', ['flexvolume', '--driver', 'acme/nfs', '--to', 'csi.volplane.io']],
    ['F6: a bad timeout', ['flexvolume', '--driver', 'volplane/loop', '--to', 'csi.volplane.io', '--timeout', '1m']],
  ];
  for (const [name, argv] of bad) {
    it(`${name} is a usage error`, () => assert.throws(() => parseMigrateArgs(argv, {}), MigrateUsageError));
  }
});

// --------------------------------------------------------------- end to end

interface FlexAnswer {
  status: string;
  message?: string;
  device?: string;
}

describe('migrate flexvolume: a volplane/loop PV moves to csi.volplane.io with its data', { skip: isRoot ? false : 'needs root (loop devices, mounts)' }, () => {
  let root: string;
  let cluster: TestCluster;
  let client: RestClient;
  let driver: RunningCsiDriver;
  let csi: CsiClient;
  const PV = 'flex-data';
  const NS = 'default';
  const CLAIM = 'data';
  const TEXT = 'written through FlexVolume\n';
  let flexDir: string;
  let endpoint: string;
  let oldUid = '';
  let claimUid = '';
  const claimPhases: string[] = [];
  const watchStop = new AbortController();
  let watching: Promise<void> | undefined;

  const flex = (args: string[]): Promise<FlexAnswer> =>
    new Promise((resolve, reject) => {
      execFile(LOOP_DRIVER, args, { encoding: 'utf8', env: { ...process.env, VOLPLANE_LOOP_STATE_DIR: join(root, 'flex-state') } }, (_err, stdout) => {
        try {
          resolve(JSON.parse(stdout) as FlexAnswer);
        } catch (err) {
          reject(new Error(`flex ${args[0]}: not JSON: ${stdout}`, { cause: err }));
        }
      });
    });
  const flexOk = async (args: string[]): Promise<FlexAnswer> => {
    const answer = await flex(args);
    assert.equal(answer.status, 'Success', `${args[0]}: ${answer.message ?? ''}`);
    return answer;
  };

  const args = (over: Partial<MigrateArguments> = {}): MigrateArguments => ({
    flexDriver: 'volplane/loop',
    csiDriver: 'csi.volplane.io',
    pvs: [],
    dryRun: false,
    kubeconfig: cluster.kubeconfigPath,
    csiEndpoint: endpoint,
    backupDir: join(root, 'backup'),
    timeoutMs: 30_000,
    ...over,
  });
  const run = async (a: MigrateArguments): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await runMigration(a, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  };
  const getPv = () => client.get<PersistentVolume>(resourcePath(resources.persistentVolumes, undefined, PV));
  const getClaim = () => client.get<PersistentVolumeClaim>(resourcePath(resources.persistentVolumeClaims, NS, CLAIM));
  const csiVolumes = async () => (await csi.controller.ListVolumes({})).entries ?? [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'volplane-migrate-'));
    flexDir = join(root, 'flex-volumes');
    endpoint = `unix://${join(root, 'csi.sock')}`;
    cluster = await startTestCluster({ controllers: ['persistentvolume-binder', 'pv-protection', 'pvc-protection'] });
    client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
    driver = await startCsiDriver({ endpoint, nodeId: 'node-a', dataDir: join(root, 'csi-data'), attachRequired: false, maxVolumesPerNode: 0 }, silentLogger());
    csi = createCsiClient(endpoint, { defaultTimeoutMs: 60_000 });

    // The volume, made as the kubelet and attach/detach controller make it:
    // attach (creates the image), waitforattach, mountdevice (formats), then back.
    const options = JSON.stringify({
      dir: flexDir,
      size: '64Mi',
      'kubernetes.io/fsType': 'ext4',
      'kubernetes.io/readwrite': 'rw',
      'kubernetes.io/pvOrVolumeName': PV,
    });
    const globalDir = join(root, 'kubelet', 'plugins', 'kubernetes.io', 'flexvolume', 'volplane', 'loop', 'mounts', PV);
    const device = (await flexOk(['attach', options, 'node-a'])).device ?? '';
    assert.ok(device.startsWith('/dev/loop'));
    try {
      await flexOk(['waitforattach', device, options]);
      await flexOk(['mountdevice', globalDir, device, options]);
      try {
        await writeFile(join(globalDir, 'hello.txt'), TEXT);
      } finally {
        await flexOk(['unmountdevice', globalDir]);
      }
    } finally {
      await flexOk(['detach', PV, 'node-a']);
    }

    // The FlexVolume PV and a claim bound to it by the PV controller.
    const pv: PersistentVolume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: PV, labels: { tier: 'db' } },
      spec: {
        capacity: { storage: '64Mi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Delete',
        storageClassName: '',
        mountOptions: ['noatime'],
        flexVolume: { driver: 'volplane/loop', fsType: 'ext4', options: { dir: flexDir, size: '64Mi' } },
      },
    };
    oldUid = (await client.create<PersistentVolume>(resourcePath(resources.persistentVolumes), pv)).metadata.uid ?? '';
    const claim = await client.create<PersistentVolumeClaim>(resourcePath(resources.persistentVolumeClaims, NS), {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: CLAIM, namespace: NS },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: PV, resources: { requests: { storage: '64Mi' } } },
    });
    claimUid = claim.metadata.uid ?? '';
    await waitFor('claim Bound', async () => (await getClaim()).status?.phase === 'Bound' && (await getPv()).status?.phase === 'Bound', { timeoutMs: 20_000 });
    await waitFor('pv-protection finalizer', async () => ((await getPv()).metadata.finalizers ?? []).includes('kubernetes.io/pv-protection'), { timeoutMs: 20_000 });

    // Every phase the claim goes through from here on.
    watching = client
      .watch<PersistentVolumeClaim>(
        `${resourcePath(resources.persistentVolumeClaims, NS)}?watch=true&fieldSelector=metadata.name%3D${CLAIM}`,
        (ev) => {
          const phase = ev.object.status?.phase;
          if (phase !== undefined && claimPhases.at(-1) !== phase) claimPhases.push(phase);
        },
        { signal: watchStop.signal },
      )
      .catch(() => {});
  });

  after(async () => {
    watchStop.abort();
    await watching;
    csi?.close();
    await driver?.close();
    client?.close();
    await cluster?.close();
    // Anything attached or mounted under our temp dir is a leak.
    const leaks = root === undefined ? [] : (await findLeaks()).filter((l) => l.includes(root));
    if (root !== undefined) await rm(root, { recursive: true, force: true });
    assert.deepEqual(leaks, [], 'left mounted or attached');
  });

  it('M1: a pod that uses the claim makes the migration refuse, naming the pod, and nothing changes', async () => {
    const podPath = resourcePath(resources.pods, NS, 'reader');
    await client.create(resourcePath(resources.pods, NS), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'reader', namespace: NS },
      spec: { containers: [{ name: 'c', image: 'busybox', command: ['cat', '/data/hello.txt'] }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: CLAIM } }] },
    });
    try {
      const before = await getPv();
      const { code, err } = await run(args());
      assert.equal(code, 1);
      assert.match(err, /PersistentVolume flex-data: is in use by pod default\/reader; delete it/);
      const afterPv = await getPv();
      assert.equal(afterPv.metadata.resourceVersion, before.metadata.resourceVersion);
      assert.deepEqual(await csiVolumes(), []);
    } finally {
      await client.delete(podPath, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
      await waitFor('pod gone', async () => client.get(podPath).then(() => false, (e: unknown) => e instanceof ApiError && e.code === 404), { timeoutMs: 20_000 });
    }
  });

  it('M1b: when the CSI driver will not adopt the file (still attached by the FlexVolume driver), the PV is left as it was', async () => {
    const name = 'flex-busy';
    const options = JSON.stringify({ dir: flexDir, size: '32Mi', 'kubernetes.io/fsType': 'ext4', 'kubernetes.io/readwrite': 'rw', 'kubernetes.io/pvOrVolumeName': name });
    const pvPath = resourcePath(resources.persistentVolumes, undefined, name);
    await flexOk(['attach', options, 'node-a']);
    try {
      const created = await client.create<PersistentVolume>(resourcePath(resources.persistentVolumes), {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name },
        spec: { capacity: { storage: '32Mi' }, accessModes: ['ReadWriteOnce'], flexVolume: { driver: 'volplane/loop', options: { dir: flexDir } } },
      });
      try {
        const { code, err } = await run(args({ pvs: [name] }));
        assert.equal(code, 1);
        assert.match(err, /failed: PersistentVolume flex-busy: csi.volplane.io did not adopt .*flex-busy.img: .*attached to \/dev\/loop\d+.*; nothing was changed/);
        const now = await client.get<PersistentVolume>(pvPath);
        assert.equal(now.metadata.uid, created.metadata.uid);
        assert.equal(now.spec.persistentVolumeReclaimPolicy, created.spec.persistentVolumeReclaimPolicy, 'not switched to Retain');
        assert.ok(now.spec.flexVolume !== undefined);
        assert.deepEqual(await csiVolumes(), []);
      } finally {
        await client.delete(pvPath);
        await waitFor('PV gone', async () => client.get(pvPath).then(() => false, (e: unknown) => e instanceof ApiError && e.code === 404), { timeoutMs: 20_000 });
      }
    } finally {
      await flexOk(['detach', name, 'node-a']);
    }
  });

  it('M1c: an unreachable CSI driver stops the command before anything changes', async () => {
    const before = await getPv();
    const { code, err } = await run(args({ csiEndpoint: `unix://${join(root, 'nobody-here.sock')}` }));
    assert.equal(code, 1);
    assert.match(err, /cannot reach the CSI driver at unix:\/\/.*nobody-here.sock \(--csi-endpoint\)/);
    assert.equal((await getPv()).metadata.resourceVersion, before.metadata.resourceVersion);
  });

  it('M2: a dry run prints the change per PV and changes nothing', async () => {
    const before = await getPv();
    const { code, out, err } = await run(args({ dryRun: true }));
    assert.equal(err, '');
    assert.equal(code, 0);
    assert.match(out, /^PersistentVolume flex-data: Bound, claim default\/data \(uid [0-9a-f-]+\)$/m);
    assert.ok(out.includes(`csi.volplane.io adopts ${flexDir}/${PV}.img`), out);
    assert.match(out, /~ spec.persistentVolumeReclaimPolicy: Delete -> Retain/);
    assert.match(out, /- metadata.finalizers: kubernetes.io\/pv-protection/);
    assert.match(out, /- spec.flexVolume: \{"driver":"volplane\/loop"/);
    assert.match(out, /\+ spec.csi: \{"driver":"csi.volplane.io"/);
    assert.match(out, /Dry run: nothing was changed; 1 PersistentVolume would be migrated/);
    const afterPv = await getPv();
    assert.equal(afterPv.metadata.resourceVersion, before.metadata.resourceVersion);
    assert.equal(afterPv.metadata.uid, oldUid);
    assert.deepEqual(await csiVolumes(), [], 'the CSI driver was not asked to adopt anything');
  });

  it('M2b: the same dry run through the command line (volplane migrate flexvolume … --dry-run)', async () => {
    const before = await getPv();
    const main = new URL('./main.ts', import.meta.url).pathname;
    const argv = [main, 'migrate', 'flexvolume', '--driver', 'volplane/loop', '--to', 'csi.volplane.io', '--pv', PV, '--dry-run', '--kubeconfig', cluster.kubeconfigPath, '--csi-endpoint', endpoint];
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, argv, { encoding: 'utf8' }, (e, stdout, stderr) => resolve({ code: e === null ? 0 : Number(e.code ?? 1), stdout, stderr }));
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\+ spec.csi: \{"driver":"csi.volplane.io"/);
    assert.match(result.stdout, /Dry run: nothing was changed/);
    assert.equal((await getPv()).metadata.resourceVersion, before.metadata.resourceVersion);
  });

  it('M3: the migration replaces the PV under the same name and the claim is Bound to it again', async (t) => {
    const { code, out, err } = await run(args());
    assert.equal(err, '', out);
    assert.equal(code, 0);
    assert.match(out, /flex-data: migrated/);
    t.diagnostic(out);

    const pv = await getPv();
    assert.notEqual(pv.metadata.uid, oldUid, 'a new object');
    assert.equal(pv.spec.flexVolume, undefined);
    const vols = await csiVolumes();
    assert.equal(vols.length, 1);
    assert.deepEqual(pv.spec.csi, {
      driver: 'csi.volplane.io',
      volumeHandle: vols[0]!.volume.volume_id,
      fsType: 'ext4',
      volumeAttributes: { 'volplane.io/kind': 'loop', 'volplane.io/path': join(flexDir, `${PV}.img`), 'volplane.io/fsType': 'ext4' },
    });
    assert.deepEqual(pv.spec.capacity, { storage: '64Mi' });
    assert.deepEqual(pv.spec.accessModes, ['ReadWriteOnce']);
    assert.deepEqual(pv.spec.mountOptions, ['noatime']);
    assert.equal(pv.spec.persistentVolumeReclaimPolicy, 'Delete', 'the user\'s policy, not the Retain used during the move');
    assert.equal(pv.spec.claimRef?.uid, claimUid);
    assert.deepEqual(pv.metadata.labels, { tier: 'db' });
    assert.match(pv.metadata.annotations?.[ANN_MIGRATED_FROM] ?? '', /"driver":"volplane\/loop"/);
    await waitFor('PV Bound', async () => (await getPv()).status?.phase === 'Bound', { timeoutMs: 20_000 });

    const claim = await getClaim();
    assert.equal(claim.metadata.uid, claimUid, 'the same claim');
    assert.equal(claim.spec.volumeName, PV);
    assert.equal(claim.status?.phase, 'Bound');
    assert.equal(claim.metadata.annotations?.['volplane.io/volume-migrated-to'], 'csi.volplane.io');
    assert.equal(claimPhases.at(-1), 'Bound');
    // Whether the PV controller saw the gap (Lost) depends on timing; either way it must end Bound.
    t.diagnostic(`claim phases during the migration: ${claimPhases.join(' -> ')}`);

    const backup = JSON.parse(await readFile(join(root, 'backup', `${PV}.old.json`), 'utf8')) as PersistentVolume;
    assert.equal(backup.metadata.uid, oldUid);
  });

  it('M4: the CSI driver stages and publishes the migrated volume, and the file written through FlexVolume is there', async () => {
    const pv = await getPv();
    const src = pv.spec.csi as unknown as { volumeHandle: string; fsType: string; volumeAttributes: Record<string, string> };
    // What the kubelet's CSI plugin will send for this PV (mount access, the PV's fsType and mount options).
    const cap: VolumeCapability = { mount: { fs_type: src.fsType, mount_flags: pv.spec.mountOptions ?? [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
    const staging = join(root, 'kubelet', 'plugins', 'kubernetes.io', 'csi', 'csi.volplane.io', 'staging', PV);
    const target = join(root, 'kubelet', 'pods', '0b5e7a6e-3c1d-4d6f-9a43-0f0e5b2d1c11', 'volumes', 'kubernetes.io~csi', PV, 'mount');
    await mkdir(staging, { recursive: true });
    await csi.node.NodeStageVolume({ volume_id: src.volumeHandle, staging_target_path: staging, volume_capability: cap, volume_context: src.volumeAttributes });
    try {
      await csi.node.NodePublishVolume({
        volume_id: src.volumeHandle,
        staging_target_path: staging,
        target_path: target,
        volume_capability: cap,
        volume_context: src.volumeAttributes,
        readonly: false,
      });
      try {
        assert.equal(await readFile(join(target, 'hello.txt'), 'utf8'), TEXT);
      } finally {
        await csi.node.NodeUnpublishVolume({ volume_id: src.volumeHandle, target_path: target });
      }
    } finally {
      await csi.node.NodeUnstageVolume({ volume_id: src.volumeHandle, staging_target_path: staging });
    }
  });

  it('M5: running the migration again finds nothing to do', async () => {
    const { code, out } = await run(args());
    assert.equal(code, 0);
    assert.match(out, /No volplane\/loop PersistentVolumes to migrate\./);
    assert.equal((await csiVolumes()).length, 1);
  });
});
