import type { Cluster, ClusterConnection, InvalidationBus } from '../cluster.js';
import { MemoryCounters } from './memory-counters.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';

/** One process: the cache is invalidated directly, so there is nobody else to tell. */
const noBus: InvalidationBus = {
  publish: async () => {},
  subscribe: () => {},
  publishRevocations: async () => {},
  subscribeRevocations: () => {},
  close: async () => {},
};

/** Nothing shared, so nothing to lose: always connected, never a message missed. */
const alwaysConnected: ClusterConnection = {
  connected: true,
  problem: null,
  onReconnect: () => {},
  whenConnected: async () => true,
  onFallback: () => {},
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
    connection: alwaysConnected,
    async close() {
      counters.close();
      await rateLimiter.close();
    },
  };
}
