import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorBody, isStatusError, type FieldError } from './errors.ts';
import {
  EVERYTHING,
  formatLabelSelector,
  labelSelectorFromObject,
  labelSelectorString,
  matches,
  NOTHING,
  parseLabelSelector,
  selectorFromSet,
  validateAnnotations,
  validateLabelSelectorObject,
  validateLabels,
  type LabelRequirement,
  type LabelSelectorObject,
} from './labels.ts';

const render = (errs: FieldError[]): string[] => errs.map((e) => `${e.field}: ${fieldErrorBody(e)}`);

const parseRows: Array<[name: string, input: string, reqs: LabelRequirement[], printed: string]> = [
  ['empty selector', '', [], ''],
  ['equality', 'app=nginx', [{ key: 'app', operator: '=', values: ['nginx'] }], 'app=nginx'],
  ['double equals', 'app==nginx', [{ key: 'app', operator: '==', values: ['nginx'] }], 'app==nginx'],
  ['inequality', 'app!=nginx', [{ key: 'app', operator: '!=', values: ['nginx'] }], 'app!=nginx'],
  ['set values are sorted', 'tier in (b,a)', [{ key: 'tier', operator: 'in', values: ['a', 'b'] }], 'tier in (a,b)'],
  ['notin', 'tier notin (x)', [{ key: 'tier', operator: 'notin', values: ['x'] }], 'tier notin (x)'],
  ['existence', 'app', [{ key: 'app', operator: 'exists', values: [] }], 'app'],
  ['non-existence', '!app', [{ key: 'app', operator: '!', values: [] }], '!app'],
  [
    'requirements are sorted by key',
    'z=1,a=2',
    [
      { key: 'a', operator: '=', values: ['2'] },
      { key: 'z', operator: '=', values: ['1'] },
    ],
    'a=2,z=1',
  ],
  [
    'whitespace is tolerated',
    '  app = nginx ,\ttier in ( a , b )  ',
    [
      { key: 'app', operator: '=', values: ['nginx'] },
      { key: 'tier', operator: 'in', values: ['a', 'b'] },
    ],
    'app=nginx,tier in (a,b)',
  ],
  ['in is a value inside parentheses', 'x in (in,notin)', [{ key: 'x', operator: 'in', values: ['in', 'notin'] }], 'x in (in,notin)'],
  ['empty parentheses hold the empty value', 'x in ()', [{ key: 'x', operator: 'in', values: [''] }], 'x in ()'],
  ['trailing comma adds the empty value', 'x in (a,)', [{ key: 'x', operator: 'in', values: ['', 'a'] }], 'x in (,a)'],
  ['duplicate values collapse', 'x in (a,a)', [{ key: 'x', operator: 'in', values: ['a'] }], 'x in (a)'],
  ['empty exact value', 'a=', [{ key: 'a', operator: '=', values: [''] }], 'a='],
  ['greater than', 'a>5', [{ key: 'a', operator: 'gt', values: ['5'] }], 'a>5'],
  ['less than', 'a<5', [{ key: 'a', operator: 'lt', values: ['5'] }], 'a<5'],
  ['prefixed key', 'example.com/app=x', [{ key: 'example.com/app', operator: '=', values: ['x'] }], 'example.com/app=x'],
  [
    'mixed forms',
    'environment in (production, qa),tier notin (frontend),partition,!legacy',
    [
      { key: 'environment', operator: 'in', values: ['production', 'qa'] },
      { key: 'legacy', operator: '!', values: [] },
      { key: 'partition', operator: 'exists', values: [] },
      { key: 'tier', operator: 'notin', values: ['frontend'] },
    ],
    'environment in (production,qa),!legacy,partition,tier notin (frontend)',
  ],
];

for (const [name, input, reqs, printed] of parseRows) {
  test(`parseLabelSelector: ${name}`, () => {
    const sel = parseLabelSelector(input);
    assert.deepEqual(sel.requirements, reqs);
    assert.equal(labelSelectorString(sel), printed);
  });
}

const VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QNAME_MSG =
  "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";

const errorRows: Array<[name: string, input: string, message: string]> = [
  ['in without values', 'a in', "unable to parse requirement: found '' expected: '('"],
  ['two identifiers', 'a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
  ['leading comma', ',a', "found ',', expected: !, identifier, or 'end of string'"],
  ['trailing comma', 'a,', "found '', expected: identifier after ','"],
  ['missing comma', 'a=b c', "found 'c', expected: ',' or 'end of string'"],
  ['parenthesis as exact value', 'a=(b)', "unable to parse requirement: found '(', expected: identifier"],
  ['missing comma in set', 'a in (b c)', "unable to parse requirement: found 'c', expected: ',' or ')'"],
  ['unclosed set', 'a in (b', "unable to parse requirement: found '', expected: ',' or ')'"],
  ['set without parentheses', 'a in b', "unable to parse requirement: found 'b' expected: '('"],
  ['operator inside a set', 'a in (=)', "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
  ['two operators', 'a=b=c', "found '=', expected: ',' or 'end of string'"],
  ['bang alone', ' !', "unable to parse requirement: found '', expected: identifier"],
  ['bad key', 'a/b/c=d', `unable to parse requirement: <nil>: Invalid value: "a/b/c": ${QNAME_MSG}`],
  ['bad value', 'a=-b', `unable to parse requirement: values[0][a]: Invalid value: "-b": ${VALUE_MSG}`],
  [
    'non-integer for gt',
    'a>b',
    "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer",
  ],
  [
    'several bad values are aggregated',
    'a in (-x,-y)',
    `unable to parse requirement: [values[0][a]: Invalid value: "-x": ${VALUE_MSG}, values[1][a]: Invalid value: "-y": ${VALUE_MSG}]`,
  ],
];

for (const [name, input, message] of errorRows) {
  test(`parseLabelSelector rejects with a 400: ${name}`, () => {
    assert.throws(
      () => parseLabelSelector(input),
      (err: unknown) => isStatusError(err, 'BadRequest') && err.code === 400 && err.message === message,
    );
  });
}

const matchRows: Array<[name: string, selector: string, labels: Record<string, string> | undefined, want: boolean]> = [
  ['empty selector matches no labels', '', undefined, true],
  ['empty selector matches any labels', '', { a: 'b' }, true],
  ['equality holds', 'a=b', { a: 'b' }, true],
  ['equality needs the label', 'a=b', {}, false],
  ['inequality matches a missing label', 'a!=b', {}, true],
  ['inequality fails on the value', 'a!=b', { a: 'b' }, false],
  ['inequality holds for another value', 'a!=b', { a: 'c' }, true],
  ['notin matches a missing label', 'a notin (x)', undefined, true],
  ['notin fails on a listed value', 'a notin (x,y)', { a: 'y' }, false],
  ['in holds for a listed value', 'a in (x,y)', { a: 'y' }, true],
  ['in needs the label', 'a in (x,y)', {}, false],
  ['exists holds for an empty value', 'a', { a: '' }, true],
  ['does-not-exist fails for an empty value', '!a', { a: '' }, false],
  ['does-not-exist holds without the label', '!a', { b: '' }, true],
  ['gt compares integers', 'a>5', { a: '6' }, true],
  ['gt is strict', 'a>5', { a: '5' }, false],
  ['gt ignores non-integers', 'a>5', { a: 'x' }, false],
  ['gt needs the label', 'a>5', {}, false],
  ['lt compares integers', 'a<5', { a: '-10' }, true],
  ['all requirements must hold', 'a=1,b=2', { a: '1', b: '3' }, false],
  ['empty exact value matches an empty label', 'a=', { a: '' }, true],
  ['label names are not inherited from the prototype', 'constructor', {}, false],
];

for (const [name, selector, labels, want] of matchRows) {
  test(`matches: ${name}`, () => {
    assert.equal(matches(parseLabelSelector(selector), labels), want);
  });
}

test('matches: NOTHING matches nothing, EVERYTHING everything', () => {
  assert.equal(matches(NOTHING, {}), false);
  assert.equal(matches(EVERYTHING, undefined), true);
});

const objectRows: Array<[name: string, obj: LabelSelectorObject | null | undefined, printed: string]> = [
  ['matchLabels', { matchLabels: { app: 'nginx' } }, 'app=nginx'],
  ['In is printed sorted', { matchExpressions: [{ key: 'app', operator: 'In', values: ['b', 'a'] }] }, 'app in (a,b)'],
  [
    'labels and expressions sorted by key',
    { matchLabels: { z: '1' }, matchExpressions: [{ key: 'a', operator: 'Exists' }] },
    'a,z=1',
  ],
  ['DoesNotExist', { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, '!a'],
  ['NotIn', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['x'] }] }, 'a notin (x)'],
  ['empty selector', {}, '<none>'],
  ['nil selector', null, '<none>'],
  ['unknown operator', { matchExpressions: [{ key: 'a', operator: 'Foo' }] }, '<error>'],
  ['In without values', { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }, '<error>'],
  ['invalid key', { matchLabels: { 'a b': 'x' } }, '<error>'],
];

for (const [name, obj, printed] of objectRows) {
  test(`formatLabelSelector: ${name}`, () => {
    assert.equal(formatLabelSelector(obj), printed);
  });
}

test('labelSelectorFromObject: nil selects nothing, empty selects everything', () => {
  assert.equal(matches(labelSelectorFromObject(undefined), { a: 'b' }), false);
  assert.equal(matches(labelSelectorFromObject({}), { a: 'b' }), true);
  assert.equal(matches(labelSelectorFromObject({ matchLabels: { a: 'b' } }), { a: 'b', c: 'd' }), true);
  assert.equal(matches(labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['b'] }] }), { a: 'b' }), false);
});

test('labelSelectorFromObject: an unknown operator is a 400 with apimachinery\'s text', () => {
  assert.throws(
    () => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Foo' }] }),
    (err: unknown) => isStatusError(err, 'BadRequest') && err.message === '"Foo" is not a valid label selector operator',
  );
});

test('selectorFromSet matches exactly the given labels', () => {
  const sel = selectorFromSet({ b: '2', a: '1' });
  assert.equal(labelSelectorString(sel), 'a=1,b=2');
  assert.equal(matches(sel, { a: '1', b: '2', c: '3' }), true);
  assert.equal(matches(sel, { a: '1' }), false);
});

const NAME_PART_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

const labelRows: Array<[name: string, labels: Record<string, string>, want: string[]]> = [
  ['valid labels', { app: 'nginx', 'example.com/x': '', 'a.b_c-d': 'X.y_z-1' }, []],
  ['key with a space', { 'a b': 'x' }, [`metadata.labels: Invalid value: "a b": ${NAME_PART_MSG}`]],
  ['value too long', { a: 'x'.repeat(64) }, [`metadata.labels: Invalid value: "${'x'.repeat(64)}": must be no more than 63 characters`]],
  ['empty prefix', { '/a': 'x' }, ['metadata.labels: Invalid value: "/a": prefix part must be non-empty']],
  [
    'uppercase prefix',
    { 'Example.com/a': 'x' },
    [
      'metadata.labels: Invalid value: "Example.com/a": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character (e.g. \'example.com\', regex used for validation is \'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\')',
    ],
  ],
  ['name part too long', { ['n'.repeat(64)]: 'x' }, [`metadata.labels: Invalid value: "${'n'.repeat(64)}": name part must be no more than 63 characters`]],
  ['empty name part', { 'example.com/': 'x' }, ['metadata.labels: Invalid value: "example.com/": name part must be non-empty', `metadata.labels: Invalid value: "example.com/": ${NAME_PART_MSG}`]],
];

for (const [name, labels, want] of labelRows) {
  test(`validateLabels: ${name}`, () => {
    assert.deepEqual(render(validateLabels(labels, 'metadata.labels')), want);
  });
}

test('validateAnnotations: keys are checked case-insensitively', () => {
  assert.deepEqual(validateAnnotations({ 'Example.COM/Foo': 'anything at all: {}' }, 'metadata.annotations'), []);
});

test('validateAnnotations: a bad key is reported with its original spelling', () => {
  assert.deepEqual(render(validateAnnotations({ 'A B': 'x' }, 'metadata.annotations')), [
    `metadata.annotations: Invalid value: "A B": ${NAME_PART_MSG}`,
  ]);
});

test('validateAnnotations: the total size is limited to 256 KiB', () => {
  const under = { a: 'x'.repeat(256 * 1024 - 1) };
  const over = { a: 'x'.repeat(256 * 1024) };
  assert.deepEqual(validateAnnotations(under, 'metadata.annotations'), []);
  assert.deepEqual(render(validateAnnotations(over, 'metadata.annotations')), [
    'metadata.annotations: Too long: must have at most 262144 bytes',
  ]);
});

test('validateLabelSelectorObject: apimachinery\'s messages per expression', () => {
  const errs = validateLabelSelectorObject(
    {
      matchLabels: { 'a b': 'x' },
      matchExpressions: [
        { key: 'k', operator: 'In' },
        { key: 'k', operator: 'Exists', values: ['v'] },
        { key: 'k', operator: 'Gt', values: ['1'] },
        { key: 'k', operator: 'In', values: ['-bad'] },
      ],
    },
    'spec.selector',
  );
  assert.deepEqual(render(errs), [
    `spec.selector.matchLabels: Invalid value: "a b": ${NAME_PART_MSG}`,
    "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
    'spec.selector.matchExpressions[2].operator: Invalid value: "Gt": not a valid selector operator',
    `spec.selector.matchExpressions[3].values[0]: Invalid value: "-bad": ${VALUE_MSG}`,
  ]);
});
