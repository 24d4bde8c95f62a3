import type { ScopeDefinition } from '../scopes.js';
import type { SigningAlgorithm } from '../tokens/jwt.js';

export interface RatelimitConfig {
  name: string;
  limit: number;
  /** Window length in milliseconds. */
  duration: number;
}

export type RefillInterval = 'daily' | 'monthly';

export interface CreditsConfig {
  remaining: number;
  refill: { amount: number; interval: RefillInterval } | null;
}

/** An API key as stored (never its secret). Times are ms since the epoch. */
export interface ApiKey {
  id: string;
  tenantId: string;
  apiId: string;
  parentId: string | null;
  start: string;
  name: string | null;
  consumer: string | null;
  scopes: string[];
  meta: Record<string, unknown>;
  expiresAt: number | null;
  enabled: boolean;
  revokedAt: number | null;
  ratelimits: RatelimitConfig[];
  credits: CreditsConfig | null;
  /** When credits were last refilled (ms); null until the first refill. */
  creditsRefilledAt: number | null;
  ipAllowlist: string[] | null;
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number | null;
}

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  signingAlg: SigningAlgorithm;
  /** People may create their own account on the tenant's sign-in page. */
  selfSignup: boolean;
  /** The longest lifetime (`exp - iat`, seconds) a self-issued HS256 token of the tenant may have. */
  hs256MaxLifetime: number;
  createdAt: number;
}

export interface Api {
  id: string;
  tenantId: string;
  identifier: string;
  name: string;
  keyPrefix: string;
  scopes: ScopeDefinition[];
  /** Lifetime of access tokens for this API, in seconds. */
  accessTokenTtl: number;
  refreshTokens: RefreshTokenSettings;
  createdAt: number;
}

/** Whether refresh tokens are issued for this API, and their lifetimes in seconds. */
export interface RefreshTokenSettings {
  enabled: boolean;
  idleTtl: number;
  absoluteTtl: number;
  /**
   * Seconds after a rotation during which the rotated token, presented again, is taken for a
   * concurrent refresh (refused, the family lives) rather than a replay (the family dies). 0, the
   * default, treats every reuse as a replay (RFC 9700 §4.14.2).
   */
  reuseInterval: number;
}

/** The largest reuse interval: longer leaves a replayed refresh token undetected too long. */
export const MAX_REFRESH_REUSE_INTERVAL = 60;

export const DEFAULT_REFRESH_TOKENS: RefreshTokenSettings = { enabled: false, idleTtl: 1_209_600, absoluteTtl: 7_776_000, reuseInterval: 0 };

/**
 * Start of the refill period that contains `now` (UTC midnight, or the first of the month).
 * Credits refilled before this instant are due for a refill.
 */
export function refillPeriodStart(interval: RefillInterval, now: number): number {
  const d = new Date(now);
  return interval === 'daily'
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/**
 * A key with every setting at its default: enabled, no scopes, no expiry, no limits. Callers
 * fill in the rest (and the display `start` once the secret exists).
 *
 * @example
 * const key = { ...newKey({ id, tenantId, apiId, parentId: null, now }), scopes: ['read:users'] };
 */
export function newKey(fields: { id: string; tenantId: string; apiId: string; parentId: string | null; now: number }): ApiKey {
  return {
    id: fields.id,
    tenantId: fields.tenantId,
    apiId: fields.apiId,
    parentId: fields.parentId,
    start: '',
    name: null,
    consumer: null,
    scopes: [],
    meta: {},
    expiresAt: null,
    enabled: true,
    revokedAt: null,
    ratelimits: [],
    credits: null,
    creditsRefilledAt: null,
    ipAllowlist: null,
    createdAt: fields.now,
    updatedAt: fields.now,
    lastUsedAt: null,
  };
}
