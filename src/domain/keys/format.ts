/**
 * API key layout (documented in docs/api-keys.md):
 *
 *     kg_4Fq0ZbW9mT2c8VnXr1sLpE   6Xa9Qb
 *     └┬┘└──────────┬──────────┘  └──┬─┘
 *   prefix   22 random base62 chars   checksum: CRC32 of "prefix_random", 6 base62 chars
 *
 * - prefix: 1–16 chars `[a-z][a-z0-9]*`, per API (default `kg`); it never contains `_`, so the
 *   first `_` splits prefix from body.
 * - random: 22 chars drawn uniformly from base62 by rejection sampling, ≈ 131 bits.
 * - checksum: keyed by no secret (as in GitHub's token format), so verify rejects a mistyped or
 *   invented string without touching the store, and any secret scanner can recognise a leaked key.
 */
export const KEY_RANDOM_LENGTH = 22;
export const KEY_CHECKSUM_LENGTH = 6;
export const KEY_PREFIX_PATTERN = /^[a-z][a-z0-9]{0,15}$/;
/** Longest string that can be a key: anything longer is MALFORMED before any other work. */
export const MAX_KEY_LENGTH = 16 + 1 + KEY_RANDOM_LENGTH + KEY_CHECKSUM_LENGTH;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 (IEEE) of the string's char codes; keys are ASCII, so char codes are bytes. */
function crc32(text: string, end: number): number {
  let crc = -1;
  for (let i = 0; i < end; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

function checksumOf(text: string, end: number): string {
  let n = crc32(text, end);
  let out = '';
  for (let i = 0; i < KEY_CHECKSUM_LENGTH; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/**
 * Builds a new key string. `random` must return cryptographically random bytes.
 *
 * @example
 * generateKey('kg', (n) => crypto.randomBytes(n)) // "kg_4Fq0ZbW9mT2c8VnXr1sLpE6Xa9Qb"
 */
export function generateKey(prefix: string, random: (size: number) => Uint8Array): string {
  if (!KEY_PREFIX_PATTERN.test(prefix)) throw new TypeError(`invalid key prefix "${prefix}"`);
  let body = '';
  while (body.length < KEY_RANDOM_LENGTH) {
    for (const byte of random(32)) {
      // 248 = 4 × 62: bytes at or above it would bias the first characters.
      if (byte < 248 && body.length < KEY_RANDOM_LENGTH) body += BASE62[byte % 62];
    }
  }
  const head = `${prefix}_${body}`;
  return head + checksumOf(head, head.length);
}

/** Value of a base62 digit, or -1. */
function base62Value(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 90) return code - 55;
  if (code >= 97 && code <= 122) return code - 61;
  return -1;
}

/**
 * Checks shape and checksum without any I/O, in one pass over the string (this runs on every
 * verify, so it builds no strings and compares the checksum as a number). Returns the prefix
 * length, or 0 when the string cannot be a Keygate key.
 */
export function checkKeyShape(candidate: string): number {
  const length = candidate.length;
  if (length > MAX_KEY_LENGTH) return 0;
  const sep = length - KEY_RANDOM_LENGTH - KEY_CHECKSUM_LENGTH - 1;
  if (sep < 1 || candidate.charCodeAt(sep) !== 95) return 0;
  let crc = -1;
  for (let i = 0; i < sep; i++) {
    const code = candidate.charCodeAt(i);
    const lower = code >= 97 && code <= 122;
    if (!(lower || (i > 0 && code >= 48 && code <= 57))) return 0;
    crc = CRC_TABLE[(crc ^ code) & 0xff]! ^ (crc >>> 8);
  }
  crc = CRC_TABLE[(crc ^ 95) & 0xff]! ^ (crc >>> 8);
  const end = length - KEY_CHECKSUM_LENGTH;
  for (let i = sep + 1; i < end; i++) {
    const code = candidate.charCodeAt(i);
    if (base62Value(code) < 0) return 0;
    crc = CRC_TABLE[(crc ^ code) & 0xff]! ^ (crc >>> 8);
  }
  let checksum = 0;
  for (let i = end; i < length; i++) {
    const digit = base62Value(candidate.charCodeAt(i));
    if (digit < 0) return 0;
    checksum = checksum * 62 + digit;
  }
  return checksum === (crc ^ -1) >>> 0 ? sep : 0;
}

/**
 * Checks shape and checksum without any I/O. Returns the prefix, or null when the string
 * cannot be a Keygate key.
 *
 * @example
 * parseKey('kg_u96tTUX5ETcKkTyfSoCesc1Uy8W5') // "kg"
 */
export function parseKey(candidate: string): string | null {
  const sep = checkKeyShape(candidate);
  return sep === 0 ? null : candidate.slice(0, sep);
}

/** The part of a key that may be displayed: prefix and the first four random characters. */
export function displayStart(key: string): string {
  const sep = key.indexOf('_');
  return key.slice(0, sep + 5);
}
