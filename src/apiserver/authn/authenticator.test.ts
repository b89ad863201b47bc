import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTHENTICATED_GROUP, TokenFileError, bearerToken, createAuthenticator, loadTokenFile } from './authenticator.ts';
import { createCertificateAuthority, issueClientCertificate, issueServingCertificate, type CertificateAndKey } from './pki.ts';
import type { Authenticator, UserInfo } from './types.ts';

interface Reply {
  status: number;
  user?: UserInfo;
}

/** A real HTTPS server that answers with the authenticated user, listening as the API server does. */
async function startServer(
  serving: CertificateAndKey,
  trustedCas: string[],
  authenticator: Authenticator,
): Promise<{ port: number; server: Server }> {
  const server = createServer(
    { cert: serving.cert, key: serving.key, ca: trustedCas, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const user = authenticator.authenticate(req);
      res.writeHead(user === undefined ? 401 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(user ?? {}));
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { port: (server.address() as AddressInfo).port, server };
}

function get(port: number, ca: string, options: { client?: CertificateAndKey; authorization?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/version',
        ca,
        cert: options.client?.cert,
        key: options.client?.key,
        headers: options.authorization === undefined ? {} : { authorization: options.authorization },
        agent: false, // a fresh connection per row: the client certificate is per connection
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          resolve(status === 200 ? { status, user: JSON.parse(body) as UserInfo } : { status });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('authenticator over a real TLS connection', async (t) => {
  const ca = await createCertificateAuthority();
  const foreignCa = await createCertificateAuthority({ commonName: 'foreign' });
  const serving = await issueServingCertificate(ca);
  const admin = await issueClientCertificate(ca, { user: 'admin', groups: ['system:masters'] });
  const noGroups = await issueClientCertificate(ca, { user: 'carol' });
  const foreign = await issueClientCertificate(foreignCa, { user: 'mallory', groups: ['system:masters'] });
  const tokens = new Map<string, UserInfo>([
    ['s3cret-token', { name: 'robot', uid: '42', groups: ['bots'] }],
    ['other-token', { name: 'other', groups: [] }],
  ]);

  // The usual server: trusts only the cluster CA.
  const strict = await startServer(serving, [ca.cert], createAuthenticator({ caCert: ca.cert, tokens }));
  // A server whose TLS layer also trusts the foreign CA: the authenticator must still refuse it.
  const broad = await startServer(serving, [ca.cert, foreignCa.cert], createAuthenticator({ caCert: ca.cert, tokens }));
  t.after(() => {
    strict.server.close();
    broad.server.close();
  });

  const rows: {
    name: string;
    port: number;
    client?: CertificateAndKey;
    authorization?: string;
    want: Reply;
  }[] = [
    {
      name: 'client certificate from the cluster CA → user from CN, groups from O',
      port: strict.port,
      client: admin,
      want: { status: 200, user: { name: 'admin', groups: ['system:masters', AUTHENTICATED_GROUP] } },
    },
    {
      name: 'client certificate without O → no groups but system:authenticated',
      port: strict.port,
      client: noGroups,
      want: { status: 200, user: { name: 'carol', groups: [AUTHENTICATED_GROUP] } },
    },
    { name: 'client certificate from another CA → 401', port: strict.port, client: foreign, want: { status: 401 } },
    {
      name: 'client certificate from another CA the TLS layer trusts → still 401',
      port: broad.port,
      client: foreign,
      want: { status: 401 },
    },
    {
      name: 'serving certificate used as a client certificate (no clientAuth usage) → 401',
      port: strict.port,
      client: serving,
      want: { status: 401 },
    },
    {
      name: 'bearer token from the token map → its user',
      port: strict.port,
      authorization: 'Bearer s3cret-token',
      want: { status: 200, user: { name: 'robot', uid: '42', groups: ['bots', AUTHENTICATED_GROUP] } },
    },
    { name: 'unknown bearer token → 401', port: strict.port, authorization: 'Bearer s3cret-tokem', want: { status: 401 } },
    { name: 'prefix of a valid token → 401', port: strict.port, authorization: 'Bearer s3cret', want: { status: 401 } },
    { name: 'basic credentials → 401', port: strict.port, authorization: 'Basic YWRtaW46YWRtaW4=', want: { status: 401 } },
    { name: 'no credentials → 401', port: strict.port, want: { status: 401 } },
    {
      name: 'rejected certificate falls back to a valid bearer token',
      port: strict.port,
      client: foreign,
      authorization: 'Bearer other-token',
      want: { status: 200, user: { name: 'other', groups: [AUTHENTICATED_GROUP] } },
    },
  ];
  for (const row of rows) {
    await t.test(row.name, async () => {
      const options: { client?: CertificateAndKey; authorization?: string } = {};
      if (row.client !== undefined) options.client = row.client;
      if (row.authorization !== undefined) options.authorization = row.authorization;
      assert.deepEqual(await get(row.port, ca.cert, options), row.want);
    });
  }

  await t.test('the answer for a connection does not leak into the next user of a shared object', () => {
    const authenticator = createAuthenticator({ caCert: ca.cert, tokens });
    const req = { socket: {}, headers: { authorization: 'Bearer s3cret-token' } } as unknown as Parameters<Authenticator['authenticate']>[0];
    const first = authenticator.authenticate(req)!;
    first.groups.push('tampered');
    assert.deepEqual(authenticator.authenticate(req), { name: 'robot', uid: '42', groups: ['bots', AUTHENTICATED_GROUP] });
  });
});

test('bearerToken', async (t) => {
  const rows: { name: string; header: string | undefined; want: string | undefined }[] = [
    { name: 'standard form', header: 'Bearer abc', want: 'abc' },
    { name: 'scheme in any case', header: 'bearer abc', want: 'abc' },
    { name: 'surrounding space', header: '  Bearer   abc  ', want: 'abc' },
    { name: 'no header', header: undefined, want: undefined },
    { name: 'no token', header: 'Bearer', want: undefined },
    { name: 'other scheme', header: 'Basic abc', want: undefined },
    { name: 'extra words', header: 'Bearer abc def', want: undefined },
  ];
  for (const row of rows) await t.test(row.name, () => assert.equal(bearerToken(row.header), row.want));
});

test('loadTokenFile', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'volplane-tokens-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));

  const rows: { name: string; text: string; want: [string, UserInfo][] | 'error' }[] = [
    {
      name: 'token, user, uid',
      text: 'tok1,alice,1001\n',
      want: [['tok1', { name: 'alice', uid: '1001', groups: [] }]],
    },
    {
      name: 'quoted group list',
      text: 'tok1,alice,1001,"dev,ops"\ntok2,bob,1002,solo\n',
      want: [
        ['tok1', { name: 'alice', uid: '1001', groups: ['dev', 'ops'] }],
        ['tok2', { name: 'bob', uid: '1002', groups: ['solo'] }],
      ],
    },
    {
      name: 'CRLF line ends, blank lines and a doubled quote',
      text: 'tok1,"al""ice",1\r\n\r\ntok2,bob,2\r\n',
      want: [
        ['tok1', { name: 'al"ice', uid: '1', groups: [] }],
        ['tok2', { name: 'bob', uid: '2', groups: [] }],
      ],
    },
    { name: 'empty token is skipped', text: ',nobody,0\ntok,someone,1', want: [['tok', { name: 'someone', uid: '1', groups: [] }]] },
    { name: 'repeated token keeps the last record', text: 't,a,1\nt,b,2\n', want: [['t', { name: 'b', uid: '2', groups: [] }]] },
    { name: 'fewer than three columns is an error', text: 'tok1,alice\n', want: 'error' },
    { name: 'unterminated quote is an error', text: 'tok1,alice,1,"dev\n', want: 'error' },
  ];
  for (const [i, row] of rows.entries()) {
    await t.test(row.name, async () => {
      const path = join(dir, `tokens-${i}.csv`);
      await writeFile(path, row.text);
      if (row.want === 'error') {
        await assert.rejects(loadTokenFile(path), (err: unknown) => err instanceof TokenFileError && err.path === path);
      } else {
        assert.deepEqual([...(await loadTokenFile(path))], row.want);
      }
    });
  }
});
