import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { formatId, type IdKind } from '../domain/ids.js';

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

/** A new typed, time-sortable id such as `key_0192f3a1b2c3…`. */
export function newId(kind: IdKind, now: number = Date.now()): string {
  return formatId(kind, now, randomBytes(16));
}

/** Constant-time string equality; lengths are compared first, which leaks only the length. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
