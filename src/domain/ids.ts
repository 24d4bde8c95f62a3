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
  user: 'usr',
  grant: 'grt',
  interaction: 'int',
  family: 'fam',
  consumer: 'con',
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

/**
 * The base62 string that sorts right after `chars` (same length; wraps to all zeros after the
 * last one, which 62^16 ids in one millisecond never reach).
 *
 * @example
 * nextBase62Chars('0z') // "10"
 */
export function nextBase62Chars(chars: string): string {
  let i = chars.length - 1;
  while (i >= 0 && chars[i] === 'z') i -= 1;
  if (i < 0) return '0'.repeat(chars.length);
  return chars.slice(0, i) + BASE62[BASE62.indexOf(chars[i]!) + 1] + '0'.repeat(chars.length - i - 1);
}

/**
 * An id that sorts before every id of this kind created at or after `timeMs`. Readers of an
 * id-ordered feed resume from here, a little before the last id they saw, because ids are minted
 * before their rows commit: a row committed late can carry an id below one already read.
 */
export function idFloor(kind: IdKind, timeMs: number): string {
  // '0' is the lowest base62 digit, so this is a well-formed id below every real one of that time.
  return `${ID_PREFIXES[kind]}_${Math.max(0, timeMs).toString(16).padStart(12, '0')}${'0'.repeat(16)}`;
}

/** The creation time encoded in a typed id, or null for another shape. */
export function idTime(id: string): number | null {
  const match = /^[a-z]+_([0-9a-f]{12})/.exec(id);
  return match ? parseInt(match[1]!, 16) : null;
}
