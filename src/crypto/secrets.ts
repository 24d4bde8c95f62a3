import { createHash, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { formatId, nextBase62Chars, type IdKind } from '../domain/ids.js';

type OneShotHash = (algorithm: string, data: string, encoding: 'base64url') => string;
// crypto.hash (Node ≥ 20.12) skips the Hash object; fall back where it is missing.
const oneShot = (nodeCrypto as unknown as { hash?: OneShotHash }).hash;

/**
 * SHA-256 of a secret, base64url. API keys carry ≥128 random bits, so a fast unsalted hash is
 * the right tool (a slow KDF protects low-entropy passwords, not random keys): the store only
 * ever sees this digest, and lookups are by digest, so no secret is compared byte by byte.
 *
 * @example
 * hashSecret('kg_4Fq0ZbW9mT2c8VnXr1sLpE6Xa9Qb') // "q3m…" (43 chars)
 */
export const hashSecret: (secret: string) => string = oneShot
  ? (secret) => oneShot('sha256', secret, 'base64url')
  : (secret) => createHash('sha256').update(secret).digest('base64url');

/** Cryptographically random bytes. */
export function random(size: number): Uint8Array {
  return randomBytes(size);
}

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafeSlow(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * `size` cryptographically random bytes (at most 4096), base64url: a secret's random part.
 * Drawn from a pool one `randomFillSync` refills every 4 KiB, as Node's randomUUID does: a
 * crypto job per secret cost microseconds on every refresh. Each byte is handed out once; the
 * pool never leaves this module.
 *
 * @example
 * `kgrt_${randomBase64url(32)}` // 43 characters after the prefix
 */
export function randomBase64url(size: number): string {
  // A size that is not a whole number of bytes within the pool would hand out nothing, or bytes
  // already handed out: refused, whoever the caller.
  if (!Number.isInteger(size) || size < 1 || size > POOL_SIZE) throw new RangeError(`randomBase64url takes 1 to ${POOL_SIZE} bytes, not ${size}`);
  if (poolOffset + size > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const value = pool.toString('base64url', poolOffset, poolOffset + size);
  poolOffset += size;
  return value;
}

let lastEventId = '';

/**
 * A new typed, time-sortable id such as `key_0192f3a1b2c3…`. Audit event ids minted in the same
 * millisecond by this process follow each other (the last one's random part plus one), so two
 * changes made one after the other list in that order (a key's creation before its revocation).
 * Other ids stay wholly random after the time: some of them (interactions) must not be guessable
 * from a neighbour.
 */
export function newId(kind: IdKind, now: number = Date.now()): string {
  if (kind !== 'event') return formatId(kind, now, randomBytes(16));
  const time = formatId(kind, now, new Uint8Array(0));
  lastEventId = lastEventId.startsWith(time) ? time + nextBase62Chars(lastEventId.slice(time.length)) : formatId(kind, now, randomBytes(16));
  return lastEventId;
}

const REQUEST_PREFIX = formatId('request', 0, randomBytes(16)).slice(-16, -8);
let requestCounter = 0;
/** The id's head for the current millisecond (`req_`, the time, the prefix), made once per millisecond. */
let requestHeadAt = -1;
let requestHead = '';

/**
 * A request id: unique and time-sortable, but not secret, so it needs no fresh randomness (which
 * costs microseconds on every request): a random per-process prefix and a counter. The head is
 * reused within a millisecond, so an id costs one short hex string, not four.
 */
export function newRequestId(): string {
  requestCounter = (requestCounter + 1) % 0xffffffff;
  const now = Date.now();
  if (now !== requestHeadAt) {
    requestHeadAt = now;
    requestHead = `req_${now.toString(16).padStart(12, '0')}${REQUEST_PREFIX}`;
  }
  const counter = requestCounter.toString(16);
  return requestHead + (counter.length === 8 ? counter : '0000000'.slice(counter.length - 1) + counter);
}

/** Constant-time string equality; lengths are compared first, which leaks only the length. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
