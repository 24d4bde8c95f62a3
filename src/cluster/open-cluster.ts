import type { Logger } from '../observability/logger.js';
import type { Cluster, RedisFailureMode } from './cluster.js';
import { createMemoryCluster } from './memory/memory-cluster.js';

/**
 * Redis when a URL is given, else in-process memory. ioredis is imported only when Redis is
 * configured, so a single instance never loads it.
 *
 * @example
 * const cluster = await openCluster({ redisUrl: process.env.REDIS_URL, redisFailure: 'local', redisTimeoutMs: 50 });
 */
export async function openCluster(options: {
  redisUrl: string | undefined;
  redisPrefix?: string;
  now?: () => number;
  redisFailure?: RedisFailureMode;
  redisTimeoutMs?: number;
  /** Where Redis lost / Redis back are reported (default `defaultLogger()`). */
  logger?: Logger;
}): Promise<Cluster> {
  if (!options.redisUrl) return createMemoryCluster(options.now);
  const { createRedisCluster } = await import('./redis/redis-cluster.js');
  return createRedisCluster({
    url: options.redisUrl,
    prefix: options.redisPrefix,
    now: options.now,
    failure: options.redisFailure,
    timeoutMs: options.redisTimeoutMs,
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
