import type { Logger } from '../observability/logger.js';
import type { Cluster, RedisFailureMode } from './cluster.js';
import { createMemoryCluster } from './memory/memory-cluster.js';
import { createRedisCluster } from './redis/redis-cluster.js';

/**
 * Redis when a URL is given, else in-process memory.
 *
 * @example
 * const cluster = openCluster({ redisUrl: process.env.REDIS_URL, redisFailure: 'local', redisTimeoutMs: 50 });
 */
export function openCluster(options: {
  redisUrl: string | undefined;
  redisPrefix?: string;
  now?: () => number;
  redisFailure?: RedisFailureMode;
  redisTimeoutMs?: number;
  /** Where Redis lost / Redis back are reported (default `defaultLogger()`). */
  logger?: Logger;
}): Cluster {
  return options.redisUrl
    ? createRedisCluster({
        url: options.redisUrl,
        prefix: options.redisPrefix,
        now: options.now,
        failure: options.redisFailure,
        timeoutMs: options.redisTimeoutMs,
        ...(options.logger ? { logger: options.logger } : {}),
      })
    : createMemoryCluster(options.now);
}
