import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateName, MAX_GENERATED_NAME_LENGTH, NAME_ALPHABET, newUid, randomString } from './names.ts';

const SUFFIX = new RegExp(`^[${NAME_ALPHABET}]{5}$`);

const rows: Array<[name: string, prefix: string, keptPrefix: string]> = [
  ['short prefix is kept', 'pvc-', 'pvc-'],
  ['empty prefix', '', ''],
  ['prefix at the limit is kept', 'p'.repeat(58), 'p'.repeat(58)],
  ['long prefix is cut to 58 characters', 'x'.repeat(100), 'x'.repeat(58)],
];

for (const [name, prefix, keptPrefix] of rows) {
  test(`generateName: ${name}`, () => {
    const generated = generateName(prefix);
    assert.equal(generated.length, keptPrefix.length + 5);
    assert.ok(generated.startsWith(keptPrefix));
    assert.match(generated.slice(keptPrefix.length), SUFFIX);
    assert.ok(generated.length <= MAX_GENERATED_NAME_LENGTH + 5);
  });
}

test('generateName: the alphabet is apimachinery\'s', () => {
  assert.equal(NAME_ALPHABET, 'bcdfghjklmnpqrstvwxz2456789');
});

test('randomString: draws from the whole alphabet', () => {
  const seen = new Set(randomString(5000));
  assert.equal(seen.size, NAME_ALPHABET.length);
  for (const c of seen) assert.ok(NAME_ALPHABET.includes(c));
});

test('newUid: RFC 4122 version 4 and unique', () => {
  const uids = new Set(Array.from({ length: 100 }, () => newUid()));
  assert.equal(uids.size, 100);
  for (const uid of uids) assert.match(uid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});
