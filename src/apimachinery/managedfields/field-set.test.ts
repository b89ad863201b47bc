import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareStrings, FieldSet } from './field-set.ts';

const utf8Order = (a: string, b: string): number => Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));

describe('compareStrings', () => {
  const rows: { name: string; a: string; b: string }[] = [
    { name: 'ASCII', a: 'apiVersion', b: 'kind' },
    { name: 'a prefix sorts first', a: 'spec', b: 'specs' },
    { name: 'equal strings', a: 'f:x', b: 'f:x' },
    { name: 'BMP letters', a: 'é', b: 'z' },
    { name: 'U+E000 before a character beyond U+FFFF (UTF-16 says the opposite)', a: '\ue000', b: '\u{1f600}' },
    { name: 'U+FFFD before a character beyond U+FFFF', a: 'x\ufffd', b: 'x\u{10000}' },
    { name: 'two characters beyond U+FFFF', a: '\u{1f600}', b: '\u{1f601}' },
    { name: 'a surrogate pair against a low BMP character', a: '\u{1f600}', b: 'a' },
  ];
  for (const row of rows) {
    test(`${row.name} compares as UTF-8 bytes`, () => {
      assert.equal(Math.sign(compareStrings(row.a, row.b)), utf8Order(row.a, row.b));
      assert.equal(Math.sign(compareStrings(row.b, row.a)), utf8Order(row.b, row.a));
    });
  }
});

describe('FieldSet FieldsV1', () => {
  const fields = {
    'f:metadata': { 'f:annotations': { '.': {}, 'f:a': {} }, 'f:labels': { 'f:x': {} } },
    'f:spec': { 'f:containers': { 'k:{"name":"c"}': { '.': {}, 'f:image': {}, 'f:name': {} } }, 'f:volumeName': {} },
  };

  test('reading and writing FieldsV1 round-trips', () => {
    assert.deepEqual(FieldSet.fromFieldsV1(fields).toFieldsV1(), fields);
  });

  test('intersectsFieldsV1 finds a shared member, also one marked with "."', () => {
    const set = FieldSet.fromFieldsV1(fields);
    const rows: { name: string; other: Record<string, unknown>; want: boolean }[] = [
      { name: 'a leaf', other: { 'f:spec': { 'f:volumeName': {} } }, want: true },
      { name: 'a map marked with "."', other: { 'f:metadata': { 'f:annotations': {} } }, want: true },
      { name: 'a list element', other: { 'f:spec': { 'f:containers': { 'k:{"name":"c"}': { 'f:image': {} } } } }, want: true },
      { name: 'only a parent of members', other: { 'f:metadata': { 'f:labels': {} } }, want: false },
      { name: 'disjoint', other: { 'f:status': { 'f:phase': {} } }, want: false },
    ];
    for (const row of rows) {
      const probe = FieldSet.fromFieldsV1(row.other);
      assert.equal(probe.intersectsFieldsV1(fields), row.want, row.name);
      assert.equal(!probe.intersection(set).isEmpty(), row.want, `${row.name} (as a set intersection)`);
    }
  });
});
