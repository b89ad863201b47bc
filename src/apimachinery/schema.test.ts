import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  base64ErrorOffset,
  checkObject,
  formatStrictError,
  formatTypeError,
  goStructName,
  hasSchema,
  quantityFieldNames,
  schemaFieldNames,
  typeProblemText,
  UnknownSchemaError,
} from './schema.ts';

const validPVC = {
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name: 'data', namespace: 'default', labels: { app: 'db' }, annotations: { a: 'b' } },
  spec: {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: '1Gi' } },
    storageClassName: 'standard',
    volumeMode: 'Filesystem',
    selector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold'] }] },
  },
  status: { phase: 'Pending', capacity: { storage: '1Gi' } },
};

const unknownRows: Array<[name: string, type: string, obj: unknown, unknown: string[]]> = [
  ['a valid PVC has no problems', 'V1PersistentVolumeClaim', validPVC, []],
  [
    'misspelt metadata field',
    'V1PersistentVolume',
    { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv', label: { a: 'b' } } },
    ['metadata.label'],
  ],
  [
    'unknown field inside a list element',
    'V1Pod',
    { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x' }, { name: 'd', imagee: 'x' }] } },
    ['spec.containers[1].imagee'],
  ],
  [
    'unknown fields at several depths, in document order',
    'V1PersistentVolume',
    { foo: 1, metadata: { name: 'pv' }, spec: { bar: 2, hostPath: { path: '/x', baz: 3 } } },
    ['foo', 'spec.bar', 'spec.hostPath.baz'],
  ],
  [
    'fields are case-sensitive',
    'V1PersistentVolume',
    { Metadata: {}, spec: { AccessModes: [] } },
    ['Metadata', 'spec.AccessModes'],
  ],
  ['apiVersion and kind are known at the root', 'V1StorageClass', { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: {}, provisioner: 'x' }, []],
  ['free-form maps accept any key', 'V1ConfigMap', { metadata: { name: 'c' }, data: { 'any key': 'v' } }, []],
  ['any-typed fields accept anything', 'V1ControllerRevision', { metadata: {}, revision: 1, data: { whatever: [1, { x: true }] } }, []],
  [
    'nested templates are checked too',
    'V1StatefulSet',
    {
      metadata: { name: 's' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', imagePullPolicyx: 'Always' }] } },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: 1 } }, foo: 1 } }],
      },
    },
    ['spec.template.spec.containers[0].imagePullPolicyx', 'spec.volumeClaimTemplates[0].spec.foo'],
  ],
];

for (const [name, type, obj, unknown] of unknownRows) {
  test(`checkObject unknown fields: ${name}`, () => {
    const problems = checkObject(type, obj);
    assert.deepEqual(problems.unknownFields, unknown);
    assert.deepEqual(problems.typeErrors, []);
  });
}

const typeRows: Array<[name: string, type: string, obj: unknown, kind: string, message: string]> = [
  [
    'number for a string',
    'V1PersistentVolume',
    { metadata: { name: 5 } },
    'PersistentVolume',
    'PersistentVolume in version "v1" cannot be handled as a PersistentVolume: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string',
  ],
  [
    'number for a string inside a list',
    'V1Pod',
    { metadata: {}, spec: { containers: [{ name: 'c', env: [{ name: 'A', value: 1 }] }] } },
    'Pod',
    'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field EnvVar.spec.containers.env.value of type string',
  ],
  [
    'fraction for an int32',
    'V1Pod',
    { metadata: {}, spec: { containers: [{ name: 'c', ports: [{ containerPort: 80.5 }] }] } },
    'Pod',
    'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number 80.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32',
  ],
  [
    'int32 overflow',
    'V1Pod',
    { metadata: {}, spec: { containers: [{ name: 'c', ports: [{ containerPort: 3000000000 }] }] } },
    'Pod',
    'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number 3000000000 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32',
  ],
  [
    'string for a bool',
    'V1CSIDriver',
    { metadata: {}, spec: { attachRequired: 'true' } },
    'CSIDriver',
    'CSIDriver in version "v1" cannot be handled as a CSIDriver: json: cannot unmarshal string into Go struct field CSIDriverSpec.spec.attachRequired of type bool',
  ],
  [
    'string for a struct',
    'V1PersistentVolume',
    { metadata: {}, spec: 'big' },
    'PersistentVolume',
    'PersistentVolume in version "v1" cannot be handled as a PersistentVolume: json: cannot unmarshal string into Go struct field PersistentVolume.spec of type v1.PersistentVolumeSpec',
  ],
  [
    'object for a list',
    'V1Pod',
    { metadata: {}, spec: { containers: { name: 'c' } } },
    'Pod',
    'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container',
  ],
  [
    'string for a list element struct',
    'V1Pod',
    { metadata: {}, spec: { containers: ['c'] } },
    'Pod',
    'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container',
  ],
  [
    'array for a string map',
    'V1ConfigMap',
    { metadata: { labels: ['a'] } },
    'ConfigMap',
    'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string',
  ],
  [
    'number as a map value',
    'V1ConfigMap',
    { metadata: {}, data: { a: 1 } },
    'ConfigMap',
    'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string',
  ],
  [
    'number for a timestamp',
    'V1PersistentVolume',
    { metadata: { creationTimestamp: 5 } },
    'PersistentVolume',
    'PersistentVolume in version "v1" cannot be handled as a PersistentVolume: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string',
  ],
  [
    'bool for an int-or-string',
    'V1Pod',
    { metadata: {}, spec: { containers: [{ name: 'c', livenessProbe: { httpGet: { port: true } } }] } },
    'Pod',
    'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal bool into Go struct field HTTPGetAction.spec.containers.livenessProbe.httpGet.port of type int32',
  ],
  [
    'bad quantity string',
    'V1PersistentVolumeClaim',
    { metadata: {}, spec: { resources: { requests: { storage: '1 Gi' } } } },
    'PersistentVolumeClaim',
    "PersistentVolumeClaim in version \"v1\" cannot be handled as a PersistentVolumeClaim: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
  ],
  [
    'bad quantity suffix',
    'V1PersistentVolume',
    { metadata: {}, spec: { capacity: { storage: '1mi' } } },
    'PersistentVolume',
    "PersistentVolume in version \"v1\" cannot be handled as a PersistentVolume: unable to parse quantity's suffix",
  ],
  [
    'bool for a quantity',
    'V1Pod',
    { metadata: {}, spec: { volumes: [{ name: 'v', emptyDir: { sizeLimit: true } }] } },
    'Pod',
    "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
  ],
  [
    'bad base64 in secret data',
    'V1Secret',
    { metadata: {}, data: { password: 'not base64!' } },
    'Secret',
    'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3',
  ],
  [
    'the root is not an object',
    'V1PersistentVolume',
    [1, 2],
    'PersistentVolume',
    'PersistentVolume in version "v1" cannot be handled as a PersistentVolume: json: cannot unmarshal array into Go value of type v1.PersistentVolume',
  ],
];

for (const [name, type, obj, kind, message] of typeRows) {
  test(`checkObject type errors: ${name}`, () => {
    const problems = checkObject(type, obj);
    assert.ok(problems.typeErrors.length > 0, 'expected a type error');
    assert.equal(formatTypeError(kind, 'v1', problems.typeErrors[0]), message);
  });
}

test('checkObject: a type problem carries the apimachinery path and Go details', () => {
  const { typeErrors } = checkObject('V1Pod', { metadata: {}, spec: { containers: [{ name: 'c' }, { name: 7 }] } });
  assert.deepEqual(typeErrors, [
    { path: 'spec.containers[1].name', expected: 'string', got: 'number', goStruct: 'Container', goField: 'spec.containers.name', goType: 'string' },
  ]);
});

const acceptedRows: Array<[name: string, type: string, obj: unknown]> = [
  ['numbers for quantities', 'V1PersistentVolumeClaim', { metadata: {}, spec: { resources: { requests: { storage: 5, cpu: 0.5 } } } }],
  ['quantities with surrounding spaces', 'V1PersistentVolume', { metadata: {}, spec: { capacity: { storage: ' 1Gi ' } } }],
  ['scalar quantity as a number', 'V1Pod', { metadata: {}, spec: { volumes: [{ name: 'v', emptyDir: { sizeLimit: 1024 } }] } }],
  ['quantity list', 'V1CapacityRequestPolicy', { validValues: ['1Gi', 2] }],
  ['int-or-string as a name', 'V1Pod', { metadata: {}, spec: { containers: [{ name: 'c', livenessProbe: { httpGet: { port: 'http' } } }] } }],
  ['int-or-string as a number', 'V1Pod', { metadata: {}, spec: { containers: [{ name: 'c', livenessProbe: { tcpSocket: { port: 8080 } } }] } }],
  ['null anywhere', 'V1Pod', { metadata: { name: null, labels: null }, spec: { containers: [null, { name: null, ports: null }] }, status: null }],
  ['timestamps as strings', 'V1PersistentVolume', { metadata: { creationTimestamp: '2024-05-01T10:00:00Z', deletionTimestamp: 'whenever' } }],
  ['micro time as a string', 'EventsV1Event', { metadata: {}, eventTime: '2024-05-01T10:00:00.123456Z' }],
  ['valid base64', 'V1Secret', { metadata: {}, data: { a: 'aGVsbG8=', b: '', c: 'aGVs\nbG8=' } }],
  ['bytes as a list of byte values', 'V1Secret', { metadata: {}, data: { a: [104, 105] } }],
  ['int64 values', 'V1Pod', { metadata: { generation: 9007199254740991 }, spec: { containers: [], activeDeadlineSeconds: 30 } }],
  ['float fields take fractions', 'V1PriorityClass', { metadata: {}, value: 10 }],
];

for (const [name, type, obj] of acceptedRows) {
  test(`checkObject accepts: ${name}`, () => {
    assert.deepEqual(checkObject(type, obj), { unknownFields: [], typeErrors: [] });
  });
}

test('checkObject: rootKind names the root struct', () => {
  const { typeErrors } = checkObject('EventsV1Event', { metadata: {}, note: 5 }, { rootKind: 'Event' });
  assert.equal(
    typeProblemText(typeErrors[0]),
    'json: cannot unmarshal number into Go struct field Event.note of type string',
  );
});

test('checkObject: unknown fields are reported once, at most 100', () => {
  const containers = Array.from({ length: 150 }, (_, i) => ({ name: `c${i}`, imagee: 'x' }));
  const { unknownFields } = checkObject('V1Pod', { metadata: {}, spec: { containers } });
  assert.equal(unknownFields.length, 100);
  assert.equal(unknownFields[0], 'spec.containers[0].imagee');
  const dup = checkObject('V1PersistentVolume', { metadata: { x: 1 }, spec: { x: 1 } });
  assert.deepEqual(dup.unknownFields, ['metadata.x', 'spec.x']);
});

test('checkObject: an unknown type is an UnknownSchemaError', () => {
  assert.throws(() => checkObject('V1NoSuchThing', {}), UnknownSchemaError);
  assert.throws(() => checkObject('../../index', {}), UnknownSchemaError);
  assert.equal(hasSchema('V1PersistentVolume'), true);
  assert.equal(hasSchema('V1NoSuchThing'), false);
});

test('formatStrictError lists every unknown field', () => {
  assert.equal(
    formatStrictError('PersistentVolume', 'v1', ['metadata.label']),
    'PersistentVolume in version "v1" cannot be handled as a PersistentVolume: strict decoding error: unknown field "metadata.label"',
  );
  assert.equal(
    formatStrictError('Deployment', 'v1', ['spec.replicass', 'spec.template.spec.containers[0].imagee']),
    'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replicass", unknown field "spec.template.spec.containers[0].imagee"',
  );
});

const structRows: Array<[model: string, struct: string]> = [
  ['V1ObjectMeta', 'ObjectMeta'],
  ['V1beta1VolumeAttributesClass', 'VolumeAttributesClass'],
  ['V1alpha3DeviceClass', 'DeviceClass'],
  ['CoreV1Event', 'Event'],
  ['EventsV1Event', 'Event'],
  ['StorageV1TokenRequest', 'TokenRequest'],
  ['V2HorizontalPodAutoscaler', 'HorizontalPodAutoscaler'],
  ['VersionInfo', 'VersionInfo'],
];

for (const [model, struct] of structRows) {
  test(`goStructName: ${model} → ${struct}`, () => {
    assert.equal(goStructName(model), struct);
  });
}

const base64Rows: Array<[name: string, input: string, offset: number | undefined]> = [
  ['empty', '', undefined],
  ['padded', 'aGVsbG8=', undefined],
  ['double padding', 'aGk=', undefined],
  ['two pad characters', 'YQ==', undefined],
  ['newlines are skipped', 'YQ\n==', undefined],
  ['bad character', 'aG$s', 2],
  ['missing padding', 'aGk', 0],
  ['incomplete padding', 'YQ=', 3],
  ['padding too early', 'Y===', 1],
  ['data after padding', 'YQ==YQ==', 4],
  ['url alphabet is not standard', 'a-_b', 1],
];

for (const [name, input, offset] of base64Rows) {
  test(`base64ErrorOffset: ${name}`, () => {
    assert.equal(base64ErrorOffset(input), offset);
  });
}

test('quantity fields named by the checker exist in the models', () => {
  for (const entry of quantityFieldNames()) {
    const [model, field] = entry.split('.');
    assert.ok(hasSchema(model), `model ${model}`);
    assert.ok(schemaFieldNames(model).includes(field), entry);
  }
});

test('models are loaded one by one, never through the package index', () => {
  checkObject('V1Pod', { metadata: {}, spec: { containers: [{ name: 'c' }] } });
  const cache = createRequire(import.meta.url).cache;
  const loaded = Object.keys(cache).filter((k) => k.includes('@kubernetes/client-node'));
  assert.ok(loaded.some((k) => k.endsWith('/V1Pod.js')));
  assert.ok(!loaded.some((k) => k.endsWith('/ObjectSerializer.js') || k.endsWith('/dist/index.js')));
});
