// core/v1 Secret. Like a ConfigMap, but `data` is base64 and the `type` says
// which keys must be present (TLS pairs, SSH keys, docker configs...). Two
// wire conveniences are resolved here, as the apiserver does: a missing type
// becomes `Opaque`, and the write-only `stringData` is folded into `data`
// (base64-encoded, winning over a same-named data key) and never stored.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import { ALL_VERBS, keyPath, keysOf, metaNameField, metaNamespaceField, rec, str, validateMeta, verbs } from './common.ts';
import { MAX_DATA_SIZE, base64Size, isConfigMapKey, validateImmutableData } from './configmap.ts';

export const SECRET_TYPE_OPAQUE = 'Opaque';
export const SECRET_TYPE_TLS = 'kubernetes.io/tls';
export const SECRET_TYPE_SSH_AUTH = 'kubernetes.io/ssh-auth';
export const SECRET_TYPE_BASIC_AUTH = 'kubernetes.io/basic-auth';
export const SECRET_TYPE_DOCKER_CONFIG_JSON = 'kubernetes.io/dockerconfigjson';
export const SECRET_TYPE_DOCKERCFG = 'kubernetes.io/dockercfg';
export const SECRET_TYPE_SERVICE_ACCOUNT_TOKEN = 'kubernetes.io/service-account-token';

function secretType(secret: KubeObject): string {
  return str(secret.type);
}

function defaultSecret(secret: KubeObject): void {
  if (str(secret.type) === '') secret.type = SECRET_TYPE_OPAQUE;
  const stringData = rec(secret.stringData);
  if (stringData !== undefined) {
    const data = rec(secret.data) ?? {};
    for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(str(v), 'utf8').toString('base64');
    secret.data = data;
  }
  delete secret.stringData;
}

function validateTypedKeys(secret: KubeObject): FieldError[] {
  const data = rec(secret.data) ?? {};
  const has = (k: string): boolean => k in data;
  const required = (k: string): FieldError => fieldErrors.required(keyPath('data', k));
  switch (secretType(secret)) {
    case SECRET_TYPE_SERVICE_ACCOUNT_TOKEN:
      if (str(secret.metadata.annotations?.['kubernetes.io/service-account.name']) === '') {
        return [fieldErrors.required('metadata.annotations[kubernetes.io/service-account.name]')];
      }
      return [];
    case SECRET_TYPE_DOCKERCFG:
      return has('.dockercfg') ? [] : [required('.dockercfg')];
    case SECRET_TYPE_DOCKER_CONFIG_JSON: {
      if (!has('.dockerconfigjson')) return [required('.dockerconfigjson')];
      try {
        JSON.parse(Buffer.from(str(data['.dockerconfigjson']), 'base64').toString('utf8'));
        return [];
      } catch {
        return [fieldErrors.invalid(keyPath('data', '.dockerconfigjson'), '<secret contents redacted>', 'invalid JSON')];
      }
    }
    case SECRET_TYPE_BASIC_AUTH:
      return has('username') || has('password') ? [] : [required('username'), required('password')];
    case SECRET_TYPE_SSH_AUTH:
      return has('ssh-privatekey') ? [] : [required('ssh-privatekey')];
    case SECRET_TYPE_TLS:
      return [...(has('tls.key') ? [] : [required('tls.key')]), ...(has('tls.crt') ? [] : [required('tls.crt')])];
    default:
      return [];
  }
}

function validateSecret(secret: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs: FieldError[] = [];
  if (old !== undefined) {
    if (secretType(secret) !== secretType(old)) errs.push(fieldErrors.immutable('type', secretType(secret)));
    errs.push(...validateImmutableData(secret, old, ['data']));
  }
  errs.push(...validateMeta(secret, true, old));
  let size = 0;
  const data = rec(secret.data) ?? {};
  for (const [key, value] of Object.entries(data)) {
    for (const msg of isConfigMapKey(key)) errs.push(fieldErrors.invalid(keyPath('data', key), key, msg));
    size += base64Size(value);
  }
  if (size > MAX_DATA_SIZE) errs.push(fieldErrors.tooLong('data', '', MAX_DATA_SIZE));
  errs.push(...validateTypedKeys(secret));
  return errs;
}

function secretRow(secret: KubeObject, now: Date): TableCell[] {
  return [nameCell(secret), secretType(secret), keysOf(secret.data).length, ageCell(secret, now)];
}

export const secretDef: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  listKind: 'SecretList',
  resource: 'secrets',
  singular: 'secret',
  namespaced: true,
  shortNames: [],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1Secret',
  fieldSelector: {
    family: 'custom',
    fields: {
      'metadata.name': metaNameField,
      'metadata.namespace': metaNamespaceField,
      type: (o) => str(o.type),
    },
  },
  table: {
    columns: [
      nameColumn,
      column('Type', 'string', 'Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types'),
      column('Data', 'string', "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
      ageColumn,
    ],
    row: secretRow,
  },
  defaults: defaultSecret,
  validate: validateSecret,
};
