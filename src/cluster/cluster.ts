import type { RatelimitChain } from '../domain/keys/effective-key.js';

export interface RatelimitOutcome {
  allowed: boolean;
  /**
   * One entry per limit of the chain, in order (the key's own, then each ancestor's): what is
   * left after this request.
   */
  states: { keyId: string; name: string; limit: number; remaining: number; resetAt: number }[];
}

/**
 * Named sliding-window limits per key. Every limit of a key and of its ancestors is checked
 * and consumed as one atomic step: a request denied by one limit consumes none of the others.
 * With `peek`, nothing is consumed: the outcome says whether a request now would be allowed.
 */
export interface RateLimiter {
  limit(chain: RatelimitChain, now: number, options?: { peek?: boolean }): RatelimitOutcome | Promise<RatelimitOutcome>;
  close(): Promise<void>;
}

/**
 * Fan-out of cache invalidations between Keygate instances. In one process the cache is
 * invalidated directly; the bus carries the same key ids to every other instance.
 */
export interface InvalidationBus {
  publish(keyIds: readonly string[]): Promise<void>;
  subscribe(listener: (keyIds: string[]) => void): void;
  /**
   * Tells every other instance that these tenants' revocation feeds have new entries. The message
   * is a hint, not the revocation: receivers read the feed from the store, so whoever can write
   * to the bus can make instances read sooner, never revoke or un-revoke anything.
   */
  publishRevocations(tenantIds: readonly string[]): Promise<void>;
  subscribeRevocations(listener: (tenantIds: string[]) => void): void;
  close(): Promise<void>;
}

/**
 * Small shared state with expiry: one-time claims (replayed assertions) and attempt counters
 * (sign-in and client-authentication throttles). `increment` is atomic, so a throttle that counts
 * an attempt before doing the work holds under any number of concurrent requests.
 */
export interface SharedCounters {
  /** True the first time `key` is claimed within `ttlMs`, false after. */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** Adds one to a counter that lives `ttlMs` from its first increment; returns the new value. */
  increment(key: string, ttlMs: number): Promise<{ count: number; expiresAt: number }>;
  /** The counter's value and expiry, or zero. */
  read(key: string): Promise<{ count: number; expiresAt: number }>;
  /** Takes back one increment of a live counter (an attempt counted up front that succeeded); nothing once it expired. */
  decrement(key: string): Promise<void>;
}

/**
 * The Retry-After of a throttle whose counter expires at `expiresAt`: whole seconds left in its
 * window, at least 1 (a counter a millisecond from expiry still refuses this request).
 *
 * @example
 * retryAfterSeconds(now + 1_500, now) // 2
 */
export function retryAfterSeconds(expiresAt: number, now: number): number {
  return Math.max(1, Math.ceil((expiresAt - now) / 1000));
}

/** What rate limits and one-time claims do while Redis is away (`KEYGATE_REDIS_FAILURE`). */
export type RedisFailureMode = 'local' | 'closed';

/** Why the shared backend is not in use right now, and since when (ms since the epoch). */
export interface ClusterProblem {
  /** `connecting`: not connected yet since start; `unreachable`: connection lost or refused; `timeout`: no answer in time. */
  reason: 'connecting' | 'unreachable' | 'timeout';
  since: number;
  /** The driver's message, for the operator's log only: it may name hosts, so never in a response. */
  detail: string;
}

/**
 * The link to the shared backend (Redis). While it is away, rate limits and counters fall back
 * as `KEYGATE_REDIS_FAILURE` says, and bus messages can be lost: `onReconnect` is the signal for
 * everything fed by the bus to resynchronise. In one process (memory) it is always connected.
 */
export interface ClusterConnection {
  /** True while Redis answers (both the command and the subscriber connection); always true in memory. */
  readonly connected: boolean;
  /** Null while connected; else why not. */
  readonly problem: ClusterProblem | null;
  /**
   * Calls `listener` whenever bus messages may have been lost: this instance's subscription
   * (re)started (after every reconnect, and at the first connect), or another instance
   * announced that messages it published were lost. A listener drops what it cached from bus
   * messages (or catches up from the store); listeners run in order, one throwing stops none.
   */
  onReconnect(listener: () => void): void;
  /** Resolves true once connected, false after `timeoutMs`: start-up begins degraded rather than not at all. */
  whenConnected(timeoutMs: number): Promise<boolean>;
  /**
   * Calls `listener` each time a call took its fallback instead of Redis (metrics): `away` while
   * Redis is known to be gone, `timeout` when it did not answer in time, `error` for an error reply.
   */
  onFallback(listener: (cause: FallbackCause) => void): void;
}

/** Why a cluster call did without Redis. */
export type FallbackCause = 'away' | 'timeout' | 'error';

export interface Cluster {
  readonly kind: 'memory' | 'redis';
  readonly rateLimiter: RateLimiter;
  readonly bus: InvalidationBus;
  readonly counters: SharedCounters;
  readonly connection: ClusterConnection;
  close(): Promise<void>;
}
