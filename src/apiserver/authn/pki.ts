// The cluster's certificate authority and the certificates it signs.
//
// volplane serves its API over TLS and authenticates its admin with a client
// certificate, like a kubeadm cluster: one CA (10 years) signs a serving
// certificate for the API (SANs for loopback, localhost and this host) and
// client certificates whose CN is the user and whose O entries are the groups.
// All keys are ECDSA P-256, made by node's WebCrypto.
//
// ensurePki() keeps that material in a directory (ca.crt/ca.key,
// apiserver.crt/.key, admin.crt/.key, apiserver-kubelet-client.crt/.key — the
// API server's identity towards kubelets; keys mode 0600, directory 0700). The CA
// is created once and then only ever loaded, because every kubeconfig handed
// out trusts it; leaf certificates are re-issued on start when they are
// missing, not signed by the CA, close to expiry, do not match their key, or
// (serving) do not cover the names asked for. Files are written key first,
// then certificate, each by rename, so a crash leaves either the old pair or
// a mismatched pair that the next start repairs — never a CA without its key.
// Private keys are never logged.

import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../../base/index.ts';
import type { ServingCertificates } from './types.ts';
import { writeAtomic } from './atomic-write.ts';
import { x509 } from './x509.ts';

/** A certificate and its private key, both PEM (the key is PKCS#8). */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

/** The user the generated admin kubeconfig authenticates as. */
export const ADMIN_USER = 'admin';
/** The admin's groups; `system:masters` is the group Kubernetes treats as all-powerful. */
export const ADMIN_GROUPS: readonly string[] = ['system:masters'];
/** Who the API server is when it calls kubelets (logs, exec): kubeadm's name for that certificate's CN. */
export const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

const CA_VALID_DAYS = 3650;
const LEAF_VALID_DAYS = 365;
/** Leaf certificates closer than this to expiry are re-issued at start. */
const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
/** notBefore is backdated a little so a client whose clock lags does not reject a fresh certificate. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const EC_SIGN: webcrypto.EcdsaParams & webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

/** Thrown when the PKI directory holds material that cannot be used and must not be replaced silently. */
export class PkiError extends Error {
  override readonly name = 'PkiError';
  readonly path: string;
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(`${path}: ${message}`, options);
    this.path = path;
  }
}

export interface CertificateAuthorityOptions {
  commonName?: string;
  validDays?: number;
}

/** Creates a self-signed CA that may sign leaf certificates (not other CAs). */
export async function createCertificateAuthority(options: CertificateAuthorityOptions = {}): Promise<CertificateAndKey> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [options.commonName ?? 'volplane-ca'] }],
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + (options.validDays ?? CA_VALID_DAYS) * DAY_MS),
    keys,
    signingAlgorithm: EC_SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportPrivateKey(keys.privateKey) };
}

export interface ServingCertificateOptions {
  /** DNS names besides the defaults (localhost and this host's name). */
  dnsNames?: readonly string[];
  /** IP addresses besides the defaults (127.0.0.1 and ::1). */
  ips?: readonly string[];
  commonName?: string;
  validDays?: number;
}

/** The names every serving certificate covers: loopback, localhost and this host. */
export function defaultServingNames(): { dnsNames: string[]; ips: string[] } {
  const dnsNames = ['localhost'];
  const host = hostname();
  if (host !== '' && host !== 'localhost') dnsNames.push(host);
  return { dnsNames, ips: ['127.0.0.1', '::1'] };
}

/** The default names plus the given ones, de-duplicated; an IP passed as a name is moved to the IPs. */
export function servingNames(options: Pick<ServingCertificateOptions, 'dnsNames' | 'ips'> = {}): {
  dnsNames: string[];
  ips: string[];
} {
  const defaults = defaultServingNames();
  const dnsNames = new Set(defaults.dnsNames);
  const ips = new Set(defaults.ips);
  for (const name of options.dnsNames ?? []) {
    if (isIP(name) !== 0) ips.add(name);
    else if (name !== '') dnsNames.add(name);
  }
  for (const ip of options.ips ?? []) {
    if (isIP(ip) === 0) throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
    ips.add(ip);
  }
  return { dnsNames: [...dnsNames], ips: [...ips] };
}

/** Issues a TLS server certificate for the API, signed by `ca`. */
export async function issueServingCertificate(
  ca: CertificateAndKey,
  options: ServingCertificateOptions = {},
): Promise<CertificateAndKey> {
  const names = servingNames(options);
  return issueLeaf(ca, {
    subject: [{ CN: [options.commonName ?? 'volplane-apiserver'] }],
    usage: x509.ExtendedKeyUsage.serverAuth,
    validDays: options.validDays ?? LEAF_VALID_DAYS,
    altNames: [
      ...names.dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ...names.ips.map((value) => ({ type: 'ip' as const, value })),
    ],
  });
}

export interface ClientCertificateOptions {
  /** Becomes the certificate's CN: the user name the API server sees. */
  user: string;
  /** Each becomes an O entry: the user's groups. */
  groups?: readonly string[];
  validDays?: number;
}

/** Issues a TLS client certificate for `user`, signed by `ca`. */
export async function issueClientCertificate(
  ca: CertificateAndKey,
  options: ClientCertificateOptions,
): Promise<CertificateAndKey> {
  if (options.user === '') throw new TypeError('a client certificate needs a user name');
  const subject: Record<string, string[]>[] = [];
  // One RDN per group, as kubeadm writes them; the CN goes last, as in "O=…, CN=…".
  for (const group of options.groups ?? []) subject.push({ O: [group] });
  subject.push({ CN: [options.user] });
  return issueLeaf(ca, {
    subject,
    usage: x509.ExtendedKeyUsage.clientAuth,
    validDays: options.validDays ?? LEAF_VALID_DAYS,
  });
}

interface LeafRequest {
  subject: Record<string, string[]>[];
  usage: string;
  validDays: number;
  altNames?: { type: 'dns' | 'ip'; value: string }[];
}

async function issueLeaf(ca: CertificateAndKey, request: LeafRequest): Promise<CertificateAndKey> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caPrivateKey = await importPrivateKey(ca.key);
  const caPublicKey = await caCert.publicKey.export(EC_SIGN, ['verify']);
  const keys = await generateKeyPair();
  const now = Date.now();
  const notAfter = Math.min(now + request.validDays * DAY_MS, caCert.notAfter.getTime());
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([request.usage]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caPublicKey),
  ];
  if (request.altNames !== undefined && request.altNames.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(request.altNames));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: request.subject,
    issuer: caCert.subjectName,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: caPrivateKey,
    signingAlgorithm: EC_SIGN,
    extensions,
  });
  return { cert: cert.toString('pem'), key: await exportPrivateKey(keys.privateKey) };
}

// ---- the on-disk PKI ------------------------------------------------------------------------

export interface Pki {
  /** The directory the files live in. */
  readonly dir: string;
  readonly ca: CertificateAndKey;
  /** The API's serving certificate. */
  readonly apiserver: CertificateAndKey;
  /** The admin's client certificate (user ADMIN_USER, groups ADMIN_GROUPS). */
  readonly admin: CertificateAndKey;
  /** The API server's client certificate towards kubelets (user KUBELET_CLIENT_USER). */
  readonly apiserverKubeletClient: CertificateAndKey;
  /** What the API server listens with. */
  readonly servingCertificates: ServingCertificates;
}

export interface EnsurePkiOptions extends Pick<ServingCertificateOptions, 'dnsNames' | 'ips'> {
  logger?: Logger;
}

/** File names inside the PKI directory. */
export const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  apiserverCert: 'apiserver.crt',
  apiserverKey: 'apiserver.key',
  adminCert: 'admin.crt',
  adminKey: 'admin.key',
  apiserverKubeletClientCert: 'apiserver-kubelet-client.crt',
  apiserverKubeletClientKey: 'apiserver-kubelet-client.key',
} as const;

/**
 * Loads the PKI from `dir` (normally `<dataDir>/pki`), creating whatever is missing. The CA
 * is created only when `ca.crt` does not exist; a CA certificate without its key, or with a
 * key that does not match, is a PkiError (replacing it would invalidate every kubeconfig).
 * Leaf certificates are re-issued when unusable (see the file comment).
 */
export async function ensurePki(dir: string, options: EnsurePkiOptions = {}): Promise<Pki> {
  const log = options.logger?.child({ component: 'pki' });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);

  const ca = await ensureCa(dir, log);
  const names = servingNames(options);

  const apiserver = await ensureLeaf(dir, PKI_FILES.apiserverCert, PKI_FILES.apiserverKey, ca, log, {
    check: (cert) => {
      const missing = [
        ...names.dnsNames.filter((n) => cert.checkHost(n, { subject: 'never', wildcards: false }) === undefined),
        ...names.ips.filter((ip) => cert.checkIP(ip) === undefined),
      ];
      return missing.length === 0 ? undefined : `does not cover ${missing.join(', ')}`;
    },
    issue: () => issueServingCertificate(ca, names),
  });

  const admin = await ensureLeaf(dir, PKI_FILES.adminCert, PKI_FILES.adminKey, ca, log, {
    check: () => undefined,
    issue: () => issueClientCertificate(ca, { user: ADMIN_USER, groups: ADMIN_GROUPS }),
  });

  const apiserverKubeletClient = await ensureLeaf(
    dir,
    PKI_FILES.apiserverKubeletClientCert,
    PKI_FILES.apiserverKubeletClientKey,
    ca,
    log,
    {
      check: (cert) => (cert.subject.split('\n').includes(`CN=${KUBELET_CLIENT_USER}`) ? undefined : `not issued to ${KUBELET_CLIENT_USER}`),
      issue: () => issueClientCertificate(ca, { user: KUBELET_CLIENT_USER }),
    },
  );

  return {
    dir,
    ca,
    apiserver,
    admin,
    apiserverKubeletClient,
    servingCertificates: { caCert: ca.cert, servingCert: apiserver.cert, servingKey: apiserver.key },
  };
}

async function ensureCa(dir: string, log: Logger | undefined): Promise<CertificateAndKey> {
  const certPath = join(dir, PKI_FILES.caCert);
  const keyPath = join(dir, PKI_FILES.caKey);
  const cert = await readOptional(certPath);
  if (cert === undefined) {
    const ca = await createCertificateAuthority();
    await writeAtomic(keyPath, ca.key, 0o600);
    await writeAtomic(certPath, ca.cert, 0o644);
    log?.info({ path: certPath }, 'created a new cluster CA');
    return ca;
  }
  const key = await readOptional(keyPath);
  if (key === undefined) {
    throw new PkiError(
      keyPath,
      `missing, but ${PKI_FILES.caCert} exists: restore the key, or delete the whole directory to start over with a new CA (kubeconfigs issued so far will stop working)`,
    );
  }
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch (err) {
    throw new PkiError(certPath, 'is not a PEM certificate', { cause: err });
  }
  if (!keyMatches(parsed, key)) throw new PkiError(keyPath, `does not belong to ${PKI_FILES.caCert}`);
  if (!parsed.ca) throw new PkiError(certPath, 'is not a CA certificate');
  if (Date.parse(parsed.validTo) <= Date.now()) {
    throw new PkiError(certPath, `expired on ${parsed.validTo}; delete the directory to create a new CA`);
  }
  return { cert, key };
}

interface LeafPolicy {
  /** Why `cert` cannot be kept (beyond the common checks), or undefined when it is fine. */
  check(cert: X509Certificate): string | undefined;
  issue(): Promise<CertificateAndKey>;
}

async function ensureLeaf(
  dir: string,
  certFile: string,
  keyFile: string,
  ca: CertificateAndKey,
  log: Logger | undefined,
  policy: LeafPolicy,
): Promise<CertificateAndKey> {
  const certPath = join(dir, certFile);
  const keyPath = join(dir, keyFile);
  const [cert, key] = await Promise.all([readOptional(certPath), readOptional(keyPath)]);
  const reason = cert === undefined || key === undefined ? 'missing' : leafProblem(cert, key, ca, policy);
  if (reason === undefined) return { cert: cert!, key: key! };
  const issued = await policy.issue();
  await writeAtomic(keyPath, issued.key, 0o600);
  await writeAtomic(certPath, issued.cert, 0o644);
  log?.info({ path: certPath, reason }, 'issued certificate');
  return issued;
}

function leafProblem(cert: string, key: string, ca: CertificateAndKey, policy: LeafPolicy): string | undefined {
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch {
    return 'not a PEM certificate';
  }
  const caCert = new X509Certificate(ca.cert);
  if (!parsed.checkIssued(caCert) || !parsed.verify(caCert.publicKey)) return 'not signed by the cluster CA';
  if (!keyMatches(parsed, key)) return 'key does not match';
  if (Date.parse(parsed.validTo) - Date.now() < RENEW_BEFORE_DAYS * DAY_MS) return `expires ${parsed.validTo}`;
  return policy.check(parsed);
}

function keyMatches(cert: X509Certificate, keyPem: string): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

// ---- helpers --------------------------------------------------------------------------------

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function exportPrivateKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importPrivateKey(pem: string): Promise<webcrypto.CryptoKey> {
  // Accepts PKCS#8 and the "EC PRIVATE KEY" form other tools write; node converts.
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, EC_KEY, false, ['sign']);
}

/** A positive 128-bit serial, as hex (the top bit cleared so DER does not read it as negative). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
