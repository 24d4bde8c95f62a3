import { describe, expect, it } from 'vitest';
import type { SharedCounters } from '../../src/cluster/cluster.js';
import { MemoryCounters } from '../../src/cluster/memory/memory-counters.js';
import { FallbackCounters } from '../../src/cluster/redis/redis-fallback.js';
import type { RedisLink } from '../../src/cluster/redis/redis-link.js';

/**
 * Review of issue 8, item 2 against the one-time use of `private_key_jwt` assertions (security.md
 * §7, "While Redis is away"): in `local` mode the instance checks the jti itself while Redis is
 * away. But the instance only remembered the claims it made while Redis was away: an assertion
 * used through Redis could be presented again to the same instance once Redis went away, and one
 * used while Redis was away again once Redis was back.
 */
describe('one-time claims across a Redis outage (local mode)', () => {
  /** A link whose Redis is up or away, as the test says. */
  function link(state: { up: boolean }): RedisLink {
    return { run: async <T>(command: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T> => (state.up ? command() : fallback()) } as unknown as RedisLink;
  }
  /** Redis's side: SET NX. */
  function redis(): SharedCounters {
    const claimed = new Set<string>();
    return {
      claimOnce: async (key: string) => (claimed.has(key) ? false : (claimed.add(key), true)),
    } as unknown as SharedCounters;
  }

  it('an assertion used while Redis answered is refused by the same instance while Redis is away', async () => {
    const state = { up: true };
    const local = new MemoryCounters();
    const counters = new FallbackCounters(link(state), redis(), local, 'local');
    expect(await counters.claimOnce('jti:a', 60_000)).toBe(true);
    state.up = false;
    expect(await counters.claimOnce('jti:a', 60_000)).toBe(false);
    counters.close();
  });

  it('an assertion used while Redis was away is refused once Redis is back', async () => {
    const state = { up: false };
    const local = new MemoryCounters();
    const counters = new FallbackCounters(link(state), redis(), local, 'local');
    expect(await counters.claimOnce('jti:b', 60_000)).toBe(true);
    state.up = true;
    expect(await counters.claimOnce('jti:b', 60_000)).toBe(false);
    counters.close();
  });

  it('closed mode refuses every assertion while Redis is away, and a fresh one is accepted once it is back', async () => {
    const state = { up: false };
    const counters = new FallbackCounters(link(state), redis(), new MemoryCounters(), 'closed');
    expect(await counters.claimOnce('jti:c', 60_000)).toBe(false);
    state.up = true;
    expect(await counters.claimOnce('jti:c', 60_000)).toBe(true);
    expect(await counters.claimOnce('jti:c', 60_000)).toBe(false);
    counters.close();
  });
});
