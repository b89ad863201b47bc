import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeletRequestError, parseLogOptions, type LogOptions } from './server.ts';

describe('kubelet log options', () => {
  const now = () => Date.parse('2026-01-01T12:00:00Z');
  const rows: { name: string; query: string; want?: Partial<LogOptions>; code?: number }[] = [
    { name: 'logopts-1 nothing asked: the whole log once', query: '', want: { follow: false, previous: false, timestamps: false } },
    { name: 'logopts-2 booleans as Go parses them', query: 'follow=true&previous=1&timestamps=T', want: { follow: true, previous: true, timestamps: true } },
    { name: 'logopts-3 tail, limit', query: 'tailLines=5&limitBytes=100', want: { tailLines: 5, limitBytes: 100 } },
    { name: 'logopts-4 the old tail parameter; "all" means no limit', query: 'tail=all&tailLines=3', want: { tailLines: undefined } },
    { name: 'logopts-5 sinceSeconds becomes a time at arrival', query: 'sinceSeconds=60', want: { sinceTime: new Date('2026-01-01T11:59:00Z') } },
    { name: 'logopts-6 sinceTime', query: 'sinceTime=2026-01-01T10:00:00Z', want: { sinceTime: new Date('2026-01-01T10:00:00Z') } },
    { name: 'logopts-7 negative tail is invalid', query: 'tailLines=-1', code: 422 },
    { name: 'logopts-8 both since forms are invalid', query: 'sinceSeconds=5&sinceTime=2026-01-01T10:00:00Z', code: 422 },
    { name: 'logopts-9 zero limit is invalid', query: 'limitBytes=0', code: 422 },
    { name: 'logopts-10 a non-number does not decode', query: 'tailLines=ten', code: 400 },
    { name: 'logopts-11 a non-boolean does not decode', query: 'follow=yes', code: 400 },
  ];
  for (const row of rows) {
    it(row.name, () => {
      if (row.code !== undefined) {
        assert.throws(() => parseLogOptions(new URLSearchParams(row.query), now), (e: unknown) => e instanceof KubeletRequestError && e.code === row.code);
        return;
      }
      const got = parseLogOptions(new URLSearchParams(row.query), now);
      for (const [k, v] of Object.entries(row.want ?? {})) assert.deepEqual(got[k as keyof LogOptions], v, k);
    });
  }
});
