import { defaultLogger, type Logger } from '../../observability/logger.js';
import type { Cluster, ClusterProblem, RedisFailureMode } from '../cluster.js';
import { MemoryCounters } from '../memory/memory-counters.js';
import { MemoryRateLimiter } from '../memory/memory-rate-limiter.js';
import { RedisBus } from './redis-bus.js';
import { RedisCounters } from './redis-counters.js';
import { FallbackCounters, FallbackRateLimiter } from './redis-fallback.js';
import { RedisLink } from './redis-link.js';
import { RedisRateLimiter } from './redis-rate-limiter.js';

export interface RedisClusterOptions {
  url: string;
  /** Namespaces every Redis key and channel, so deployments (and test runs) can share one Redis. */
  prefix?: string;
  /** Keygate's clock, for the expiries counters report. */
  now?: () => number;
  /** What rate limits and one-time claims do while Redis is away; default `local`. */
  failure?: RedisFailureMode;
  /** Longest a request waits for a Redis answer before falling back; default 50 ms. */
  timeoutMs?: number;
  /** Where the transitions (Redis lost, Redis back) are reported, as warnings; default `defaultLogger()`. */
  logger?: Logger;
}

/**
 * Shared limits and invalidations for several Keygate instances, degrading (never failing)
 * while Redis is away: see `RedisLink` for how long a request may wait, and `redis-fallback.ts`
 * for what limits and counters do meanwhile.
 *
 * @example
 * const cluster = createRedisCluster({ url: 'redis://127.0.0.1:6379', failure: 'closed', logger: app.log });
 * if (!(await cluster.connection.whenConnected(2_000))) app.log.warn('starting without Redis');
 */
export function createRedisCluster(options: RedisClusterOptions): Cluster {
  const prefix = options.prefix ?? 'keygate:';
  const failure = options.failure ?? 'local';
  const logger = options.logger ?? defaultLogger();
  const link = new RedisLink(options.url, options.timeoutMs ?? 50);
  const local = new MemoryRateLimiter();
  const localCounters = new MemoryCounters(options.now);
  const rateLimiter = new FallbackRateLimiter(link, new RedisRateLimiter(link.client, prefix), local, failure);
  const counters = new FallbackCounters(link, new RedisCounters(link.client, prefix, options.now), localCounters, failure);
  const bus = new RedisBus(link, prefix);
  let lost = false;
  link.onChange((problem) => {
    if (problem !== null) lost = true;
    if (problem !== null || lost) logger.warn(describeTransition(problem, failure));
  });
  return {
    kind: 'redis',
    rateLimiter,
    bus,
    counters,
    connection: link,
    async close() {
      await bus.close();
      link.close();
      counters.close();
      await rateLimiter.close();
    },
  };
}

/** The operator's line for a change of the Redis link (the driver's detail included: this goes to the log only). */
function describeTransition(problem: ClusterProblem | null, failure: RedisFailureMode): string {
  if (problem === null) return "Redis answers again: rate limits, counters and invalidations are shared again; every instance's local caches are dropped and refilled from the store.";
  const limits = failure === 'local' ? 'rate limits and throttles count per instance' : 'rate-limited keys are refused (RATE_LIMITED), throttles count per instance';
  return `Redis is ${problem.reason === 'timeout' ? 'not answering in time' : 'unreachable'} (${problem.detail}): ${limits} (KEYGATE_REDIS_FAILURE=${failure}) until it is back.`;
}
