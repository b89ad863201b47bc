// Developer tool, not part of the product: records the protobuf bodies the
// real kubectl sends for its imperative generators, so the decoder's unit test
// can replay them without kubectl.
//
// It sits as a TLS proxy in front of a running volplane: every request is
// forwarded upstream (so discovery is real) except protobuf POSTs, which are
// recorded and answered 201 with the decoded object (kubectl only needs a
// plausible object back to print "… created").
//
//   node src/cli/main.ts up --data-dir /tmp/pbtest --api-port 16543 &
//   node src/apimachinery/protobuf/testdata/capture-fixtures.ts /tmp/pbtest \
//     src/apimachinery/protobuf/testdata/kubectl-bodies.json
//
// Needs `kubectl` on PATH; the output records its version.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROTOBUF_CONTENT_TYPE, decodeKubernetesProtobuf } from '../index.ts';

const run = promisify(execFile);

interface Generator {
  name: string;
  args: string[];
}

interface CapturedBody {
  name: string;
  command: string;
  method: string;
  path: string;
  contentType: string;
  body: string; // base64
}

function generators(workDir: string): Generator[] {
  const binaryFile = join(workDir, 'blob.bin');
  writeFileSync(binaryFile, Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41]));
  return [
    { name: 'namespace', args: ['create', 'namespace', 'demo'] },
    { name: 'configmap-literal', args: ['create', 'configmap', 'c', '--from-literal=a=b', '--from-literal=empty='] },
    { name: 'configmap-binary', args: ['create', 'configmap', 'bin', `--from-file=blob=${binaryFile}`] },
    { name: 'secret-generic', args: ['create', 'secret', 'generic', 's', '--from-literal=k=v', '--type=Opaque'] },
    {
      name: 'secret-docker-registry',
      args: ['create', 'secret', 'docker-registry', 'reg', '--docker-server=registry.example', '--docker-username=u', '--docker-password=p'],
    },
    { name: 'serviceaccount', args: ['create', 'serviceaccount', 'sa'] },
    { name: 'deployment-minimal', args: ['create', 'deployment', 'd', '--image=busybox'] },
    {
      name: 'deployment-full',
      args: ['create', 'deployment', 'web', '--image=busybox', '--replicas=3', '--port=8080', '--', 'sleep', '3600'],
    },
    { name: 'deployment-zero-replicas', args: ['create', 'deployment', 'idle', '--image=busybox', '--replicas=0'] },
    {
      name: 'role',
      args: ['create', 'role', 'r', '--verb=get,list', '--resource=pods,configmaps', '--resource-name=one'],
    },
    {
      name: 'rolebinding',
      args: ['create', 'rolebinding', 'rb', '--role=r', '--user=alice', '--serviceaccount=default:sa'],
    },
    {
      name: 'clusterrole',
      args: ['create', 'clusterrole', 'cr', '--verb=get', '--non-resource-url=/healthz'],
    },
    {
      name: 'clusterrole-aggregation',
      args: ['create', 'clusterrole', 'agg', '--aggregation-rule=rbac.example.com/aggregate=true'],
    },
    { name: 'clusterrolebinding', args: ['create', 'clusterrolebinding', 'crb', '--clusterrole=cr', '--group=devs'] },
    { name: 'quota', args: ['create', 'quota', 'q', '--hard=cpu=1,memory=1Gi,pods=2', '--scopes=BestEffort'] },
  ];
}

async function main(): Promise<void> {
  const [dataDir, outFile] = process.argv.slice(2);
  if (dataDir === undefined || outFile === undefined) {
    throw new Error('usage: capture-fixtures.ts <volplane data dir> <output .json>');
  }
  const pki = (file: string): Buffer => readFileSync(join(dataDir, 'pki', file));
  const kubeconfig = readFileSync(join(dataDir, 'kubeconfig'), 'utf8');
  const upstream = new URL(/server:\s*(\S+)/.exec(kubeconfig)?.[1] ?? '');
  const workDir = mkdtempSync(join(tmpdir(), 'pb-capture-'));
  const captured: CapturedBody[] = [];
  let current = '';
  let currentCommand = '';

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    // The capture kubeconfig's token means nothing upstream; the admin client certificate authenticates.
    const { authorization: _token, ...rest } = req.headers;
    const headers = { ...rest, host: upstream.host };
    const out = https.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        ca: pki('ca.crt'),
        cert: pki('admin.crt'),
        key: pki('admin.key'),
      },
      (up) => {
        if (process.env.CAPTURE_DEBUG) process.stderr.write(`  <- ${up.statusCode} ${JSON.stringify(up.headers)}\n`);
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', (err) => {
      if (process.env.CAPTURE_DEBUG) process.stderr.write(`  !! ${err.message}\n`);
      res.writeHead(502);
      res.end(err.message);
    });
    out.end(body);
  };

  const server = https.createServer({ cert: pki('apiserver.crt'), key: pki('apiserver.key') }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (process.env.CAPTURE_DEBUG) process.stderr.write(`${req.method} ${req.url}\n`);
      const body = Buffer.concat(chunks);
      const contentType = req.headers['content-type'] ?? '';
      if (req.method !== 'POST' || !contentType.startsWith(PROTOBUF_CONTENT_TYPE)) {
        forward(req, res, body);
        return;
      }
      captured.push({
        name: current,
        command: currentCommand,
        method: req.method,
        path: req.url ?? '',
        contentType,
        body: body.toString('base64'),
      });
      try {
        const decoded = decodeKubernetesProtobuf(body).object;
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify(decoded));
      } catch (err) {
        res.writeHead(415, { 'content-type': 'text/plain' });
        res.end((err as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const captureKubeconfig = join(workDir, 'kubeconfig');
  writeFileSync(
    captureKubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: capture',
      '  cluster:',
      `    server: https://127.0.0.1:${port}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: anyone',
      '  user: {token: capture-only}',
      'contexts:',
      '- name: capture',
      '  context: {cluster: capture, user: anyone}',
      'current-context: capture',
      '',
    ].join('\n'),
  );
  try {
    const version = (await run('kubectl', ['version', '--client'])).stdout.split('\n')[0] ?? '';
    for (const gen of generators(workDir)) {
      current = gen.name;
      currentCommand = `kubectl ${gen.args.join(' ')}`;
      // Global flags first: a generator's own args may end with `-- command`.
      const args = ['--kubeconfig', captureKubeconfig, '--cache-dir', join(workDir, 'cache'), ...gen.args];
      try {
        const { stdout } = await run('kubectl', args);
        process.stdout.write(`${gen.name}: ${stdout}`);
      } catch (err) {
        process.stdout.write(`${gen.name}: FAILED ${(err as Error).message}\n`);
      }
    }
    writeFileSync(outFile, `${JSON.stringify({ kubectl: version, bodies: captured }, null, 2)}\n`);
  } finally {
    server.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
