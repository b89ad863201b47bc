import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ADMIN_GROUPS,
  ADMIN_USER,
  KUBELET_CLIENT_USER,
  PKI_FILES,
  PkiError,
  createCertificateAuthority,
  ensurePki,
  issueClientCertificate,
  issueServingCertificate,
} from './pki.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'volplane-pki-test-'));
  try {
    await fn(join(dir, 'pki'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function signedBy(certPem: string, caPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

test('certificates', async (t) => {
  const ca = await createCertificateAuthority();
  const otherCa = await createCertificateAuthority({ commonName: 'someone-else' });

  const rows: { name: string; run: () => Promise<void> }[] = [
    {
      name: 'the CA is a self-signed CA certificate whose key matches',
      run: async () => {
        const cert = new X509Certificate(ca.cert);
        assert.equal(cert.ca, true);
        assert.ok(cert.checkPrivateKey(createPrivateKey(ca.key)));
        assert.ok(!cert.checkPrivateKey(createPrivateKey(otherCa.key)));
        assert.ok(signedBy(ca.cert, ca.cert));
        assert.match(cert.subject, /CN=volplane-ca/);
        assert.ok(!signedBy(ca.cert, otherCa.cert));
      },
    },
    {
      name: 'the serving certificate verifies against the CA and covers loopback, localhost, the host name and extras',
      run: async () => {
        const serving = await issueServingCertificate(ca, { dnsNames: ['api.example'], ips: ['10.9.8.7'] });
        assert.ok(signedBy(serving.cert, ca.cert));
        assert.ok(!signedBy(serving.cert, otherCa.cert));
        const cert = new X509Certificate(serving.cert);
        assert.equal(cert.ca, false);
        for (const ip of ['127.0.0.1', '::1', '10.9.8.7']) assert.equal(cert.checkIP(ip), ip, `IP SAN ${ip}`);
        for (const dns of ['localhost', hostname(), 'api.example']) {
          assert.equal(cert.checkHost(dns, { subject: 'never' }), dns, `DNS SAN ${dns}`);
        }
        assert.equal(cert.checkHost('elsewhere.example', { subject: 'never' }), undefined);
        assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
      },
    },
    {
      name: 'a client certificate carries the user as CN and the groups as O entries',
      run: async () => {
        const client = await issueClientCertificate(ca, { user: 'alice', groups: ['team-a', 'team-b'] });
        assert.ok(signedBy(client.cert, ca.cert));
        const cert = new X509Certificate(client.cert);
        assert.deepEqual(cert.subject.split('\n').sort(), ['CN=alice', 'O=team-a', 'O=team-b']);
        assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
      },
    },
    {
      name: 'a leaf never outlives its CA',
      run: async () => {
        const shortCa = await createCertificateAuthority({ validDays: 2 });
        const client = await issueClientCertificate(shortCa, { user: 'bob', validDays: 365 });
        assert.ok(Date.parse(new X509Certificate(client.cert).validTo) <= Date.parse(new X509Certificate(shortCa.cert).validTo));
      },
    },
  ];
  for (const row of rows) await t.test(row.name, row.run);
});

test('ensurePki', async (t) => {
  const rows: { name: string; run: (dir: string) => Promise<void> }[] = [
    {
      name: 'first start creates CA, serving and admin material with private keys readable by the owner only',
      run: async (dir) => {
        const pki = await ensurePki(dir);
        assert.equal((await stat(dir)).mode & 0o777, 0o700);
        for (const file of Object.values(PKI_FILES)) {
          const mode = (await stat(join(dir, file))).mode & 0o777;
          assert.equal(mode, file.endsWith('.key') ? 0o600 : 0o644, `mode of ${file}`);
        }
        assert.equal(await readFile(join(dir, PKI_FILES.caCert), 'utf8'), pki.ca.cert);
        assert.ok(signedBy(pki.apiserver.cert, pki.ca.cert));
        assert.ok(signedBy(pki.admin.cert, pki.ca.cert));
        const admin = new X509Certificate(pki.admin.cert);
        assert.deepEqual(admin.subject.split('\n').sort(), [`CN=${ADMIN_USER}`, ...ADMIN_GROUPS.map((g) => `O=${g}`)].sort());
        assert.deepEqual(pki.servingCertificates, {
          caCert: pki.ca.cert,
          servingCert: pki.apiserver.cert,
          servingKey: pki.apiserver.key,
        });
      },
    },
    {
      name: 'the API server gets a client certificate for kubelets, kept across starts and repaired when issued to someone else',
      run: async (dir) => {
        const first = await ensurePki(dir);
        assert.ok(signedBy(first.apiserverKubeletClient.cert, first.ca.cert));
        const cert = new X509Certificate(first.apiserverKubeletClient.cert);
        assert.deepEqual(cert.subject.split('\n'), [`CN=${KUBELET_CLIENT_USER}`]);
        assert.equal(await readFile(join(dir, PKI_FILES.apiserverKubeletClientCert), 'utf8'), first.apiserverKubeletClient.cert);
        assert.deepEqual((await ensurePki(dir)).apiserverKubeletClient, first.apiserverKubeletClient);
        // A certificate for another user in its place is re-issued, not trusted.
        const other = await issueClientCertificate(first.ca, { user: 'someone-else' });
        await writeFile(join(dir, PKI_FILES.apiserverKubeletClientKey), other.key);
        await writeFile(join(dir, PKI_FILES.apiserverKubeletClientCert), other.cert);
        const repaired = await ensurePki(dir);
        assert.deepEqual(new X509Certificate(repaired.apiserverKubeletClient.cert).subject.split('\n'), [`CN=${KUBELET_CLIENT_USER}`]);
      },
    },
    {
      name: 'a later start loads the same CA and certificates',
      run: async (dir) => {
        const first = await ensurePki(dir);
        const second = await ensurePki(dir);
        assert.deepEqual(second.ca, first.ca);
        assert.deepEqual(second.apiserver, first.apiserver);
        assert.deepEqual(second.admin, first.admin);
      },
    },
    {
      name: 'a new serving name re-issues the serving certificate under the same CA',
      run: async (dir) => {
        const first = await ensurePki(dir);
        const second = await ensurePki(dir, { ips: ['192.0.2.10'] });
        assert.deepEqual(second.ca, first.ca);
        assert.deepEqual(second.admin, first.admin);
        assert.notEqual(second.apiserver.cert, first.apiserver.cert);
        assert.equal(new X509Certificate(second.apiserver.cert).checkIP('192.0.2.10'), '192.0.2.10');
        assert.ok(signedBy(second.apiserver.cert, first.ca.cert));
      },
    },
    {
      name: 'a leaf whose key no longer matches is re-issued',
      run: async (dir) => {
        const first = await ensurePki(dir);
        await writeFile(join(dir, PKI_FILES.adminKey), first.apiserver.key);
        const second = await ensurePki(dir);
        assert.notEqual(second.admin.cert, first.admin.cert);
        assert.ok(new X509Certificate(second.admin.cert).checkPrivateKey(createPrivateKey(second.admin.key)));
      },
    },
    {
      name: 'a leaf signed by another CA is re-issued',
      run: async (dir) => {
        const first = await ensurePki(dir);
        const foreign = await issueServingCertificate(await createCertificateAuthority());
        await writeFile(join(dir, PKI_FILES.apiserverCert), foreign.cert);
        await writeFile(join(dir, PKI_FILES.apiserverKey), foreign.key);
        const second = await ensurePki(dir);
        assert.ok(signedBy(second.apiserver.cert, first.ca.cert));
      },
    },
    {
      name: 'a CA certificate without its key is an error, not a silent new CA',
      run: async (dir) => {
        const first = await ensurePki(dir);
        await unlink(join(dir, PKI_FILES.caKey));
        await assert.rejects(ensurePki(dir), (err: unknown) => err instanceof PkiError && err.path === join(dir, PKI_FILES.caKey));
        assert.equal(await readFile(join(dir, PKI_FILES.caCert), 'utf8'), first.ca.cert);
      },
    },
    {
      name: 'a CA key that belongs to another certificate is an error',
      run: async (dir) => {
        await ensurePki(dir);
        await writeFile(join(dir, PKI_FILES.caKey), (await createCertificateAuthority()).key);
        await assert.rejects(ensurePki(dir), PkiError);
      },
    },
  ];
  for (const row of rows) await t.test(row.name, () => withDir(row.run));
});
