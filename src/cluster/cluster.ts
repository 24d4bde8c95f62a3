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

export interface Cluster {
  readonly kind: 'memory' | 'redis';
  readonly rateLimiter: RateLimiter;
  readonly bus: InvalidationBus;
  readonly counters: SharedCounters;
  close(): Promise<void>;
}
