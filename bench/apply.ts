// Server-side apply and strategic-merge patch of a 50-object manifest, one
// request at a time as `kubectl apply --server-side -f` and `kubectl patch`
// send them. The manifest mixes the kinds users apply most here:
// StorageClasses, ConfigMaps, Secrets, PVCs, Deployments and StatefulSets
// (5 / 12 / 10 / 10 / 8 / 5, distinct names).
//
// (a) PATCH `application/apply-patch+yaml` with `fieldManager=bench` for each
//     object: the first apply creates it, then 5 rounds re-apply the whole
//     manifest with one field changed per object per round (ConfigMap and
//     Secret data, a label on PVCs and StorageClasses, the container image
//     of Deployments and StatefulSets);
// (b) 5 rounds of PATCH `application/strategic-merge-patch+json` changing
//     one field per object (the image through the containers list's merge
//     key, so the strategic part is exercised).
//
// Every request runs the decoding, the field manager (managedFields), the
// merge, validation and a durable write; the latency is per request, from
// send to the end of the response. Bodies are JSON, which is what kubectl
// sends under the apply content type (JSON is YAML). Workloads have 0
// replicas and the claims use a WaitForFirstConsumer class of an external
// provisioner, so the controllers have little to do meanwhile. A small
// manifest (one object of each kind) is applied and patched first in another
// namespace as a warm-up and not counted.
//
// Run alone: node bench/apply.ts

import type { KubeObject } from '../src/apimachinery/index.ts';
import type { RestClient } from '../src/client/index.ts';
import { describeError, ensureNamespace } from './fixtures.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';
import { nowMs, summarize, type Summary } from './stats.ts';

export interface ApplyOptions {
  namespace?: string;
  /** Re-apply and patch rounds (default 5). */
  rounds?: number;
}

export interface ApplyResult {
  objects: number;
  rounds: number;
  /** First apply of each object (creates it), ms. */
  ssaCreate: Summary;
  /** Re-applies with one changed field, ms. */
  ssaUpdate: Summary;
  /** Strategic-merge patches of one field, ms. */
  smp: Summary;
  /** Failed requests, plus objects that did not end up as sent. */
  errors: number;
  firstError: string | undefined;
}

const KINDS = [
  { kind: 'StorageClass', count: 5 },
  { kind: 'ConfigMap', count: 12 },
  { kind: 'Secret', count: 10 },
  { kind: 'PersistentVolumeClaim', count: 10 },
  { kind: 'Deployment', count: 8 },
  { kind: 'StatefulSet', count: 5 },
] as const;

type Kind = (typeof KINDS)[number]['kind'];

interface ManifestEntry {
  kind: Kind;
  name: string;
  /** The object's URL. */
  path: string;
  /** The applied configuration for a round (round 0 = the first apply). */
  config(round: number): KubeObject;
  /** A strategic-merge patch changing one field. */
  smp(round: number): Record<string, unknown>;
}

/** A string the object's JSON holds once the patch of `round` has landed. */
function smpMark(e: ManifestEntry, round: number): string {
  return JSON.stringify(e.smp(round)).match(/"([^"]*(?:smp-|:2\.)[^"]*)"/)?.[1] ?? b64(`smp-${round}`);
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function podTemplate(app: string, image: string): Record<string, unknown> {
  return {
    metadata: { labels: { app } },
    spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }], env: [{ name: 'MODE', value: 'bench' }] }] },
  };
}

/** The manifest for `namespace`; `perKind` caps each kind's count (the warm-up uses 1). */
function manifest(namespace: string, perKind?: number): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  const firstClass = `${namespace}-sc-0`;
  const imageSmp = (name: string, round: number) => ({ spec: { template: { spec: { containers: [{ name: 'app', image: `registry.example/${name}:2.${round}` }] } } } });
  for (const { kind, count } of KINDS) {
    for (let i = 0; i < Math.min(count, perKind ?? count); i++) {
      const labels = (round: number) => ({ app: 'volplane-bench', round: String(round) });
      switch (kind) {
        case 'StorageClass': {
          const name = `${namespace}-sc-${i}`;
          out.push({
            kind,
            name,
            path: `/apis/storage.k8s.io/v1/storageclasses/${name}`,
            config: (round) => ({
              apiVersion: 'storage.k8s.io/v1',
              kind,
              metadata: { name, labels: labels(round) },
              provisioner: 'example.com/bench-apply',
              reclaimPolicy: 'Delete',
              volumeBindingMode: 'WaitForFirstConsumer',
              parameters: { tier: `t${i}` },
            }),
            smp: (round) => ({ metadata: { labels: { round: `smp-${round}` } } }),
          });
          break;
        }
        case 'ConfigMap': {
          const name = `config-${i}`;
          out.push({
            kind,
            name,
            path: `/api/v1/namespaces/${namespace}/configmaps/${name}`,
            config: (round) => ({
              apiVersion: 'v1',
              kind,
              metadata: { name, namespace, labels: labels(0) },
              data: { 'app.properties': 'key=value\n'.repeat(20), round: String(round) },
            }),
            smp: (round) => ({ data: { round: `smp-${round}` } }),
          });
          break;
        }
        case 'Secret': {
          const name = `secret-${i}`;
          out.push({
            kind,
            name,
            path: `/api/v1/namespaces/${namespace}/secrets/${name}`,
            config: (round) => ({
              apiVersion: 'v1',
              kind,
              metadata: { name, namespace, labels: labels(0) },
              type: 'Opaque',
              data: { password: b64(`s3cret-${i}`), round: b64(String(round)) },
            }),
            smp: (round) => ({ data: { round: b64(`smp-${round}`) } }),
          });
          break;
        }
        case 'PersistentVolumeClaim': {
          const name = `claim-${i}`;
          out.push({
            kind,
            name,
            path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${name}`,
            config: (round) => ({
              apiVersion: 'v1',
              kind,
              metadata: { name, namespace, labels: labels(round) },
              spec: { accessModes: ['ReadWriteOnce'], storageClassName: firstClass, resources: { requests: { storage: '1Gi' } } },
            }),
            smp: (round) => ({ metadata: { labels: { round: `smp-${round}` } } }),
          });
          break;
        }
        case 'Deployment': {
          const name = `web-${i}`;
          out.push({
            kind,
            name,
            path: `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`,
            config: (round) => ({
              apiVersion: 'apps/v1',
              kind,
              metadata: { name, namespace, labels: labels(0) },
              spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: podTemplate(name, `registry.example/${name}:1.${round}`) },
            }),
            smp: (round) => imageSmp(name, round),
          });
          break;
        }
        case 'StatefulSet': {
          const name = `db-${i}`;
          out.push({
            kind,
            name,
            path: `/apis/apps/v1/namespaces/${namespace}/statefulsets/${name}`,
            config: (round) => ({
              apiVersion: 'apps/v1',
              kind,
              metadata: { name, namespace, labels: labels(0) },
              spec: { replicas: 0, serviceName: name, selector: { matchLabels: { app: name } }, template: podTemplate(name, `registry.example/${name}:1.${round}`) },
            }),
            smp: (round) => imageSmp(name, round),
          });
          break;
        }
      }
    }
  }
  return out;
}

interface Phase {
  latencies: number[];
  errors: number;
  firstError: string | undefined;
}

async function timed(phase: Phase, what: string, send: () => Promise<unknown>): Promise<void> {
  const t0 = nowMs();
  try {
    await send();
    phase.latencies.push(nowMs() - t0);
  } catch (err) {
    phase.errors++;
    phase.firstError ??= `${what}: ${describeError(err)}`;
  }
}

const APPLY = 'application/apply-patch+yaml';
const SMP = 'application/strategic-merge-patch+json';

async function applyAndPatch(client: RestClient, entries: readonly ManifestEntry[], rounds: number): Promise<{ create: Phase; update: Phase; smp: Phase }> {
  const phase = (): Phase => ({ latencies: [], errors: 0, firstError: undefined });
  const create = phase();
  const update = phase();
  const smp = phase();
  for (const e of entries) await timed(create, `apply ${e.kind} ${e.name}`, () => client.patch(`${e.path}?fieldManager=bench`, e.config(0), APPLY));
  for (let round = 1; round <= rounds; round++) {
    for (const e of entries) await timed(update, `re-apply ${e.kind} ${e.name}`, () => client.patch(`${e.path}?fieldManager=bench`, e.config(round), APPLY));
  }
  for (let round = 1; round <= rounds; round++) {
    for (const e of entries) await timed(smp, `patch ${e.kind} ${e.name}`, () => client.patch(e.path, e.smp(round), SMP));
  }
  return { create, update, smp };
}

export async function benchApply(server: ServerProcess, options: ApplyOptions = {}): Promise<ApplyResult> {
  const namespace = options.namespace ?? 'bench-apply';
  const rounds = options.rounds ?? 5;
  const client = server.client();
  try {
    const warmup = `${namespace}-warmup`;
    await ensureNamespace(client, warmup);
    await applyAndPatch(client, manifest(warmup, 1), 1);

    await ensureNamespace(client, namespace);
    const entries = manifest(namespace);
    const r = await applyAndPatch(client, entries, rounds);
    // The server must have kept what was sent: the last patch's value, and the apply's manager.
    let wrong = 0;
    let firstWrong: string | undefined;
    for (const e of entries) {
      const live = await client.get(e.path);
      const text = JSON.stringify(live);
      const managers = (live.metadata.managedFields ?? []).map((f) => `${f.manager}/${f.operation}`);
      if (!text.includes(smpMark(e, rounds)) || !managers.includes('bench/Apply')) {
        wrong++;
        firstWrong ??= `${e.kind} ${e.name} lacks the last patch or the bench/Apply manager (managers: ${managers.join(', ')})`;
      }
    }
    const errors = r.create.errors + r.update.errors + r.smp.errors + wrong;
    if (r.create.latencies.length === 0) throw new Error(`every apply failed: ${r.create.firstError}`);
    return {
      objects: entries.length,
      rounds,
      ssaCreate: summarize(r.create.latencies),
      ssaUpdate: summarize(r.update.latencies),
      smp: summarize(r.smp.latencies),
      errors,
      firstError: r.create.firstError ?? r.update.firstError ?? r.smp.firstError ?? firstWrong,
    };
  } finally {
    client.close();
  }
}

if (import.meta.main) {
  const server = await startServerProcess();
  try {
    const r = await benchApply(server);
    const show = (s: Summary): string => `p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms (${s.count})`;
    console.log(`${r.objects} objects, ${r.rounds} rounds: SSA create ${show(r.ssaCreate)}; SSA update ${show(r.ssaUpdate)}; SMP ${show(r.smp)}; ${r.errors} errors${r.firstError === undefined ? '' : ` (first: ${r.firstError})`}`);
  } finally {
    await server.stop();
  }
}
