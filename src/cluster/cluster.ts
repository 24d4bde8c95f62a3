import type { RatelimitConfig } from '../domain/keys/key.js';

export interface RatelimitOutcome {
  allowed: boolean;
  /** One entry per configured limit, in order: what is left after this request. */
  states: { name: string; limit: number; remaining: number; resetAt: number }[];
}

/**
 * Named sliding-window limits per key. All of a key's limits are checked and consumed as one
 * atomic step: a request denied by one limit consumes none of the others.
 */
export interface RateLimiter {
  limit(keyId: string, limits: readonly RatelimitConfig[], now: number): RatelimitOutcome | Promise<RatelimitOutcome>;
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
 * Small shared state with expiry: one-time claims (replayed assertions) and failure counters
 * (client-authentication lockout).
 */
export interface SharedCounters {
  /** True the first time `key` is claimed within `ttlMs`, false after. */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** Adds one to a counter that lives `ttlMs` from its first increment; returns the new value. */
  increment(key: string, ttlMs: number): Promise<{ count: number; expiresAt: number }>;
  /** The counter's value and expiry, or zero. */
  read(key: string): Promise<{ count: number; expiresAt: number }>;
}

export interface Cluster {
  readonly kind: 'memory' | 'redis';
  readonly rateLimiter: RateLimiter;
  readonly bus: InvalidationBus;
  readonly counters: SharedCounters;
  close(): Promise<void>;
}
