// The PV controller's test framework (upstream's framework_test.go, on a real
// API server): a row is a small world — volumes, claims, classes and pods
// before; the controller runs until the world matches the volumes, claims
// and events expected after (and, unless the row expects endless retries,
// until it is idle). Upstream calls syncClaim/syncVolume once; we run the
// whole controller, so rows state the converged world, and say so where that
// differs from upstream's single-sync expectation.
//
// Rows run one after another against one in-process cluster per test file,
// each in a fresh namespace, with a fresh controller started after its world
// was written (so the controller meets half-written states exactly as a
// restarted controller would). Afterwards every PV, the row's claims and
// classes are removed (finalizers stripped), so the next row sees only its own
// volumes. Claim uids are the server's: rows name them symbolically.

import assert from 'node:assert/strict';
import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import type {
  PersistentVolume,
  PersistentVolumeAccessMode,
  PersistentVolumeClaim,
  PersistentVolumeClaimPhase,
  PersistentVolumePhase,
  StorageClass,
  VolumeSources,
} from '../../api/core/volume-types.ts';
import { PV_DELETION_IN_TREE_PROTECTION_FINALIZER } from '../../api/core/volume-types.ts';
import { silentLogger, TimeoutError, waitFor } from '../../base/index.ts';
import {
  ApiError,
  EventRecorder,
  RestClient,
  SharedInformerFactory,
  resourcePath,
  resources,
  type CoreEvent,
} from '../../client/index.ts';
import { startControllerEnv, type TestCluster } from '../../testing/index.ts';
import { DeleteError, ProvisionError, type ProvisionOptions, type ProvisionedVolume, type Provisioner } from '../../volume/provisioner.ts';
import { PersistentVolumeController } from './pv-controller.ts';
import type { Recycler } from './recycler.ts';

export const OTHER_UID = '00000000-0000-4000-8000-000000000000';
export const FAKE_PROVISIONER = 'volplane.io/test';
/** A volume name resolved to `pvc-<uid of the claim>`. */
export const pvcVolume = (claim: string): string => `$pvc:${claim}`;

export interface RowVolume {
  name: string;
  size?: string;
  /** claimRef.name; the claimRef is in the row's namespace. */
  claim?: string;
  /** claimRef.uid: the named claim's, another's, or none (pre-bound by name). Default 'claim'. */
  uid?: 'claim' | 'other' | 'none';
  phase?: PersistentVolumePhase;
  policy?: string;
  klass?: string;
  ann?: Record<string, string>;
  labels?: Record<string, string>;
  volumeMode?: 'Filesystem' | 'Block';
  modes?: PersistentVolumeAccessMode[];
  source?: VolumeSources;
  finalizers?: string[];
  node?: string;
}

export interface RowClaim {
  name: string;
  size?: string;
  volumeName?: string;
  phase?: PersistentVolumeClaimPhase;
  /** undefined: no class set (nil); '' or a name: set. */
  klass?: string;
  ann?: Record<string, string>;
  selector?: Record<string, string>;
  modes?: PersistentVolumeAccessMode[];
  volumeMode?: 'Filesystem' | 'Block';
}

export type ExpectedVolume =
  | {
      name: string;
      phase: PersistentVolumePhase;
      claim?: string;
      uid?: 'claim' | 'other' | 'none';
      ann?: Record<string, string>;
      /** Whether the kubernetes.io/pv-controller finalizer is there (unchecked when undefined). */
      finalizer?: boolean;
      message?: string;
      policy?: string;
    }
  | { name: string; gone: true };

export interface ExpectedClaim {
  name: string;
  phase: PersistentVolumeClaimPhase;
  volumeName?: string;
  ann?: Record<string, string>;
  capacity?: string;
  /** Checked when present: the class the claim ends with. */
  klass?: string;
}

export interface Row {
  name: string;
  volumes?: RowVolume[];
  claims?: RowClaim[];
  classes?: StorageClass[];
  pods?: { name: string; claim: string; nodeName?: string }[];
  expectedVolumes: ExpectedVolume[];
  expectedClaims: ExpectedClaim[];
  /** `Type Reason` of every distinct event on the row's objects, in any order. */
  events: string[];
  /** Exact messages that must be among the events. */
  eventMessages?: string[];
  /** False for rows whose controller retries forever (an error injected for good). */
  idle?: boolean;
  /** The fake in-tree provisioner's script for this row. */
  provisioner?: FakeProvisionerScript;
  /** Failures of PV creates the API client injects (the first n fail). */
  failVolumeCreates?: number;
  /**
   * The controller's client, made from the shared one (to watch or disturb
   * what the controller sends); closed after the row when it is another client.
   */
  client?: (base: RestClient) => RestClient;
  /** Claim and volume workers of the row's controller (default: the controller's defaults). */
  workers?: { claim?: number; volume?: number };
  recycler?: Recycler;
  /** Runs after the world is written and the controller started. */
  action?: (world: World) => Promise<void>;
  /** Extra checks once converged. */
  check?: (world: World) => Promise<void> | void;
}

// ---------------------------------------------------------------------------
// Host-boundary fakes

export interface FakeProvisionerScript {
  /** Outcomes of successive provision calls ('fail' throws); later calls succeed. */
  provision?: ('ok' | 'fail')[];
  delete?: ('ok' | 'fail')[];
  provisionAlwaysFails?: boolean;
  deleteAlwaysFails?: boolean;
}

/** A provisioner that keeps its volumes in memory and fails when told to. */
export class FakeProvisioner implements Provisioner {
  readonly name: string;
  readonly volumes = new Set<string>();
  provisionCalls: ProvisionOptions[] = [];
  deleteCalls: string[] = [];
  #script: FakeProvisionerScript = {};

  constructor(name = FAKE_PROVISIONER) {
    this.name = name;
  }

  reset(script: FakeProvisionerScript = {}): void {
    this.#script = { ...script, provision: [...(script.provision ?? [])], delete: [...(script.delete ?? [])] };
    this.provisionCalls = [];
    this.deleteCalls = [];
    this.volumes.clear();
  }

  async provision(options: ProvisionOptions): Promise<ProvisionedVolume> {
    this.provisionCalls.push(options);
    if (this.#script.provisionAlwaysFails === true || this.#script.provision?.shift() === 'fail') {
      throw new ProvisionError(this.name, 'Mock provisioning error');
    }
    this.volumes.add(options.pvName);
    const node = options.selectedNode;
    return {
      source: { hostPath: { path: `/tmp/volplane-fake/${options.pvName}` } },
      capacity: options.claim.spec.resources?.requests?.storage ?? '1Gi',
      ...(node === undefined
        ? {}
        : { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } } }),
    };
  }

  async delete(pv: PersistentVolume): Promise<void> {
    const name = pv.metadata.name ?? '';
    this.deleteCalls.push(name);
    if (this.#script.deleteAlwaysFails === true || this.#script.delete?.shift() === 'fail') throw new DeleteError(this.name, name, 'Mock delete error');
    this.volumes.delete(name);
  }
}

/** The real client, except that the first `failures` PV creates fail as a server error. */
class FlakyClient extends RestClient {
  #failures: number;
  constructor(base: RestClient, failures: number) {
    super(base.config);
    this.#failures = failures;
  }
  override create<T = KubeObject>(path: string, body: unknown): Promise<T> {
    if (path.endsWith('/persistentvolumes') && this.#failures > 0) {
      this.#failures--;
      return Promise.reject(new ApiError(500, undefined, 'Mock creation error'));
    }
    return super.create<T>(path, body);
  }
}

// ---------------------------------------------------------------------------
// The harness

export interface Harness {
  cluster: TestCluster;
  client: RestClient;
  provisioner: FakeProvisioner;
  close(): Promise<void>;
}

/** The cluster and client the rows share; each row starts a controller of its own (newRowController). */
export async function startHarness(): Promise<Harness> {
  const env = await startControllerEnv();
  return { cluster: env.cluster, client: env.client, provisioner: new FakeProvisioner(), close: () => env.close() };
}

/** A row's world as written: names resolved and uids known. */
export interface World {
  namespace: string;
  client: RestClient;
  provisioner: FakeProvisioner;
  claimUids: Map<string, string>;
  /** uid of every object the row created or found, for telling its events apart. */
  uids: Set<string>;
  resolveVolumeName(name: string): string;
  getVolume(name: string): Promise<PersistentVolume | undefined>;
  getClaim(name: string): Promise<PersistentVolumeClaim | undefined>;
}

let rowCounter = 0;

export async function runRow(h: Harness, row: Row, extraProvisioners: Provisioner[] = []): Promise<void> {
  const namespace = `row-${++rowCounter}-${row.name.split(' ')[0]!.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
  const client = h.client;
  h.provisioner.reset(row.provisioner);
  await client.create(resourcePath(resources.namespaces), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });

  const claimUids = new Map<string, string>();
  const uids = new Set<string>();
  const resolveVolumeName = (name: string): string => (name.startsWith('$pvc:') ? `pvc-${claimUids.get(name.slice(5)) ?? 'unknown'}` : name);
  const world: World = {
    namespace,
    client,
    provisioner: h.provisioner,
    claimUids,
    uids,
    resolveVolumeName,
    getVolume: (name) => getOrUndefined<PersistentVolume>(client, resourcePath(resources.persistentVolumes, undefined, resolveVolumeName(name))),
    getClaim: (name) => getOrUndefined<PersistentVolumeClaim>(client, resourcePath(resources.persistentVolumeClaims, namespace, name)),
  };

  let stop = async (): Promise<void> => {};
  try {
    await writeWorld(world, row);
    const run = newRowController(h, row, extraProvisioners);
    stop = run.stop;
    await run.start();
    if (row.action !== undefined) await row.action(world);
    const wantIdle = row.idle ?? true;
    let lastDiff = 'not checked yet';
    try {
      await waitFor(
        `row ${row.name}`,
        async () => {
          const diff = await diffWorld(world, row);
          lastDiff = diff ?? (wantIdle && !run.controller.isIdle() ? 'controller not idle' : '');
          return lastDiff === '';
        },
        { timeoutMs: 15_000, intervalMs: 25 },
      );
    } catch (err) {
      if (err instanceof TimeoutError) assert.fail(`row ${JSON.stringify(row.name)} did not converge: ${lastDiff}`);
      throw err;
    }
    await row.check?.(world);
  } finally {
    await stop();
    await cleanUp(client, namespace, row);
  }
}

/** Writes the row's world: classes, claims (then their status), volumes (then theirs), pods. */
async function writeWorld(world: World, row: Row): Promise<void> {
  const { client, namespace, claimUids, uids } = world;
  for (const sc of row.classes ?? []) await client.create(resourcePath(resources.storageClasses), { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', ...sc });
  for (const c of row.claims ?? []) {
    const created = await client.create<PersistentVolumeClaim>(resourcePath(resources.persistentVolumeClaims, namespace), claimObject(c, namespace));
    claimUids.set(c.name, created.metadata.uid ?? '');
    uids.add(created.metadata.uid ?? '');
    if ((c.phase ?? 'Pending') !== 'Pending') {
      await client.update(resourcePath(resources.persistentVolumeClaims, namespace, c.name, 'status'), { ...created, status: { phase: c.phase } });
    }
  }
  for (const v of row.volumes ?? []) {
    const created = await client.create<PersistentVolume>(resourcePath(resources.persistentVolumes), volumeObject(v, namespace, claimUids, world.resolveVolumeName));
    uids.add(created.metadata.uid ?? '');
    if ((v.phase ?? 'Pending') !== 'Pending') {
      await client.update(resourcePath(resources.persistentVolumes, undefined, created.metadata.name, 'status'), { ...created, status: { phase: v.phase } });
    }
  }
  for (const p of row.pods ?? []) {
    await client.create(resourcePath(resources.pods, namespace), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: p.name, namespace },
      spec: {
        ...(p.nodeName === undefined ? {} : { nodeName: p.nodeName }),
        containers: [{ name: 'c', image: 'busybox' }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: p.claim } }],
      },
    });
  }
}

/** A controller of its own for one row (its own informers, recorder and, if asked, a failing client). */
function newRowController(
  h: Harness,
  row: Row,
  extraProvisioners: Provisioner[],
): { controller: PersistentVolumeController; start(): Promise<void>; stop(): Promise<void> } {
  const client =
    row.client?.(h.client) ?? (row.failVolumeCreates === undefined ? h.client : new FlakyClient(h.client, row.failVolumeCreates));
  const logger = silentLogger();
  const ac = new AbortController();
  const informers = new SharedInformerFactory({ client, logger });
  const recorder = new EventRecorder({ client, component: 'persistentvolume-controller', logger });
  const provisioners = new Map<string, Provisioner>([[h.provisioner.name, h.provisioner]]);
  for (const p of extraProvisioners) provisioners.set(p.name, p);
  const controller = new PersistentVolumeController(
    { client, informers, recorder, logger, provisioners, ...(row.recycler === undefined ? {} : { recycler: row.recycler }) },
    {
      resyncMs: 600_000,
      createProvisionedPVIntervalMs: 5,
      ...(row.workers?.claim === undefined ? {} : { claimWorkers: row.workers.claim }),
      ...(row.workers?.volume === undefined ? {} : { volumeWorkers: row.workers.volume }),
    },
  );
  let started = false;
  return {
    controller,
    async start() {
      informers.start(ac.signal);
      started = true;
      await controller.start(ac.signal);
    },
    async stop() {
      ac.abort();
      if (started) await controller.stopped();
      await informers.stopped();
      await recorder.dispose();
      if (client !== h.client) client.close();
    },
  };
}

async function getOrUndefined<T>(client: RestClient, path: string): Promise<T | undefined> {
  try {
    return await client.get<T>(path);
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}

function claimObject(c: RowClaim, namespace: string): PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: c.name, namespace, ...(c.ann === undefined ? {} : { annotations: c.ann }) },
    spec: {
      accessModes: c.modes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: c.size ?? '1Gi' } },
      ...(c.volumeName === undefined ? {} : { volumeName: c.volumeName }),
      ...(c.klass === undefined ? {} : { storageClassName: c.klass }),
      ...(c.selector === undefined ? {} : { selector: { matchLabels: c.selector } }),
      ...(c.volumeMode === undefined ? {} : { volumeMode: c.volumeMode }),
    },
  };
}

function volumeObject(v: RowVolume, namespace: string, claimUids: Map<string, string>, resolve: (n: string) => string): PersistentVolume {
  let claimRef: PersistentVolume['spec']['claimRef'];
  if (v.claim !== undefined) {
    const uidMode = v.uid ?? 'claim';
    const uid = uidMode === 'claim' ? claimUids.get(v.claim) : uidMode === 'other' ? OTHER_UID : undefined;
    claimRef = { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace, name: v.claim, ...(uid === undefined ? {} : { uid }) };
  }
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name: resolve(v.name),
      ...(v.ann === undefined ? {} : { annotations: v.ann }),
      ...(v.labels === undefined ? {} : { labels: v.labels }),
      ...(v.finalizers === undefined ? {} : { finalizers: v.finalizers }),
    },
    spec: {
      capacity: { storage: v.size ?? '1Gi' },
      accessModes: v.modes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: v.policy ?? 'Retain',
      ...(v.source ?? { hostPath: { path: `/tmp/volplane-test-pv/${v.name}` } }),
      ...(v.klass === undefined ? {} : { storageClassName: v.klass }),
      ...(v.volumeMode === undefined ? {} : { volumeMode: v.volumeMode }),
      ...(claimRef === undefined ? {} : { claimRef }),
      ...(v.node === undefined
        ? {}
        : { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [v.node] }] }] } } }),
    },
  };
}

/** Our annotations only: what the server or kubectl add is not the controller's business. */
function annotationsOf(obj: KubeObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj.metadata.annotations ?? {})) {
    if (k.startsWith('pv.kubernetes.io/') || k.startsWith('volume.')) out[k] = val;
  }
  return sortedKeys(out);
}

function sortedKeys(obj: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Undefined when the world is as the row expects, else what differs. */
async function diffWorld(world: World, row: Row): Promise<string | undefined> {
  const problems: string[] = [];
  for (const want of row.expectedVolumes) {
    const name = world.resolveVolumeName(want.name);
    const pv = await world.getVolume(want.name);
    if ('gone' in want) {
      // Deleted and held only by the API's pv-protection finalizer (no protection controller runs here) counts as gone.
      if (pv !== undefined && pv.metadata.deletionTimestamp === undefined) problems.push(`volume ${name} still exists (phase ${pv.status?.phase})`);
      continue;
    }
    if (pv === undefined) {
      problems.push(`volume ${name} missing`);
      continue;
    }
    world.uids.add(pv.metadata.uid ?? '');
    const got = {
      phase: pv.status?.phase,
      claim: pv.spec.claimRef?.name,
      uid: uidMode(pv.spec.claimRef?.uid, want.claim === undefined ? undefined : world.claimUids.get(want.claim)),
      ann: annotationsOf(pv),
      ...(want.finalizer === undefined ? {} : { finalizer: (pv.metadata.finalizers ?? []).includes(PV_DELETION_IN_TREE_PROTECTION_FINALIZER) }),
      ...(want.message === undefined ? {} : { message: pv.status?.message }),
      ...(want.policy === undefined ? {} : { policy: pv.spec.persistentVolumeReclaimPolicy }),
    };
    const expected = {
      phase: want.phase,
      claim: want.claim,
      uid: want.claim === undefined ? 'none' : (want.uid ?? 'claim'),
      ann: sortedKeys(want.ann ?? {}),
      ...(want.finalizer === undefined ? {} : { finalizer: want.finalizer }),
      ...(want.message === undefined ? {} : { message: want.message }),
      ...(want.policy === undefined ? {} : { policy: want.policy }),
    };
    if (JSON.stringify(got) !== JSON.stringify(expected)) problems.push(`volume ${name}: got ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`);
  }
  for (const want of row.expectedClaims) {
    const pvc = await world.getClaim(want.name);
    if (pvc === undefined) {
      problems.push(`claim ${want.name} missing`);
      continue;
    }
    const got = {
      phase: pvc.status?.phase,
      volumeName: pvc.spec.volumeName ?? '',
      ann: annotationsOf(pvc),
      ...(want.capacity === undefined ? {} : { capacity: pvc.status?.capacity?.storage }),
      ...(want.klass === undefined ? {} : { klass: pvc.spec.storageClassName }),
    };
    const expected = {
      phase: want.phase,
      volumeName: want.volumeName === undefined ? '' : world.resolveVolumeName(want.volumeName),
      ann: sortedKeys(want.ann ?? {}),
      ...(want.capacity === undefined ? {} : { capacity: want.capacity }),
      ...(want.klass === undefined ? {} : { klass: want.klass }),
    };
    if (JSON.stringify(got) !== JSON.stringify(expected)) problems.push(`claim ${want.name}: got ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`);
  }
  const events = await rowEvents(world);
  const gotEvents = [...new Set(events.map((e) => `${e.type} ${e.reason}`))].sort();
  const wantEvents = [...new Set(row.events)].sort();
  if (JSON.stringify(gotEvents) !== JSON.stringify(wantEvents)) {
    problems.push(`events: got ${JSON.stringify(events.map((e) => `${e.type} ${e.reason}: ${e.message}`))}, want ${JSON.stringify(wantEvents)}`);
  }
  for (const message of row.eventMessages ?? []) {
    if (!events.some((e) => e.message === message)) problems.push(`no event with message ${JSON.stringify(message)}`);
  }
  return problems.length === 0 ? undefined : problems.join('\n  ');
}

function uidMode(uid: string | undefined, claimUid: string | undefined): string {
  if (uid === undefined || uid === '') return 'none';
  if (uid === OTHER_UID) return 'other';
  return uid === claimUid ? 'claim' : `unexpected uid ${uid}`;
}

/** Events about the row's objects (claims in its namespace, volumes in `default`). */
export async function rowEvents(world: World): Promise<CoreEvent[]> {
  const list = await world.client.get<KubeList<CoreEvent>>(resourcePath(resources.events));
  return list.items.filter((e) => world.uids.has(e.involvedObject.uid ?? ''));
}

async function stripAndDelete(client: RestClient, path: string): Promise<void> {
  try {
    await client.patch(path, { metadata: { finalizers: null } });
    await client.delete(path);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 404)) throw err;
  }
}

async function cleanUp(client: RestClient, namespace: string, row: Row): Promise<void> {
  const claims = await client.get<KubeList<PersistentVolumeClaim>>(resourcePath(resources.persistentVolumeClaims, namespace));
  for (const c of claims.items) await stripAndDelete(client, resourcePath(resources.persistentVolumeClaims, namespace, c.metadata.name));
  const volumes = await client.get<KubeList<PersistentVolume>>(resourcePath(resources.persistentVolumes));
  for (const v of volumes.items) await stripAndDelete(client, resourcePath(resources.persistentVolumes, undefined, v.metadata.name));
  for (const sc of row.classes ?? []) await stripAndDelete(client, resourcePath(resources.storageClasses, undefined, sc.metadata.name));
  await waitFor('row objects deleted', async () => {
    const left = await client.get<KubeList<PersistentVolume>>(resourcePath(resources.persistentVolumes));
    return left.items.length === 0;
  });
}

export function storageClass(name: string, provisioner: string, extra: Partial<StorageClass> = {}): StorageClass {
  return { metadata: { name }, provisioner, ...extra };
}
