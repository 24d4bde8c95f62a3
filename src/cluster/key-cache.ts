interface Entry<V> {
  value: V;
  expiresAt: number;
  keyId: string | null;
}

/**
 * A bounded cache from secret hash to what verify learned about it, with a second index by key
 * id so that an update or revoke can drop every secret of a key (a rolled key has several).
 * `keyId: null` marks a negative entry (no such secret). Eviction is oldest-inserted first;
 * entries also expire after `ttlMs`, which bounds staleness for changes made by other
 * instances when no invalidation bus is configured.
 */
export class KeyCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly byKeyId = new Map<string, Set<string>>();

  constructor(private readonly options: { maxEntries: number; ttlMs: number }) {
    if (!(options.maxEntries > 0)) throw new TypeError('maxEntries must be positive');
  }

  get(hash: string, now: number): Entry<V> | undefined {
    const entry = this.entries.get(hash);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.remove(hash, entry);
      return undefined;
    }
    return entry;
  }

  set(hash: string, keyId: string | null, value: V, now: number): void {
    const existing = this.entries.get(hash);
    if (existing) this.remove(hash, existing);
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.remove(oldest, this.entries.get(oldest)!);
    }
    this.entries.set(hash, { value, expiresAt: now + this.options.ttlMs, keyId });
    if (keyId !== null) {
      let hashes = this.byKeyId.get(keyId);
      if (!hashes) this.byKeyId.set(keyId, (hashes = new Set()));
      hashes.add(hash);
    }
  }

  /** Drops every cached secret of these keys. */
  invalidateKeys(keyIds: Iterable<string>): void {
    for (const keyId of keyIds) {
      for (const hash of this.byKeyId.get(keyId) ?? []) this.entries.delete(hash);
      this.byKeyId.delete(keyId);
    }
  }

  clear(): void {
    this.entries.clear();
    this.byKeyId.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private remove(hash: string, entry: Entry<V>): void {
    this.entries.delete(hash);
    if (entry.keyId === null) return;
    const hashes = this.byKeyId.get(entry.keyId);
    hashes?.delete(hash);
    if (hashes?.size === 0) this.byKeyId.delete(entry.keyId);
  }
}
