import { performance } from 'node:perf_hooks';
import type { Cluster } from '../cluster/cluster.js';
import type { KeygateMetrics, RedisOperation } from './metrics.js';

/**
 * The cluster with its Redis calls timed, its fallbacks counted and its connection state
 * reported (`keygate_redis_*`). The in-memory cluster does no I/O and is returned as it is, so
 * verify pays nothing for it. Everything not timed (subscriptions, the connection, close) is the
 * cluster's own.
 *
 * @example
 * const cluster = instrumentCluster(await openCluster({ redisUrl }), metrics);
 */
export function instrumentCluster(cluster: Cluster, metrics: KeygateMetrics): Cluster {
  if (cluster.kind !== 'redis') return cluster;
  metrics.watchRedis(cluster.connection);
  const parts: Partial<Record<keyof Cluster, unknown>> = {
    rateLimiter: timed(cluster.rateLimiter, ['limit'], metrics, 'ratelimit'),
    counters: timed(cluster.counters, ['claimOnce', 'increment', 'read', 'decrement'], metrics, 'counters'),
    bus: timed(cluster.bus, ['publish', 'publishRevocations'] as (keyof Cluster['bus'])[], metrics, 'publish'),
  };
  return new Proxy(cluster, {
    get: (target, property) => (property in parts ? parts[property as keyof Cluster] : Reflect.get(target, property, target)),
  });
}

type AnyMethod = (...args: unknown[]) => unknown;

/** `target` with the named methods (those it has) timed under `operation`. */
function timed<T extends object>(target: T, methods: readonly (keyof T)[], metrics: KeygateMetrics, operation: RedisOperation): T {
  const duration = metrics.redisDuration(operation);
  const wrapped = new Map<PropertyKey, AnyMethod>();
  for (const name of methods) {
    const original = target[name] as unknown;
    if (typeof original !== 'function') continue;
    wrapped.set(name, async (...args: unknown[]) => {
      const started = performance.now();
      try {
        return await (original as AnyMethod).apply(target, args);
      } finally {
        duration.observe((performance.now() - started) / 1000);
      }
    });
  }
  return new Proxy(target, {
    get(object, property) {
      const method = wrapped.get(property);
      if (method !== undefined) return method;
      const value = Reflect.get(object, property, object) as unknown;
      // Class methods (RedisBus, RedisCounters) expect `this` to be the object, not the proxy.
      return typeof value === 'function' ? (value as AnyMethod).bind(object) : value;
    },
  });
}
