interface Entry<V> {
  value: V;
  expiresAt: number;
  /** The key and each of its ancestors: a change to any of them drops this entry. */
  keyIds: readonly string[];
}

/**
 * A bounded cache from secret hash to what verify learned about it, with a second index by key
 * id so that an update or revoke can drop every secret of a key (a rolled key has several) and
 * of its descendants (an entry is indexed by every key of its chain).
 *
 * Secrets that match no key ("missing") live in their own space with its own bound: a flood
 * of invented secrets evicts other invented secrets, never a real key. Eviction is
 * oldest-inserted first in each space; entries also expire after `ttlMs`, which bounds
 * staleness for changes made by other instances when no invalidation bus is configured.
 *
 * Hand-written on a Map, unlike Keygate's other bounded caches (lru-cache), because this lookup
 * is the verify hot path and lru-cache measurably costs it: about 28 ns more per lookup with
 * `get` and 11 ns with `peek` (its arrays behind a Map index), and 3 to 5 % of the cached
 * in-process verify ratio in paired runs (bench/RESULTS.md, "Issue 9: caches"). lru-cache would
 * also need this class around it anyway for the key-id index and the clock-driven expiry.
 */
export class KeyCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /** Secret hash → when the "no such secret" answer expires. */
  private readonly missing = new Map<string, number>();
  private readonly byKeyId = new Map<string, Set<string>>();

  constructor(private readonly options: { maxEntries: number; maxMissing: number; ttlMs: number }) {
    if (!(options.maxEntries > 0)) throw new TypeError('maxEntries must be positive');
    if (!(options.maxMissing > 0)) throw new TypeError('maxMissing must be positive');
  }

  /** The cached value, null for a secret known to match nothing, undefined when not cached. */
  get(hash: string, now: number): V | null | undefined {
    const entry = this.entries.get(hash);
    if (entry !== undefined) {
      if (entry.expiresAt > now) return entry.value;
      this.remove(hash, entry);
      return undefined;
    }
    const missingUntil = this.missing.get(hash);
    if (missingUntil === undefined) return undefined;
    if (missingUntil > now) return null;
    this.missing.delete(hash);
    return undefined;
  }

  set(hash: string, keyIds: readonly string[], value: V, now: number): void {
    const existing = this.entries.get(hash);
    if (existing) this.remove(hash, existing);
    this.missing.delete(hash);
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.remove(oldest, this.entries.get(oldest)!);
    }
    this.entries.set(hash, { value, expiresAt: now + this.options.ttlMs, keyIds });
    for (const keyId of keyIds) {
      let hashes = this.byKeyId.get(keyId);
      if (!hashes) this.byKeyId.set(keyId, (hashes = new Set()));
      hashes.add(hash);
    }
  }

  /** Remembers that `hash` matches no key, in the bounded space for such answers. */
  setMissing(hash: string, now: number): void {
    this.missing.delete(hash);
    if (this.missing.size >= this.options.maxMissing) this.missing.delete(this.missing.keys().next().value as string);
    this.missing.set(hash, now + this.options.ttlMs);
  }

  /** Drops every cached secret of these keys and of their descendants. */
  invalidateKeys(keyIds: Iterable<string>): void {
    for (const keyId of keyIds) {
      for (const hash of this.byKeyId.get(keyId) ?? []) {
        const entry = this.entries.get(hash);
        if (entry !== undefined) this.remove(hash, entry);
      }
      this.byKeyId.delete(keyId);
    }
  }

  clear(): void {
    this.entries.clear();
    this.missing.clear();
    this.byKeyId.clear();
  }

  /** Cached keys (not counting missing secrets). */
  get size(): number {
    return this.entries.size;
  }

  private remove(hash: string, entry: Entry<V>): void {
    this.entries.delete(hash);
    for (const keyId of entry.keyIds) {
      const hashes = this.byKeyId.get(keyId);
      hashes?.delete(hash);
      if (hashes?.size === 0) this.byKeyId.delete(keyId);
    }
  }
}
