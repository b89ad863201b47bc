import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { newInvalid } from '../../apimachinery/index.ts';
import { configMapDef } from './configmap.ts';
import { secretDef } from './secret.ts';

const NOW = new Date('2024-05-01T12:00:00Z');

function obj(kind: string, fields: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind, metadata: { name: 'x', namespace: 'default', creationTimestamp: '2024-05-01T11:00:00Z' }, ...fields };
}

function message(kind: string, errs: ReturnType<NonNullable<typeof secretDef.validate>>): string | undefined {
  return errs.length === 0 ? undefined : newInvalid({ group: '', kind }, 'x', errs).message;
}

describe('secret', () => {
  it('1-1 defaults the type and folds stringData into base64 data', () => {
    const s = obj('Secret', { data: { a: 'b2xk', keep: 'eA==' }, stringData: { a: 'new', pw: 'hunter2' } });
    secretDef.defaults?.(s);
    assert.equal(s.type, 'Opaque');
    assert.equal(s.stringData, undefined);
    assert.deepEqual(s.data, { a: 'bmV3', keep: 'eA==', pw: 'aHVudGVyMg==' });
    assert.deepEqual(secretDef.table.row(s, NOW), ['x', 'Opaque', 3, '60m']);
  });

  const rows: { name: string; secret: Record<string, unknown>; old?: Record<string, unknown>; want: string | undefined }[] = [
    { name: '2-1 valid opaque secret', secret: { type: 'Opaque', data: { 'key.name': 'eA==' } }, want: undefined },
    {
      name: '2-2 bad data key',
      secret: { type: 'Opaque', data: { 'a b': 'eA==' } },
      want: "Secret \"x\" is invalid: data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    },
    {
      name: '2-3 TLS secret without its keys',
      secret: { type: 'kubernetes.io/tls', data: {} },
      want: 'Secret "x" is invalid: [data[tls.key]: Required value, data[tls.crt]: Required value]',
    },
    {
      name: '2-4 type is immutable',
      secret: { type: 'kubernetes.io/tls', data: { 'tls.key': 'eA==', 'tls.crt': 'eA==' } },
      old: { type: 'Opaque', data: {} },
      want: 'Secret "x" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable',
    },
    {
      name: '2-5 immutable secret keeps its data',
      secret: { type: 'Opaque', immutable: true, data: { a: 'eQ==' } },
      old: { type: 'Opaque', immutable: true, data: { a: 'eA==' } },
      want: 'Secret "x" is invalid: data: Forbidden: field is immutable when `immutable` is set',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const s = obj('Secret', row.secret);
      const old = row.old ? obj('Secret', row.old) : undefined;
      if (old) {
        old.metadata.resourceVersion = '1';
        s.metadata.resourceVersion = '1';
      }
      assert.equal(message('Secret', secretDef.validate?.(s, old) ?? []), row.want);
    });
  }

  it('2-6 selects on type', () => {
    assert.equal(secretDef.fieldSelector.fields?.type(obj('Secret', { type: 'kubernetes.io/tls' })), 'kubernetes.io/tls');
  });
});

describe('configmap', () => {
  it('1-1 counts data and binaryData keys', () => {
    assert.deepEqual(configMapDef.table.row(obj('ConfigMap', { data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } }), NOW), ['x', 3, '60m']);
  });

  const rows: { name: string; cm: Record<string, unknown>; want: string | undefined }[] = [
    { name: '2-1 valid', cm: { data: { 'app.properties': 'a=b' } }, want: undefined },
    {
      name: '2-2 key in both bags',
      cm: { data: { a: '1' }, binaryData: { a: 'AA==' } },
      want: 'ConfigMap "x" is invalid: data[a]: Invalid value: "a": duplicate of key present in binaryData',
    },
    { name: '2-3 key starting with ..', cm: { data: { '..x': '1' } }, want: "ConfigMap \"x\" is invalid: data[..x]: Invalid value: \"..x\": must not start with '..'" },
    { name: '2-4 over 1 MiB', cm: { data: { a: 'x'.repeat(1024 * 1024 + 1) } }, want: 'ConfigMap "x" is invalid: Too long: must have at most 1048576 bytes' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(message('ConfigMap', configMapDef.validate?.(obj('ConfigMap', row.cm), undefined) ?? []), row.want);
    });
  }
});
