// Generated names and UIDs for objects created by the API server.
//
// generateName follows apimachinery's SimpleNameGenerator: the prefix is cut
// to 58 characters so that prefix + 5 random characters fits the 63-character
// DNS label limit, and the random characters come from an alphabet without
// vowels and look-alikes (so generated names never spell words or confuse
// 0/O, 1/l). The API server retries on a name collision; this module only
// produces candidates.

import { randomInt, randomUUID } from 'node:crypto';

/** The characters apimachinery's util/rand uses for generated names. */
export const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export const MAX_NAME_LENGTH = 63;
export const RANDOM_LENGTH = 5;
export const MAX_GENERATED_NAME_LENGTH = MAX_NAME_LENGTH - RANDOM_LENGTH;

/** `n` random characters from NAME_ALPHABET (cryptographic randomness, uniform). */
export function randomString(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += NAME_ALPHABET[randomInt(NAME_ALPHABET.length)];
  return out;
}

/** prefix (cut to 58 characters) + 5 random characters. */
export function generateName(prefix: string): string {
  const base = prefix.length > MAX_GENERATED_NAME_LENGTH ? prefix.slice(0, MAX_GENERATED_NAME_LENGTH) : prefix;
  return `${base}${randomString(RANDOM_LENGTH)}`;
}

/** A new object UID (RFC 4122 version 4, as the API server assigns). */
export function newUid(): string {
  return randomUUID();
}
