import type { SigningAlgorithm } from './tokens/jwt.js';

/**
 * A tenant's signing key. Times are ms. Rotation never leaves a verifier without the key it
 * needs: a new key is published `activatesAt - createdAt` before it signs, and a retired key
 * stays published until `publishUntil`, when the last token it signed has expired.
 */
export interface SigningKey {
  kid: string;
  tenantId: string;
  alg: SigningAlgorithm;
  publicJwk: Record<string, unknown>;
  createdAt: number;
  activatesAt: number;
  retiredAt: number | null;
  /** Null while the key may still have live tokens whose end is unknown. */
  publishUntil: number | null;
}

/** The key that signs at `now`: the one activated most recently, not retired. */
export function currentKey<K extends SigningKey>(keys: readonly K[], now: number): K | null {
  let best: K | null = null;
  for (const key of keys) {
    if (key.activatesAt <= now && (key.retiredAt === null || key.retiredAt > now) && (best === null || key.activatesAt > best.activatesAt)) {
      best = key;
    }
  }
  return best;
}

/** The keys a JWKS must list at `now`: upcoming, current, and retired ones still in use. */
export function publishedKeys<K extends SigningKey>(keys: readonly K[], now: number): K[] {
  return keys.filter((key) => key.publishUntil === null || key.publishUntil > now);
}
