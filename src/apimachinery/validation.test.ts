import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorBody, type FieldError } from './errors.ts';
import type { ObjectMeta } from './types.ts';
import {
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  isValidPathSegmentName,
  validateObjectMeta,
  validateObjectMetaUpdate,
  type ObjectMetaValidationOptions,
} from './validation.ts';

const render = (errs: FieldError[]): string[] => errs.map((e) => `${e.field}: ${fieldErrorBody(e)}`);

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

const stringRows: Array<[name: string, fn: (s: string) => string[], input: string, want: string[]]> = [
  ['subdomain accepts dots', isDNS1123Subdomain, 'pv-1.example.com', []],
  ['subdomain rejects uppercase and underscore', isDNS1123Subdomain, 'Bad_Name', [SUBDOMAIN_MSG]],
  ['subdomain rejects a leading dash', isDNS1123Subdomain, '-a', [SUBDOMAIN_MSG]],
  ['subdomain rejects an empty label', isDNS1123Subdomain, 'a..b', [SUBDOMAIN_MSG]],
  ['subdomain rejects the empty string', isDNS1123Subdomain, '', [SUBDOMAIN_MSG]],
  ['subdomain length limit is 253', isDNS1123Subdomain, 'a'.repeat(254), ['must be no more than 253 characters']],
  ['subdomain at the limit', isDNS1123Subdomain, 'a'.repeat(253), []],
  ['label accepts digits first', isDNS1123Label, '123-abc', []],
  ['label with dots says so', isDNS1123Label, 'a.b', ['must not contain dots']],
  ['label rejects underscores', isDNS1123Label, 'a_b', [LABEL_MSG]],
  ['label length limit is 63', isDNS1123Label, 'a'.repeat(64), ['must be no more than 63 characters']],
  ['dns1035 needs a letter first', isDNS1035Label, '1abc', [DNS1035_MSG]],
  ['dns1035 accepts my-name', isDNS1035Label, 'my-name', []],
  ['qualified name with prefix', isQualifiedName, 'kubernetes.io/pv-protection', []],
  [
    'qualified name with two slashes',
    isQualifiedName,
    'a/b/c',
    [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ],
  ],
  ['label value may be empty', isValidLabelValue, '', []],
  ['path segment rejects slash and percent', isValidPathSegmentName, 'a/b%c', ["may not contain '/'", "may not contain '%'"]],
  ['path segment rejects ..', isValidPathSegmentName, '..', ["may not be '..'"]],
];

for (const [name, fn, input, want] of stringRows) {
  test(`name check: ${name}`, () => {
    assert.deepEqual(fn(input), want);
  });
}

test('name check: a pathological name is checked in linear time', () => {
  const evil = `${'a-'.repeat(50_000)}!`;
  const started = performance.now();
  assert.equal(isDNS1123Subdomain(evil).length, 2);
  assert.ok(performance.now() - started < 1000);
});

const NS: ObjectMetaValidationOptions = { namespaced: true };
const CLUSTER: ObjectMetaValidationOptions = { namespaced: false };

const metaRows: Array<[name: string, meta: ObjectMeta, opts: ObjectMetaValidationOptions, want: string[]]> = [
  ['valid namespaced object', { name: 'claim-1', namespace: 'default' }, NS, []],
  ['valid cluster object', { name: 'pv-1' }, CLUSTER, []],
  ['neither name nor generateName', {}, CLUSTER, ['metadata.name: Required value: name or generateName is required']],
  ['generateName alone is enough before generation', { generateName: 'pv-' }, CLUSTER, []],
  [
    'bad generateName',
    { generateName: 'Bad-' },
    CLUSTER,
    [`metadata.generateName: Invalid value: "Bad-": ${SUBDOMAIN_MSG}`],
  ],
  ['bad name', { name: 'Bad_Name' }, CLUSTER, [`metadata.name: Invalid value: "Bad_Name": ${SUBDOMAIN_MSG}`]],
  ['namespace on a cluster-scoped kind', { name: 'a', namespace: 'default' }, CLUSTER, ['metadata.namespace: Forbidden: not allowed on this type']],
  ['missing namespace', { name: 'a' }, NS, ['metadata.namespace: Required value']],
  ['bad namespace', { name: 'a', namespace: 'a.b' }, NS, ['metadata.namespace: Invalid value: "a.b": must not contain dots']],
  ['label names', { name: 'a.b' }, { namespaced: false, nameValidator: 'label' }, ['metadata.name: Invalid value: "a.b": must not contain dots']],
  ['path segment names', { name: 'a/b' }, { namespaced: false, nameValidator: 'path-segment' }, ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]],
  ['path segment names allow uppercase', { name: 'A_b' }, { namespaced: false, nameValidator: 'path-segment' }, []],
  ['negative generation', { name: 'a', generation: -1 }, CLUSTER, ['metadata.generation: Invalid value: -1: must be greater than or equal to 0']],
  [
    'incomplete owner reference',
    { name: 'a', ownerReferences: [{ apiVersion: '', kind: '', name: '', uid: '' }] },
    CLUSTER,
    [
      'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
      'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
      'metadata.ownerReferences.name: Invalid value: "": must not be empty',
      'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
    ],
  ],
  [
    'owner apiVersion without a version',
    { name: 'a', ownerReferences: [{ apiVersion: 'apps/', kind: 'Deployment', name: 'd', uid: 'u' }] },
    CLUSTER,
    ['metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty'],
  ],
  [
    'two controllers',
    {
      name: 'a',
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r1', uid: '1', controller: true },
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'r2', uid: '2', controller: true },
      ],
    },
    CLUSTER,
    [
      'metadata.ownerReferences: Invalid value: [{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"r1","uid":"1","controller":true},{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"r2","uid":"2","controller":true}]: Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/r1 and ReplicaSet/r2',
    ],
  ],
  [
    'events cannot own objects',
    { name: 'a', ownerReferences: [{ apiVersion: 'v1', kind: 'Event', name: 'e', uid: 'u' }] },
    CLUSTER,
    ['metadata.ownerReferences: Invalid value: {"apiVersion":"v1","kind":"Event","name":"e","uid":"u"}: /v1, Kind=Event is disallowed from being an owner'],
  ],
  ['qualified finalizers', { name: 'a', finalizers: ['kubernetes.io/pv-protection', 'foo'] }, CLUSTER, []],
  [
    'bad finalizer',
    { name: 'a', finalizers: ['a b'] },
    CLUSTER,
    [
      "metadata.finalizers: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ],
  ],
  [
    'orphan and foreground together',
    { name: 'a', finalizers: ['orphan', 'foregroundDeletion'] },
    CLUSTER,
    ['metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and foregroundDeletion cannot be both set'],
  ],
  ['bad label', { name: 'a', labels: { a: '-x' } }, CLUSTER, [
    "metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
  ]],
];

for (const [name, meta, opts, want] of metaRows) {
  test(`validateObjectMeta: ${name}`, () => {
    assert.deepEqual(render(validateObjectMeta(meta, opts)), want);
  });
}

test('validateObjectMeta: a custom field path prefixes every error', () => {
  assert.deepEqual(render(validateObjectMeta({}, CLUSTER, 'spec.template.metadata')), [
    'spec.template.metadata.name: Required value: name or generateName is required',
  ]);
});

const OLD: ObjectMeta = {
  name: 'a',
  namespace: 'default',
  uid: 'u1',
  resourceVersion: '5',
  generation: 2,
  creationTimestamp: '2024-05-01T10:00:00Z',
  finalizers: ['kubernetes.io/pvc-protection'],
};

const updateRows: Array<[name: string, next: ObjectMeta, old: ObjectMeta, want: string[]]> = [
  ['unchanged identity', { ...OLD }, OLD, []],
  ['renaming', { ...OLD, name: 'b' }, OLD, ['metadata.name: Invalid value: "b": field is immutable']],
  ['changing the uid', { ...OLD, uid: 'u2' }, OLD, ['metadata.uid: Invalid value: "u2": field is immutable']],
  ['no resourceVersion', { ...OLD, resourceVersion: '' }, OLD, ['metadata.resourceVersion: Invalid value: "": must be specified for an update']],
  ['generation going back', { ...OLD, generation: 1 }, OLD, ['metadata.generation: Invalid value: 1: must not be decremented']],
  ['unset creationTimestamp equals empty', { ...OLD, creationTimestamp: undefined }, { ...OLD, creationTimestamp: '' }, []],
  [
    'new finalizer while deleting',
    { ...OLD, deletionTimestamp: '2024-05-02T10:00:00Z', finalizers: ['kubernetes.io/pvc-protection', 'example.com/x'] },
    { ...OLD, deletionTimestamp: '2024-05-02T10:00:00Z' },
    ['metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/x"}'],
  ],
  ['removing finalizers while deleting', { ...OLD, deletionTimestamp: '2024-05-02T10:00:00Z', finalizers: [] }, { ...OLD, deletionTimestamp: '2024-05-02T10:00:00Z' }, []],
];

for (const [name, next, old, want] of updateRows) {
  test(`validateObjectMetaUpdate: ${name}`, () => {
    assert.deepEqual(render(validateObjectMetaUpdate(next, old)), want);
  });
}
