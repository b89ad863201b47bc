import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { StatusError, type KubeObject } from '../apimachinery/index.ts';
import {
  checkPodCanExec,
  DEFAULT_KUBELET_PORT,
  execQuery,
  isExecUpgrade,
  isSpdyUpgrade,
  kubeletAddress,
  podLogQuery,
  resolveContainer,
  statusFromKubelet,
  validateContainerLogStatus,
} from './pod-proxy.ts';

function pod(name: string, spec: Record<string, unknown>, status: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec, status };
}

const containers = (...names: string[]) => names.map((name) => ({ name, image: 'busybox' }));

/** Runs `fn` and returns the StatusError it throws (code and message), or 'ok'. */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof StatusError) return `${err.code} ${err.message}`;
    throw err;
  }
}

describe('container resolution (pods/log and pods/exec)', () => {
  const rows: { name: string; pod: KubeObject; container: string; want: string }[] = [
    { name: 'container-1 the only container is the default', pod: pod('p', { containers: containers('main') }), container: '', want: 'ok' },
    {
      name: 'container-2 several containers need a name',
      pod: pod('p', { containers: containers('a', 'b') }),
      container: '',
      want: '400 a container name must be specified for pod p, choose one of: [a b]',
    },
    {
      name: 'container-3 init containers are listed too',
      pod: pod('p', { containers: containers('a', 'b'), initContainers: containers('init') }),
      container: '',
      want: '400 a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [init]',
    },
    { name: 'container-4 unknown container', pod: pod('three', { containers: containers('a') }), container: 'nope', want: '400 container nope is not valid for pod three' },
    { name: 'container-5 init containers can be named', pod: pod('p', { containers: containers('a'), initContainers: containers('init') }), container: 'init', want: 'ok' },
  ];
  for (const row of rows) it(row.name, () => assert.equal(outcome(() => resolveContainer(row.pod, row.container)), row.want));
});

describe('container log status', () => {
  const withStatus = (s: Record<string, unknown>) => pod('p', { containers: containers('c') }, { containerStatuses: [{ name: 'c', ...s }] });
  const rows: { name: string; pod: KubeObject; previous: boolean; want: string }[] = [
    { name: 'logstatus-1 running', pod: withStatus({ state: { running: {} } }), previous: false, want: 'ok' },
    { name: 'logstatus-2 terminated still has logs', pod: withStatus({ state: { terminated: { exitCode: 0 } } }), previous: false, want: 'ok' },
    {
      name: 'logstatus-3 waiting to start',
      pod: withStatus({ state: { waiting: { reason: 'ContainerCreating' } } }),
      previous: false,
      want: '400 container "c" in pod "p" is waiting to start: ContainerCreating',
    },
    {
      name: 'logstatus-4 image pull back-off has its own words',
      pod: withStatus({ state: { waiting: { reason: 'ImagePullBackOff' } } }),
      previous: false,
      want: '400 container "c" in pod "p" is waiting to start: trying and failing to pull image',
    },
    {
      name: 'logstatus-5 previous without a previous attempt',
      pod: withStatus({ state: { running: {} }, lastState: {} }),
      previous: true,
      want: '400 previous terminated container "c" in pod "p" not found',
    },
    { name: 'logstatus-6 previous with one', pod: withStatus({ state: { running: {} }, lastState: { terminated: { exitCode: 1 } } }), previous: true, want: 'ok' },
    {
      name: 'logstatus-7 no status reported yet',
      pod: pod('p', { containers: containers('c') }),
      previous: false,
      want: '400 container "c" in pod "p" is waiting to start: ContainerCreating',
    },
  ];
  for (const row of rows) it(row.name, () => assert.equal(outcome(() => validateContainerLogStatus(row.pod, 'c', row.previous)), row.want));
});

describe('exec pre-checks', () => {
  const rows: { name: string; phase: string; want: string }[] = [
    { name: 'execcheck-1 running pod', phase: 'Running', want: 'ok' },
    { name: 'execcheck-2 pending pod (the kubelet decides)', phase: 'Pending', want: 'ok' },
    { name: 'execcheck-3 succeeded pod', phase: 'Succeeded', want: '400 cannot exec into a container in a completed pod; current phase is Succeeded' },
    { name: 'execcheck-4 failed pod', phase: 'Failed', want: '400 cannot exec into a container in a completed pod; current phase is Failed' },
  ];
  for (const row of rows) it(row.name, () => assert.equal(outcome(() => checkPodCanExec(pod('p', {}, { phase: row.phase }))), row.want));

  it('execcheck-5 stream flags reach the kubelet as "1", false ones not at all', () => {
    assert.equal(
      execQuery(new URLSearchParams('command=sh&command=-c&command=ls&stdin=false&stdout=true&stderr=true&tty=false&container=c')).toString(),
      'command=sh&command=-c&command=ls&stdout=1&stderr=1',
    );
  });
});

describe('kubelet address', () => {
  const node = (status: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, status });
  it('addr-1 InternalIP and the kubelet endpoint port', () => {
    assert.deepEqual(
      kubeletAddress(node({ addresses: [{ type: 'Hostname', address: 'n' }, { type: 'InternalIP', address: '10.0.0.5' }], daemonEndpoints: { kubeletEndpoint: { Port: 10999 } } })),
      { host: '10.0.0.5', port: 10999 },
    );
  });
  it('addr-2 the hostname when there is no InternalIP; the default port', () => {
    assert.deepEqual(kubeletAddress(node({ addresses: [{ type: 'Hostname', address: 'n' }] })), { host: 'n', port: DEFAULT_KUBELET_PORT });
  });
  it('addr-3 no address at all', () => {
    assert.match(outcome(() => kubeletAddress(node({}))), /^503 node "n" has no address/);
  });
});

describe('pod log options at the API server', () => {
  it('logq-1 forwards what the kubelet needs', () => {
    const { previous, kubeletQuery } = podLogQuery(new URLSearchParams('container=c&follow=true&tailLines=3&timestamps=true&previous=false'), 'p');
    assert.equal(previous, false);
    assert.equal(kubeletQuery.toString(), 'follow=true&timestamps=true&tailLines=3');
  });
  const invalid: { name: string; query: string; want: string }[] = [
    { name: 'logq-2 negative tail', query: 'tailLines=-1', want: '422 PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0' },
    { name: 'logq-3 zero limit', query: 'limitBytes=0', want: '422 PodLogOptions "p" is invalid: limitBytes: Invalid value: 0: must be greater than 0' },
    {
      name: 'logq-4 both since forms',
      query: 'sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z',
      want: '422 PodLogOptions "p" is invalid: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified',
    },
  ];
  for (const row of invalid) it(row.name, () => assert.equal(outcome(() => podLogQuery(new URLSearchParams(row.query), 'p')), row.want));
});

describe('kubelet answers become Statuses', () => {
  const rows: { name: string; code: number; body: string; want: { code: number; reason: string; message: RegExp } }[] = [
    { name: 'kstatus-1 400 keeps the kubelet text', code: 400, body: 'container "c" in pod "p" is not running\n', want: { code: 400, reason: 'BadRequest', message: /^container "c" in pod "p" is not running$/ } },
    { name: 'kstatus-2 404', code: 404, body: 'container "c" not found in pod "p"', want: { code: 404, reason: 'NotFound', message: /not found in pod/ } },
    { name: 'kstatus-3 refused credentials are the server’s problem', code: 403, body: 'Forbidden', want: { code: 500, reason: 'InternalError', message: /refused the API server's credentials \(403\)/ } },
    { name: 'kstatus-4 500', code: 500, body: 'boom', want: { code: 500, reason: 'InternalError', message: /boom/ } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const s = statusFromKubelet(row.code, row.body);
      assert.equal(s.code, row.want.code);
      assert.equal(s.reason, row.want.reason);
      assert.match(s.message, row.want.message);
    });
  }
});

describe('which upgrades the API server takes over', () => {
  const rows: { name: string; upgrade: string | undefined; exec: boolean; spdy: boolean }[] = [
    { name: 'upgrade-1 a WebSocket (kubectl 1.30+, client-node)', upgrade: 'websocket', exec: true, spdy: false },
    { name: 'upgrade-2 SPDY/3.1 (kubectl before 1.30 and the fallback)', upgrade: 'SPDY/3.1', exec: true, spdy: true },
    { name: 'upgrade-3 header case does not matter', upgrade: 'spdy/3.1', exec: true, spdy: true },
    { name: 'upgrade-4 another protocol stays an ordinary request', upgrade: 'h2c', exec: false, spdy: false },
    { name: 'upgrade-5 SPDY/3 without .1 is not what kubectl sends', upgrade: 'SPDY/3', exec: false, spdy: false },
    { name: 'upgrade-6 no upgrade', upgrade: undefined, exec: false, spdy: false },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const req = { headers: row.upgrade === undefined ? {} : { upgrade: row.upgrade } } as IncomingMessage;
      assert.equal(isExecUpgrade(req), row.exec);
      assert.equal(isSpdyUpgrade(req), row.spdy);
    });
  }
});
