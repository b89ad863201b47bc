import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { goAtoi, goEqual, goStringVerb, goTypeName, goValue } from './go-format.ts';

describe('goValue (fmt %v of decoded JSON)', () => {
  const rows: Array<[string, unknown, string]> = [
    ['string as is', 'nginx', 'nginx'],
    ['nil', null, '<nil>'],
    ['int64', 80, '80'],
    ['float64', 1.5, '1.5'],
    ['small float64 in exponent form', 0.00001, '1e-05'],
    ['large float64 in exponent form', 1234567.5, '1.2345675e+06'],
    ['bool', false, 'false'],
    ['slice', ['a', 1], '[a 1]'],
    ['map with sorted keys', { name: 'a', image: 'x', ports: [{ containerPort: 80 }] }, 'map[image:x name:a ports:[map[containerPort:80]]]'],
    ['empty map', {}, 'map[]'],
  ];
  for (const [name, value, want] of rows) {
    it(name, () => assert.equal(goValue(value), want));
  }
});

describe('goTypeName, goStringVerb, goAtoi, goEqual', () => {
  it('type names follow reflect', () => {
    assert.deepEqual(
      [null, 's', true, 1, 1.5, [], {}].map(goTypeName),
      ['<nil>', 'string', 'bool', 'int64', 'float64', '[]interface {}', 'map[string]interface {}'],
    );
  });
  it('%s flags non-strings the way fmt does', () => {
    assert.equal(goStringVerb('merge'), 'merge');
    assert.equal(goStringVerb(5), '%!s(int64=5)');
    assert.equal(goStringVerb(null), '%!s(<nil>)');
  });
  it('Atoi accepts a sign and digits only', () => {
    assert.deepEqual(goAtoi('-3'), { ok: true, value: -3 });
    assert.deepEqual(goAtoi('+07'), { ok: true, value: 7 });
    assert.deepEqual(goAtoi('1e3'), { ok: false, error: 'strconv.Atoi: parsing "1e3": invalid syntax' });
    assert.deepEqual(goAtoi(''), { ok: false, error: 'strconv.Atoi: parsing "": invalid syntax' });
  });
  it('== compares scalars by value and never equates maps or slices', () => {
    assert.equal(goEqual('a', 'a'), true);
    assert.equal(goEqual(1, '1'), false);
    assert.equal(goEqual(null, undefined), true);
    assert.equal(goEqual({}, {}), false);
  });
});
