import { randomBytes } from 'node:crypto';
import { hashSecret, safeEqual } from '../crypto/secrets.js';
import { checkKey } from '../domain/keys/check-key.js';
import { checkKeyShape } from '../domain/keys/format.js';
import { MANAGEMENT_API, SYSTEM_TENANT_SLUG } from '../domain/management.js';
import type { ServiceContextWith } from './context.js';
import type { CachedKey } from './key-lookup.js';

/** Who called the management API. */
export type Principal =
  /**
   * A root key, or an operator signed in to the console (`operator: true`): `keyId` is then the
   * operator's id, the actor of what they do.
   */
  | { kind: 'root'; keyId: string; scopes: ReadonlySet<string>; tenant: string | null; operator?: true }
  /** An ordinary API key, which may only create sub-keys of itself. */
  | { kind: 'key'; keyId: string; tenant: string };

const MAX_BEARER_LENGTH = 512;
const NO_SCOPES: readonly string[] = Object.freeze([]);

/** The shape of a delegated bearer (`delegate`): never a key, never stored, never sent over a network. */
const DELEGATED_PREFIX = 'kgdelegated_';
const DELEGATION_TTL_MS = 30_000;

/**
 * Resolves a bearer secret to a principal through the same cached lookup verify uses. Any
 * failure is null: the caller answers a generic 401 and learns nothing about why.
 */
export class ManagementAuth {
  private readonly seededHash: string | null;
  /** The principal of each cached key entry: it goes when the key cache drops the entry. */
  private readonly principals = new WeakMap<CachedKey, Principal>();
  /** Delegated bearers by hash, each good for one request (`delegate`). */
  private readonly delegated = new Map<string, { principal: Principal; expiresAt: number }>();

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
    return this.authenticateNow(bearer, ip);
  }

  /**
   * `authenticate`, answered at once when the bearer's key is in the key cache (every request
   * after the first), and as a promise only when the store must be asked: the management routes'
   * hook then runs without a microtask.
   *
   * The principal is memoized per cached key entry, i.e. per bearer hash (a WeakMap on the entry,
   * never the secret or its prefix): the entry is bounded with the key cache, and dropped from it
   * by every change to the key or an ancestor (revoke, roll, delete, scopes) in this process and,
   * through the invalidation bus, in every other. The checks that depend on the clock or the
   * caller (expiry, a retired secret after a roll, the allowlist) still run on every request.
   */
  authenticateNow(bearer: string, ip?: string): Principal | null | Promise<Principal | null> {
    if (bearer.length === 0 || bearer.length > MAX_BEARER_LENGTH) return null;
    const hash = hashSecret(bearer);
    if (bearer.startsWith(DELEGATED_PREFIX)) return this.redeem(hash);
    const now = this.ctx.clock();
    const facts = this.ctx.lookup.cached(hash, now);
    if (facts !== undefined) return this.admit(facts, ip, now);
    // Only a secret that was issued can be in the cache, so the shape and checksum (or the
    // seeded key) are checked on a miss: an invented bearer costs no lookup and takes no cache space.
    if (checkKeyShape(bearer) === 0 && (this.seededHash === null || !safeEqual(hash, this.seededHash))) return null;
    return this.ctx.lookup.load(hash, now).then((loaded) => this.admit(loaded, ip, now));
  }

  private admit(facts: CachedKey | null, ip: string | undefined, now: number): Principal | null {
    if (facts === null) return null;
    if (checkKey(facts, { api: facts.apiIdentifier, scopes: NO_SCOPES, match: 'all', ip }, now) !== 'VALID') return null;
    let principal = this.principals.get(facts);
    if (principal === undefined) {
      principal = Object.freeze(
        facts.tenantSlug === SYSTEM_TENANT_SLUG && facts.apiIdentifier === MANAGEMENT_API
          ? { kind: 'root' as const, keyId: facts.key.id, scopes: facts.effective.heldScopes, tenant: facts.key.consumer }
          : { kind: 'key' as const, keyId: facts.key.id, tenant: facts.tenantSlug },
      );
      this.principals.set(facts, principal);
    }
    return principal;
  }

  /**
   * A single-use bearer that stands for `principal` in one in-process request: the console
   * calls the management API as the signed-in operator through it (`app.inject`), so every
   * page is authorized, validated and audited by /v1 itself. It lives in this process only,
   * for one request (or DELEGATION_TTL_MS), and is 256 random bits: nobody outside can hold one.
   */
  delegate(principal: Principal): string {
    const now = Date.now();
    if (this.delegated.size > 1000) for (const [hash, entry] of this.delegated) if (entry.expiresAt <= now) this.delegated.delete(hash);
    const bearer = `${DELEGATED_PREFIX}${randomBytes(32).toString('base64url')}`;
    this.delegated.set(hashSecret(bearer), { principal, expiresAt: now + DELEGATION_TTL_MS });
    return bearer;
  }

  /** Ends a delegated bearer that was not used (its request never reached authentication). */
  forget(bearer: string): void {
    this.delegated.delete(hashSecret(bearer));
  }

  private redeem(hash: string): Principal | null {
    const entry = this.delegated.get(hash);
    if (entry === undefined) return null;
    this.delegated.delete(hash);
    return entry.expiresAt > Date.now() ? entry.principal : null;
  }
}
