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
];

for (const row of rows) {
  test(`duplicate fields: ${row.name}`, () => {
    assert.deepEqual(findDuplicateFields(row.json), row.want);
  });
}
