import type { RatelimitChain } from '../domain/keys/effective-key.js';
import type { RatelimitConfig } from '../domain/keys/key.js';
import type { RatelimitOutcome } from './cluster.js';

/**
 * The sliding-window counter (as Cloudflare and Unkey use it): the previous fixed window's
 * count, weighted by how much of it still overlaps the sliding window, plus the current
 * window's count. Memory is O(1) per key and limit, and the estimate never lets more than
 * `limit` requests through in any window-aligned interval. The Redis backend runs the same
 * arithmetic in Lua (`redis/redis-rate-limiter.ts`).
 */
export function slidingCount(previous: number, current: number, now: number, windowStart: number, duration: number): number {
  const overlap = 1 - (now - windowStart) / duration;
  return Math.floor(previous * overlap) + current;
}

/**
 * An outcome's states over a chain, in the chain's order (each key's limits in turn), for every
 * rate limiter alike (memory, Redis, Redis away): `used(index, config)` is what the limit at
 * `index` counts in its sliding window after this request; a window resets at its fixed end.
 *
 * @example
 * chainStates(chain, now, (i) => counts[i]) // [{ keyId, name, limit, remaining, resetAt }, …]
 */
export function chainStates(chain: RatelimitChain, now: number, used: (index: number, config: RatelimitConfig) => number): RatelimitOutcome['states'] {
  const states: RatelimitOutcome['states'] = [];
  for (const { keyId, limits } of chain.subjects) {
    for (const config of limits) {
      states.push({
        keyId,
        name: config.name,
        limit: config.limit,
        remaining: Math.max(0, config.limit - used(states.length, config)),
        resetAt: (Math.floor(now / config.duration) + 1) * config.duration,
      });
    }
  }
  return states;
}
