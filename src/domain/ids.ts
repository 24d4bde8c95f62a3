/**
 * Typed, time-sortable identifiers: `{prefix}_{12 hex digits of ms time}{16 base62 chars}`.
 * Sorting ids as strings sorts by creation time, which is what cursor pagination relies on.
 */
export const ID_PREFIXES = {
  tenant: 'ten',
  api: 'api',
  key: 'key',
  event: 'evt',
  request: 'req',
  client: 'cli',
  signingKey: 'sk',
  token: 'tok',
  revocation: 'rev',
  hs256Secret: 'hs',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Encodes bytes as base62 characters, one character per byte (modulo bias is irrelevant for ids). */
export function base62Chars(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += BASE62[b % 62];
  return out;
}

/**
 * @example
 * formatId('key', Date.now(), crypto.getRandomValues(new Uint8Array(16))) // "key_0192f3..."
 */
export function formatId(kind: IdKind, timeMs: number, random: Uint8Array): string {
  return `${ID_PREFIXES[kind]}_${timeMs.toString(16).padStart(12, '0')}${base62Chars(random)}`;
}
