import { KeyCache } from '../cluster/key-cache.js';
import type { InvalidationBus } from '../cluster/cluster.js';
import { compileAllowlist } from '../domain/ip-allowlist.js';
import type { KeyFacts } from '../domain/keys/check-key.js';
import type { Api } from '../domain/keys/key.js';
import { expandScopes } from '../domain/scopes.js';
import type { VerificationResult } from '../domain/verification.js';
import type { Store } from '../store/store.js';

/** What verify and management auth know about a found secret, ready for the hot path. */
export interface CachedKey extends KeyFacts {
  api: Api;
  tenantSlug: string;
  /** Frozen copies handed out in results, so callers cannot alter the cache. */
  scopeList: readonly string[];
  expiresAtIso: string | null;
  /** The VALID answer for a key without rate limits or credits, built at its first use. */
  validResult?: Readonly<VerificationResult>;
}

/**
 * Secret hash → key facts, through a bounded cache. Every change made through this process
 * calls `invalidate` before it returns, and publishes the ids on the cluster bus so other
 * instances drop them too.
 */
export class KeyLookup {
  private readonly cache: KeyCache<CachedKey | null>;
  /** Bumped on every invalidation: a load that raced with one must not fill the cache. */
  private generation = 0;

  constructor(
    private readonly store: Store,
    private readonly bus: InvalidationBus,
    options: { maxEntries: number; ttlMs: number },
  ) {
    this.cache = new KeyCache({ maxEntries: options.maxEntries, ttlMs: options.ttlMs });
    bus.subscribe((keyIds) => {
      this.generation += 1;
      this.cache.invalidateKeys(keyIds);
    });
  }

  /** Cached facts, or undefined when the store must be asked. */
  cached(hash: string, now: number): CachedKey | null | undefined {
    return this.cache.get(hash, now)?.value;
  }

  async load(hash: string, now: number): Promise<CachedKey | null> {
    const generation = this.generation;
    const found = await this.store.findKeyBySecret(hash);
    const cacheable = generation === this.generation;
    if (found === null) {
      if (cacheable) this.cache.set(hash, null, null, now);
      return null;
    }
    const { key, api } = found;
    const facts: CachedKey = {
      key,
      api,
      apiIdentifier: api.identifier,
      tenantSlug: found.tenantSlug,
      secretRetiredAt: found.secretRetiredAt,
      heldScopes: expandScopes(key.scopes, api.scopes),
      allowlist: key.ipAllowlist === null ? null : compileAllowlist(key.ipAllowlist),
      scopeList: Object.freeze([...key.scopes]),
      expiresAtIso: key.expiresAt === null ? null : new Date(key.expiresAt).toISOString(),
    };
    Object.freeze(key.meta);
    if (cacheable) this.cache.set(hash, key.id, facts, now);
    return facts;
  }

  async find(hash: string, now: number): Promise<CachedKey | null> {
    const hit = this.cache.get(hash, now);
    return hit !== undefined ? hit.value : this.load(hash, now);
  }

  async invalidate(keyIds: readonly string[]): Promise<void> {
    this.generation += 1;
    this.cache.invalidateKeys(keyIds);
    await this.bus.publish(keyIds);
  }

  /** Drops everything: used when an API's catalog changes (implications are baked in). */
  clear(): void {
    this.generation += 1;
    this.cache.clear();
  }
}
