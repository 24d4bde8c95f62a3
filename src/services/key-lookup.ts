import { KeyCache } from '../cluster/key-cache.js';
import type { InvalidationBus } from '../cluster/cluster.js';
import type { KeyFacts } from '../domain/keys/check-key.js';
import { ID_PREFIXES } from '../domain/ids.js';
import { effectiveKey } from '../domain/keys/effective-key.js';
import type { Api } from '../domain/apis.js';
import type { VerificationResult } from '../domain/verification.js';
import type { KeygateMetrics } from '../observability/metrics.js';
import type { KeysStore } from '../store/store.js';

/** What verify and management auth know about a found secret, ready for the hot path. */
export interface CachedKey extends KeyFacts {
  api: Api;
  tenantSlug: string;
  /** Frozen copies of the effective scopes and meta handed out in results, so callers cannot alter the cache. */
  scopeList: readonly string[];
  meta: Readonly<Record<string, unknown>>;
  expiresAtIso: string | null;
  /** The VALID answer for a key without rate limits or credits, built at its first use. */
  validResult?: Readonly<VerificationResult>;
}

const API_ID_PREFIX = `${ID_PREFIXES.api}_`;

/**
 * Secret hash → key facts, through a bounded cache. Every change made through this process
 * calls `invalidate` before it returns, and publishes the ids on the cluster bus so other
 * instances drop them too. A sub-key's facts are computed over its chain and cached under
 * every key id of the chain, so a change to any ancestor drops them.
 */
export class KeyLookup {
  private readonly cache: KeyCache<CachedKey | null>;
  /** Bumped on every invalidation: a load that raced with one must not fill the cache. */
  private generation = 0;

  private readonly hits: { inc(): void };
  private readonly misses: { inc(): void };

  constructor(
    private readonly store: KeysStore,
    private readonly bus: InvalidationBus,
    options: { maxEntries: number; ttlMs: number; metrics: KeygateMetrics },
  ) {
    this.cache = new KeyCache({ maxEntries: options.maxEntries, maxMissing: options.maxEntries, ttlMs: options.ttlMs });
    this.hits = options.metrics.keyCacheHit;
    this.misses = options.metrics.keyCacheMiss;
    bus.subscribe((ids) => {
      this.generation += 1;
      // An API id on the bus means its catalog may have changed on another instance, and every
      // cached key has its catalog's implications baked in: the whole cache goes, as it does here.
      if (ids.some((id) => id.startsWith(API_ID_PREFIX))) this.cache.clear();
      else this.cache.invalidateKeys(ids);
    });
  }

  /**
   * Cached facts, or undefined when the store must be asked. Only a hit is counted here: a miss
   * is counted by `load`, so a bearer its caller refuses by shape alone (an invented one) is no
   * lookup at all, and cannot skew the hit ratio.
   */
  cached(hash: string, now: number): CachedKey | null | undefined {
    const hit = this.cache.get(hash, now);
    if (hit !== undefined) this.hits.inc();
    return hit;
  }

  async load(hash: string, now: number): Promise<CachedKey | null> {
    this.misses.inc();
    const generation = this.generation;
    const found = await this.store.findBySecret(hash);
    if (found === null) {
      if (generation === this.generation) this.cache.setMissing(hash, now);
      return null;
    }
    const { key, api } = found;
    const chain = key.parentId === null ? [key] : [key, ...(await this.store.findAncestors(key.tenantId, key.id))];
    const effective = effectiveKey(chain, api.scopes);
    const facts: CachedKey = {
      key,
      api,
      apiIdentifier: api.identifier,
      tenantSlug: found.tenantSlug,
      secretRetiredAt: found.secretRetiredAt,
      effective,
      scopeList: Object.freeze([...effective.scopes]),
      meta: Object.freeze(effective.meta),
      expiresAtIso: effective.expiresAt === null ? null : new Date(effective.expiresAt).toISOString(),
    };
    if (generation === this.generation) this.cache.set(hash, chain.map((k) => k.id), facts, now);
    return facts;
  }

  async find(hash: string, now: number): Promise<CachedKey | null> {
    const hit = this.cached(hash, now);
    return hit !== undefined ? hit : this.load(hash, now);
  }

  async invalidate(keyIds: readonly string[]): Promise<void> {
    this.generation += 1;
    this.cache.invalidateKeys(keyIds);
    await this.bus.publish(keyIds);
  }

  /**
   * Drops everything: used when an API's catalog changes (implications are baked in). Other
   * instances do the same when the API's id reaches them on the bus.
   */
  clear(): void {
    this.generation += 1;
    this.cache.clear();
  }
}
