import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBackendConformance } from './backend-conformance.ts';
import { StoreNotStartedError } from './log-backend.ts';
import { MemoryBackend } from './memory-backend.ts';

runBackendConformance('memory', async () => {
  const b = new MemoryBackend();
  await b.start();
  return b;
});

test('memory: a backend used before start() rejects with StoreNotStartedError', async () => {
  const b = new MemoryBackend();
  await assert.rejects(b.create('/registry/pods/a', 'A'), StoreNotStartedError);
  await assert.rejects(b.list('/registry/'), StoreNotStartedError);
  await b.start();
  await b.start(); // idempotent
  assert.equal((await b.create('/registry/pods/a', 'A')).modRevision, 1);
  await b.close();
});
