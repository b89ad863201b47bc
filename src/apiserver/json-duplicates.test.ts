import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findDuplicateFields } from './json-duplicates.ts';

const rows: { name: string; json: string; want: string[] }[] = [
  { name: 'no duplicates', json: '{"a":1,"b":{"c":[1,2,{"d":"x"}]}}', want: [] },
  { name: 'top-level duplicate', json: '{"a":1,"a":2}', want: ['a'] },
  { name: 'nested duplicate', json: '{"metadata":{"name":"x","name":"y"}}', want: ['metadata.name'] },
  { name: 'duplicate inside a list element', json: '{"spec":{"containers":[{"name":"a"},{"name":"b","image":"i","image":"j"}]}}', want: ['spec.containers[1].image'] },
  { name: 'same key in sibling objects is fine', json: '{"a":{"x":1},"b":{"x":2}}', want: [] },
  { name: 'escaped quotes in strings', json: '{"a":"x\\"y","b":"\\\\","a":3}', want: ['a'] },
  { name: 'whitespace everywhere', json: ' { "a" : [ 1 , 2 ] , "a" : { } } ', want: ['a'] },
  { name: 'escaped key equal to a plain one', json: '{"\\u0061":1,"a":2}', want: ['a'] },
  { name: 'paths through top-level and nested lists', json: '[{"a":1,"a":2},[{"b":1,"b":{"c":1,"c":2}}]]', want: ['[0].a', '[1][0].b', '[1][0].b.c'] },
  { name: 'wide object (keys kept in a set)', json: `{${Array.from({ length: 20 }, (_, i) => `"k${i}":${i}`).join(',')},"k3":1,"k19":2}`, want: ['k3', 'k19'] },
  { name: 'duplicate at the width where the set takes over', json: `{${Array.from({ length: 17 }, (_, i) => `"k${i}":${i}`).join(',')},"k16":0}`, want: ['k16'] },
  { name: 'escaped key kept unescaped in the path', json: '{"m":{"x\\"y":1,"x\\"y":2}}', want: ['m.x"y'] },
  { name: 'duplicate inside a duplicated key, and after it', json: '{"a":{"b":1,"b":2},"a":{"c":[true,null,-1.5e3],"c":1}}', want: ['a.b', 'a', 'a.c'] },
  { name: 'empty key', json: '{"":1,"":2}', want: [''] },
  { name: 'scalar document', json: '"a"', want: [] },
];

for (const row of rows) {
  test(`duplicate fields: ${row.name}`, () => {
    assert.deepEqual(findDuplicateFields(row.json), row.want);
  });
}
