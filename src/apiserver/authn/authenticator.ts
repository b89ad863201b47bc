// Who sent a request: the API server's authenticator.
//
// Two credentials are accepted, tried in this order, like kube-apiserver's
// union of its x509 and token-file authenticators:
//   1. A TLS client certificate signed by the cluster CA: the user is its CN,
//      the groups its O entries. The server listens with `requestCert: true,
//      rejectUnauthorized: false` so that clients without a certificate (token
//      users) can still connect; node then marks the socket `authorized` only
//      when the presented chain verified against the server's CA list. We
//      require that flag AND check the leaf against `caCert` ourselves (signed
//      by it, usable for client auth), so a server configured with a broader
//      CA list still does not let foreign certificates in. The answer is
//      cached per connection: a keep-alive connection is verified once.
//   2. `Authorization: Bearer <token>` found in a static token map (e.g. from
//      a --token-auth-file CSV). Tokens are compared by SHA-256 digest with
//      timingSafeEqual against every entry, so the time taken says nothing
//      about how close a guess was or which entry matched.
// Anything else is anonymous (undefined → the server answers 401).

import { X509Certificate, createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../base/index.ts';
import type { Authenticator, UserInfo } from './types.ts';

/** The group kube-apiserver adds to every authenticated user. */
export const AUTHENTICATED_GROUP = 'system:authenticated';

const CLIENT_AUTH_USAGE = '1.3.6.1.5.5.7.3.2';
const ANY_USAGE = '2.5.29.37.0';

export interface AuthenticatorOptions {
  /** PEM; one or more CA certificates that client certificates must be issued by. */
  caCert: string;
  /** Bearer token → user. */
  tokens?: ReadonlyMap<string, UserInfo>;
}

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const cas = parseCertificates(options.caCert);
  if (cas.length === 0) throw new TypeError('createAuthenticator: caCert holds no PEM certificate');
  const tokens = [...(options.tokens ?? new Map<string, UserInfo>())].map(([token, user]) => ({
    digest: sha256(token),
    user: copyUser(user),
  }));
  // null = this connection's certificate was looked at and gives no user.
  const byConnection = new WeakMap<object, UserInfo | null>();

  const fromCertificate = (req: IncomingMessage): UserInfo | undefined => {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.authorized !== true || typeof socket.getPeerX509Certificate !== 'function') return undefined;
    let user = byConnection.get(socket);
    if (user === undefined) {
      user = userFromCertificate(socket as TLSSocket, cas) ?? null;
      byConnection.set(socket, user);
    }
    return user === null ? undefined : copyUser(user);
  };

  const fromToken = (req: IncomingMessage): UserInfo | undefined => {
    if (tokens.length === 0) return undefined;
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) return undefined;
    const digest = sha256(token);
    let found: UserInfo | undefined;
    for (const entry of tokens) {
      // No early exit: every entry is compared whatever matched before.
      if (timingSafeEqual(entry.digest, digest)) found = entry.user;
    }
    return found === undefined ? undefined : copyUser(found);
  };

  return {
    authenticate(req) {
      const user = fromCertificate(req) ?? fromToken(req);
      // Like kube-apiserver, every authenticated user is also in system:authenticated.
      if (user !== undefined && !user.groups.includes(AUTHENTICATED_GROUP)) user.groups.push(AUTHENTICATED_GROUP);
      return user;
    },
  };
}

function userFromCertificate(socket: TLSSocket, cas: readonly X509Certificate[]): UserInfo | undefined {
  const leaf = socket.getPeerX509Certificate();
  if (leaf === undefined) return undefined;
  const issuedByUs = cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  if (!issuedByUs) return undefined;
  // No extended key usage means any usage; otherwise it must allow client authentication.
  const usages = leaf.keyUsage;
  if (usages !== undefined && !usages.includes(CLIENT_AUTH_USAGE) && !usages.includes(ANY_USAGE)) return undefined;
  const subject = socket.getPeerCertificate().subject as unknown as Record<string, string | string[] | undefined>;
  const name = firstValue(subject.CN);
  if (name === undefined || name === '') return undefined;
  return { name, groups: allValues(subject.O) };
}

/** The token of an `Authorization: Bearer <token>` header ("bearer" in any case), or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const parts = header.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0]!.toLowerCase() !== 'bearer' || parts[1] === '') return undefined;
  return parts[1];
}

// ---- token file -----------------------------------------------------------------------------

/** Thrown for a token file that cannot be read as `token,user,uid[,"group1,group2"]` lines. */
export class TokenFileError extends Error {
  override readonly name = 'TokenFileError';
  readonly path: string;
  readonly line: number;
  constructor(path: string, line: number, message: string) {
    super(`token file ${path}, line ${line}: ${message}`);
    this.path = path;
    this.line = line;
  }
}

/**
 * Reads a token file in kube-apiserver's --token-auth-file format: CSV records of
 * `token,user,uid` and an optional fourth column of comma-separated groups (quoted when it
 * holds several). Records with an empty token are skipped; a repeated token keeps its last
 * record. Both are logged (without the token) when a logger is given.
 */
export async function loadTokenFile(path: string, logger?: Logger): Promise<Map<string, UserInfo>> {
  const text = await readFile(path, 'utf8');
  const tokens = new Map<string, UserInfo>();
  for (const { line, fields } of parseCsv(text, path)) {
    if (fields.length < 3) {
      throw new TokenFileError(path, line, `needs at least 3 columns (token, user name, user uid), found ${fields.length}`);
    }
    const [token, name, uid, groups] = fields as [string, string, string, string | undefined];
    if (token === '') {
      logger?.warn({ path, line }, 'token file: record with an empty token skipped');
      continue;
    }
    if (tokens.has(token)) logger?.warn({ path, line }, 'token file: duplicate token, the later record wins');
    const user: UserInfo = { name, uid, groups: groups === undefined ? [] : groups.split(',').filter((g) => g !== '') };
    tokens.set(token, user);
  }
  return tokens;
}

/**
 * RFC 4180 records: fields separated by commas, optionally in double quotes (a quote inside
 * doubled), records ending in LF or CRLF. Blank lines are skipped, as Go's csv reader does.
 */
function* parseCsv(text: string, path: string): Generator<{ line: number; fields: string[] }> {
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const startLine = line;
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1;
      line++;
      continue;
    }
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw new TokenFileError(path, startLine, 'unterminated quoted field');
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (i < text.length && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          throw new TokenFileError(path, line, 'unexpected character after a quoted field');
        }
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"') throw new TokenFileError(path, line, 'bare " in an unquoted field');
          field += text[i];
          i++;
        }
      }
      fields.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') {
      i++;
      line++;
    }
    yield { line: startLine, fields };
  }
}

// ---- helpers --------------------------------------------------------------------------------

function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function copyUser(user: UserInfo): UserInfo {
  const copy: UserInfo = { name: user.name, groups: [...user.groups] };
  if (user.uid !== undefined) copy.uid = user.uid;
  return copy;
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function allValues(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...value] : [value];
}
