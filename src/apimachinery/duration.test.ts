import { test } from 'node:test';
import assert from 'node:assert/strict';
import { age, humanDuration, parseTimestamp } from './duration.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

const rows: Array<[name: string, ms: number, want: string]> = [
  ['more than a second in the future is invalid', -2 * S, '<invalid>'],
  ['up to a second in the future is now', -1.5 * S, '0s'],
  ['a fraction in the future is now', -0.5 * S, '0s'],
  ['zero', 0, '0s'],
  ['seconds truncate', 59.9 * S, '59s'],
  ['seconds up to two minutes', 119 * S, '119s'],
  ['two minutes', 120 * S, '2m'],
  ['minutes with seconds under ten minutes', 125 * S, '2m5s'],
  ['last minute with seconds', 599 * S, '9m59s'],
  ['ten minutes drops seconds', 10 * M + 30 * S, '10m'],
  ['minutes up to three hours', 179 * M, '179m'],
  ['three hours', 3 * H, '3h'],
  ['hours with minutes under eight hours', 3 * H + 5 * M, '3h5m'],
  ['last hour with minutes', 7 * H + 59 * M, '7h59m'],
  ['eight hours drops minutes', 8 * H + 30 * M, '8h'],
  ['hours up to two days', 47 * H, '47h'],
  ['two days', 48 * H, '2d'],
  ['days with hours under eight days', 50 * H, '2d2h'],
  ['last day with hours', 191 * H, '7d23h'],
  ['eight days drops hours', 192 * H + 5 * H, '8d'],
  ['days up to two years', 729 * D, '729d'],
  ['two years', 730 * D, '2y'],
  ['years with days under eight years', 731 * D, '2y1d'],
  ['last year with days', 2919 * D, '7y364d'],
  ['eight years', 2920 * D, '8y'],
  ['years only after eight', 3000 * D, '8y'],
  ['not a number', Number.NaN, '<invalid>'],
];

for (const [name, ms, want] of rows) {
  test(`humanDuration: ${name}`, () => {
    assert.equal(humanDuration(ms), want);
  });
}

const NOW = new Date('2024-05-01T10:05:00Z');

const ageRows: Array<[name: string, timestamp: string | undefined, want: string]> = [
  ['missing timestamp', undefined, '<unknown>'],
  ['empty timestamp', '', '<unknown>'],
  ['not a timestamp', 'yesterday', '<unknown>'],
  ['date without time', '2024-05-01', '<unknown>'],
  ['five minutes ago', '2024-05-01T10:00:00Z', '5m'],
  ['numeric offset', '2024-05-01T12:00:00+02:00', '5m'],
  ['micro time', '2024-05-01T10:04:59.500000Z', '0s'],
  ['clock skew', '2024-05-01T10:05:01Z', '0s'],
  ['far future', '2024-05-01T11:00:00Z', '<invalid>'],
];

for (const [name, timestamp, want] of ageRows) {
  test(`age: ${name}`, () => {
    assert.equal(age(timestamp, NOW), want);
  });
}

test('parseTimestamp accepts RFC 3339 only', () => {
  assert.equal(parseTimestamp('2024-05-01T10:00:00Z')?.toISOString(), '2024-05-01T10:00:00.000Z');
  assert.equal(parseTimestamp('Wed, 01 May 2024 10:00:00 GMT'), undefined);
  assert.equal(parseTimestamp('2024-13-01T10:00:00Z'), undefined);
});
