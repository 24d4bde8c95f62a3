import { hashSecret } from '../crypto/secrets.js';
import { checkKey } from '../domain/keys/check-key.js';
import { MANAGEMENT_API, SYSTEM_TENANT_SLUG } from '../domain/management.js';
import type { ServiceContext } from './context.js';

/** Who called the management API. */
export type Principal =
  | { kind: 'root'; keyId: string; scopes: ReadonlySet<string>; tenant: string | null }
  /** An ordinary API key, which may only create sub-keys of itself. */
  | { kind: 'key'; keyId: string; tenant: string };

const MAX_BEARER_LENGTH = 512;

/**
 * Resolves a bearer secret to a principal through the same cached lookup verify uses. Any
 * failure is null: the caller answers a generic 401 and learns nothing about why.
 */
export class ManagementAuth {
  constructor(private readonly ctx: ServiceContext) {}

  /** `ip` is the caller's address, checked against an API key's allowlist. */
  async authenticate(bearer: string, ip?: string): Promise<Principal | null> {
    if (bearer.length === 0 || bearer.length > MAX_BEARER_LENGTH) return null;
    const now = this.ctx.clock();
    const facts = await this.ctx.lookup.find(hashSecret(bearer), now);
    if (facts === null) return null;
    const code = checkKey(facts, { api: facts.apiIdentifier, scopes: [], match: 'all', ip }, now);
    if (code !== 'VALID') return null;
    if (facts.tenantSlug === SYSTEM_TENANT_SLUG && facts.apiIdentifier === MANAGEMENT_API) {
      return { kind: 'root', keyId: facts.key.id, scopes: facts.heldScopes, tenant: facts.key.consumer };
    }
    return { kind: 'key', keyId: facts.key.id, tenant: facts.tenantSlug };
  }
}
