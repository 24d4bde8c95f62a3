import type { Cluster } from './cluster.js';
import { createMemoryCluster } from './memory/memory-cluster.js';
import { createRedisCluster } from './redis/redis-cluster.js';

/** Redis when a URL is given, else in-process memory. */
export function openCluster(options: { redisUrl: string | undefined; redisPrefix?: string; now?: () => number }): Cluster {
  return options.redisUrl
    ? createRedisCluster({ url: options.redisUrl, prefix: options.redisPrefix, now: options.now })
    : createMemoryCluster(options.now);
}
