// Content negotiation: reading and decoding request bodies (JSON, YAML, the
// patch media types) and deciding how to answer (plain JSON or a Table).

import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import {
  newBadRequest,
  newRequestEntityTooLarge,
  newUnsupportedMediaType,
  StatusError,
} from '../apimachinery/index.ts';
import {
  decodeKubernetesProtobuf,
  PROTOBUF_CONTENT_TYPE,
  ProtobufDecodeError,
  UnsupportedProtobufKindError,
} from '../apimachinery/protobuf/index.ts';

/** kube-apiserver's default limit for a request body (--max-request-body-bytes). */
export const DEFAULT_MAX_REQUEST_BYTES = 3 * 1024 * 1024;

export interface MediaType {
  type: string;
  params: Record<string, string>;
}

export function parseMediaType(value: string): MediaType {
  const [type, ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"|"$/g, '');
  }
  return { type: type.trim().toLowerCase(), params };
}

/** The media types of an Accept header, in the client's order. */
export function parseAccept(header: string | undefined): MediaType[] {
  if (header === undefined || header.trim() === '') return [];
  return header.split(',').map(parseMediaType);
}

/** True when the client asked for a meta.k8s.io Table (kubectl get). */
export function wantsTable(accept: MediaType[]): boolean {
  for (const m of accept) {
    if (m.params.as === 'Table' && (m.params.g === 'meta.k8s.io' || m.params.g === undefined)) return true;
    if (m.type === 'application/json' && m.params.as === undefined) return false;
  }
  return false;
}

/** Reads the whole body, refusing more than `limit` bytes with 413. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    throw newRequestEntityTooLarge(`Request entity too large: limit is ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      req.resume();
      throw newRequestEntityTooLarge(`Request entity too large: limit is ${limit}`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export type BodyFormat = 'json' | 'yaml' | 'protobuf';

export const OBJECT_MEDIA_TYPES = ['application/json', 'application/yaml', PROTOBUF_CONTENT_TYPE];

/** The format of an object body (POST/PUT), or 415. */
export function objectBodyFormat(contentType: string | undefined): BodyFormat {
  const type = parseMediaType(contentType ?? 'application/json').type;
  if (type === 'application/json' || type === '' || type === '*/*') return 'json';
  if (type === 'application/yaml' || type === 'application/x-yaml' || type === 'text/yaml') return 'yaml';
  // kubectl's imperative generators (`kubectl create namespace|configmap|...`) send protobuf.
  if (type === PROTOBUF_CONTENT_TYPE) return 'protobuf';
  throw newUnsupportedMediaType([...OBJECT_MEDIA_TYPES]);
}

/**
 * Decodes a body into a JSON value. JSON errors answer 400 with the decoder's
 * message, as the apiserver does for malformed input.
 */
export function decodeBody(body: Buffer, format: BodyFormat, what: string): unknown {
  if (format === 'protobuf') {
    try {
      return decodeKubernetesProtobuf(body).object;
    } catch (err) {
      if (err instanceof UnsupportedProtobufKindError) throw newUnsupportedMediaType(['application/json', 'application/yaml']);
      if (err instanceof ProtobufDecodeError) throw newBadRequest(`${what}: ${err.message}`);
      throw err;
    }
  }
  const text = body.toString('utf8');
  if (text.trim() === '') throw newBadRequest(`${what}: the body of the request is empty`);
  if (format === 'json') {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new StatusError(400, 'BadRequest', `${what}: ${(err as Error).message}`);
    }
  }
  try {
    return parseYaml(text, { strict: true, uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    throw new StatusError(400, 'BadRequest', `${what}: error converting YAML to JSON: ${(err as Error).message}`);
  }
}
