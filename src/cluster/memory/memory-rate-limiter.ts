import type { RatelimitChain } from '../../domain/keys/effective-key.js';
import type { RateLimiter, RatelimitOutcome } from '../cluster.js';
import { chainStates, slidingCount } from '../sliding-window.js';

const NO_OPTIONS: { peek?: boolean } = Object.freeze({});

interface Counter {
  window: number;
  current: number;
  previous: number;
}

/**
 * In-process limits. Node runs this synchronously on one thread, so check-and-consume over a
 * whole chain is atomic without locks: concurrent verifies never overshoot.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly counters = new Map<string, Counter>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(Date.now()), 60_000);
    this.sweeper.unref();
  }

  limit(chain: RatelimitChain, now: number, options: { peek?: boolean } = NO_OPTIONS): RatelimitOutcome {
    const counters: Counter[] = [];
    let allowed = true;
    for (const { keyId, limits } of chain.subjects) {
      for (const config of limits) {
        const counter = this.counter(`${keyId}\u0000${config.name}\u0000${config.duration}`, config.duration, now);
        counters.push(counter);
        if (slidingCount(counter.previous, counter.current, now, counter.window * config.duration, config.duration) + 1 > config.limit) {
          allowed = false;
        }
      }
    }
    if (allowed && options.peek !== true) for (const counter of counters) counter.current += 1;
    const states = chainStates(chain, now, (i, config) => {
      const counter = counters[i]!;
      return slidingCount(counter.previous, counter.current, now, counter.window * config.duration, config.duration);
    });
    return { allowed, states };
  }

  /** The counter of one key's limit, moved to the window that contains `now`. */
  private counter(id: string, duration: number, now: number): Counter {
    const window = Math.floor(now / duration);
    let counter = this.counters.get(id);
    if (counter === undefined) {
      counter = { window, current: 0, previous: 0 };
      this.counters.set(id, counter);
    } else if (counter.window !== window) {
      counter.previous = counter.window === window - 1 ? counter.current : 0;
      counter.current = 0;
      counter.window = window;
    }
    return counter;
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
