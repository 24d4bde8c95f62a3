import type { Redis } from 'ioredis';
import type { SharedCounters } from '../cluster.js';

/** Counters in Redis: SET NX PX for claims, INCR with PEXPIRE on first increment for counters. */
export class RedisCounters implements SharedCounters {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}once:${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  async increment(key: string, ttlMs: number): Promise<{ count: number; expiresAt: number }> {
    const name = `${this.prefix}count:${key}`;
    const [[, count], [, pttl]] = (await this.redis.multi().incr(name).pexpire(name, ttlMs, 'NX').pttl(name).exec()) as [
      [null, number],
      [null, number],
      [null, number],
    ];
    return { count, expiresAt: Date.now() + Math.max(0, pttl) };
  }

  async read(key: string): Promise<{ count: number; expiresAt: number }> {
    const name = `${this.prefix}count:${key}`;
    const [[, value], [, pttl]] = (await this.redis.multi().get(name).pttl(name).exec()) as [[null, string | null], [null, number]];
    return value === null ? { count: 0, expiresAt: 0 } : { count: Number(value), expiresAt: Date.now() + Math.max(0, pttl) };
  }
}
