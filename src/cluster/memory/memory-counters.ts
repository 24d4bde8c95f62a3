import type { SharedCounters } from '../cluster.js';

/** In-process counters with expiry; expired entries are dropped when touched or swept. */
export class MemoryCounters implements SharedCounters {
  private readonly entries = new Map<string, { count: number; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => {
      const t = this.now();
      for (const [key, entry] of this.entries) if (entry.expiresAt <= t) this.entries.delete(key);
    }, 60_000);
    this.sweeper.unref();
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const current = this.live(key);
    if (current) return false;
    this.entries.set(key, { count: 1, expiresAt: this.now() + ttlMs });
    return true;
  }

  async increment(key: string, ttlMs: number): Promise<{ count: number; expiresAt: number }> {
    const entry = this.live(key) ?? { count: 0, expiresAt: this.now() + ttlMs };
    entry.count += 1;
    this.entries.set(key, entry);
    return { ...entry };
  }

  async decrement(key: string): Promise<void> {
    const entry = this.live(key);
    if (entry && entry.count > 0) entry.count -= 1;
  }

  async read(key: string): Promise<{ count: number; expiresAt: number }> {
    const entry = this.live(key);
    return entry ? { ...entry } : { count: 0, expiresAt: 0 };
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private live(key: string): { count: number; expiresAt: number } | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
