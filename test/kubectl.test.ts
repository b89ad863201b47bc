// End-to-end acceptance tests: the real kubectl (1.32, through the dispatcher on PATH) against a
// real volplane API server over HTTPS, driven with the seed's NFS manifests (seed 001, §2).
//
// Every assertion is on kubectl's own output, because that is what users see: the server's
// Table cells, Status messages and watch framing only count when kubectl prints them right.
// The tests in this file share one cluster and run in order (create → read → change → delete),
// like a user session; each `it` still asserts something it can fail on by itself.
// Long-running kubectl commands (get -w, wait) are spawned directly, with `-v=6` so the test can
// see in kubectl's request log when the watch is open instead of sleeping.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createCertificateAuthority, issueClientCertificate } from '../src/apiserver/authn/index.ts';
import { waitFor } from '../src/base/index.ts';
import { hasKubectl, kubectlPath, startTestCluster, type TestCluster } from '../src/testing/index.ts';

const kubectlAvailable = await hasKubectl();

function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

// ---- parsing kubectl's human output -----------------------------------------------------------

interface PrintedTable {
  headers: string[];
  rows: Record<string, string>[];
}

/**
 * Parses one block of kubectl's tabwriter output. Columns start where their header starts
 * (headers may contain single spaces, like `ACCESS MODES`; columns are at least 3 spaces apart),
 * so empty cells come out as ''.
 */
function parseTable(text: string): PrintedTable {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length > 0, `expected a table, got ${JSON.stringify(text)}`);
  const header = lines[0];
  const starts: number[] = [];
  const headers: string[] = [];
  for (const m of header.matchAll(/\S+(?: \S+)*/g)) {
    starts.push(m.index);
    headers.push(m[0]);
  }
  const rows = lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    headers.forEach((h, i) => {
      const end = i + 1 < starts.length ? starts[i + 1] : line.length;
      row[h] = line.slice(starts[i], end).trim();
    });
    return row;
  });
  return { headers, rows };
}

/** The blocks of a multi-type `get` (one table per type, separated by blank lines). */
function parseTables(text: string): PrintedTable[] {
  return text
    .split(/\n\s*\n/)
    .filter((b) => b.trim() !== '')
    .map(parseTable);
}

function rowNamed(table: PrintedTable, name: string, column = 'NAME'): Record<string, string> {
  const row = table.rows.find((r) => r[column] === name);
  assert.ok(row, `no row ${name} in ${JSON.stringify(table.rows)}`);
  return row;
}

/** The parts of a PersistentVolume the -o json test reads. */
interface PvJson {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; uid: string; resourceVersion: string; creationTimestamp: string };
  spec: {
    capacity: Record<string, string>;
    accessModes: string[];
    persistentVolumeReclaimPolicy: string;
    volumeMode: string;
    mountOptions: string[];
    nfs: { path: string; server: string };
  };
  status: { phase: string };
}

/** An AGE cell as apimachinery's HumanDuration writes it ("5s", "2m10s", "3h", "4d"). */
const AGE = /^(\d+[smhdy])+$/;

// ---- running kubectl outside the harness (watches, other kubeconfigs) -------------------------

interface Spawned {
  readonly proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

const spawned = new Set<Spawned>();

/**
 * The environment the harness gives kubectl (its own KUBECONFIG and HOME, so the developer's
 * kubectl state cannot leak in); set by the suite's before hook. Callers add `--cache-dir`.
 */
let kubectlEnv: NodeJS.ProcessEnv = process.env;

function spawnKubectl(args: string[]): Spawned {
  const proc = spawn(kubectlPath() ?? 'kubectl', args, { stdio: ['ignore', 'pipe', 'pipe'], env: kubectlEnv });
  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => {
    proc.on('close', (code) => resolve(code));
    proc.on('error', () => resolve(-1));
  });
  const s: Spawned = { proc, stdout: () => out, stderr: () => err, exited };
  spawned.add(s);
  void exited.then(() => spawned.delete(s));
  return s;
}

async function stop(s: Spawned): Promise<void> {
  if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGTERM');
  await s.exited;
}

async function runKubectl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const s = spawnKubectl(args);
  const timer = setTimeout(() => s.proc.kill('SIGKILL'), 60_000);
  const code = await s.exited;
  clearTimeout(timer);
  return { code, stdout: s.stdout(), stderr: s.stderr() };
}

/** kubectl's `-v=6` request log shows the watch request answered: the stream is open. */
function watchOpened(s: Spawned): boolean {
  return s.stderr().split('\n').some((l) => l.includes('watch=true') && l.includes('200 OK'));
}

function linesStartingWith(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.split(/\s+/)[0] === name);
}

// ---- the suite ---------------------------------------------------------------------------------

describe('kubectl against volplane', { skip: kubectlAvailable ? false : 'kubectl not on PATH' }, () => {
  let cluster: TestCluster;
  let scratch: string;
  /** Global flags for a directly spawned kubectl (its own discovery cache). */
  let connect: string[];

  before(async () => {
    cluster = await startTestCluster({ controllers: ['pv-protection', 'pvc-protection'] });
    scratch = await mkdtemp(join(tmpdir(), 'volplane-kubectl-e2e-'));
    kubectlEnv = { ...process.env, KUBECONFIG: cluster.kubeconfigPath, HOME: scratch };
    connect = [`--cache-dir=${join(scratch, 'cache')}`];
  });

  after(async () => {
    // Every test stops what it spawned; anything still running here is a test bug, and is
    // stopped anyway so the run can end.
    const leftovers = [...spawned].map((s) => s.proc.spawnargs.join(' '));
    await Promise.all([...spawned].map(stop));
    await cluster?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    assert.deepEqual(leftovers, [], 'kubectl processes left running');
  });

  async function ok(args: string[]): Promise<string> {
    const r = await cluster.kubectl(args, { allowFail: true });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  async function fails(args: string[]): Promise<string> {
    const r = await cluster.kubectl(args, { allowFail: true });
    assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} should fail; stdout:\n${r.stdout}`);
    return r.stderr;
  }

  async function jsonpath(args: string[], path: string): Promise<string> {
    return ok([...args, '-o', `jsonpath=${path}`]);
  }

  // ---- 1. discovery ----------------------------------------------------------------------------

  describe('discovery', () => {
    it('1-1 kubectl version reports a v1.32 server', async () => {
      const out = await ok(['version']);
      assert.match(out, /^Server Version: v1\.32\.\d+/m);
    });

    const resources: { name: string; shortName: string; apiVersion: string; namespaced: boolean; kind: string }[] = [
      { name: 'persistentvolumes', shortName: 'pv', apiVersion: 'v1', namespaced: false, kind: 'PersistentVolume' },
      { name: 'persistentvolumeclaims', shortName: 'pvc', apiVersion: 'v1', namespaced: true, kind: 'PersistentVolumeClaim' },
      { name: 'events', shortName: 'ev', apiVersion: 'v1', namespaced: true, kind: 'Event' },
      { name: 'namespaces', shortName: 'ns', apiVersion: 'v1', namespaced: false, kind: 'Namespace' },
      { name: 'configmaps', shortName: 'cm', apiVersion: 'v1', namespaced: true, kind: 'ConfigMap' },
      { name: 'storageclasses', shortName: 'sc', apiVersion: 'storage.k8s.io/v1', namespaced: false, kind: 'StorageClass' },
      { name: 'volumeattachments', shortName: '', apiVersion: 'storage.k8s.io/v1', namespaced: false, kind: 'VolumeAttachment' },
      { name: 'csidrivers', shortName: '', apiVersion: 'storage.k8s.io/v1', namespaced: false, kind: 'CSIDriver' },
      { name: 'csinodes', shortName: '', apiVersion: 'storage.k8s.io/v1', namespaced: false, kind: 'CSINode' },
      { name: 'csistoragecapacities', shortName: '', apiVersion: 'storage.k8s.io/v1', namespaced: true, kind: 'CSIStorageCapacity' },
      { name: 'leases', shortName: '', apiVersion: 'coordination.k8s.io/v1', namespaced: true, kind: 'Lease' },
      { name: 'deployments', shortName: 'deploy', apiVersion: 'apps/v1', namespaced: true, kind: 'Deployment' },
      { name: 'statefulsets', shortName: 'sts', apiVersion: 'apps/v1', namespaced: true, kind: 'StatefulSet' },
      { name: 'events', shortName: 'ev', apiVersion: 'events.k8s.io/v1', namespaced: true, kind: 'Event' },
    ];

    it('1-2 kubectl api-resources lists the storage, apps, coordination and event resources with their scope', async () => {
      const table = parseTable(await ok(['api-resources']));
      assert.deepEqual(table.headers, ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND']);
      for (const want of resources) {
        const row = table.rows.find((r) => r.NAME === want.name && r.APIVERSION === want.apiVersion);
        assert.ok(row, `api-resources has no ${want.name} in ${want.apiVersion}`);
        assert.deepEqual(
          row,
          { NAME: want.name, SHORTNAMES: want.shortName, APIVERSION: want.apiVersion, NAMESPACED: String(want.namespaced), KIND: want.kind },
          `row for ${want.name} (${want.apiVersion})`,
        );
      }
    });

    it('1-3 kubectl api-versions includes the groups kubectl needs', async () => {
      const versions = (await ok(['api-versions'])).split('\n').filter(Boolean);
      for (const gv of ['v1', 'storage.k8s.io/v1', 'apps/v1', 'coordination.k8s.io/v1', 'events.k8s.io/v1']) {
        assert.ok(versions.includes(gv), `api-versions lacks ${gv}: ${versions.join(', ')}`);
      }
    });

    it('1-4 kubectl get ns shows the four built-in namespaces as Active', async () => {
      const table = parseTable(await ok(['get', 'ns']));
      assert.deepEqual(table.headers, ['NAME', 'STATUS', 'AGE']);
      for (const ns of ['default', 'kube-node-lease', 'kube-public', 'kube-system']) {
        const row = rowNamed(table, ns);
        assert.equal(row.STATUS, 'Active', `namespace ${ns}`);
        assert.match(row.AGE, AGE);
      }
    });
  });

  // ---- 2. the seed's manifests -------------------------------------------------------------------

  describe('seed manifests: create and apply', () => {
    const typo = fixture('nfs-pv-typo.yaml');

    for (const verb of ['create', 'apply'] as const) {
      it(`2-1 kubectl ${verb} -f rejects the seed PV's metadata.label typo as an unknown field`, async () => {
        const stderr = await fails([verb, '-f', typo]);
        assert.match(stderr, /strict decoding error: unknown field "metadata\.label"/);
        assert.ok(
          stderr.includes(`Error from server (BadRequest): error when creating "${typo}": PersistentVolume in version "v1" cannot be handled as a PersistentVolume: strict decoding error: unknown field "metadata.label"`),
          stderr,
        );
      });
    }

    it('2-2 the rejected PV was not stored', async () => {
      const stderr = await fails(['get', 'pv', 'nfs-pv']);
      assert.match(stderr, /Error from server \(NotFound\): persistentvolumes "nfs-pv" not found/);
    });

    const creates: { name: string; args: string[]; printed: string }[] = [
      { name: 'create -f the fixed PV', args: ['create', '-f', fixture('nfs-pv.yaml')], printed: 'persistentvolume/nfs-pv created' },
      { name: 'apply -f the StorageClass', args: ['apply', '-f', fixture('nfs-storage-class.yaml')], printed: 'storageclass.storage.k8s.io/nfs-storage created' },
      { name: 'apply -f the PVC', args: ['apply', '-f', fixture('nfs-pvc.yaml')], printed: 'persistentvolumeclaim/nfs-pvc created' },
      { name: 'create -f a second PV', args: ['create', '-f', fixture('other-pv.yaml')], printed: 'persistentvolume/other-pv created' },
      {
        name: 'apply -f a second namespace with a claim',
        args: ['apply', '-f', fixture('team-a.yaml')],
        printed: 'namespace/team-a created\npersistentvolumeclaim/team-a-data created',
      },
    ];
    for (const c of creates) {
      it(`2-3 kubectl ${c.name}`, async () => {
        assert.equal((await ok(c.args)).trim(), c.printed);
      });
    }

    it('2-4 kubectl apply -f of the same manifests again prints unchanged', async () => {
      assert.equal((await ok(['apply', '-f', fixture('nfs-pvc.yaml')])).trim(), 'persistentvolumeclaim/nfs-pvc unchanged');
      assert.equal((await ok(['apply', '-f', fixture('nfs-storage-class.yaml')])).trim(), 'storageclass.storage.k8s.io/nfs-storage unchanged');
    });

    it('2-5 kubectl apply -f of a changed manifest patches the object (configured)', async () => {
      assert.equal((await ok(['apply', '-f', fixture('nfs-storage-class-labelled.yaml')])).trim(), 'storageclass.storage.k8s.io/nfs-storage configured');
      assert.equal(await jsonpath(['get', 'sc', 'nfs-storage'], '{.metadata.labels.tier}'), 'shared');
      assert.equal(await jsonpath(['get', 'sc', 'nfs-storage'], '{.parameters.archiveOnDelete}'), 'true');
      const lastApplied = await jsonpath(['get', 'sc', 'nfs-storage'], "{.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}");
      assert.equal((JSON.parse(lastApplied) as { metadata: { labels: Record<string, string> } }).metadata.labels.tier, 'shared');
    });

    it('2-6 kubectl create -f of an existing object is AlreadyExists', async () => {
      const file = fixture('nfs-pv.yaml');
      const stderr = await fails(['create', '-f', file]);
      assert.ok(stderr.includes(`Error from server (AlreadyExists): error when creating "${file}": persistentvolumes "nfs-pv" already exists`), stderr);
    });
  });

  // ---- 3. reading: tables and output formats -----------------------------------------------------

  describe('get', () => {
    let pvPhase: string;
    let pvcPhase: string;
    let pvcVolume: string;

    before(async () => {
      pvPhase = await jsonpath(['get', 'pv', 'nfs-pv'], '{.status.phase}');
      pvcPhase = await jsonpath(['get', 'pvc', 'nfs-pvc'], '{.status.phase}');
      pvcVolume = await jsonpath(['get', 'pvc', 'nfs-pvc'], '{.spec.volumeName}');
    });

    it('3-1 the server sets the PV and PVC status at create', () => {
      // 1.32 resets status on create to phase Pending; a PV controller may since have moved it on.
      assert.ok(['Pending', 'Available', 'Bound'].includes(pvPhase), `PV phase ${JSON.stringify(pvPhase)}`);
      assert.ok(['Pending', 'Bound'].includes(pvcPhase), `PVC phase ${JSON.stringify(pvcPhase)}`);
    });

    it('3-2 kubectl get pv,pvc,sc prints one table per type with the upstream columns and cells', async () => {
      const tables = parseTables(await ok(['get', 'pv,pvc,sc']));
      assert.equal(tables.length, 3, 'three blocks');
      const [pv, pvc, sc] = tables;

      assert.deepEqual(pv.headers, ['NAME', 'CAPACITY', 'ACCESS MODES', 'RECLAIM POLICY', 'STATUS', 'CLAIM', 'STORAGECLASS', 'VOLUMEATTRIBUTESCLASS', 'REASON', 'AGE']);
      const pvRow = rowNamed(pv, 'persistentvolume/nfs-pv');
      const claim = pvPhase === 'Bound' ? 'default/nfs-pvc' : '';
      assert.deepEqual(
        { ...pvRow, AGE: '' },
        {
          NAME: 'persistentvolume/nfs-pv',
          CAPACITY: '5Gi',
          'ACCESS MODES': 'RWO',
          'RECLAIM POLICY': 'Recycle',
          STATUS: pvPhase,
          CLAIM: claim,
          STORAGECLASS: 'slow',
          VOLUMEATTRIBUTESCLASS: '<unset>',
          REASON: '',
          AGE: '',
        },
      );
      assert.match(pvRow.AGE, AGE);
      assert.equal(rowNamed(pv, 'persistentvolume/other-pv')['ACCESS MODES'], 'RWX');

      assert.deepEqual(pvc.headers, ['NAME', 'STATUS', 'VOLUME', 'CAPACITY', 'ACCESS MODES', 'STORAGECLASS', 'VOLUMEATTRIBUTESCLASS', 'AGE']);
      const pvcRow = rowNamed(pvc, 'persistentvolumeclaim/nfs-pvc');
      const bound = pvcVolume !== '';
      assert.deepEqual(
        { ...pvcRow, AGE: '' },
        {
          NAME: 'persistentvolumeclaim/nfs-pvc',
          STATUS: pvcPhase,
          VOLUME: pvcVolume,
          // Capacity and access modes come from status, and only once the claim names a volume.
          CAPACITY: bound ? '5Gi' : '',
          'ACCESS MODES': bound ? 'RWO' : '',
          STORAGECLASS: 'slow',
          VOLUMEATTRIBUTESCLASS: '<unset>',
          AGE: '',
        },
      );
      assert.match(pvcRow.AGE, AGE);

      assert.deepEqual(sc.headers, ['NAME', 'PROVISIONER', 'RECLAIMPOLICY', 'VOLUMEBINDINGMODE', 'ALLOWVOLUMEEXPANSION', 'AGE']);
      const scRow = rowNamed(sc, 'storageclass.storage.k8s.io/nfs-storage (default)');
      assert.deepEqual(
        { ...scRow, AGE: '' },
        {
          NAME: 'storageclass.storage.k8s.io/nfs-storage (default)',
          PROVISIONER: 'nfs-client',
          RECLAIMPOLICY: 'Delete',
          VOLUMEBINDINGMODE: 'Immediate',
          ALLOWVOLUMEEXPANSION: 'false',
          AGE: '',
        },
      );
      assert.match(scRow.AGE, AGE);
    });

    it('3-3 the STATUS cell of kubectl get pv is the phase the object carries', async () => {
      const table = parseTable(await ok(['get', 'pv', 'nfs-pv']));
      assert.equal(table.rows.length, 1);
      assert.equal(table.rows[0].NAME, 'nfs-pv');
      assert.equal(table.rows[0].STATUS, await jsonpath(['get', 'pv', 'nfs-pv'], '{.status.phase}'));
    });

    it('3-4 quantities are stored in canonical form (1024Mi reads back as 1Gi)', async () => {
      const out = await ok(['create', '-f', fixture('quantities.yaml')]);
      assert.equal(out.trim().split('\n').length, 4, out);
      const rows: { claim: string; written: string; read: string }[] = [
        { claim: 'q-1024mi', written: '1024Mi', read: '1Gi' },
        { claim: 'q-1-5gi', written: '1.5Gi', read: '1536Mi' },
        { claim: 'q-1000m', written: '1000M', read: '1G' },
        { claim: 'q-1000mi', written: '1000Mi', read: '1000Mi' },
      ];
      for (const r of rows) {
        assert.equal(await jsonpath(['get', 'pvc', r.claim], '{.spec.resources.requests.storage}'), r.read, `${r.written} → ${r.read}`);
      }
      const yamlOut = parseYaml(await ok(['get', 'pvc', 'q-1024mi', '-o', 'yaml'])) as { spec: { resources: { requests: { storage: string } } } };
      assert.equal(yamlOut.spec.resources.requests.storage, '1Gi');
    });

    it('3-5 -o json is the full object', async () => {
      const pv = JSON.parse(await ok(['get', 'pv', 'nfs-pv', '-o', 'json'])) as PvJson;
      assert.equal(pv.apiVersion, 'v1');
      assert.equal(pv.kind, 'PersistentVolume');
      assert.equal(pv.metadata.name, 'nfs-pv');
      assert.deepEqual(pv.metadata.labels, { app: 'nfs' });
      assert.equal(typeof pv.metadata.uid, 'string');
      assert.match(pv.metadata.resourceVersion, /^\d+$/);
      assert.match(pv.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.deepEqual(pv.spec.capacity, { storage: '5Gi' });
      assert.deepEqual(pv.spec.accessModes, ['ReadWriteOnce']);
      assert.equal(pv.spec.persistentVolumeReclaimPolicy, 'Recycle');
      assert.equal(pv.spec.volumeMode, 'Filesystem');
      assert.deepEqual(pv.spec.mountOptions, ['hard', 'nfsvers=4.2']);
      assert.deepEqual(pv.spec.nfs, { path: '/mnt/nfs_share', server: '192.168.3.103' });
      assert.equal(pv.status.phase, pvPhase);
    });

    it('3-6 -o yaml is the same object as -o json', async () => {
      const asJson = JSON.parse(await ok(['get', 'pv', 'nfs-pv', '-o', 'json'])) as unknown;
      const asYaml = parseYaml(await ok(['get', 'pv', 'nfs-pv', '-o', 'yaml'])) as unknown;
      assert.deepEqual(asYaml, asJson);
    });

    it('3-7 -o wide adds the VOLUMEMODE column', async () => {
      const pv = parseTable(await ok(['get', 'pv', '-o', 'wide']));
      assert.equal(pv.headers.at(-1), 'VOLUMEMODE');
      assert.equal(pv.headers.length, 11);
      assert.equal(rowNamed(pv, 'nfs-pv').VOLUMEMODE, 'Filesystem');
      assert.equal(rowNamed(pv, 'nfs-pv').CAPACITY, '5Gi');
      const pvc = parseTable(await ok(['get', 'pvc', 'nfs-pvc', '-o', 'wide']));
      assert.equal(pvc.headers.at(-1), 'VOLUMEMODE');
      assert.equal(rowNamed(pvc, 'nfs-pvc').VOLUMEMODE, 'Filesystem');
      assert.equal(rowNamed(pvc, 'nfs-pvc').STORAGECLASS, 'slow');
    });

    const formats: { name: string; args: string[]; want: string }[] = [
      { name: '-o name', args: ['get', 'pv', '-o', 'name'], want: 'persistentvolume/nfs-pv\npersistentvolume/other-pv' },
      { name: '-o name across types', args: ['get', 'pv,sc', '-o', 'name'], want: 'persistentvolume/nfs-pv\npersistentvolume/other-pv\nstorageclass.storage.k8s.io/nfs-storage' },
      { name: '-o jsonpath', args: ['get', 'pv', 'nfs-pv', '-o', 'jsonpath={.spec.capacity.storage}'], want: '5Gi' },
      { name: '-o jsonpath over a list', args: ['get', 'pv', '-o', 'jsonpath={.items[*].metadata.name}'], want: 'nfs-pv other-pv' },
      {
        name: '-o custom-columns',
        args: ['get', 'pv', 'nfs-pv', '-o', 'custom-columns=NAME:.metadata.name,SIZE:.spec.capacity.storage,SERVER:.spec.nfs.server,CLASS:.spec.storageClassName'],
        want: 'NAME     SIZE   SERVER          CLASS\nnfs-pv   5Gi    192.168.3.103   slow',
      },
      { name: '-l app=nfs', args: ['get', 'pv', '-l', 'app=nfs', '-o', 'name'], want: 'persistentvolume/nfs-pv' },
      { name: '-l app!=nfs', args: ['get', 'pv', '-l', 'app!=nfs', '-o', 'name'], want: 'persistentvolume/other-pv' },
      { name: '-l set-based', args: ['get', 'pv', '-l', 'app in (nfs,other)', '-o', 'name'], want: 'persistentvolume/nfs-pv\npersistentvolume/other-pv' },
      { name: '--field-selector metadata.name', args: ['get', 'pv', '--field-selector', 'metadata.name=nfs-pv', '-o', 'name'], want: 'persistentvolume/nfs-pv' },
      { name: '--field-selector metadata.name!=', args: ['get', 'pv', '--field-selector', 'metadata.name!=nfs-pv', '-o', 'name'], want: 'persistentvolume/other-pv' },
      { name: '--chunk-size=1', args: ['get', 'pv', '--chunk-size=1', '-o', 'name'], want: 'persistentvolume/nfs-pv\npersistentvolume/other-pv' },
    ];
    for (const f of formats) {
      it(`3-8 kubectl get ${f.name}`, async () => {
        assert.equal((await ok(f.args)).trimEnd(), f.want);
      });
    }

    it('3-9 a selector matching nothing prints "No resources found" on stderr', async () => {
      const r = await cluster.kubectl(['get', 'pv', '-l', 'app=nothing'], { allowFail: true });
      assert.equal(r.code, 0);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^No resources found$/m);
      const ns = await cluster.kubectl(['get', 'pvc', '-n', 'no-such-namespace'], { allowFail: true });
      assert.equal(ns.code, 0);
      assert.match(ns.stderr, /No resources found in no-such-namespace namespace\./);
    });

    const badSelectors: { name: string; args: string[]; want: string }[] = [
      {
        name: 'an unknown field selector on PVs',
        args: ['get', 'pv', '--field-selector', 'spec.foo=bar'],
        want: 'Error from server (BadRequest): Unable to find "/v1, Resource=persistentvolumes" that match label selector "", field selector "spec.foo=bar": "spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
      },
      {
        name: 'an unknown field selector on pods',
        args: ['get', 'pods', '--field-selector', 'spec.foo=x'],
        want: 'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.foo=x": field label not supported: spec.foo',
      },
    ];
    for (const b of badSelectors) {
      it(`3-10 ${b.name} is a 400 with the apiserver's message`, async () => {
        const stderr = await fails(b.args);
        assert.ok(stderr.split('\n').includes(b.want), `want line:\n${b.want}\ngot:\n${stderr}`);
      });
    }

    it('3-11 -A adds the NAMESPACE column and lists every namespace', async () => {
      const table = parseTable(await ok(['get', 'pvc', '-A']));
      assert.deepEqual(table.headers.slice(0, 3), ['NAMESPACE', 'NAME', 'STATUS']);
      assert.equal(rowNamed(table, 'nfs-pvc').NAMESPACE, 'default');
      assert.equal(rowNamed(table, 'team-a-data').NAMESPACE, 'team-a');
      const keys = table.rows.map((r) => `${r.NAMESPACE}/${r.NAME}`);
      assert.deepEqual(keys, [...keys].sort(), 'ordered by namespace, then name');
    });

    it('3-12 --chunk-size=1 pages through the list and prints the same rows', async () => {
      const whole = parseTable(await ok(['get', 'pvc', '-A']));
      const chunked = parseTable(await ok(['get', 'pvc', '-A', '--chunk-size=1']));
      assert.deepEqual(
        chunked.rows.map((r) => `${r.NAMESPACE}/${r.NAME}`),
        whole.rows.map((r) => `${r.NAMESPACE}/${r.NAME}`),
      );
      assert.ok(chunked.rows.length >= 6, `expected all claims, got ${chunked.rows.length}`);
    });

    it('3-13 --show-labels and -L print the labels', async () => {
      const shown = parseTable(await ok(['get', 'pv', '--show-labels']));
      assert.equal(shown.headers.at(-1), 'LABELS');
      assert.equal(rowNamed(shown, 'nfs-pv').LABELS, 'app=nfs');
      assert.equal(rowNamed(shown, 'other-pv').LABELS, 'app=other');
      const column = parseTable(await ok(['get', 'pv', '-L', 'app']));
      assert.equal(column.headers.at(-1), 'APP');
      assert.equal(rowNamed(column, 'nfs-pv').APP, 'nfs');
    });

    it('3-14 --sort-by sorts by a field of the full objects', async () => {
      const out = await ok(['get', 'pvc', '--sort-by=.spec.resources.requests.storage', '-o', 'name']);
      const names = out.trim().split('\n');
      assert.ok(names.indexOf('persistentvolumeclaim/q-1000mi') < names.indexOf('persistentvolumeclaim/nfs-pvc'), out);
      const table = parseTable(await ok(['get', 'pv', '--sort-by=.metadata.name']));
      assert.deepEqual(table.rows.map((r) => r.NAME), ['nfs-pv', 'other-pv']);
    });

    it('3-15 kubectl describe pv shows the PV fields and an Events line', async () => {
      const out = await ok(['describe', 'pv', 'nfs-pv']);
      const expectLines: RegExp[] = [
        /^Name:\s+nfs-pv$/m,
        /^Labels:\s+app=nfs$/m,
        /^StorageClass:\s+slow$/m,
        new RegExp(`^Status:\\s+${pvPhase}$`, 'm'),
        /^Reclaim Policy:\s+Recycle$/m,
        /^Access Modes:\s+RWO$/m,
        /^VolumeMode:\s+Filesystem$/m,
        /^Capacity:\s+5Gi$/m,
        /^Source:$/m,
        /^\s+Type:\s+NFS \(an NFS mount that lasts the lifetime of a pod\)$/m,
        /^\s+Server:\s+192\.168\.3\.103$/m,
        /^\s+Path:\s+\/mnt\/nfs_share$/m,
        /^Events:/m,
      ];
      for (const re of expectLines) assert.match(out, re);
    });

    it('3-16 kubectl describe pvc and sc work', async () => {
      const pvc = await ok(['describe', 'pvc', 'nfs-pvc']);
      assert.match(pvc, /^Name:\s+nfs-pvc$/m);
      assert.match(pvc, /^Namespace:\s+default$/m);
      assert.match(pvc, /^StorageClass:\s+slow$/m);
      assert.match(pvc, new RegExp(`^Status:\\s+${pvcPhase}$`, 'm'));
      assert.match(pvc, /^Events:/m);
      const sc = await ok(['describe', 'sc', 'nfs-storage']);
      assert.match(sc, /^Name:\s+nfs-storage$/m);
      assert.match(sc, /^IsDefaultClass:\s+Yes$/m);
      assert.match(sc, /^Provisioner:\s+nfs-client$/m);
      assert.match(sc, /^Parameters:\s+archiveOnDelete=true$/m);
      assert.match(sc, /^MountOptions:/m);
    });
  });

  // ---- 4. watching -------------------------------------------------------------------------------

  describe('get -w', () => {
    it('4-1 kubectl get pvc -w prints the list, then a line per later change', async () => {
      const w = spawnKubectl([...connect, '-v=6', 'get', 'pvc', '-w']);
      try {
        await waitFor('the initial list and an open watch', () => linesStartingWith(w.stdout(), 'nfs-pvc').length === 1 && watchOpened(w), { timeoutMs: 20_000 });
        assert.match(w.stdout(), /^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+AGE$/m);

        assert.equal((await ok(['label', 'pvc', 'nfs-pvc', 'watched=yes'])).trim(), 'persistentvolumeclaim/nfs-pvc labeled');
        await waitFor('a line for the labelled claim', () => linesStartingWith(w.stdout(), 'nfs-pvc').length === 2, { timeoutMs: 10_000 });

        assert.equal((await ok(['create', '-f', fixture('watch-pvc.yaml')])).trim(), 'persistentvolumeclaim/watch-new created');
        const line = await waitFor('a line for the new claim', () => linesStartingWith(w.stdout(), 'watch-new')[0], { timeoutMs: 10_000 });
        assert.match(line, /^watch-new\s+Pending\s+quantity-test\s+<unset>\s+\d+s$/);
        assert.equal(w.proc.exitCode, null, `the watch ended early:\n${w.stderr()}`);
      } finally {
        await stop(w);
      }
    });

    it('4-2 kubectl get pvc NAME -w prints the object, then its next change', async () => {
      const w = spawnKubectl([...connect, '-v=6', 'get', 'pvc', 'nfs-pvc', '-w']);
      try {
        await waitFor('the object and an open watch', () => linesStartingWith(w.stdout(), 'nfs-pvc').length === 1 && watchOpened(w), { timeoutMs: 20_000 });
        // kubectl drops the first watch event, expecting the synthetic ADDED a resourceVersion=0
        // watch starts with; this single change is only printed if the server sent it.
        await ok(['label', 'pvc', 'nfs-pvc', 'watched=again', '--overwrite']);
        await waitFor('a line for the change', () => linesStartingWith(w.stdout(), 'nfs-pvc').length === 2, { timeoutMs: 10_000 });
        assert.equal(linesStartingWith(w.stdout(), 'watch-new').length, 0, 'a single-object watch shows only that object');
      } finally {
        await stop(w);
      }
    });

    it('4-3 --output-watch-events labels each line with its event type', async () => {
      const w = spawnKubectl([...connect, '-v=6', 'get', 'cm', '-w', '--output-watch-events']);
      try {
        await waitFor('an open watch', () => watchOpened(w), { timeoutMs: 20_000 });
        assert.equal((await ok(['create', '-f', fixture('watched-configmap.yaml')])).trim(), 'configmap/watched-cm created');
        await waitFor('an ADDED line', () => /^ADDED\s+watched-cm\s+1\s/m.test(w.stdout()), { timeoutMs: 10_000 });
        await ok(['label', 'cm', 'watched-cm', 'watched=yes']);
        await waitFor('a MODIFIED line', () => /^MODIFIED\s+watched-cm\s+1\s/m.test(w.stdout()), { timeoutMs: 10_000 });
        assert.equal((await ok(['delete', 'cm', 'watched-cm'])).trim(), 'configmap "watched-cm" deleted');
        await waitFor('a DELETED line', () => /^DELETED\s+watched-cm\s+1\s/m.test(w.stdout()), { timeoutMs: 10_000 });
      } finally {
        await stop(w);
      }
    });
  });

  // ---- 5. deleting, finalizers, wait ---------------------------------------------------------------

  describe('delete and finalizers', () => {
    it('5-1 a ConfigMap with a finalizer is only marked for deletion until a merge patch drops the finalizer', async () => {
      assert.equal((await ok(['create', '-f', fixture('held-configmap.yaml')])).trim(), 'configmap/held-cm created');
      assert.equal((await ok(['delete', 'cm', 'held-cm', '--wait=false'])).trim(), 'configmap "held-cm" deleted');
      assert.notEqual(await jsonpath(['get', 'cm', 'held-cm'], '{.metadata.deletionTimestamp}'), '');
      assert.equal(await jsonpath(['get', 'cm', 'held-cm'], '{.metadata.finalizers}'), '["example.com/hold"]');
      assert.equal(await jsonpath(['get', 'cm', 'held-cm'], '{.data.k}'), 'v');

      assert.equal((await ok(['patch', 'cm', 'held-cm', '--type=merge', '-p', '{"metadata":{"finalizers":null}}'])).trim(), 'configmap/held-cm patched');
      const stderr = await fails(['get', 'cm', 'held-cm']);
      assert.match(stderr, /Error from server \(NotFound\): configmaps "held-cm" not found/);
    });

    it('5-2 a PVC with a finalizer is Terminating, kubectl wait --for=delete returns once a strategic patch drops it', async () => {
      assert.equal((await ok(['create', '-f', fixture('held-pvc.yaml')])).trim(), 'persistentvolumeclaim/held-pvc created');
      assert.equal((await ok(['delete', 'pvc', 'held-pvc', '--wait=false'])).trim(), 'persistentvolumeclaim "held-pvc" deleted');
      assert.notEqual(await jsonpath(['get', 'pvc', 'held-pvc'], '{.metadata.deletionTimestamp}'), '');
      assert.equal(rowNamed(parseTable(await ok(['get', 'pvc', 'held-pvc'])), 'held-pvc').STATUS, 'Terminating');

      const waiter = spawnKubectl([...connect, '-v=6', 'wait', '--for=delete', 'pvc/held-pvc', '--timeout=20s']);
      try {
        await waitFor('kubectl wait to open its watch', () => watchOpened(waiter) || waiter.proc.exitCode !== null, { timeoutMs: 15_000 });
        assert.equal(waiter.proc.exitCode, null, `kubectl wait returned while the PVC still exists:\n${waiter.stdout()}${waiter.stderr()}`);

        // Default patch type: strategic merge; null removes the whole list.
        assert.equal((await ok(['patch', 'pvc', 'held-pvc', '-p', '{"metadata":{"finalizers":null}}'])).trim(), 'persistentvolumeclaim/held-pvc patched');
        const code = await waitFor('kubectl wait to exit', () => (waiter.proc.exitCode === null ? undefined : waiter.proc.exitCode), { timeoutMs: 15_000 });
        assert.equal(code, 0, waiter.stderr());
        assert.equal(waiter.stdout().trim(), 'persistentvolumeclaim/held-pvc condition met');
      } finally {
        await stop(waiter);
      }
      const stderr = await fails(['get', 'pvc', 'held-pvc']);
      assert.match(stderr, /Error from server \(NotFound\): persistentvolumeclaims "held-pvc" not found/);
    });

    it('5-3 kubectl wait --for=delete times out while the object exists', async () => {
      assert.equal((await ok(['create', '-f', fixture('held-configmap.yaml')])).trim(), 'configmap/held-cm created');
      try {
        const stderr = await fails(['wait', '--for=delete', 'cm/held-cm', '--timeout=2s']);
        assert.match(stderr, /error: timed out waiting for the condition on configmaps\/held-cm/);
      } finally {
        await ok(['patch', 'cm', 'held-cm', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
        await ok(['delete', 'cm', 'held-cm']);
      }
    });
  });

  // ---- 6. errors kubectl prints ----------------------------------------------------------------------

  describe('errors', () => {
    const staleReplaces: { name: string; kind: string; file: string; change: string[]; qualified: string }[] = [
      {
        name: 'a StorageClass',
        kind: 'sc/nfs-storage',
        file: 'stale-sc.json',
        change: ['label', 'sc', 'nfs-storage', 'touched=1'],
        qualified: 'storageclasses.storage.k8s.io "nfs-storage"',
      },
      {
        name: 'a PersistentVolume',
        kind: 'pv/other-pv',
        file: 'stale-pv.json',
        change: ['annotate', 'pv', 'other-pv', 'touched=1'],
        qualified: 'persistentvolumes "other-pv"',
      },
    ];
    for (const s of staleReplaces) {
      it(`6-1 kubectl replace -f with a stale resourceVersion of ${s.name} is a Conflict`, async () => {
        const stale = await ok(['get', s.kind, '-o', 'json']);
        const path = join(scratch, s.file);
        await writeFile(path, stale);
        await ok(s.change);
        const stderr = await fails(['replace', '-f', path]);
        const want = `Error from server (Conflict): error when replacing "${path}": Operation cannot be fulfilled on ${s.qualified}: the object has been modified; please apply your changes to the latest version and try again`;
        assert.ok(stderr.split('\n').includes(want), `want line:\n${want}\ngot:\n${stderr}`);
      });
    }

    it('6-2 kubectl replace -f with the current resourceVersion succeeds', async () => {
      const current = JSON.parse(await ok(['get', 'sc', 'nfs-storage', '-o', 'json'])) as { metadata: { labels: Record<string, string> } };
      current.metadata.labels.replaced = 'yes';
      const path = join(scratch, 'current-sc.json');
      await writeFile(path, JSON.stringify(current));
      assert.equal((await ok(['replace', '-f', path])).trim(), 'storageclass.storage.k8s.io/nfs-storage replaced');
      assert.equal(await jsonpath(['get', 'sc', 'nfs-storage'], '{.metadata.labels.replaced}'), 'yes');
    });

    it('6-3 a PV without capacity is Invalid with a spec.capacity cause', async () => {
      const stderr = await fails(['create', '-f', fixture('pv-no-capacity.yaml')]);
      assert.match(stderr, /^The PersistentVolume "bad-pv" is invalid: /m);
      assert.match(stderr, /(: |^\* )spec\.capacity: Required value$/m);
      await fails(['get', 'pv', 'bad-pv']);
    });

    it('6-4 a StorageClass without provisioner is Invalid', async () => {
      const stderr = await fails(['create', '-f', fixture('sc-no-provisioner.yaml')]);
      assert.ok(stderr.split('\n').includes('The StorageClass "bad-sc" is invalid: provisioner: Required value'), stderr);
    });

    // Same server and CA, but no credentials the server accepts. (A user entry with no
    // credentials at all makes kubectl prompt for a basic-auth password on the terminal, which it
    // cannot read from a pipe, so the first row writes a made-up user and password into the file;
    // a request with no credentials at all is covered by bad-requests.test.ts.)
    const strangers: { name: string; user: () => Promise<Record<string, string>> }[] = [
      { name: 'a user name and password', user: async () => ({ username: 'mallory', password: 'secret' }) },
      { name: 'an unknown bearer token', user: async () => ({ token: 'not-a-volplane-token' }) },
      {
        name: 'a client certificate for admin signed by another CA',
        user: async () => {
          const foreignCa = await createCertificateAuthority({ commonName: 'not-volplane' });
          const cert = await issueClientCertificate(foreignCa, { user: 'admin', groups: ['system:masters'] });
          return {
            'client-certificate-data': Buffer.from(cert.cert).toString('base64'),
            'client-key-data': Buffer.from(cert.key).toString('base64'),
          };
        },
      },
    ];
    strangers.forEach((stranger, i) => {
      it(`6-5 a kubeconfig with ${stranger.name} is Unauthorized`, async () => {
        const config = parseYaml(await readFile(cluster.kubeconfigPath, 'utf8')) as {
          users: { name: string; user: Record<string, string> }[];
        };
        const user = await stranger.user();
        for (const u of config.users) u.user = user;
        const path = join(scratch, `stranger-${i}.kubeconfig`);
        await writeFile(path, stringifyYaml(config), { mode: 0o600 });

        // Without a discovery cache the 401 comes on discovery, whose raw-body error path
        // kubectl 1.32 reports with client-go's generic 401 text.
        const cold = await runKubectl([`--kubeconfig=${path}`, `--cache-dir=${join(scratch, `stranger-${i}-cache`)}`, 'get', 'pv']);
        assert.notEqual(cold.code, 0);
        assert.doesNotMatch(cold.stdout, /NAME|nfs-pv/);
        assert.ok(
          cold.stderr.split('\n').includes('error: You must be logged in to the server (the server has asked for the client to provide credentials)'),
          `stdout:\n${cold.stdout}\nstderr:\n${cold.stderr}`,
        );

        // With discovery cached (by an admin run), the list request itself gets the 401 and
        // kubectl prints the server's Status message.
        const warmCache = join(scratch, `stranger-${i}-warm-cache`);
        const admin = await runKubectl([`--cache-dir=${warmCache}`, 'get', 'pv', '-o', 'name']);
        assert.equal(admin.code, 0, admin.stderr);
        const warm = await runKubectl([`--kubeconfig=${path}`, `--cache-dir=${warmCache}`, 'get', 'pv']);
        assert.notEqual(warm.code, 0);
        assert.doesNotMatch(warm.stdout, /NAME|nfs-pv/);
        assert.ok(warm.stderr.split('\n').includes('error: You must be logged in to the server (Unauthorized)'), `stdout:\n${warm.stdout}\nstderr:\n${warm.stderr}`);
      });
    });

    it('6-6 kubectl get of an unknown resource type', async () => {
      const stderr = await fails(['get', 'widgets']);
      assert.match(stderr, /error: the server doesn't have a resource type "widgets"/);
    });
  });

  // ---- 7. deleting the seed's PV -----------------------------------------------------------------------

  describe('delete pv', () => {
    it('7-1 kubectl delete pv nfs-pv, then get is NotFound', async () => {
      assert.equal((await ok(['delete', 'pv', 'nfs-pv', '--timeout=30s'])).trim(), 'persistentvolume "nfs-pv" deleted');
      const stderr = await fails(['get', 'pv', 'nfs-pv']);
      assert.ok(stderr.split('\n').includes('Error from server (NotFound): persistentvolumes "nfs-pv" not found'), stderr);
      assert.equal((await ok(['get', 'pv', '-o', 'name'])).trim(), 'persistentvolume/other-pv');
    });

    it('7-2 kubectl delete of a missing object is NotFound', async () => {
      const stderr = await fails(['delete', 'pv', 'nfs-pv']);
      assert.ok(stderr.split('\n').includes('Error from server (NotFound): persistentvolumes "nfs-pv" not found'), stderr);
    });
  });

  // ---- 8. other write paths kubectl users hit ------------------------------------------------------------

  describe('other writes', () => {
    const writes: { name: string; args: string[]; printed: string; check?: { args: string[]; path: string; want: string } }[] = [
      {
        name: 'patch --type=json',
        args: ['patch', 'pv', 'other-pv', '--type=json', '-p', '[{"op":"replace","path":"/spec/persistentVolumeReclaimPolicy","value":"Delete"}]'],
        printed: 'persistentvolume/other-pv patched',
        check: { args: ['get', 'pv', 'other-pv'], path: '{.spec.persistentVolumeReclaimPolicy}', want: 'Delete' },
      },
      {
        name: 'a merge patch that changes nothing',
        args: ['patch', 'pv', 'other-pv', '--type=merge', '-p', '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}'],
        printed: 'persistentvolume/other-pv patched (no change)',
      },
      {
        name: 'label',
        args: ['label', 'pv', 'other-pv', 'tier=gold'],
        printed: 'persistentvolume/other-pv labeled',
        check: { args: ['get', 'pv', 'other-pv'], path: '{.metadata.labels.tier}', want: 'gold' },
      },
      {
        name: 'annotate',
        args: ['annotate', 'pvc', 'nfs-pvc', 'example.com/note=hello'],
        printed: 'persistentvolumeclaim/nfs-pvc annotated',
        check: { args: ['get', 'pvc', 'nfs-pvc'], path: "{.metadata.annotations.example\\.com/note}", want: 'hello' },
      },
      {
        name: 'apply --server-side of a new object',
        args: ['apply', '--server-side', '-f', fixture('ssa-pvc.yaml')],
        printed: 'persistentvolumeclaim/ssa-pvc serverside-applied',
        check: { args: ['get', 'pvc', 'ssa-pvc'], path: '{.spec.resources.requests.storage}', want: '3Gi' },
      },
      {
        name: 'apply --server-side again',
        args: ['apply', '--server-side', '-f', fixture('ssa-pvc.yaml')],
        printed: 'persistentvolumeclaim/ssa-pvc serverside-applied',
        check: { args: ['get', 'pvc', 'ssa-pvc'], path: '{.metadata.labels.applied}', want: 'server-side' },
      },
      {
        name: 'create --dry-run=server stores nothing',
        args: ['create', '--dry-run=server', '-f', fixture('dry-run-pvc.yaml')],
        printed: 'persistentvolumeclaim/dry-run-pvc created (server dry run)',
      },
      {
        // Imperative generators send protobuf bodies (k8s-api-compat §8.7).
        name: 'create namespace (protobuf body)',
        args: ['create', 'namespace', 'team-b'],
        printed: 'namespace/team-b created',
        check: { args: ['get', 'ns', 'team-b'], path: '{.status.phase}', want: 'Active' },
      },
      {
        name: 'create configmap --from-literal (protobuf body)',
        args: ['create', 'configmap', 'generated-cm', '--from-literal=greeting=hello'],
        printed: 'configmap/generated-cm created',
        check: { args: ['get', 'cm', 'generated-cm'], path: '{.data.greeting}', want: 'hello' },
      },
    ];
    for (const w of writes) {
      it(`8-1 kubectl ${w.name}`, async () => {
        assert.equal((await ok(w.args)).trim(), w.printed);
        if (w.check) assert.equal(await jsonpath(w.check.args, w.check.path), w.check.want);
      });
    }

    it('8-2 the server dry run left nothing behind', async () => {
      const stderr = await fails(['get', 'pvc', 'dry-run-pvc']);
      assert.match(stderr, /Error from server \(NotFound\): persistentvolumeclaims "dry-run-pvc" not found/);
    });

    it('8-3 a server dry run create of an existing object is AlreadyExists, like the real one', async () => {
      const file = fixture('nfs-pvc.yaml');
      const stderr = await fails(['create', '--dry-run=server', '-f', file]);
      assert.ok(
        stderr.split('\n').includes(`Error from server (AlreadyExists): error when creating "${file}": persistentvolumeclaims "nfs-pvc" already exists`),
        stderr,
      );
    });

    it('8-4 kubectl get events answers (an empty list is fine)', async () => {
      const r = await cluster.kubectl(['get', 'events', '-A'], { allowFail: true });
      assert.equal(r.code, 0, r.stderr);
      if (r.stdout !== '') assert.deepEqual(parseTable(r.stdout).headers, ['NAMESPACE', 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
      else assert.match(r.stderr, /No resources found/);
    });
  });
});
