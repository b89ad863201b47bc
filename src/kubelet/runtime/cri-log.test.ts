import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../base/index.ts';
import {
  ContainerLogNotFoundError,
  CriLogWriter,
  MAX_LOG_ENTRY_BYTES,
  formatRfc3339Nano,
  parseCriLogLine,
  parseRfc3339Nano,
  readContainerLog,
  type LogLine,
} from './cri-log.ts';

const T = 1_700_000_000_123_456_789n;

test('formatRfc3339Nano trims trailing zeros like Go', () => {
  const rows: [string, bigint, string][] = [
    ['nanoseconds kept', T, '2023-11-14T22:13:20.123456789Z'],
    ['trailing zeros dropped', 1_700_000_000_120_000_000n, '2023-11-14T22:13:20.12Z'],
    ['whole second has no fraction', 1_700_000_000_000_000_000n, '2023-11-14T22:13:20Z'],
  ];
  for (const [name, ns, want] of rows) {
    assert.equal(formatRfc3339Nano(ns), want, name);
    assert.equal(parseRfc3339Nano(want), ns, `${name} round-trips`);
  }
});

test('CriLogWriter writes one entry per line, per stream', () => {
  const rows: { name: string; push: [('stdout' | 'stderr'), string][]; end?: boolean; want: string[] }[] = [
    { name: 'full lines are F', push: [['stdout', 'a\nb\n']], want: ['stdout F a', 'stdout F b'] },
    { name: 'an unfinished line waits for its newline', push: [['stdout', 'ab'], ['stdout', 'c\n']], want: ['stdout F abc'] },
    { name: 'streams do not mix', push: [['stdout', 'o'], ['stderr', 'e\n'], ['stdout', 'k\n']], want: ['stderr F e', 'stdout F ok'] },
    { name: 'the last unterminated line is full at the end', push: [['stderr', 'tail']], end: true, want: ['stderr F tail'] },
    { name: 'an empty line is an empty F entry', push: [['stdout', '\n']], want: ['stdout F '] },
  ];
  for (const row of rows) {
    const out: string[] = [];
    const w = new CriLogWriter((e) => out.push(...e.split('\n').filter((l) => l !== '')), () => T);
    for (const [stream, text] of row.push) w.push(stream, Buffer.from(text));
    if (row.end === true) {
      w.end('stdout');
      w.end('stderr');
    }
    assert.deepEqual(out.map((l) => l.slice(l.indexOf(' ') + 1)), row.want, row.name);
    assert.ok(out.every((l) => l.startsWith('2023-11-14T22:13:20.123456789Z ')), `${row.name}: timestamp`);
  }
});

test('CriLogWriter splits an over-long line into P fragments', () => {
  const out: string[] = [];
  const w = new CriLogWriter((e) => out.push(...e.split('\n').filter((l) => l !== '')), () => T);
  w.push('stdout', Buffer.from('x'.repeat(MAX_LOG_ENTRY_BYTES + 10) + '\n'));
  const entries = out.map(parseCriLogLine);
  assert.deepEqual(entries.map((e) => [e?.partial, e?.content.length]), [[true, MAX_LOG_ENTRY_BYTES], [false, 10]]);
});

test('parseCriLogLine', () => {
  const rows: [string, string, ReturnType<typeof parseCriLogLine>][] = [
    ['full line', '2023-11-14T22:13:20Z stdout F hello world', { timestamp: '2023-11-14T22:13:20Z', stream: 'stdout', partial: false, content: 'hello world' }],
    ['partial', '2023-11-14T22:13:20Z stderr P x', { timestamp: '2023-11-14T22:13:20Z', stream: 'stderr', partial: true, content: 'x' }],
    ['empty content without the space', '2023-11-14T22:13:20Z stdout F', { timestamp: '2023-11-14T22:13:20Z', stream: 'stdout', partial: false, content: '' }],
    ['bad stream', '2023-11-14T22:13:20Z stdin F x', undefined],
    ['garbage', 'hello', undefined],
  ];
  for (const [name, line, want] of rows) assert.deepEqual(parseCriLogLine(line), want, name);
});

function withLog(content: string): { path: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'volplane-crilog-'));
  const path = join(dir, '0.log');
  writeFileSync(path, content);
  return { path, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

const SAMPLE = [
  '2024-01-01T00:00:01Z stdout F one',
  '2024-01-01T00:00:02.5Z stderr F two',
  '2024-01-01T00:00:03Z stdout P thr',
  '2024-01-01T00:00:03.1Z stdout F ee',
  'not a log line',
  '2024-01-01T00:00:04Z stdout F four',
  '',
].join('\n');

test('readContainerLog filters like the kubelet', async () => {
  const rows: { name: string; options: { tailLines?: number; sinceTime?: string; timestamps?: boolean }; want: string }[] = [
    { name: 'everything, malformed lines skipped', options: {}, want: 'one\ntwo\nthree\nfour\n' },
    { name: 'tailLines counts whole lines', options: { tailLines: 2 }, want: 'three\nfour\n' },
    { name: 'tailLines 0 prints nothing', options: { tailLines: 0 }, want: '' },
    { name: 'sinceTime keeps later entries', options: { sinceTime: '2024-01-01T00:00:02.5Z' }, want: 'two\nthree\nfour\n' },
    {
      name: 'timestamps prefix every entry',
      options: { tailLines: 1, timestamps: true },
      want: '2024-01-01T00:00:04Z four\n',
    },
  ];
  const log = withLog(SAMPLE);
  try {
    for (const row of rows) {
      let text = '';
      await readContainerLog(log.path, { ...row.options, onLine: (l: LogLine) => void (text += l.text) });
      assert.equal(text, row.want, row.name);
    }
  } finally {
    log.dispose();
  }
});

test('readContainerLog of a missing file throws ContainerLogNotFoundError', async () => {
  await assert.rejects(readContainerLog('/nonexistent/volplane/0.log', { onLine: () => {} }), ContainerLogNotFoundError);
});

test('readContainerLog follows a growing file until the container stops', async () => {
  const log = withLog('2024-01-01T00:00:01Z stdout F first\n');
  try {
    let running = true;
    const seen: string[] = [];
    const done = readContainerLog(log.path, { follow: true, pollMs: 10, isRunning: () => running, onLine: (l) => void seen.push(l.content) });
    await waitFor('first line', () => seen.length === 1);
    appendFileSync(log.path, '2024-01-01T00:00:02Z stdout F sec');
    appendFileSync(log.path, 'ond\n');
    await waitFor('second line', () => seen.length === 2);
    running = false;
    await done;
    assert.deepEqual(seen, ['first', 'second']);
  } finally {
    log.dispose();
  }
});

test('readContainerLog follow ends quietly on abort', async () => {
  const log = withLog('');
  try {
    const ac = new AbortController();
    const done = readContainerLog(log.path, { follow: true, pollMs: 10, signal: ac.signal, onLine: () => {} });
    ac.abort();
    await done;
  } finally {
    log.dispose();
  }
});
