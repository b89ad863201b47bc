// Leader election against a real API server: one of two candidates leads;
// a clean stop hands over at once (the lease is released), a crash hands
// over after the lease expires, and a leader whose lease is taken loses
// leadership and its work's signal.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger, waitFor } from '../base/index.ts';
import { startTestCluster, type TestCluster } from '../testing/index.ts';
import { LeaderElectionConfigError, runLeaderElection, type Lease } from './leader-election.ts';
import { resourcePath, resources } from './paths.ts';
import { RestClient } from './rest.ts';

let cluster: TestCluster;
let client: RestClient;
const stops = new Set<AbortController>();

before(async () => {
  cluster = await startTestCluster();
  client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
  // Leases live in kube-system; make sure it exists whatever the server bootstraps.
  await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } }).catch(() => undefined);
});

after(async () => {
  for (const ac of stops) ac.abort();
  client?.close();
  await cluster?.close();
});

const TIMING = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 100 };

interface Candidate {
  identity: string;
  leading: boolean;
  startedCount: number;
  stoppedCount: number;
  workSignal: AbortSignal | undefined;
  stop: AbortController;
  done: Promise<void>;
}

function candidate(name: string, identity: string, extra: { releaseOnCancel?: boolean } = {}): Candidate {
  const stop = new AbortController();
  stops.add(stop);
  const c: Candidate = { identity, leading: false, startedCount: 0, stoppedCount: 0, workSignal: undefined, stop, done: Promise.resolve() };
  c.done = runLeaderElection({
    client,
    name,
    identity,
    ...TIMING,
    ...extra,
    signal: stop.signal,
    logger: silentLogger(),
    onStartedLeading: async (signal) => {
      c.leading = true;
      c.startedCount++;
      c.workSignal = signal;
      // The work runs until leadership ends.
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      c.leading = false;
    },
    onStoppedLeading: () => c.stoppedCount++,
  });
  return c;
}

const lease = (name: string): Promise<Lease> => client.get<Lease>(resourcePath(resources.leases, 'kube-system', name));

describe('runLeaderElection', () => {
  test('1 one of two candidates leads; a clean stop releases the lease and the other takes over', async () => {
    const a = candidate('lock-1', 'a');
    await waitFor('a leads', () => a.leading);
    const b = candidate('lock-1', 'b');
    // b keeps trying while a renews: over several lease renewals it must not lead.
    const renewTimes = new Set<string>();
    await waitFor('a renewed the lease several times', async () => {
      renewTimes.add((await lease('lock-1')).spec?.renewTime ?? '');
      return renewTimes.size >= 4;
    });
    assert.equal(b.leading, false);
    assert.equal((await lease('lock-1')).spec?.holderIdentity, 'a');

    const handedOverAt = Date.now();
    a.stop.abort();
    await a.done;
    assert.equal(a.stoppedCount, 1);
    assert.equal(a.workSignal?.aborted, true);
    await waitFor('b leads', () => b.leading);
    assert.ok(Date.now() - handedOverAt < TIMING.leaseDurationMs, 'released: no wait for the lease to expire');
    const l = await lease('lock-1');
    assert.equal(l.spec?.holderIdentity, 'b');
    assert.equal(l.spec?.leaseTransitions, 1);
    assert.match(l.spec?.renewTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'renewTime is a MicroTime');
    b.stop.abort();
    await b.done;
    assert.equal(b.startedCount, 1);
  });

  test('2 a leader that stops without releasing is replaced once the lease expires', async () => {
    const a = candidate('lock-2', 'a', { releaseOnCancel: false });
    await waitFor('a leads', () => a.leading);
    const b = candidate('lock-2', 'b');
    a.stop.abort();
    const stoppedAt = Date.now();
    await a.done;
    assert.equal((await lease('lock-2')).spec?.holderIdentity, 'a', 'not released');
    await waitFor('b leads after the lease expired', () => b.leading, { timeoutMs: 10_000 });
    // Well after a release would have handed over (test 1: a few retry periods), about one lease duration.
    assert.ok(Date.now() - stoppedAt >= TIMING.leaseDurationMs / 2, `took over after ${Date.now() - stoppedAt} ms`);
    b.stop.abort();
    await b.done;
  });

  test('3 a leader whose lease is taken loses leadership and stops its work', async () => {
    const a = candidate('lock-3', 'a');
    await waitFor('a leads', () => a.leading);
    const path = resourcePath(resources.leases, 'kube-system', 'lock-3');
    // Someone else writes the lease (an intruder with a long lease) until a gives up.
    const intrude = async (): Promise<void> => {
      const cur = await lease('lock-3');
      await client.update(path, { ...cur, spec: { ...cur.spec, holderIdentity: 'intruder', leaseDurationSeconds: 60 } });
    };
    await waitFor('the intruder wrote the lease', () => intrude().then(() => true), { intervalMs: 10 });
    await a.done;
    assert.equal(a.workSignal?.aborted, true);
    assert.equal(a.stoppedCount, 1);
    assert.equal(a.stop.signal.aborted, false, 'ended by losing the lease, not by the caller');
    assert.equal((await lease('lock-3')).spec?.holderIdentity, 'intruder', 'a lost lease is not released');
  });

  test('4 inconsistent timings are refused', async () => {
    const base = { client, name: 'x', identity: 'i', signal: new AbortController().signal, onStartedLeading: () => {} };
    await assert.rejects(runLeaderElection({ ...base, leaseDurationMs: 1000, renewDeadlineMs: 1000 }), LeaderElectionConfigError);
    await assert.rejects(runLeaderElection({ ...base, renewDeadlineMs: 1000, retryPeriodMs: 900 }), LeaderElectionConfigError);
  });
});
