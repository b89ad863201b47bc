import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalQuantity,
  canonicalQuantityValue,
  compareQuantities,
  isValidQuantity,
  newQuantity,
  parseQuantity,
  QuantityParseError,
  quantityFromJSON,
  quantityMilliValue,
  quantityScaledValue,
  quantityString,
  quantityToBigInt,
  quantityToNumber,
  type QuantityParseReason,
} from './quantity.ts';

const canonicalRows: Array<[name: string, input: string, want: string]> = [
  // The examples observed against a real apiserver (compat §2.3) and the task.
  ['whole binary multiple moves up to Gi', '1024Mi', '1Gi'],
  ['fractional Gi that is whole in Mi', '1.5Gi', '1536Mi'],
  ['half a Gi', '0.5Gi', '512Mi'],
  ['decimal SI takes the largest exponent', '1000M', '1G'],
  ['canonical decimal SI is kept', '500M', '500M'],
  ['binary without a larger power stays', '1000Mi', '1000Mi'],
  ['fraction becomes milli', '0.1', '100m'],
  ['plain integer not divisible by 1000', '2048', '2048'],
  ['canonical exponent form is kept verbatim', '1e3', '1e3'],
  ['canonical Gi', '5Gi', '5Gi'],
  ['canonical Ki', '1Ki', '1Ki'],
  ['canonical Mi', '100Mi', '100Mi'],
  // apimachinery's own parse/emit table.
  ['fraction of a Ki becomes milli', '.001Ki', '1024m'],
  ['micro of a Ki', '.000001Ki', '1024u'],
  ['nano of a Ki', '.000000001Ki', '1024n'],
  ['below nano rounds up', '.000000000001Ki', '2n'],
  ['decimal 1.5', '1.5', '1500m'],
  ['binary below 1024 is printed decimal', '0.5Ki', '512'],
  ['whole binary below a power of 1024 has no suffix', '1.5Ki', '1536'],
  ['non-whole binary is printed decimal', '1.1Ki', '1126400m'],
  ['1000m is one', '1000m', '1'],
  ['million is M', '1000000', '1M'],
  ['nano values round up', '3.001n', '4n'],
  ['exponent below nano rounds up and keeps exponent form', '1.1E-9', '2e-9'],
  ['half nano rounds up', '0.5e-9', '1e-9'],
  ['exponent with a mantissa', '1.2e3', '1200'],
  ['exponent keeps a multiple of 3', '1.3E+6', '1300e3'],
  ['a fraction whose scale is a multiple of 3 is kept verbatim', '10.035M', '10.035M'],
  ['a whole fraction of k is kept verbatim', '100.035k', '100.035k'],
  ['a fraction that is not canonical', '10.0350M', '10035k'],
  ['binary values are capped at 2^63-1', '9Ei', '9223372036854775807'],
  ['beyond E uses exponent notation', '1000E', '1e21'],
  ['canonical E is kept', '12E', '12E'],
  ['negative binary', '-1.5Gi', '-1536Mi'],
  ['negative below nano rounds away from zero', '-0.0000000000001', '-1n'],
  ['zero with a suffix', '0Gi', '0'],
  ['negative zero', '-0', '0'],
  ['zero with a fraction', '0.0', '0'],
  ['literal zero', '0', '0'],
  // Quirks of apimachinery's scanner that a real apiserver reproduces.
  ['explicit plus sign is kept when otherwise canonical', '+5Gi', '+5Gi'],
  ['leading zero is kept when otherwise canonical', '01', '01'],
  ['trailing decimal point is kept when otherwise canonical', '1.', '1.'],
  ['a lone decimal point is zero', '.', '0'],
  ['a bare suffix is zero', 'Ki', '0'],
  ['trailing zeros are not canonical', '1000', '1k'],
  ['milli exponent', '1e-3', '1e-3'],
  ['huge exponent stays cheap', '1e2147483647', '10e2147483646'],
  ['huge canonical exponent is kept', '1e2147483646', '1e2147483646'],
  ['huge exponent needing a multiple of 3', '1e2147483645', '100e2147483643'],
];

for (const [name, input, want] of canonicalRows) {
  test(`canonicalQuantity: ${name} (${input} → ${want})`, () => {
    assert.equal(canonicalQuantity(input), want);
    // The canonical form parses back to the same value and prints itself.
    const again = parseQuantity(want);
    assert.equal(compareQuantities(again, parseQuantity(input)), 0);
  });
}

const invalidRows: Array<[name: string, input: string, reason: QuantityParseReason]> = [
  ['empty string', '', 'format'],
  ['leading whitespace', ' 1', 'format'],
  ['trailing whitespace', '1 ', 'format'],
  ['two decimal points', '1.1.M', 'format'],
  ['sign in the middle', '1+1.0M', 'format'],
  ['unknown suffix', '0.1mi', 'suffix'],
  ['letters only', 'aoeu', 'format'],
  ['lone i', '.5i', 'suffix'],
  ['1i', '1i', 'suffix'],
  ['dangling exponent sign', '-3.01e-', 'suffix'],
  ['lowercase k with i', '1ki', 'suffix'],
  ['exponent beyond int32', '1e4294967297', 'suffix'],
  ['bare e', '1e', 'suffix'],
];

for (const [name, input, reason] of invalidRows) {
  test(`parseQuantity rejects: ${name}`, () => {
    assert.throws(
      () => parseQuantity(input),
      (err: unknown) => err instanceof QuantityParseError && err.input === input && err.reason === reason,
    );
    assert.equal(isValidQuantity(input), false);
  });
}

test('parseQuantity: the format error carries apimachinery\'s message', () => {
  assert.throws(() => parseQuantity('abc'), {
    name: 'QuantityParseError',
    message: "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
  });
  assert.throws(() => parseQuantity('1ki'), { message: "unable to parse quantity's suffix" });
});

const compareRows: Array<[name: string, a: string, b: string, want: -1 | 0 | 1]> = [
  ['binary equal across suffixes', '1Gi', '1024Mi', 0],
  ['decimal G below binary Gi', '1G', '1Gi', -1],
  ['milli', '100m', '50m', 1],
  ['large decimal above binary', '10000T', '100Gi', 1],
  ['signs', '-1', '1', -1],
  ['exponent equals suffix', '1e-9', '1n', 0],
  ['huge exponent against E', '1e2147483647', '1E', 1],
  ['negatives', '-2Gi', '-1Gi', -1],
  ['zero forms', '0', '0Ki', 0],
  ['integer against bytes', '1073741824', '1Gi', 0],
  ['one byte more', '1073741825', '1Gi', 1],
];

for (const [name, a, b, want] of compareRows) {
  test(`compareQuantities: ${name}`, () => {
    assert.equal(compareQuantities(parseQuantity(a), parseQuantity(b)), want);
    assert.equal(compareQuantities(parseQuantity(b), parseQuantity(a)), want === 0 ? 0 : -want);
  });
}

const valueRows: Array<[name: string, input: string, value: bigint, milli: bigint]> = [
  ['fraction rounds up', '1.5', 2n, 1500n],
  ['negative fraction rounds away from zero', '-1.5', -2n, -1500n],
  ['Gi', '1Gi', 1073741824n, 1073741824000n],
  ['capped binary is exact', '9Ei', 9223372036854775807n, 9223372036854775807n],
  ['milli below one', '100m', 1n, 100n],
  ['nano', '1n', 1n, 1n],
  ['exact large decimal', '7E', 7000000000000000000n, 9223372036854775807n],
  ['beyond int64 saturates', '1e30', 9223372036854775807n, 9223372036854775807n],
];

for (const [name, input, value, milli] of valueRows) {
  test(`value accessors: ${name}`, () => {
    const q = parseQuantity(input);
    assert.equal(quantityToBigInt(q), value);
    assert.equal(quantityMilliValue(q), milli);
  });
}

test('quantityScaledValue rounds up at the requested scale', () => {
  assert.equal(quantityScaledValue(parseQuantity('1500M'), 9), 2n);
  assert.equal(quantityScaledValue(parseQuantity('1G'), 6), 1000n);
});

test('quantityToNumber is approximate but close', () => {
  assert.equal(quantityToNumber(parseQuantity('1.5Gi')), 1610612736);
  assert.equal(quantityToNumber(parseQuantity('100m')), 0.1);
});

const jsonRows: Array<[name: string, value: unknown, want: string]> = [
  ['number with a fraction', 1.5, '1500m'],
  ['whole number', 1000, '1k'],
  ['string with surrounding whitespace', ' 1Gi ', '1Gi'],
  ['numeric string', '2048', '2048'],
];

for (const [name, value, want] of jsonRows) {
  test(`quantityFromJSON: ${name}`, () => {
    assert.equal(quantityString(quantityFromJSON(value)), want);
    assert.equal(canonicalQuantityValue(value), want);
  });
}

for (const bad of [true, null, {}, [], Number.NaN]) {
  test(`quantityFromJSON rejects ${JSON.stringify(bad) ?? String(bad)}`, () => {
    assert.throws(() => quantityFromJSON(bad), QuantityParseError);
  });
}

test('newQuantity prints in its format', () => {
  assert.equal(quantityString(newQuantity(2048n, 'BinarySI')), '2Ki');
  assert.equal(quantityString(newQuantity(2000, 'DecimalSI')), '2k');
  assert.equal(quantityString(newQuantity(1000, 'BinarySI')), '1k');
});
