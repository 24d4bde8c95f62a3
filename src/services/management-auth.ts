import { hashSecret, safeEqual } from '../crypto/secrets.js';
import { checkKey } from '../domain/keys/check-key.js';
import { checkKeyShape } from '../domain/keys/format.js';
import { MANAGEMENT_API, SYSTEM_TENANT_SLUG } from '../domain/management.js';
import type { ServiceContextWith } from './context.js';

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
  private readonly seededHash: string | null;

  /** `seededRootKey` is KEYGATE_ROOT_KEY: operator-chosen, so the one bearer without the key format. */
  constructor(
    private readonly ctx: ServiceContextWith<never>,
    options: { seededRootKey?: string | undefined } = {},
  ) {
    this.seededHash = options.seededRootKey === undefined ? null : hashSecret(options.seededRootKey);
  }

  /**
   * `ip` is the caller's address, checked against the allowlists of an API key's chain. A
   * sub-key authenticates only while its effective state (`effectiveKey`) is usable.
   */
  async authenticate(bearer: string, ip?: string): Promise<Principal | null> {
    if (bearer.length === 0 || bearer.length > MAX_BEARER_LENGTH) return null;
    const hash = hashSecret(bearer);
    // Shape and checksum first: an invented bearer costs no lookup and takes no cache space.
    if (checkKeyShape(bearer) === 0 && (this.seededHash === null || !safeEqual(hash, this.seededHash))) return null;
    const now = this.ctx.clock();
    const facts = await this.ctx.lookup.find(hash, now);
    if (facts === null) return null;
    const code = checkKey(facts, { api: facts.apiIdentifier, scopes: [], match: 'all', ip }, now);
    if (code !== 'VALID') return null;
    if (facts.tenantSlug === SYSTEM_TENANT_SLUG && facts.apiIdentifier === MANAGEMENT_API) {
      return { kind: 'root', keyId: facts.key.id, scopes: facts.effective.heldScopes, tenant: facts.key.consumer };
    }
    return { kind: 'key', keyId: facts.key.id, tenant: facts.tenantSlug };
  }
}
