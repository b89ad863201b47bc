// Leader election on a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection package: of several replicas of a component, one holds the
// Lease and does the work; the others poll it and take over when the holder
// stops renewing it.
//
// The rules, kept from client-go because they are what make it safe:
//   - A candidate trusts its own clock, never the holder's: it notes *when it
//     saw* the lease record change, and treats the lease as expired only
//     when it has seen no change for leaseDuration. Clock skew between
//     machines therefore cannot cut a leader's term short.
//   - Every write is a PUT carrying the resourceVersion read just before, so
//     of two candidates racing for an expired lease exactly one wins (409
//     for the other).
//   - The leader renews every retryPeriod; if it cannot renew within
//     renewDeadline (shorter than leaseDuration) it gives up leadership
//     before anyone else may take it, and its work's signal is aborted.
//   - On a clean stop (the caller's signal aborts) the leader waits for its
//     work to return, then releases the lease (empty holder, 1 s duration) so
//     that a successor takes over at once instead of after leaseDuration.
// Unlike client-go, onStoppedLeading runs only if leadership was held.

import type { KubeObject } from '../apimachinery/index.ts';
import { formatMicroTime } from '../apimachinery/index.ts';
import type { Logger } from '../base/index.ts';
import { CancelledError, delay, silentLogger, toError } from '../base/index.ts';
import { resourcePath, resources } from './paths.ts';
import { ApiError, type RestClient } from './rest.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime. */
  acquireTime?: string;
  /** MicroTime. */
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  client: RestClient;
  /** Where the Lease lives (default kube-system). */
  namespace?: string;
  /** The Lease's name: one per component (e.g. `volplane-controller-manager`). */
  name: string;
  /** This candidate; unique among the candidates (e.g. hostname + random suffix). */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Aborting stops campaigning, or ends leadership (and releases the lease). */
  signal: AbortSignal;
  /** Called on becoming leader; `signal` aborts when leadership ends. Its promise is awaited before the lease is released. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  /** Called whenever the observed holder changes (including to this candidate). */
  onNewLeader?(identity: string): void;
  /** Release the lease on a clean stop (default true). */
  releaseOnCancel?: boolean;
  logger?: Logger;
}

/** The timing options contradict each other. */
export class LeaderElectionConfigError extends Error {
  override readonly name = 'LeaderElectionConfigError';
  constructor(message: string) {
    super(message);
  }
}

const JITTER = 1.2;

/**
 * Campaigns for the lease until it is acquired, leads until leadership is
 * lost or `signal` aborts, then resolves. Throws LeaderElectionConfigError
 * for inconsistent timings; otherwise never throws.
 */
export async function runLeaderElection(options: LeaderElectionOptions): Promise<void> {
  const leaseDurationMs = options.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = options.retryPeriodMs ?? 2_000;
  if (leaseDurationMs <= renewDeadlineMs) throw new LeaderElectionConfigError('leaseDuration must be greater than renewDeadline');
  if (renewDeadlineMs <= JITTER * retryPeriodMs) throw new LeaderElectionConfigError(`renewDeadline must be greater than retryPeriod*${JITTER}`);
  if (retryPeriodMs < 1) throw new LeaderElectionConfigError('retryPeriod must be at least 1 ms');

  const { client, identity, signal } = options;
  const namespace = options.namespace ?? 'kube-system';
  const logger = (options.logger ?? silentLogger()).child({ component: 'leader-election', lease: `${namespace}/${options.name}`, identity });
  const path = resourcePath(resources.leases, namespace, options.name);
  const leaseSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));

  let observedRaw = '';
  let observedSpec: LeaseSpec = {};
  let observedAt = 0;
  let lastLease: Lease | undefined;
  let reportedLeader: string | undefined;

  const observe = (lease: Lease): void => {
    lastLease = lease;
    const spec = lease.spec ?? {};
    const raw = JSON.stringify(spec);
    if (raw !== observedRaw) {
      observedRaw = raw;
      observedSpec = spec;
      observedAt = Date.now();
    }
    const holder = spec.holderIdentity ?? '';
    if (holder !== '' && holder !== reportedLeader) {
      reportedLeader = holder;
      try {
        options.onNewLeader?.(holder);
      } catch (err) {
        logger.error({ err: toError(err) }, 'onNewLeader threw');
      }
    }
  };

  /** One attempt to take or keep the lease; true when this candidate holds it now. */
  const tryAcquireOrRenew = async (timeoutMs: number): Promise<boolean> => {
    const reqSignal = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, timeoutMs))]);
    const now = new Date();
    let lease: Lease;
    try {
      lease = await client.get<Lease>(path, { signal: reqSignal });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) {
        logger.debug({ err: toError(err).message }, 'reading the lease failed');
        return false;
      }
      const spec: LeaseSpec = {
        holderIdentity: identity,
        leaseDurationSeconds: leaseSeconds,
        acquireTime: formatMicroTime(now),
        renewTime: formatMicroTime(now),
        leaseTransitions: 0,
      };
      try {
        const created = await client.request<Lease>('POST', resourcePath(resources.leases, namespace), {
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: options.name, namespace }, spec },
          signal: reqSignal,
        });
        observe(created);
        return true;
      } catch (createErr) {
        logger.debug({ err: toError(createErr).message }, 'creating the lease failed');
        return false;
      }
    }
    observe(lease);
    const holder = observedSpec.holderIdentity ?? '';
    const held = holder !== '' && holder !== identity;
    if (held && observedAt + (observedSpec.leaseDurationSeconds ?? leaseSeconds) * 1000 > Date.now()) return false;
    const renewing = holder === identity;
    const spec: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: leaseSeconds,
      acquireTime: renewing ? (observedSpec.acquireTime ?? formatMicroTime(now)) : formatMicroTime(now),
      renewTime: formatMicroTime(now),
      leaseTransitions: renewing ? (observedSpec.leaseTransitions ?? 0) : (observedSpec.leaseTransitions ?? 0) + 1,
    };
    try {
      const updated = await client.request<Lease>('PUT', path, { body: { ...lease, spec: { ...lease.spec, ...spec } }, signal: reqSignal });
      observe(updated);
      return true;
    } catch (err) {
      logger.debug({ err: toError(err).message }, renewing ? 'renewing the lease failed' : 'taking the lease failed');
      return false;
    }
  };

  const sleep = async (ms: number): Promise<boolean> => {
    try {
      await delay(ms, signal);
      return true;
    } catch {
      return false;
    }
  };

  // Campaign.
  for (;;) {
    if (signal.aborted) return;
    if (await tryAcquireOrRenew(renewDeadlineMs)) break;
    if (!(await sleep(retryPeriodMs * (1 + Math.random() * JITTER)))) return;
  }
  logger.info('became leader');

  // Lead.
  const leading = new AbortController();
  const leadSignal = AbortSignal.any([signal, leading.signal]);
  const work = (async () => {
    try {
      await options.onStartedLeading(leadSignal);
    } catch (err) {
      if (!(err instanceof CancelledError && leadSignal.aborted)) logger.error({ err: toError(err) }, 'onStartedLeading failed');
    }
  })();
  renew: while (await sleep(retryPeriodMs)) {
    const deadline = Date.now() + renewDeadlineMs;
    for (;;) {
      if (await tryAcquireOrRenew(deadline - Date.now())) continue renew;
      if (signal.aborted) break renew;
      if (Date.now() + retryPeriodMs >= deadline || !(await sleep(retryPeriodMs))) break;
    }
    if (signal.aborted) break;
    logger.warn('failed to renew the lease in time, leadership lost');
    break;
  }
  leading.abort();
  await work;

  if (signal.aborted && options.releaseOnCancel !== false && lastLease !== undefined && observedSpec.holderIdentity === identity) {
    const now = formatMicroTime(new Date());
    const spec: LeaseSpec = { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: observedSpec.leaseTransitions ?? 0 };
    try {
      await client.request<Lease>('PUT', path, { body: { ...lastLease, spec: { ...lastLease.spec, ...spec } }, signal: AbortSignal.timeout(renewDeadlineMs) });
      logger.info('released the lease');
    } catch (err) {
      logger.warn({ err: toError(err).message }, 'releasing the lease failed');
    }
  }
  try {
    options.onStoppedLeading?.();
  } catch (err) {
    logger.error({ err: toError(err) }, 'onStoppedLeading threw');
  }
}
