import type { KeysStore, UsageEntry } from '../store/store.js';

/**
 * Counts verifications per key in memory and writes them in one batch per interval, so the
 * hot path does no store write for usage (credits, which must be exact, are written at once).
 */
export class UsageRecorder {
  private pending = new Map<string, UsageEntry>();
  private readonly timer: NodeJS.Timeout;
  /** The flush under way: a new one waits for it rather than racing it. */
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: KeysStore,
    private readonly onError: (err: unknown) => void,
    options: { flushIntervalMs: number },
  ) {
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  /** Keys whose counts wait for the next write. */
  get queued(): number {
    return this.pending.size;
  }

  record(keyId: string, at: number): void {
    const entry = this.pending.get(keyId);
    if (entry === undefined) this.pending.set(keyId, { keyId, lastUsedAt: at, count: 1 });
    else {
      entry.count += 1;
      entry.lastUsedAt = at;
    }
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = [...this.pending.values()];
      this.pending = new Map();
      await this.store.recordUsage(batch).catch(this.onError);
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
