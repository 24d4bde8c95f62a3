import { createHash } from 'node:crypto';
import { safeEqual } from './secrets.js';

/**
 * Whether the verifier hashes to the challenge (RFC 7636 §4.6, S256), compared in constant time.
 *
 * @example
 * // RFC 7636 Appendix B
 * verifiesChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM') // true
 */
export function verifiesChallenge(verifier: string, challenge: string): boolean {
  return safeEqual(createHash('sha256').update(verifier, 'ascii').digest('base64url'), challenge);
}
