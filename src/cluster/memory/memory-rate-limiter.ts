import type { RatelimitConfig } from '../../domain/keys/key.js';
import type { RateLimiter, RatelimitOutcome } from '../cluster.js';
import { slidingCount } from '../sliding-window.js';

interface Counter {
  window: number;
  current: number;
  previous: number;
}

/**
 * In-process limits. Node runs this synchronously on one thread, so check-and-consume is atomic
 * without locks: concurrent verifies never overshoot.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly counters = new Map<string, Counter>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(Date.now()), 60_000);
    this.sweeper.unref();
  }

  limit(keyId: string, limits: readonly RatelimitConfig[], now: number): RatelimitOutcome {
    const counters: Counter[] = [];
    let allowed = true;
    for (const config of limits) {
      const id = `${keyId}\u0000${config.name}\u0000${config.duration}`;
      const window = Math.floor(now / config.duration);
      let counter = this.counters.get(id);
      if (counter === undefined) {
        counter = { window, current: 0, previous: 0 };
        this.counters.set(id, counter);
      } else if (counter.window !== window) {
        counter.previous = counter.window === window - 1 ? counter.current : 0;
        counter.current = 0;
        counter.window = window;
      }
      counters.push(counter);
      if (slidingCount(counter.previous, counter.current, now, window * config.duration, config.duration) + 1 > config.limit) {
        allowed = false;
      }
    }
    const states = limits.map((config, i) => {
      const counter = counters[i]!;
      if (allowed) counter.current += 1;
      const used = slidingCount(counter.previous, counter.current, now, counter.window * config.duration, config.duration);
      return {
        name: config.name,
        limit: config.limit,
        remaining: Math.max(0, config.limit - used),
        resetAt: (counter.window + 1) * config.duration,
      };
    });
    return { allowed, states };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private sweep(now: number): void {
    for (const [id, counter] of this.counters) {
      const duration = Number(id.slice(id.lastIndexOf('\u0000') + 1));
      if (counter.window < Math.floor(now / duration) - 1) this.counters.delete(id);
    }
  }
}
