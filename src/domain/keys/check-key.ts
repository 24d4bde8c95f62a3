import { satisfies, satisfiesAnyOf, type ScopeMatch } from '../scopes.js';
import type { VerificationCode } from '../verification.js';
import type { EffectiveKey } from './effective-key.js';
import type { ApiKey } from './key.js';

/** What verify knows about a key once it has found it (from the cache or the store). */
export interface KeyFacts {
  key: ApiKey;
  apiIdentifier: string;
  /** When the presented secret stops working after a roll; null for the current secret. */
  secretRetiredAt: number | null;
  /** What the key may do over its chain (`effectiveKey`): every check reads this, not `key`. */
  effective: EffectiveKey;
}

export interface KeyRequirement {
  api: string;
  scopes: readonly string[];
  match: ScopeMatch;
  /** An OpenAPI requirement (ORs of ANDs, the gateway's): when set, it is checked instead of `scopes`/`match`. */
  anyOf?: readonly (readonly string[])[] | undefined;
  ip: string | undefined;
}

/**
 * The stateless checks, in a fixed order: lifecycle first (revoked, expired, disabled), then
 * where the key may be used (audience, IP), then what it may do (scopes). Rate limits and
 * credits need shared state and are checked by the verify service after this passes. A
 * sub-key is checked over its whole chain: a revoked, expired or disabled ancestor, or an
 * ancestor's allowlist, binds it.
 */
export function checkKey(facts: KeyFacts, required: KeyRequirement, now: number): VerificationCode {
  const { effective } = facts;
  if (effective.revokedAt !== null && effective.revokedAt <= now) return 'REVOKED';
  if (facts.secretRetiredAt !== null && facts.secretRetiredAt <= now) return 'REVOKED';
  if (effective.expiresAt !== null && effective.expiresAt <= now) return 'EXPIRED';
  if (!effective.enabled) return 'DISABLED';
  if (facts.apiIdentifier !== required.api) return 'WRONG_AUDIENCE';
  if (effective.allowlist !== null && (required.ip === undefined || !effective.allowlist.allows(required.ip))) {
    return 'IP_NOT_ALLOWED';
  }
  if (required.anyOf !== undefined ? !satisfiesAnyOf(effective.heldScopes, required.anyOf) : !satisfies(effective.heldScopes, required.scopes, required.match)) {
    return 'INSUFFICIENT_SCOPE';
  }
  return 'VALID';
}
