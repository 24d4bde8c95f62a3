import type { Redis } from 'ioredis';
import type { SharedCounters } from '../cluster.js';

const DECREMENT_LIVE = "if redis.call('exists', KEYS[1]) == 1 and tonumber(redis.call('get', KEYS[1])) > 0 then redis.call('decr', KEYS[1]) end return 0";

/** Counters in Redis: SET NX PX for claims, INCR with PEXPIRE on first increment for counters. */
export class RedisCounters implements SharedCounters {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    // Expiries are reported on Keygate's clock; Redis itself counts the TTL.
    private readonly now: () => number = Date.now,
  ) {}

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}once:${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  async increment(key: string, ttlMs: number): Promise<{ count: number; expiresAt: number }> {
    const name = `${this.prefix}count:${key}`;
    const [[, count], , [, pttl]] = (await this.redis.multi().incr(name).pexpire(name, ttlMs, 'NX').pttl(name).exec()) as [
      [null, number],
      [null, number],
      [null, number],
    ];
    return { count, expiresAt: this.now() + Math.max(0, pttl) };
  }

  async decrement(key: string): Promise<void> {
    // Only while the counter lives: a DECR after expiry would create a key without a TTL.
    await this.redis.eval(DECREMENT_LIVE, 1, `${this.prefix}count:${key}`);
  }

  async read(key: string): Promise<{ count: number; expiresAt: number }> {
    const name = `${this.prefix}count:${key}`;
    const [[, value], [, pttl]] = (await this.redis.multi().get(name).pttl(name).exec()) as [[null, string | null], [null, number]];
    return value === null ? { count: 0, expiresAt: 0 } : { count: Number(value), expiresAt: this.now() + Math.max(0, pttl) };
  }
}
