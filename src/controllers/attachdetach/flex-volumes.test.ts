// FlexVolume attach/detach by the AD controller, against a real in-process
// API server and real driver processes. Each row installs its own tiny
// shell driver `flextest/r<n>` into a shared plugin dir watched by one
// FlexVolumeProber; the driver appends every call's argv to the row's log
// and answers:
//   init           attach: true
//   getvolumename  "v-<kubernetes.io/pvOrVolumeName>"
//   attach         device "/dev/flex-<pvOrVolumeName>"; Failure with the
//                  text of the row's `fail` file while it exists; sleeps
//                  past the call deadline when the options hold "hang-me"
//   detach         Success
// The test plays the kubelet by writing the node's status.volumesInUse.
// "Stays" claims are only made after the controller provably acted on
// something that happened at the same time or later (a sentinel volume).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile, mkdir, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import { resourcePath, resources, type RestClient } from '../../client/index.ts';
import { startControllerEnv, waitForState, type ControllerEnv } from '../../testing/index.ts';
import { FlexVolumeProber, HostMountUtil } from '../../volume/index.ts';
import { flexAttachmentKey, parseFlexVolumeName } from './index.ts';
import { recordedCalls } from '../../volume/plugins/flexvolume/test-drivers.ts';
import { createNode, createPod, createPodWithPV, deletePod, setVolumesInUse, startController, type RunningController } from './test-framework.ts';

const CALL_TIMEOUT_MS = 1000;

interface NodeObj extends KubeObject {
  status?: { volumesAttached?: { name: string; devicePath: string }[]; volumesInUse?: string[] };
}
interface EventObj extends KubeObject {
  involvedObject: { name: string };
  reason: string;
  message: string;
  type: string;
  count?: number;
}

interface Observed {
  node: NodeObj;
  events: EventObj[];
  /** The driver's calls, argv each, in order. */
  calls: string[][];
}

interface World {
  env: ControllerEnv;
  client: RestClient;
  prober: FlexVolumeProber;
  ns: string;
  node: string;
  /** `flextest/r<n>`. */
  driver: string;
  /** The row's state directory: `calls` log, `fail` switch. */
  state: string;
  controller: RunningController;
  memo: Map<string, string>;
}

interface Step {
  what: string;
  act?: (w: World) => Promise<void>;
  want: (o: Observed, w: World) => string;
}

interface Row {
  name: string;
  setup: (w: World) => Promise<void>;
  steps: Step[];
}

// ---------------------------------------------------------------------------
// Building blocks

function driverScript(state: string): string {
  return `#!/bin/sh
state='${state}'
{ for a in "$@"; do printf '%s\\n' "$a"; done; printf -- '--\\n'; } >> "$state/calls"
name() { printf '%s' "$1" | sed -n 's/.*"kubernetes.io\\/pvOrVolumeName":"\\([^"]*\\)".*/\\1/p'; }
case "$1" in
init) echo '{"status":"Success","capabilities":{"attach":true}}' ;;
getvolumename) printf '{"status":"Success","volumeName":"v-%s"}\\n' "$(name "$2")" ;;
attach)
  case "$2" in *hang-me*) exec sleep 30 ;; esac
  if [ -f "$state/fail" ]; then printf '{"status":"Failure","message":"%s"}\\n' "$(cat "$state/fail")"; exit 1; fi
  printf '{"status":"Success","device":"/dev/flex-%s"}\\n' "$(name "$2")" ;;
detach) echo '{"status":"Success"}' ;;
*) echo '{"status":"Not supported"}' ;;
esac
`;
}

async function installDriver(pluginDir: string, dirName: string, state: string): Promise<void> {
  const dir = join(pluginDir, dirName);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, '.tmp');
  await writeFile(tmp, driverScript(state), { mode: 0o755 });
  await rename(tmp, join(dir, dirName.split('~').pop()!));
}

/** An inline flexVolume of the row's driver. */
function inline(w: World, name: string, options: Record<string, string> = {}): unknown {
  return { name, flexVolume: { driver: w.driver, fsType: 'ext4', options: { size: '1Mi', ...options } } };
}

async function observe(w: World): Promise<Observed> {
  const node = await w.client.get<NodeObj>(resourcePath(resources.nodes, undefined, w.node));
  const events = await w.client.get<KubeList<EventObj>>(resourcePath(resources.events, w.ns));
  return { node, events: events.items ?? [], calls: await recordedCalls(join(w.state, 'calls')) };
}

// ---------------------------------------------------------------------------
// Checks: each returns '' when right.

/** The unique name the kubelet reports for a volume the driver names `v-<specName>`. */
const uniq = (w: World, specName: string): string => `flexvolume-${w.driver}/v-${specName}`;

function volumesAttached(want: [name: string, devicePath: string][]): (o: Observed) => string {
  return (o) => {
    const have = (o.node.status?.volumesAttached ?? []).map((v) => `${v.name}|${v.devicePath}`);
    // The controller writes the list sorted by name.
    const expected = [...want].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, d]) => `${n}|${d}`);
    return JSON.stringify(have) === JSON.stringify(expected) ? '' : `volumesAttached ${JSON.stringify(have)}, want ${JSON.stringify(expected)}`;
  };
}

/** `count` occurrences of the event (at least `count` when `atLeast`: retries keep coming). */
function eventOn(pod: string, type: string, reason: string, message: string, count = 1, atLeast = false): (o: Observed) => string {
  return (o) => {
    // The recorder folds repeats into one Event with a count: count occurrences, not objects.
    const found = o.events
      .filter((e) => e.involvedObject.name === pod && e.reason === reason && e.type === type && e.message === message)
      .reduce((sum, e) => sum + (e.count ?? 1), 0);
    if (found === count || (atLeast && found > count)) return '';
    const seen = o.events.filter((e) => e.involvedObject.name === pod).map((e) => `${e.type} ${e.reason}: ${e.message}`);
    return `${count} × ${type} ${reason} "${message}" on ${pod} wanted, ${found} found (seen: ${JSON.stringify(seen)})`;
  };
}

const callsOf = (o: Observed, command: string, match: (argv: string[]) => boolean = () => true): string[][] =>
  o.calls.filter((c) => c[0] === command && match(c));
const forVolume = (specName: string) => (argv: string[]): boolean => argv.some((a) => a.includes(`"kubernetes.io/pvOrVolumeName":"${specName}"`));

/** Exactly these calls of `command`, in any order. */
function calls(command: string, want: string[][]): (o: Observed) => string {
  const sorted = (list: string[][]): string[] => list.map((c) => JSON.stringify(c)).sort();
  return (o) => {
    const have = sorted(callsOf(o, command));
    return JSON.stringify(have) === JSON.stringify(sorted(want)) ? '' : `${command} calls ${JSON.stringify(have)}, want ${JSON.stringify(sorted(want))}`;
  };
}

function callCount(command: string, specName: string, pred: (n: number) => boolean, what: string): (o: Observed) => string {
  return (o) => {
    const n = callsOf(o, command, forVolume(specName)).length;
    return pred(n) ? '' : `${command} of ${specName} called ${n} times, want ${what}`;
  };
}

const all =
  (...checks: ((o: Observed) => string)[]) =>
  (o: Observed): string =>
    checks
      .map((c) => c(o))
      .filter((m) => m !== '')
      .join('; ');

// ---------------------------------------------------------------------------
// The rows

/** The options JSON of inline(w, name) as a kubelet-side driver call would encode it. */
const inlineOptions = (name: string): string =>
  `{"kubernetes.io/fsType":"ext4","kubernetes.io/pvOrVolumeName":"${name}","kubernetes.io/readwrite":"rw","size":"1Mi"}`;

const rows: Row[] = [
  {
    name: 'F-1 inline flexVolume: attach <json> <node>, device path in volumesAttached, event; detached with the driver\'s volume name once unmounted',
    setup: async (w) => {
      // The kubelet reports p1's volume in use from the start (it does so for every volume it wants mounted).
      await setVolumesInUse(w, [uniq(w, 'data')]);
      await createPod(w, 'p1', [inline(w, 'data')]);
      await createPod(w, 'sentinel', [inline(w, 'data2')]);
    },
    steps: [
      {
        what: 'attach called with the options JSON and the node; reported with its device path; pods told',
        want: (o, w) =>
          all(
            calls('attach', [
              ['attach', inlineOptions('data'), w.node],
              ['attach', inlineOptions('data2'), w.node],
            ]),
            volumesAttached([
              [uniq(w, 'data'), '/dev/flex-data'],
              [uniq(w, 'data2'), '/dev/flex-data2'],
            ]),
            eventOn('p1', 'Normal', 'SuccessfulAttachVolume', 'AttachVolume.Attach succeeded for volume "data"'),
            eventOn('sentinel', 'Normal', 'SuccessfulAttachVolume', 'AttachVolume.Attach succeeded for volume "data2"'),
          )(o),
      },
      {
        what: 'both pods deleted while the node mounts p1\'s volume: the sentinel is detached, data stays',
        act: async (w) => {
          await deletePod(w, 'p1');
          await deletePod(w, 'sentinel');
        },
        want: (o, w) => all(calls('detach', [['detach', 'v-data2', w.node]]), volumesAttached([[uniq(w, 'data'), '/dev/flex-data']]))(o),
      },
      {
        what: 'the node unmounts it: detach <volume name> <node>, volumesAttached emptied',
        act: (w) => setVolumesInUse(w, []),
        want: (o, w) =>
          all(
            calls('detach', [
              ['detach', 'v-data2', w.node],
              ['detach', 'v-data', w.node],
            ]),
            volumesAttached([]),
          )(o),
      },
    ],
  },
  {
    name: 'F-2 claim bound to a PV with spec.flexVolume: the PV\'s name and the claim\'s readOnly reach the driver',
    setup: async (w) => {
      w.memo.set('pv', await createPodWithPV(w, 'p1', { flexVolume: { driver: w.driver, fsType: 'xfs', options: { pool: 'p1' } } }, { readOnly: true }));
    },
    steps: [
      {
        what: 'attached under the PV\'s name, read-only',
        want: (o, w) => {
          const pv = w.memo.get('pv')!;
          return all(
            calls('attach', [['attach', `{"kubernetes.io/fsType":"xfs","kubernetes.io/pvOrVolumeName":"${pv}","kubernetes.io/readwrite":"ro","pool":"p1"}`, w.node]]),
            volumesAttached([[uniq(w, pv), `/dev/flex-${pv}`]]),
            eventOn('p1', 'Normal', 'SuccessfulAttachVolume', `AttachVolume.Attach succeeded for volume "${pv}"`),
          )(o);
        },
      },
    ],
  },
  {
    name: 'F-3 attach fails: FailedAttachVolume with the driver\'s message, retried with backoff, attached once the driver succeeds',
    setup: async (w) => {
      await writeFile(join(w.state, 'fail'), 'disk on fire');
      await createPod(w, 'p1', [inline(w, 'data')]);
    },
    steps: [
      {
        what: 'a Warning with the driver\'s message, a retry, nothing reported',
        want: (o) =>
          all(
            eventOn('p1', 'Warning', 'FailedAttachVolume', 'AttachVolume.Attach failed for volume "data" : attach command failed, status: Failure, reason: disk on fire', 2, true),
            callCount('attach', 'data', (n) => n >= 2, 'at least 2'),
            volumesAttached([]),
          )(o),
      },
      {
        what: 'the driver recovers: attached, reported, SuccessfulAttachVolume',
        act: (w) => unlink(join(w.state, 'fail')),
        want: (o, w) =>
          all(
            volumesAttached([[uniq(w, 'data'), '/dev/flex-data']]),
            eventOn('p1', 'Normal', 'SuccessfulAttachVolume', 'AttachVolume.Attach succeeded for volume "data"'),
          )(o),
      },
    ],
  },
  {
    name: 'F-4 a driver call that hangs: killed at its deadline, a timeout Warning; the pod\'s other volume is attached meanwhile',
    setup: async (w) => {
      await createPod(w, 'p1', [inline(w, 'slow', { mode: 'hang-me' }), inline(w, 'fast')]);
    },
    steps: [
      {
        what: 'fast attached and reported; slow timed out and not reported',
        want: (o, w) =>
          all(
            volumesAttached([[uniq(w, 'fast'), '/dev/flex-fast']]),
            eventOn('p1', 'Normal', 'SuccessfulAttachVolume', 'AttachVolume.Attach succeeded for volume "fast"'),
            eventOn('p1', 'Warning', 'FailedAttachVolume', `AttachVolume.Attach failed for volume "slow" : attach command timed out after ${CALL_TIMEOUT_MS} ms and was killed`, 1, true),
          )(o),
      },
    ],
  },
  {
    name: 'F-5 controller restart: attachments rebuilt from the node\'s status — not attached again, and detached when their pod went while the controller was down',
    setup: async (w) => {
      await createPod(w, 'p1', [inline(w, 'data')]);
    },
    steps: [
      {
        what: 'attached and reported before the restart',
        want: (o, w) => all(volumesAttached([[uniq(w, 'data'), '/dev/flex-data']]), callCount('attach', 'data', (n) => n === 1, 'once'))(o),
      },
      {
        what: 'restarted; a sentinel pod proves the new controller reconciles; data is neither attached again nor detached',
        act: async (w) => {
          await w.controller.stop();
          w.controller = startController(w.env, w.prober);
          await createPod(w, 'sentinel', [inline(w, 'data2')]);
        },
        want: (o, w) =>
          all(
            volumesAttached([
              [uniq(w, 'data'), '/dev/flex-data'],
              [uniq(w, 'data2'), '/dev/flex-data2'],
            ]),
            callCount('attach', 'data', (n) => n === 1, 'once'),
            calls('detach', []),
            eventOn('p1', 'Normal', 'SuccessfulAttachVolume', 'AttachVolume.Attach succeeded for volume "data"'),
          )(o),
      },
      {
        what: 'p1 deleted while the controller is down: the restarted controller detaches data (no spec: the name comes from the node status)',
        act: async (w) => {
          await w.controller.stop();
          await deletePod(w, 'p1');
          w.controller = startController(w.env, w.prober);
        },
        want: (o, w) => all(calls('detach', [['detach', 'v-data', w.node]]), volumesAttached([[uniq(w, 'data2'), '/dev/flex-data2']]))(o),
      },
    ],
  },
];

// ---------------------------------------------------------------------------

describe('attach/detach controller: FlexVolume', () => {
  let env: ControllerEnv;
  let tmp: string;
  let pluginDir: string;
  let prober: FlexVolumeProber;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ad-flex-'));
    pluginDir = join(tmp, 'plugins');
    env = await startControllerEnv();
    prober = new FlexVolumeProber({
      host: { rootDir: join(tmp, 'root'), mountUtil: new HostMountUtil() },
      pluginDir,
      callTimeoutMs: CALL_TIMEOUT_MS,
      debounceMs: 20,
      rescanIntervalMs: 0,
    });
    await prober.start();
  });
  after(async () => {
    await prober?.dispose();
    await env?.close();
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  });

  let n = 0;
  for (const row of rows) {
    it(row.name, async () => {
      n++;
      const state = join(tmp, `state-${n}`);
      await mkdir(state);
      await installDriver(pluginDir, `flextest~r${n}`, state);
      await prober.rescan();
      assert.ok(prober.getPlugin(`flextest/r${n}`)?.attacher, 'the row\'s driver is ready and attaches');
      const w: World = {
        env,
        client: env.client,
        prober,
        ns: `adf-${n}`,
        node: `flex-node-${n}`,
        driver: `flextest/r${n}`,
        state,
        controller: startController(env, prober),
        memo: new Map(),
      };
      try {
        await env.createNamespace(w.ns);
        await createNode(w);
        await row.setup(w);
        for (const step of row.steps) {
          await step.act?.(w);
          await waitForState(`${row.name}: ${step.what}`, () => observe(w), (o) => step.want(o, w), { timeoutMs: 15_000, intervalMs: 50 });
        }
      } finally {
        await w.controller.stop();
      }
    });
  }

  it('F-0 unique names split as upstream\'s: the driver, and the driver\'s volume name after the last slash', () => {
    const table: [string, ReturnType<typeof parseFlexVolumeName>][] = [
      ['flexvolume-vendor/drv/vol-1', { driver: 'vendor/drv', driverVolumeName: 'vol-1' }],
      ['flexvolume-drv/vol-1', { driver: 'drv', driverVolumeName: 'vol-1' }],
      ['flexvolume-a/b/c/vol', { driver: 'a/b/c', driverVolumeName: 'vol' }],
      ['kubernetes.io/csi/drv^h', undefined],
      ['flexvolume-vendor/drv/', undefined],
      ['flexvolume-/vol', undefined],
    ];
    for (const [name, want] of table) assert.deepEqual(parseFlexVolumeName(name), want, name);
    assert.notEqual(flexAttachmentKey('flexvolume-a/b/v', 'n1'), flexAttachmentKey('flexvolume-a/b/v', 'n2'));
  });
});
