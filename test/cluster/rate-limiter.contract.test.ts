import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RateLimiter } from '../../src/cluster/cluster.js';
import type { RatelimitChain } from '../../src/domain/keys/effective-key.js';
import type { RatelimitConfig } from '../../src/domain/keys/key.js';
import { MemoryRateLimiter } from '../../src/cluster/memory/memory-rate-limiter.js';
import { RedisRateLimiter } from '../../src/cluster/redis/redis-rate-limiter.js';
import { REDIS_URL } from '../helpers/backends.js';

const IMPLEMENTATIONS = ['memory', 'redis'] as const;

/** The chain of a key without ancestors. */
function one(keyId: string, limits: readonly RatelimitConfig[]): RatelimitChain {
  return { family: keyId, subjects: [{ keyId, limits }] };
}

/** One contract for every rate limiter: in-process and Redis must count the same. */
describe.each(IMPLEMENTATIONS)('RateLimiter contract (%s)', (kind) => {
  let limiter: RateLimiter;
  let redis: Redis | null = null;
  const prefix = `kgtest:${process.pid}:${Math.random().toString(36).slice(2)}:`;

  beforeAll(() => {
    if (kind === 'memory') limiter = new MemoryRateLimiter();
    else {
      redis = new Redis(REDIS_URL);
      limiter = new RedisRateLimiter(redis, prefix);
    }
  });

  afterAll(async () => {
    await limiter.close();
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  const t0 = Date.UTC(2026, 0, 1); // window-aligned for every duration used here

  it('lets exactly `limit` requests through in a window, however concurrent', async () => {
    const limits = [{ name: 'rps', limit: 50, duration: 10_000 }];
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => limiter.limit(one('key_a', limits), t0 + 10)));
    expect(outcomes.filter((o) => o.allowed)).toHaveLength(50);
    const remaining = outcomes.filter((o) => o.allowed).map((o) => o.states[0]!.remaining).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(outcomes.find((o) => !o.allowed)!.states[0]).toMatchObject({ name: 'rps', limit: 50, remaining: 0, resetAt: t0 + 10_000 });
  });

  it('checks all limits before consuming any', async () => {
    const limits = [
      { name: 'burst', limit: 3, duration: 1_000 },
      { name: 'hour', limit: 100, duration: 3_600_000 },
    ];
    for (let i = 0; i < 3; i++) expect((await limiter.limit(one('key_b', limits), t0 + i)).allowed).toBe(true);
    const denied = await limiter.limit(one('key_b', limits), t0 + 5);
    expect(denied.allowed).toBe(false);
    expect(denied.states.map((s) => s.remaining)).toEqual([0, 97]);
  });

  it('slides: the previous window still counts in proportion to its overlap', async () => {
    const limits = [{ name: 'w', limit: 10, duration: 1_000 }];
    for (let i = 0; i < 10; i++) expect((await limiter.limit(one('key_c', limits), t0 + 500)).allowed).toBe(true);
    // 25% into the next window, 75% of the previous 10 still count: 7 used, 3 left.
    const results = [];
    for (let i = 0; i < 5; i++) results.push((await limiter.limit(one('key_c', limits), t0 + 1_250)).allowed);
    expect(results).toEqual([true, true, true, false, false]);
    // Two windows later the past no longer counts.
    expect((await limiter.limit(one('key_c', limits), t0 + 3_000)).states[0]!.remaining).toBe(9);
  });

  it('counts a chain against every key of it: children of one parent share the parent\'s limit', async () => {
    const parent = { keyId: 'fam_p', limits: [{ name: 'parent', limit: 3, duration: 60_000 }] };
    const children = Array.from({ length: 5 }, (_, i) => ({ family: 'fam_p', subjects: [{ keyId: `fam_c${i}`, limits: [{ name: 'own', limit: 10, duration: 60_000 }] }, parent] }));
    const outcomes = await Promise.all(children.flatMap((chain) => [limiter.limit(chain, t0), limiter.limit(chain, t0)]));
    expect(outcomes.filter((o) => o.allowed)).toHaveLength(3);
    const denied = outcomes.find((o) => !o.allowed)!;
    expect(denied.states.map((s) => [s.keyId, s.name])).toEqual([
      [expect.stringMatching(/^fam_c/), 'own'],
      ['fam_p', 'parent'],
    ]);
    expect(denied.states[1]!.remaining).toBe(0);
    // The parent's own request is refused too: its children spent its window.
    expect((await limiter.limit({ family: 'fam_p', subjects: [parent] }, t0)).allowed).toBe(false);
  });

  it('consumes nothing of a chain when one key of it is at its limit', async () => {
    const parent = { keyId: 'atom_p', limits: [{ name: 'p', limit: 1, duration: 60_000 }] };
    const child = { keyId: 'atom_c', limits: [{ name: 'c', limit: 5, duration: 60_000 }] };
    expect((await limiter.limit({ family: 'atom_p', subjects: [parent] }, t0)).allowed).toBe(true);
    for (let i = 0; i < 3; i++) expect((await limiter.limit({ family: 'atom_p', subjects: [child, parent] }, t0)).allowed).toBe(false);
    const alone = await limiter.limit({ family: 'atom_p', subjects: [child] }, t0);
    expect(alone.allowed).toBe(true);
    expect(alone.states[0]!.remaining).toBe(4);
  });

  it('peeks without consuming', async () => {
    const chain = one('peek_a', [{ name: 'one', limit: 1, duration: 60_000 }]);
    for (let i = 0; i < 3; i++) expect((await limiter.limit(chain, t0, { peek: true })).allowed).toBe(true);
    expect((await limiter.limit(chain, t0)).allowed).toBe(true);
    expect((await limiter.limit(chain, t0, { peek: true })).allowed).toBe(false);
  });

  it('keeps separate counters per key and per limit name', async () => {
    const limits = [{ name: 'one', limit: 1, duration: 60_000 }];
    expect((await limiter.limit(one('key_d', limits), t0)).allowed).toBe(true);
    expect((await limiter.limit(one('key_d', limits), t0)).allowed).toBe(false);
    expect((await limiter.limit(one('key_e', limits), t0)).allowed).toBe(true);
    expect((await limiter.limit(one('key_d', [{ name: 'two', limit: 1, duration: 60_000 }]), t0)).allowed).toBe(true);
  });

  it("states every limit of a chain in order (the key's, then each ancestor's), with what is left and its window's end", async () => {
    const chain: RatelimitChain = {
      family: 'st_p',
      subjects: [
        { keyId: 'st_c', limits: [{ name: 'burst', limit: 2, duration: 1_000 }] },
        { keyId: 'st_p', limits: [{ name: 'minute', limit: 5, duration: 60_000 }, { name: 'hour', limit: 9, duration: 3_600_000 }] },
      ],
    };
    const at = t0 + 1_500;
    const first = await limiter.limit(chain, at);
    expect(first).toEqual({
      allowed: true,
      states: [
        { keyId: 'st_c', name: 'burst', limit: 2, remaining: 1, resetAt: t0 + 2_000 },
        { keyId: 'st_p', name: 'minute', limit: 5, remaining: 4, resetAt: t0 + 60_000 },
        { keyId: 'st_p', name: 'hour', limit: 9, remaining: 8, resetAt: t0 + 3_600_000 },
      ],
    });
    await limiter.limit(chain, at);
    const denied = await limiter.limit(chain, at);
    expect(denied.allowed).toBe(false);
    expect(denied.states.map((s) => s.remaining)).toEqual([0, 3, 7]);
  });
});
