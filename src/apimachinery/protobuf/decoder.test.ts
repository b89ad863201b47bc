import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import {
  PROTOBUF_CONTENT_TYPE,
  ProtobufDecodeError,
  UnsupportedProtobufKindError,
  decodeKubernetesProtobuf,
  supportedProtobufKinds,
} from './index.ts';

// Bodies recorded from the real kubectl by testdata/capture-fixtures.ts.
interface Fixture {
  name: string;
  command: string;
  contentType: string;
  body: string;
}
const fixtures = JSON.parse(readFileSync(new URL('./testdata/kubectl-bodies.json', import.meta.url), 'utf8')) as {
  kubectl: string;
  bodies: Fixture[];
};
function fixture(name: string): Buffer {
  const found = fixtures.bodies.find((f) => f.name === name);
  assert.ok(found, `fixture ${name} is recorded`);
  return Buffer.from(found.body, 'base64');
}

// An independent encoder over the same schema, for cases kubectl's generators never produce.
const root = new protobuf.Root();
for (const file of ['apimachinery.proto', 'meta.proto', 'resource.proto', 'intstr.proto', 'core.proto', 'apps.proto', 'rbac.proto']) {
  protobuf.parse(readFileSync(new URL(`./proto/${file}`, import.meta.url), 'utf8'), root, { keepCase: true });
}
root.resolveAll();
const MAGIC = Buffer.from('k8s\0', 'latin1');
function encodeRaw(typeName: string, value: Record<string, unknown>): Uint8Array {
  const type = root.lookupType(typeName);
  return type.encode(type.fromObject(value)).finish();
}
function envelope(apiVersion: string, kind: string, raw: Uint8Array, extra: Record<string, unknown> = {}): Buffer {
  const unknown = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  const bytes = unknown.encode(unknown.fromObject({ typeMeta: { apiVersion, kind }, raw, ...extra })).finish();
  return Buffer.concat([MAGIC, bytes]);
}

describe('decodeKubernetesProtobuf: bodies recorded from kubectl', () => {
  const rows: Array<{ name: string; want: Record<string, unknown> }> = [
    {
      name: 'namespace',
      want: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' }, spec: {}, status: {} },
    },
    {
      name: 'configmap-literal',
      want: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b', empty: '' } },
    },
    {
      name: 'configmap-binary',
      want: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'bin' },
        binaryData: { blob: Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41]).toString('base64') },
      },
    },
    {
      name: 'secret-generic',
      want: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { k: Buffer.from('v').toString('base64') }, type: 'Opaque' },
    },
    {
      name: 'secret-docker-registry',
      want: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'reg' },
        data: {
          '.dockerconfigjson': Buffer.from(
            JSON.stringify({ auths: { 'registry.example': { username: 'u', password: 'p', auth: Buffer.from('u:p').toString('base64') } } }),
          ).toString('base64'),
        },
        type: 'kubernetes.io/dockerconfigjson',
      },
    },
    {
      name: 'serviceaccount',
      want: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa' } },
    },
    {
      name: 'deployment-minimal',
      want: deployment('d', 1, { name: 'busybox', image: 'busybox', resources: {} }),
    },
    {
      name: 'deployment-full',
      want: deployment('web', 3, {
        name: 'busybox',
        image: 'busybox',
        command: ['sleep', '3600'],
        ports: [{ containerPort: 8080 }],
        resources: {},
      }),
    },
    {
      // replicas is a pointer in Go: an explicit 0 must survive, not read as "unset".
      name: 'deployment-zero-replicas',
      want: deployment('idle', 0, { name: 'busybox', image: 'busybox', resources: {} }),
    },
    {
      name: 'role',
      want: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'r' },
        rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'configmaps'], resourceNames: ['one'] }],
      },
    },
    {
      name: 'rolebinding',
      want: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'rb' },
        subjects: [
          { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' },
          { kind: 'ServiceAccount', name: 'sa', namespace: 'default' },
        ],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r' },
      },
    },
    {
      name: 'clusterrole',
      want: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'cr' },
        rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }],
      },
    },
    {
      name: 'clusterrole-aggregation',
      want: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'agg' },
        aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'rbac.example.com/aggregate': 'true' } }] },
      },
    },
    {
      name: 'clusterrolebinding',
      want: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'crb' },
        subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'devs' }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cr' },
      },
    },
    {
      name: 'quota',
      want: {
        apiVersion: 'v1',
        kind: 'ResourceQuota',
        metadata: { name: 'q' },
        spec: { hard: { cpu: '1', memory: '1Gi', pods: '2' }, scopes: ['BestEffort'] },
        status: {},
      },
    },
  ];

  it('has a row for every recorded body, all sent as protobuf', () => {
    assert.deepEqual(
      rows.map((r) => r.name).sort(),
      fixtures.bodies.map((f) => f.name).sort(),
    );
    for (const f of fixtures.bodies) assert.equal(f.contentType, PROTOBUF_CONTENT_TYPE, f.name);
  });

  for (const row of rows) {
    it(`decodes ${row.name} as its JSON encoding`, () => {
      const got = decodeKubernetesProtobuf(fixture(row.name));
      assert.equal(got.apiVersion, row.want.apiVersion);
      assert.equal(got.kind, row.want.kind);
      assert.deepEqual(got.object, row.want);
    });
  }
});

function deployment(name: string, replicas: number, container: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [container] } },
      strategy: {},
    },
    status: {},
  };
}

describe('decodeKubernetesProtobuf: JSON conversion rules', () => {
  const rows: Array<{ name: string; body: () => Buffer; want: Record<string, unknown> }> = [
    {
      name: '1 metav1.Time becomes RFC 3339 seconds; an empty (zero) Time is omitted',
      body: () =>
        envelope(
          'v1',
          'Namespace',
          encodeRaw('k8s.io.api.core.v1.Namespace', {
            metadata: { name: 'n', creationTimestamp: {}, deletionTimestamp: { seconds: 1700000000, nanos: 5 } },
          }),
        ),
      want: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n', deletionTimestamp: '2023-11-14T22:13:20Z' } },
    },
    {
      name: '2 pointer scalars keep an explicit zero; plain scalars drop it',
      body: () =>
        envelope(
          'v1',
          'ServiceAccount',
          encodeRaw('k8s.io.api.core.v1.ServiceAccount', {
            metadata: { name: 'sa', generation: 0, deletionGracePeriodSeconds: 0 },
            automountServiceAccountToken: false,
          }),
        ),
      want: {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'sa', deletionGracePeriodSeconds: 0 },
        automountServiceAccountToken: false,
      },
    },
    {
      name: '3 IntOrString becomes a number or a string; int64 becomes a number',
      body: () =>
        envelope(
          'apps/v1',
          'Deployment',
          encodeRaw('k8s.io.api.apps.v1.Deployment', {
            metadata: { name: 'd' },
            spec: {
              strategy: {
                type: 'RollingUpdate',
                rollingUpdate: { maxUnavailable: { type: 0, intVal: 0 }, maxSurge: { type: 1, strVal: '25%' } },
              },
              template: { spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'c', stdin: false, tty: true }] } },
            },
          }),
        ),
      want: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd' },
        spec: {
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
          template: { spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'c', tty: true }] } },
        },
      },
    },
    {
      name: '4 embedded structs (volume source, env source, probe handler) are inlined',
      body: () =>
        envelope(
          'apps/v1',
          'Deployment',
          encodeRaw('k8s.io.api.apps.v1.Deployment', {
            metadata: { name: 'd' },
            spec: {
              template: {
                spec: {
                  volumes: [
                    { name: 'data', volumeSource: { persistentVolumeClaim: { claimName: 'pvc' } } },
                    { name: 'cfg', volumeSource: { configMap: { localObjectReference: { name: 'cm' }, defaultMode: 420 } } },
                  ],
                  containers: [
                    {
                      name: 'c',
                      envFrom: [{ configMapRef: { localObjectReference: { name: 'cm' } } }],
                      env: [{ name: 'K', valueFrom: { secretKeyRef: { localObjectReference: { name: 's' }, key: 'k' } } }],
                      resources: { limits: { memory: { string: '64Mi' } } },
                      readinessProbe: { handler: { httpGet: { path: '/', port: { type: 1, strVal: 'http' } } }, periodSeconds: 5 },
                      volumeMounts: [{ name: 'data', mountPath: '/data' }],
                    },
                  ],
                },
              },
            },
          }),
        ),
      want: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd' },
        spec: {
          template: {
            spec: {
              volumes: [
                { name: 'data', persistentVolumeClaim: { claimName: 'pvc' } },
                { name: 'cfg', configMap: { name: 'cm', defaultMode: 420 } },
              ],
              containers: [
                {
                  name: 'c',
                  envFrom: [{ configMapRef: { name: 'cm' } }],
                  env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
                  resources: { limits: { memory: '64Mi' } },
                  readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 5 },
                  volumeMounts: [{ name: 'data', mountPath: '/data' }],
                },
              ],
            },
          },
        },
      },
    },
    {
      name: '5 owner references, managed fields (FieldsV1 as JSON) and annotations',
      body: () =>
        envelope(
          'v1',
          'ConfigMap',
          encodeRaw('k8s.io.api.core.v1.ConfigMap', {
            metadata: {
              name: 'c',
              annotations: { note: 'x' },
              ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u1', controller: true }],
              managedFields: [
                {
                  manager: 'kubectl',
                  operation: 'Update',
                  apiVersion: 'v1',
                  time: { seconds: 0, nanos: 0 },
                  fieldsType: 'FieldsV1',
                  fieldsV1: { Raw: Buffer.from('{"f:data":{}}') },
                },
              ],
            },
            immutable: true,
          }),
        ),
      want: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'c',
          annotations: { note: 'x' },
          ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u1', controller: true }],
          managedFields: [
            { manager: 'kubectl', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:data': {} } },
          ],
        },
        immutable: true,
      },
    },
    {
      name: '6 fields the schema does not declare are skipped',
      // Field 99, varint 1, appended after a valid ConfigMap.
      body: () =>
        envelope(
          'v1',
          'ConfigMap',
          Buffer.concat([encodeRaw('k8s.io.api.core.v1.ConfigMap', { metadata: { name: 'c' } }), Buffer.from([0x98, 0x06, 0x01])]),
        ),
      want: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
    },
    {
      name: '7 the envelope may name its content type explicitly',
      body: () =>
        envelope('v1', 'ConfigMap', encodeRaw('k8s.io.api.core.v1.ConfigMap', { metadata: { name: 'c' } }), {
          contentType: PROTOBUF_CONTENT_TYPE,
        }),
      want: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
    },
  ];

  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(decodeKubernetesProtobuf(row.body()).object, row.want);
    });
  }
});

describe('decodeKubernetesProtobuf: bad input', () => {
  const rows: Array<{ name: string; body: () => Buffer; error: 'decode' | 'kind'; reason?: string; message: RegExp }> = [
    {
      name: 'E1 a JSON body has the wrong magic',
      body: () => Buffer.from('{"kind":"ConfigMap"}'),
      error: 'decode',
      reason: 'NotProtobuf',
      message: /does not appear to be a protobuf message, expected prefix \[107 56 115 0\]/,
    },
    { name: 'E2 an empty body', body: () => Buffer.alloc(0), error: 'decode', reason: 'NotProtobuf', message: /expected prefix/ },
    {
      name: 'E3 a truncated body',
      body: () => {
        const whole = fixture('configmap-literal');
        return whole.subarray(0, whole.length - 5);
      },
      error: 'decode',
      reason: 'MalformedEnvelope',
      message: /unable to decode the protobuf envelope/,
    },
    {
      name: 'E4 a truncated object inside a whole envelope',
      body: () => {
        const raw = encodeRaw('k8s.io.api.core.v1.ConfigMap', { metadata: { name: 'c' }, data: { a: 'b' } });
        return envelope('v1', 'ConfigMap', raw.subarray(0, raw.length - 2));
      },
      error: 'decode',
      reason: 'MalformedObject',
      message: /unable to decode ConfigMap in version "v1"/,
    },
    {
      name: 'E5 an envelope without a kind',
      body: () => envelope('v1', '', new Uint8Array(0)),
      error: 'decode',
      reason: 'MissingTypeMeta',
      message: /does not name a kind/,
    },
    {
      name: 'E6 a compressed raw object',
      body: () => envelope('v1', 'ConfigMap', new Uint8Array(0), { contentEncoding: 'gzip' }),
      error: 'decode',
      reason: 'UnsupportedEncoding',
      message: /content encoding "gzip"/,
    },
    {
      name: 'E7 a kind the decoder does not cover',
      body: () => envelope('v1', 'Pod', new Uint8Array(0)),
      error: 'kind',
      message: /protobuf decoding of Pod in version "v1" is not supported/,
    },
    {
      name: 'E8 a covered kind in another version',
      body: () => envelope('apps/v1beta1', 'Deployment', new Uint8Array(0)),
      error: 'kind',
      message: /Deployment in version "apps\/v1beta1"/,
    },
  ];

  for (const row of rows) {
    it(row.name, () => {
      assert.throws(
        () => decodeKubernetesProtobuf(row.body()),
        (err: unknown) => {
          if (row.error === 'kind') {
            assert.ok(err instanceof UnsupportedProtobufKindError, String(err));
            assert.equal(err.name, 'UnsupportedProtobufKindError');
          } else {
            assert.ok(err instanceof ProtobufDecodeError, String(err));
            assert.equal(err.name, 'ProtobufDecodeError');
            assert.equal(err.reason, row.reason);
          }
          assert.match((err as Error).message, row.message);
          return true;
        },
      );
    });
  }
});

describe('supportedProtobufKinds', () => {
  it('lists the kinds kubectl generators create', () => {
    const kinds = supportedProtobufKinds().map((k) => `${k.apiVersion}/${k.kind}`);
    for (const want of ['v1/Namespace', 'apps/v1/Deployment', 'rbac.authorization.k8s.io/v1/ClusterRoleBinding', 'v1/ResourceQuota']) {
      assert.ok(kinds.includes(want), want);
    }
  });
});
