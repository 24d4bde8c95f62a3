import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryAfterSeconds, type Cluster, type SharedCounters } from '../../src/cluster/cluster.js';
import { MemoryCounters } from '../../src/cluster/memory/memory-counters.js';
import { createRedisCluster } from '../../src/cluster/redis/redis-cluster.js';
import { RedisCounters } from '../../src/cluster/redis/redis-counters.js';
import { REDIS_URL } from '../helpers/backends.js';
import { testClock } from '../helpers/clock.js';

/** Nothing listens on port 1: the Redis cluster never connects and every call takes its fallback. */
const UNREACHABLE_REDIS = 'redis://127.0.0.1:1';
const IMPLEMENTATIONS = ['memory', 'redis', 'redis-fallback (Redis up)', 'redis-fallback (Redis away)'] as const;
type Implementation = (typeof IMPLEMENTATIONS)[number];

/** A short TTL for the expiry cases: Redis counts it on its own clock, which no test can step. */
const SHORT_TTL_MS = 40;
const LONG_TTL_MS = 60_000;

/**
 * One contract for every `SharedCounters`: the throttles (sign-in, client authentication,
 * password reset, introspection misses) and the one-time claims of `private_key_jwt` assertions
 * must count the same in one process, through Redis, and through the Redis cluster's fallback
 * while Redis is away (`KEYGATE_REDIS_FAILURE=local`).
 */
describe.each(IMPLEMENTATIONS)('SharedCounters contract (%s)', (kind: Implementation) => {
  const clock = testClock(Date.UTC(2026, 0, 1));
  const prefix = `kgtest:${process.pid}:${randomUUID()}:`;
  let counters: SharedCounters;
  let memory: MemoryCounters | null = null;
  let redis: Redis | null = null;
  let cluster: Cluster | null = null;
  /** Redis expires on its own clock; memory (and the fallback, which counts in memory) on Keygate's. */
  const expiresOnKeygateClock = kind === 'memory' || kind === 'redis-fallback (Redis away)';

  beforeAll(async () => {
    if (kind === 'memory') counters = memory = new MemoryCounters(clock.now);
    else if (kind === 'redis') counters = new RedisCounters((redis = new Redis(REDIS_URL)), prefix, clock.now);
    else {
      const up = kind === 'redis-fallback (Redis up)';
      // A generous answer budget: on a loaded machine the default 50 ms would test the fallback, not Redis.
      cluster = createRedisCluster({ url: up ? REDIS_URL : UNREACHABLE_REDIS, prefix, now: clock.now, failure: 'local', timeoutMs: 5_000 });
      expect(await cluster.connection.whenConnected(up ? 5_000 : 0)).toBe(up);
      counters = cluster.counters;
    }
  });

  afterAll(async () => {
    memory?.close();
    await cluster?.close();
    const cleaner = redis ?? (kind === 'redis-fallback (Redis up)' ? new Redis(REDIS_URL) : null);
    if (cleaner) {
      const keys = await cleaner.keys(`${prefix}*`);
      if (keys.length > 0) await cleaner.del(...keys);
      cleaner.disconnect();
    }
  });

  /**
   * Lets `ttlMs` pass for everything counted so far: a clock step, and where Redis decides, waits (polling, bounded) for a marker counted after them with the same TTL to expire in Redis.
   */
  async function outlive(ttlMs: number): Promise<void> {
    // The Redis cluster also keeps each claim in the instance, on Keygate's clock: both must pass.
    clock.advance(ttlMs + 1);
    if (expiresOnKeygateClock) return;
    const marker = `marker:${randomUUID()}`;
    await counters.increment(marker, ttlMs);
    for (let i = 0; i < 200 && (await counters.read(marker)).count > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await counters.read(marker)).count).toBe(0);
  }

  const key = (): string => `k:${randomUUID()}`;

  it('claims a key once within its TTL, however concurrent, and keeps claims apart', async () => {
    const claimed = key();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => counters.claimOnce(claimed, LONG_TTL_MS)));
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(await counters.claimOnce(claimed, LONG_TTL_MS)).toBe(false);
    expect(await counters.claimOnce(key(), LONG_TTL_MS)).toBe(true);
  });

  it('lets a key be claimed again once its TTL has passed', async () => {
    const claimed = key();
    expect(await counters.claimOnce(claimed, SHORT_TTL_MS)).toBe(true);
    await outlive(SHORT_TTL_MS);
    expect(await counters.claimOnce(claimed, SHORT_TTL_MS)).toBe(true);
  });

  it('increments atomically: concurrent increments each get their own count', async () => {
    const counted = key();
    const outcomes = await Promise.all(Array.from({ length: 25 }, () => counters.increment(counted, LONG_TTL_MS)));
    expect(outcomes.map((o) => o.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect((await counters.read(counted)).count).toBe(25);
  });

  it('keeps the window of the first increment: later increments do not extend it', async () => {
    const counted = key();
    const first = await counters.increment(counted, LONG_TTL_MS);
    expect(first.count).toBe(1);
    expect(first.expiresAt).toBeGreaterThan(clock.now());
    expect(first.expiresAt).toBeLessThanOrEqual(clock.now() + LONG_TTL_MS);
    const second = await counters.increment(counted, LONG_TTL_MS * 10);
    expect(second.count).toBe(2);
    expect(second.expiresAt).toBeLessThanOrEqual(first.expiresAt);
    const read = await counters.read(counted);
    expect(read.count).toBe(2);
    expect(read.expiresAt).toBeLessThanOrEqual(first.expiresAt);
  });

  it('starts a counter again from one once its window has passed', async () => {
    const counted = key();
    for (let i = 0; i < 3; i++) await counters.increment(counted, SHORT_TTL_MS);
    await outlive(SHORT_TTL_MS);
    expect(await counters.read(counted)).toEqual({ count: 0, expiresAt: 0 });
    const again = await counters.increment(counted, LONG_TTL_MS);
    expect(again.count).toBe(1);
    expect(again.expiresAt).toBeGreaterThan(clock.now());
  });

  it('reads zero for a counter never incremented', async () => {
    expect(await counters.read(key())).toEqual({ count: 0, expiresAt: 0 });
  });

  it('decrements a live counter, never below zero', async () => {
    const counted = key();
    await counters.increment(counted, LONG_TTL_MS);
    await counters.increment(counted, LONG_TTL_MS);
    await counters.decrement(counted);
    expect((await counters.read(counted)).count).toBe(1);
    await counters.decrement(counted);
    await counters.decrement(counted);
    expect((await counters.read(counted)).count).toBe(0);
    expect((await counters.increment(counted, LONG_TTL_MS)).count).toBe(1);
  });

  it('decrements nothing once the window has passed, and creates no counter without expiry', async () => {
    const counted = key();
    await counters.increment(counted, SHORT_TTL_MS);
    await outlive(SHORT_TTL_MS);
    await counters.decrement(counted);
    await counters.decrement(key());
    expect(await counters.read(counted)).toEqual({ count: 0, expiresAt: 0 });
    const fresh = await counters.increment(counted, LONG_TTL_MS);
    expect(fresh.count).toBe(1);
    expect(fresh.expiresAt).toBeGreaterThan(clock.now());
  });
});

describe('retryAfterSeconds (every throttle’s Retry-After)', () => {
  it('rounds the time left up to whole seconds and never answers less than 1', () => {
    const now = 1_000_000;
    expect(retryAfterSeconds(now + 1_500, now)).toBe(2);
    expect(retryAfterSeconds(now + 60_000, now)).toBe(60);
    expect(retryAfterSeconds(now + 1, now)).toBe(1);
    expect(retryAfterSeconds(now, now)).toBe(1);
    // A counter read just after its expiry (clock skew between instances) still says "wait a second".
    expect(retryAfterSeconds(now - 5_000, now)).toBe(1);
  });
});
