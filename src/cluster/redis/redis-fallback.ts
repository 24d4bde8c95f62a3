import type { RatelimitChain } from '../../domain/keys/effective-key.js';
import type { RateLimiter, RatelimitOutcome, RedisFailureMode, SharedCounters } from '../cluster.js';
import type { MemoryCounters } from '../memory/memory-counters.js';
import type { MemoryRateLimiter } from '../memory/memory-rate-limiter.js';
import type { RedisLink } from './redis-link.js';
import { chainStates } from '../sliding-window.js';

/**
 * What a rate-limited request gets while Redis is away: the one rule, for verify and for the
 * key views' `rateLimited` flag alike. `local` counts in this instance (each instance lets
 * through up to the limit, so N instances up to N times it); `closed` refuses every limited
 * request until Redis answers again, and counts nothing. Never unlimited.
 *
 * @example
 * limitWhileAway('closed', local, chain, now).allowed // false
 */
export function limitWhileAway(mode: RedisFailureMode, local: MemoryRateLimiter, chain: RatelimitChain, now: number, options?: { peek?: boolean }): RatelimitOutcome {
  if (mode === 'local') return local.limit(chain, now, options);
  return { allowed: false, states: chainStates(chain, now, (_, config) => config.limit) };
}

/** Shared limits through Redis while it answers; `limitWhileAway` while it does not. */
export class FallbackRateLimiter implements RateLimiter {
  constructor(
    private readonly link: RedisLink,
    private readonly shared: RateLimiter,
    private readonly local: MemoryRateLimiter,
    private readonly mode: RedisFailureMode,
  ) {}

  limit(chain: RatelimitChain, now: number, options?: { peek?: boolean }): Promise<RatelimitOutcome> {
    return this.link.run(
      async () => this.shared.limit(chain, now, options),
      () => limitWhileAway(this.mode, this.local, chain, now, options),
    );
  }

  async close(): Promise<void> {
    await this.local.close();
  }
}

/**
 * Shared counters through Redis while it answers. While it does not, the throttles (sign-in,
 * client authentication, password reset, introspection misses) count in this instance: a
 * throttle never opens because Redis is gone, it only stops being shared. One-time claims
 * (replayed `private_key_jwt` assertions) are per instance in `local` mode, and refused in
 * `closed` mode, where no assertion is accepted twice anywhere.
 */
export class FallbackCounters implements SharedCounters {
  constructor(
    private readonly link: RedisLink,
    private readonly shared: SharedCounters,
    private readonly local: MemoryCounters,
    private readonly mode: RedisFailureMode,
  ) {}

  /**
   * Every claim is also kept in this instance, so the instance refuses a second use across the
   * outage's edges too: one made through Redis while Redis is away, one made while it was away
   * once it is back.
   */
  claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.link.run(
      async () => {
        const shared = await this.shared.claimOnce(key, ttlMs);
        const here = await this.local.claimOnce(key, ttlMs);
        return shared && here;
      },
      () => (this.mode === 'local' ? this.local.claimOnce(key, ttlMs) : false),
    );
  }

  increment(key: string, ttlMs: number): Promise<{ count: number; expiresAt: number }> {
    return this.link.run(
      () => this.shared.increment(key, ttlMs),
      () => this.local.increment(key, ttlMs),
    );
  }

  read(key: string): Promise<{ count: number; expiresAt: number }> {
    return this.link.run(
      () => this.shared.read(key),
      () => this.local.read(key),
    );
  }

  decrement(key: string): Promise<void> {
    return this.link.run(
      () => this.shared.decrement(key),
      () => this.local.decrement(key),
    );
  }

  close(): void {
    this.local.close();
  }
}
