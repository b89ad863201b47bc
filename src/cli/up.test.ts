import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DataDirLockedError } from './data-dir.ts';
import { PortInUseError } from './errors.ts';
import { startVolplane, type Volplane } from './up.ts';

interface Credentials {
  server: string;
  ca: string;
  cert: string;
  key: string;
}

/** The server and credentials a kubeconfig written by volplane holds. */
async function readKubeconfig(path: string): Promise<Credentials> {
  const doc = parse(await readFile(path, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const b64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
  return {
    server: doc.clusters[0]!.cluster.server,
    ca: b64(doc.clusters[0]!.cluster['certificate-authority-data']),
    cert: b64(doc.users[0]!.user['client-certificate-data']),
    key: b64(doc.users[0]!.user['client-key-data']),
  };
}

/** GET `path`, verifying the server against the kubeconfig's CA; with its client certificate unless `anonymous`. */
function get(creds: Credentials, path: string, anonymous = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, creds.server),
      { ca: creds.ca, ...(anonymous ? {} : { cert: creds.cert, key: creds.key }), agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('startVolplane', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'volplane-up-test-'));
  const dataDir = join(root, 'data');
  let volplane: Volplane | undefined = await startVolplane({ dataDir, apiPort: 0 });
  t.after(async () => {
    await volplane?.close();
    await rm(root, { recursive: true, force: true });
  });
  const port = volplane.port;
  const creds = await readKubeconfig(volplane.kubeconfigPath);

  await t.test('writes an admin kubeconfig for the listening server', () => {
    assert.equal(volplane!.kubeconfigPath, join(dataDir, 'kubeconfig'));
    assert.equal(creds.server, `https://127.0.0.1:${port}`);
    assert.equal(volplane!.url, creds.server);
    assert.ok(port > 0);
  });

  const rows: { name: string; path: string; anonymous: boolean; status: number }[] = [
    { name: 'GET /version with the admin client certificate → 200', path: '/version', anonymous: false, status: 200 },
    { name: 'listing namespaces with the admin client certificate → 200', path: '/api/v1/namespaces', anonymous: false, status: 200 },
    { name: 'listing namespaces without credentials → 401', path: '/api/v1/namespaces', anonymous: true, status: 401 },
  ];
  for (const row of rows) {
    await t.test(row.name, async () => {
      const res = await get(creds, row.path, row.anonymous);
      assert.equal(res.status, row.status, res.body);
    });
  }

  await t.test('a second volplane on the same data directory is refused', async () => {
    await assert.rejects(startVolplane({ dataDir, apiPort: 0 }), DataDirLockedError);
  });

  await t.test('a second volplane on the same port fails with PortInUseError and leaves its directory usable', async () => {
    const otherDir = join(root, 'other');
    await assert.rejects(startVolplane({ dataDir: otherDir, apiPort: port }), (err: unknown) => {
      assert.ok(err instanceof PortInUseError, String(err));
      assert.equal(err.port, port);
      assert.match(err.message, /already in use/);
      return true;
    });
    // The failed start released its lock and database: the directory starts fine now.
    const other = await startVolplane({ dataDir: otherDir, apiPort: 0 });
    await other.close();
  });

  await t.test('after a restart on the same directory and port, the old kubeconfig still works', async () => {
    await volplane!.close();
    await volplane!.close(); // idempotent
    volplane = undefined;
    await assert.rejects(get(creds, '/version'), /ECONNREFUSED/);
    volplane = await startVolplane({ dataDir, apiPort: port });
    assert.deepEqual(await readKubeconfig(volplane.kubeconfigPath), creds);
    const res = await get(creds, '/api/v1/namespaces');
    assert.equal(res.status, 200, res.body);
    const names = (JSON.parse(res.body) as { items: { metadata: { name: string } }[] }).items.map((n) => n.metadata.name);
    assert.ok(names.includes('default'), names.join(','));
  });
});
