// A pod's API status from what the node knows (upstream: kubelet_pods.go
// generateAPIPodStatus, getPhase, convertToAPIContainerStatuses and
// status/generate.go). A pure function of the pod, the runtime's containers
// of the pod, the pod worker's reasons for containers that are not running,
// and whether the pod's volumes are ready — so every row of the status table
// can be tested without a runtime.
//
// Rules kept from upstream:
//   - a terminal phase (Succeeded, Failed) is never left again;
//   - a container waiting after it exited (CrashLoopBackOff) counts as
//     stopped, not waiting, when the phase is decided — so a crash-looping
//     pod with restartPolicy Always is Running;
//   - condition times move only when the condition's status changes;
//   - PodScheduled belongs to the scheduler: kept as found.

import { isDeepStrictEqual } from 'node:util';
import { formatTime } from '../apimachinery/index.ts';
import type { RuntimeContainer } from './runtime/types.ts';
import type {
  Container,
  ContainerStateView,
  ContainerStatus,
  Pod,
  PodCondition,
  PodPhase,
  PodStatus,
  RestartPolicy,
} from './types.ts';

export const CONTAINER_ID_PREFIX = 'volplane://';

/** Why a container is not running, as the pod worker decided (`CrashLoopBackOff`, `ErrImagePull`…). */
export interface WaitingReason {
  reason: string;
  message?: string;
}

export interface PodStatusInput {
  pod: Pod;
  /** The runtime's containers of this pod by container name, oldest attempt first. */
  containers: ReadonlyMap<string, readonly RuntimeContainer[]>;
  waiting: ReadonlyMap<string, WaitingReason>;
  volumesReady: boolean;
  /** The node's IP: host IP and, without pod networking, the pod IP. */
  hostIP: string;
  now: Date;
}

export function restartPolicyOf(pod: Pod): RestartPolicy {
  return pod.spec.restartPolicy ?? 'Always';
}

function terminatedOf(c: RuntimeContainer): ContainerStateView | undefined {
  if (c.status.state !== 'exited') return undefined;
  return {
    terminated: {
      exitCode: c.status.exitCode,
      reason: c.status.reason,
      startedAt: c.status.startedAt,
      finishedAt: c.status.finishedAt,
      containerID: CONTAINER_ID_PREFIX + c.id,
    },
  };
}

function containerStatus(
  spec: Container,
  attempts: readonly RuntimeContainer[],
  waiting: WaitingReason | undefined,
  defaultWaiting: string,
  isInit: boolean,
): ContainerStatus {
  const latest = attempts.at(-1);
  const previous = attempts.at(-2);
  let state: ContainerStatus['state'];
  let lastState: ContainerStatus['lastState'] = (previous && terminatedOf(previous)) ?? {};
  let containerID: string | undefined;
  let imageID = '';
  if (latest?.status.state === 'running') {
    state = { running: { startedAt: latest.status.startedAt } };
    containerID = CONTAINER_ID_PREFIX + latest.id;
    imageID = imageIDOf(latest.image);
  } else if (latest !== undefined && waiting !== undefined) {
    // Exited, and about to be started again (or failing to be): the exit is history now.
    state = { waiting: withMessage(waiting) };
    lastState = terminatedOf(latest) ?? {};
  } else if (latest !== undefined) {
    state = terminatedOf(latest)!;
    containerID = CONTAINER_ID_PREFIX + latest.id;
    imageID = imageIDOf(latest.image);
  } else {
    state = { waiting: withMessage(waiting ?? { reason: defaultWaiting }) };
  }
  const running = 'running' in state;
  const succeeded = 'terminated' in state && state.terminated.exitCode === 0;
  const status: ContainerStatus = {
    name: spec.name,
    state,
    lastState,
    ready: isInit ? succeeded : running,
    restartCount: latest?.restartCount ?? 0,
    image: spec.image,
    imageID,
    started: running,
  };
  if (containerID !== undefined) status.containerID = containerID;
  return status;
}

function withMessage(w: WaitingReason): { reason: string; message?: string } {
  return w.message === undefined || w.message === '' ? { reason: w.reason } : { reason: w.reason, message: w.message };
}

/** What the image resolved to; the local store has no digests, so the normalized reference stands in. */
export function imageIDOf(image: string): string {
  let ref = image;
  const lastSlash = ref.lastIndexOf('/');
  if (!ref.slice(lastSlash + 1).includes(':') && !ref.includes('@')) ref += ':latest';
  const first = ref.split('/')[0];
  const hasRegistry = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) ref = ref.includes('/') ? `docker.io/${ref}` : `docker.io/library/${ref}`;
  return ref;
}

/** Whether every init container completed successfully (true without init containers). */
export function initContainersDone(pod: Pod, containers: ReadonlyMap<string, readonly RuntimeContainer[]>): boolean {
  return (pod.spec.initContainers ?? []).every((c) => {
    const latest = containers.get(c.name)?.at(-1);
    return latest?.status.state === 'exited' && latest.status.exitCode === 0;
  });
}

/** Upstream getPhase, without sidecars. */
export function podPhase(pod: Pod, init: readonly ContainerStatus[], regular: readonly ContainerStatus[]): PodPhase {
  const policy = restartPolicyOf(pod);
  let pendingInit = 0;
  let failedInit = 0;
  for (const s of init) {
    if ('terminated' in s.state) {
      if (s.state.terminated.exitCode !== 0) failedInit++;
    } else if ('waiting' in s.state && 'terminated' in s.lastState && s.lastState.terminated.exitCode !== 0) {
      failedInit++;
    } else {
      pendingInit++;
    }
  }
  if (failedInit > 0 && policy === 'Never') return 'Failed';
  if (pendingInit > 0 || failedInit > 0) return 'Pending';

  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of regular) {
    if ('running' in s.state) running++;
    else if ('terminated' in s.state) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if ('terminated' in s.lastState) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(type: string, ok: boolean, reason?: string, message?: string): PodCondition {
  const c: PodCondition = { type, status: ok ? 'True' : 'False' };
  if (reason !== undefined) c.reason = reason;
  if (message !== undefined && message !== '') c.message = message;
  return c;
}

/** Keeps an old condition's transition time when its status did not change. */
function withTimes(c: PodCondition, old: readonly PodCondition[], ts: string): PodCondition {
  const before = old.find((o) => o.type === c.type);
  const keep = before !== undefined && before.status === c.status && before.lastTransitionTime != null;
  return { ...c, lastProbeTime: null, lastTransitionTime: keep ? before.lastTransitionTime : ts };
}

/** The status the kubelet writes for `input.pod`. */
export function generatePodStatus(input: PodStatusInput): PodStatus {
  const { pod, containers, waiting, now } = input;
  const old = pod.status ?? {};
  const ts = formatTime(now);
  const initDone = initContainersDone(pod, containers);
  const initSpecs = pod.spec.initContainers ?? [];
  const init = initSpecs.map((c) => containerStatus(c, containers.get(c.name) ?? [], waiting.get(c.name), 'PodInitializing', true));
  const regularDefault = initDone ? 'ContainerCreating' : 'PodInitializing';
  const regular = pod.spec.containers.map((c) => containerStatus(c, containers.get(c.name) ?? [], waiting.get(c.name), regularDefault, false));

  let phase = podPhase(pod, init, regular);
  if (old.phase === 'Succeeded' || old.phase === 'Failed') phase = old.phase;
  const terminal = phase === 'Succeeded' || phase === 'Failed';

  const unready = regular.filter((s) => !s.ready).map((s) => s.name);
  const incomplete = init.filter((s) => !s.ready).map((s) => s.name);
  const oldConditions = old.conditions ?? [];
  const conditions: PodCondition[] = [
    condition('PodReadyToStartContainers', input.volumesReady && !terminal),
    incomplete.length === 0 || terminal
      ? condition('Initialized', true, terminal && initSpecs.length > 0 ? 'PodCompleted' : undefined)
      : condition('Initialized', false, 'ContainersNotInitialized', `containers with incomplete status: [${incomplete.join(' ')}]`),
  ];
  for (const type of ['Ready', 'ContainersReady']) {
    if (phase === 'Succeeded') conditions.push(condition(type, false, 'PodCompleted'));
    else if (unready.length === 0) conditions.push(condition(type, true));
    else conditions.push(condition(type, false, 'ContainersNotReady', `containers with unready status: [${unready.join(' ')}]`));
  }
  const scheduled = oldConditions.find((c) => c.type === 'PodScheduled');
  const result: PodStatus = {
    phase,
    conditions: [...conditions.map((c) => withTimes(c, oldConditions, ts)), scheduled ?? withTimes(condition('PodScheduled', true), [], ts)],
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    podIP: input.hostIP,
    podIPs: [{ ip: input.hostIP }],
    startTime: old.startTime ?? ts,
    containerStatuses: regular,
  };
  if (init.length > 0) result.initContainerStatuses = init;
  if (old.qosClass !== undefined) result.qosClass = old.qosClass;
  return result;
}

/**
 * Whether a status we would write equals one the server holds. The write is a
 * merge patch, in which `null` removes a field (`lastProbeTime: null` never
 * comes back), and the server's field order is its own: compared as such, a
 * status just written looked changed again and was written a second time.
 */
export function sameStatus(want: PodStatus, have: PodStatus | undefined): boolean {
  return isDeepStrictEqual(withoutNulls(want), withoutNulls(have ?? {}));
}

function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = withoutNulls(x);
  return out;
}
