import { Redis } from 'ioredis';
import type { Cluster } from '../cluster.js';
import { RedisBus } from './redis-bus.js';
import { RedisCounters } from './redis-counters.js';
import { RedisRateLimiter } from './redis-rate-limiter.js';

/**
 * Shared limits and invalidations for several Keygate instances. `prefix` namespaces every
 * Redis key and channel, so deployments (and test runs) can share one Redis.
 */
export function createRedisCluster(options: { url: string; prefix?: string; now?: () => number }): Cluster {
  const prefix = options.prefix ?? 'keygate:';
  const client = new Redis(options.url, { maxRetriesPerRequest: 2, enableOfflineQueue: true });
  const subscriber = new Redis(options.url, { maxRetriesPerRequest: 2 });
  const rateLimiter = new RedisRateLimiter(client, prefix);
  const bus = new RedisBus(client, subscriber, prefix);
  return {
    kind: 'redis',
    rateLimiter,
    bus,
    counters: new RedisCounters(client, prefix, options.now),
    async close() {
      await bus.close();
      client.disconnect();
    },
  };
}
