// core/v1 ConfigMap: string and binary data handed to pods as files (the
// configMap volume plugin) or environment. Validation guards what the volume
// plugin relies on: keys usable as file names, no key in both bags, and the
// 1 MiB size limit shared with Secrets. An `immutable` ConfigMap keeps its data.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import { ALL_VERBS, defaultFieldSelector, keyPath, keysOf, rec, semanticEqual, validateMeta, verbs } from './common.ts';

/** Upper bound of the data of a ConfigMap or Secret, in bytes. */
export const MAX_DATA_SIZE = 1024 * 1024;

const CONFIG_KEY_RE = /^[-._a-zA-Z0-9]+$/;
const CONFIG_KEY_MESSAGE =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/** IsConfigMapKey: why `key` cannot name a file in a configMap/secret volume (empty when it can). */
export function isConfigMapKey(key: string): string[] {
  const errs: string[] = [];
  if (key.length > 253) errs.push('must be no more than 253 characters');
  if (!CONFIG_KEY_RE.test(key)) errs.push(CONFIG_KEY_MESSAGE);
  if (key === '.') errs.push("must not be '.'");
  else if (key === '..') errs.push("must not be '..'");
  else if (key.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

export function validateDataKeys(data: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const key of keysOf(data)) {
    for (const msg of isConfigMapKey(key)) errs.push(fieldErrors.invalid(keyPath(path, key), key, msg));
  }
  return errs;
}

/** Decoded size of a base64 value (binaryData, Secret data). */
export function base64Size(value: unknown): number {
  return typeof value === 'string' ? Buffer.from(value, 'base64').length : 0;
}

/** The `immutable: true` rule shared with Secrets: the flag and the data stay. */
export function validateImmutableData(obj: KubeObject, old: KubeObject, bags: string[]): FieldError[] {
  if (old.immutable !== true) return [];
  const errs: FieldError[] = [];
  const detail = 'field is immutable when `immutable` is set';
  if (obj.immutable !== true) errs.push(fieldErrors.forbidden('immutable', detail));
  for (const bag of bags) if (!semanticEqual(obj[bag], old[bag])) errs.push(fieldErrors.forbidden(bag, detail));
  return errs;
}

function validateConfigMap(cm: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs: FieldError[] = [];
  if (old !== undefined) errs.push(...validateImmutableData(cm, old, ['data', 'binaryData']));
  errs.push(...validateMeta(cm, true, old));
  const data = rec(cm.data) ?? {};
  const binary = rec(cm.binaryData) ?? {};
  let size = 0;
  for (const key of Object.keys(data)) {
    for (const msg of isConfigMapKey(key)) errs.push(fieldErrors.invalid(keyPath('data', key), key, msg));
    if (key in binary) errs.push(fieldErrors.invalid(keyPath('data', key), key, 'duplicate of key present in binaryData'));
    const v = data[key];
    size += typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : 0;
  }
  errs.push(...validateDataKeys(binary, 'binaryData'));
  for (const v of Object.values(binary)) size += base64Size(v);
  // An empty path: the error is about the object as a whole.
  if (size > MAX_DATA_SIZE) errs.push(fieldErrors.tooLong('', '', MAX_DATA_SIZE));
  return errs;
}

function configMapRow(cm: KubeObject, now: Date): TableCell[] {
  return [nameCell(cm), keysOf(cm.data).length + keysOf(cm.binaryData).length, ageCell(cm, now)];
}

export const configMapDef: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  listKind: 'ConfigMapList',
  resource: 'configmaps',
  singular: 'configmap',
  namespaced: true,
  shortNames: ['cm'],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: false,
  schemaType: 'V1ConfigMap',
  fieldSelector: defaultFieldSelector(),
  table: {
    columns: [
      nameColumn,
      column('Data', 'string', 'Data contains the configuration data. Each key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.'),
      ageColumn,
    ],
    row: configMapRow,
  },
  validate: validateConfigMap,
};
