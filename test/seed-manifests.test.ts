// Acceptance: every YAML block of seed 001 (test/fixtures/seed001/, one file per block, verbatim)
// goes through the real kubectl's apply cycle against volplane, and kubectl prints what it prints
// against a real cluster:
//
//   apply → `created`; apply again → `unchanged`; diff → nothing / the change; apply a modified
//   copy → `configured`; apply --server-side twice → `serverside-applied`; a second field manager
//   is refused with `Apply failed with 1 conflict` until --force-conflicts; get -f lists them.
//
// The seed is not clean, and the rows keep its flaws because users copy them as they are: the PV
// block has `metadata.label` (strict field validation refuses it), the downward-API pod has a
// numeric label value (kubectl itself cannot decode it), the delay-bound-nginx block ends in the
// `EOF` of the heredoc it was pasted from (a YAML parse error after the first document) and, read
// as that heredoc, holds a Service, a kind volplane does not serve (kubectl's `no matches for kind`).
//
// Each row gets a cluster of its own (startup takes ~0.1 s): two blocks define the same
// StorageClass, and the RBAC block pins namespace `default`, so rows cannot share one.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { findLeaks, hasKubectl, startTestCluster, type KubectlResult, type TestCluster } from '../src/testing/index.ts';

const kubectlAvailable = hasKubectl();

const seedFile = (name: string): string => fileURLToPath(new URL(`./fixtures/seed001/${name}`, import.meta.url));

/** The label the `configured` step adds, and the one the server-side apply steps fight over. */
const CHANGE_LABEL = 'test.volplane/change';
const OWNER_LABEL = 'test.volplane/owner';
const OTHER_MANAGER = 'volplane-e2e-other';

/** kubectl's name for an object (`resource[.group]/name`), by kind, for the kinds the seed uses. */
const KUBECTL_RESOURCE: Record<string, string> = {
  Pod: 'pod',
  ConfigMap: 'configmap',
  ServiceAccount: 'serviceaccount',
  PersistentVolume: 'persistentvolume',
  PersistentVolumeClaim: 'persistentvolumeclaim',
  Deployment: 'deployment.apps',
  StatefulSet: 'statefulset.apps',
  StorageClass: 'storageclass.storage.k8s.io',
  ClusterRole: 'clusterrole.rbac.authorization.k8s.io',
  ClusterRoleBinding: 'clusterrolebinding.rbac.authorization.k8s.io',
  Role: 'role.rbac.authorization.k8s.io',
  RoleBinding: 'rolebinding.rbac.authorization.k8s.io',
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

interface SeedRow {
  /** Behaviour-named, numbered like upstream scenarios. */
  name: string;
  file: string;
  /** kubectl names of the objects a real cluster accepts, in file order. */
  objects: string[];
  /**
   * What kubectl writes to stderr for the documents a real cluster (or kubectl itself) refuses,
   * `{file}` standing for the path kubectl was given. Empty: the file applies cleanly (exit 0).
   */
  refusals: string[];
  /**
   * Objects for which a re-apply of the same file prints something other than `unchanged` on a
   * real cluster too (the server still changes nothing: the resourceVersion stays).
   */
  reapplied?: Record<string, string>;
  /**
   * The first server-side apply over the client-side applied object needs --force-conflicts:
   * an atomic list the server stores with defaulted members differs from the manifest's.
   */
  ssaForce?: boolean;
  /** Objects the refused documents would have created (they must not exist afterwards). */
  absent?: string[];
}

const rows: SeedRow[] = [
  { name: '001-1 emptyDir pod (volume-emptyDir.yml)', file: 'volume-emptyDir.yml', objects: ['pod/emptydir-pod'], refusals: [] },
  { name: '001-2 hostPath pod (volume-hostPath.yml)', file: 'volume-hostPath.yml', objects: ['pod/hostpath-pod'], refusals: [] },
  { name: '001-3 nfs Deployment (nginx-nfs.yml)', file: 'nginx-nfs.yml', objects: ['deployment.apps/nginx'], refusals: [] },
  {
    name: '001-4 ConfigMap and the pod that mounts it (volume-configmap.yml)',
    file: 'volume-configmap.yml',
    objects: ['configmap/log-config', 'pod/configmap-pod'],
    refusals: [],
  },
  {
    name: '001-5 downward-API pod with a numeric label value is refused by kubectl (volume-downwardApi.pod)',
    file: 'volume-downwardApi.pod',
    objects: [],
    refusals: [
      'error: unable to decode "{file}": json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string',
    ],
    absent: ['pod/dwapi-pod'],
  },
  {
    name: '001-6 NFS PV with the metadata.label typo is refused by strict field validation (nfs-pv.yaml)',
    file: 'nfs-pv.yaml',
    objects: [],
    refusals: [
      'Error from server (BadRequest): error when creating "{file}": PersistentVolume in version "v1" cannot be handled as a PersistentVolume: strict decoding error: unknown field "metadata.label"',
    ],
    absent: ['persistentvolume/nfs-pv'],
  },
  { name: '001-7 NFS PVC (nfs-pvc.yaml)', file: 'nfs-pvc.yaml', objects: ['persistentvolumeclaim/nfs-pvc'], refusals: [] },
  {
    name: '001-8 default StorageClass (nfs-storage-default-class.yaml)',
    file: 'nfs-storage-default-class.yaml',
    objects: ['storageclass.storage.k8s.io/nfs-storage'],
    refusals: [],
  },
  {
    name: '001-9 WaitForFirstConsumer class, local PV and PVC (delay-bound-storage.yml)',
    file: 'delay-bound-storage.yml',
    objects: ['storageclass.storage.k8s.io/local-storage', 'persistentvolume/nginx-pv', 'persistentvolumeclaim/nginx-pvc'],
    refusals: [],
  },
  {
    name: "001-10 Deployment applied, then the heredoc's EOF line is a YAML error (delay-bound-nginx.yml)",
    file: 'delay-bound-nginx.yml',
    objects: ['deployment.apps/nginx-deploy'],
    refusals: ['error: error parsing {file}: error converting YAML to JSON: yaml: line 15: could not find expected \':\''],
  },
  {
    name: '001-11 RBAC for the NFS provisioner (nfs-rbac.yml)',
    file: 'nfs-rbac.yml',
    objects: [
      'serviceaccount/nfs-client-provisioner',
      'clusterrole.rbac.authorization.k8s.io/nfs-client-provisioner-runner',
      'clusterrolebinding.rbac.authorization.k8s.io/run-nfs-client-provisioner',
      'role.rbac.authorization.k8s.io/leader-locking-nfs-client-provisioner',
      'rolebinding.rbac.authorization.k8s.io/leader-locking-nfs-client-provisioner',
    ],
    refusals: [],
  },
  {
    name: '001-12 NFS provisioner Deployment (nfs-provisioner-deploy.yml)',
    file: 'nfs-provisioner-deploy.yml',
    objects: ['deployment.apps/nfs-client-provisioner'],
    refusals: [],
  },
  {
    name: '001-13 NFS StorageClass (nfs-storageclass.yml)',
    file: 'nfs-storageclass.yml',
    objects: ['storageclass.storage.k8s.io/nfs-storage'],
    refusals: [],
  },
  {
    name: '001-14 StatefulSet with volumeClaimTemplates (nfs-nginx-deploy.yml)',
    file: 'nfs-nginx-deploy.yml',
    objects: ['statefulset.apps/web'],
    refusals: [],
    // The apiserver stores each claim template with apiVersion, kind and status.phase: Pending,
    // and the list has no merge key, so kubectl's three-way patch always replaces it: upstream
    // prints `configured` on every re-apply of a StatefulSet with volumeClaimTemplates.
    reapplied: { 'statefulset.apps/web': 'configured' },
    // For the same reason the applied volumeClaimTemplates (an atomic list) differ from the stored
    // ones, owned by kubectl-client-side-apply: a conflict on .spec.volumeClaimTemplates (not
    // verified against a real cluster; argo-cd#11143 shows the same diff upstream).
    ssaForce: true,
  },
];

// ---- helpers ----------------------------------------------------------------------------------

function kubectlName(m: Manifest): string {
  const resource = KUBECTL_RESOURCE[m.kind];
  assert.ok(resource !== undefined, `no kubectl resource name for kind ${m.kind}`);
  return `${resource}/${m.metadata.name}`;
}

/** The documents of a seed file that parse and that a real cluster accepts (row.objects). */
function servedDocuments(text: string, objects: readonly string[]): Manifest[] {
  const docs: Manifest[] = [];
  for (const chunk of text.split(/^---[ \t]*$/m)) {
    let doc: unknown;
    try {
      doc = parseYaml(chunk);
    } catch {
      continue; // the heredoc's EOF: not YAML
    }
    if (doc === null || typeof doc !== 'object') continue;
    const m = doc as Manifest;
    if (KUBECTL_RESOURCE[m.kind] !== undefined && objects.includes(kubectlName(m))) docs.push(m);
  }
  assert.deepEqual(docs.map(kubectlName), objects, 'the row names the objects of its file in order');
  return docs;
}

function withLabel(m: Manifest, key: string, value: string): Manifest {
  const copy = structuredClone(m);
  copy.metadata.labels = { ...(copy.metadata.labels ?? {}), [key]: value };
  return copy;
}

const toYaml = (docs: readonly Manifest[]): string => docs.map((d) => stringifyYaml(d)).join('---\n');

const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

function show(args: readonly string[], r: KubectlResult): string {
  return `kubectl ${args.join(' ')} → exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

// ---- the table ----------------------------------------------------------------------------------

describe('seed 001 manifests through kubectl', { skip: kubectlAvailable ? false : 'kubectl not on PATH' }, () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'volplane-seed001-'));
  });
  after(async () => {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  for (const row of rows) {
    describe(row.name, () => {
      let cluster: TestCluster;
      let dir: string;
      const file = seedFile(row.file);
      const refusals = row.refusals.map((r) => r.replaceAll('{file}', file));
      const expectedCode = row.refusals.length === 0 ? 0 : 1;
      let served: Manifest[] = [];
      /** The served documents with CHANGE_LABEL added (the `configured` step). */
      let changedFile = '';
      /** changedFile plus OWNER_LABEL, which only server-side apply ever sets. */
      let ssaFile = '';
      /** The served documents alone (what `diff` and `get -f` read when the seed file has errors). */
      let servedFile = '';

      async function run(args: string[], input?: string): Promise<KubectlResult> {
        return cluster.kubectl(args, { allowFail: true, ...(input === undefined ? {} : { input }) });
      }

      /** stdout has exactly one `<name> <verb>` line per object; stderr holds exactly the refusals. */
      async function applyPrints(args: string[], verb: string, names: readonly string[], errors: readonly string[]): Promise<void> {
        const r = await run(args);
        const want = names.map((n) => `${n} ${verb}`);
        assert.deepEqual(lines(r.stdout), want, show(args, r));
        for (const e of errors) assert.ok(r.stderr.includes(e), `stderr lacks ${JSON.stringify(e)}\n${show(args, r)}`);
        assert.equal(r.code, errors.length === 0 ? 0 : 1, show(args, r));
      }

      async function resourceVersions(): Promise<Record<string, string>> {
        const out: Record<string, string> = {};
        for (const name of row.objects) out[name] = (await cluster.kubectl(['get', name, '-o', 'jsonpath={.metadata.resourceVersion}'])).stdout;
        return out;
      }

      before(async () => {
        cluster = await startTestCluster();
        dir = await mkdtemp(join(scratch, 'row-'));
        served = servedDocuments(await readFile(file, 'utf8'), row.objects);
        changedFile = join(dir, 'changed.yaml');
        ssaFile = join(dir, 'server-side.yaml');
        servedFile = join(dir, 'served.yaml');
        await writeFile(changedFile, toYaml(served.map((m) => withLabel(m, CHANGE_LABEL, 'configured'))));
        await writeFile(ssaFile, toYaml(served.map((m) => withLabel(withLabel(m, CHANGE_LABEL, 'configured'), OWNER_LABEL, 'kubectl'))));
        await writeFile(servedFile, toYaml(served));
      });

      after(async () => {
        const dataDir = cluster?.dataDir;
        await cluster?.close();
        if (dataDir !== undefined) assert.deepEqual((await findLeaks()).filter((l) => l.includes(dataDir)), []);
      });

      it('apply -f prints `created` for each object a cluster accepts and the refusals on stderr', async () => {
        await applyPrints(['apply', '-f', file], 'created', row.objects, refusals);
      });

      if (row.objects.length === 0) {
        it('nothing was created', async () => {
          for (const name of row.absent ?? []) {
            const args = ['get', name];
            const r = await run(args);
            assert.equal(r.code, 1, show(args, r));
            assert.match(r.stderr, /^Error from server \(NotFound\): /, show(args, r));
          }
        });
        it('apply --server-side is refused too', async () => {
          const args = ['apply', '--server-side', '-f', file];
          const r = await run(args);
          assert.equal(r.code, 1, show(args, r));
          assert.doesNotMatch(r.stdout, /serverside-applied/, show(args, r));
          if (row.file === 'nfs-pv.yaml') assert.match(r.stderr, /metadata\.label/, show(args, r));
        });
        return;
      }

      it('apply -f again prints `unchanged` for every object, and changes no resourceVersion', async () => {
        const rvs = await resourceVersions();
        const args = ['apply', '-f', file];
        const r = await run(args);
        const want = row.objects.map((n) => `${n} ${row.reapplied?.[n] ?? 'unchanged'}`);
        assert.deepEqual(lines(r.stdout), want, show(args, r));
        for (const e of refusals) assert.ok(r.stderr.includes(e), `stderr lacks ${JSON.stringify(e)}\n${show(args, r)}`);
        assert.equal(r.code, expectedCode, show(args, r));
        assert.deepEqual(await resourceVersions(), rvs, 'a no-op apply leaves every resourceVersion');
      });

      if (row.file === 'delay-bound-nginx.yml') {
        it('read as the heredoc it came from, the Service is refused with `no matches for kind` and the Deployment stays', async () => {
          const text = await readFile(file, 'utf8');
          const heredoc = text.slice(0, text.search(/^EOF$/m));
          const args = ['apply', '-f', '-'];
          const r = await run(args, heredoc);
          assert.deepEqual(lines(r.stdout), ['deployment.apps/nginx-deploy unchanged'], show(args, r));
          assert.ok(
            r.stderr.includes(
              'error: resource mapping not found for name: "nginx-svc" namespace: "" from "STDIN": no matches for kind "Service" in version "v1"\nensure CRDs are installed first',
            ),
            show(args, r),
          );
          assert.equal(r.code, 1, show(args, r));
        });
      }

      it('diff -f of the unchanged manifests prints nothing and exits 0', async () => {
        const target = row.refusals.length === 0 ? file : servedFile;
        const args = ['diff', '-f', target];
        const r = await run(args);
        assert.equal(r.stdout, '', show(args, r));
        assert.equal(r.code, 0, show(args, r));
      });

      it('diff -f of a modified copy shows the new label and exits 1', async () => {
        const args = ['diff', '-f', changedFile];
        const r = await run(args);
        assert.equal(r.code, 1, show(args, r));
        const added = r.stdout.split('\n').filter((l) => /^\+\s+test\.volplane\/change: configured$/.test(l));
        assert.equal(added.length, row.objects.length, `one added label line per object\n${show(args, r)}`);
        assert.doesNotMatch(r.stdout, /^-\s+\S/m, `nothing removed\n${show(args, r)}`);
      });

      it('apply -f of the modified copy prints `configured` for every object', async () => {
        await applyPrints(['apply', '-f', changedFile], 'configured', row.objects, []);
        for (const name of row.objects) {
          const args = ['get', name, '-o', 'jsonpath={.metadata.labels.test\\.volplane/change}'];
          const r = await run(args);
          assert.equal(r.stdout, 'configured', show(args, r));
        }
      });

      it('apply --server-side -f prints `serverside-applied`, twice', async () => {
        const force = row.ssaForce === true ? ['--force-conflicts'] : [];
        await applyPrints(['apply', '--server-side', ...force, '-f', ssaFile], 'serverside-applied', row.objects, []);
        await applyPrints(['apply', '--server-side', '-f', ssaFile], 'serverside-applied', row.objects, []);
      });

      it('another field manager changing a field owned by `kubectl` is refused with 1 conflict, and nothing changes', async () => {
        const first = served[0];
        const conflicting = { apiVersion: first.apiVersion, kind: first.kind, metadata: { name: first.metadata.name, labels: { [OWNER_LABEL]: 'other' } } };
        const before = await run(['get', row.objects[0], '-o', 'jsonpath={.metadata.resourceVersion}']);
        const args = ['apply', '--server-side', `--field-manager=${OTHER_MANAGER}`, '-f', '-'];
        const r = await run(args, JSON.stringify(conflicting));
        assert.equal(r.code, 1, show(args, r));
        assert.ok(
          r.stderr.includes(`error: Apply failed with 1 conflict: conflict with "kubectl": .metadata.labels.${OWNER_LABEL}`),
          show(args, r),
        );
        assert.match(r.stderr, /Please review the fields above--they currently have other managers/, show(args, r));
        const afterRv = await run(['get', row.objects[0], '-o', 'jsonpath={.metadata.resourceVersion}']);
        assert.equal(afterRv.stdout, before.stdout, 'refused apply left the resourceVersion');
      });

      it('with --force-conflicts the other manager wins and takes the field over', async () => {
        const first = served[0];
        const conflicting = { apiVersion: first.apiVersion, kind: first.kind, metadata: { name: first.metadata.name, labels: { [OWNER_LABEL]: 'other' } } };
        const args = ['apply', '--server-side', `--field-manager=${OTHER_MANAGER}`, '--force-conflicts', '-f', '-'];
        const r = await run(args, JSON.stringify(conflicting));
        assert.deepEqual(lines(r.stdout), [`${row.objects[0]} serverside-applied`], show(args, r));
        assert.equal(r.code, 0, show(args, r));
        const label = await run(['get', row.objects[0], '-o', `jsonpath={.metadata.labels.test\\.volplane/owner}`]);
        assert.equal(label.stdout, 'other');
        const mf = await run(['get', row.objects[0], '--show-managed-fields', '-o', 'json']);
        const obj = JSON.parse(mf.stdout) as { metadata: { managedFields?: { manager: string; operation: string; fieldsV1?: unknown }[] } };
        const entries = obj.metadata.managedFields ?? [];
        const other = entries.find((e) => e.manager === OTHER_MANAGER);
        assert.ok(other !== undefined && other.operation === 'Apply', `managedFields has an Apply entry for ${OTHER_MANAGER}: ${JSON.stringify(entries)}`);
        assert.match(JSON.stringify(other.fieldsV1), new RegExp(`"f:${OWNER_LABEL.replace('.', '\\.')}"`));
        const kubectlEntry = entries.find((e) => e.manager === 'kubectl' && e.operation === 'Apply');
        assert.ok(kubectlEntry !== undefined, `managedFields keeps kubectl's Apply entry: ${JSON.stringify(entries)}`);
        assert.doesNotMatch(JSON.stringify(kubectlEntry.fieldsV1), new RegExp(`"f:${OWNER_LABEL.replace('.', '\\.')}"`), 'the forced field left kubectl');
      });

      it('get -f lists the objects', async () => {
        const target = row.refusals.length === 0 ? file : servedFile;
        const args = ['get', '-f', target, '-o', 'name'];
        const r = await run(args);
        assert.deepEqual(lines(r.stdout), row.objects, show(args, r));
        assert.equal(r.code, 0, show(args, r));
        const table = await run(['get', '-f', file]);
        for (const name of row.objects) {
          const short = row.objects.length === 1 ? name.slice(name.indexOf('/') + 1) : name;
          assert.ok(
            table.stdout.split('\n').some((l) => l.split(/\s+/)[0] === short),
            `get -f ${row.file} has a row ${short}\n${show(['get', '-f', file], table)}`,
          );
        }
        assert.equal(table.code, expectedCode, show(['get', '-f', file], table));
      });
    });
  }

  describe('001-15 the seed defines StorageClass nfs-storage twice', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await startTestCluster();
    });
    after(async () => {
      await cluster?.close();
    });

    it('applying nfs-storageclass.yml over the default class is refused: provisioner and parameters are immutable', async () => {
      await cluster.kubectl(['apply', '-f', seedFile('nfs-storage-default-class.yaml')]);
      const before = await cluster.kubectl(['get', 'storageclass', 'nfs-storage', '-o', 'json']);
      const args = ['apply', '-f', seedFile('nfs-storageclass.yml')];
      const r = await cluster.kubectl(args, { allowFail: true });
      assert.equal(r.code, 1, show(args, r));
      assert.equal(
        r.stderr.trim(),
        'The StorageClass "nfs-storage" is invalid: \n* parameters: Forbidden: updates to parameters are forbidden.\n* provisioner: Forbidden: updates to provisioner are forbidden.',
        show(args, r),
      );
      const afterGet = await cluster.kubectl(['get', 'storageclass', 'nfs-storage', '-o', 'json']);
      assert.equal(afterGet.stdout, before.stdout, 'the class is unchanged');
    });
  });
});
