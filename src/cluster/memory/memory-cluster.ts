import type { Cluster, InvalidationBus } from '../cluster.js';
import { MemoryCounters } from './memory-counters.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';

/** One process: the cache is invalidated directly, so there is nobody else to tell. */
const noBus: InvalidationBus = {
  publish: async () => {},
  subscribe: () => {},
  close: async () => {},
};

/** `now` is Keygate's clock, so throttle windows pass when the clock says (tests set it). */
export function createMemoryCluster(now: () => number = Date.now): Cluster {
  const rateLimiter = new MemoryRateLimiter();
  const counters = new MemoryCounters(now);
  return {
    kind: 'memory',
    rateLimiter,
    bus: noBus,
    counters,
    async close() {
      counters.close();
      await rateLimiter.close();
    },
  };
}
