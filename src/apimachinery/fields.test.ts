import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStatusError } from './errors.ts';
import {
  checkFieldSelector,
  fieldSelectorString,
  matchesFields,
  parseFieldSelector,
  requiresExactMatch,
  type FieldRequirement,
  type FieldSelectorSupport,
} from './fields.ts';

const parseRows: Array<[name: string, input: string, want: FieldRequirement[]]> = [
  ['equality', 'spec.nodeName=n1', [{ field: 'spec.nodeName', operator: '=', value: 'n1' }]],
  ['double equals is equality', 'a==b', [{ field: 'a', operator: '=', value: 'b' }]],
  ['inequality', 'status.phase!=Running', [{ field: 'status.phase', operator: '!=', value: 'Running' }]],
  [
    'terms are sorted',
    'metadata.name=x,involvedObject.kind=Pod',
    [
      { field: 'involvedObject.kind', operator: '=', value: 'Pod' },
      { field: 'metadata.name', operator: '=', value: 'x' },
    ],
  ],
  ['empty selector', '', []],
  ['empty value', 'involvedObject.namespace=', [{ field: 'involvedObject.namespace', operator: '=', value: '' }]],
  ['escaped comma stays in the value', 'a=b\\,c', [{ field: 'a', operator: '=', value: 'b,c' }]],
  ['escaped equals', 'a=b\\=c', [{ field: 'a', operator: '=', value: 'b=c' }]],
  ['escaped backslash', 'a=b\\\\c', [{ field: 'a', operator: '=', value: 'b\\c' }]],
  [
    'empty terms are skipped',
    'a=b,,c=d',
    [
      { field: 'a', operator: '=', value: 'b' },
      { field: 'c', operator: '=', value: 'd' },
    ],
  ],
  ['whitespace is data', ' a = b', [{ field: ' a ', operator: '=', value: ' b' }]],
];

for (const [name, input, want] of parseRows) {
  test(`parseFieldSelector: ${name}`, () => {
    assert.deepEqual(parseFieldSelector(input), want);
  });
}

const errorRows: Array<[name: string, input: string, message: string]> = [
  ['no operator', 'abc', "invalid selector: 'abc'; can't understand 'abc'"],
  ['second term without operator', 'a=b,c', "invalid selector: 'a=b,c'; can't understand 'c'"],
  ['unescaped equals in the value', 'a=b=c', 'invalid field selector: unescaped character in value: 61'],
  ['not-equals followed by equals', 'a!==b', 'invalid field selector: unescaped character in value: 61'],
  ['unknown escape', 'a=b\\x', 'invalid field selector: invalid escape sequence: \\x'],
  ['trailing backslash', 'a=b\\', 'invalid field selector: invalid escape sequence: \\'],
];

for (const [name, input, message] of errorRows) {
  test(`parseFieldSelector rejects with a 400: ${name}`, () => {
    assert.throws(
      () => parseFieldSelector(input),
      (err: unknown) => isStatusError(err, 'BadRequest') && err.code === 400 && err.message === message,
    );
  });
}

const object: Record<string, string> = { 'metadata.name': 'pv1', 'status.phase': 'Bound' };
const get = (field: string): string => object[field] ?? '';

const matchRows: Array<[name: string, selector: string, want: boolean]> = [
  ['equality holds', 'metadata.name=pv1', true],
  ['equality fails', 'metadata.name=pv2', false],
  ['inequality holds', 'status.phase!=Available', true],
  ['inequality fails', 'status.phase!=Bound', false],
  ['empty value matches a missing field', 'involvedObject.namespace=', true],
  ['empty value does not match a set field', 'metadata.name=', false],
  ['all terms must hold', 'metadata.name=pv1,status.phase=Available', false],
  ['empty selector matches', '', true],
];

for (const [name, selector, want] of matchRows) {
  test(`matchesFields: ${name}`, () => {
    assert.equal(matchesFields(parseFieldSelector(selector), get), want);
  });
}

const PODS: FieldSelectorSupport = { family: 'custom', fields: ['metadata.name', 'metadata.namespace', 'spec.nodeName'] };
const NODES: FieldSelectorSupport = { family: 'custom', fields: ['metadata.name', 'spec.unschedulable'] };
const PVS: FieldSelectorSupport = { family: 'default', fields: [] };

const checkRows: Array<[name: string, selector: string, def: FieldSelectorSupport, error: string | undefined]> = [
  ['pods accept spec.nodeName', 'spec.nodeName=n1', PODS, undefined],
  ['pods reject an unknown field', 'spec.foo=x', PODS, 'field label not supported: spec.foo'],
  ['nodes reject metadata.namespace', 'metadata.namespace=x', NODES, 'field label not supported: metadata.namespace'],
  ['default family accepts name and namespace', 'metadata.name=a,metadata.namespace=', PVS, undefined],
  [
    'default family rejects anything else',
    'spec.foo=bar',
    PVS,
    '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
  ],
  [
    'the first unsupported term in sorted order is reported',
    'spec.zzz=1,spec.aaa=2',
    PVS,
    '"spec.aaa" is not a known field selector: only "metadata.name", "metadata.namespace"',
  ],
  ['default family with selectable fields', 'spec.color=red', { family: 'default', fields: ['spec.color'] }, undefined],
];

for (const [name, selector, def, error] of checkRows) {
  test(`checkFieldSelector: ${name}`, () => {
    const reqs = parseFieldSelector(selector);
    if (error === undefined) {
      checkFieldSelector(reqs, def);
      return;
    }
    assert.throws(
      () => checkFieldSelector(reqs, def),
      (err: unknown) => isStatusError(err, 'BadRequest') && err.message === error,
    );
  });
}

test('fieldSelectorString escapes values and round-trips', () => {
  const reqs: FieldRequirement[] = [
    { field: 'a', operator: '=', value: 'x,y=z\\' },
    { field: 'b', operator: '!=', value: '' },
  ];
  const s = fieldSelectorString(reqs);
  assert.equal(s, 'a=x\\,y\\=z\\\\,b!=');
  assert.deepEqual(parseFieldSelector(s), reqs);
});

test('requiresExactMatch finds the value of an equality term', () => {
  const reqs = parseFieldSelector('metadata.name=a,spec.nodeName!=b');
  assert.equal(requiresExactMatch(reqs, 'metadata.name'), 'a');
  assert.equal(requiresExactMatch(reqs, 'spec.nodeName'), undefined);
});
