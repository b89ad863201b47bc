// End-to-end: a corpus of malformed, invalid and unauthorised requests sent straight over HTTPS
// (node's https module, the admin client certificate from the test cluster's kubeconfig) to a
// real volplane API server.
//
// Each row names the Kubernetes behaviour it checks and the Status the real apiserver answers
// (code, reason, message). After the corpus the server must still be healthy and every object
// created before it must be exactly as it was: a bad request may fail, but it may not change
// or break anything.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { startTestCluster, type TestCluster } from '../src/testing/index.ts';

// ---- HTTPS client ------------------------------------------------------------------------------

interface Credentials {
  ca: string;
  /** Absent for anonymous requests. */
  cert?: string;
  key?: string;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface KubeconfigFile {
  clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
}

async function readCredentials(kubeconfigPath: string): Promise<{ server: URL; admin: Credentials; anonymous: Credentials }> {
  const config = parseYaml(await readFile(kubeconfigPath, 'utf8')) as KubeconfigFile;
  const fromBase64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
  const ca = fromBase64(config.clusters[0].cluster['certificate-authority-data']);
  return {
    server: new URL(config.clusters[0].cluster.server),
    admin: {
      ca,
      cert: fromBase64(config.users[0].user['client-certificate-data']),
      key: fromBase64(config.users[0].user['client-key-data']),
    },
    anonymous: { ca },
  };
}

function send(
  server: URL,
  creds: Credentials,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpsRequest(
      {
        hostname: server.hostname,
        port: server.port,
        method,
        path,
        // An explicit length: node frames DELETE bodies neither with a length nor chunked.
        headers: { Accept: 'application/json', ...headers, ...(body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }) },
        ca: creds.ca,
        cert: creds.cert,
        key: creds.key,
        agent: false,
      },
      (res) => {
        answered = true;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    // A server may answer an oversized body early and close the connection while we are still
    // writing; what counts is the answer, not the broken write.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

// ---- the corpus --------------------------------------------------------------------------------

interface StatusBody {
  kind: string;
  apiVersion: string;
  status: string;
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
}

interface BadRequestRow {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  contentType?: string;
  body?: string;
  /** Send no client certificate. */
  anonymous?: boolean;
  expectCode: number;
  /** Status reason; rows without it expect a success answer (not a Status). */
  expectReason?: string;
  expectMessage?: string | RegExp;
  /** `details.causes[].field` values that must all be present. */
  expectCauseFields?: string[];
  /** Text of a `Warning: 299 - "…"` header that must be present. */
  expectWarning?: string;
}

const CM = '/api/v1/namespaces/default/configmaps';
const PVC = '/api/v1/namespaces/default/persistentvolumeclaims';
const PV = '/api/v1/persistentvolumes';
const SC = '/apis/storage.k8s.io/v1/storageclasses';
const JSON_TYPE = 'application/json';

const configMap = (name: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { k: 'v' }, ...extra });

const pvc = (name: string, spec: Record<string, unknown>): string =>
  JSON.stringify({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec });

const validPvcSpec = { accessModes: ['ReadWriteOnce'], storageClassName: 'none', resources: { requests: { storage: '1Gi' } } };

const UPDATE_CONFLICT =
  'Operation cannot be fulfilled on configmaps "keep-cm": the object has been modified; please apply your changes to the latest version and try again';

const rows: BadRequestRow[] = [
  // -- bodies that cannot be decoded
  {
    name: 'malformed JSON body',
    method: 'POST', path: CM, contentType: JSON_TYPE, body: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":',
    expectCode: 400, expectReason: 'BadRequest', expectMessage: /json/i,
  },
  {
    name: 'malformed YAML body',
    method: 'POST', path: CM, contentType: 'application/yaml', body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n',
    expectCode: 400, expectReason: 'BadRequest', expectMessage: /yaml/i,
  },
  {
    name: 'a JSON array as body',
    method: 'POST', path: CM, contentType: JSON_TYPE, body: '[{"apiVersion":"v1","kind":"ConfigMap"}]',
    expectCode: 400, expectReason: 'BadRequest', expectMessage: /array|object/i,
  },
  {
    name: 'a body kind that does not match the path',
    method: 'POST', path: CM, contentType: JSON_TYPE,
    body: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'kind-mismatch' }, data: {} }),
    expectCode: 400, expectReason: 'BadRequest', expectMessage: /Secret in version "v1" cannot be handled as a ConfigMap/,
  },
  {
    name: 'metadata.name of the wrong JSON type',
    method: 'POST', path: CM, contentType: JSON_TYPE, body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 5 } }),
    expectCode: 400, expectReason: 'BadRequest',
    expectMessage: 'cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string',
  },
  {
    name: 'a create body in an unsupported media type',
    method: 'POST', path: CM, contentType: 'text/plain', body: configMap('plain-text'),
    expectCode: 415, expectReason: 'UnsupportedMediaType',
    expectMessage: /^the body of the request was in an unknown format - accepted media types include: .*application\/json/,
  },
  // -- paths that do not exist
  {
    name: 'an unknown resource in the core group',
    method: 'GET', path: '/api/v1/widgets',
    expectCode: 404, expectReason: 'NotFound', expectMessage: 'the server could not find the requested resource',
  },
  {
    name: 'an unknown API group',
    method: 'GET', path: '/apis/widgets.example.com/v1/widgets',
    expectCode: 404, expectReason: 'NotFound', expectMessage: 'the server could not find the requested resource',
  },
  {
    name: 'a create of an unknown namespaced resource',
    method: 'POST', path: '/api/v1/namespaces/default/widgets', contentType: JSON_TYPE, body: '{"apiVersion":"v1","kind":"Widget","metadata":{"name":"w"}}',
    expectCode: 404, expectReason: 'NotFound', expectMessage: 'the server could not find the requested resource',
  },
  {
    name: 'POST on an object path',
    method: 'POST', path: `${CM}/keep-cm`, contentType: JSON_TYPE, body: configMap('keep-cm'),
    expectCode: 405, expectReason: 'MethodNotAllowed', expectMessage: 'the server does not allow this method on the requested resource',
  },
  // -- field validation
  {
    name: 'an unknown field with fieldValidation=Strict',
    method: 'POST', path: `${PVC}?fieldValidation=Strict`, contentType: JSON_TYPE, body: pvc('strict-pvc', { ...validPvcSpec, foo: 'bar' }),
    expectCode: 400, expectReason: 'BadRequest',
    expectMessage: 'PersistentVolumeClaim in version "v1" cannot be handled as a PersistentVolumeClaim: strict decoding error: unknown field "spec.foo"',
  },
  {
    name: 'a duplicate field with fieldValidation=Strict',
    method: 'POST', path: `${CM}?fieldValidation=Strict`, contentType: JSON_TYPE,
    body: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup-cm","name":"dup-cm"}}',
    expectCode: 400, expectReason: 'BadRequest', expectMessage: 'strict decoding error: duplicate field "metadata.name"',
  },
  {
    name: 'an unknown field with fieldValidation=Warn is created with a warning',
    method: 'POST', path: `${PVC}?fieldValidation=Warn`, contentType: JSON_TYPE, body: pvc('warn-pvc', { ...validPvcSpec, foo: 'bar' }),
    expectCode: 201, expectWarning: 'unknown field "spec.foo"',
  },
  // -- validation (422)
  {
    name: 'a StorageClass without provisioner',
    method: 'POST', path: SC, contentType: JSON_TYPE,
    body: JSON.stringify({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'nop' } }),
    expectCode: 422, expectReason: 'Invalid', expectMessage: 'StorageClass.storage.k8s.io "nop" is invalid: provisioner: Required value',
    expectCauseFields: ['provisioner'],
  },
  {
    name: 'a PVC without access modes and size',
    method: 'POST', path: PVC, contentType: JSON_TYPE, body: pvc('empty-spec', {}),
    expectCode: 422, expectReason: 'Invalid', expectMessage: /^PersistentVolumeClaim "empty-spec" is invalid: \[/,
    expectCauseFields: ['spec.accessModes', 'spec.resources[storage]'],
  },
  {
    name: 'a PV without capacity and with a bad name',
    method: 'POST', path: PV, contentType: JSON_TYPE,
    body: JSON.stringify({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'Bad_Name' }, spec: { accessModes: ['ReadWriteOnce'], hostPath: { path: '/tmp/x' } } }),
    expectCode: 422, expectReason: 'Invalid', expectMessage: /^PersistentVolume "Bad_Name" is invalid: /,
    expectCauseFields: ['metadata.name', 'spec.capacity'],
  },
  {
    name: 'a patch of an immutable StorageClass field',
    method: 'PATCH', path: `${SC}/keep-sc`, contentType: 'application/merge-patch+json', body: '{"provisioner":"example.com/other"}',
    expectCode: 422, expectReason: 'Invalid', expectMessage: /^StorageClass\.storage\.k8s\.io "keep-sc" is invalid: provisioner: Forbidden/,
    expectCauseFields: ['provisioner'],
  },
  // -- conflicts and namespaces
  {
    name: 'a PUT with a stale resourceVersion',
    method: 'PUT', path: `${CM}/keep-cm`, contentType: JSON_TYPE,
    body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'keep-cm', resourceVersion: '1' }, data: { k: 'overwritten' } }),
    expectCode: 409, expectReason: 'Conflict', expectMessage: UPDATE_CONFLICT,
  },
  {
    name: 'a PUT whose body names another object',
    method: 'PUT', path: `${CM}/keep-cm`, contentType: JSON_TYPE, body: configMap('other-name'),
    expectCode: 400, expectReason: 'BadRequest', expectMessage: 'the name of the object (other-name) does not match the name on the URL (keep-cm)',
  },
  {
    name: 'a create of an existing object',
    method: 'POST', path: CM, contentType: JSON_TYPE, body: configMap('keep-cm', { data: { k: 'second' } }),
    expectCode: 409, expectReason: 'AlreadyExists', expectMessage: 'configmaps "keep-cm" already exists',
  },
  {
    name: 'a create in a missing namespace',
    method: 'POST', path: '/api/v1/namespaces/nope/configmaps', contentType: JSON_TYPE, body: configMap('orphan'),
    expectCode: 404, expectReason: 'NotFound', expectMessage: 'namespaces "nope" not found',
  },
  {
    name: 'a body namespace that differs from the path',
    method: 'POST', path: CM, contentType: JSON_TYPE,
    body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'elsewhere', namespace: 'kube-system' } }),
    expectCode: 400, expectReason: 'BadRequest', expectMessage: 'the namespace of the provided object does not match the namespace sent on the request',
  },
  // -- size and patch types
  {
    name: 'a body over 3 MiB',
    method: 'POST', path: CM, contentType: JSON_TYPE, body: configMap('huge', { data: { k: 'x'.repeat(3.5 * 1024 * 1024) } }),
    expectCode: 413, expectReason: 'RequestEntityTooLarge', expectMessage: 'Request entity too large: limit is 3145728',
  },
  {
    name: 'a patch in an unsupported content type',
    method: 'PATCH', path: `${CM}/keep-cm`, contentType: 'text/plain', body: '{"data":{"k":"patched"}}',
    expectCode: 415, expectReason: 'UnsupportedMediaType',
    expectMessage:
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml',
  },
  {
    // kube-apiserver's json-patch (evanphx v4) lets `replace` add a missing key of an
    // existing object, so the refused case is a path whose parent does not exist.
    name: 'a JSON patch replacing a path whose parent does not exist',
    method: 'PATCH', path: `${CM}/keep-cm`, contentType: 'application/json-patch+json', body: '[{"op":"replace","path":"/data/nope/deeper","value":"x"}]',
    expectCode: 422, expectReason: 'Invalid', expectMessage: 'the server rejected our request due to an error in our request',
  },
  {
    name: 'a JSON patch whose test op fails',
    method: 'PATCH', path: `${CM}/keep-cm`, contentType: 'application/json-patch+json',
    body: '[{"op":"test","path":"/data/k","value":"not-v"},{"op":"replace","path":"/data/k","value":"x"}]',
    expectCode: 422, expectReason: 'Invalid',
  },
  {
    name: 'a JSON patch that is not an array',
    method: 'PATCH', path: `${CM}/keep-cm`, contentType: 'application/json-patch+json', body: '{"op":"replace"}',
    expectCode: 400, expectReason: 'BadRequest',
  },
  {
    name: 'a patch of a missing object',
    method: 'PATCH', path: `${CM}/does-not-exist`, contentType: 'application/merge-patch+json', body: '{"data":{"k":"x"}}',
    expectCode: 404, expectReason: 'NotFound', expectMessage: 'configmaps "does-not-exist" not found',
  },
  {
    name: 'a merge patch setting a stale resourceVersion',
    method: 'PATCH', path: `${CM}/keep-cm`, contentType: 'application/merge-patch+json', body: '{"metadata":{"resourceVersion":"1"},"data":{"k":"x"}}',
    expectCode: 409, expectReason: 'Conflict', expectMessage: UPDATE_CONFLICT,
  },
  // -- list parameters
  {
    name: 'a bad label selector',
    method: 'GET', path: `${CM}?labelSelector=${encodeURIComponent('app in (x')}`,
    expectCode: 400, expectReason: 'BadRequest', expectMessage: /unable to parse requirement|label selector/i,
  },
  {
    name: 'an unknown field selector',
    method: 'GET', path: `${CM}?fieldSelector=${encodeURIComponent('spec.foo=bar')}`,
    expectCode: 400, expectReason: 'BadRequest', expectMessage: '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
  },
  {
    name: 'an unparsable resourceVersion on a list',
    method: 'GET', path: `${CM}?resourceVersion=abc`,
    expectCode: 400, expectReason: 'BadRequest', expectMessage: /resourceVersion|resource version/i,
  },
  {
    name: 'a negative limit',
    method: 'GET', path: `${CM}?limit=-1`,
    expectCode: 400, expectReason: 'BadRequest', expectMessage: /limit/,
  },
  // -- deletes and credentials
  {
    name: 'a DELETE of a missing object',
    method: 'DELETE', path: `${CM}/does-not-exist`,
    expectCode: 404, expectReason: 'NotFound', expectMessage: 'configmaps "does-not-exist" not found',
  },
  {
    name: 'a DELETE with a mismatched uid precondition',
    method: 'DELETE', path: `${CM}/keep-cm`, contentType: JSON_TYPE,
    body: JSON.stringify({ preconditions: { uid: '00000000-0000-0000-0000-000000000000' } }),
    expectCode: 409, expectReason: 'Conflict', expectMessage: /^Operation cannot be fulfilled on configmaps "keep-cm": Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: /,
  },
  {
    name: 'a request without credentials',
    method: 'GET', path: PV, anonymous: true,
    expectCode: 401, expectReason: 'Unauthorized', expectMessage: 'Unauthorized',
  },
  {
    name: 'a write without credentials',
    method: 'POST', path: CM, anonymous: true, contentType: JSON_TYPE, body: configMap('anonymous-cm'),
    expectCode: 401, expectReason: 'Unauthorized', expectMessage: 'Unauthorized',
  },
];

/** Objects no row may leave behind. */
const mustNotExist = [
  `${CM}/kind-mismatch`, `${CM}/plain-text`, `${PVC}/strict-pvc`, `${CM}/dup-cm`, `${SC}/nop`, `${PVC}/empty-spec`,
  `${PV}/Bad_Name`, `${CM}/other-name`, `${CM}/elsewhere`, '/api/v1/namespaces/kube-system/configmaps/elsewhere',
  `${CM}/huge`, `${CM}/anonymous-cm`, `${CM}/does-not-exist`,
];

/** Objects created before the corpus; they must come out unchanged. */
const keep: { path: string; collection: string; body: Record<string, unknown> }[] = [
  { path: `${CM}/keep-cm`, collection: CM, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'keep-cm', labels: { app: 'keep' } }, data: { k: 'v' } } },
  { path: `${PVC}/keep-pvc`, collection: PVC, body: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'keep-pvc' }, spec: validPvcSpec } },
  {
    path: `${PV}/keep-pv`,
    collection: PV,
    body: {
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'keep-pv' },
      spec: { capacity: { storage: '2Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: 'none', hostPath: { path: '/tmp/volplane-keep-pv' } },
    },
  },
  {
    path: `${SC}/keep-sc`,
    collection: SC,
    body: { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'keep-sc' }, provisioner: 'example.com/keep', parameters: { a: 'b' } },
  },
];

describe('bad requests against volplane', () => {
  let cluster: TestCluster;
  let server: URL;
  let admin: Credentials;
  let anonymous: Credentials;
  const snapshot: Map<string, unknown> = new Map();

  const get = (path: string): Promise<Reply> => send(server, admin, 'GET', path, {});

  before(async () => {
    cluster = await startTestCluster();
    ({ server, admin, anonymous } = await readCredentials(cluster.kubeconfigPath));
    for (const k of keep) {
      const created = await send(server, admin, 'POST', k.collection, { 'Content-Type': JSON_TYPE }, JSON.stringify(k.body));
      assert.equal(created.status, 201, `creating ${k.path}: ${created.body}`);
      const read = await get(k.path);
      assert.equal(read.status, 200, `reading ${k.path}: ${read.body}`);
      snapshot.set(k.path, JSON.parse(read.body));
    }
  });

  after(async () => {
    await cluster?.close();
  });

  for (const row of rows) {
    it(`answers ${row.name} with ${row.expectCode}${row.expectReason ? ` ${row.expectReason}` : ''}`, async () => {
      const headers: Record<string, string> = row.contentType ? { 'Content-Type': row.contentType } : {};
      const reply = await send(server, row.anonymous ? anonymous : admin, row.method, row.path, headers, row.body);
      const context = `${row.method} ${row.path} → ${reply.status} ${reply.body.slice(0, 500)}`;
      assert.equal(reply.status, row.expectCode, context);
      assert.match(String(reply.headers['content-type']), /^application\/json/, context);
      const body = JSON.parse(reply.body) as StatusBody;

      if (row.expectReason !== undefined) {
        assert.equal(body.kind, 'Status', context);
        assert.equal(body.apiVersion, 'v1', context);
        assert.equal(body.status, 'Failure', context);
        assert.equal(body.code, row.expectCode, context);
        assert.equal(body.reason, row.expectReason, context);
        assert.equal(typeof body.message, 'string', context);
      }
      if (typeof row.expectMessage === 'string') {
        assert.ok(body.message.includes(row.expectMessage), `message ${JSON.stringify(body.message)} lacks ${JSON.stringify(row.expectMessage)}`);
      } else if (row.expectMessage) {
        assert.match(body.message, row.expectMessage);
      }
      if (row.expectCauseFields) {
        const fields = (body.details?.causes ?? []).map((c) => c.field);
        for (const f of row.expectCauseFields) assert.ok(fields.includes(f), `causes ${JSON.stringify(body.details?.causes)} lack field ${f}`);
      }
      if (row.expectWarning !== undefined) {
        const warning = reply.headers.warning;
        const warnings = Array.isArray(warning) ? warning : warning === undefined ? [] : [warning];
        const want = `299 - ${JSON.stringify(row.expectWarning)}`;
        assert.ok(warnings.some((w) => w.includes(want)), `Warning headers ${JSON.stringify(warnings)} lack ${want}`);
      }
    });
  }

  describe('after the corpus', () => {
    it('the server still answers /healthz', async () => {
      const reply = await get('/healthz');
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'ok');
    });

    it('every object created before the corpus is unchanged', async () => {
      for (const k of keep) {
        const reply = await get(k.path);
        assert.equal(reply.status, 200, `${k.path}: ${reply.body}`);
        assert.deepEqual(JSON.parse(reply.body), snapshot.get(k.path), k.path);
      }
    });

    it('no failed request left an object behind', async () => {
      for (const path of mustNotExist) {
        const reply = await get(path);
        assert.equal(reply.status, 404, `${path} exists: ${reply.body.slice(0, 300)}`);
      }
    });

    it('the warned create was stored without the unknown field', async () => {
      const reply = await get(`${PVC}/warn-pvc`);
      assert.equal(reply.status, 200, reply.body);
      const obj = JSON.parse(reply.body) as { spec: Record<string, unknown> };
      assert.equal('foo' in obj.spec, false);
    });

    it('normal requests still work', async () => {
      const list = await get(CM);
      assert.equal(list.status, 200, list.body);
      const names = (JSON.parse(list.body) as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name);
      assert.ok(names.includes('keep-cm'), names.join(','));
      const created = await send(server, admin, 'POST', CM, { 'Content-Type': JSON_TYPE }, configMap('after-corpus'));
      assert.equal(created.status, 201, created.body);
    });
  });
});
