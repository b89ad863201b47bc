// Acceptance: the real kubectl changing objects in place — `patch` (strategic, merge, json),
// `label`/`annotate`, `replace -f`, `edit` — and every form of `--dry-run=server`, plus the
// refusals: a malformed patch is answered with the Kubernetes error kubectl prints against a real
// cluster, and the object is left exactly as it was (same resourceVersion).
//
// One cluster, one namespace per group of rows; rows run in order and each states the object it
// starts from, so a failure names the behaviour that broke.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLeaks, hasKubectl, startTestCluster, type KubectlResult, type TestCluster } from '../src/testing/index.ts';

const kubectlAvailable = hasKubectl();

const NS = 'patching';

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${NS}
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: nginx:1.25
      - name: sidecar
        image: busybox:1.36
`;

const STORAGE_CLASS = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: patch-fast
provisioner: example.com/fast
parameters:
  tier: gold
`;

const PVC = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: claim
  namespace: ${NS}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: patch-fast
  resources:
    requests:
      storage: 1Gi
`;

const CONFIGMAP = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ${NS}
data:
  mode: safe
`;

function show(args: readonly string[], r: KubectlResult): string {
  return `kubectl ${args.join(' ')} → exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

interface Live {
  metadata: { resourceVersion: string; generation?: number; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  provisioner?: string;
}

describe('kubectl patch, label, annotate, replace, edit and --dry-run=server', { skip: kubectlAvailable ? false : 'kubectl not on PATH' }, () => {
  let cluster: TestCluster;
  let scratch: string;

  async function run(args: string[], input?: string): Promise<KubectlResult> {
    return cluster.kubectl(args, { allowFail: true, ...(input === undefined ? {} : { input }) });
  }

  /** Runs kubectl, asserts exit 0 and that stdout is exactly `lines`. */
  async function prints(args: string[], lines: string | RegExp, input?: string): Promise<void> {
    const r = await run(args, input);
    assert.equal(r.code, 0, show(args, r));
    if (typeof lines === 'string') assert.equal(r.stdout.trim(), lines, show(args, r));
    else assert.match(r.stdout.trim(), lines, show(args, r));
  }

  async function live(target: string): Promise<Live> {
    const r = await cluster.kubectl(['get', target, '-n', NS, '-o', 'json']);
    return JSON.parse(r.stdout) as Live;
  }

  /**
   * Runs a command that must be refused: exit 1, stderr as given, and the object's
   * resourceVersion (and whole JSON) unchanged.
   */
  async function refused(target: string, args: string[], stderr: string | RegExp, input?: string): Promise<void> {
    const before = await live(target);
    const r = await run(args, input);
    assert.equal(r.code, 1, show(args, r));
    if (typeof stderr === 'string') assert.equal(r.stderr.trim(), stderr, show(args, r));
    else assert.match(r.stderr, stderr, show(args, r));
    const afterObj = await live(target);
    assert.equal(afterObj.metadata.resourceVersion, before.metadata.resourceVersion, `${target} keeps its resourceVersion`);
    assert.deepEqual(afterObj, before, `${target} is unchanged`);
  }

  before(async () => {
    cluster = await startTestCluster();
    scratch = await mkdtemp(join(tmpdir(), 'volplane-apply-patch-'));
    await cluster.kubectl(['create', '-f', '-'], { input: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NS}\n` });
    await cluster.kubectl(['apply', '-f', '-'], { input: DEPLOYMENT });
    await cluster.kubectl(['apply', '-f', '-'], { input: STORAGE_CLASS });
    await cluster.kubectl(['apply', '-f', '-'], { input: PVC });
    await cluster.kubectl(['apply', '-f', '-'], { input: CONFIGMAP });
  });

  after(async () => {
    const dataDir = cluster?.dataDir;
    await cluster?.close();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    if (dataDir !== undefined) assert.deepEqual((await findLeaks()).filter((l) => l.includes(dataDir)), []);
  });

  // ---- 1. patch types -------------------------------------------------------------------------

  describe('1 kubectl patch', () => {
    it('1-1 strategic (the default) merges containers by name: the sidecar stays', async () => {
      const before = await live('deployment/web');
      await prints(['patch', 'deployment', 'web', '-n', NS, '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}}}'], 'deployment.apps/web patched');
      const d = await live('deployment/web');
      const containers = (d.spec?.template as { spec: { containers: { name: string; image: string }[] } }).spec.containers;
      assert.deepEqual(containers.map((c) => `${c.name}=${c.image}`), ['app=nginx:1.27', 'sidecar=busybox:1.36']);
      assert.equal(d.metadata.generation, (before.metadata.generation ?? 0) + 1, 'a spec change bumps generation');
    });

    it('1-1b the patch is recorded in managedFields under kubectl-patch (operation Update)', async () => {
      const r = await cluster.kubectl(['get', 'deployment', 'web', '-n', NS, '--show-managed-fields', '-o', 'json']);
      const mf = (JSON.parse(r.stdout) as { metadata: { managedFields?: { manager: string; operation: string; fieldsV1?: unknown }[] } }).metadata.managedFields ?? [];
      const entry = mf.find((e) => e.manager === 'kubectl-patch');
      assert.ok(entry !== undefined && entry.operation === 'Update', `managedFields: ${JSON.stringify(mf.map((e) => [e.manager, e.operation]))}`);
      assert.match(JSON.stringify(entry.fieldsV1), /"f:image"/);
      assert.ok(mf.some((e) => e.manager === 'kubectl-client-side-apply'), 'the creator keeps its entry');
    });

    it('1-2 the same strategic patch again prints `patched (no change)` and keeps the resourceVersion', async () => {
      const before = await live('deployment/web');
      await prints(
        ['patch', 'deployment', 'web', '-n', NS, '--type=strategic', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}}}'],
        'deployment.apps/web patched (no change)',
      );
      assert.equal((await live('deployment/web')).metadata.resourceVersion, before.metadata.resourceVersion);
    });

    it('1-3 strategic $patch: delete removes one container by name', async () => {
      await prints(['patch', 'deployment', 'web', '-n', NS, '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}'], 'deployment.apps/web patched');
      const containers = ((await live('deployment/web')).spec?.template as { spec: { containers: { name: string }[] } }).spec.containers;
      assert.deepEqual(containers.map((c) => c.name), ['app']);
    });

    it('1-4 merge (RFC 7386) sets replicas, and replaces a list whole', async () => {
      await prints(['patch', 'deployment', 'web', '-n', NS, '--type=merge', '-p', '{"spec":{"replicas":3}}'], 'deployment.apps/web patched');
      assert.equal((await live('deployment/web')).spec?.replicas, 3);
      await prints(
        ['patch', 'deployment', 'web', '-n', NS, '--type=merge', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"busybox:1.36"}]}}}}'],
        'deployment.apps/web patched',
      );
      const containers = ((await live('deployment/web')).spec?.template as { spec: { containers: { name: string }[] } }).spec.containers;
      assert.deepEqual(containers.map((c) => c.name), ['only']);
    });

    it('1-5 merge with null deletes a key', async () => {
      await prints(['patch', 'configmap', 'settings', '-n', NS, '--type=merge', '-p', '{"data":{"extra":"1"}}'], 'configmap/settings patched');
      await prints(['patch', 'configmap', 'settings', '-n', NS, '--type=merge', '-p', '{"data":{"extra":null}}'], 'configmap/settings patched');
      assert.deepEqual((await live('configmap/settings')).data, { mode: 'safe' });
    });

    it('1-6 json (RFC 6902): replace, add with "-", test and remove', async () => {
      await prints(['patch', 'deployment', 'web', '-n', NS, '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":4}]'], 'deployment.apps/web patched');
      assert.equal((await live('deployment/web')).spec?.replicas, 4);
      await prints(
        ['patch', 'deployment', 'web', '-n', NS, '--type=json', '-p', '[{"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"second","image":"busybox:1.36"}}]'],
        'deployment.apps/web patched',
      );
      await prints(
        ['patch', 'deployment', 'web', '-n', NS, '--type=json', '-p', '[{"op":"test","path":"/spec/template/spec/containers/1/name","value":"second"},{"op":"remove","path":"/spec/template/spec/containers/1"}]'],
        'deployment.apps/web patched',
      );
      const containers = ((await live('deployment/web')).spec?.template as { spec: { containers: { name: string }[] } }).spec.containers;
      assert.deepEqual(containers.map((c) => c.name), ['only']);
    });
  });

  // ---- 2. label / annotate --------------------------------------------------------------------

  describe('2 kubectl label and annotate', () => {
    it('2-1 label adds a label', async () => {
      await prints(['label', 'deployment', 'web', '-n', NS, 'tier=frontend'], 'deployment.apps/web labeled');
      assert.equal((await live('deployment/web')).metadata.labels?.tier, 'frontend');
      const r = await cluster.kubectl(['get', 'deployment', 'web', '-n', NS, '--show-managed-fields', '-o', 'json']);
      const mf = (JSON.parse(r.stdout) as { metadata: { managedFields?: { manager: string; fieldsV1?: unknown }[] } }).metadata.managedFields ?? [];
      assert.match(JSON.stringify(mf.find((e) => e.manager === 'kubectl-label')?.fieldsV1), /"f:tier"/, 'kubectl-label owns the label');
    });

    it('2-2 label without --overwrite refuses to change a value', async () => {
      await refused('deployment/web', ['label', 'deployment', 'web', '-n', NS, 'tier=backend'], "error: 'tier' already has a value (frontend), and --overwrite is false");
    });

    it('2-3 label --overwrite changes it, and `tier-` removes it', async () => {
      await prints(['label', 'deployment', 'web', '-n', NS, 'tier=backend', '--overwrite'], 'deployment.apps/web labeled');
      assert.equal((await live('deployment/web')).metadata.labels?.tier, 'backend');
      await prints(['label', 'deployment', 'web', '-n', NS, 'tier-'], 'deployment.apps/web unlabeled');
      assert.equal((await live('deployment/web')).metadata.labels?.tier, undefined);
    });

    it('2-4 label with a bad key is refused by the server', async () => {
      await refused('configmap/settings', ['label', 'configmap', 'settings', '-n', NS, 'bad_key/x/y=1'], /metadata\.labels: Invalid value: "bad_key\/x\/y"/);
    });

    it('2-5 annotate adds, `key-` removes', async () => {
      await prints(['annotate', 'pvc', 'claim', '-n', NS, 'team=storage'], 'persistentvolumeclaim/claim annotated');
      assert.equal((await live('pvc/claim')).metadata.annotations?.team, 'storage');
      await prints(['annotate', 'pvc', 'claim', '-n', NS, 'team-'], 'persistentvolumeclaim/claim annotated');
      assert.equal((await live('pvc/claim')).metadata.annotations?.team, undefined);
    });
  });

  // ---- 3. replace / edit ------------------------------------------------------------------------

  describe('3 kubectl replace -f and edit', () => {
    it('3-1 replace -f with the live resourceVersion prints `replaced`', async () => {
      const cm = (await live('configmap/settings')) as Live & Record<string, unknown>;
      cm.data = { mode: 'fast' };
      const file = join(scratch, 'settings.json');
      await writeFile(file, JSON.stringify(cm));
      await prints(['replace', '-f', file], 'configmap/settings replaced');
      assert.deepEqual((await live('configmap/settings')).data, { mode: 'fast' });
    });

    it('3-2 replace -f with a stale resourceVersion is a Conflict', async () => {
      const file = join(scratch, 'settings.json'); // still carries the resourceVersion before 3-1
      await refused(
        'configmap/settings',
        ['replace', '-f', file],
        `Error from server (Conflict): error when replacing "${file}": Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply your changes to the latest version and try again`,
      );
    });

    it('3-3 edit with EDITOR rewriting the file prints `edited` and sends the change', async () => {
      const editor = join(scratch, 'editor.sh');
      await writeFile(editor, '#!/bin/sh\nsed -i "s/mode: fast/mode: edited/" "$1"\n');
      await chmod(editor, 0o755);
      const r = await kubectlWithEnv(['edit', 'configmap', 'settings', '-n', NS], { EDITOR: editor });
      assert.equal(r.code, 0, show(['edit'], r));
      assert.equal(r.stdout.trim(), 'configmap/settings edited', show(['edit'], r));
      assert.deepEqual((await live('configmap/settings')).data, { mode: 'edited' });
    });

    it('3-4 edit where the editor changes nothing: `Edit cancelled, no changes made.`', async () => {
      const before = await live('configmap/settings');
      const r = await kubectlWithEnv(['edit', 'configmap', 'settings', '-n', NS], { EDITOR: 'true' });
      assert.equal(r.code, 0, show(['edit'], r));
      assert.match(r.stderr + r.stdout, /Edit cancelled, no changes made\./, show(['edit'], r));
      assert.equal((await live('configmap/settings')).metadata.resourceVersion, before.metadata.resourceVersion);
    });

    it('3-5 edit into an invalid object keeps the object and reports the error', async () => {
      const editor = join(scratch, 'bad-editor.sh');
      await writeFile(editor, '#!/bin/sh\nsed -i "s/^  replicas: .*/  replicas: -1/" "$1"\n');
      await chmod(editor, 0o755);
      const before = await live('deployment/web');
      const r = await kubectlWithEnv(['edit', 'deployment', 'web', '-n', NS], { EDITOR: editor });
      assert.equal(r.code, 1, show(['edit'], r));
      // kubectl prints the Status message and keeps the causes as comments in the saved copy.
      const copy = /A copy of your changes has been stored to "([^"]+)"/.exec(r.stderr)?.[1];
      try {
        assert.match(r.stderr, /^error: deployments\.apps "web" is invalid\n/, show(['edit'], r));
        assert.match(r.stderr, /error: Edit cancelled, no valid changes were saved\./, show(['edit'], r));
        assert.ok(copy !== undefined, show(['edit'], r));
        assert.match(await readFile(copy, 'utf8'), /^# \* spec\.replicas: Invalid value: -1: must be greater than or equal to 0$/m);
      } finally {
        if (copy !== undefined) await rm(copy, { force: true });
      }
      assert.equal((await live('deployment/web')).metadata.resourceVersion, before.metadata.resourceVersion);
    });

    function kubectlWithEnv(args: string[], extra: Record<string, string>): Promise<KubectlResult> {
      // TMPDIR: kubectl edit leaves its buffers (and the copy of a refused edit) there.
      return cluster.kubectl([`--cache-dir=${join(scratch, 'cache')}`, ...args], { env: { HOME: scratch, TMPDIR: scratch, ...extra }, allowFail: true });
    }
  });

  // ---- 4. --dry-run=server --------------------------------------------------------------------

  describe('4 --dry-run=server changes nothing', () => {
    it('4-1 create --dry-run=server of a new object prints `created (server dry run)` and creates nothing', async () => {
      const input = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ghost\n  namespace: ${NS}\ndata:\n  a: b\n`;
      await prints(['create', '-f', '-', '--dry-run=server'], 'configmap/ghost created (server dry run)', input);
      const r = await run(['get', 'configmap', 'ghost', '-n', NS]);
      assert.equal(r.stderr.trim(), 'Error from server (NotFound): configmaps "ghost" not found', show(['get'], r));
    });

    it('4-2 create --dry-run=server of an existing object is AlreadyExists, as the real create would be', async () => {
      await refused(
        'configmap/settings',
        ['create', '-f', '-', '--dry-run=server'],
        /^Error from server \(AlreadyExists\): error when creating "STDIN": configmaps "settings" already exists/,
        CONFIGMAP,
      );
    });

    it('4-3 apply --dry-run=server prints `configured (server dry run)` and changes nothing', async () => {
      const before = await live('deployment/web');
      const changed = DEPLOYMENT.replace('replicas: 2', 'replicas: 7');
      await prints(['apply', '-f', '-', '--dry-run=server'], 'deployment.apps/web configured (server dry run)', changed);
      const afterObj = await live('deployment/web');
      assert.equal(afterObj.metadata.resourceVersion, before.metadata.resourceVersion);
      assert.equal(afterObj.spec?.replicas, before.spec?.replicas);
    });

    it('4-4 patch --dry-run=server answers the patched object and stores nothing', async () => {
      const before = await live('deployment/web');
      const args = ['patch', 'deployment', 'web', '-n', NS, '--type=merge', '-p', '{"spec":{"replicas":9}}', '--dry-run=server', '-o', 'jsonpath={.spec.replicas}'];
      const r = await run(args);
      assert.equal(r.code, 0, show(args, r));
      assert.equal(r.stdout, '9', 'the dry-run answer shows the patched object');
      const afterObj = await live('deployment/web');
      assert.equal(afterObj.metadata.resourceVersion, before.metadata.resourceVersion);
      assert.equal(afterObj.spec?.replicas, before.spec?.replicas);
    });

    it('4-5 delete --dry-run=server prints `deleted (server dry run)` and the object stays', async () => {
      const before = await live('deployment/web');
      await prints(['delete', 'deployment', 'web', '-n', NS, '--dry-run=server'], 'deployment.apps "web" deleted (server dry run)');
      assert.deepEqual(await live('deployment/web'), before);
    });

    it('4-6 apply --server-side --dry-run=server changes nothing', async () => {
      const before = await live('deployment/web');
      await prints(['apply', '--server-side', '-f', '-', '--dry-run=server', '--force-conflicts'], 'deployment.apps/web serverside-applied (server dry run)', DEPLOYMENT.replace('replicas: 2', 'replicas: 8'));
      assert.deepEqual(await live('deployment/web'), before);
    });
  });

  // ---- 5. malformed and forbidden patches -----------------------------------------------------

  describe('5 refused patches leave the object as it was', () => {
    it('5-1 json patch with a path that does not exist (/spec/template/spec/containers/9/image) → 422', async () => {
      await refused(
        'deployment/web',
        ['patch', 'deployment', 'web', '-n', NS, '--type=json', '-p', '[{"op":"replace","path":"/spec/template/spec/containers/9/image","value":"x"}]'],
        'The request is invalid: the server rejected our request due to an error in our request',
      );
    });

    it('5-2 json patch whose test op fails → 422', async () => {
      await refused(
        'deployment/web',
        ['patch', 'deployment', 'web', '-n', NS, '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":1}]'],
        'The request is invalid: the server rejected our request due to an error in our request',
      );
    });

    it('5-3 json patch that is not a JSON array → 400 BadRequest', async () => {
      await refused('deployment/web', ['patch', 'deployment', 'web', '-n', NS, '--type=json', '-p', '{"op":"replace"}'], /^Error from server \(BadRequest\): /);
    });

    it('5-4 merge patch with a type mismatch ({"spec":{"replicas":"three"}}) → 422 naming the field', async () => {
      await refused(
        'deployment/web',
        ['patch', 'deployment', 'web', '-n', NS, '--type=merge', '-p', '{"spec":{"replicas":"three"}}'],
        /^The request is invalid: patch: Invalid value: ".*": json: cannot unmarshal string into Go struct field DeploymentSpec\.spec\.replicas of type int32\n?$/s,
      );
    });

    it('5-5 strategic patch making the object invalid (replicas -1) → 422 with the field error', async () => {
      await refused(
        'deployment/web',
        ['patch', 'deployment', 'web', '-n', NS, '-p', '{"spec":{"replicas":-1}}'],
        'The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      );
    });

    it('5-6 StorageClass provisioner is immutable → 422 Forbidden', async () => {
      await refused(
        'storageclass/patch-fast',
        ['patch', 'storageclass', 'patch-fast', '--type=merge', '-p', '{"provisioner":"example.com/slow"}'],
        'The StorageClass "patch-fast" is invalid: provisioner: Forbidden: updates to provisioner are forbidden.',
      );
    });

    it('5-7 StorageClass parameters are immutable → 422 Forbidden', async () => {
      await refused(
        'storageclass/patch-fast',
        ['patch', 'storageclass', 'patch-fast', '--type=merge', '-p', '{"parameters":{"tier":"silver"}}'],
        'The StorageClass "patch-fast" is invalid: parameters: Forbidden: updates to parameters are forbidden.',
      );
    });

    it('5-8 PVC spec after creation is immutable (storageClassName, accessModes) → 422 Forbidden', async () => {
      await refused(
        'pvc/claim',
        ['patch', 'pvc', 'claim', '-n', NS, '--type=merge', '-p', '{"spec":{"accessModes":["ReadWriteMany"]}}'],
        /^The PersistentVolumeClaim "claim" is invalid: spec: Forbidden: spec is immutable after creation except resources\.requests/,
      );
    });

    it('5-9 an unsupported patch type is refused by kubectl itself', async () => {
      await refused('deployment/web', ['patch', 'deployment', 'web', '-n', NS, '--type=foo', '-p', '{}'], 'error: --type must be one of [json merge strategic], not "foo"');
    });

    it('5-10 a truncated JSON patch → 400 BadRequest', async () => {
      await refused('deployment/web', ['patch', 'deployment', 'web', '-n', NS, '--type=merge', '-p', '{"spec":'], /^Error from server \(BadRequest\): /);
    });

    it('5-11 a patch of an object that does not exist → NotFound', async () => {
      const args = ['patch', 'deployment', 'nope', '-n', NS, '-p', '{"spec":{"replicas":1}}'];
      const r = await run(args);
      assert.equal(r.code, 1, show(args, r));
      assert.equal(r.stderr.trim(), 'Error from server (NotFound): deployments.apps "nope" not found', show(args, r));
    });

    it('5-12 an unknown field in a patch is dropped with a warning (kubectl patch sends no fieldValidation: Warn)', async () => {
      const before = await live('configmap/settings');
      const args = ['patch', 'configmap', 'settings', '-n', NS, '--type=merge', '-p', '{"dataa":{"x":"y"}}'];
      const r = await run(args);
      assert.equal(r.code, 0, show(args, r));
      assert.equal(r.stderr.trim(), 'Warning: unknown field "dataa"', show(args, r));
      assert.equal(r.stdout.trim(), 'configmap/settings patched (no change)', show(args, r));
      assert.deepEqual(await live('configmap/settings'), before);
    });
  });

  it('6 the files this suite wrote are what kubectl read', async () => {
    // Guards the replace row against a vacuous pass: the stale file really is stale.
    const stale = JSON.parse(await readFile(join(scratch, 'settings.json'), 'utf8')) as Live;
    assert.notEqual(stale.metadata.resourceVersion, (await live('configmap/settings')).metadata.resourceVersion);
  });
});
