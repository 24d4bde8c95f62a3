import type { IpAllowlist } from '../ip-allowlist.js';
import { satisfies, type ScopeMatch } from '../scopes.js';
import type { VerificationCode } from '../verification.js';
import type { ApiKey } from './key.js';

/** What verify knows about a key once it has found it (from the cache or the store). */
export interface KeyFacts {
  key: ApiKey;
  apiIdentifier: string;
  /** When the presented secret stops working after a roll; null for the current secret. */
  secretRetiredAt: number | null;
  /** The key's scopes with the catalog's implications applied. */
  heldScopes: ReadonlySet<string>;
  allowlist: IpAllowlist | null;
}

export interface KeyRequirement {
  api: string;
  scopes: readonly string[];
  match: ScopeMatch;
  ip: string | undefined;
}

/**
 * The stateless checks, in a fixed order: lifecycle first (revoked, expired, disabled), then
 * where the key may be used (audience, IP), then what it may do (scopes). Rate limits and
 * credits need shared state and are checked by the verify service after this passes.
 */
export function checkKey(facts: KeyFacts, required: KeyRequirement, now: number): VerificationCode {
  const { key } = facts;
  if (key.revokedAt !== null && key.revokedAt <= now) return 'REVOKED';
  if (facts.secretRetiredAt !== null && facts.secretRetiredAt <= now) return 'REVOKED';
  if (key.expiresAt !== null && key.expiresAt <= now) return 'EXPIRED';
  if (!key.enabled) return 'DISABLED';
  if (facts.apiIdentifier !== required.api) return 'WRONG_AUDIENCE';
  if (facts.allowlist !== null && (required.ip === undefined || !facts.allowlist.allows(required.ip))) {
    return 'IP_NOT_ALLOWED';
  }
  if (!satisfies(facts.heldScopes, required.scopes, required.match)) return 'INSUFFICIENT_SCOPE';
  return 'VALID';
}
